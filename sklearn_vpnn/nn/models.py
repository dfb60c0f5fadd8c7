"""Separation networks: the vector product network (VPNN) and its real-valued baseline.

Input convention (both models, both mappings)
---------------------------------------------
``forward(x)`` takes ``x`` of shape ``(batch, 3, n_bins)`` (any leading dimensions
allowed: ``(..., 3, n_bins)``): the **normalised** features of the previous, current and
next frame, in that order (build them with
:func:`~sklearn_vpnn.nn.mappings.context_indices` / ``context_window(...,
component_dim=-2)``; edge frames repeated). Models that need less use less:

* ``VPNN(mapping="window")`` uses all three frames as the 3-D vectors;
* ``VPNN(mapping="color")`` uses only the current frame ``x[..., 1, :]``, which must be
  scaled to ``[0, 1]`` (it is clamped to ``[0, 1]`` before colouring);
* ``DNN(context=3)`` flattens the three frames, ``DNN(context=1)`` uses the current one.

``forward`` returns masks of shape ``(batch, n_sources, n_bins)``, positive and summing
to one over sources; multiply them by the mixture magnitude of the current frame.

:class:`MaskNet` puts the input normalisation in front of either model: it takes
log-magnitudes and holds their normalisation statistics as buffers (what the
separators train and save).
"""

import math

import torch
from torch import nn

from .._validation import check_choice, check_number
from ._common import (ACTIVATIONS, MAPPINGS, _activation, _check_input, _check_scales, _check_sizes,
                      _scales_to_vectors)
from ._band import BandVPNN
from .layers import TimeFrequencyMask, VectorProductLinear
from .mappings import COLOR_BREAKPOINT, check_strides, ContextWindow, InverseSpectralColor, MiddleComponent, SpectralColor

__all__ = ["VPNN", "DNN", "MaskNet", "ACTIVATIONS", "MAPPINGS"]

class VPNN(nn.Module):
    """Vector product neural network for time-frequency mask estimation.

    Real features -> 3-D vectors (``mapping``) -> ``n_layers`` vector product layers of
    ``hidden_units`` units with a per-component activation -> one vector product head
    per source (``n_bins`` units) -> real values (middle component for ``"window"``,
    inverse colouring for ``"color"``) -> :class:`~sklearn_vpnn.nn.TimeFrequencyMask`.
    Activations are kept component-major ``(batch, 3, units)`` inside.

    Parameters
    ----------
    n_bins : int
        Frequency bins per frame (``n_fft // 2 + 1``).
    n_sources : int, default=2
        Number of sources / heads (>= 2).
    hidden_units : int, default=512
        Vector units in every hidden layer.
    n_layers : int, default=3
        Number of hidden vector product layers (>= 1).
    mapping : {"window", "color"}, default="window"
        Real -> 3-D mapping: context window (prev, cur, next frame) or spectral colouring
        of the current frame.
    activation : {"relu", "leaky_relu", "elu", "tanh", "sigmoid", "identity"}, default="relu"
        Applied to every component of every hidden unit.
    eps : float, default=1e-8
        Of the masking layer.
    n_scales : int, default=1
        Context vectors per bin (``"window"`` only): ``1`` is the paper's WVPNN, one
        (prev, cur, next) vector; ``K`` reads ``K`` such vectors per bin, one per
        stride (``(t - s_k, t, t + s_k)``, see
        :func:`~sklearn_vpnn.nn.context_indices`), as ``K * n_bins`` input units of
        the first layer.

    Notes
    -----
    Input ``(batch, 3 * n_scales, n_bins)``: normalised features of frames
    ``(prev, cur, next)`` (per stride), for both mappings (``"color"`` reads only the
    current frame, which must be in ``[0, 1]``). Output: masks ``(batch, n_sources, n_bins)`` summing to one over
    sources. Hidden layers are initialised for unit-variance signals (see
    :class:`~sklearn_vpnn.nn.VectorProductLinear`): gain 1 for the first layer (linear
    input), the activation's gain after it.

    Examples
    --------
    >>> import torch
    >>> from sklearn_vpnn.nn import VPNN
    >>> model = VPNN(513)
    >>> sum(p.numel() for p in model.parameters())
    3944454
    >>> masks = model(torch.randn(8, 3, 513))
    >>> masks.shape
    torch.Size([8, 2, 513])
    >>> torch.allclose(masks.sum(1), torch.ones(8, 513))
    True
    """

    def __init__(self, n_bins, n_sources=2, hidden_units=512, n_layers=3, mapping="window",
                 activation="relu", eps=1e-8, n_scales=1):
        super().__init__()
        n_bins, n_sources, hidden_units, n_layers = _check_sizes(n_bins, n_sources, hidden_units, n_layers)
        check_choice(mapping, "mapping", MAPPINGS)
        self.n_scales = _check_scales(n_scales, mapping)
        act, gain = _activation(activation)
        self.n_bins, self.n_sources = n_bins, n_sources
        self.hidden_units, self.n_layers = hidden_units, n_layers
        self.mapping, self.activation = mapping, activation
        cm = -2  # component-major inside
        if mapping == "window":
            self.to_vectors = ContextWindow(component_dim=cm)
            self.to_real = MiddleComponent(component_dim=cm)
        else:
            self.to_vectors = SpectralColor(COLOR_BREAKPOINT, component_dim=cm)
            self.to_real = InverseSpectralColor(COLOR_BREAKPOINT, component_dim=cm)
        sizes = [self.n_scales * n_bins] + [hidden_units] * n_layers
        self.hidden = nn.ModuleList(
            VectorProductLinear(i, o, component_dim=cm, gain=1.0 if k == 0 else gain)
            for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:]))
        )
        self.act = act
        self.heads = nn.ModuleList(
            VectorProductLinear(hidden_units, n_bins, component_dim=cm, gain=gain)
            for _ in range(n_sources)
        )
        self.mask = TimeFrequencyMask(eps)

    def outputs(self, x):
        """Real-valued head outputs before masking.

        Parameters
        ----------
        x : torch.Tensor
            ``(batch, 3, n_bins)``, see the class notes.

        Returns
        -------
        torch.Tensor
            ``(batch, n_sources, n_bins)``.

        Examples
        --------
        >>> import torch
        >>> from sklearn_vpnn.nn import VPNN
        >>> VPNN(5, hidden_units=4).outputs(torch.randn(2, 3, 5)).shape
        torch.Size([2, 2, 5])
        """
        _check_input(x, self.n_bins, self.n_scales)
        h = self.to_vectors(_scales_to_vectors(x, self.n_scales) if self.mapping == "window" else x[..., 1, :])
        for layer in self.hidden:
            h = self.act(layer(h))
        if self.mapping == "window":
            # only the middle component is read out: compute that one alone (a third
            # of the heads' work, the same numbers as to_real(head(h)))
            return torch.stack([head.forward_component(h, 1) for head in self.heads], dim=-2)
        return torch.stack([self.to_real(head(h)) for head in self.heads], dim=-2)

    def forward(self, x):
        """Estimate masks.

        Parameters
        ----------
        x : torch.Tensor
            ``(batch, 3, n_bins)`` normalised features of frames (prev, cur, next).

        Returns
        -------
        torch.Tensor
            ``(batch, n_sources, n_bins)`` masks, summing to one over sources.

        Examples
        --------
        >>> import torch
        >>> from sklearn_vpnn.nn import VPNN
        >>> VPNN(5, hidden_units=4, mapping="color")(torch.rand(2, 3, 5)).shape
        torch.Size([2, 2, 5])
        """
        return self.mask(self.outputs(x))

    def extra_repr(self):
        return (f"n_bins={self.n_bins}, n_sources={self.n_sources}, hidden_units={self.hidden_units}, "
                f"n_layers={self.n_layers}, mapping={self.mapping!r}, activation={self.activation!r}"
                + (f", n_scales={self.n_scales}" if self.n_scales > 1 else ""))


class DNN(nn.Module):
    """Real-valued feed-forward baseline of the same shape as :class:`VPNN`.

    Frames -> ``n_layers`` dense layers of ``hidden_units`` units -> one dense head per
    source (``n_bins`` outputs) -> :class:`~sklearn_vpnn.nn.TimeFrequencyMask` (which
    takes the absolute value). The paper's DNN baselines.

    Parameters
    ----------
    n_bins : int
        Frequency bins per frame.
    n_sources : int, default=2
        Number of sources / heads (>= 2).
    hidden_units : int, default=512
        Units in every hidden layer.
    n_layers : int, default=3
        Number of hidden layers (>= 1).
    activation : {"relu", "leaky_relu", "elu", "tanh", "sigmoid", "identity"}, default="relu"
        Hidden activation.
    context : {3, 1}, default=3
        ``3``: input is the flattened (prev, cur, next) frames, the same information as
        the window VPNN; ``1``: current frame only.
    eps : float, default=1e-8
        Of the masking layer.
    n_scales : int, default=1
        Context stacks per frame (see :class:`VPNN`); with ``context=3`` the input
        is ``(batch, 3 * n_scales, n_bins)``, flattened.

    Notes
    -----
    Same input/output convention as :class:`VPNN`: ``(batch, 3, n_bins)`` in,
    ``(batch, n_sources, n_bins)`` masks out. Weights: Kaiming normal (gain 1 for the
    first layer, the activation's gain after it), biases zero.

    Examples
    --------
    >>> import torch
    >>> from sklearn_vpnn.nn import DNN
    >>> DNN(513)(torch.randn(8, 3, 513)).shape
    torch.Size([8, 2, 513])
    """

    def __init__(self, n_bins, n_sources=2, hidden_units=512, n_layers=3, activation="relu",
                 context=3, eps=1e-8, n_scales=1):
        super().__init__()
        n_bins, n_sources, hidden_units, n_layers = _check_sizes(n_bins, n_sources, hidden_units, n_layers)
        if context not in (1, 3) or isinstance(context, bool):
            raise ValueError(f"context must be 1 or 3; got {context!r}")
        act, gain = _activation(activation)
        self.n_bins, self.n_sources = n_bins, n_sources
        self.hidden_units, self.n_layers = hidden_units, n_layers
        self.activation, self.context = activation, context
        self.n_scales = _check_scales(n_scales)
        sizes = [context * self.n_scales * n_bins if context == 3 else n_bins] + [hidden_units] * n_layers
        self.hidden = nn.ModuleList(nn.Linear(i, o) for i, o in zip(sizes[:-1], sizes[1:]))
        self.act = act
        self.heads = nn.ModuleList(nn.Linear(hidden_units, n_bins) for _ in range(n_sources))
        for k, layer in enumerate(self.hidden):
            self._init(layer, 1.0 if k == 0 else gain)
        for head in self.heads:
            self._init(head, gain)
        self.mask = TimeFrequencyMask(eps)

    @staticmethod
    def _init(layer, gain):
        with torch.no_grad():
            layer.weight.normal_(0.0, gain / math.sqrt(layer.in_features))
            layer.bias.zero_()

    def outputs(self, x):
        """Real-valued head outputs before masking.

        Parameters
        ----------
        x : torch.Tensor
            ``(batch, 3, n_bins)``.

        Returns
        -------
        torch.Tensor
            ``(batch, n_sources, n_bins)``.

        Examples
        --------
        >>> import torch
        >>> from sklearn_vpnn.nn import DNN
        >>> DNN(5, hidden_units=4, context=1).outputs(torch.randn(2, 3, 5)).shape
        torch.Size([2, 2, 5])
        """
        _check_input(x, self.n_bins, self.n_scales)
        h = x.flatten(-2) if self.context == 3 else x[..., 1, :]
        for layer in self.hidden:
            h = self.act(layer(h))
        return torch.stack([head(h) for head in self.heads], dim=-2)

    def forward(self, x):
        """Estimate masks.

        Parameters
        ----------
        x : torch.Tensor
            ``(batch, 3, n_bins)`` normalised features of frames (prev, cur, next).

        Returns
        -------
        torch.Tensor
            ``(batch, n_sources, n_bins)`` masks, summing to one over sources.

        Examples
        --------
        >>> import torch
        >>> from sklearn_vpnn.nn import DNN
        >>> masks = DNN(5, hidden_units=4)(torch.randn(2, 3, 5))
        >>> masks.shape, torch.allclose(masks.sum(1), torch.ones(2, 5))
        (torch.Size([2, 2, 5]), True)
        """
        return self.mask(self.outputs(x))

    def extra_repr(self):
        return (f"n_bins={self.n_bins}, n_sources={self.n_sources}, hidden_units={self.hidden_units}, "
                f"n_layers={self.n_layers}, activation={self.activation!r}, context={self.context}")


#: Model kinds of :class:`MaskNet`.
_KINDS = ("vpnn", "dnn")


def _statistic(value, default, shape, name):
    """A normalisation statistic as a fresh float32 tensor of ``shape`` (never shared)."""
    t = torch.full(shape, float(default)) if value is None else torch.as_tensor(value, dtype=torch.float32)
    if t.shape != shape:
        raise ValueError(f"{name} must have shape {tuple(shape)}; got {tuple(t.shape)}")
    return t.detach().clone().cpu()


class MaskNet(nn.Module):
    """Input normalisation followed by a mask model: what the separators train.

    The model is a :class:`VPNN`, a :class:`~sklearn_vpnn.nn.BandVPNN` (with a dense
    :class:`VPNN` beside it, ``dense_units``) or a :class:`DNN`.

    Takes log-magnitude context stacks ``(batch, 3, n_bins)`` (previous, current, next
    frame), normalises them with statistics held as buffers (so a saved model carries
    them) and returns the model's masks ``(batch, n_sources, n_bins)``. The window VPNN
    and the DNN standardise every bin, ``(x - mean) / scale``; the colour VPNN maps the
    global range ``[lo, hi]`` to ``[0, 1]`` (clamped), which its colour map wants.

    Every argument is explicit, so skorch builds it from ``module__*`` parameters,
    statistics included.

    Parameters
    ----------
    kind : {"vpnn", "dnn"}
        The model: :class:`VPNN` or :class:`DNN` (``context=3``).
    n_bins : int
        Frequency bins per frame.
    n_sources : int, default=2
        Number of sources (>= 2).
    hidden_units : int, default=512
        Units in every hidden layer (vector units for the VPNN).
    n_layers : int, default=3
        Number of hidden layers.
    activation : {"relu", "leaky_relu", "elu", "tanh", "sigmoid", "identity"}, default="relu"
        Hidden activation.
    mapping : {"window", "color"} or None, default=None
        The VPNN's real -> 3-D mapping; None means ``"window"``. Must be None for
        ``kind="dnn"``.
    mean : array-like of shape (n_bins,) or None, default=None
        Per-bin mean of the log-magnitudes (None: zeros).
    scale : array-like of shape (n_bins,) or None, default=None
        Per-bin scale of the log-magnitudes (None: ones).
    lo : float, default=0.0
        Log-magnitude mapped to 0 for the colour mapping.
    hi : float, default=1.0
        Log-magnitude mapped to 1 for the colour mapping.
    context_strides : tuple of int, default=(1,)
        The strides ``s`` of the context stacks ``(t - s, t, t + s)`` the model
        reads (``(1,)``: the paper's previous, current, next frame). Build the input
        with :func:`~sklearn_vpnn.nn.context_indices` and the same strides.
    stereo : bool, default=False
        Stereo cues: the input also holds the same context stacks of the other
        channel of the track, after the channel's own, ``(batch, 2 * 3 K, n_bins)``
        (the window VPNN and the DNN; the colour mapping reads one frame).
    band_radius : int or None, default=None
        A :class:`~sklearn_vpnn.nn.BandVPNN` (``kind="vpnn"``, window mapping): one
        per-bin vector product network of ``hidden_units`` units reading the
        ``2 band_radius + 1`` bins around each bin. None: the dense :class:`VPNN`.
    band_bins : int or None, default=None
        The band network's ``train_bins``: masks of this many random bins per
        training batch (None: every bin).
    dense_units : int or None, default=None
        With ``band_radius``: also a dense window :class:`VPNN` of this many units
        per layer (:attr:`dense`), joined as ``dense_join`` says. None: the band
        network alone.
    dense_join : {"outputs", "masks"}, default="outputs"
        ``"outputs"``: the dense network's outputs are added to the band network's
        before one masking layer. ``"masks"``: the average of the two networks'
        masks (in training, see :meth:`masks`).

    Attributes
    ----------
    model : VPNN, BandVPNN or DNN
        The mask model.
    dense : VPNN or None
        The dense network beside a band network (``dense_units``), or None.
    color : bool
        Whether the input is range-scaled (colour VPNN) rather than standardised.

    See Also
    --------
    VPNN : The vector product network inside.
    DNN : The real-valued baseline inside.

    Examples
    --------
    >>> import torch
    >>> from sklearn_vpnn.nn import MaskNet
    >>> net = MaskNet("vpnn", 5, hidden_units=4, mean=torch.zeros(5), scale=torch.full((5,), 2.0))
    >>> net.scale
    tensor([2., 2., 2., 2., 2.])
    >>> net(torch.randn(8, 3, 5)).shape
    torch.Size([8, 2, 5])
    >>> MaskNet("dnn", 5, hidden_units=4).normalise(torch.ones(5))
    tensor([1., 1., 1., 1., 1.])
    """

    def __init__(self, kind, n_bins, n_sources=2, hidden_units=512, n_layers=3, activation="relu",
                 mapping=None, mean=None, scale=None, lo=0.0, hi=1.0, context_strides=(1,), stereo=False,
                 band_radius=None, band_bins=None, dense_units=None, dense_join="outputs"):
        super().__init__()
        check_choice(kind, "kind", _KINDS)
        if kind == "dnn" and mapping is not None:
            raise ValueError(f"mapping must be None for kind='dnn'; got {mapping!r}")
        n_bins = check_number(n_bins, "n_bins", integer=True, low=1)
        self.register_buffer("mean", _statistic(mean, 0.0, (n_bins,), "mean"))
        self.register_buffer("scale", _statistic(scale, 1.0, (n_bins,), "scale"))
        self.register_buffer("lo", _statistic(lo, 0.0, (), "lo"))
        self.register_buffer("hi", _statistic(hi, 1.0, (), "hi"))
        self.color = kind == "vpnn" and mapping == "color"
        self.context_strides = check_strides(context_strides)
        self.stereo = bool(stereo)
        if self.stereo and self.color:
            raise ValueError("stereo=True needs the window mapping or the DNN (the colour mapping reads one frame)")
        n_scales = len(self.context_strides) * (2 if self.stereo else 1)  # the other channel: more stacks
        self.dense = None
        self.dense_join = check_choice(dense_join, "dense_join", ("outputs", "masks"))
        if dense_units is not None and band_radius is None:
            raise ValueError("dense_units needs band_radius (a band network to add the dense one to)")
        if band_radius is not None:
            if kind != "vpnn" or mapping not in (None, "window"):
                raise ValueError(f"band_radius needs kind='vpnn' with the window mapping; got kind={kind!r}, "
                                 f"mapping={mapping!r}")
            self.model = BandVPNN(n_bins, n_sources, hidden_units, n_layers, activation, n_scales=n_scales,
                                  radius=band_radius, train_bins=band_bins)
            if dense_units is not None:  # and a dense window VPNN beside it, its outputs added
                self.dense = VPNN(n_bins, n_sources, dense_units, n_layers, "window", activation, n_scales=n_scales)
        elif kind == "vpnn":
            self.model = VPNN(n_bins, n_sources, hidden_units, n_layers, mapping or "window", activation,
                              n_scales=n_scales)
        else:
            self.model = DNN(n_bins, n_sources, hidden_units, n_layers, activation, n_scales=n_scales)

    def normalise(self, logmag):
        """Normalised features of log-magnitudes, element by element.

        Parameters
        ----------
        logmag : torch.Tensor
            ``(..., n_bins)`` log-magnitudes.

        Returns
        -------
        torch.Tensor
            Same shape: standardised per bin, or range-scaled to ``[0, 1]`` for the
            colour mapping.
        """
        if self.color:  # the colour map wants inputs in [0, 1]
            return ((logmag - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0)
        return (logmag - self.mean) / self.scale

    def forward(self, logmag):
        """Masks of log-magnitude context stacks.

        Parameters
        ----------
        logmag : torch.Tensor
            ``(batch, 3, n_bins)`` log-magnitudes of frames (prev, cur, next).

        Returns
        -------
        torch.Tensor
            ``(batch, n_sources, n_bins)`` masks, summing to one over sources.
        """
        return self.masks(self.normalise(logmag))

    def masks(self, x):
        """Masks of normalised context stacks ``(batch, 3 K, n_bins)``: the model's (and the dense VPNN's).

        Parameters
        ----------
        x : torch.Tensor
            Normalised features, see :meth:`normalise`.

        Returns
        -------
        torch.Tensor or tuple of torch.Tensor
            ``(batch, n_sources, n_bins)`` masks, summing to one over sources; with
            ``dense_join="masks"`` in training mode with gradients, the pair (band
            masks, dense masks), for a loss on each (``SeparatorNet.get_loss``).
        """
        dense = getattr(self, "dense", None)  # a MaskNet pickled before dense networks existed has none
        if dense is None:
            return self.model(x)
        if getattr(self, "dense_join", "outputs") == "outputs":
            return self.model(x, extra=dense.outputs(x))
        band, masks = self.model(x), dense(x)
        if self.training and torch.is_grad_enabled():
            return band, masks  # each network's own loss (SeparatorNet.get_loss)
        return (band + masks) * 0.5
