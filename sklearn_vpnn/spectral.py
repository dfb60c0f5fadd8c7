"""Short-time Fourier transform steps for scikit-learn pipelines.

:class:`STFT` turns waveforms into a :class:`Spectrogram`, a complex array that
remembers the transform that made it and each track's length, so that
:class:`InverseSTFT` can restore waveforms of exactly the original lengths, and a
separator can derive its training targets with the very same transform.

Notes
-----
Frame ``t`` of a track covers the samples ``[t * hop_length - p, t * hop_length - p
+ n_fft)`` with ``p = n_fft // 2`` when ``center=True`` and ``p = 0`` otherwise;
samples outside the track are zeros. This is ``librosa.stft(..., pad_mode="constant")``
and, for ``center=False``, ``scipy.signal.stft(..., boundary=None, padded=True,
scaling="spectrum")`` up to the factor ``sum(window)``. The frame count
(:func:`n_frames`) is librosa's, raised where needed so that every sample lies under
some frame: with ``center=False`` (librosa drops the tail that does not fill a whole
frame; we keep it, zero-padded, like scipy's ``padded=True``) and with
``hop_length > n_fft // 2`` and ``center=True``. The first frames are identical.
"""

import functools
import warnings
from numbers import Integral

import numpy as np
from scipy.signal import check_NOLA, get_window
from scipy.sparse import issparse
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["STFT", "InverseSTFT", "Spectrogram", "LazySpectrogram", "as_waveforms", "n_frames"]

_F32_MAX = float(np.finfo(np.float32).max)
#: Upper bound on the elements of the transient per-frame buffers of one
#: ``torch.stft`` / inverse call (float32: 64 MB); longer batches go in chunks.
_CHUNK_ELEMENTS = 1 << 24


def _torch():
    import torch

    return torch


# --------------------------------------------------------------------------- #
# validation helpers
# --------------------------------------------------------------------------- #
def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


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
    _check_finite_real(track, what)
    return track


def _check_waveforms(X, name="X"):
    """Validated tracks as 2-D ``(n_channels, n_samples)`` arrays in their own dtype.

    Views of ``X`` where possible: nothing is copied or converted to float32 here.
    """
    if isinstance(X, Spectrogram):
        raise ValueError(f"{name} is already a Spectrogram; expected waveforms")
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
        if arr.ndim == 2:
            arr = arr[:, np.newaxis, :]
        if arr.shape[1] == 0:
            raise ValueError(f"{name} has no channels (shape {arr.shape})")
        if arr.shape[2] == 0:
            raise ValueError(f"{name} holds empty tracks (0 samples, shape {arr.shape})")
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
        dimensions, holds complex values, NaN/inf, or mixes channel counts.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_vpnn.spectral import as_waveforms
    >>> [t.shape for t in as_waveforms(np.zeros((2, 1, 100)))]
    [(1, 100), (1, 100)]
    """
    return [t.astype(np.float32, copy=False) for t in _check_waveforms(X, name)]


# --------------------------------------------------------------------------- #
# STFT parameters and frame geometry
# --------------------------------------------------------------------------- #
def _resolve_params(n_fft, hop_length, window="hann", center=True, sample_rate=None):
    """Validated STFT parameters as a plain dict (``hop_length`` resolved)."""
    if not _is_int(n_fft) or n_fft < 2:
        raise ValueError(f"n_fft must be an integer >= 2; got {n_fft!r}")
    n_fft = int(n_fft)
    hop = max(1, n_fft // 2) if hop_length is None else hop_length
    if not _is_int(hop) or hop < 1:
        raise ValueError(f"hop_length must be a positive integer or None; got {hop_length!r}")
    if hop > n_fft:
        raise ValueError(
            f"hop_length={hop} > n_fft={n_fft} would skip the samples between frames, "
            "so the STFT could not be inverted; use hop_length <= n_fft"
        )
    hop = int(hop)
    if not isinstance(center, (bool, np.bool_)):
        raise ValueError(f"center must be True or False; got {center!r}")
    win = _window(window, n_fft)
    if not check_NOLA(win, n_fft, n_fft - hop):
        raise ValueError(
            f"window={window!r} with n_fft={n_fft} and hop_length={hop} cannot be inverted: "
            "the overlapping squared windows add up to zero at some samples (the NOLA "
            "condition fails); use a smaller hop_length or another window"
        )
    if sample_rate is not None and (not _is_int(sample_rate) or sample_rate <= 0):
        raise ValueError(f"sample_rate must be a positive integer or None; got {sample_rate!r}")
    return {
        "n_fft": n_fft,
        "hop_length": hop,
        "window": window,
        "center": bool(center),
        "sample_rate": None if sample_rate is None else int(sample_rate),
    }


def _window(window, n_fft):
    """Periodic (``fftbins=True``) float32 window, as librosa, torch and scipy.signal.stft."""
    try:
        win = get_window(window, n_fft, fftbins=True)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"window {window!r} is not a window scipy knows: {exc}") from None
    win = np.asarray(win, dtype=np.float32)
    if win.shape != (n_fft,) or not np.all(np.isfinite(win)):
        raise ValueError(f"window {window!r} did not give {n_fft} finite values")
    return win


#: Below this fraction of its largest value, the overlap-added squared window leaves a
#: sample unrecoverable: ``n_frames`` adds a frame rather than end a track there, and
#: the inverse STFT warns about any such sample.
_WEAK_ENVELOPE = 1e-4


def n_frames(n_samples, n_fft, hop_length, center=True, window="hann", **_):
    """Number of STFT frames for a signal of ``n_samples`` samples.

    librosa's count (``1 + (n_samples + 2 * (n_fft // 2) - n_fft) // hop_length``
    when centred), raised where needed so that every sample lies under a frame and,
    when centred, so that the last sample does not lie only under the near-zero tail
    of the last frame's window (with 50 % overlap that happens for lengths just short
    of a multiple of the hop; one more frame then covers the end fully).

    Parameters
    ----------
    n_samples : int
        Length of the signal.
    n_fft : int
        Frame length.
    hop_length : int
        Samples between frames.
    center : bool, default=True
        Whether frames are centred (signal padded by ``n_fft // 2`` zeros).
    window : str or tuple, default="hann"
        The analysis window (its tail decides whether the end is covered).
    **_ : dict
        Other STFT parameters, ignored (so ``n_frames(n, **spec.params)`` works).

    Returns
    -------
    int
        The number of frames.

    Examples
    --------
    >>> from sklearn_vpnn.spectral import n_frames
    >>> n_frames(1000, n_fft=256, hop_length=64), n_frames(1000, 256, 64, center=False)
    (16, 13)
    >>> n_frames(1020, n_fft=256, hop_length=128)  # librosa: 8, whose window ends near zero
    9
    """
    n_samples = int(n_samples)
    pad = n_fft // 2 if center else 0
    covering = 1 + -(-max(0, pad + n_samples - n_fft) // hop_length)  # ceil division
    if not center:
        return covering
    count = max(1 + max(0, n_samples + 2 * pad - n_fft) // hop_length, covering)
    w2, strong = _window_power(tuple(window) if isinstance(window, list) else window, n_fft, hop_length)
    last = pad + n_samples - 1  # the last sample, in padded coordinates
    while True:
        first = max(0, -(-(last - n_fft + 1) // hop_length))
        ks = np.arange(first, count)
        if w2[last - ks * hop_length].sum() >= _WEAK_ENVELOPE * strong:
            return count
        count += 1


@functools.lru_cache(maxsize=32)
def _window_power(window, n_fft, hop_length):
    """Squared window and the largest overlap-added squared window (its envelope)."""
    w2 = _window(window, n_fft).astype(np.float64) ** 2
    offsets = np.arange(hop_length)[:, None] + hop_length * np.arange(-(-n_fft // hop_length))[None]
    env = np.where(offsets < n_fft, w2[np.minimum(offsets, n_fft - 1)], 0.0).sum(1)
    return w2, float(env.max())


def _length_for_frames(n_fr, params):
    """Signal length implied by ``n_fr`` frames (librosa's istft default)."""
    n_fft, hop = params["n_fft"], params["hop_length"]
    pad = n_fft // 2 if params["center"] else 0
    return max(1, n_fft + hop * (n_fr - 1) - 2 * pad)


def _stft_rows(tracks, params, n_out=None):
    """STFT of tracks given as ``(n_rows, n_samples_i)`` real arrays (same ``n_rows``).

    Returns a C-contiguous complex64 ``(n_tracks, n_rows, n_bins, n_out)`` array,
    written in place chunk by chunk: each chunk's signal is copied once into a
    zero-padded float32 buffer (that copy also casts), transformed, and its
    frames written to the output; frames past a track's end are zeros.
    """
    torch = _torch()
    n_fft, hop = params["n_fft"], params["hop_length"]
    pad = n_fft // 2 if params["center"] else 0
    lengths = [t.shape[-1] for t in tracks]
    counts = [n_frames(n, **params) for n in lengths]
    n_out = max(counts) if n_out is None else n_out
    n_rows = tracks[0].shape[0]
    out = np.empty((len(tracks), n_rows, n_fft // 2 + 1, n_out), np.complex64)
    window = torch.from_numpy(_window(params["window"], n_fft))
    for i, (x, n, t) in enumerate(zip(tracks, lengths, counts)):
        if t < n_out:
            out[i, ..., t:] = 0
        buf_len = (t - 1) * hop + n_fft
        step = max(1, _CHUNK_ELEMENTS // (t * n_fft))
        for r in range(0, n_rows, step):
            rows = x[r : r + step]
            buf = np.zeros((rows.shape[0], buf_len), np.float32)
            buf[:, pad : pad + n] = rows
            spec = torch.stft(
                torch.from_numpy(buf), n_fft, hop, window=window, center=False, return_complex=True
            )
            out[i, r : r + step, :, :t] = spec.numpy()
    return out


def _istft_rows(spec, length, params, window):
    """Inverse of one track's ``(n_rows, n_bins, n_frames)`` data -> ``(n_rows, length)``.

    Overlap-add of the windowed inverse FFTs divided by the overlap-added squared
    window: the exact inverse of :func:`_stft_rows` wherever that sum is nonzero.
    """
    torch = _torch()
    n_fft, hop = params["n_fft"], params["hop_length"]
    pad = n_fft // 2 if params["center"] else 0
    n_fr = n_frames(length, **params)
    out_len = (n_fr - 1) * hop + n_fft
    fold = torch.nn.functional.fold
    wsq = (window**2)[None, :, None].expand(1, n_fft, n_fr)
    env = fold(wsq, output_size=(1, out_len), kernel_size=(1, n_fft), stride=(1, hop))
    env = env.reshape(out_len)[pad : pad + length]
    env_max = float(env.max())
    weak = env < _WEAK_ENVELOPE * env_max  # float32 round-off is amplified ~1/window there
    if bool(weak.any()):
        warnings.warn(
            f"{int(weak.sum())} sample(s) at the track edges lie only where the window "
            f"{params['window']!r} is (nearly) zero, so the STFT kept (almost) no trace of "
            "them; they come back inaccurate (zeros where the window is exactly zero). "
            "With center=False use a window that is nonzero at its ends (e.g. 'hamming'), "
            "or use center=True.",
            UserWarning,
            stacklevel=2,
        )
        env = torch.where(env <= 1e-10 * env_max, torch.ones_like(env), env)
    result = np.empty((spec.shape[0], length), np.float32)
    step = max(1, _CHUNK_ELEMENTS // (n_fr * n_fft))
    for r in range(0, spec.shape[0], step):
        chunk = spec[r : r + step, :, :n_fr]
        if not chunk.flags.writeable:  # torch.from_numpy warns on read-only memory
            chunk = chunk.copy()
        frames = torch.fft.irfft(torch.from_numpy(chunk), n=n_fft, dim=-2)  # (rows, n_fft, n_fr)
        frames.mul_(window[:, None])
        y = fold(frames, output_size=(1, out_len), kernel_size=(1, n_fft), stride=(1, hop))
        y = y.reshape(-1, out_len)[:, pad : pad + length]
        result[r : r + step] = (y / env).numpy()
    return result


# --------------------------------------------------------------------------- #
# the spectrogram container
# --------------------------------------------------------------------------- #
class Spectrogram:
    """Complex spectrograms of a batch of tracks, with the STFT that made them.

    Behaves like a read-only array of shape ``(n_tracks, n_channels, n_bins,
    n_frames)`` (mixtures) or ``(n_tracks, n_sources, n_channels, n_bins,
    n_frames)`` (separated sources). Tracks of different lengths are zero-padded
    to the longest one; :attr:`n_frames_per_track` says how many frames of each
    track are real.

    Parameters
    ----------
    data : ndarray of complex64
        The spectrogram values, 4-D or 5-D, with ``n_fft // 2 + 1`` bins and at
        least :attr:`n_frames_per_track` frames for every track.
    lengths : array-like of int, shape (n_tracks,)
        Length in samples of each original track.
    params : dict
        The STFT parameters: ``n_fft``, ``hop_length``, ``window``, ``center``
        and optionally ``sample_rate``. They are validated like :class:`STFT`'s.
    sources : tuple of str or None, default=None
        Names of the sources along axis 1 for a separated spectrogram.

    Attributes
    ----------
    data : ndarray
        The values (not copied).
    lengths : ndarray of int64
        Length in samples of each original track.
    params : dict
        The validated STFT parameters.
    sources : tuple of str or None
        Source names of a separated spectrogram.

    Raises
    ------
    ValueError
        If ``data``, ``lengths``, ``params`` and ``sources`` do not agree.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_vpnn import STFT
    >>> spec = STFT(n_fft=256, hop_length=64).fit_transform(np.zeros((2, 1, 1000)))
    >>> spec.shape, spec.lengths.tolist(), spec.params["n_fft"]
    ((2, 1, 129, 16), [1000, 1000], 256)
    >>> spec[[1]].shape
    (1, 1, 129, 16)
    """

    __array_priority__ = 10

    def __init__(self, data, lengths, params, sources=None):
        self.data = np.asarray(data)
        self.lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
        missing = {"n_fft", "hop_length"} - set(params)
        if missing:
            raise ValueError(f"params lacks {sorted(missing)}; got keys {sorted(params)}")
        self.params = _resolve_params(
            params["n_fft"],
            params["hop_length"],
            params.get("window", "hann"),
            params.get("center", True),
            params.get("sample_rate"),
        )
        self.sources = None if sources is None else tuple(sources)
        if self.data.ndim not in (4, 5):
            raise ValueError(
                "data must be (n_tracks, [n_sources,] n_channels, n_bins, n_frames); "
                f"got shape {self.data.shape}"
            )
        if self.data.shape[0] != len(self.lengths):
            raise ValueError(
                f"data holds {self.data.shape[0]} tracks but lengths has {len(self.lengths)}"
            )
        if len(self.lengths) and self.lengths.min() < 1:
            raise ValueError(f"track lengths must be >= 1; got {self.lengths.tolist()}")
        n_bins = self.params["n_fft"] // 2 + 1
        if self.data.shape[-2] != n_bins:
            raise ValueError(
                f"n_fft={self.params['n_fft']} gives {n_bins} frequency bins but data has "
                f"{self.data.shape[-2]} (shape {self.data.shape})"
            )
        if len(self.lengths):
            needed = n_frames(self.lengths.max(), **self.params)
            if self.data.shape[-1] < needed:
                raise ValueError(
                    f"a track of {self.lengths.max()} samples needs {needed} frames; "
                    f"data has {self.data.shape[-1]}"
                )
        if self.sources is not None and (
            self.data.ndim != 5 or len(self.sources) != self.data.shape[1]
        ):
            raise ValueError(
                f"sources {self.sources} must name axis 1 of a 5-D separated spectrogram; "
                f"data has shape {self.data.shape}"
            )

    # array protocol ------------------------------------------------------ #
    @property
    def shape(self):
        """Shape of :attr:`data`."""
        return self.data.shape

    @property
    def ndim(self):
        """Number of dimensions of :attr:`data` (4, or 5 when separated)."""
        return self.data.ndim

    @property
    def dtype(self):
        """Dtype of :attr:`data`."""
        return self.data.dtype

    def __len__(self):
        return self.data.shape[0]

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        if dtype is None or np.dtype(dtype) == self.data.dtype:
            return self.data
        if copy is False:
            raise ValueError(f"cannot convert {self.data.dtype} to {dtype} without a copy")
        return self.data.astype(dtype)

    def __getitem__(self, key):
        """Index tracks: ``spec[1:3]`` or ``spec[[0, 2]]`` give a Spectrogram.

        An integer gives a one-track Spectrogram; a tuple key indexes the raw
        :attr:`data` and gives an ndarray.
        """
        if isinstance(key, tuple):
            return self.data[key]
        idx = np.arange(len(self))[key]
        if np.ndim(idx) == 0:
            idx = np.array([idx])
        return Spectrogram(self.data[idx], self.lengths[idx], self.params, self.sources)

    def __repr__(self):
        kind = "separated " if self.is_separated else ""
        return (
            f"<{kind}Spectrogram shape={self.shape} n_fft={self.params['n_fft']} "
            f"hop_length={self.params['hop_length']}>"
        )

    # derived facts ------------------------------------------------------- #
    @property
    def is_separated(self):
        """True for ``(n_tracks, n_sources, n_channels, n_bins, n_frames)`` data."""
        return self.data.ndim == 5

    @property
    def n_frames_per_track(self):
        """Number of real (not padding) frames of each track."""
        return np.array([n_frames(n, **self.params) for n in self.lengths], dtype=np.int64)

    @property
    def sample_rate(self):
        """Sample rate (Hz) recorded by the STFT, or None when unknown."""
        return self.params.get("sample_rate")

    def make_stft(self):
        """The :class:`STFT` that made this spectrogram (same parameters).

        Returns
        -------
        STFT
            An unfitted transformer with this spectrogram's parameters.
        """
        return STFT(**self.params)

    def analyze_like(self, waveforms):
        """Transform other waveforms of the same tracks with the same STFT.

        Used to turn source waveforms ``y`` into training targets aligned with
        this (mixture) spectrogram.

        Parameters
        ----------
        waveforms : ndarray or list
            ``(n_tracks, n_sources, n_channels, n_samples)`` or a list of
            ``(n_sources, n_channels, n_samples)`` arrays (``(n_sources,
            n_samples)`` when mono), one per track of this spectrogram with the
            same lengths.

        Returns
        -------
        ndarray of complex64, shape (n_tracks, n_sources, n_channels, n_bins, n_frames)
            Same frames as this spectrogram (padding frames are zeros).

        Raises
        ------
        ValueError
            If the number of tracks, sources, channels or samples does not match,
            or the waveforms hold NaN/inf.
        """
        if isinstance(waveforms, np.ndarray) and waveforms.dtype != object:
            items = list(waveforms) if waveforms.ndim >= 1 else [waveforms]
        else:
            items = list(waveforms)
        if len(items) != len(self):
            raise ValueError(
                f"got waveforms for {len(items)} tracks but the spectrogram holds {len(self)}"
            )
        n_ch = self.shape[-3]
        rows, n_src = [], None
        for i, (track, length) in enumerate(zip(items, self.lengths)):
            track = _numeric(np.asarray(track), f"y[{i}]")
            if track.ndim == 2 and n_ch == 1:  # (n_sources, n_samples): mono sources
                track = track[:, np.newaxis]
            if track.ndim != 3 or track.shape[1:] != (n_ch, length):
                raise ValueError(
                    f"y[{i}] must be (n_sources, {n_ch}, {length}) to match X[{i}]; "
                    f"got shape {track.shape}"
                )
            if n_src is None:
                n_src = track.shape[0]
            elif track.shape[0] != n_src:
                raise ValueError(f"y[{i}] has {track.shape[0]} sources, y[0] has {n_src}")
            _check_finite_real(track, f"y[{i}]")
            rows.append(track.reshape(n_src * n_ch, length))
        out = _stft_rows(rows, self.params, n_out=self.shape[-1])
        return out.reshape(len(self), n_src, n_ch, *out.shape[-2:])


class LazySpectrogram:
    """Spectrograms of :class:`LazyTracks`, computed one track at a time.

    What :class:`~sklearn_vpnn.STFT` returns for lazy tracks. ``spec[i]`` is
    the :class:`~sklearn_vpnn.Spectrogram` of track ``i`` (computed now), a
    slice or list of indices gives a new LazySpectrogram, :meth:`compute` the
    whole :class:`~sklearn_vpnn.Spectrogram`.

    Parameters
    ----------
    tracks : LazyTracks
        Mixture waveforms.
    params : dict
        Validated STFT parameters.
    separate : callable or None, default=None
        A fitted separator's ``transform``, applied to each track's spectrogram:
        what the separator's ``transform`` returns for a LazySpectrogram (so
        that a pipeline fitted on lazy data never holds every track).

    Attributes
    ----------
    tracks : LazyTracks
        The mixture waveforms.
    params : dict
        The STFT parameters.
    """

    is_lazy = True

    def __init__(self, tracks, params, separate=None):
        self.tracks = tracks
        self.params = dict(params)
        self.separate = separate

    @property
    def is_separated(self):
        """True when a separator's ``transform`` is applied to each track."""
        return self.separate is not None

    def __len__(self):
        return len(self.tracks)

    def __getitem__(self, key):
        if isinstance(key, (Integral, np.integer)) and not isinstance(key, bool):
            spec = STFT(**self.params).transform([self.tracks[int(key)]])
            return spec if self.separate is None else self.separate(spec)
        return LazySpectrogram(self.tracks[key], self.params, self.separate)

    @property
    def sample_rate(self):
        """Sample rate (Hz) recorded by the STFT, or None when unknown."""
        return self.params.get("sample_rate")

    @property
    def lengths(self):
        """Length in samples of each track (decodes every track)."""
        return np.array([np.shape(t)[-1] for t in self.tracks], dtype=np.int64)

    @property
    def n_frames_per_track(self):
        """Number of frames of each track (decodes every track)."""
        return np.array([n_frames(n, **self.params) for n in self.lengths], dtype=np.int64)

    def compute(self):
        """The whole :class:`~sklearn_vpnn.Spectrogram` (decodes and holds every track)."""
        spec = STFT(**self.params).transform(list(self.tracks))
        return spec if self.separate is None else self.separate(spec)

    def __repr__(self):
        return (f"<LazySpectrogram: {len(self)} tracks, n_fft={self.params['n_fft']} "
                f"hop_length={self.params['hop_length']}, computed on demand>")


# --------------------------------------------------------------------------- #
# the transformers
# --------------------------------------------------------------------------- #
class STFT(TransformerMixin, BaseEstimator):
    """Short-time Fourier transform of waveforms, as a pipeline step.

    Parameters
    ----------
    n_fft : int, default=1024
        FFT size (and window length); the spectrogram has ``n_fft // 2 + 1`` bins.
    hop_length : int or None, default=None
        Samples between frames, at most ``n_fft``; ``None`` means ``n_fft // 2``
        (50% overlap: 512 samples, 11.6 ms at 44.1 kHz, for the default ``n_fft``).
    window : str or tuple, default="hann"
        Any window :func:`scipy.signal.get_window` accepts (periodic form). The
        window and hop must be invertible (scipy's NOLA condition).
    center : bool, default=True
        Pad the signal by ``n_fft // 2`` zeros on both sides so that frame ``t``
        is centred on sample ``t * hop_length``. With ``center=False`` the first
        samples lie under the window's first values only, so a window that
        vanishes there (such as ``"hann"``) cannot give them back.
    sample_rate : int or None, default=None
        Sample rate (Hz) of the waveforms this step expects. It does not change
        the arithmetic; it makes a saved pipeline self-describing (the
        command line resamples input files to it, figures label frequencies
        with it). ``None`` means unknown.

    Attributes
    ----------
    params_ : dict
        The validated STFT parameters (``hop_length`` resolved).
    n_channels_ : int
        Channels of the waveforms seen in :meth:`fit`.

    See Also
    --------
    InverseSTFT : Back from spectrograms to waveforms.

    Notes
    -----
    Input ``X`` is ``(n_tracks, n_channels, n_samples)``, ``(n_tracks,
    n_samples)`` (mono tracks) or a list of ``(n_channels, n_samples)`` arrays of
    different lengths. The output is a :class:`Spectrogram` of shape
    ``(n_tracks, n_channels, n_bins, n_frames)``.

    The step learns nothing: :meth:`transform` works without :meth:`fit`.
    Values agree with ``librosa.stft(x, n_fft=n_fft, hop_length=hop_length,
    window=window, center=center, pad_mode="constant")`` on librosa's frames;
    see the module notes for the frame count.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_vpnn import STFT, InverseSTFT
    >>> X = np.random.default_rng(0).standard_normal((2, 2, 4000)).astype("float32")
    >>> spec = STFT(n_fft=512).fit_transform(X)
    >>> spec.shape
    (2, 2, 257, 16)
    >>> np.allclose(InverseSTFT().fit_transform(spec), X, atol=1e-5)
    True
    """

    def __init__(self, n_fft=1024, hop_length=None, window="hann", center=True, sample_rate=None):
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.window = window
        self.center = center
        self.sample_rate = sample_rate

    def _params(self):
        return _resolve_params(
            self.n_fft, self.hop_length, self.window, self.center, self.sample_rate
        )

    def fit(self, X, y=None):
        """Validate the parameters and the waveforms.

        Parameters
        ----------
        X : array-like or list
            Waveforms (see class notes).
        y : None
            Ignored; accepted for pipeline compatibility (sources stay waveforms).

        Returns
        -------
        self : STFT
            This step.
        """
        params = self._params()
        lazy = getattr(X, "is_lazy", False)  # datasets.LazyTracks: check the first track only
        tracks = _check_waveforms([X[0]] if lazy else X)
        self.params_ = params
        self.n_channels_ = tracks[0].shape[0]
        return self

    def transform(self, X):
        """Compute the complex spectrograms.

        Parameters
        ----------
        X : array-like or list
            Waveforms (see class notes).

        Returns
        -------
        Spectrogram or LazySpectrogram
            ``(n_tracks, n_channels, n_bins, n_frames)`` complex64; a
            :class:`LazySpectrogram` for lazily loaded
            tracks (``load_musdb(..., lazy=True)``), nothing computed yet.
        """
        params = self._params()
        if getattr(X, "is_lazy", False):  # datasets.LazyTracks: computed track by track
            return LazySpectrogram(X, params)
        tracks = _check_waveforms(X)
        lengths = np.array([t.shape[1] for t in tracks], dtype=np.int64)
        return Spectrogram(_stft_rows(tracks, params), lengths, params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = True  # (n_tracks, n_samples): mono tracks
        tags.input_tags.three_d_array = True  # (n_tracks, n_channels, n_samples)
        tags.transformer_tags.preserves_dtype = []  # real in, complex64 out
        return tags


class InverseSTFT(TransformerMixin, BaseEstimator):
    """Inverse short-time Fourier transform, as the last pipeline step.

    Turns a :class:`Spectrogram` (mixture or separated sources) back into
    waveforms of exactly the original track lengths, with the parameters of the
    :class:`STFT` that made it. A plain complex array is also accepted; it is
    then inverted with this step's own parameters.

    Parameters
    ----------
    n_fft : int or None, default=None
        FFT size for plain arrays; ``None`` means ``2 * (n_bins - 1)``. When set,
        a :class:`Spectrogram` made with another ``n_fft`` is refused.
    hop_length : int or None, default=None
        Hop for plain arrays; ``None`` means ``n_fft // 2``. When set, a
        :class:`Spectrogram` made with another hop is refused.
    window : str or tuple, default="hann"
        Window for plain arrays.
    center : bool, default=True
        Whether the plain arrays were made with centred frames.

    See Also
    --------
    STFT : The forward transform.

    Notes
    -----
    Output shape is ``(n_tracks, n_channels, n_samples)`` for a mixture
    spectrogram and ``(n_tracks, n_sources, n_channels, n_samples)`` for a
    separated one; a list of arrays when tracks differ in length. A plain array
    of ``n_frames`` frames gives ``n_fft + hop_length * (n_frames - 1)`` samples,
    less ``2 * (n_fft // 2)`` when centred (librosa's default length).

    The step learns nothing: :meth:`transform` works without :meth:`fit`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_vpnn import STFT, InverseSTFT
    >>> X = [np.ones((1, 3000), "float32"), np.ones((1, 2000), "float32")]
    >>> back = InverseSTFT().fit_transform(STFT(n_fft=256).fit_transform(X))
    >>> [b.shape for b in back]
    [(1, 3000), (1, 2000)]
    """

    def __init__(self, n_fft=None, hop_length=None, window="hann", center=True):
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.window = window
        self.center = center

    def _resolve(self, X):
        """``(data, lengths, params)`` of a Spectrogram or a plain complex array."""
        if isinstance(X, Spectrogram):
            params = X.params
            for name in ("n_fft", "hop_length"):
                own = getattr(self, name)
                if own is not None and own != params[name]:
                    raise ValueError(
                        f"InverseSTFT({name}={own}) cannot invert a Spectrogram made with "
                        f"{name}={params[name]}; leave {name}=None to use the Spectrogram's"
                    )
            data, lengths = X.data, X.lengths
        else:
            data = np.asarray(X)
            if data.ndim not in (4, 5) or data.dtype.kind != "c":
                raise ValueError(
                    "InverseSTFT expects a Spectrogram from STFT or a complex array "
                    "(n_tracks, [n_sources,] n_channels, n_bins, n_frames); "
                    f"got a {data.dtype} array of shape {data.shape}"
                )
            n_bins, n_fr = data.shape[-2:]
            if n_bins < 2 or n_fr < 1 or data.shape[0] == 0:
                raise ValueError(f"the spectrogram is empty or has < 2 bins: shape {data.shape}")
            if self.n_fft is not None and _is_int(self.n_fft) and self.n_fft // 2 + 1 != n_bins:
                raise ValueError(
                    f"n_fft={self.n_fft} gives {self.n_fft // 2 + 1} frequency bins but the "
                    f"data has {n_bins} (shape {data.shape})"
                )
            n_fft = 2 * (n_bins - 1) if self.n_fft is None else self.n_fft
            params = _resolve_params(n_fft, self.hop_length, self.window, self.center)
            lengths = np.full(data.shape[0], _length_for_frames(n_fr, params), dtype=np.int64)
        if data.dtype.kind != "c":
            raise ValueError(f"the spectrogram must be complex; got dtype {data.dtype}")
        return data, lengths, params

    def fit(self, X=None, y=None):
        """Validate the parameters (and ``X`` when given); this step learns nothing.

        Parameters
        ----------
        X : Spectrogram, ndarray of complex or None, default=None
            Spectrograms (see :meth:`transform`); only their type and shape are checked.
        y : None
            Ignored; accepted for pipeline compatibility.

        Returns
        -------
        self : InverseSTFT
            This step.
        """
        if self.n_fft is not None:
            _resolve_params(self.n_fft, self.hop_length, self.window, self.center)
        if X is not None and not getattr(X, "is_lazy", False):  # lazy: checked per track later
            self._resolve(X)
        return self

    def transform(self, X):
        """Invert the spectrograms.

        Parameters
        ----------
        X : Spectrogram or ndarray of complex
            ``(n_tracks, [n_sources,] n_channels, n_bins, n_frames)``.

        Returns
        -------
        ndarray or list of ndarray
            Float32 waveforms (see class notes).
        """
        if getattr(X, "is_lazy", False):  # LazySpectrogram: the output holds it all
            X = X.compute()
        data, lengths, params = self._resolve(X)
        if not _all_finite_complex(data):
            raise ValueError("the spectrogram contains NaN or infinite values")
        window = _torch().from_numpy(_window(params["window"], params["n_fft"]))
        lead = data.shape[1:-2]
        n_bins, n_fr = data.shape[-2:]
        equal = len(set(lengths.tolist())) == 1
        out = np.empty((len(data), *lead, int(lengths[0])), np.float32) if equal else []
        for i, (track, length) in enumerate(zip(data, lengths)):
            y = _istft_rows(track.reshape(-1, n_bins, n_fr), int(length), params, window)
            if equal:
                out[i] = y.reshape(*lead, int(length))
            else:
                out.append(y.reshape(*lead, int(length)))
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        # Its input is a complex (n_tracks, [n_sources,] n_channels, n_bins, n_frames)
        # spectrogram: no 2-D real feature matrix is valid input.
        tags.input_tags.two_d_array = False
        tags.transformer_tags.preserves_dtype = []
        return tags
