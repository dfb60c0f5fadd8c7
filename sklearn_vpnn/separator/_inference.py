"""What ``predict_masks`` and ``transform`` compute: masks, or the masked mixture, written in place.

One pass over every track and channel: the network's masks for a chunk of
frames (:class:`~sklearn_vpnn.nn._inference.FrameMasker`, in the spectrogram's
layout) are written into the masks array, or multiplied straight into the
separated spectrogram, so ``transform`` never holds a float mask array per
source. The product is numpy's complex-by-real multiply, the same as
``masks * X.data[:, np.newaxis]``.
"""

import numpy as np
import torch

from ..nn._inference import FrameMasker

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
    masker = FrameMasker(net, log_eps=log_eps)
    share = np.float32(1.0 / n_sources)
    with torch.inference_mode():
        for i, n_fr in enumerate(X.n_frames_per_track):
            n_fr = int(n_fr)
            for c in range(X.shape[1]):
                spec = X.data[i, c]
                for start, stop, m in masker.masks(spec, n_fr):
                    m = m.numpy()
                    if masks is not None:
                        masks[i, :, c, :, start:stop] = m
                    if out is not None:
                        for s in range(n_sources):
                            np.multiply(m[s], spec[:, start:stop], out=out[i, s, c, :, start:stop])
                if masks is not None:
                    masks[i, :, c, :, n_fr:] = share
                if out is not None:
                    np.multiply(share, spec[np.newaxis, :, n_fr:], out=out[i, :, c, :, n_fr:])
