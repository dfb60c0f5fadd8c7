"""Mappings between real features and 3-D vectors (and back).

Two real -> 3-D mappings from Fan et al. (2017):

* **context window**: the vector of bin ``f`` at frame ``t`` is
  ``(x[t-1, f], x[t, f], x[t+1, f])`` — previous, current, next frame, in that order;
  read back with the middle component (:class:`MiddleComponent`).
* **spectral colouring**: a "hot"-like colour map of a value ``x`` in ``[0, 1]`` with
  breakpoint ``n = 0.0938``; read back with its exact inverse
  (:class:`InverseSpectralColor`).

Every module takes ``component_dim`` (``-1``: ``(..., units, 3)``, the default;
``-2``: component-major ``(..., 3, units)``, what the models use internally), see
:mod:`sklearn_vpnn.nn.layers`.
"""

import torch
from torch import nn

from .._validation import check_number
from .layers import _check_component_dim

__all__ = [
    "COLOR_BREAKPOINT",
    "check_strides",
    "context_indices",
    "context_window",
    "ContextWindow",
    "MiddleComponent",
    "SpectralColor",
    "InverseSpectralColor",
]

#: Breakpoint ``n`` of the spectral colouring map (Fan et al., 2017).
COLOR_BREAKPOINT = 0.0938


def check_strides(strides):
    """Validate context strides: a non-empty sequence of distinct integers >= 1.

    Parameters
    ----------
    strides : sequence of int
        E.g. ``(1,)`` (the paper's window) or ``(1, 4, 16)``.

    Returns
    -------
    tuple of int
        The strides.

    Examples
    --------
    >>> from sklearn_vpnn.nn import check_strides
    >>> check_strides([1, 4, 16])
    (1, 4, 16)
    """
    msg = f"context_strides must be a non-empty sequence of distinct integers >= 1; got {strides!r}"
    if isinstance(strides, (str, bytes)) or not hasattr(strides, "__len__") or len(strides) == 0:
        raise ValueError(msg)
    out = tuple(check_number(s, "each context stride", integer=True, low=1) for s in strides)
    if len(set(out)) != len(out):
        raise ValueError(msg)
    return out


def context_indices(n_frames, device=None, strides=(1,)):
    """Frame indices ``(prev, cur, next)`` of every frame, edges clamped.

    Gathering ``frames[context_indices(n)]`` builds all context windows by indexing; a
    training set can keep one copy of its frames and gather windows per batch.

    Parameters
    ----------
    n_frames : int
        Number of frames (>= 1).
    device : torch.device or str, optional
        Device of the result.
    strides : sequence of int, default=(1,)
        One ``(t - s, t, t + s)`` triple per stride ``s``, in this order: ``(1,)`` is
        the paper's previous, current, next frame.

    Returns
    -------
    torch.Tensor
        ``(n_frames, 3 * len(strides))`` int64: row ``t`` holds
        ``(max(t-s, 0), t, min(t+s, n_frames-1))`` for each stride ``s``.

    Examples
    --------
    >>> from sklearn_vpnn.nn import context_indices
    >>> context_indices(3)
    tensor([[0, 0, 1],
            [0, 1, 2],
            [1, 2, 2]])
    >>> context_indices(5, strides=(1, 2))[2]
    tensor([1, 2, 3, 0, 2, 4])
    """
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames!r}")
    t = torch.arange(n_frames, device=device)
    cols = []
    for s in check_strides(strides):
        cols += [(t - s).clamp_min(0), t, (t + s).clamp_max(n_frames - 1)]
    return torch.stack(cols, dim=1)


def context_window(frames, component_dim=-1):
    """Context-window 3-D vectors ``(prev, cur, next)`` of every frame and bin.

    The first frame's "previous" and the last frame's "next" repeat the edge frame
    (edge padding), so every frame has a window and the output has as many frames as
    the input.

    Parameters
    ----------
    frames : torch.Tensor
        ``(..., n_frames, n_bins)`` real features, frames along axis ``-2``.
    component_dim : {-1, -2}, default=-1
        ``-1`` returns ``(..., n_frames, n_bins, 3)``; ``-2`` returns the
        component-major ``(..., n_frames, 3, n_bins)``, i.e. the model input.

    Returns
    -------
    torch.Tensor
        Component 0 is the previous frame, 1 the current frame, 2 the next frame.

    Examples
    --------
    >>> import torch
    >>> from sklearn_vpnn.nn import context_window
    >>> frames = torch.tensor([[1.0], [2.0], [3.0]])  # 3 frames, 1 bin
    >>> context_window(frames)[..., 0, :]
    tensor([[1., 1., 2.],
            [1., 2., 3.],
            [2., 3., 3.]])
    """
    _check_component_dim(component_dim)
    idx = context_indices(frames.shape[-2], device=frames.device)  # (n_frames, 3)
    out = frames[..., idx, :]  # (..., n_frames, 3, n_bins)
    return out if component_dim == -2 else out.transpose(-1, -2)


class ContextWindow(nn.Module):
    """Map a stack of context frames ``(prev, cur, next)`` to 3-D vectors per bin.

    The input already holds the three frames (gathered, e.g., with
    :func:`context_indices`); this module only places them on the component axis.

    Parameters
    ----------
    component_dim : {-1, -2}, default=-1
        Layout of the output: ``(..., n_bins, 3)`` or component-major
        ``(..., 3, n_bins)`` (then the module is the identity, no copy).

    Examples
    --------
    >>> import torch
    >>> from sklearn_vpnn.nn import ContextWindow
    >>> stack = torch.stack([torch.zeros(4), torch.ones(4), 2 * torch.ones(4)])[None]
    >>> ContextWindow()(stack)[0, 0]  # bin 0: (prev, cur, next)
    tensor([0., 1., 2.])
    """

    def __init__(self, component_dim=-1):
        super().__init__()
        _check_component_dim(component_dim)
        self.component_dim = component_dim

    def forward(self, stack):
        """Map ``(..., 3, n_bins)`` frames ``[prev, cur, next]`` to 3-D vectors.

        Parameters
        ----------
        stack : torch.Tensor
            ``(..., 3, n_bins)``.

        Returns
        -------
        torch.Tensor
            ``(..., n_bins, 3)`` or, with ``component_dim=-2``, ``(..., 3, n_bins)``.

        Examples
        --------
        >>> import torch
        >>> from sklearn_vpnn.nn import ContextWindow
        >>> ContextWindow()(torch.zeros(2, 3, 5)).shape
        torch.Size([2, 5, 3])
        """
        if stack.shape[-2] != 3:
            raise ValueError(f"expected a (..., 3, n_bins) context stack, got {tuple(stack.shape)}")
        return stack if self.component_dim == -2 else stack.transpose(-1, -2)

    def extra_repr(self):
        return f"component_dim={self.component_dim}"


class MiddleComponent(nn.Module):
    """Read a 3-D vector back as a real number: its middle (current-frame) component.

    The inverse of :class:`ContextWindow` for the current frame.

    Parameters
    ----------
    component_dim : {-1, -2}, default=-1
        Layout of the input, ``(..., units, 3)`` or ``(..., 3, units)``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_vpnn.nn import MiddleComponent
    >>> MiddleComponent()(torch.tensor([[1.0, 2.0, 3.0]]))
    tensor([2.])
    """

    def __init__(self, component_dim=-1):
        super().__init__()
        _check_component_dim(component_dim)
        self.component_dim = component_dim

    def forward(self, vectors):
        """Return component 1.

        Parameters
        ----------
        vectors : torch.Tensor
            ``(..., units, 3)`` or ``(..., 3, units)``.

        Returns
        -------
        torch.Tensor
            ``(..., units)``.

        Examples
        --------
        >>> import torch
        >>> from sklearn_vpnn.nn import MiddleComponent
        >>> MiddleComponent(component_dim=-2)(torch.zeros(2, 3, 7)).shape
        torch.Size([2, 7])
        """
        return vectors.select(self.component_dim, 1)

    def extra_repr(self):
        return f"component_dim={self.component_dim}"


def _check_breakpoint(n):
    if not 0 < n < 0.5:
        raise ValueError(f"breakpoint n must be in (0, 0.5), got {n!r}")
    return float(n)


class SpectralColor(nn.Module):
    """Spectral colouring: a value in ``[0, 1]`` to an ``(r, g, b)`` vector.

    ``r = clip(x / n, 0, 1)``, ``g = clip((x - n) / n, 0, 1)``,
    ``b = clip((x - 2n) / (1 - 2n), 0, 1)``, with ``n = 0.0938`` (Fan et al., 2017).
    Inputs are expected normalised to ``[0, 1]``; the module clamps them to that range
    first (so values outside are treated as 0 or 1).

    Parameters
    ----------
    n : float, default=0.0938
        Breakpoint, in ``(0, 0.5)``.
    component_dim : {-1, -2}, default=-1
        Output layout, ``(..., n_bins, 3)`` or ``(..., 3, n_bins)``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_vpnn.nn import SpectralColor
    >>> SpectralColor()(torch.tensor([0.0, 0.0938, 1.0]))
    tensor([[0., 0., 0.],
            [1., 0., 0.],
            [1., 1., 1.]])
    """

    def __init__(self, n=COLOR_BREAKPOINT, component_dim=-1):
        super().__init__()
        self.n = _check_breakpoint(n)
        _check_component_dim(component_dim)
        self.component_dim = component_dim

    def forward(self, x):
        """Colour ``x``.

        Parameters
        ----------
        x : torch.Tensor
            ``(..., n_bins)`` values in ``[0, 1]``.

        Returns
        -------
        torch.Tensor
            ``(..., n_bins, 3)`` or ``(..., 3, n_bins)``; components ``(r, g, b)``.

        Examples
        --------
        >>> import torch
        >>> from sklearn_vpnn.nn import SpectralColor
        >>> SpectralColor(component_dim=-2)(torch.rand(2, 5)).shape
        torch.Size([2, 3, 5])
        """
        n = self.n
        x = x.clamp(0.0, 1.0)
        r = (x / n).clamp(0.0, 1.0)
        g = ((x - n) / n).clamp(0.0, 1.0)
        b = ((x - 2 * n) / (1 - 2 * n)).clamp(0.0, 1.0)
        return torch.stack([r, g, b], dim=-1 if self.component_dim == -1 else -2)

    def extra_repr(self):
        return f"n={self.n}, component_dim={self.component_dim}"


class InverseSpectralColor(nn.Module):
    """Inverse of :class:`SpectralColor`: ``x = n*r + n*g + (1 - 2n)*b``.

    Exact on the image of the colouring (``[0, 1]`` goes back to itself up to rounding);
    applied to arbitrary network outputs it is a fixed linear read-out.

    Parameters
    ----------
    n : float, default=0.0938
        Breakpoint, in ``(0, 0.5)``; must match the colouring.
    component_dim : {-1, -2}, default=-1
        Input layout, ``(..., units, 3)`` or ``(..., 3, units)``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_vpnn.nn import InverseSpectralColor, SpectralColor
    >>> x = torch.tensor([0.0, 0.05, 0.15, 0.7, 1.0], dtype=torch.float64)
    >>> InverseSpectralColor()(SpectralColor()(x))
    tensor([0.0000, 0.0500, 0.1500, 0.7000, 1.0000], dtype=torch.float64)
    """

    def __init__(self, n=COLOR_BREAKPOINT, component_dim=-1):
        super().__init__()
        self.n = _check_breakpoint(n)
        _check_component_dim(component_dim)
        self.component_dim = component_dim

    def forward(self, rgb):
        """Read colours back as values.

        Parameters
        ----------
        rgb : torch.Tensor
            ``(..., units, 3)`` or ``(..., 3, units)``.

        Returns
        -------
        torch.Tensor
            ``(..., units)``.

        Examples
        --------
        >>> import torch
        >>> from sklearn_vpnn.nn import InverseSpectralColor
        >>> InverseSpectralColor()(torch.tensor([[1.0, 1.0, 1.0]]))
        tensor([1.])
        """
        r, g, b = rgb.unbind(self.component_dim)
        return self.n * (r + g) + (1 - 2 * self.n) * b

    def extra_repr(self):
        return f"n={self.n}, component_dim={self.component_dim}"
