"""Masks of every frame of a sequence, chunk by chunk, in reused buffers.

Training feeds the models gathered context stacks ``(batch, 3 K, n_bins)``.
Separating a track needs the masks of *every* frame of one sequence, in the
spectrogram's layout ``(n_sources, n_bins, frames)``; :class:`FrameMasker`
computes them without the copies a batch-at-a-time forward pass makes:

* the features (log-magnitudes, normalised in place) are built once per
  sequence, edge-padded by the largest context stride, and every chunk reads
  its context frames from them (:meth:`FrameMasker.chunk_masks`; chunks are
  independent, so callers may run them on several threads, one masker each);
* a masker's buffers are allocated once and reused for every chunk; bias and
  activation are applied in place;
* the heads compute their outputs transposed, ``(n_bins, frames)``
  (:meth:`~sklearn_vpnn.nn.VectorProductLinear._component_t_into`), so masks
  leave the network in the spectrogram's layout, with no transpose;
* the window VPNN's first layer is never applied to gathered windows. Its input
  vector for bin ``f`` of frame ``t`` at stride ``s`` is ``(x[t-s], x[t], x[t+s])``
  and the layer is linear in it, so with ``Q_c[t] = W_c x[t]`` (one product per
  frame and weight component, ``c`` in x, y, z, over the bins of that stride)
  the cross products ``z = W x a`` are::

      z_x[t] = Q_y[t+s] - Q_z[t]
      z_y[t] = Q_z[t-s] - Q_x[t+s]
      z_z[t] = Q_x[t]   - Q_y[t-s]

  summed over the strides. Each frame's products are computed once instead of
  once per window it appears in: half the first layer's multiply-adds
  (``3 K F H`` instead of ``6 K F H`` per frame) and no gathered copy of the
  features. The sums are the same terms added in another order, so the masks
  agree with the gathered forward pass to float32 rounding, not bit for bit
  (``tests/test_inference.py`` checks both against float64; ``shift=False``
  gives the gathered numbers bit for bit).

The colour VPNN, the band VPNN (with its dense VPNN, if any) and the DNN go
through their ordinary forward pass on gathered
stacks, chunk by chunk (the same numbers as ``model(x)``), except the dense VPNN of
a band network whose masks are averaged with it (``dense_join="masks"``): its masks
come by the window VPNN's path.
"""

import numpy as np
import torch

from ._common import _activate_
from .models import VPNN

__all__ = ["FrameMasker"]

#: frames per pass: activations of a few MB each, which stay in cache
_CHUNK = 2048
#: fewer frames than this: the heads' products are computed untransposed, then copied
_TRANSPOSED_MIN = 64

def _spans(n, chunk):
    """``[(start, stop), ...]`` covering ``range(n)`` in near-equal pieces of at most ``chunk``."""
    k = max(1, -(-n // chunk))
    bounds = [(j * n) // k for j in range(k + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


class FrameMasker:
    """Masks of every frame of spectrogram sequences for a :class:`~sklearn_vpnn.nn.MaskNet`.

    Parameters
    ----------
    net : MaskNet
        The fitted network (put in eval mode; it stays on its device).
    chunk : int, default=2048
        Frames per pass: bounds the activations' memory.
    log_eps : float, default=1e-5
        Added to the magnitudes before the logarithm (the separators' training floor).
    shift : bool, default=True
        Window VPNN only: compute the first layer from per-frame products (see the
        module notes). ``False`` gathers the context windows (one copy, already in
        the layer's component-major layout) and gives the batch forward pass's
        numbers bit for bit.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn_vpnn.nn import FrameMasker, MaskNet
    >>> spec = np.ones((5, 7), np.complex64)  # (n_bins, n_frames)
    >>> masker = FrameMasker(MaskNet("vpnn", 5, hidden_units=4))
    >>> with torch.inference_mode():
    ...     [(a, b, m.shape) for a, b, m in masker.masks(spec, 7)]
    [(0, 7, torch.Size([2, 5, 7]))]
    """

    def __init__(self, net, chunk=_CHUNK, log_eps=1e-5, shift=True):
        self.net = net.eval()
        self.model = net.model
        self.device = next(net.parameters()).device
        self.strides = tuple(net.context_strides)
        self.pad = max(self.strides)
        self.chunk = int(chunk)
        self.log_eps = float(log_eps)
        self.shift = bool(shift)
        self.window = isinstance(self.model, VPNN) and self.model.mapping == "window"
        # a band and a dense network whose masks are averaged: the dense one by the window path
        self.pair = getattr(net, "dense", None) is not None and getattr(net, "dense_join", "outputs") == "masks"
        self.stereo = bool(getattr(net, "stereo", False))
        self._buffers = {}

    # ------------------------------------------------------------ features
    def features(self, spec, n_frames):
        """Normalised log-magnitude features, ``(n_frames + 2 * pad, n_bins)``, edge-padded.

        Parameters
        ----------
        spec : ndarray of complex, shape (n_bins, >= n_frames)
            One channel's spectrogram.
        n_frames : int
            Its real frames (>= 1).

        Returns
        -------
        torch.Tensor
            Rows ``pad ... pad + n_frames - 1`` are ``net.normalise(log(|spec| + log_eps))``
            of the frames (the same numbers, computed in place); the ``pad`` rows on
            each side repeat the edge frames, which is what clamped context indices read.
        """
        p, n = self.pad, int(n_frames)
        buf = torch.empty(n + 2 * p, spec.shape[0])
        np.abs(spec[:, :n].T, out=buf.numpy()[p : p + n])
        x = buf[p : p + n].add_(self.log_eps).log_()
        net = self.net
        if net.color:  # MaskNet.normalise, in place
            x.sub_(net.lo).div_(net.hi - net.lo).clamp_(0.0, 1.0)
        else:
            x.sub_(net.mean).div_(net.scale)
        buf[:p] = buf[p]
        buf[p + n :] = buf[p + n - 1]
        return buf.to(self.device)

    def _buffer(self, name, n):
        """A reused flat buffer of at least ``n`` elements on the network's device."""
        buf = self._buffers.get(name)
        if buf is None or buf.numel() < n:
            buf = self._buffers[name] = torch.empty(n, device=self.device)
        return buf[:n]

    # --------------------------------------------------------------- masks
    def spans(self, n_frames):
        """The chunks of a sequence: near-equal, at most ``chunk`` frames.

        Parameters
        ----------
        n_frames : int
            Frames in the sequence.

        Returns
        -------
        list of tuple of int
            ``[(start, stop), ...]``, empty for no frames.
        """
        return _spans(int(n_frames), self.chunk) if n_frames >= 1 else []

    def masks(self, spec, n_frames, partner=None):
        """Masks of every frame of one channel, chunk by chunk.

        Parameters
        ----------
        spec : ndarray of complex, shape (n_bins, >= n_frames)
            One channel's mixture spectrogram.
        n_frames : int
            Its real frames.
        partner : ndarray of complex or None, default=None
            A stereo network's other channel of the track (None: ``spec`` itself).

        Yields
        ------
        start, stop : int
            The frames of the chunk.
        masks : torch.Tensor
            ``(n_sources, n_bins, stop - start)`` float32 on the CPU, summing to one
            over sources; valid until the next chunk (its buffer is reused).
        """
        spans = self.spans(n_frames)
        if spans:
            feats = self.features(spec, n_frames)
            other = self.features(partner, n_frames) if self.stereo and partner is not None else feats
            for start, stop in spans:
                yield start, stop, self.chunk_masks(feats, start, stop, other)

    def chunk_masks(self, feats, start, stop, partner=None):
        """Masks of frames ``start:stop`` of a sequence, ``(n_sources, n_bins, stop - start)``.

        Parameters
        ----------
        feats : torch.Tensor
            The sequence's :meth:`features`.
        start, stop : int
            The frames (a chunk of at most ``chunk`` frames).
        partner : torch.Tensor or None, default=None
            A stereo network's :meth:`features` of the track's other channel (None:
            ``feats``, as for a mono track). Ignored by other networks.

        Returns
        -------
        torch.Tensor
            Float32 on the CPU, summing to one over sources; valid until the next
            call (its buffer is reused).
        """
        other = feats if partner is None else partner  # read by stereo networks only
        if self.window:
            return self._window_masks(self.model, feats, other, start, stop).cpu()
        # ordinary forward pass on gathered stacks (a stereo network's: the other channel's after)
        rows = self._context_rows(start, stop)
        x = torch.cat([feats[rows], other[rows]], 1) if self.stereo else feats[rows]
        if self.pair:  # MaskNet.masks, (band + dense) / 2, the dense network's masks by the window path
            dense = self._window_masks(self.net.dense, feats, other, start, stop)
            return dense.add_(self.model(x).permute(1, 2, 0)).mul_(0.5).cpu()
        return self.net.masks(x).permute(1, 2, 0).cpu()

    def _context_rows(self, start, stop, component_major=False):
        """Rows of the padded features holding frames ``t - s, t, t + s`` of ``t`` in ``start:stop``.

        ``(stop - start, 3 K)``, in the order of :func:`context_indices` (stride by
        stride), or component by component (all strides' previous frames, then the
        current ones, then the next ones) for the window VPNN's first layer. The
        padding repeats the edge frames, so these are the clamped indices' frames.
        """
        offsets = [d for s in self.strides for d in (-s, 0, s)]
        if component_major:
            offsets = offsets[0::3] + offsets[1::3] + offsets[2::3]
        t = torch.arange(start + self.pad, stop + self.pad, device=self.device)
        return t[:, None] + torch.tensor(offsets, device=self.device)

    def _first_layer(self, model, feats, other, start, stop, out):
        """The window VPNN ``model``'s first layer for frames ``start:stop``, into ``out``.

        A stereo network reads ``other`` (the other channel's features) with the
        second half of its input stacks.
        """
        layer = model.hidden[0]
        H, F, b, p, K = layer.out_units, model.n_bins, stop - start, self.pad, len(self.strides)
        if not self.shift:  # gathered windows, (b, 3 * K * F) component-major rows
            rows = self._context_rows(start, stop, True).reshape(-1)
            if not self.stereo:
                x = self._buffer("x", b * 3 * K * F).view(-1, F)
                torch.index_select(feats, 0, rows, out=x)
                return layer._rows_into(x.view(b, -1), out)
            x = self._buffer("x", b * 6 * K * F).view(b, 3, 2, K, F)  # (component, channel, stride)
            x[:, :, 0] = feats[rows].view(b, 3, K, F)
            x[:, :, 1] = other[rows].view(b, 3, K, F)
            return layer._rows_into(x.view(b, -1), out)
        ox, oy, oz = out[:, :H], out[:, H : 2 * H], out[:, 2 * H :]
        groups = [(s, x) for x in ((feats, other) if self.stereo else (feats,)) for s in self.strides]
        for k, ((s, x), wk) in enumerate(zip(groups, self._first_weights(model))):
            # Q[r] = [W_x; W_y; W_z] x[frame start - s + r] for this stride's bins
            q = self._buffer("q", (b + 2 * s) * 3 * H).view(b + 2 * s, 3 * H)
            torch.mm(x[start + p - s : stop + p + s], wk.t(), out=q)
            q = q.view(b + 2 * s, 3, H)
            prev, cur, nxt = q[:b], q[s : s + b], q[2 * s :]
            if k == 0:
                torch.sub(nxt[:, 1], cur[:, 2], out=ox)
                torch.sub(prev[:, 2], nxt[:, 0], out=oy)
                torch.sub(cur[:, 0], prev[:, 1], out=oz)
            else:
                ox.add_(nxt[:, 1]).sub_(cur[:, 2])
                oy.add_(prev[:, 2]).sub_(nxt[:, 0])
                oz.add_(cur[:, 0]).sub_(prev[:, 1])
        if layer.bias is not None:
            out.view(b, 3, H).add_(layer.bias.t())
        return out

    def _first_weights(self, model):
        """Per stride, the first layer's ``[W_x; W_y; W_z]`` ``(3 H, n_bins)``, kept while the weights are unchanged."""
        w = model.hidden[0].weight
        key = (w.data_ptr(), None if w.is_inference() else w._version)
        if self._buffers.get("w_key") != key:
            H, F = w.shape[0], model.n_bins
            K = model.n_scales
            w4 = w.detach().view(H, K, F, 3)
            self._buffers["w"] = [w4[:, k].permute(2, 0, 1).reshape(3 * H, F) for k in range(K)]
            self._buffers["w_key"] = key
        return self._buffers["w"]

    def _window_masks(self, model, feats, other, start, stop):
        b, H = stop - start, model.hidden_units
        h = self._buffer("h0", b * 3 * H).view(b, 3 * H)
        _activate_(model.act, self._first_layer(model, feats, other, start, stop, h))
        for j, layer in enumerate(model.hidden[1:], 1):
            o = self._buffer(f"h{j % 2}", b * 3 * H).view(b, 3 * H)
            _activate_(model.act, layer._rows_into(h, o))
            h = o
        S, F = model.n_sources, model.n_bins
        y = self._buffer("y", S * F * b).view(S, F, b)
        for s, head in enumerate(model.heads):  # the middle component, as model.outputs
            if b >= _TRANSPOSED_MIN:
                head._component_t_into(h, 1, y[s])
            else:  # MKL sums tiny transposed products in another order: keep forward's numbers
                y[s].copy_(head.forward_component(h.view(b, 3, H), 1).t())
        # TimeFrequencyMask, in place: (|y| + eps) / sum over sources
        y.abs_().add_(model.mask.eps)
        return y.div_(y.sum(0))
