"""The inverse short-time Fourier transform step: :class:`InverseSTFT`."""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from .._validation import Interval, check_number
from ._checks import _all_finite_complex
from ._deferred import DeferredSpectrogram, WaveformSpectrogram, inverse_deferred
from ._spectrogram import _WINDOW_CONSTRAINT, LazySpectrogram, Spectrogram
from ._stft import _HopRule, _istft_rows, _length_for_frames, _resolve_params, _torch, _window

__all__ = ["InverseSTFT"]


class InverseSTFT(_HopRule, TransformerMixin, BaseEstimator):
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
        Hop for plain arrays; ``None`` means ``n_fft // 4``, as for :class:`STFT`. When set, a
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

    _parameter_constraints = {
        "n_fft": [Interval(Integral, 2, None, closed="left"), None],
        "hop_length": [Interval(Integral, 1, None, closed="left"), None],
        "window": _WINDOW_CONSTRAINT,
        "center": ["boolean"],
    }

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
            # a separator's pending output is inverted chunk by chunk, never held
            data = X if isinstance(X, WaveformSpectrogram) or (isinstance(X, DeferredSpectrogram) and X.pending) \
                else X.data
            lengths = X.lengths
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
            n_fft = 2 * (n_bins - 1) if self.n_fft is None else self.n_fft
            n_fft = check_number(n_fft, "n_fft", integer=True, low=2)
            if n_fft // 2 + 1 != n_bins:
                raise ValueError(
                    f"n_fft={n_fft} gives {n_fft // 2 + 1} frequency bins but the "
                    f"data has {n_bins} (shape {data.shape})"
                )
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
        # our checks first, so that fit and transform (which works unfitted) say the
        # same; then scikit-learn's, against _parameter_constraints
        if self.n_fft is not None:
            _resolve_params(self.n_fft, self.hop_length, self.window, self.center)
        self._validate_params()
        if X is not None and not isinstance(X, LazySpectrogram):  # lazy: checked per track later
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
        if isinstance(X, LazySpectrogram):  # the output holds it all
            X = X.compute()
        data, lengths, params = self._resolve(X)
        if isinstance(data, WaveformSpectrogram):  # the STFT of waveforms it holds: those
            return data.inverse()
        fused = isinstance(data, DeferredSpectrogram)
        if fused and params["n_fft"] % params["hop_length"]:  # fold's path needs the data
            data, fused = data.data, False
        if not fused and not _all_finite_complex(data):
            raise ValueError("the spectrogram contains NaN or infinite values")
        window = _torch().from_numpy(_window(params["window"], params["n_fft"]))
        lead = data.shape[1:-2]
        n_bins, n_fr = data.shape[-2:]
        n_rows = int(np.prod(lead))
        equal = len(set(lengths.tolist())) == 1
        out = np.empty((len(data), *lead, int(lengths[0])), np.float32) if equal else []
        for i, length in enumerate(lengths.tolist()):
            rows = out[i].reshape(-1, length) if equal else np.empty((n_rows, length), np.float32)
            if not fused:
                _istft_rows(data[i].reshape(-1, n_bins, n_fr), length, params, window, out=rows)
            elif not inverse_deferred(data, i, length, window, rows):
                raise ValueError("the spectrogram contains NaN or infinite values")
            if not equal:
                out.append(rows.reshape(*lead, length))
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        # Its input is a complex (n_tracks, [n_sources,] n_channels, n_bins, n_frames)
        # spectrogram: no 2-D real feature matrix is valid input.
        tags.input_tags.two_d_array = False
        tags.transformer_tags.preserves_dtype = []
        return tags
