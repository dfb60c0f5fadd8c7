"""The band vector product network: one small vector product network shared by every bin.

:class:`~sklearn_vpnn.nn.VPNN` reads every bin's context vectors through one dense
first layer, ``3 K n_bins`` inputs per hidden unit: each of its million first-layer
weight vectors is learnt from the few minutes of music a training set holds, and
the network overfits them (the validation loss rises from the first epoch on, see
the results page). :class:`BandVPNN` shares its weights across frequency instead:
the masks of bin ``f`` come from the same small vector product network applied to
the context vectors ``(x[t - s], x[t], x[t + s])`` of the ``2 r + 1`` bins
``f - r ... f + r`` at every stride ``s`` (zero, the normalised mean, beyond the
spectrum's edges), plus a learnt bias per bin on its first layer, which tells the
network where in the spectrum it is. Every unit is still a 3-D vector combined with
its inputs by cross products with 3-D weights.

Each layer runs as one matrix product on component-major rows, by the
``(3 in, 3 out)`` matrix of its cross products (:func:`_cross_matrix`): the layers
are narrow (tens of units) and there are ``n_bins`` times more rows than frames, so
one product of inner dimension ``3 in`` is faster than the six of inner dimension
``in`` that :func:`~sklearn_vpnn.nn.vector_product_linear` runs for wide layers.
A training pass runs all of them as one autograd function with a hand-written
backward and reused buffers (``_band_grad.py``); separating runs the same products
into buffers reused piece after piece (:meth:`BandVPNN._masks_into`).
"""

import torch
from torch import nn

from .._validation import check_number
from ._band_grad import _add_activate_, _BandStack, _Workspace
from ._common import _activation, _check_sizes
from .layers import TimeFrequencyMask, VectorProductLinear

__all__ = ["BandVPNN"]

#: rows (frames x bins) per pass when every bin's masks are computed: bounds memory
_ROWS = 1 << 16


def _cross_matrix(weight):
    """``(3 in, 3 out)`` matrix of a vector product layer's map on component-major rows.

    ``weight`` is ``(out, in, 3)``; ``rows @ M`` equals ``sum_j W_ij x a_j`` for rows
    ``[a_x | a_y | a_z]``, with ``(W x a)_x = W_y a_z - W_z a_y`` and its cyclic
    permutations (a third of its entries are zero).
    """
    wx, wy, wz = (w.t() for w in weight.unbind(-1))  # (in, out) each
    zero = torch.zeros_like(wx)
    return torch.cat([torch.cat([zero, wz, -wy], 1),  # a_x feeds z_y (+W_z) and z_z (-W_y)
                      torch.cat([-wz, zero, wx], 1),  # a_y feeds z_x (-W_z) and z_z (+W_x)
                      torch.cat([wy, -wx, zero], 1)])  # a_z feeds z_x (+W_y) and z_y (-W_x)


class BandVPNN(nn.Module):
    """Vector product network shared across frequency, reading a band of bins around each bin.

    Parameters
    ----------
    n_bins : int
        Frequency bins per frame.
    n_sources : int, default=2
        Number of sources (>= 2).
    hidden_units : int, default=32
        Vector units in every hidden layer of the per-bin network.
    n_layers : int, default=3
        Hidden vector product layers (>= 1).
    activation : {"relu", "leaky_relu", "elu", "tanh", "sigmoid", "identity"}, default="relu"
        Applied to every component of every hidden unit.
    eps : float, default=1e-8
        Of the masking layer.
    n_scales : int, default=1
        Context vectors per bin (one per stride; a stereo network's second channel
        adds as many).
    radius : int, default=4
        Neighbouring bins read on each side: the band is ``2 radius + 1`` bins.
    train_bins : int or None, default=None
        In training mode, compute the masks of this many random bins of the batch
        (the same for all its frames; :attr:`bins` says which) instead of all:
        a bin's masks depend on its band alone, so the loss on them is an
        unbiased sample of the whole loss at a fraction of the cost. None: all.

    Attributes
    ----------
    bins : torch.Tensor or None
        The bins of the last training-mode forward pass (sorted), or None when it
        computed every bin.

    Notes
    -----
    Input ``(batch, 3 * n_scales, n_bins)`` normalised context stacks, as for
    :class:`~sklearn_vpnn.nn.VPNN`'s window mapping; output masks ``(batch,
    n_sources, n_bins)`` (``(batch, n_sources, train_bins)`` for a training pass
    on some bins) summing to one over sources, from the middle component of each
    source's output vector. The parameters do not grow with ``n_bins`` except for
    the per-bin bias, ``3 * hidden_units`` numbers per bin. Each layer runs as one
    matrix product, of inner dimension ``3 * in``, by the ``(3 in, 3 out)`` matrix of
    its cross products, a third of whose entries are zero: for these narrow layers
    over ``n_bins`` rows per frame, faster than the six products of inner dimension
    ``in`` that :func:`~sklearn_vpnn.nn.vector_product_linear` runs.

    Examples
    --------
    >>> import torch
    >>> from sklearn_vpnn.nn import BandVPNN
    >>> model = BandVPNN(513, n_scales=3)
    >>> sum(p.numel() for p in model.parameters())
    58470
    >>> masks = model.eval()(torch.randn(4, 9, 513))
    >>> masks.shape, torch.allclose(masks.sum(1), torch.ones(4, 513))
    (torch.Size([4, 2, 513]), True)
    """

    def __init__(self, n_bins, n_sources=2, hidden_units=32, n_layers=3, activation="relu", eps=1e-8,
                 n_scales=1, radius=4, train_bins=None):
        super().__init__()
        self.n_bins, self.n_sources, self.hidden_units, self.n_layers = _check_sizes(
            n_bins, n_sources, hidden_units, n_layers)
        act, gain = _activation(activation)
        self.activation = activation
        self.n_scales = check_number(n_scales, "n_scales", integer=True, low=1)
        self.radius = check_number(radius, "radius", integer=True, low=0)
        self.train_bins = None if train_bins is None else check_number(train_bins, "train_bins", integer=True,
                                                                        low=1)
        self.bins = None
        sizes = [self.n_scales * (2 * self.radius + 1)] + [self.hidden_units] * self.n_layers
        self.hidden = nn.ModuleList(
            VectorProductLinear(i, o, component_dim=-2, gain=1.0 if k == 0 else gain)
            for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])))
        self.where = nn.Parameter(torch.zeros(self.n_bins, 3, self.hidden_units))  # per-bin first-layer bias
        self.head = VectorProductLinear(self.hidden_units, self.n_sources, component_dim=-2, gain=gain)
        self.act = act
        self.mask = TimeFrequencyMask(eps)
        self._workspace = _Workspace()  # the training pass's buffers (not state: never saved)

    def __getstate__(self):  # pickles carry no buffers of training passes
        state = self.__dict__.copy()
        state.pop("_workspace", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._workspace = _Workspace()

    def train(self, mode=True):
        """Set training mode; leaving it frees the training pass's buffers.

        Parameters
        ----------
        mode : bool, default=True
            Training mode (True) or evaluation mode (False), as for
            :meth:`torch.nn.Module.train`.

        Returns
        -------
        BandVPNN
            ``self``.
        """
        if not mode:
            self._workspace.clear()
        return super().train(mode)

    def _padded(self, x):
        """``(batch, n_bins + 2 radius, n_scales, 3)``: every bin's context vectors, zero beyond the edges."""
        B, K, r, F = x.shape[0], self.n_scales, self.radius, self.n_bins
        xp = x.new_zeros(B, F + 2 * r, K, 3)
        xp[:, r:r + F] = x.view(B, K, 3, F).permute(0, 3, 1, 2)
        return xp

    def _weights(self, bins):
        """What :class:`_BandStack` takes: each layer's cross matrix and bias, the first one's per bin.

        The rows it gathers from :meth:`_padded` are ``(offset in the band, stride,
        component)``-major; the first layer's cross matrix is permuted to match.
        """
        where = (self.where if bins is None else self.where[bins]).flatten(1)  # (bins, 3 hidden)
        weights = []
        for j, layer in enumerate((*self.hidden, self.head)):
            m = _cross_matrix(layer.weight)
            bias = None if layer.bias is None else layer.bias.t().reshape(-1)
            if j == 0:  # its rows in the order _BandStack gathers them: (offset, stride, component)
                m = m.view(3, self.n_scales, 2 * self.radius + 1, -1).permute(2, 1, 0, 3).reshape(m.shape)
                bias = where if bias is None else where + bias
            weights += [m, bias]
        return weights

    def _masks(self, x, bins, extra=None):
        B = x.shape[0]
        n = self.n_bins if bins is None else len(bins)
        centres = torch.arange(self.n_bins, device=x.device) if bins is None else bins
        index = centres[:, None] + torch.arange(2 * self.radius + 1, device=x.device)  # each band's padded bins
        y = _BandStack.apply(self.act, self._workspace, self._padded(x), index, *self._weights(bins))
        y = y.view(B, n, 3, self.n_sources)[:, :, 1].transpose(1, 2)  # the middle components
        if extra is not None:
            y = y + (extra if bins is None else extra[..., bins])
        return self.mask(y)  # (B, S, bins)

    def forward(self, x, extra=None):
        """Masks of normalised context stacks.

        Parameters
        ----------
        x : torch.Tensor
            ``(batch, 3 * n_scales, n_bins)``.
        extra : torch.Tensor or None, default=None
            ``(batch, n_sources, n_bins)`` outputs of another network added to this
            one's before masking (a :class:`~sklearn_vpnn.nn.MaskNet` with
            ``dense_units``: the dense VPNN's).

        Returns
        -------
        torch.Tensor
            ``(batch, n_sources, n_bins)`` masks summing to one over sources (in
            training mode with ``train_bins``: the masks of :attr:`bins`).
        """
        if x.dim() != 3 or x.shape[1:] != (3 * self.n_scales, self.n_bins):
            raise ValueError(f"expected input of shape (batch, {3 * self.n_scales}, {self.n_bins}), "
                             f"got {tuple(x.shape)}")
        self.bins = None
        if self.training and self.train_bins is not None and self.train_bins < self.n_bins:
            self.bins = torch.randperm(self.n_bins, device=x.device)[: self.train_bins].sort().values
            return self._masks(x, self.bins, extra)
        step = max(1, _ROWS // self.n_bins)  # every bin: frames in pieces, bounded memory
        if torch.is_grad_enabled():
            return torch.cat([self._masks(x[i:i + step], None, None if extra is None else extra[i:i + step])
                              for i in range(0, x.shape[0], step)])
        return self._masks_into(x, step, extra)

    def _masks_into(self, x, step, extra=None):
        """Every bin's masks without autograd: the pieces' activations in buffers reused piece after piece.

        The same products as :meth:`_masks` (bias and activation in one pass);
        fresh buffers for every piece would be fresh pages for the kernel to map
        and zero (a third of the time on the machines measured).
        """
        B, F, r, K = x.shape[0], self.n_bins, self.radius, self.n_scales
        weights = self._weights(None)
        mats, biases = weights[0::2], weights[1::2]
        n = min(step, B)
        rows = x.new_empty(n * F, 3 * K * (2 * r + 1))
        hs = [x.new_empty(n * F, 3 * self.hidden_units) for _ in range(2)]
        y = x.new_empty(n * F, 3 * self.n_sources)
        out = x.new_empty(B, self.n_sources, F)
        for i in range(0, B, step):
            b = min(step, B - i)
            a = rows[: b * F]
            bands = self._padded(x[i:i + b]).unfold(1, 2 * r + 1, 1)  # (b, F, K, 3, 2r+1)
            a.view(b, F, 2 * r + 1, K, 3).copy_(bands.permute(0, 1, 4, 2, 3))  # _BandStack's row order
            for j, (m, bias) in enumerate(zip(mats, biases)):  # _BandStack's forward, into the buffers
                o = (hs[j % 2] if j < len(mats) - 1 else y)[: b * F]
                torch.mm(a, m, out=o)
                if j < len(mats) - 1:
                    a = _add_activate_(self.act, o, bias)
                elif bias is not None:
                    o.add_(bias)
            mid = y[: b * F].view(b, F, 3, self.n_sources)[:, :, 1].transpose(1, 2)
            if extra is not None:
                mid.add_(extra[i:i + b])
            out[i:i + b] = self.mask(mid)
        return out

    def extra_repr(self):
        return (f"n_bins={self.n_bins}, n_sources={self.n_sources}, hidden_units={self.hidden_units}, "
                f"n_layers={self.n_layers}, activation={self.activation!r}, n_scales={self.n_scales}, "
                f"radius={self.radius}, train_bins={self.train_bins}")
