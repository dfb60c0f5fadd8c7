"""Checks a separator makes of what it is given: the spectrogram, the STFT that made it, the device."""

import numpy as np
import torch

from ..spectral import LazySpectrogram, Spectrogram

__all__ = []

#: parameters added after models were saved, with the value that trains as those models were trained
_ADDED_PARAMS = {"loss_target": "magnitude", "stereo": False, "band_radius": None, "band_bins": 128,
                 "dense_units": None, "dense_join": "outputs"}

#: the STFT parameters that change the features a separator hears
_STFT_FEATURE_FIELDS = ("n_fft", "hop_length", "window", "center", "sample_rate")


def _stft_mismatch(fitted, given):
    """``"hop_length=256 (fitted with 128), ..."`` for the feature fields that differ, or ``""``.

    ``fitted`` is a separator's ``stft_params_``, ``given`` a spectrogram's ``params``.
    A ``sample_rate`` of None (unknown) on either side is not a mismatch; nor is
    anything when ``fitted`` is empty (nothing recorded).
    """
    if not fitted:
        return ""
    diffs = []
    for k in _STFT_FEATURE_FIELDS:
        a, b = fitted.get(k), given.get(k)
        a, b = (tuple(v) if isinstance(v, list) else v for v in (a, b))
        if k == "sample_rate" and (a is None or b is None):
            continue
        if a != b:
            diffs.append(f"{k}={b!r} (fitted with {a!r})")
    return ", ".join(diffs)


def _resolve_device(device):
    """``"cpu"``, ``"cuda"`` or ``"cuda:N"`` for a ``device`` parameter (``"auto"`` allowed)."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available here")
    return str(dev)


def _check_spectrogram(X, method):
    """The mixture Spectrogram ``X`` given to ``method`` (a LazySpectrogram is computed, except for fit)."""
    if isinstance(X, LazySpectrogram):
        if method == "fit":
            return X  # checked track by track while training
        X = X.compute()
    if not isinstance(X, Spectrogram):
        raise TypeError(
            f"{method} expects the Spectrogram made by sklearn_vpnn.STFT (put STFT() before "
            f"the separator in a pipeline); got {type(X).__name__}"
        )
    if X.is_separated:
        raise ValueError(f"{method} expects a mixture spectrogram, got a separated one {X.shape}")
    if not np.all(np.isfinite(X.data)):
        raise ValueError("the spectrogram contains NaN or infinite values")
    return X


def _band_kwargs(separator):
    """:class:`~sklearn_vpnn.nn.MaskNet`'s band arguments of a separator: none for a dense network."""
    radius, dense = getattr(separator, "band_radius", None), getattr(separator, "dense_units", None)
    if dense is None and getattr(separator, "dense_join", "outputs") != "outputs":
        raise ValueError(f"dense_join={separator.dense_join!r} needs dense_units (a dense network to join)")
    if radius is None:
        if dense is not None:
            raise ValueError("dense_units needs band_radius (a band network to add the dense one to)")
        return {}
    kwargs = {"band_radius": radius, "band_bins": separator.band_bins, "dense_units": dense}
    if dense is not None and separator.dense_join != "outputs":  # a model saved before the option reads as before
        kwargs["dense_join"] = separator.dense_join
    return kwargs
