"""What ``predict_masks`` and ``transform`` compute: masks, or the masked mixture, written in place.

Track by track: the network's features of every channel, then the masks of every
chunk of frames (:class:`~sklearn_vpnn.nn.FrameMasker`, in the spectrogram's
layout), written into the masks array or multiplied straight into the separated
spectrogram, so ``transform`` never holds a float mask array per source. The
product is numpy's complex-by-real multiply, the same as ``masks * X.data[:,
np.newaxis]``. Channels and chunks are independent: they are shared among torch's
threads (:func:`sklearn_vpnn._threads.run_all`); on a GPU they run in turn.
"""

import threading

import numpy as np
import torch

from .._threads import run_all
from ..nn import FrameMasker

__all__ = []


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
    maskers = {}  # one per thread: each has its own buffers
    on_cpu = next(net.parameters()).device.type == "cpu"
    run = run_all if on_cpu else (lambda fn, items: [fn(item) for item in items])
    share = np.float32(1.0 / n_sources)

    def masker():
        key = threading.get_ident()
        if key not in maskers:
            maskers[key] = FrameMasker(net, log_eps=log_eps)
        return maskers[key]

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
                m = masker().chunk_masks(feats[c], start, stop).numpy()
            if masks is not None:
                masks[i, :, c, :, start:stop] = m
            if out is not None:
                spec = X.data[i, c, :, start:stop]
                for s in range(n_sources):
                    np.multiply(m[s], spec, out=out[i, s, c, :, start:stop])

        feats = run(features, range(X.shape[1]))
        spans = masker().spans(n_fr)
        run(chunk, [(c, a, b) for c in range(X.shape[1]) for a, b in spans])
