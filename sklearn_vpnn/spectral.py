"""Short-time Fourier transform steps for scikit-learn pipelines.

:class:`STFT` turns waveforms into a :class:`Spectrogram`, a complex array that
remembers the transform that made it and each track's length, so that
:class:`InverseSTFT` can restore waveforms of exactly the original lengths, and a
separator can derive its training targets with the very same transform.
"""

from numbers import Integral

import numpy as np
from scipy.signal import get_window
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["STFT", "InverseSTFT", "Spectrogram", "as_waveforms"]


# --------------------------------------------------------------------------- #
# waveform validation
# --------------------------------------------------------------------------- #
def _check_track(track, index, name="X"):
    track = np.asarray(track)
    if track.dtype.kind not in "fiu":
        raise ValueError(
            f"{name}[{index}] must hold real numbers (audio samples); got dtype {track.dtype}"
        )
    if track.ndim == 1:
        track = track[np.newaxis]
    if track.ndim != 2:
        raise ValueError(
            f"{name}[{index}] must be (n_channels, n_samples) or 1-D (mono); "
            f"got shape {track.shape}"
        )
    if track.shape[1] == 0:
        raise ValueError(f"{name}[{index}] is empty (0 samples)")
    track = track.astype(np.float32, copy=False)
    if not np.all(np.isfinite(track)):
        raise ValueError(f"{name}[{index}] contains NaN or infinite samples")
    return track


def as_waveforms(X, name="X"):
    """Validate a batch of waveforms.

    Parameters
    ----------
    X : array-like or list of array-like
        ``(n_tracks, n_channels, n_samples)``, ``(n_tracks, n_samples)`` (mono
        tracks) or a list of ``(n_channels, n_samples)`` / 1-D arrays of
        different lengths.
    name : str, default="X"
        Name used in error messages.

    Returns
    -------
    tracks : list of ndarray
        One float32 ``(n_channels, n_samples)`` array per track.

    Raises
    ------
    ValueError
        If ``X`` is empty, a single 1-D track, has the wrong number of
        dimensions, contains NaN/inf, or mixes channel counts.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_vpnn.spectral import as_waveforms
    >>> [t.shape for t in as_waveforms(np.zeros((2, 1, 100)))]
    [(1, 100), (1, 100)]
    """
    if isinstance(X, Spectrogram):
        raise ValueError(f"{name} is already a Spectrogram; expected waveforms")
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError(f"{name} holds no tracks")
        tracks = [_check_track(t, i, name) for i, t in enumerate(X)]
    else:
        arr = np.asarray(X)
        if arr.dtype == object:
            return as_waveforms(list(arr), name)
        if arr.ndim == 1:
            raise ValueError(
                f"{name} must be a batch of tracks, (n_tracks, n_channels, n_samples) "
                f"or (n_tracks, n_samples); got a 1-D array of shape {arr.shape}. "
                f"Wrap a single track as {name}[np.newaxis]."
            )
        if arr.ndim not in (2, 3):
            raise ValueError(
                f"{name} must be (n_tracks, n_channels, n_samples) or (n_tracks, n_samples); "
                f"got shape {arr.shape}"
            )
        if arr.shape[0] == 0:
            raise ValueError(f"{name} holds no tracks (shape {arr.shape})")
        tracks = [_check_track(t, i, name) for i, t in enumerate(arr)]
    channels = {t.shape[0] for t in tracks}
    if len(channels) > 1:
        raise ValueError(
            f"all tracks in {name} must have the same number of channels; got {sorted(channels)}"
        )
    return tracks


def _stack_if_equal(arrays):
    if len({a.shape for a in arrays}) == 1:
        return np.stack(arrays)
    return arrays


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
        The spectrogram values.
    lengths : array-like of int, shape (n_tracks,)
        Length in samples of each original track.
    params : dict
        The STFT parameters: ``n_fft``, ``hop_length``, ``window``, ``center``.
    sources : tuple of str or None, default=None
        Names of the sources along axis 1 for a separated spectrogram.

    Attributes
    ----------
    data : ndarray
    lengths : ndarray of int
    params : dict
    sources : tuple of str or None

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_vpnn import STFT
    >>> spec = STFT(n_fft=256, hop_length=64).fit_transform(np.zeros((2, 1, 1000)))
    >>> spec.shape, spec.lengths.tolist(), spec.params["n_fft"]
    ((2, 1, 129, 16), [1000, 1000], 256)
    """

    __array_priority__ = 10

    def __init__(self, data, lengths, params, sources=None):
        self.data = data
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.params = dict(params)
        self.sources = None if sources is None else tuple(sources)
        if self.data.shape[0] != len(self.lengths):
            raise ValueError(
                f"data holds {self.data.shape[0]} tracks but lengths has {len(self.lengths)}"
            )

    # array protocol ------------------------------------------------------ #
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    def __len__(self):
        return self.data.shape[0]

    def __array__(self, dtype=None, copy=None):
        if dtype is None:
            return self.data
        return self.data.astype(dtype)

    def __getitem__(self, key):
        """Index tracks: ``spec[1:3]`` or ``spec[[0, 2]]`` give a Spectrogram."""
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
        return np.array([n_frames(n, **self.params) for n in self.lengths])

    @property
    def sample_rate(self):
        """Sample rate (Hz) recorded by the STFT, or None when unknown."""
        return self.params.get("sample_rate")

    def make_stft(self):
        """The :class:`STFT` that made this spectrogram (same parameters)."""
        return STFT(**self.params)

    def analyze_like(self, waveforms):
        """Transform other waveforms of the same tracks with the same STFT.

        Parameters
        ----------
        waveforms : ndarray or list
            ``(n_tracks, n_sources, n_channels, n_samples)`` or a list of
            ``(n_sources, n_channels, n_samples)`` arrays, one per track of this
            spectrogram with the same lengths.

        Returns
        -------
        ndarray of complex64, shape (n_tracks, n_sources, n_channels, n_bins, n_frames)
        """
        if len(waveforms) != len(self):
            raise ValueError(
                f"got waveforms for {len(waveforms)} tracks but the spectrogram holds {len(self)}"
            )
        out = []
        stft = self.make_stft()
        n_ch = self.shape[-3]
        for i, (track, length) in enumerate(zip(waveforms, self.lengths)):
            track = np.asarray(track, dtype=np.float32)
            if track.ndim == 2:  # (n_sources, n_samples): mono sources
                track = track[:, np.newaxis]
            if track.ndim != 3 or track.shape[1:] != (n_ch, length):
                raise ValueError(
                    f"y[{i}] must be (n_sources, {n_ch}, {length}) to match X[{i}]; "
                    f"got shape {track.shape}"
                )
            if not np.all(np.isfinite(track)):
                raise ValueError(f"y[{i}] contains NaN or infinite samples")
            spec = stft._stft_track(track.reshape(-1, length), self.params)
            out.append(spec.reshape(track.shape[0], n_ch, *spec.shape[-2:]))
        n_max = self.shape[-1]
        res = np.zeros((len(self), out[0].shape[0], n_ch, self.shape[-2], n_max), np.complex64)
        for i, o in enumerate(out):
            res[i, ..., : o.shape[-1]] = o
        return res


def n_frames(n_samples, n_fft, hop_length, center=True, **_):
    """Number of STFT frames for a signal of ``n_samples`` samples."""
    if center:
        return 1 + n_samples // hop_length
    return 1 + max(0, n_samples - n_fft) // hop_length


# --------------------------------------------------------------------------- #
# the transformers
# --------------------------------------------------------------------------- #
class _STFTParams(BaseEstimator):
    def _validate_stft_params(self):
        if not isinstance(self.n_fft, Integral) or self.n_fft < 2:
            raise ValueError(f"n_fft must be an integer >= 2; got {self.n_fft!r}")
        hop = self.n_fft // 4 if self.hop_length is None else self.hop_length
        if not isinstance(hop, Integral) or not 1 <= hop <= self.n_fft:
            raise ValueError(
                f"hop_length must be an integer in [1, n_fft={self.n_fft}]; got {self.hop_length!r}"
            )
        try:
            win = get_window(self.window, self.n_fft, fftbins=True).astype(np.float32)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"window {self.window!r} is not a window scipy knows: {exc}") from None
        # the inverse needs the overlapped squared windows to be nonzero everywhere
        env = np.zeros(self.n_fft + hop)
        for start in range(0, self.n_fft, hop):
            env[start : start + self.n_fft] += np.square(win)[: len(env) - start]
        if env[self.n_fft // 2 : self.n_fft // 2 + hop].min() < 1e-8 * max(env.max(), 1e-30):
            raise ValueError(
                f"window {self.window!r} with n_fft={self.n_fft} and hop_length={hop} cannot be "
                "inverted (overlapped windows vanish somewhere); use a smaller hop_length"
            )
        params = {"n_fft": int(self.n_fft), "hop_length": int(hop), "window": self.window,
                  "center": bool(self.center)}
        sample_rate = getattr(self, "sample_rate", None)
        if sample_rate is not None:
            if not isinstance(sample_rate, Integral) or sample_rate <= 0:
                raise ValueError(f"sample_rate must be a positive integer or None; got {sample_rate!r}")
        params["sample_rate"] = None if sample_rate is None else int(sample_rate)
        return params


def _torch():
    import torch

    return torch


class STFT(TransformerMixin, _STFTParams):
    """Short-time Fourier transform of waveforms, as a pipeline step.

    Parameters
    ----------
    n_fft : int, default=1024
        FFT size (and window length); the spectrogram has ``n_fft // 2 + 1`` bins.
    hop_length : int or None, default=None
        Samples between frames; ``None`` means ``n_fft // 4``.
    window : str or tuple, default="hann"
        Any window :func:`scipy.signal.get_window` accepts.
    center : bool, default=True
        Pad the signal by ``n_fft // 2`` zeros on both sides so that frame ``t``
        is centred on sample ``t * hop_length``.
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

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_vpnn import STFT, InverseSTFT
    >>> X = np.random.default_rng(0).standard_normal((2, 2, 4000)).astype("float32")
    >>> spec = STFT(n_fft=512).fit_transform(X)
    >>> spec.shape
    (2, 2, 257, 32)
    >>> np.allclose(InverseSTFT().fit_transform(spec), X, atol=1e-5)
    True
    """

    def __init__(self, n_fft=1024, hop_length=None, window="hann", center=True, sample_rate=None):
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.window = window
        self.center = center
        self.sample_rate = sample_rate

    def fit(self, X, y=None):
        """Validate the parameters and the waveforms.

        Parameters
        ----------
        X : array-like or list
            Waveforms (see class notes).
        y : ignored
            Accepted for pipeline compatibility (sources stay waveforms).

        Returns
        -------
        self : STFT
        """
        self.params_ = self._validate_stft_params()
        tracks = as_waveforms(X)
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
        Spectrogram
            ``(n_tracks, n_channels, n_bins, n_frames)`` complex64.
        """
        params = self._validate_stft_params()
        tracks = as_waveforms(X)
        lengths = np.array([t.shape[1] for t in tracks])
        n_ch = tracks[0].shape[0]
        n_bins = params["n_fft"] // 2 + 1
        n_max = max(n_frames(n, **params) for n in lengths)
        out = np.zeros((len(tracks), n_ch, n_bins, n_max), np.complex64)
        if len(set(lengths.tolist())) == 1:
            out[:] = self._stft_track(np.concatenate(tracks), params).reshape(out.shape)
        else:
            for i, t in enumerate(tracks):
                s = self._stft_track(t, params)
                out[i, :, :, : s.shape[-1]] = s
        return Spectrogram(out, lengths, params)

    def _stft_track(self, signals, params=None):
        """STFT of a ``(n_signals, n_samples)`` float32 array, all at once."""
        torch = _torch()
        params = params or self._validate_stft_params()
        n_fft, hop = params["n_fft"], params["hop_length"]
        window = torch.from_numpy(get_window(params["window"], n_fft, fftbins=True).astype(np.float32))
        x = torch.from_numpy(np.ascontiguousarray(signals, dtype=np.float32))
        if params["center"]:
            x = torch.nn.functional.pad(x, (n_fft // 2, n_fft // 2))
        if x.shape[-1] < n_fft:  # too short for one frame: pad the end with zeros
            x = torch.nn.functional.pad(x, (0, n_fft - x.shape[-1]))
        spec = torch.stft(x, n_fft, hop, window=window, center=False, return_complex=True)
        return spec.numpy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = True
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = []
        return tags


class InverseSTFT(TransformerMixin, _STFTParams):
    """Inverse short-time Fourier transform, as the last pipeline step.

    Turns a :class:`Spectrogram` (mixture or separated sources) back into
    waveforms of exactly the original track lengths, with the parameters of the
    :class:`STFT` that made it. A plain complex array is also accepted; it is
    then inverted with this step's own parameters.

    Parameters
    ----------
    n_fft : int or None, default=None
        FFT size for plain arrays; ``None`` means ``2 * (n_bins - 1)``.
    hop_length : int or None, default=None
        Hop for plain arrays; ``None`` means ``n_fft // 4``.
    window : str or tuple, default="hann"
        Window for plain arrays.
    center : bool, default=True
        Whether the plain arrays were made with centred frames.

    Attributes
    ----------
    n_features_in_ : int
        Not set; this step learns nothing. Listed for clarity.

    See Also
    --------
    STFT : The forward transform.

    Notes
    -----
    Output shape is ``(n_tracks, n_channels, n_samples)`` for a mixture
    spectrogram and ``(n_tracks, n_sources, n_channels, n_samples)`` for a
    separated one; a list of arrays when tracks differ in length.

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

    def fit(self, X=None, y=None):
        """Do nothing but validate; this step learns nothing.

        Parameters
        ----------
        X : Spectrogram or ignored
        y : ignored

        Returns
        -------
        self : InverseSTFT
        """
        if self.n_fft is not None:
            self._validate_stft_params()
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
        if isinstance(X, Spectrogram):
            data, lengths, params = X.data, X.lengths, X.params
        else:
            data = np.asarray(X)
            if data.ndim not in (4, 5) or data.dtype.kind != "c":
                raise ValueError(
                    "InverseSTFT expects a Spectrogram from STFT or a complex array "
                    "(n_tracks, [n_sources,] n_channels, n_bins, n_frames); "
                    f"got {data.dtype} array of shape {data.shape}"
                )
            n_bins, n_fr = data.shape[-2:]
            if self.n_fft is not None and self.n_fft // 2 + 1 != n_bins:
                raise ValueError(f"n_fft={self.n_fft} gives {self.n_fft // 2 + 1} bins, data has {n_bins}")
            self_n_fft = self.n_fft if self.n_fft is not None else 2 * (n_bins - 1)
            params = _STFTParams.__new__(STFT)
            params.n_fft, params.hop_length = self_n_fft, self.hop_length
            params.window, params.center = self.window, self.center
            params = params._validate_stft_params()
            hop = params["hop_length"]
            length = (n_fr - 1) * hop if params["center"] else (n_fr - 1) * hop + params["n_fft"]
            lengths = np.full(data.shape[0], length)
        if not np.all(np.isfinite(data)):
            raise ValueError("the spectrogram contains NaN or infinite values")
        out = [self._istft(d, int(n), params) for d, n in zip(data, lengths)]
        return _stack_if_equal(out)

    @staticmethod
    def _istft(track, length, params):
        """Inverse of one track's ``(..., n_bins, n_frames)`` data."""
        torch = _torch()
        n_fft, hop = params["n_fft"], params["hop_length"]
        lead = track.shape[:-2]
        n_fr = n_frames(length, **params)
        spec = torch.from_numpy(np.ascontiguousarray(track[..., :n_fr]).reshape(-1, track.shape[-2], n_fr))
        window = torch.from_numpy(get_window(params["window"], n_fft, fftbins=True).astype(np.float32))
        pad = n_fft // 2 if params["center"] else 0
        total = max(pad + length + pad, n_fft)
        # overlap-add with window-square normalisation (exact inverse of _stft_track)
        frames = torch.fft.irfft(spec, n=n_fft, dim=-2)  # (n, n_fft, n_frames)
        frames = frames * window[:, None]
        n_sig = frames.shape[0]
        out_len = max(total, (n_fr - 1) * hop + n_fft)
        y = torch.nn.functional.fold(
            frames, output_size=(1, out_len), kernel_size=(1, n_fft), stride=(1, hop)
        ).reshape(n_sig, out_len)
        wsq = (window**2)[None, :, None].expand(1, n_fft, n_fr)
        env = torch.nn.functional.fold(
            wsq, output_size=(1, out_len), kernel_size=(1, n_fft), stride=(1, hop)
        ).reshape(out_len)
        y = y / torch.where(env > 1e-10, env, torch.ones_like(env))
        y = y[:, pad : pad + length]
        return y.numpy().reshape(*lead, length).astype(np.float32, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags
