"""The spectrogram: :class:`Spectrogram`, :class:`LazySpectrogram` and :class:`STFT`, which makes them.

One module because they refer to each other: :meth:`Spectrogram.make_stft` returns
an :class:`STFT`, whose :meth:`~STFT.transform` returns a :class:`Spectrogram` (or,
for :class:`~sklearn_vpnn.datasets.LazyTracks`, a :class:`LazySpectrogram` that
computes one with it track by track). :class:`~sklearn_vpnn.InverseSTFT` is in
``_inverse``.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from .._validation import Interval
from ..datasets._lazy import LazyTracks
from ._checks import _SpectrogramBase, _check_finite_real, _check_waveforms, _numeric
from ._stft import _HopRule, _resolve_params, _stft_rows, n_frames

__all__ = ["Spectrogram", "LazySpectrogram", "STFT"]

#: what ``window`` may be (``get_window``'s str, tuple or Kaiser beta; never a boolean)
_WINDOW_CONSTRAINT = [str, tuple, Interval(Real, None, None, closed="neither")]


class Spectrogram(_SpectrogramBase):
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
        self._set_metadata(lengths, params, sources)

    def _set_metadata(self, lengths, params, sources):
        """Set and check ``lengths``, ``params`` and ``sources`` against :attr:`shape`."""
        shape = self.shape
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
        if len(shape) not in (4, 5):
            raise ValueError(
                "data must be (n_tracks, [n_sources,] n_channels, n_bins, n_frames); "
                f"got shape {shape}"
            )
        if shape[0] != len(self.lengths):
            raise ValueError(
                f"data holds {shape[0]} tracks but lengths has {len(self.lengths)}"
            )
        if len(self.lengths) and self.lengths.min() < 1:
            raise ValueError(f"track lengths must be >= 1; got {self.lengths.tolist()}")
        n_bins = self.params["n_fft"] // 2 + 1
        if shape[-2] != n_bins:
            raise ValueError(
                f"n_fft={self.params['n_fft']} gives {n_bins} frequency bins but data has "
                f"{shape[-2]} (shape {shape})"
            )
        if len(self.lengths):
            needed = n_frames(self.lengths.max(), **self.params)
            if shape[-1] < needed:
                raise ValueError(
                    f"a track of {self.lengths.max()} samples needs {needed} frames; "
                    f"data has {shape[-1]}"
                )
        if self.sources is not None and (len(shape) != 5 or len(self.sources) != shape[1]):
            raise ValueError(
                f"sources {self.sources} must name axis 1 of a 5-D separated spectrogram; "
                f"data has shape {shape}"
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
        return self.shape[0]

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
        return self.ndim == 5

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


class LazySpectrogram(_SpectrogramBase):
    """Spectrograms of :class:`~sklearn_vpnn.datasets.LazyTracks`, computed one track at a time.

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
        """Decode and transform every track.

        Returns
        -------
        Spectrogram
            The whole spectrogram (separated, when this one separates), in memory.
        """
        spec = STFT(**self.params).transform(list(self.tracks))
        return spec if self.separate is None else self.separate(spec)

    def __repr__(self):
        return (f"<LazySpectrogram: {len(self)} tracks, n_fft={self.params['n_fft']} "
                f"hop_length={self.params['hop_length']}, computed on demand>")


class STFT(_HopRule, TransformerMixin, BaseEstimator):
    """Short-time Fourier transform of waveforms, as a pipeline step.

    Parameters
    ----------
    n_fft : int, default=4096
        FFT size (and window length); the spectrogram has ``n_fft // 2 + 1`` bins.
        The default (93 ms at 44.1 kHz) is Open-Unmix's and Spleeter's; on MUSDB18
        it separated drums 0.5-0.7 dB better than ``n_fft=1024`` (see the results page).
    hop_length : int or None, default=None
        Samples between frames, at most ``n_fft``; ``None`` means ``n_fft // 4``
        (75% overlap: 1024 samples, 23.2 ms at 44.1 kHz, for the default ``n_fft``;
        librosa's and ``torch.stft``'s rule). Until sklearn-vpnn 0.2 it meant
        ``n_fft // 2``; model files and pickles of 0.1 are read with that hop.
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

    _parameter_constraints = {
        "n_fft": [Interval(Integral, 2, None, closed="left")],
        "hop_length": [Interval(Integral, 1, None, closed="left"), None],
        "window": _WINDOW_CONSTRAINT,
        "center": ["boolean"],
        "sample_rate": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, n_fft=4096, hop_length=None, window="hann", center=True, sample_rate=None):
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
        # our checks first, so that fit and transform (which works unfitted) say the
        # same; then scikit-learn's, against _parameter_constraints
        params = self._params()
        self._validate_params()
        lazy = isinstance(X, LazyTracks)  # check the first track only
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
        if isinstance(X, LazyTracks):  # computed track by track
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
