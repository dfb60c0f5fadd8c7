"""Separation quality: SDR (museval BSS Eval v4), fast equivalents, and scorers.

:func:`sdr` scores separated waveforms against the true sources with the SiSEC
convention: BSS Eval v4 "images" metrics (:func:`museval.metrics.bss_eval`,
time-invariant 512-tap distortion filters, no permutation search) on 1 s
windows, median over windows. :func:`sdr_scorer` wraps it as a model-selection
scorer for :class:`~sklearn.model_selection.GridSearchCV`.

**A fact worth knowing** (checked in ``tests/test_metrics.py``): in BSS Eval v4
*images* mode (the SiSEC mode, ``bsseval_sources_version=False``) the distortion
filters only split the error into spatial / interference / artifact parts: the
SDR numerator is the plain windowed reference ``s`` and the three error terms
sum to exactly ``ŝ - s``. So museval's SDR of a window *is* ``10 log10(||s||² /
||s - ŝ||²)`` over that window, and ``method="framewise"`` reproduces museval's
SDR to round-off (below 1e-9 dB) at under 1% of the cost, without importing
museval. The filters matter for ISR, SIR and SAR, which only
``method="bss_eval_v4"`` computes.

**Silence policy** (one rule for every method): museval refuses a track in which
any source's reference or estimate is all-zero (``ValueError``) and gives NaN
for every source in a window where any source's reference or estimate is silent.
Here:

* a window in which any source's reference or estimate is silent (museval's
  test: the sum over channels is zero at every sample) is skipped for all
  sources of that track: NaN, ignored by the median/mean over windows;
* if every window of a track is skipped (for instance a whole source is
  silent, where museval would raise), :func:`sdr` returns NaN for that track;
* :func:`sdr_scorer` never returns NaN or inf to a model search: a track whose
  *references* leave no window to score (e.g. no drums at all) is left out of
  the average; a track that could be scored but whose *estimates* are silent
  scores the floor (-100 dB by default); every track score is clipped to
  ``[floor, 300]`` dB; and if no track can be scored at all the scorer returns
  the floor.
"""

import numbers
import warnings

import numpy as np
from sklearn.utils import Bunch

__all__ = ["sdr", "sdr_scorer", "SDRScorer"]

_METHODS = ("bss_eval_v4", "framewise", "global")
_AGGREGATES = ("median", "mean")
#: museval computes in float64; relative round-off ~1e-16 bounds any
#: measurable SDR near 320 dB, so the scorer caps track scores (and +inf) here.
_CEILING = 300.0


# --------------------------------------------------------------------------- #
# input validation
# --------------------------------------------------------------------------- #
def _as_tracks(values, name):
    """List of float ``(n_sources, n_channels, n_samples)`` tracks, and whether
    the input was a single track."""
    if isinstance(values, (list, tuple)):
        if len(values) == 0:
            raise ValueError(f"{name} holds no tracks")
        tracks, single = list(values), False
    else:
        arr = np.asarray(values)
        if arr.dtype == object:
            return _as_tracks(list(arr), name)
        if arr.ndim == 3:
            tracks, single = [arr], True
        elif arr.ndim == 4:
            if arr.shape[0] == 0:
                raise ValueError(f"{name} holds no tracks (shape {arr.shape})")
            tracks, single = list(arr), False
        else:
            raise ValueError(
                f"{name} must be one track (n_sources, n_channels, n_samples), a batch "
                f"(n_tracks, n_sources, n_channels, n_samples) or a list of tracks; "
                f"got an array of shape {arr.shape}"
            )
    out = []
    for i, t in enumerate(tracks):
        t = np.asarray(t)
        where = name if single else f"{name}[{i}]"
        if t.dtype.kind not in "fiu":
            raise ValueError(f"{where} must hold real numbers; got dtype {t.dtype}")
        if t.ndim != 3:
            raise ValueError(
                f"{where} must be (n_sources, n_channels, n_samples); got shape {t.shape}"
            )
        if 0 in t.shape:
            raise ValueError(f"{where} is empty (shape {t.shape})")
        if not np.all(np.isfinite(t)):
            raise ValueError(f"{where} contains NaN or infinite values")
        out.append(t)
    return out, single


def _check_pairs(refs, ests, ref_name="references", est_name="estimates"):
    if len(refs) != len(ests):
        raise ValueError(f"{ref_name} holds {len(refs)} tracks but {est_name} holds {len(ests)}")
    for i, (r, e) in enumerate(zip(refs, ests)):
        if r.shape != e.shape:
            raise ValueError(
                f"{ref_name}[{i}] has shape {r.shape} (n_sources, n_channels, n_samples) "
                f"but {est_name}[{i}] has shape {e.shape}"
            )
    n_src = {r.shape[0] for r in refs}
    if len(n_src) > 1:
        raise ValueError(f"all tracks must have the same number of sources; got {sorted(n_src)}")


def _check_method(method):
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}")


def _check_aggregate(aggregate, what="aggregate"):
    if aggregate not in _AGGREGATES:
        raise ValueError(f"{what} must be one of {_AGGREGATES}; got {aggregate!r}")


def _check_seconds(value, name, allow_none=True):
    if value is None and allow_none:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not np.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a positive number of seconds{' or None' if allow_none else ''}; got {value!r}")


def _check_sample_rate(sample_rate, allow_none=False):
    if sample_rate is None and allow_none:
        return
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Integral) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer{' or None' if allow_none else ''}; got {sample_rate!r}")


def _window_samples(window, hop, sample_rate, n_samples):
    """Window and hop in samples (museval framing); ``window=None`` = whole track."""
    if window is None:
        return n_samples, n_samples
    win = max(1, int(round(window * sample_rate)))
    hop_s = win if hop is None else max(1, int(round(hop * sample_rate)))
    return win, hop_s


def _slices(n_samples, win, hop):
    """The windows museval's ``Framing`` visits (a trailing partial window is dropped)."""
    if win >= n_samples:
        return [slice(0, n_samples)]
    n_win = (n_samples - win + hop) // hop
    return [slice(t * hop, min(t * hop + win, n_samples)) for t in range(n_win)]


def _silent(x):
    """Per source: silent by museval's test (channel sum zero at every sample)."""
    return ~np.any(x.sum(axis=1) != 0, axis=-1)


# --------------------------------------------------------------------------- #
# per-track, per-window scores
# --------------------------------------------------------------------------- #
def _db(num, den):
    with np.errstate(divide="ignore"):
        return np.where(den == 0, np.inf, 10 * np.log10(num / np.where(den == 0, 1.0, den)))


def _snr_windows(ref, est, slices):
    """``(n_sources, n_windows)`` windowed SDR, NaN where a window is silent."""
    out = np.full((ref.shape[0], len(slices)), np.nan)
    for t, sl in enumerate(slices):
        s = ref[..., sl].astype(np.float64)
        e = est[..., sl].astype(np.float64)
        if _silent(s).any() or _silent(e).any():
            continue
        out[:, t] = _db(np.sum(s * s, axis=(1, 2)), np.sum((s - e) ** 2, axis=(1, 2)))
    return out


def _museval():
    try:
        from museval import metrics
    except Exception as exc:  # ImportError, or stempeg/ffmpeg failing at import time
        raise ImportError(
            "method='bss_eval_v4' needs museval (pip install museval), which imports "
            "musdb/stempeg and therefore needs ffmpeg on the PATH; importing it failed "
            f"with {type(exc).__name__}: {exc}. method='framewise' gives the same SDR "
            "without museval."
        ) from exc
    return metrics


def _museval_windows(ref, est, win, hop):
    """``dict`` of ``(n_sources, n_windows)`` arrays sdr/isr/sir/sar from museval."""
    n_win = len(_slices(ref.shape[-1], win, hop))
    if _silent(ref).any() or _silent(est).any():
        # museval raises here; by its own window rule every window would be NaN
        nan = np.full((ref.shape[0], n_win), np.nan)
        return {k: nan.copy() for k in ("sdr", "isr", "sir", "sar")}
    metrics = _museval()
    # museval wants (n_sources, n_samples, n_channels)
    s, i, r, a, _ = metrics.bss_eval(
        np.moveaxis(ref, 1, 2),
        np.moveaxis(est, 1, 2),
        window=win,
        hop=hop,
        compute_permutation=False,
        filters_len=512,
        framewise_filters=False,
        bsseval_sources_version=False,
    )
    return {"sdr": s, "isr": i, "sir": r, "sar": a}


def _reduce(values, aggregate):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows -> NaN
        if aggregate == "median":
            return np.nanmedian(values, axis=-1)
        return np.nanmean(values, axis=-1)


# --------------------------------------------------------------------------- #
# public API
# --------------------------------------------------------------------------- #
def sdr(
    references,
    estimates,
    sample_rate=44100,
    window=1.0,
    hop=None,
    aggregate="median",
    method="bss_eval_v4",
    return_all=False,
):
    """Signal-to-distortion ratio (dB) of separated sources, SiSEC style.

    Parameters
    ----------
    references : array-like or list of array-like
        True sources: one track ``(n_sources, n_channels, n_samples)``, a batch
        ``(n_tracks, n_sources, n_channels, n_samples)``, or a list of per-track
        ``(n_sources, n_channels, n_samples)`` arrays of different lengths.
    estimates : array-like or list of array-like
        Separated sources, same shape(s) and source order as ``references``.
    sample_rate : int, default=44100
        Sample rate in Hz; only used to turn ``window`` and ``hop`` into samples.
    window : float or None, default=1.0
        Window length in seconds; ``None`` scores each track as one window.
        Ignored by ``method="global"``.
    hop : float or None, default=None
        Hop between windows in seconds; ``None`` means ``window`` (no overlap).
    aggregate : {"median", "mean"}, default="median"
        How the per-window values of a track are combined (NaN windows ignored).
        SiSEC reports the median.
    method : {"bss_eval_v4", "framewise", "global"}, default="bss_eval_v4"
        ``"bss_eval_v4"``: :func:`museval.metrics.bss_eval` (v4 images, 512-tap
        time-invariant filters, no permutation), the reference implementation.
        ``"framewise"``: ``10 log10(||s||² / ||s - ŝ||²)`` per window, all
        channels together; this is the same SDR as museval's (see Notes), about
        about two orders of magnitude faster and without museval.
        ``"global"``: the same ratio over the whole track (one window), a
        cheaper, coarser proxy dominated by the loud passages.
    return_all : bool, default=False
        Also return ISR, SIR and SAR (only with ``method="bss_eval_v4"``).

    Returns
    -------
    scores : ndarray of shape (n_tracks, n_sources) or (n_sources,), or Bunch
        SDR in dB per track and source (``(n_sources,)`` for a single 3-D
        track). With ``return_all=True`` a :class:`~sklearn.utils.Bunch` with
        keys ``sdr``, ``isr``, ``sir``, ``sar`` of that shape. NaN where a
        track has no window to score (see Notes); ``+inf`` for an exact
        estimate (museval's convention).

    Raises
    ------
    ValueError
        On shapes that differ between ``references`` and ``estimates`` (the
        message names the track and both shapes), NaN or infinite samples,
        empty input, or invalid parameters.
    ImportError
        If ``method="bss_eval_v4"`` and museval cannot be imported.

    See Also
    --------
    sdr_scorer : This metric as a scorer for model selection.

    Notes
    -----
    Windows follow museval: ``floor((n - window + hop) / hop)`` windows of
    ``window`` samples starting every ``hop`` samples (a trailing partial
    window is not scored); a track shorter than ``window`` is one window.

    **Silence.** A window in which any source's reference or estimate is silent
    (museval's test: the sum over channels is zero at every sample) is NaN for
    every source and ignored by the aggregate; museval does the same. When no
    window is left (e.g. a whole source is silent, which makes museval raise)
    the track's scores are NaN.

    **Why "framewise" equals museval's SDR.** In BSS Eval v4 images mode the
    512-tap filters decompose the error ``ŝ - s`` into spatial, interference and
    artifact parts whose sum is exactly ``ŝ - s``, and the SDR numerator is the
    unfiltered reference, so the windowed SDR is the plain windowed
    signal-to-error ratio. The filters change ISR, SIR and SAR, not SDR.
    No epsilon is added: silent references are NaN instead, and an error of
    exactly zero gives ``+inf``, like museval.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_vpnn import sdr
    >>> rng = np.random.default_rng(0)
    >>> refs = rng.standard_normal((2, 2, 3 * 8000))          # 2 sources, stereo
    >>> est = refs + 0.1 * rng.standard_normal(refs.shape)    # -20 dB of noise
    >>> sdr(refs, est, sample_rate=8000).round(1)
    array([20. , 19.9])
    >>> sdr(refs, est, sample_rate=8000, method="framewise").round(1)
    array([20. , 19.9])
    >>> sdr([refs, refs[..., :9000]], [est, est[..., :9000]], sample_rate=8000,
    ...     method="global").shape
    (2, 2)
    """
    _check_method(method)
    _check_aggregate(aggregate)
    _check_sample_rate(sample_rate)
    _check_seconds(window, "window")
    _check_seconds(hop, "hop")
    if return_all and method != "bss_eval_v4":
        raise ValueError(f"return_all=True needs method='bss_eval_v4' (got method={method!r})")
    refs, single = _as_tracks(references, "references")
    ests, _ = _as_tracks(estimates, "estimates")
    _check_pairs(refs, ests)

    keys = ("sdr", "isr", "sir", "sar") if return_all else ("sdr",)
    per_track = {k: [] for k in keys}
    for ref, est in zip(refs, ests):
        n = ref.shape[-1]
        if method == "global":
            win, hop_s = n, n
        else:
            win, hop_s = _window_samples(window, hop, sample_rate, n)
        if method == "bss_eval_v4":
            values = _museval_windows(ref, est, win, hop_s)
        else:
            values = {"sdr": _snr_windows(ref, est, _slices(n, win, hop_s))}
        for k in keys:
            per_track[k].append(_reduce(values[k], aggregate))
    out = {k: np.array(v, dtype=np.float64) for k, v in per_track.items()}
    if single:
        out = {k: v[0] for k, v in out.items()}
    return Bunch(**out) if return_all else out["sdr"]


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
        sr = getattr(obj, "sample_rate", None)
        if sr is not None and not isinstance(sr, bool) and isinstance(sr, numbers.Integral) and sr > 0:
            return int(sr)
    return None


class SDRScorer:
    """Scorer ``(estimator, X, y) -> float`` for one source's SDR, greater is better.

    Made by :func:`sdr_scorer`; see there for the parameters. A plain class (not a
    closure) so that it pickles and works with ``GridSearchCV(n_jobs=...)``.
    """

    def __init__(self, source="drums", sample_rate=None, method="bss_eval_v4", window=1.0,
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
        _check_sample_rate(self.sample_rate, allow_none=True)
        _check_method(self.method)
        _check_seconds(self.window, "window")
        _check_aggregate(self.aggregate)
        if isinstance(self.floor, bool) or not isinstance(self.floor, numbers.Real) or not np.isfinite(self.floor) \
                or self.floor >= _CEILING:
            raise ValueError(f"floor must be a finite number of dB below {_CEILING}; got {self.floor!r}")

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


def sdr_scorer(source="drums", sample_rate=None, method="bss_eval_v4", window=1.0, aggregate="mean",
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
    method : {"bss_eval_v4", "framewise", "global"}, default="bss_eval_v4"
        See :func:`sdr`. ``"framewise"`` gives the same numbers as
        ``"bss_eval_v4"`` much faster.
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
    >>> scorer = sdr_scorer("drums", sample_rate=8000, method="framewise")
    >>> scorer
    sdr_scorer(source='drums', sample_rate=8000, method='framewise', window=1.0, aggregate='mean')
    >>> round(scorer(Oracle(y, 0.1), X, y), 1), round(scorer(Oracle(y, 1.0), X, y), 1)
    (20.0, 0.0)
    """
    scorer = SDRScorer(source=source, sample_rate=sample_rate, method=method, window=window,
                       aggregate=aggregate, floor=floor)
    scorer._validate()
    return scorer
