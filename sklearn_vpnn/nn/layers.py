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
from torch.autograd.function import once_differentiable

__all__ = ["VectorProductLinear", "vector_product_linear", "TimeFrequencyMask"]


def _check_component_dim(component_dim):
    if component_dim not in (-1, -2):
        raise ValueError(f"component_dim must be -1 (units, 3) or -2 (3, units), got {component_dim!r}")


def _pair_weights(weight):
    """Stack the weight blocks used by the three output components.

    ``weight`` has shape ``(out, in, 3)``. Returns ``B`` of shape ``(3, out, 2 * in)``::

        B[0] = [-W_z | W_y]   so that z_x = [a_y | a_z] @ B[0].T
        B[1] = [-W_x | W_z]   so that z_y = [a_z | a_x] @ B[1].T
        B[2] = [-W_y | W_x]   so that z_z = [a_x | a_y] @ B[2].T

    which is ``(W x a)_x = W_y a_z - W_z a_y`` and its cyclic permutations.
    """
    wx, wy, wz = weight.unbind(-1)
    return torch.stack(
        [torch.cat([-wz, wy], dim=1), torch.cat([-wx, wz], dim=1), torch.cat([-wy, wx], dim=1)]
    )


def _vector_product_rows(a, pairs, bias, out):
    """The forward products of :class:`_VectorProductFunction`, written into ``out``.

    ``a`` is ``(N, 3 * in)`` component-major rows, ``pairs`` the stacked blocks of
    :func:`_pair_weights`, ``bias`` ``(3, out)`` or None and ``out`` an ``(N, 3 * out)``
    buffer (inference reuses one; no autograd). Returns ``out``.
    """
    n, three_in = a.shape
    n_in = three_in // 3
    n_out = pairs.shape[1]
    ox, oy, oz = out[:, :n_out], out[:, n_out : 2 * n_out], out[:, 2 * n_out :]
    if bias is None:
        beta = 0.0
    else:
        # bias: (3, out) component-major; broadcast into the three output blocks
        out.view(n, 3, n_out).copy_(bias.unsqueeze(0).expand(n, 3, n_out))
        beta = 1.0
    a_x, a_z = a[:, :n_in], a[:, 2 * n_in :]
    ox.addmm_(a[:, n_in:], pairs[0].t(), beta=beta)  # [a_y | a_z]
    oy.addmm_(a_z, pairs[1, :, :n_in].t(), beta=beta)  # a_z * (-W_x)
    oy.addmm_(a_x, pairs[1, :, n_in:].t())  # + a_x * W_z
    oz.addmm_(a[:, : 2 * n_in], pairs[2].t(), beta=beta)  # [a_x | a_y]
    return out


class _VectorProductFunction(torch.autograd.Function):
    """Cross-product layer on component-major 2-D input ``a`` of shape ``(N, 3 * in)``.

    Every matrix product reads and writes strided *views* (BLAS leading dimensions), so
    neither the input nor the output is copied into a "pair" layout:

    * z_x and z_z each are one GEMM with inner dimension ``2 * in`` over the contiguous
      row slices ``[a_y | a_z]`` and ``[a_x | a_y]``;
    * z_y needs ``[a_z | a_x]``, which is not contiguous, so it is two accumulating
      GEMMs with inner dimension ``in``.

    Total: ``6 * in * out`` multiply-adds per row, exactly the useful work. First-order
    differentiable only (no double backward).
    """

    @staticmethod
    def forward(ctx, a, pairs, bias):
        out = torch.empty(a.shape[0], 3 * pairs.shape[1], dtype=a.dtype, device=a.device)
        _vector_product_rows(a, pairs, bias, out)
        ctx.save_for_backward(a, pairs)
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        a, pairs = ctx.saved_tensors
        n, three_in = a.shape
        n_in = three_in // 3
        n_out = pairs.shape[1]
        grad = grad.contiguous()
        gx, gy, gz = grad[:, :n_out], grad[:, n_out : 2 * n_out], grad[:, 2 * n_out :]
        grad_a = grad_pairs = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_a = torch.empty_like(a)
            grad_a[:, n_in:].addmm_(gx, pairs[0], beta=0.0)  # d[a_y | a_z] from z_x
            grad_a[:, :n_in].zero_()
            grad_a[:, : 2 * n_in].addmm_(gz, pairs[2])  # d[a_x | a_y] from z_z
            grad_a[:, 2 * n_in :].addmm_(gy, pairs[1, :, :n_in])  # d a_z from z_y
            grad_a[:, :n_in].addmm_(gy, pairs[1, :, n_in:])  # d a_x from z_y
        if ctx.needs_input_grad[1]:
            grad_pairs = torch.empty_like(pairs)
            torch.mm(gx.t(), a[:, n_in:], out=grad_pairs[0])
            torch.mm(gz.t(), a[:, : 2 * n_in], out=grad_pairs[2])
            grad_pairs[1, :, :n_in].addmm_(gy.t(), a[:, 2 * n_in :], beta=0.0)
            grad_pairs[1, :, n_in:].addmm_(gy.t(), a[:, :n_in], beta=0.0)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.view(n, 3, n_out).sum(0)
        return grad_a, grad_pairs, grad_bias


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
        Internal: the weight blocks already stacked (a layer's inference cache);
        None stacks them from ``weight``.

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
    pairs = _pair_weights(weight) if _pairs is None else _pairs
    b = None if bias is None else bias.t()
    out = _VectorProductFunction.apply(a2, pairs, b).view(*lead, 3, n_out)
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
        self.weight = nn.Parameter(torch.empty(out_units, in_units, 3))
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
            self.weight.normal_(0.0, std)
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
        if torch.is_grad_enabled():
            w = self.weight.unbind(-1)
            block = torch.cat([-w[(k + 2) % 3], w[(k + 1) % 3]], dim=1)  # _pair_weights(...)[k]
        else:
            block = self._inference_pairs()[k]
        first, second = (k + 1) % 3, (k + 2) % 3  # block multiplies [a_{k+1} | a_{k+2}]
        a1 = a[:, first * n_in : (first + 1) * n_in]
        a2 = a[:, second * n_in : (second + 1) * n_in]
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
