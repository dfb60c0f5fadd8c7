"""STFT / InverseSTFT / Spectrogram: round trips, reference conventions, errors, API."""

import pickle
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.signal
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from sklearn_vpnn.spectral import STFT, InverseSTFT, Spectrogram, as_waveforms, n_frames

RTOL = 1e-5  # round trip error, relative to the signal's peak (float32)


def _rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)


def _signals(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


# --------------------------------------------------------------------------- #
# round trips
# --------------------------------------------------------------------------- #
ROUND_TRIP_PARAMS = [
    dict(n_fft=512),
    dict(n_fft=256, hop_length=64, window="hann", center=True),
    dict(n_fft=256, hop_length=128, window="hann", center=True),
    dict(n_fft=255, hop_length=64),  # odd n_fft
    dict(n_fft=128, hop_length=100, window="hamming"),  # hop > n_fft / 2
    dict(n_fft=64, hop_length=64, window="boxcar"),  # no overlap, still invertible
    dict(n_fft=256, hop_length=64, window="hamming", center=False),
    dict(n_fft=128, hop_length=48, window=("tukey", 0.5), center=True),
    dict(n_fft=64, hop_length=64, window="boxcar", center=False),
]


@pytest.mark.parametrize("params", ROUND_TRIP_PARAMS, ids=str)
@pytest.mark.parametrize("n_samples", [3000, 2048, 1, 37])
def test_round_trip(rng, params, n_samples):
    X = _signals(rng, (2, 2, n_samples))
    spec = STFT(**params).fit_transform(X)
    assert spec.shape[:2] == (2, 2)
    assert spec.shape[-2] == params["n_fft"] // 2 + 1
    assert spec.shape[-1] == n_frames(n_samples, **spec.params)
    back = InverseSTFT().fit_transform(spec)
    assert isinstance(back, np.ndarray) and back.dtype == np.float32
    assert back.shape == X.shape
    assert _rel_err(back, X) <= RTOL


def test_round_trip_ragged_list_keeps_each_length(rng):
    lengths = [5000, 1, 300, 1024, 4096]
    X = [_signals(rng, (2, n)) for n in lengths]
    spec = STFT(n_fft=1024, hop_length=256).fit_transform(X)
    assert spec.lengths.tolist() == lengths
    assert spec.shape[-1] == max(spec.n_frames_per_track)
    for i, nf in enumerate(spec.n_frames_per_track):  # padding frames are zeros
        assert not np.any(spec.data[i, ..., nf:])
    back = InverseSTFT().transform(spec)
    assert isinstance(back, list) and [b.shape for b in back] == [(2, n) for n in lengths]
    for b, x in zip(back, X):
        assert _rel_err(b, x) <= RTOL


def test_ragged_track_equals_its_own_stft(rng):
    X = [_signals(rng, (1, 3000)), _signals(rng, (1, 700))]
    spec = STFT(n_fft=256).transform(X)
    alone = STFT(n_fft=256).transform([X[1]])
    nf = alone.shape[-1]
    np.testing.assert_allclose(spec.data[1, ..., :nf], alone.data[0], rtol=0, atol=1e-5)


def test_mono_inputs(rng):
    X2 = _signals(rng, (3, 2000))  # 2-D ndarray: (n_tracks, n_samples) mono tracks
    spec = STFT(n_fft=256).transform(X2)
    assert spec.shape[:2] == (3, 1)
    back = InverseSTFT().transform(spec)
    assert back.shape == (3, 1, 2000)
    assert _rel_err(back[:, 0], X2) <= RTOL
    # 1-D tracks inside a list are mono
    spec_list = STFT(n_fft=256).transform([X2[0], X2[1][np.newaxis]])
    assert spec_list.shape[:2] == (2, 1)
    np.testing.assert_array_equal(spec_list.data, spec.data[:2])


def test_separated_five_d_round_trip(rng):
    X = [_signals(rng, (2, 3000)), _signals(rng, (2, 2100))]
    spec = STFT(n_fft=512).transform(X)
    y = [_signals(rng, (2, 2, 3000)), _signals(rng, (2, 2, 2100))]  # (n_sources, n_ch, n)
    targets = spec.analyze_like(y)
    assert targets.shape == (2, 2, 2, 257, spec.shape[-1])
    sep = Spectrogram(targets, spec.lengths, spec.params, sources=("drums", "accompaniment"))
    assert sep.is_separated and sep.sources == ("drums", "accompaniment")
    back = InverseSTFT().transform(sep)
    assert [b.shape for b in back] == [(2, 2, 3000), (2, 2, 2100)]
    for b, t in zip(back, y):
        assert _rel_err(b, t) <= RTOL
    # equal lengths: one stacked array
    Xe = _signals(rng, (3, 1, 999))
    ye = _signals(rng, (3, 2, 1, 999))
    spec_e = STFT(n_fft=128).transform(Xe)
    back_e = InverseSTFT().transform(Spectrogram(spec_e.analyze_like(ye), spec_e.lengths, spec_e.params))
    assert back_e.shape == ye.shape and _rel_err(back_e, ye) <= RTOL


def test_analyze_like_equals_stft_of_same_waveforms(rng):
    X = _signals(rng, (2, 2, 1500))
    y = _signals(rng, (2, 3, 2, 1500))
    spec = STFT(n_fft=256, hop_length=96).transform(X)
    targets = spec.analyze_like(y)
    for s in range(3):
        np.testing.assert_array_equal(targets[:, s], STFT(n_fft=256, hop_length=96).transform(y[:, s]).data)
    # the mixture itself, analysed like itself, is itself
    np.testing.assert_array_equal(spec.analyze_like(X[:, np.newaxis])[:, 0], spec.data)
    # mono sources may be given as (n_sources, n_samples)
    Xm = _signals(rng, (2, 800))
    ym = _signals(rng, (2, 2, 800))
    spec_m = STFT(n_fft=128).transform(Xm)
    np.testing.assert_array_equal(spec_m.analyze_like(ym), spec_m.analyze_like(ym[:, :, np.newaxis]))


def test_analyze_like_errors(rng):
    spec = STFT(n_fft=128).transform(_signals(rng, (2, 2, 500)))
    with pytest.raises(ValueError, match="waveforms for 1 tracks"):
        spec.analyze_like(_signals(rng, (1, 2, 2, 500)))
    with pytest.raises(ValueError, match=r"y\[0\] must be \(n_sources, 2, 500\)"):
        spec.analyze_like(_signals(rng, (2, 2, 2, 499)))
    bad = _signals(rng, (2, 2, 2, 500))
    bad[1, 0, 0, 3] = np.nan
    with pytest.raises(ValueError, match=r"y\[1\] contains NaN"):
        spec.analyze_like(bad)
    with pytest.raises(ValueError, match="sources"):
        spec.analyze_like([_signals(rng, (2, 2, 500)), _signals(rng, (3, 2, 500))])


def test_inverse_of_plain_complex_array(rng):
    X = _signals(rng, (2, 1, 256 * 10))  # length that librosa's default istft length gives back
    spec = STFT(n_fft=1024, hop_length=256).transform(X)
    back = InverseSTFT(hop_length=256).transform(np.asarray(spec))
    assert back.shape == X.shape and _rel_err(back, X) <= RTOL
    back2 = InverseSTFT(n_fft=1024, hop_length=256).transform(spec.data)
    np.testing.assert_array_equal(back, back2)


@pytest.mark.parametrize("n_fft,hop,center", [(256, 64, True), (255, 64, True), (128, 100, True),
                                              (256, 64, False), (64, 64, False)])
def test_frame_count_and_default_length_agree(n_fft, hop, center):
    params = dict(n_fft=n_fft, hop_length=hop, center=center)
    for n in range(1, 700, 7):
        nf = n_frames(n, **params)
        pad = n_fft // 2 if center else 0
        # every sample lies under some frame, and the frames fit the padded signal
        assert (nf - 1) * hop + n_fft >= pad + n
        if center:
            assert nf >= 1 + max(0, n + 2 * pad - n_fft) // hop  # never fewer than librosa
    for nf in range(1, 20):
        spec = np.zeros((1, 1, n_fft // 2 + 1, nf), np.complex64)
        window = "boxcar" if hop > n_fft // 2 or not center else "hann"
        out = InverseSTFT(n_fft=n_fft, hop_length=hop, center=center, window=window).transform(spec)
        assert n_frames(out.shape[-1], **params) == nf


# --------------------------------------------------------------------------- #
# agreement with reference implementations
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("n_fft,hop,window,center", [(512, 128, "hann", True), (511, 100, "hann", True),
                                                     (256, 64, "hamming", False), (256, 256, "boxcar", True)])
def test_matches_librosa_pad_mode_constant(rng, n_fft, hop, window, center):
    librosa = pytest.importorskip("librosa")
    x = _signals(rng, 3001)
    ours = STFT(n_fft=n_fft, hop_length=hop, window=window, center=center).transform(x[np.newaxis]).data[0, 0]
    ref = librosa.stft(x, n_fft=n_fft, hop_length=hop, window=window, center=center, pad_mode="constant")
    # Difference (documented): we may add trailing frames so that every sample lies
    # under a frame (center=False tails; center=True with hop > n_fft // 2).
    assert ours.shape[1] >= ref.shape[1]
    assert ours.shape[1] - ref.shape[1] <= 1
    np.testing.assert_allclose(ours[:, : ref.shape[1]], ref, rtol=0, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("window", ["hann", "hamming"])
def test_matches_scipy_signal_stft(rng, window):
    n_fft, hop = 256, 64
    x = _signals(rng, 3001)
    win = scipy.signal.get_window(window, n_fft)
    # center=False <-> boundary=None, padded=True (same frames, same count)
    ours = STFT(n_fft=n_fft, hop_length=hop, window=window, center=False).transform(x[np.newaxis]).data[0, 0]
    _, _, ref = scipy.signal.stft(x, window=window, nperseg=n_fft, noverlap=n_fft - hop,
                                  boundary=None, padded=True)
    ref = ref * win.sum()  # scipy's default scaling="spectrum" divides by sum(window)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-4 * np.abs(ref).max())
    # center=True <-> boundary="zeros"; scipy may pad one more frame at the end
    ours = STFT(n_fft=n_fft, hop_length=hop, window=window).transform(x[np.newaxis]).data[0, 0]
    _, _, ref = scipy.signal.stft(x, window=window, nperseg=n_fft, noverlap=n_fft - hop,
                                  boundary="zeros", padded=True)
    ref = ref * win.sum()
    k = min(ours.shape[1], ref.shape[1])
    np.testing.assert_allclose(ours[:, :k], ref[:, :k], rtol=0, atol=1e-4 * np.abs(ref).max())


# --------------------------------------------------------------------------- #
# the Spectrogram container
# --------------------------------------------------------------------------- #
def test_spectrogram_indexing_keeps_lengths_and_params(rng):
    X = [_signals(rng, (1, n)) for n in (1000, 2000, 1500, 800)]
    spec = STFT(n_fft=256, hop_length=64, sample_rate=8000).transform(X)
    for key, idx in [(slice(1, 3), [1, 2]), ([0, 2], [0, 2]), (np.array([True, False, False, True]), [0, 3]),
                     (-1, [3])]:
        sub = spec[key]
        assert isinstance(sub, Spectrogram)
        assert sub.lengths.tolist() == [X[i].shape[1] for i in idx]
        assert sub.params == spec.params and sub.sample_rate == 8000
        np.testing.assert_array_equal(sub.data, spec.data[idx])
        back = InverseSTFT().transform(sub)
        for b, i in zip(back if isinstance(back, list) else list(back), idx):
            assert _rel_err(b, X[i]) <= RTOL
    assert isinstance(spec[0, 0], np.ndarray)  # tuple keys index the raw data
    assert spec.shape == spec.data.shape and len(spec) == 4 and spec.ndim == 4
    assert spec.dtype == np.complex64
    assert np.asarray(spec) is spec.data
    assert np.array(spec, copy=True) is not spec.data
    assert "Spectrogram" in repr(spec) and not spec.is_separated
    stft = spec.make_stft()
    assert isinstance(stft, STFT) and stft.get_params()["sample_rate"] == 8000
    np.testing.assert_array_equal(stft.transform(X).data, spec.data)


def test_spectrogram_validates_its_parts(rng):
    spec = STFT(n_fft=256, hop_length=64).transform(_signals(rng, (2, 1, 1000)))
    with pytest.raises(ValueError, match="2 tracks but lengths has 3"):
        Spectrogram(spec.data, [1000, 1000, 1000], spec.params)
    with pytest.raises(ValueError, match="129 frequency bins but data has 128"):
        Spectrogram(spec.data[..., :128, :], spec.lengths, spec.params)
    with pytest.raises(ValueError, match="needs 16 frames"):
        Spectrogram(spec.data[..., :10], spec.lengths, spec.params)
    with pytest.raises(ValueError, match="n_bins, n_frames"):
        Spectrogram(spec.data[0], [1000], spec.params)
    with pytest.raises(ValueError, match="lacks"):
        Spectrogram(spec.data, spec.lengths, {"n_fft": 256})
    with pytest.raises(ValueError, match="sources"):
        Spectrogram(spec.data, spec.lengths, spec.params, sources=("drums",))


def test_spectrogram_pickles(rng):
    spec = STFT(n_fft=128, sample_rate=44100).transform([_signals(rng, (1, 500)), _signals(rng, (1, 300))])
    again = pickle.loads(pickle.dumps(spec))
    np.testing.assert_array_equal(again.data, spec.data)
    assert again.lengths.tolist() == [500, 300] and again.params == spec.params


# --------------------------------------------------------------------------- #
# determinism, memory
# --------------------------------------------------------------------------- #
def test_deterministic(rng):
    X = _signals(rng, (3, 2, 4000))
    a, b = STFT().transform(X), STFT().transform(X.copy())
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(InverseSTFT().transform(a), InverseSTFT().transform(b))


def test_input_dtypes_and_no_needless_copies(rng):
    X = _signals(rng, (4, 2, 1 << 15))
    tracks = as_waveforms(X)
    assert all(np.shares_memory(t, X) for t in tracks)  # float32 input: views
    X_before = X.copy()
    tracemalloc.start()
    try:
        spec = STFT(n_fft=1024, hop_length=256).transform(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert spec.data.flags.c_contiguous and spec.data.dtype == np.complex64
    # the output, plus one padded float32 copy of a chunk of the input, and little else
    assert peak <= spec.data.nbytes + 1.2 * X.nbytes, (peak, spec.data.nbytes, X.nbytes)
    np.testing.assert_array_equal(X, X_before)  # input untouched
    # float64 and integer input give the same result as float32 (no rescaling)
    np.testing.assert_allclose(STFT(n_fft=1024, hop_length=256).transform(X.astype(np.float64)).data,
                               spec.data, atol=1e-6)
    Xi = (X[:1] * 1000).astype(np.int16)
    np.testing.assert_allclose(STFT(n_fft=1024).transform(Xi).data,
                               STFT(n_fft=1024).transform(Xi.astype(np.float32)).data)
    # read-only input (e.g. a joblib memmap) works without warnings
    X.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        InverseSTFT().transform(STFT().transform(X))
    ro = STFT(n_fft=256).transform(X[:1])
    ro.data.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        InverseSTFT().transform(ro)


# --------------------------------------------------------------------------- #
# bad inputs, clear messages
# --------------------------------------------------------------------------- #
def test_bad_waveforms(rng):
    stft = STFT(n_fft=64)
    good = _signals(rng, (2, 1, 100))
    cases = [
        (good.copy(), "NaN", lambda a: a.__setitem__((1, 0, 5), np.nan), r"X\[1\] contains NaN"),
        (good.copy(), "inf", lambda a: a.__setitem__((0, 0, 5), np.inf), r"X\[0\] contains NaN or infinite"),
    ]
    for arr, _, spoil, msg in cases:
        spoil(arr)
        with pytest.raises(ValueError, match=msg):
            stft.fit(arr)
        with pytest.raises(ValueError, match=msg):
            stft.transform(arr)
    with pytest.raises(ValueError, match=r"X\[1\] contains NaN"):
        stft.transform([good[0], np.array([[0.0, np.nan]])])
    with pytest.raises(ValueError, match="float32 range"):
        stft.transform(np.full((1, 1, 10), 1e300))
    with pytest.raises(ValueError, match=r"1-D array of shape \(100,\).*X\[np.newaxis\]"):
        stft.transform(good[0, 0])
    with pytest.raises(ValueError, match="4-D array"):
        stft.transform(good[np.newaxis])
    with pytest.raises(ValueError, match="0-D"):
        stft.transform(np.float32(1.0))
    with pytest.raises(ValueError, match="holds no tracks"):
        stft.transform([])
    with pytest.raises(ValueError, match="holds no tracks"):
        stft.transform(np.zeros((0, 1, 10)))
    with pytest.raises(ValueError, match="empty"):
        stft.transform(np.zeros((2, 1, 0)))
    with pytest.raises(ValueError, match="empty"):
        stft.transform([np.zeros((1, 10)), np.zeros((1, 0))])
    with pytest.raises(ValueError, match="no channels"):
        stft.transform(np.zeros((2, 0, 10)))
    with pytest.raises(ValueError, match=r"same number of channels; got \[1, 2\]"):
        stft.transform([np.zeros((1, 10)), np.zeros((2, 10))])
    with pytest.raises(ValueError, match=r"X\[0\] must be \(n_channels, n_samples\)"):
        stft.transform([np.zeros((1, 2, 10))])
    with pytest.raises(ValueError, match="Complex data not supported"):
        stft.transform(good.astype(np.complex64))
    with pytest.raises(ValueError, match="real numbers"):
        stft.transform(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="already a Spectrogram"):
        stft.transform(stft.transform(good))
    # object arrays: numbers are numbers, ragged 1-D object arrays are lists of tracks
    np.testing.assert_array_equal(stft.transform(good.astype(object)).data, stft.transform(good).data)
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.zeros((1, 50)), np.ones((1, 70))
    assert stft.transform(ragged).lengths.tolist() == [50, 70]
    junk = good.astype(object)
    junk[0, 0, 0] = {"a": 1}
    with pytest.raises(TypeError, match="argument must be"):
        stft.transform(junk)
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="sparse input is not supported"):
        stft.transform(sparse.csr_matrix(good[:, 0]))


@pytest.mark.parametrize(
    "params,msg",
    [
        (dict(n_fft=1024.0), "n_fft must be an integer"),
        (dict(n_fft="1024"), "n_fft must be an integer"),
        (dict(n_fft=1), "n_fft must be an integer >= 2"),
        (dict(n_fft=True), "n_fft must be an integer"),
        (dict(n_fft=256, hop_length=0), "hop_length must be a positive integer"),
        (dict(n_fft=256, hop_length=64.0), "hop_length must be a positive integer"),
        (dict(n_fft=256, hop_length=300), "hop_length=300 > n_fft=256"),
        (dict(n_fft=256, window="nope"), "not a window scipy knows"),
        (dict(n_fft=256, hop_length=256, window="hann"), "NOLA"),
        (dict(n_fft=256, hop_length=200, window=("tukey", 0.1)), None),  # invertible: no error
        (dict(n_fft=256, center="yes"), "center must be True or False"),
        (dict(n_fft=256, sample_rate=0), "sample_rate must be a positive integer"),
        (dict(n_fft=256, sample_rate=44100.0), "sample_rate must be a positive integer"),
    ],
    ids=str,
)
def test_bad_parameters_are_reported_at_fit_and_transform(rng, params, msg):
    X = _signals(rng, (1, 1, 500))
    stft = STFT(**params)  # __init__ never validates (scikit-learn convention)
    if msg is None:
        stft.fit(X)
        assert _rel_err(InverseSTFT().transform(stft.transform(X)), X) <= RTOL
        return
    with pytest.raises(ValueError, match=msg):
        stft.fit(X)
    with pytest.raises(ValueError, match=msg):
        stft.transform(X)


def test_boxcar_without_overlap_is_invertible_but_hann_is_not(rng):
    X = _signals(rng, (1, 1, 1000))
    spec = STFT(n_fft=100, hop_length=100, window="boxcar").transform(X)
    assert _rel_err(InverseSTFT().transform(spec), X) <= RTOL
    with pytest.raises(ValueError, match="cannot be inverted"):
        STFT(n_fft=100, hop_length=100, window="hann").transform(X)
    # hann with hop 60 of 100 overlaps enough (sum of squared windows > 0 everywhere)
    assert _rel_err(InverseSTFT().transform(STFT(n_fft=100, hop_length=60).transform(X)), X) <= RTOL


def test_center_false_with_vanishing_window_warns(rng):
    X = _signals(rng, (1, 1, 1000))
    spec = STFT(n_fft=128, hop_length=32, window="hann", center=False).transform(X)
    with pytest.warns(UserWarning, match="sample.*at the track edges"):
        back = InverseSTFT().transform(spec)
    # the interior is exact; only the edges under the window's zeros are lost
    assert _rel_err(back[..., 32:-32], X[..., 32:-32]) <= RTOL


def test_bad_spectrograms(rng):
    inv = InverseSTFT()
    spec = STFT(n_fft=256).transform(_signals(rng, (2, 1, 1000)))
    with pytest.raises(ValueError, match="complex array"):
        inv.transform(np.abs(spec.data))  # real array
    with pytest.raises(ValueError, match="complex array"):
        inv.transform(_signals(rng, (10, 3)))  # a 2-D feature matrix
    with pytest.raises(ValueError, match="complex array"):
        inv.fit(_signals(rng, (10, 3)))
    with pytest.raises(ValueError, match="complex array"):
        inv.transform(spec.data[0])  # 3-D
    with pytest.raises(ValueError, match="n_fft=512 gives 257 frequency bins but the data has 129"):
        InverseSTFT(n_fft=512).transform(spec.data)
    with pytest.raises(ValueError, match="cannot invert a Spectrogram made with n_fft=256"):
        InverseSTFT(n_fft=512).transform(spec)
    with pytest.raises(ValueError, match="hop_length=64"):  # n_fft // 4, the default
        InverseSTFT(hop_length=100).transform(spec)
    bad = spec.data.copy()
    bad[1, 0, 3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        inv.transform(Spectrogram(bad, spec.lengths, spec.params))
    with pytest.raises(ValueError, match="must be complex"):
        inv.transform(Spectrogram(spec.data.real, spec.lengths, spec.params))
    with pytest.raises(ValueError, match="NOLA"):
        InverseSTFT(hop_length=256).transform(spec.data)
    with pytest.raises(ValueError, match="n_fft must be an integer"):
        InverseSTFT(n_fft=256.0).fit()


# --------------------------------------------------------------------------- #
# scikit-learn API
# --------------------------------------------------------------------------- #
def test_get_params_clone_and_stateless(rng):
    stft = STFT(n_fft=2048, hop_length=512, window=("tukey", 0.25), center=False, sample_rate=44100)
    assert stft.get_params() == dict(n_fft=2048, hop_length=512, window=("tukey", 0.25),
                                     center=False, sample_rate=44100)
    twin = clone(stft)
    assert twin is not stft and twin.get_params() == stft.get_params()
    inv = InverseSTFT(n_fft=1024)
    assert clone(inv).get_params() == dict(n_fft=1024, hop_length=None, window="hann", center=True)
    X = _signals(rng, (1, 2, 3000))
    np.testing.assert_array_equal(stft.transform(X).data, clone(stft).fit(X).transform(X).data)
    fitted = STFT(n_fft=512).fit(X)
    assert fitted.params_["hop_length"] == 128 and fitted.n_channels_ == 2  # n_fft // 4


def test_pickle_estimators(rng):
    X = _signals(rng, (2, 1, 2000))
    stft = pickle.loads(pickle.dumps(STFT(n_fft=512, sample_rate=22050).fit(X)))
    inv = pickle.loads(pickle.dumps(InverseSTFT().fit()))
    assert stft.params_["sample_rate"] == 22050
    assert _rel_err(inv.transform(stft.transform(X)), X) <= RTOL


def test_pickles_of_0_1_keep_half_overlap(rng):
    """Pickles of sklearn-vpnn 0.1 carry no hop rule: their ``hop_length=None`` meant ``n_fft // 2``."""
    for step in (STFT(n_fft=512), InverseSTFT(n_fft=512)):
        old = step.__getstate__()
        old.pop("_hop_rule")  # as 0.1 pickled it
        legacy = type(step).__new__(type(step))
        legacy.__setstate__(old)
        assert legacy.hop_length == 256
        assert pickle.loads(pickle.dumps(step)).hop_length is None  # this release's pickles: the new rule
    assert STFT()._params()["hop_length"] == 1024 and STFT().n_fft == 4096  # the default: n_fft // 4


def test_pipeline_gives_back_X(rng):
    X = _signals(rng, (3, 2, 5000))
    pipe = make_pipeline(STFT(), InverseSTFT())
    back = pipe.fit(X).transform(X)
    assert back.shape == X.shape and _rel_err(back, X) <= RTOL
    assert _rel_err(pipe.fit_transform(X), X) <= RTOL
    pipe.set_params(stft__n_fft=256, stft__hop_length=64)  # one grid parameter drives both steps
    assert _rel_err(pipe.transform(X), X) <= RTOL
    Xr = [_signals(rng, (2, n)) for n in (4000, 1234)]
    for b, x in zip(pipe.fit_transform(Xr), Xr):
        assert b.shape == x.shape and _rel_err(b, x) <= RTOL
    assert _rel_err(pickle.loads(pickle.dumps(pipe)).transform(X), X) <= RTOL


def test_half_overlap_covers_every_track_end(rng):
    """With hop n_fft // 2 (the default before 0.2) the last frame's window ends near zero; for
    lengths just short of a multiple of the hop an extra frame keeps the end accurate and quiet."""
    for n in [2 * 512 - 1, 5 * 512 - 20, 5 * 512 - 33, 5 * 512, 5 * 512 + 1, 7000]:
        X = _signals(rng, (1, 2, n))
        spec = STFT(n_fft=1024, hop_length=512).fit_transform(X)
        assert spec.shape[-1] >= 1 + n // 512  # never fewer frames than librosa
        masked = Spectrogram(spec.data[:, None] * np.array([0.25, 0.75])[None, :, None, None, None],
                             spec.lengths, spec.params)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "track edges ... (nearly) zero" warning
            back = InverseSTFT().fit_transform(masked)
        np.testing.assert_allclose(back.sum(axis=1), X, atol=1e-4)
