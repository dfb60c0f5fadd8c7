"""Checks a separator makes of what it is given: the STFT that made a spectrogram, the device."""

import torch

__all__ = []

#: parameters added after models were saved, with the value that trains as those models were trained
_ADDED_PARAMS = {"loss_target": "magnitude", "stereo": False}

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
