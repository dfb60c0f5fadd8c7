"""Checks of audio sample arrays, and the validation of waveform batches (:func:`as_waveforms`)."""

import numpy as np
from scipy.sparse import issparse

__all__ = ["as_waveforms"]

_F32_MAX = float(np.finfo(np.float32).max)
#: Waveforms with more channels than this (or than samples) are refused as channels-last.
MAX_CHANNELS = 64


def _check_channel_axis(shape, what, channel_axis):
    """Refuse a channels-last array: more channels than samples (and than 2), or than MAX_CHANNELS.

    ``shape[channel_axis]`` is read as channels and ``shape[-1]`` as samples; a 2-D
    batch of mono tracks (``channel_axis=None``) is refused when its tracks are at
    most ``MAX_CHANNELS`` samples long and outnumber them more than
    ``MAX_CHANNELS`` to one, the shape of ``(n_samples, n_channels)`` audio.
    """
    n_samples = shape[-1]
    if channel_axis is None:
        if n_samples <= MAX_CHANNELS and shape[0] > MAX_CHANNELS * n_samples:
            raise ValueError(
                f"{what} has shape {shape}, read as {shape[0]} mono tracks of {n_samples} "
                "sample(s): that looks like one (n_samples, n_channels) track; arrays are "
                f"channels first, so pass {what}.T[np.newaxis] (a batch of one track)"
            )
        return
    n_channels = shape[channel_axis]
    if n_channels > MAX_CHANNELS or n_channels > max(n_samples, 2):  # short stereo is fine
        why = (f"more than {MAX_CHANNELS} channels" if n_channels > MAX_CHANNELS
               else "more channels than samples")
        fix = f"{what}.T" if len(shape) == 2 else f"np.moveaxis({what}, -1, -2)"
        raise ValueError(
            f"{what} has shape {shape}, read as {n_channels} channels of {n_samples} sample(s), "
            f"{why}: waveforms are channels first (n_channels, n_samples); if yours are channels "
            f"last, pass {fix}"
        )


class _SpectrogramBase:
    """Base class of the spectrogram containers (:class:`~sklearn_vpnn.spectral.Spectrogram`,
    :class:`~sklearn_vpnn.spectral.LazySpectrogram`).

    It lets :func:`as_waveforms` refuse them by type while they, defined in
    ``_spectrogram``, use the checks here: the import runs one way.
    """

    __slots__ = ()


def _check_finite_real(arr, what):
    """Raise if a real array holds NaN/inf or values float32 cannot hold.

    ``min``/``max`` propagate NaN and make no temporary array, unlike
    ``np.isfinite(arr).all()``.
    """
    if arr.dtype.kind != "f" or arr.size == 0:
        return
    lo, hi = arr.min(), arr.max()
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{what} contains NaN or infinite samples")
    if max(-float(lo), float(hi)) > _F32_MAX:
        raise ValueError(f"{what} holds values beyond the float32 range (|x| > {_F32_MAX:.3g})")


def _all_finite_complex(arr):
    """True when a complex array holds no NaN/inf (fast sum first, exact check if needed)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(arr.sum(dtype=np.complex128)):
            return True
    return bool(np.isfinite(arr).all())


def _numeric(arr, what):
    """Object arrays of numbers become float64; other non-real dtypes are refused."""
    if arr.dtype == object:
        arr = arr.astype(np.float64)  # TypeError "float() argument must be a string or a real number"
    if arr.dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported: {what} must hold real audio samples, got dtype "
            f"{arr.dtype} (complex spectrograms go to InverseSTFT, not STFT)"
        )
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{what} must hold real numbers (audio samples); got dtype {arr.dtype}")
    return arr


def _check_track(track, index, name="X"):
    what = f"{name}[{index}]"
    track = _numeric(np.asarray(track), what)
    if track.ndim == 1:
        track = track[np.newaxis]
    if track.ndim != 2:
        raise ValueError(
            f"{what} must be (n_channels, n_samples) or 1-D (mono); got shape {track.shape}"
        )
    if track.shape[0] == 0:
        raise ValueError(f"{what} has no channels (shape {track.shape})")
    if track.shape[1] == 0:
        raise ValueError(f"{what} is empty (0 samples)")
    _check_channel_axis(track.shape, what, 0)
    _check_finite_real(track, what)
    return track


def _check_waveforms(X, name="X"):
    """Validated tracks as 2-D ``(n_channels, n_samples)`` arrays in their own dtype.

    Views of ``X`` where possible: nothing is copied or converted to float32 here.
    """
    if isinstance(X, _SpectrogramBase):
        raise ValueError(f"{name} is already a {type(X).__name__}; expected waveforms")
    if issparse(X):
        raise TypeError(
            f"{name} is a sparse matrix/array: sparse input is not supported; "
            "waveforms must be dense (call X.toarray() if you must)"
        )
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError(f"{name} holds no tracks")
        tracks = [_check_track(t, i, name) for i, t in enumerate(X)]
    else:
        arr = np.asarray(X)
        if arr.dtype == object and arr.ndim == 1:  # ragged tracks in an object array
            return _check_waveforms(list(arr), name)
        arr = _numeric(arr, name)
        if arr.ndim < 2:
            raise ValueError(
                f"{name} must be a batch of tracks, (n_tracks, n_channels, n_samples) "
                f"or (n_tracks, n_samples); got a {arr.ndim}-D array of shape {arr.shape}. "
                f"Reshape your data: wrap a single track as {name}[np.newaxis]."
            )
        if arr.ndim > 3:
            raise ValueError(
                f"{name} must be (n_tracks, n_channels, n_samples) or (n_tracks, n_samples); "
                f"got a {arr.ndim}-D array of shape {arr.shape}"
            )
        if arr.shape[0] == 0:
            raise ValueError(f"{name} holds no tracks (shape {arr.shape})")
        if arr.ndim == 2 and arr.shape[1] == 0:  # scikit-learn's wording for this case
            raise ValueError(
                f"{name} holds empty tracks: 0 feature(s) (shape={arr.shape}) while a minimum "
                "of 1 is required (each mono track needs at least one sample)"
            )
        given = arr.shape
        if arr.ndim == 2:
            arr = arr[:, np.newaxis, :]
        if arr.shape[1] == 0:
            raise ValueError(f"{name} has no channels (shape {arr.shape})")
        if arr.shape[2] == 0:
            raise ValueError(f"{name} holds empty tracks (0 samples, shape {arr.shape})")
        _check_channel_axis(given, name, None if len(given) == 2 else 1)
        try:
            _check_finite_real(arr, name)
        except ValueError:  # name the first bad track
            for i, track in enumerate(arr):
                _check_finite_real(track, f"{name}[{i}]")
            raise
        tracks = list(arr)
    channels = {t.shape[0] for t in tracks}
    if len(channels) > 1:
        raise ValueError(
            f"all tracks in {name} must have the same number of channels; got {sorted(channels)}"
        )
    return tracks


def as_waveforms(X, name="X"):
    """Validate a batch of waveforms.

    Parameters
    ----------
    X : array-like or list of array-like
        ``(n_tracks, n_channels, n_samples)``, ``(n_tracks, n_samples)`` (mono
        tracks) or a list of ``(n_channels, n_samples)`` / 1-D arrays of
        different lengths. Integer samples are taken as they are (not rescaled).
    name : str, default="X"
        Name used in error messages.

    Returns
    -------
    tracks : list of ndarray
        One float32 ``(n_channels, n_samples)`` array per track; views of ``X``
        (no copy) when ``X`` is already float32.

    Raises
    ------
    ValueError
        If ``X`` is empty, a single 1-D track, has the wrong number of
        dimensions, holds complex values, NaN/inf, or mixes channel counts; or
        if it looks channels last: more than ``MAX_CHANNELS`` (64) channels, more
        channels than samples (beyond stereo), or a 2-D array of more than 64
        times as many tracks as samples, at most 64 samples each (the message
        shows the transpose that fixes it).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_vpnn.spectral import as_waveforms
    >>> [t.shape for t in as_waveforms(np.zeros((2, 1, 100)))]
    [(1, 100), (1, 100)]
    """
    return [t.astype(np.float32, copy=False) for t in _check_waveforms(X, name)]
