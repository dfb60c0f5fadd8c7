"""SDR computations: input checks, museval's windows, the three methods, :func:`sdr`.

The conventions (museval's framing, the silence policy, why ``"framewise"`` equals
museval's SDR) are described in :mod:`sklearn_vpnn.metrics`.
"""

import warnings

import numpy as np
from sklearn.utils import Bunch

from .._validation import check_choice, check_sample_rate, check_seconds

__all__ = ["sdr"]

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
    check_choice(method, "method", _METHODS)
    check_choice(aggregate, "aggregate", _AGGREGATES)
    sample_rate = check_sample_rate(sample_rate)
    window = check_seconds(window, "window", allow_none=True)
    hop = check_seconds(hop, "hop", allow_none=True)
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
