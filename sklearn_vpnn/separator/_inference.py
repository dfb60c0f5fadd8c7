"""What ``predict_masks`` and ``transform`` compute: masks, or the masked mixture, written in place.

Track by track: the network's features of every channel, then the masks of every
chunk of frames (:class:`~sklearn_vpnn.nn.FrameMasker`, in the spectrogram's
layout), written into the masks array or multiplied straight into the separated
spectrogram, so ``transform`` never holds a float mask array per source. The
product is numpy's complex-by-real multiply, the same as ``masks * X.data[:,
np.newaxis]``. Channels and chunks are independent: they are shared among torch's
threads (:func:`sklearn_vpnn._threads.run_all`); on a GPU they run in turn.

``transform`` computes nothing itself: it returns a
:class:`~sklearn_vpnn.spectral._deferred.DeferredSpectrogram` whose producer is a
:class:`MaskedMixture`. Read whole, that fills the separated spectrogram with
:func:`apply_masks`; inverted by :class:`~sklearn_vpnn.InverseSTFT`, it hands out
one chunk's masks at a time and writes each source's masked frames into the
inverse's reused block (the same product on the same values, so the same numbers).
"""

import threading

import numpy as np
import torch

from .._threads import run_all
from ..nn import FrameMasker

__all__ = []


def _in_turn(fn, items):
    return [fn(item) for item in items]


def _maskers(net, log_eps):
    """``masker()``: this thread's :class:`FrameMasker` (each has its own buffers)."""
    maskers = {}

    def masker():
        key = threading.get_ident()
        if key not in maskers:
            maskers[key] = FrameMasker(net, log_eps=log_eps)
        return maskers[key]

    return masker


def _partner(c, n_channels):
    """A stereo network's other channel of channel ``c``: channels pair up (0, 1), (2, 3), ..."""
    return c ^ 1 if (c ^ 1) < n_channels else c


def _runner(net):
    """:func:`run_all` for a network on the CPU; in turn on a GPU."""
    return run_all if next(net.parameters()).device.type == "cpu" else _in_turn


def apply_masks(net, X, n_sources, masks=None, out=None, log_eps=1e-5):
    """Fill ``masks`` and/or ``out`` for the mixture spectrogram ``X``.

    Parameters
    ----------
    net : MaskNet
        The fitted network.
    X : Spectrogram
        Mixtures, ``(n_tracks, n_channels, n_bins, n_frames)``.
    n_sources : int
        Sources the network separates.
    masks : ndarray of float32 or None
        ``(n_tracks, n_sources, n_channels, n_bins, n_frames)``, filled with the
        masks (padding frames past a track's end get the equal share ``1 / n_sources``).
    out : ndarray of complex64 or None
        Same shape, filled with the masks times the mixture.
    log_eps : float, default=1e-5
        Added to the magnitudes before the logarithm (as in training).
    """
    masker, run = _maskers(net, log_eps), _runner(net)
    share = np.float32(1.0 / n_sources)

    for i, n_fr in enumerate(X.n_frames_per_track):
        n_fr = int(n_fr)

        def features(c):
            spec = X.data[i, c]
            if masks is not None:
                masks[i, :, c, :, n_fr:] = share
            if out is not None:
                np.multiply(share, spec[np.newaxis, :, n_fr:], out=out[i, :, c, :, n_fr:])
            return masker().features(spec, n_fr) if n_fr else None

        def chunk(item):
            c, start, stop = item
            with torch.inference_mode():
                m = masker().chunk_masks(feats[c], start, stop, feats[_partner(c, len(feats))]).numpy()
            if masks is not None:
                masks[i, :, c, :, start:stop] = m
            if out is not None:
                spec = X.data[i, c, :, start:stop]
                for s in range(n_sources):
                    np.multiply(m[s], spec, out=out[i, s, c, :, start:stop])

        feats = run(features, range(X.shape[1]))
        spans = masker().spans(n_fr)
        run(chunk, [(c, a, b) for c in range(X.shape[1]) for a, b in spans])


class MaskedMixture:
    """The separated spectrogram ``masks * mixture``, computed when asked: a deferred producer.

    The producer of the :class:`~sklearn_vpnn.spectral._deferred.DeferredSpectrogram`
    a separator's ``transform`` returns (see there for the protocol).

    Parameters
    ----------
    net : MaskNet
        The fitted network.
    X : Spectrogram
        Mixtures, ``(n_tracks, n_channels, n_bins, n_frames)``.
    n_sources : int
        Sources the network separates.
    log_eps : float, default=1e-5
        Added to the magnitudes before the logarithm (as in training).
    """

    def __init__(self, net, X, n_sources, log_eps=1e-5):
        self.net, self.X, self.n_sources, self.log_eps = net, X, int(n_sources), log_eps
        self.run_all = _runner(net)
        self._masker = _maskers(net, log_eps)
        self._features = (None, None)  # (track, its channels' features)

    def fill(self, out):
        """Write the whole separated spectrogram into ``out`` (:func:`apply_masks`)."""
        apply_masks(self.net, self.X, self.n_sources, out=out, log_eps=self.log_eps)

    def frame_chunks(self, i):
        """Compute track ``i``'s features; return its chunks ``[(channel, start, stop), ...]``."""
        n_fr = int(self.X.n_frames_per_track[i])
        feats = self.run_all(lambda c: self._masker().features(self.X.data[i, c], n_fr),
                             range(self.X.shape[1]))
        self._features = (i, feats)
        return [(c, a, b) for c in range(self.X.shape[1]) for a, b in self._masker().spans(n_fr)]

    def chunk(self, i, c, start, stop):
        """Masks of one chunk; returns ``write(source, f0, f1, out)``: ``masks * mixture`` of frames ``f0:f1``."""
        track, feats = self._features
        if track != i:
            raise RuntimeError(f"frame_chunks({i}) must come before chunk({i}, ...)")
        with torch.inference_mode():
            m = self._masker().chunk_masks(feats[c], start, stop, feats[_partner(c, len(feats))]).numpy()
        spec = self.X.data[i, c]

        def write(s, f0, f1, out):  # the product of apply_masks, on these frames
            np.multiply(m[s, :, f0 - start : f1 - start], spec[:, f0:f1], out=out)

        return write


def wiener(estimates, X, iterations):
    """``estimates`` (tracks, sources, channels, bins, frames) refined by ``iterations`` of norbert's Wiener filter."""
    import norbert

    refined = np.empty_like(estimates)
    for i in range(len(X)):
        # norbert wants (frames, bins, channels[, sources])
        v = np.abs(estimates[i]).transpose(3, 2, 1, 0)
        x = X.data[i].transpose(2, 1, 0)
        y = norbert.wiener(v.astype(np.float32), x.astype(np.complex64), iterations=iterations)
        refined[i] = y.transpose(3, 2, 1, 0)
    return refined
