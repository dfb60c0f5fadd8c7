"""The model-selection scorer: :class:`SDRScorer` and :func:`sdr_scorer`.

See :mod:`sklearn_vpnn.metrics` for the policy on silent tracks and the score range.
"""

import numbers
import warnings

import numpy as np

from .._validation import check_choice, check_number, check_sample_rate, check_seconds
from ._sdr import (_AGGREGATES, _CEILING, _METHODS, _as_tracks, _check_pairs, _silent, _slices,
                   _window_samples, sdr)

__all__ = ["SDRScorer", "sdr_scorer"]


# --------------------------------------------------------------------------- #
# scorer
# --------------------------------------------------------------------------- #
def _steps(estimator):
    """The estimator itself, then (recursively) its pipeline steps."""
    yield estimator
    for step in getattr(estimator, "steps", None) or ():
        obj = step[1] if isinstance(step, tuple) else step
        if obj is None or isinstance(obj, str):  # "passthrough" / "drop"
            continue
        yield from _steps(obj)


def _find_sources(estimator):
    for obj in _steps(estimator):
        names = getattr(obj, "sources_", None)
        if names is not None:
            return tuple(names)
    return None


def _find_sample_rate(estimator):
    for obj in _steps(estimator):
        try:
            return check_sample_rate(getattr(obj, "sample_rate", None))
        except ValueError:  # not set here (None) or not a rate: look further
            continue
    return None


class SDRScorer:
    """Scorer ``(estimator, X, y) -> float`` for one source's SDR, greater is better.

    Made by :func:`sdr_scorer`, which describes the parameters in full. A plain class
    (not a closure) so that it pickles and works with ``GridSearchCV(n_jobs=...)``.

    Parameters
    ----------
    source : str or int, default="drums"
        Source name (looked up in the estimator's ``sources_``) or index.
    sample_rate : int or None, default=None
        Sample rate in Hz; None takes the estimator's, else 44100.
    method : {"framewise", "bss_eval_v4", "global"}, default="framewise"
        See :func:`~sklearn_vpnn.sdr`; ``"framewise"`` is museval's SDR without museval.
    window : float or None, default=1.0
        Window length in seconds; None scores each track as one window.
    aggregate : {"mean", "median"}, default="mean"
        How the per-track SDRs are combined.
    floor : float, default=-100.0
        Score of a track with silent estimates; the lowest score of any track.
    """

    def __init__(self, source="drums", sample_rate=None, method="framewise", window=1.0,
                 aggregate="mean", floor=-100.0):
        self.source = source
        self.sample_rate = sample_rate
        self.method = method
        self.window = window
        self.aggregate = aggregate
        self.floor = floor

    def _validate(self):
        if isinstance(self.source, bool) or not isinstance(self.source, (str, numbers.Integral)):
            raise ValueError(f"source must be a source name or an integer index; got {self.source!r}")
        check_sample_rate(self.sample_rate, allow_none=True)
        check_choice(self.method, "method", _METHODS)
        check_seconds(self.window, "window", allow_none=True)
        check_choice(self.aggregate, "aggregate", _AGGREGATES)
        check_number(self.floor, "floor", high=_CEILING, include_high=False,
                     what=f"a finite number of dB below {_CEILING}")

    def _source_index(self, estimator, n_sources):
        names = _find_sources(estimator)
        if names is not None and len(names) != n_sources:
            raise ValueError(
                f"the estimator separates {len(names)} sources {names} but y holds {n_sources}"
            )
        if isinstance(self.source, str):
            if names is None:
                raise ValueError(
                    f"cannot find source {self.source!r}: neither the estimator nor any of its "
                    "steps has a fitted `sources_` attribute; pass the source's index instead"
                )
            if self.source not in names:
                raise ValueError(f"unknown source {self.source!r}; available sources: {names}")
            return names.index(self.source)
        idx = int(self.source)
        if not -n_sources <= idx < n_sources:
            raise ValueError(f"source index {idx} out of range for {n_sources} sources"
                             + (f" {names}" if names else ""))
        return idx % n_sources

    def __call__(self, estimator, X, y, **kwargs):
        """Separate ``X`` with ``estimator`` and score one source against ``y``.

        Parameters
        ----------
        estimator : fitted estimator or Pipeline
            ``transform(X)`` must return separated waveforms
            ``(n_tracks, n_sources, n_channels, n_samples)`` (or a list).
        X : array-like or list
            Mixture waveforms.
        y : array-like or list
            True sources, same shape(s) as the separated waveforms.
        **kwargs : dict
            Ignored (accepted for compatibility with scikit-learn callers).

        Returns
        -------
        score : float
            Mean (or median) over tracks of the source's SDR in dB; always finite.
        """
        self._validate()
        if y is None:
            raise ValueError("sdr_scorer needs the true sources y")
        refs, _ = _as_tracks(y, "y")
        ests, _ = _as_tracks(estimator.transform(X), "estimator.transform(X)")
        _check_pairs(refs, ests, "y", "estimator.transform(X)")
        j = self._source_index(estimator, refs[0].shape[0])
        sample_rate = self.sample_rate or _find_sample_rate(estimator) or 44100
        scores = sdr(refs, ests, sample_rate=sample_rate, window=self.window,
                     method=self.method, aggregate="median")[:, j]
        keep, n_floored = [], 0
        for ref, score in zip(refs, scores):
            if np.isnan(score):
                n = ref.shape[-1]
                win, hop = (n, n) if self.method == "global" else _window_samples(self.window, None, sample_rate, n)
                if all(_silent(ref[..., sl]).any() for sl in _slices(n, win, hop)):
                    continue  # nothing to score in this track: leave it out
                score, n_floored = self.floor, n_floored + 1  # silent estimates
            keep.append(min(max(float(score), self.floor), _CEILING))
        if n_floored:
            warnings.warn(
                f"sdr_scorer: {n_floored} of {len(refs)} tracks had silent estimates where the "
                f"references are not silent and scored the floor {self.floor} dB",
                UserWarning,
                stacklevel=2,
            )
        if not keep:
            return float(self.floor)
        return float(np.mean(keep) if self.aggregate == "mean" else np.median(keep))

    def __repr__(self):
        args = [f"source={self.source!r}"]
        if self.sample_rate is not None:
            args.append(f"sample_rate={self.sample_rate!r}")
        args += [f"method={self.method!r}", f"window={self.window!r}", f"aggregate={self.aggregate!r}"]
        if self.floor != -100.0:
            args.append(f"floor={self.floor!r}")
        return f"sdr_scorer({', '.join(args)})"


def sdr_scorer(source="drums", sample_rate=None, method="framewise", window=1.0, aggregate="mean",
               floor=-100.0):
    """Scorer for model selection: SDR (dB) of one separated source.

    Parameters
    ----------
    source : str or int, default="drums"
        Source to score: a name looked up in the ``sources_`` attribute of the
        estimator or of the first pipeline step that has one, or an index
        into the source axis of ``y``.
    sample_rate : int or None, default=None
        Sample rate in Hz, used only for the window length in samples. ``None``
        takes the first ``sample_rate`` set on the estimator or its steps (e.g.
        ``STFT(sample_rate=...)``), else 44100.
    method : {"framewise", "bss_eval_v4", "global"}, default="framewise"
        See :func:`sdr`. ``"framewise"`` is museval's SDR (BSS Eval v4, images
        mode; equal to round-off, see :mod:`sklearn_vpnn.metrics`) at about 0.5% of
        its cost, without importing museval (nor musdb, which needs ffmpeg).
        ``"bss_eval_v4"`` calls museval itself: the same SDR, about 30 s per
        3-minute stereo track; use :func:`sdr` with ``return_all=True`` for ISR,
        SIR and SAR. ``"global"`` is a whole-signal proxy.
    window : float or None, default=1.0
        Window length in seconds (per-track median over windows); ``None`` scores
        each track as a single window.
    aggregate : {"mean", "median"}, default="mean"
        How the per-track SDRs are combined into one score.
    floor : float, default=-100.0
        Score (dB) of a track whose estimates are silent wherever its references
        could be scored, and of a search split with no scorable track at all;
        also the lowest score any track can get.

    Returns
    -------
    scorer : SDRScorer
        Picklable callable ``scorer(estimator, X, y) -> float``, greater is
        better, that calls ``estimator.transform(X)``.

    See Also
    --------
    sdr : The metric itself.

    Notes
    -----
    The scorer never returns NaN or inf (GridSearchCV would rank such a candidate
    arbitrarily or fail to average). Per track, the source's SDR from :func:`sdr`
    (windowed median) is used as follows:

    * NaN because the references leave no window to score (every window has
      a silent reference source, e.g. a track without drums): the track is left
      out of the average; nothing can be learned about the estimator from it.
    * NaN although the references could be scored: the estimates are silent
      there, which is the estimator's failure; the track scores ``floor``
      (with a :class:`UserWarning`). -100 dB is far below any real separation
      (SiSEC systems span about -10 to +20 dB; returning the mixture or
      silence-like output scores near or below 0 dB), still finite so that
      means, standard deviations and ranks stay defined, and it puts a
      candidate that output nothing below every candidate that output something.
    * every score is clipped to ``[floor, 300]`` dB; 300 dB is float64
      round-off level, where museval's exact estimates give ``+inf``.
    * no scorable track at all: the scorer returns ``floor``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_vpnn import sdr_scorer
    >>> class Oracle:  # a stand-in separator that returns the true sources, noisy
    ...     sources_ = ("drums", "accompaniment")
    ...     def __init__(self, y, noise):
    ...         self.y, self.noise = y, noise
    ...     def transform(self, X):
    ...         rng = np.random.default_rng(0)
    ...         return self.y + self.noise * rng.standard_normal(self.y.shape)
    >>> y = np.random.default_rng(1).standard_normal((3, 2, 1, 16000))
    >>> X = y.sum(axis=1)
    >>> scorer = sdr_scorer("drums", sample_rate=8000)
    >>> scorer
    sdr_scorer(source='drums', sample_rate=8000, method='framewise', window=1.0, aggregate='mean')
    >>> round(scorer(Oracle(y, 0.1), X, y), 1), round(scorer(Oracle(y, 1.0), X, y), 1)
    (20.0, 0.0)
    """
    scorer = SDRScorer(source=source, sample_rate=sample_rate, method=method, window=window,
                       aggregate=aggregate, floor=floor)
    scorer._validate()
    return scorer
