"""Checks a separator makes of what it is given: the spectrogram, the STFT that made it, the device."""

import numpy as np
import torch

from ..spectral import LazySpectrogram, Spectrogram

__all__ = []

#: parameters added after models were saved, with the value that trains as those models were trained
_ADDED_PARAMS = {"loss_target": "magnitude", "stereo": False, "band_radius": None, "band_units": 32,
                 "band_bins": 128, "band_join": "outputs", "shifts": 1}


def _upgrade_params(params):
    """A separator's parameters (or pickled state) saved by an older release, as this one reads them.

    Parameters the file predates get their old behaviour (:data:`_ADDED_PARAMS`).
    Band networks of the release of 2026-12-03 named their units ``hidden_units``
    and the dense network beside them ``dense_units`` (joined as ``dense_join`` says,
    in commits of 2026-12-04); here the band network's are ``band_units``, their
    join ``band_join``, and ``hidden_units`` are always the dense network's.
    """
    params = dict(params)
    if "dense_join" in params:  # commits of 2026-12-04 before band_join was named so
        params["band_join"] = params.pop("dense_join")
    if "dense_units" in params:  # 2026-12-03: hidden_units were the band network's
        dense = params.pop("dense_units")
        if params.get("band_radius") is not None:
            params["band_units"], params["hidden_units"] = params.get("hidden_units"), dense
    return {**_ADDED_PARAMS, **params}


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
    """:class:`~sklearn_vpnn.nn.MaskNet`'s network arguments of a separator: its units, and its band network's.

    A separator's ``hidden_units`` are its dense network's; MaskNet's model is the
    band network when there is one, the dense network beside it (``dense_units``).
    """
    radius, hidden = getattr(separator, "band_radius", None), separator.hidden_units
    if getattr(separator, "mapping", "window") == "color":  # reads one frame: no band network (as for strides)
        radius = None
    if radius is None:
        if hidden is None:
            raise ValueError("hidden_units=None needs a band network (band_radius, with the window mapping): "
                             "without a dense network it is the only network to train")
        return {"hidden_units": hidden}
    kwargs = {"hidden_units": separator.band_units, "band_radius": radius, "band_bins": separator.band_bins,
              "dense_units": hidden}
    if hidden is not None and separator.band_join != "outputs":  # a model file of 2026-12-03 reads as before
        kwargs["dense_join"] = separator.band_join
    return kwargs
