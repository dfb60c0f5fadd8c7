"""Vector product layer and time-frequency masking layer.

Layouts
-------
A tensor of 3-D vectors has one *component axis* of length 3 holding the x, y and z
components of every unit. Two layouts are supported everywhere in :mod:`sklearn_vpnn.nn`:

* **interface layout** ``(..., units, 3)`` (``component_dim=-1``, the default): what the
  paper writes and what users pass in;
* **component-major layout** ``(..., 3, units)`` (``component_dim=-2``): each component
  is a contiguous row of ``units`` numbers. The models keep their activations in this
  layout because every output component of a vector product layer is then one matrix
  product of *views* of the input (no copies of the activations), see
  :func:`vector_product_linear`.
"""

import math

import torch
from torch import nn

from ._vector_product import (_component_weights, _pair_weights, _vector_product_rows,
                              _VectorProductComponentsFunction)

__all__ = ["VectorProductLinear", "vector_product_linear", "TimeFrequencyMask"]


def _check_component_dim(component_dim):
    if component_dim not in (-1, -2):
        raise ValueError(f"component_dim must be -1 (units, 3) or -2 (3, units), got {component_dim!r}")


def _component_major_rows(input, n_in, component_dim):
    """``input`` as contiguous component-major rows ``(N, 3 * n_in)`` and its leading shape.

    Copies only when ``input`` is not already component-major and contiguous.
    """
    if component_dim == -1:
        if input.shape[-2:] != (n_in, 3):
            raise ValueError(f"expected input of shape (..., {n_in}, 3), got {tuple(input.shape)}")
        input = input.transpose(-1, -2)
    elif input.shape[-2:] != (3, n_in):
        raise ValueError(f"expected input of shape (..., 3, {n_in}), got {tuple(input.shape)}")
    rows = input.reshape(-1, 3 * n_in)
    return (rows if rows.is_contiguous() else rows.contiguous()), input.shape[:-2]


def vector_product_linear(input, weight, bias=None, component_dim=-1, _pairs=None):
    """Apply a vector product (cross product) linear map to 3-D vectors.

    Computes ``z_i = sum_j W_ij x a_j + b_i`` where ``x`` is the 3-D cross product.

    Parameters
    ----------
    input : torch.Tensor
        Shape ``(..., in_units, 3)`` if ``component_dim=-1`` or ``(..., 3, in_units)``
        if ``component_dim=-2``.
    weight : torch.Tensor
        Shape ``(out_units, in_units, 3)``: one 3-D vector per connection.
    bias : torch.Tensor or None, default=None
        Shape ``(out_units, 3)``.
    component_dim : {-1, -2}, default=-1
        Position of the component axis of ``input`` and of the result.
    _pairs : torch.Tensor or None, default=None
        Internal: the weight blocks already stacked (a layer's inference cache,
        used without autograd); None stacks them from ``weight`` when needed.

    Returns
    -------
    torch.Tensor
        Shape ``(..., out_units, 3)`` (``component_dim=-1``, a transposed view of a
        component-major buffer) or ``(..., 3, out_units)`` (``component_dim=-2``,
        contiguous).

    Notes
    -----
    With ``(W x a)_x = W_y a_z - W_z a_y`` (and cyclic permutations), each output
    component is a matrix product of two concatenated input components with two stacked
    weight blocks, e.g. ``z_x = [a_y, a_z] @ [-W_z, W_y]^T``: ``6 * in * out``
    multiply-adds per vector, the same as the useful work, with no zero blocks. The
    products run on strided views of a component-major buffer. Input in the interface
    layout is transposed once into that buffer (a copy of the input, small next to the
    matrix products); use ``component_dim=-2`` to avoid it.

    Examples
    --------
    >>> import torch
    >>> from sklearn_vpnn.nn import vector_product_linear
    >>> a = torch.randn(4, 5, 3, dtype=torch.float64)
    >>> w = torch.randn(2, 5, 3, dtype=torch.float64)
    >>> z = vector_product_linear(a, w)
    >>> ref = torch.linalg.cross(w.unsqueeze(0), a.unsqueeze(1)).sum(2)
    >>> torch.allclose(z, ref)
    True
    """
    _check_component_dim(component_dim)
    n_out, n_in, three = weight.shape
    if three != 3:
        raise ValueError(f"weight must have shape (out_units, in_units, 3), got {tuple(weight.shape)}")
    a2, lead = _component_major_rows(input, n_in, component_dim)
    b = None if bias is None else bias.t()
    if torch.is_grad_enabled():
        out = _VectorProductComponentsFunction.apply(a2, _component_weights(weight), b)
    else:
        pairs = _pair_weights(weight) if _pairs is None else _pairs
        out = _vector_product_rows(a2, pairs, b, a2.new_empty(a2.shape[0], 3 * n_out))
    out = out.view(*lead, 3, n_out)
    return out.transpose(-1, -2) if component_dim == -1 else out


class VectorProductLinear(nn.Module):
    """Fully connected layer of 3-D vector units combined by cross products.

    ``z_i = sum_j W_ij x a_j + b_i`` with ``x`` the 3-D cross product (Fan, Chan, Yang &
    Jang, 2017): three parameters per connection.

    Parameters
    ----------
    in_units : int
        Number of input vector units.
    out_units : int
        Number of output vector units.
    bias : bool, default=True
        Whether to add a learned 3-D bias per output unit (initialised to zero).
    component_dim : {-1, -2}, default=-1
        Where the component axis is: ``-1`` for ``(..., units, 3)`` (the public layout),
        ``-2`` for the component-major ``(..., 3, units)`` layout used inside the models
        (avoids one transpose copy per layer).
    gain : float, default=sqrt(2)
        Initialisation gain for the activation that *follows the previous layer*
        (``sqrt(2)`` for ReLU, ``1`` for linear/identity input), see Notes.

    Attributes
    ----------
    weight : torch.nn.Parameter
        Shape ``(out_units, in_units, 3)``.
    bias : torch.nn.Parameter or None
        Shape ``(out_units, 3)``.

    Notes
    -----
    **Initialisation.** Each output component is a sum of ``2 * in_units`` products of
    one weight component and one input component (``z_x = sum_j W_y a_z - W_z a_y``),
    so for independent zero-mean weights ``Var(z) = 2 * in_units * Var(w) * E[a^2]``.
    Weights are drawn from ``N(0, gain**2 / (2 * in_units))``: with ``gain**2 = 2``
    (He, for ReLU inputs, where ``E[a^2]`` is half the pre-activation variance) the
    variance is preserved through a deep ReLU stack, with ``gain = 1`` it is preserved
    for linear inputs. (Glorot-style ``1/(in+out)`` scaling that ignores the factor
    ``2 * in`` shrinks activations by about an order of magnitude per few layers.)
    Biases start at zero.

    Examples
    --------
    >>> import torch
    >>> from sklearn_vpnn.nn import VectorProductLinear
    >>> layer = VectorProductLinear(513, 512)
    >>> layer(torch.randn(8, 513, 3)).shape
    torch.Size([8, 512, 3])
    >>> sum(p.numel() for p in layer.parameters())
    789504
    >>> VectorProductLinear(513, 512, component_dim=-2)(torch.randn(8, 3, 513)).shape
    torch.Size([8, 3, 512])
    """

    def __init__(self, in_units, out_units, bias=True, component_dim=-1, gain=math.sqrt(2.0)):
        super().__init__()
        for name, value in (("in_units", in_units), ("out_units", out_units)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        _check_component_dim(component_dim)
        if not gain > 0:
            raise ValueError(f"gain must be positive, got {gain!r}")
        self.in_units = in_units
        self.out_units = out_units
        self.component_dim = component_dim
        self.gain = float(gain)
        # stored component-major: ``weight[..., c]`` is a contiguous (out, in) matrix, so
        # training multiplies by the components without copying them (the shape, and so
        # state dicts and model files, are those of the (out, in, 3) layout)
        self.weight = nn.Parameter(torch.empty(3, out_units, in_units).permute(1, 2, 0))
        self.bias = nn.Parameter(torch.empty(out_units, 3)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        """Draw weights from ``N(0, gain**2 / (2 * in_units))``; zero the bias.

        Examples
        --------
        >>> from sklearn_vpnn.nn import VectorProductLinear
        >>> VectorProductLinear(4, 2).reset_parameters()
        """
        std = self.gain / math.sqrt(2.0 * self.in_units)
        with torch.no_grad():
            # drawn in the (out, in, 3) order whatever the storage, so a seed gives the same weights
            self.weight.copy_(torch.empty(self.weight.shape, dtype=self.weight.dtype,
                                          device=self.weight.device).normal_(0.0, std))
            if self.bias is not None:
                self.bias.zero_()

    def forward(self, input):
        """Apply the layer.

        Parameters
        ----------
        input : torch.Tensor
            ``(..., in_units, 3)`` or, with ``component_dim=-2``, ``(..., 3, in_units)``.

        Returns
        -------
        torch.Tensor
            ``(..., out_units, 3)`` or ``(..., 3, out_units)``.

        Examples
        --------
        >>> import torch
        >>> from sklearn_vpnn.nn import VectorProductLinear
        >>> VectorProductLinear(3, 2)(torch.zeros(3, 3)).shape
        torch.Size([2, 3])
        """
        # inference: the stacked weight blocks only change when the weights do
        pairs = None if torch.is_grad_enabled() else self._inference_pairs()
        return vector_product_linear(input, self.weight, self.bias, self.component_dim, _pairs=pairs)

    def _inference_pairs(self):
        """Stacked weight blocks, cached while the weights are unchanged (no autograd)."""
        w = self.weight  # an inference tensor (made under inference_mode) has no version counter
        key = (w.data_ptr(), None if w.is_inference() else w._version, w.dtype)
        cached = self.__dict__.get("_pairs_cache")
        if cached is None or cached[0] != key:
            cached = (key, _pair_weights(self.weight))
            self.__dict__["_pairs_cache"] = cached
        return cached[1]

    def forward_component(self, input, k):
        """One output component only: a third of the work of :meth:`forward`.

        ``z_k = W_{k+1} a_{k+2} - W_{k+2} a_{k+1}`` (indices mod 3) plus ``b_k``:
        ``2 * in * out`` multiply-adds per vector instead of ``6 * in * out``. A model
        that reads out one component (``VPNN(mapping="window")`` reads the middle one)
        gets the same numbers as ``forward(input)`` followed by taking component ``k``,
        at a third of the cost of its output layer, in training and in inference.

        Parameters
        ----------
        input : torch.Tensor
            ``(..., in_units, 3)`` or, with ``component_dim=-2``, ``(..., 3, in_units)``.
        k : {0, 1, 2}
            The output component (x, y, z).

        Returns
        -------
        torch.Tensor
            ``(..., out_units)``.

        Examples
        --------
        >>> import torch
        >>> from sklearn_vpnn.nn import VectorProductLinear
        >>> layer = VectorProductLinear(4, 2).double()
        >>> a = torch.randn(5, 4, 3, dtype=torch.float64)
        >>> torch.allclose(layer.forward_component(a, 1), layer(a)[..., 1])
        True
        """
        if k not in (0, 1, 2):
            raise ValueError(f"k must be 0, 1 or 2 (the x, y or z component), got {k!r}")
        n_in, n_out = self.in_units, self.out_units
        a, lead = _component_major_rows(input, n_in, self.component_dim)
        first, second = (k + 1) % 3, (k + 2) % 3
        a1 = a[:, first * n_in : (first + 1) * n_in]
        a2 = a[:, second * n_in : (second + 1) * n_in]
        if torch.is_grad_enabled():
            # z_k = a_{k+2} W_{k+1}^T - a_{k+1} W_{k+2}^T on the contiguous weight components
            w = _component_weights(self.weight)
            bias = None if self.bias is None else self.bias[:, k]
            out = torch.mm(a2, w[first].t()) if bias is None else torch.addmm(bias, a2, w[first].t())
            return torch.addmm(out, a1, w[second].t(), alpha=-1.0).view(*lead, n_out)
        block = self._inference_pairs()[k]  # multiplies [a_{k+1} | a_{k+2}]
        if self.bias is None:
            out = torch.mm(a1, block[:, :n_in].t())
        else:
            out = torch.addmm(self.bias[:, k], a1, block[:, :n_in].t())
        out = torch.addmm(out, a2, block[:, n_in:].t())
        return out.view(*lead, n_out)

    def _rows_into(self, rows, out):
        """Inference: the layer on component-major rows ``(N, 3 * in)``, written into ``out``.

        ``out`` is an ``(N, 3 * out_units)`` buffer the caller reuses; the numbers are
        those of :meth:`forward` (the same products). No autograd.
        """
        bias = None if self.bias is None else self.bias.t()
        return _vector_product_rows(rows, self._inference_pairs(), bias, out)

    def _component_t_into(self, rows, k, out):
        """Inference: output component ``k`` transposed, ``(out_units, N)``, written into ``out``.

        ``rows`` are component-major ``(N, 3 * in)``. The products are the transposes
        of :meth:`forward_component`'s (``W a^T`` instead of ``a W^T``): the same sums
        over the same terms, bit for bit with MKL's GEMM, and laid out as the caller
        needs (bins x frames, the spectrogram's layout), so no transpose follows.
        No autograd.
        """
        n_in = self.in_units
        block = self._inference_pairs()[k]
        first, second = (k + 1) % 3, (k + 2) % 3  # block multiplies [a_{k+1} | a_{k+2}]
        a1 = rows[:, first * n_in : (first + 1) * n_in]
        a2 = rows[:, second * n_in : (second + 1) * n_in]
        if self.bias is None:
            torch.mm(block[:, :n_in], a1.t(), out=out)
        else:
            out.copy_(self.bias[:, k].unsqueeze(1).expand_as(out))
            out.addmm_(block[:, :n_in], a1.t())
        return out.addmm_(block[:, n_in:], a2.t())

    def __getstate__(self):
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__.copy()
        state = dict(state)
        state.pop("_pairs_cache", None)  # derived from the weights; never saved
        return state

    def extra_repr(self):
        return (f"in_units={self.in_units}, out_units={self.out_units}, "
                f"bias={self.bias is not None}, component_dim={self.component_dim}")


class TimeFrequencyMask(nn.Module):
    """Time-frequency masking layer ``m_s = |y_s| / sum_k |y_k|``, made total.

    Computes ``m_s = (|y_s| + eps) / (sum_k |y_k| + K * eps)`` over the ``K`` sources.
    The masks are positive, sum to one over sources, and where every head outputs zero
    they are the equal shares ``1 / K``; values and gradients stay finite (``|y|`` has
    gradient 0 at 0 in PyTorch and the denominator is at least ``K * eps``). For
    ``|y| >> eps`` this is the paper's mask to within ``eps`` relative.

    Parameters
    ----------
    eps : float, default=1e-8
        Added to each magnitude before normalising. Must be positive.
    dim : int, default=-2
        The sources axis of the input.

    Examples
    --------
    >>> import torch
    >>> from sklearn_vpnn.nn import TimeFrequencyMask
    >>> y = torch.tensor([[[3.0, 0.0], [-1.0, 0.0]]])  # (batch=1, sources=2, bins=2)
    >>> TimeFrequencyMask()(y)
    tensor([[[0.7500, 0.5000],
             [0.2500, 0.5000]]])
    """

    def __init__(self, eps=1e-8, dim=-2):
        super().__init__()
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps!r}")
        self.eps = float(eps)
        self.dim = dim

    def forward(self, y):
        """Turn head outputs into masks.

        Parameters
        ----------
        y : torch.Tensor
            ``(batch, n_sources, n_bins)`` (any shape with sources on ``dim``).

        Returns
        -------
        torch.Tensor
            Masks of the same shape, summing to one along ``dim``.

        Examples
        --------
        >>> import torch
        >>> from sklearn_vpnn.nn import TimeFrequencyMask
        >>> TimeFrequencyMask()(torch.zeros(1, 2, 3)).sum(1)
        tensor([[1., 1., 1.]])
        """
        mag = y.abs() + self.eps
        return mag / mag.sum(dim=self.dim, keepdim=True)

    def extra_repr(self):
        return f"eps={self.eps}, dim={self.dim}"
