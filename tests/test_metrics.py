"""Tests for sklearn_vpnn.metrics: sdr (museval v4 + proxies) and sdr_scorer."""

import pickle
import sys
import warnings

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline

from sklearn_vpnn import InverseSTFT, STFT, sdr, sdr_scorer
from sklearn_vpnn.metrics import SDRScorer

SR = 8000


def _sources(rng, n_tracks=None, n_src=2, n_ch=1, seconds=2.0):
    shape = (n_src, n_ch, int(seconds * SR))
    if n_tracks is not None:
        shape = (n_tracks,) + shape
    return rng.standard_normal(shape)


def _museval_median(ref, est, win=SR, hop=SR):
    museval = pytest.importorskip("museval")
    s = museval.evaluate(np.moveaxis(ref, 1, 2), np.moveaxis(est, 1, 2), win=win, hop=hop)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(s, axis=1)


# --------------------------------------------------------------------------- sdr
@pytest.mark.parametrize("method", ["bss_eval_v4", "framewise", "global"])
def test_perfect_estimate_scores_very_high(rng, method):
    ref = _sources(rng)
    assert np.all(sdr(ref, ref.copy(), sample_rate=SR, method=method) > 100)


@pytest.mark.parametrize("method", ["bss_eval_v4", "framewise", "global"])
def test_noisier_estimates_score_lower(rng, method):
    ref = _sources(rng)
    noise = rng.standard_normal(ref.shape)
    scores = [sdr(ref, ref + a * noise, sample_rate=SR, method=method) for a in (0.01, 0.1, 0.5, 2.0)]
    assert np.all(np.diff(np.array(scores), axis=0) < 0)
    # white noise at amplitude a on unit-variance sources: SDR = -20 log10(a)
    np.testing.assert_allclose(scores[1], 20.0, atol=0.5)


def test_agrees_with_museval_evaluate(rng):
    from scipy.signal import lfilter

    ref = _sources(rng, n_ch=2, seconds=2.4)  # stereo: checks museval's channels-last layout
    est = np.stack([ref[0] + 0.3 * rng.standard_normal(ref[0].shape),
                    lfilter([0.6, 0.3], [1.0], ref[1], axis=-1) + 0.2 * ref[0]])
    expected = _museval_median(ref, est)
    np.testing.assert_allclose(sdr(ref, est, sample_rate=SR), expected, rtol=0, atol=1e-9)
    # v4 images SDR is the plain windowed signal-to-error ratio: the proxy is exact
    np.testing.assert_allclose(sdr(ref, est, sample_rate=SR, method="framewise"), expected, atol=1e-6)


def test_agrees_with_museval_overlapping_windows_and_mean(rng):
    ref = _sources(rng, seconds=2.3)
    est = ref + 0.5 * rng.standard_normal(ref.shape)
    museval = pytest.importorskip("museval")
    full = museval.evaluate(np.moveaxis(ref, 1, 2), np.moveaxis(est, 1, 2), win=SR, hop=SR // 2)
    for method in ("bss_eval_v4", "framewise"):
        got = sdr(ref, est, sample_rate=SR, hop=0.5, aggregate="mean", method=method)
        np.testing.assert_allclose(got, full[0].mean(axis=1), atol=1e-6)


def test_return_all(rng):
    ref = _sources(rng, seconds=1.0)
    est = ref + 0.3 * rng.standard_normal(ref.shape)
    out = sdr(ref, est, sample_rate=SR, return_all=True)
    assert set(out) == {"sdr", "isr", "sir", "sar"}
    assert all(v.shape == (2,) for v in out.values())
    np.testing.assert_array_equal(out.sdr, sdr(ref, est, sample_rate=SR))
    with pytest.raises(ValueError, match="return_all"):
        sdr(ref, est, sample_rate=SR, method="framewise", return_all=True)


def test_shapes_single_batch_ragged(rng):
    a, b = _sources(rng, seconds=1.0), _sources(rng, seconds=2.5)
    ea, eb = a + 0.3 * rng.standard_normal(a.shape), b + 0.2 * rng.standard_normal(b.shape)
    for method in ("framewise", "global", "bss_eval_v4"):
        single = sdr(a, ea, sample_rate=SR, method=method)
        assert single.shape == (2,)
        batch = sdr(np.stack([a, a]), np.stack([ea, ea]), sample_rate=SR, method=method)
        assert batch.shape == (2, 2)
        np.testing.assert_allclose(batch, [single, single])
        if method == "bss_eval_v4":
            break  # museval is slow; the ragged path is shared and equal to framewise
        ragged = sdr([a, b], [ea, eb], sample_rate=SR, method=method)
        assert ragged.shape == (2, 2)
        np.testing.assert_allclose(ragged[1], sdr(b, eb, sample_rate=SR, method=method))


def test_short_track_and_whole_track_window(rng):
    ref = _sources(rng, seconds=0.5)  # shorter than the 1 s window: one window
    est = ref + 0.1 * rng.standard_normal(ref.shape)
    one = sdr(ref, est, sample_rate=SR, method="framewise")
    np.testing.assert_allclose(one, sdr(ref, est, sample_rate=SR, method="global"))
    np.testing.assert_allclose(sdr(ref, est, sample_rate=SR), one, atol=1e-6)
    np.testing.assert_allclose(sdr(ref, est, sample_rate=SR, window=None, method="framewise"), one)


def test_silent_reference_windows_are_skipped(rng):
    ref = _sources(rng, seconds=4.0)
    ref[0, :, : 2 * SR] = 0.0  # drums silent for two of the four windows
    est = ref + 0.3 * rng.standard_normal(ref.shape)
    expected = _museval_median(ref, est)
    assert np.all(np.isfinite(expected))
    for method in ("bss_eval_v4", "framewise"):
        got = sdr(ref, est, sample_rate=SR, method=method)
        np.testing.assert_allclose(got, expected, atol=1e-6)


@pytest.mark.parametrize("method", ["bss_eval_v4", "framewise", "global"])
def test_all_silent_source_gives_nan_not_error(rng, method):
    ref = _sources(rng)
    ref[0] = 0.0  # museval itself raises ValueError on this
    est = ref + 0.3 * rng.standard_normal(ref.shape)
    assert np.all(np.isnan(sdr(ref, est, sample_rate=SR, method=method)))
    # a silent estimate, too
    ref = _sources(rng)
    est = ref + 0.3 * rng.standard_normal(ref.shape)
    est[1] = 0.0
    assert np.all(np.isnan(sdr(ref, est, sample_rate=SR, method=method)))
    # other tracks of the batch are unaffected
    good = _sources(rng)
    out = sdr([good, ref], [good + 0.1, est], sample_rate=SR, method=method)
    assert np.all(np.isfinite(out[0])) and np.all(np.isnan(out[1]))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_raises(rng, bad):
    ref = _sources(rng)
    est = ref.copy()
    est[1, 0, 10] = bad
    with pytest.raises(ValueError, match="estimates.*NaN or infinite"):
        sdr(ref, est, sample_rate=SR)
    with pytest.raises(ValueError, match=r"references\[1\].*NaN or infinite"):
        sdr([ref, est], [ref, ref], sample_rate=SR, method="framewise")


def test_mismatched_shapes_raise(rng):
    ref = _sources(rng)
    with pytest.raises(ValueError, match=r"references\[0\] has shape \(2, 1, 16000\).*estimates\[0\] has shape \(2, 1, 15999\)"):
        sdr(ref, ref[..., :-1], sample_rate=SR)
    with pytest.raises(ValueError, match="holds 2 tracks but estimates holds 1"):
        sdr([ref, ref], [ref], sample_rate=SR)
    with pytest.raises(ValueError, match="same number of sources"):
        sdr([ref, ref[:1]], [ref, ref[:1]], sample_rate=SR)
    with pytest.raises(ValueError, match="must be one track"):
        sdr(ref[0, 0], ref[0, 0], sample_rate=SR)
    with pytest.raises(ValueError, match="method"):
        sdr(ref, ref, method="bss_eval_v3")
    with pytest.raises(ValueError, match="window"):
        sdr(ref, ref, window=0)


def test_museval_import_failure_is_explained(rng, monkeypatch):
    monkeypatch.setitem(sys.modules, "museval", None)
    ref = _sources(rng)
    with pytest.raises(ImportError, match="framewise"):
        sdr(ref, ref + 0.1, sample_rate=SR)
    assert np.all(np.isfinite(sdr(ref, ref + 0.1, sample_rate=SR, method="framewise")))


def test_proxies_order_estimates_like_museval(rng):
    """Over varied estimates, framewise equals museval; global keeps sign and order."""
    ref = _sources(rng, n_ch=1, seconds=3.0)
    ref[0] *= np.repeat([0.3, 1.0, 0.6], SR)  # loudness varies between windows
    rows = {m: [] for m in ("bss_eval_v4", "framewise", "global")}
    for a in (0.05, 0.3, 1.5):
        for leak in (0.0, 0.3):
            est = ref + a * rng.standard_normal(ref.shape) * np.repeat([0.5, 1.0, 0.7], SR)
            est[0] += leak * ref[1]
            for m in rows:
                rows[m].append(sdr(ref, est, sample_rate=SR, method=m))
    museval_scores = np.ravel(rows["bss_eval_v4"])
    np.testing.assert_allclose(np.ravel(rows["framewise"]), museval_scores, atol=1e-6)
    glob = np.ravel(rows["global"])
    assert spearmanr(glob, museval_scores)[0] > 0.9
    # global weighs loud windows more: signs agree except within a few dB of 0
    clear = np.abs(museval_scores) > 3.0
    np.testing.assert_array_equal(np.sign(glob[clear]), np.sign(museval_scores[clear]))


# --------------------------------------------------------------------------- scorer
class NoisyOracle(BaseEstimator):
    """Fake separator: the true sources are fixed fractions of the mixture."""

    def __init__(self, noise=0.1, fractions=(0.3, 0.7), sample_rate=None):
        self.noise = noise
        self.fractions = fractions
        self.sample_rate = sample_rate

    def fit(self, X, y=None):
        self.sources_ = ("drums", "accompaniment")
        return self

    def transform(self, X):
        rng = np.random.default_rng(1)
        def sep(x):
            clean = np.stack([f * np.asarray(x) for f in self.fractions])
            return clean + self.noise * rng.standard_normal(clean.shape)
        if isinstance(X, list):
            return [sep(x) for x in X]
        return np.stack([sep(x) for x in X])


def _mixtures(rng, n_tracks=4, seconds=2.0, fractions=(0.3, 0.7), n_ch=1):
    X = rng.standard_normal((n_tracks, n_ch, int(seconds * SR)))
    y = np.stack([f * X for f in fractions], axis=1)
    return X, y


def test_scorer_by_name_and_index(rng):
    X, y = _mixtures(rng)
    est = NoisyOracle(noise=0.1).fit(X, y)
    kw = dict(sample_rate=SR, method="framewise")
    by_name = {s: sdr_scorer(s, **kw)(est, X, y) for s in ("drums", "accompaniment")}
    assert sdr_scorer(0, **kw)(est, X, y) == by_name["drums"]
    assert sdr_scorer(1, **kw)(est, X, y) == by_name["accompaniment"]
    assert sdr_scorer(-1, **kw)(est, X, y) == by_name["accompaniment"]
    # the quieter source (0.3 X vs 0.7 X) has a worse SDR under the same noise
    assert by_name["drums"] < by_name["accompaniment"]
    per_track = sdr(y, est.transform(X), sample_rate=SR, method="framewise")[:, 0]
    assert by_name["drums"] == pytest.approx(per_track.mean())
    median = sdr_scorer("drums", aggregate="median", **kw)(est, X, y)
    assert median == pytest.approx(np.median(per_track))
    # the default is framewise; the museval path gives the same number
    assert sdr_scorer("drums", sample_rate=SR)(est, X, y) == by_name["drums"]
    assert sdr_scorer("drums", sample_rate=SR, method="bss_eval_v4")(est, X[:2], y[:2]) == pytest.approx(
        sdr_scorer("drums", **kw)(est, X[:2], y[:2]), abs=1e-6)


def test_scorer_unknown_source_raises(rng):
    X, y = _mixtures(rng, n_tracks=2, seconds=1.0)
    est = NoisyOracle().fit(X, y)
    with pytest.raises(ValueError, match=r"unknown source 'vocals'.*\('drums', 'accompaniment'\)"):
        sdr_scorer("vocals", sample_rate=SR)(est, X, y)
    with pytest.raises(ValueError, match="out of range"):
        sdr_scorer(2, sample_rate=SR)(est, X, y)
    del est.sources_
    with pytest.raises(ValueError, match="sources_"):
        sdr_scorer("drums", sample_rate=SR)(est, X, y)
    assert np.isfinite(sdr_scorer(0, sample_rate=SR, method="framewise")(est, X, y))  # no names needed
    with pytest.raises(ValueError, match="source"):
        sdr_scorer(source=1.5)
    with pytest.raises(ValueError, match="aggregate"):
        sdr_scorer(aggregate="max")


def test_scorer_shape_mismatch_raises(rng):
    X, y = _mixtures(rng, n_tracks=2)
    est = NoisyOracle().fit(X, y)
    with pytest.raises(ValueError, match=r"y\[0\] has shape .*estimator.transform\(X\)\[0\]"):
        sdr_scorer(sample_rate=SR, method="framewise")(est, X, y[..., :-5])
    with pytest.raises(ValueError, match="needs the true sources"):
        sdr_scorer(sample_rate=SR)(est, X, None)


def test_scorer_ragged_lists(rng):
    X1, y1 = _mixtures(rng, n_tracks=1, seconds=1.0)
    X2, y2 = _mixtures(rng, n_tracks=1, seconds=1.6)
    X, y = [X1[0], X2[0]], [y1[0], y2[0]]
    est = NoisyOracle(noise=0.2).fit(X, y)
    for method in ("framewise", "global", "bss_eval_v4"):
        score = sdr_scorer("drums", sample_rate=SR, method=method)(est, X, y)
        assert score == pytest.approx(sdr(y, est.transform(X), sample_rate=SR, method=method)[:, 0].mean())


def test_scorer_sample_rate_from_steps(rng):
    X, y = _mixtures(rng, n_tracks=1, seconds=2.0)
    est = NoisyOracle(noise=0.3, sample_rate=SR).fit(X, y)
    noise = np.ones(y.shape[-1])
    noise[: SR // 2] = 10.0  # scoring windows of 4000 samples and of 8000 differ
    est.transform = lambda X: y * 1.0 + 0.1 * noise * np.random.default_rng(0).standard_normal(y.shape)
    found = sdr_scorer("drums", method="framewise")(est, X, y)
    assert found == sdr_scorer("drums", sample_rate=SR, method="framewise")(est, X, y)
    assert found != sdr_scorer("drums", sample_rate=SR // 2, method="framewise")(est, X, y)
    est.sample_rate = None  # falls back to 44100: whole 16000-sample track is one window
    assert sdr_scorer("drums", method="framewise")(est, X, y) == pytest.approx(
        sdr_scorer("drums", sample_rate=SR, window=None, method="framewise")(est, X, y))


def test_scorer_silence_policy(rng):
    X, y = _mixtures(rng, n_tracks=3)
    est = NoisyOracle(noise=0.1).fit(X, y)
    scorer = sdr_scorer("drums", sample_rate=SR, method="framewise")
    full = scorer(est, X, y)
    per_track = sdr(y, est.transform(X), sample_rate=SR, method="framewise")[:, 0]

    # a track with no drums at all: nothing to score, left out of the mean
    y_silent = y.copy()
    y_silent[2, 0] = 0.0
    estimates = est.transform(X)
    est_fixed = NoisyOracle().fit(X, y)
    est_fixed.transform = lambda X_: estimates
    assert scorer(est_fixed, X, y_silent) == pytest.approx(per_track[:2].mean())

    # a track whose drum estimate is silent while the drums are not: the floor
    est_bad = estimates.copy()
    est_bad[1, 0] = 0.0
    est_fixed.transform = lambda X_: est_bad
    with pytest.warns(UserWarning, match="1 of 3 tracks"):
        score = scorer(est_fixed, X, y)
    assert score == pytest.approx((per_track[0] + per_track[2] - 100.0) / 3)
    assert score < full

    # nothing scorable anywhere: the documented finite floor, never NaN
    y_none = y.copy()
    y_none[:, 0] = 0.0
    est_fixed.transform = lambda X_: estimates
    assert scorer(est_fixed, X, y_none) == -100.0
    assert sdr_scorer("drums", sample_rate=SR, floor=-50, method="bss_eval_v4")(est_fixed, X, y_none) == -50.0

    # an exact estimate is capped, finite
    est_fixed.transform = lambda X_: y.copy()
    assert sdr_scorer("drums", sample_rate=SR, method="framewise")(est_fixed, X, y) == 300.0


def test_scorer_pickle_and_repr():
    scorer = sdr_scorer("drums", method="framewise", aggregate="median")
    assert repr(scorer) == "sdr_scorer(source='drums', method='framewise', window=1.0, aggregate='median')"
    back = pickle.loads(pickle.dumps(scorer))
    assert isinstance(back, SDRScorer) and repr(back) == repr(scorer)


def test_grid_search_picks_least_noisy(rng):
    X, y = _mixtures(rng, n_tracks=6, seconds=1.5, n_ch=2)
    scoring = sdr_scorer("drums", sample_rate=SR, method="framewise")
    search = GridSearchCV(
        NoisyOracle(), {"noise": [0.5, 0.05, 0.2]}, scoring=scoring, cv=2, n_jobs=2
    ).fit(X, y)
    assert search.best_params_ == {"noise": 0.05}
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    assert list(np.argsort(scores)) == [0, 2, 1]


def test_grid_search_default_scorer_needs_neither_museval_nor_musdb(rng, monkeypatch):
    """GridSearchCV(scoring=sdr_scorer("drums")) runs where museval/musdb cannot be imported."""
    from sklearn_vpnn import VPNNSeparator, make_drum_mixtures

    data = make_drum_mixtures(n_tracks=4, duration=1.0, sample_rate=SR, random_state=0)
    X, y = data.X, data.y
    pipe = make_pipeline(STFT(n_fft=256, sample_rate=SR),
                         VPNNSeparator(hidden_units=8, max_epochs=1, validation_fraction=0, device="cpu",
                                       random_state=0), InverseSTFT())
    grid = {"vpnnseparator__gamma": [0.0, 0.1]}
    expected = GridSearchCV(pipe, grid, scoring=sdr_scorer("drums", method="framewise"), cv=2).fit(X, y)
    for name in [m for m in sys.modules if m.split(".")[0] in ("museval", "musdb")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "museval", None)  # import museval -> ImportError
    monkeypatch.setitem(sys.modules, "musdb", None)
    with pytest.raises(ImportError):
        import museval  # noqa: F401
    search = GridSearchCV(pipe, grid, scoring=sdr_scorer("drums"), cv=2, error_score="raise").fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    np.testing.assert_array_equal(scores, expected.cv_results_["mean_test_score"])
    # the museval path says what is missing
    with pytest.raises(ImportError, match="museval"):
        sdr_scorer("drums", method="bss_eval_v4")(search.best_estimator_, X, y)


# --------------------------------------------------------------------------- real pipeline
class OracleMask(TransformerMixin, BaseEstimator):
    """Ideal ratio masks learned at fit time, blended towards 0.5 by ``blend``."""

    def __init__(self, blend=0.0):
        self.blend = blend

    def fit(self, X, y):
        mags = np.abs(X.analyze_like(y))
        self.masks_ = mags / np.maximum(mags.sum(axis=1, keepdims=True), 1e-12)
        self.sources_ = ("drums", "accompaniment")
        return self

    def transform(self, X):
        from sklearn_vpnn import Spectrogram

        masks = (1 - self.blend) * self.masks_ + self.blend * 0.5
        return Spectrogram(X.data[:, None] * masks, X.lengths, X.params, self.sources_)


def test_scorer_with_real_pipeline():
    from sklearn_vpnn import make_drum_mixtures

    data = make_drum_mixtures(n_tracks=2, duration=1.5, sample_rate=SR, n_channels=1, random_state=0)
    scores = []
    for blend in (0.0, 0.5, 1.0):
        pipe = make_pipeline(STFT(n_fft=256, sample_rate=SR), OracleMask(blend=blend), InverseSTFT())
        pipe.fit(data.X, data.y)
        out = pipe.transform(data.X)
        assert out.shape == data.y.shape
        scores.append(sdr_scorer("drums", method="framewise")(pipe, data.X, data.y))
        # sample rate found on the STFT step: same as passing it
        assert scores[-1] == sdr_scorer("drums", sample_rate=SR, method="framewise")(pipe, data.X, data.y)
    # the default is framewise, and the museval path agrees
    assert sdr_scorer("drums")(pipe, data.X, data.y) == scores[-1]
    assert sdr_scorer("drums", method="bss_eval_v4")(pipe, data.X, data.y) == pytest.approx(scores[-1], abs=1e-6)
    assert scores[0] > scores[1] > scores[2]
    assert isinstance(pipe, Pipeline) and np.all(np.isfinite(scores))
