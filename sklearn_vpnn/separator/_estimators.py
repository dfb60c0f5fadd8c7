"""The separators as scikit-learn estimators: :class:`VPNNSeparator`, :class:`DNNSeparator`.

``fit`` is a short story: validate, split the tracks, build the frame datasets
(:mod:`._frames`), estimate the normalisation statistics, put the callbacks
together (:mod:`._callbacks`) and train the skorch net (:mod:`._net`), seeded in a
private random stream. ``transform`` masks the mixture with the trained model.
"""

import shutil
import tempfile
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from .._validation import Interval, check_choice, check_number
from ..nn import ACTIVATIONS, check_strides
from ..spectral import LazySpectrogram, Spectrogram
from ..spectral._deferred import DeferredSpectrogram
from ._callbacks import make_callbacks
from ._checks import _band_kwargs, _check_spectrogram, _resolve_device, _stft_mismatch, _upgrade_params
from ._docs import _BAND_PARAMS_DOC, _COMMON_ATTRS_DOC, _VPNN_DEFAULT_NOTE, _VPNN_HIDDEN_NOTE, params_doc
from ._frames import _LOG_EPS, _close_datasets, _disk_datasets, _memory_datasets, normalisation_statistics
from ._inference import MaskedMixture, apply_masks, wiener
from ._net import lighten, make_net, restore_net, seeded
from ._shifts import shift_average

__all__ = ["VPNNSeparator", "DNNSeparator"]

_CACHES = ("auto", "memory", "disk")
_STATISTICS = ("mean", "scale", "lo", "hi")  # MaskNet arguments learned from the data, not set


class _BaseSeparator(TransformerMixin, BaseEstimator):
    _kind = None

    def __setstate__(self, state):  # pickles from before a parameter existed: its old behaviour
        super().__setstate__(_upgrade_params(state))

    _parameter_constraints = {
        "hidden_units": [Interval(Integral, 1, None, closed="left")],
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "gamma": [Interval(Real, 0, 1, closed="left")],
        "frame_weighting": [StrOptions({"mixture"}), None],
        "loss_target": [StrOptions({"magnitude", "phase_sensitive"})],
        "stereo": ["boolean"],
        "sources": ["array-like"],  # not a str; _check_sources checks the names
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "remix": [Interval(Real, 0, 1, closed="both")],
        "gain_db": [Interval(Real, 0, None, closed="left")],
        "eq_db": [Interval(Real, 0, None, closed="left")],
        "pitch_shift": [Interval(Real, 0, 12, closed="both")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "average": [Interval(Real, 0, 1, closed="left"), None],
        "max_time": [Interval(Real, 0, None, closed="neither"), None],
        "wiener_iterations": [Interval(Integral, 0, None, closed="left")],
        "shifts": [Interval(Integral, 1, None, closed="left")],
        "context_strides": ["array-like"],  # checked by nn.check_strides in _hyperparameters
        "device": "no_validation",  # resolved (and checked) by _resolve_device
        "cache": "no_validation",  # resolved (and checked) by _resolve_cache
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # ------------------------------------------------------------ validation
    def _check_sources(self):
        """The source names as a tuple of str: at least two, all distinct."""
        sources = self.sources
        if isinstance(sources, str) or len(sources) < 2 or len(set(sources)) != len(sources):
            raise ValueError(f"sources must be a sequence of at least two distinct names; got {sources!r}")
        return tuple(str(s) for s in sources)

    def _resolve_cache(self, X):
        check_choice(self.cache, "cache", _CACHES)
        if self.cache == "auto":
            return "disk" if isinstance(X, LazySpectrogram) else "memory"
        return self.cache

    _check_spectrogram = staticmethod(_check_spectrogram)

    @staticmethod
    def _check_targets(X, y, sources):
        if y is None:
            raise ValueError("the separator's fit needs the source waveforms y (n_tracks, n_sources, "
                             "n_channels, n_samples); got y=None (through a pipeline: pipe.fit(X, y))")
        if len(y) != len(X):
            raise ValueError(f"X holds {len(X)} tracks but y holds {len(y)}")
        n_src = np.asarray(y[0]).shape[0]
        if n_src != len(sources):
            raise ValueError(f"y has {n_src} sources per track but sources={sources!r} names {len(sources)}")

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None):
        """Train the separator.

        Parameters
        ----------
        X : Spectrogram or LazySpectrogram
            Mixture spectrograms ``(n_tracks, n_channels, n_bins, n_frames)``
            from :class:`~sklearn_vpnn.STFT` (a
            :class:`~sklearn_vpnn.spectral.LazySpectrogram` for lazily loaded
            tracks).
        y : ndarray, list of ndarray or LazyTracks
            Source waveforms ``(n_tracks, n_sources, n_channels, n_samples)``
            (or a list of ``(n_sources, n_channels, n_samples)`` arrays), in the
            order of ``sources``. Required: the default None (what a pipeline
            passes when ``y`` is left out) is refused with a ValueError.

        Returns
        -------
        self : object
            The fitted separator.
        """
        self._validate_params()
        sources = self._check_sources()
        X = self._check_spectrogram(X, "fit")
        self._check_targets(X, y, sources)
        device = _resolve_device(self.device)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        cache = self._resolve_cache(X)
        if cache == "memory" and isinstance(X, LazySpectrogram):
            X, y = X.compute(), list(y)
        train_tracks, valid_tracks = self._split_tracks(len(X), rng)
        tmpdir = tempfile.mkdtemp(prefix="sklearn-vpnn-fit-")  # checkpoints (and frame cache)
        train_ds = valid_ds = None
        try:
            train_ds, valid_ds, n_channels, n_bins = self._build_datasets(
                X, y, train_tracks, valid_tracks, len(sources), cache, seed, tmpdir)
            module_kwargs = {**self._hyperparameters(n_bins, len(sources)),
                             **normalisation_statistics(train_ds)}
            net = self._make_net(module_kwargs, seed, valid_ds, tmpdir, device)
            with seeded(seed, device):  # reproducible, and the caller's torch stream is untouched
                # at train end, even when the time budget or Ctrl-C stopped training,
                # WeightAveraging loads the average (or Checkpoint the best epoch)
                net.fit(train_ds, y=None)
        finally:
            _close_datasets(train_ds, valid_ds)
            shutil.rmtree(tmpdir, ignore_errors=True)
        return self._record_fit(lighten(net), sources, n_channels, n_bins, X.params)

    def _split_tracks(self, n_tracks, rng):
        """Sorted ``(train_tracks, valid_tracks)``: whole tracks, never frames of one on both sides."""
        order = rng.permutation(n_tracks)
        n_valid = 0
        if self.validation_fraction > 0 and n_tracks >= 2:
            n_valid = min(max(int(round(self.validation_fraction * n_tracks)), 1), n_tracks - 1)
        return np.sort(order[n_valid:]), np.sort(order[:n_valid])

    def _build_datasets(self, X, y, train_tracks, valid_tracks, n_sources, cache, seed, tmpdir):
        """Training and validation frames (in memory, or cached in ``tmpdir``), channels, bins."""
        augment = dict(remix=self.remix, gain_db=self.gain_db, eq_db=self.eq_db,
                       pitch_shift=self.pitch_shift, seed=seed, loss_target=self.loss_target, stereo=self.stereo,
                       context_strides=self._context_strides())
        if cache == "disk":
            def check(i, spec):
                return self._check_spectrogram(spec, f"fit (track {i})")

            return _disk_datasets(X, y, train_tracks, valid_tracks, n_sources, tmpdir, check, **augment)
        return _memory_datasets(X, y, train_tracks, valid_tracks, **augment)

    def _context_strides(self):
        """The validated strides; the colour mapping reads the current frame alone: ``(1,)``."""
        strides = check_strides(self.context_strides)
        return (1,) if getattr(self, "mapping", "window") == "color" else strides

    def _hyperparameters(self, n_bins, n_sources):
        """:class:`~sklearn_vpnn.nn.MaskNet`'s arguments that the data do not learn."""
        return dict(kind=self._kind, n_bins=int(n_bins), n_sources=int(n_sources), n_layers=self.n_layers,
                    context_strides=self._context_strides(), stereo=bool(self.stereo),
                    activation=self.activation, mapping=getattr(self, "mapping", None),
                    **_band_kwargs(self))

    def _make_net(self, module_kwargs, seed, valid_ds, tmpdir, device):
        callbacks = make_callbacks(validation=valid_ds is not None, average=self.average,
                                   patience=self.patience, max_time=self.max_time,
                                   verbose=bool(self.verbose), dirname=tmpdir)
        return make_net(module_kwargs, gamma=self.gamma, lr=self.lr, max_epochs=self.max_epochs,
                        batch_size=self.batch_size, seed=seed, valid_ds=valid_ds,
                        callbacks=callbacks, device=device, verbose=int(bool(self.verbose)),
                        frame_weighting=self.frame_weighting)

    def _record_fit(self, net, sources, n_channels, n_bins, stft_params):
        self.net_ = net
        self.sources_ = sources
        self.n_bins_ = n_bins
        self.n_channels_ = n_channels
        self.stft_params_ = dict(stft_params)
        self.history_ = [
            {k: row[k] for k in ("epoch", "train_loss", "valid_loss", "dur") if k in row}
            for row in net.history
        ]
        self.n_epochs_ = len(net.history)
        return self

    # ------------------------------------------------------- model files
    def _module_kwargs(self):
        """The fitted module's hyperparameters (plain values; its statistics are buffers)."""
        check_is_fitted(self, "net_")
        return {k: v for k, v in self.net_.get_params_for("module").items() if k not in _STATISTICS}

    def _restore_net(self, module_kwargs, state_dict, device="cpu"):
        """Give the separator the net of a :meth:`_module_kwargs` and a module ``state_dict``.

        For model files that hold weights, not pickles (the fitted attributes
        other than ``net_`` are set by the caller). Returns ``self``.
        """
        self.net_ = restore_net(module_kwargs, state_dict, gamma=self.gamma, lr=self.lr,
                                max_epochs=self.max_epochs, batch_size=self.batch_size,
                                device=_resolve_device(device))
        return self

    # ------------------------------------------------------------- transform
    def _check_for_transform(self, X):
        """The mixture Spectrogram ``X``, checked against what the separator was fitted on."""
        check_is_fitted(self, "net_")
        X = self._check_spectrogram(X, "transform")
        F = X.shape[2]
        if F != self.n_bins_:
            raise ValueError(
                f"X has {F} frequency bins but the separator was fitted on {self.n_bins_} "
                f"(STFT n_fft={self.stft_params_['n_fft']}); use the same STFT settings"
            )
        mismatch = _stft_mismatch(getattr(self, "stft_params_", None) or {}, X.params)
        if mismatch:
            raise ValueError(f"X was made by another STFT than the one the separator was fitted on: "
                             f"{mismatch}; use the same STFT settings")
        return X

    def predict_masks(self, X):
        """Masks for every source, ``(n_tracks, n_sources, n_channels, n_bins, n_frames)``.

        Parameters
        ----------
        X : Spectrogram
            Mixture spectrograms.

        Returns
        -------
        ndarray of float32
            Masks in [0, 1] that sum to one over sources.
        """
        X = self._check_for_transform(X)
        masks = np.empty((X.shape[0], len(self.sources_), *X.shape[1:]), np.float32)
        apply_masks(self.net_.module_, X, len(self.sources_), masks=masks, log_eps=_LOG_EPS)
        return masks

    def transform(self, X):
        """Separate the mixtures.

        Parameters
        ----------
        X : Spectrogram or LazySpectrogram
            Mixture spectrograms ``(n_tracks, n_channels, n_bins, n_frames)``.

        Returns
        -------
        Spectrogram or LazySpectrogram
            Separated spectrograms ``(n_tracks, n_sources, n_channels, n_bins,
            n_frames)``: the mixture's phase, the masks' magnitudes (refined by a
            multichannel Wiener filter when ``wiener_iterations > 0``); lazy, track
            by track, for a lazy input. Without the Wiener filter the values are
            computed when first read (``.data``, indexing, ``np.asarray``), and
            :class:`~sklearn_vpnn.InverseSTFT` inverts them chunk by chunk of
            frames without holding them (the same numbers). With ``shifts > 1``,
            the STFT of the separated waveforms averaged over the frame grids.
        """
        if isinstance(X, LazySpectrogram):  # separated track by track when indexed/computed
            return LazySpectrogram(X.tracks, X.params, separate=self.transform)
        X = self._check_for_transform(X)
        shifts = check_number(self.shifts, "shifts", integer=True, low=1)  # may be set after fit
        if shifts > 1:
            return shift_average(self._separate, X, shifts)
        return self._separate(X)

    def _separate(self, X):
        """Separated spectrograms of the checked mixture ``X``, on its own frame grid."""
        shape = (X.shape[0], len(self.sources_), *X.shape[1:])
        # the masks go straight into the product: no float mask array per source
        masked = MaskedMixture(self.net_.module_, X, len(self.sources_), log_eps=_LOG_EPS)
        if self.wiener_iterations == 0:
            return DeferredSpectrogram(shape, X.lengths, X.params, self.sources_, masked)
        out = np.empty(shape, np.complex64)
        masked.fill(out)
        out = wiener(out, X, self.wiener_iterations)
        return Spectrogram(out.astype(np.complex64, copy=False), X.lengths, X.params, self.sources_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        # input is the Spectrogram made by STFT, never a real 2-D feature matrix
        tags.input_tags.two_d_array = False
        return tags


class VPNNSeparator(_BaseSeparator):
    __doc__ = f"""Vector product neural network separator (WVPNN / CVPNN).

    Each frequency bin of a frame becomes a 3-D vector — (previous, current,
    next) frame log-magnitudes for ``mapping="window"``, a hot colour map of the
    current frame for ``mapping="color"`` — and flows through layers of vector
    product neurons (cross products of 3-D weights and inputs). One head per
    source, then a time-frequency masking layer, trained with a mean squared
    error on the masked magnitudes of every source minus ``gamma`` times the
    cross-source error (discriminative training). After Fan, Chan, Yang & Jang,
    *Music Signal Processing Using Vector Product Neural Networks* (2017).

    Parameters
    ----------
    mapping : {{"window", "color"}}, default="window"
        Real -> 3-D mapping: context window (WVPNN) or spectral colouring (CVPNN).
{_BAND_PARAMS_DOC}{params_doc("(1, 4, 16)", "256", _VPNN_DEFAULT_NOTE, "phase_sensitive", "int or None",
                               _VPNN_HIDDEN_NOTE)}
    Attributes
    ----------
{_COMMON_ATTRS_DOC}
    See Also
    --------
    DNNSeparator : Real-valued baseline of the same shape.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_vpnn import STFT, InverseSTFT, VPNNSeparator, make_drum_mixtures
    >>> data = make_drum_mixtures(n_tracks=4, duration=2.0, random_state=0)
    >>> pipe = make_pipeline(STFT(n_fft=512), VPNNSeparator(hidden_units=32, max_epochs=2,
    ...                                                     random_state=0), InverseSTFT())
    >>> pipe.fit(data.X, data.y).transform(data.X).shape
    (4, 2, 1, 44100)
    """
    _kind = "vpnn"
    _parameter_constraints = {
        **_BaseSeparator._parameter_constraints,
        "mapping": [StrOptions({"window", "color"})],
        "hidden_units": [Interval(Integral, 1, None, closed="left"), None],
        "band_radius": [Interval(Integral, 0, None, closed="left"), None],
        "band_units": [Interval(Integral, 1, None, closed="left")],
        "band_bins": [Interval(Integral, 1, None, closed="left")],
        "band_join": [StrOptions({"masks", "outputs"})],
    }

    def __init__(
        self,
        mapping="window",
        band_radius=4,
        band_units=32,
        band_bins=128,
        band_join="masks",
        context_strides=(1, 4, 16),
        hidden_units=256,
        n_layers=3,
        activation="relu",
        gamma=0.05,
        frame_weighting=None,
        loss_target="phase_sensitive",
        stereo=False,
        sources=("drums", "accompaniment"),
        max_epochs=30,
        lr=1e-3,
        batch_size=256,
        remix=0.5,
        gain_db=3.0,
        eq_db=0.0,
        pitch_shift=0.0,
        validation_fraction=0.1,
        patience=None,
        average=0.999,
        max_time=None,
        wiener_iterations=0,
        shifts=1,
        device="auto",
        cache="auto",
        random_state=None,
        verbose=0,
    ):
        self.mapping = mapping
        self.band_radius = band_radius
        self.band_units = band_units
        self.band_bins = band_bins
        self.band_join = band_join
        self.context_strides = context_strides
        self.hidden_units = hidden_units
        self.n_layers = n_layers
        self.activation = activation
        self.gamma = gamma
        self.frame_weighting = frame_weighting
        self.loss_target = loss_target
        self.stereo = stereo
        self.sources = sources
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.remix = remix
        self.gain_db = gain_db
        self.eq_db = eq_db
        self.pitch_shift = pitch_shift
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.average = average
        self.max_time = max_time
        self.wiener_iterations = wiener_iterations
        self.shifts = shifts
        self.device = device
        self.cache = cache
        self.random_state = random_state
        self.verbose = verbose


class DNNSeparator(_BaseSeparator):
    __doc__ = f"""Real-valued deep neural network separator (the paper's DNN baseline).

    Same input (log-magnitudes of the previous, current and next frame), same
    depth and width, same heads, masking layer and discriminative loss as
    :class:`VPNNSeparator`, with ordinary real-valued neurons.

    Parameters
    ----------
{params_doc("(1,)", "512", loss_target="magnitude")}
    Attributes
    ----------
{_COMMON_ATTRS_DOC}
    See Also
    --------
    VPNNSeparator : The vector product network.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_vpnn import STFT, InverseSTFT, DNNSeparator, make_drum_mixtures
    >>> data = make_drum_mixtures(n_tracks=4, duration=2.0, random_state=0)
    >>> pipe = make_pipeline(STFT(n_fft=512), DNNSeparator(hidden_units=32, max_epochs=2,
    ...                                                    random_state=0), InverseSTFT())
    >>> pipe.fit(data.X, data.y).transform(data.X).shape
    (4, 2, 1, 44100)
    """
    _kind = "dnn"

    def __init__(
        self,
        context_strides=(1,),
        hidden_units=512,
        n_layers=3,
        activation="relu",
        gamma=0.05,
        frame_weighting=None,
        loss_target="magnitude",
        stereo=False,
        sources=("drums", "accompaniment"),
        max_epochs=30,
        lr=1e-3,
        batch_size=256,
        remix=0.5,
        gain_db=3.0,
        eq_db=0.0,
        pitch_shift=0.0,
        validation_fraction=0.1,
        patience=None,
        average=0.999,
        max_time=None,
        wiener_iterations=0,
        shifts=1,
        device="auto",
        cache="auto",
        random_state=None,
        verbose=0,
    ):
        self.context_strides = context_strides
        self.hidden_units = hidden_units
        self.n_layers = n_layers
        self.activation = activation
        self.gamma = gamma
        self.frame_weighting = frame_weighting
        self.loss_target = loss_target
        self.stereo = stereo
        self.sources = sources
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.remix = remix
        self.gain_db = gain_db
        self.eq_db = eq_db
        self.pitch_shift = pitch_shift
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.average = average
        self.max_time = max_time
        self.wiener_iterations = wiener_iterations
        self.shifts = shifts
        self.device = device
        self.cache = cache
        self.random_state = random_state
        self.verbose = verbose
