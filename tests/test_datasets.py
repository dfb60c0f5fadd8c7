"""Tests for sklearn_vpnn.datasets.

The MUSDB18 tests read real audio from ``$MUSDB_PATH`` (CI: ../shared/data/musdb18-7)
and are skipped, saying so, when it is absent. Nothing here copies that audio.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sklearn.pipeline import make_pipeline

from sklearn_vpnn import STFT, InverseSTFT, VPNNSeparator, load_dsd100, load_musdb, make_drum_mixtures
from sklearn_vpnn.datasets import _base, _musdb

STEMS = ("drums", "bass", "other", "vocals")


# ------------------------------------------------------------------ synthetic data
@pytest.fixture(scope="module")
def synth():
    return make_drum_mixtures(n_tracks=6, duration=3.0, sample_rate=22050, random_state=0)


def test_synthetic_shapes_and_fields(synth):
    assert synth.X.shape == (6, 1, 66150) and synth.X.dtype == np.float32
    assert synth.y.shape == (6, 2, 1, 66150) and synth.y.dtype == np.float32
    assert synth.sources == ("drums", "accompaniment")
    assert synth.track_names == [f"synthetic-{i:03d}" for i in range(6)]
    assert synth.sample_rate == 22050
    assert "Synthetic" in synth.DESCR


def test_synthetic_mixture_is_exact_sum_and_peak_below_one(synth):
    np.testing.assert_array_equal(synth.X, synth.y.sum(axis=1))
    peaks = np.abs(synth.X).max(axis=(1, 2))
    assert np.all(peaks < 1.0) and np.all(peaks > 0.5)


def test_synthetic_sources_are_not_silent(synth):
    rms = np.sqrt((synth.y**2).mean(axis=(2, 3)))
    assert np.all(rms > 1e-3)


def test_synthetic_is_deterministic():
    a = make_drum_mixtures(n_tracks=2, duration=1.0, random_state=42)
    b = make_drum_mixtures(n_tracks=2, duration=1.0, random_state=42)
    c = make_drum_mixtures(n_tracks=2, duration=1.0, random_state=43)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.allclose(a.X, c.X)
    # track i only depends on the seed and i
    d = make_drum_mixtures(n_tracks=3, duration=1.0, random_state=42)
    np.testing.assert_array_equal(a.y, d.y[:2])
    # a RandomState instance works too
    e = make_drum_mixtures(n_tracks=2, duration=1.0, random_state=np.random.RandomState(42))
    np.testing.assert_array_equal(a.y, e.y)


def test_synthetic_tracks_differ(synth):
    assert not np.allclose(synth.X[0], synth.X[1])


def _hf_fraction(x, sr, cutoff=4000.0):
    power = np.abs(np.fft.rfft(x, axis=-1)) ** 2
    freqs = np.fft.rfftfreq(x.shape[-1], 1 / sr)
    return power[..., freqs > cutoff].sum() / power.sum()


def _envelope_variation(x, hop=110):
    """Coefficient of variation of the 5-ms RMS envelope: high for percussive sources."""
    n = x.shape[-1] // hop
    env = np.sqrt((x[..., : n * hop].reshape(-1, n, hop) ** 2).mean(axis=(0, 2))) + 1e-9
    return env.std() / env.mean()


def test_drums_are_brighter_and_more_transient(synth):
    sr = synth.sample_rate
    for drums, acc in synth.y:
        assert _hf_fraction(drums, sr) > 3 * _hf_fraction(acc, sr)
        assert _envelope_variation(drums) > _envelope_variation(acc)


def test_accompaniment_shares_the_kick_range(synth):
    # bass and kick overlap below 150 Hz: both sources have real energy there
    sr = synth.sample_rate
    for drums, acc in synth.y:
        for source in (drums, acc):
            power = np.abs(np.fft.rfft(source, axis=-1)) ** 2
            freqs = np.fft.rfftfreq(source.shape[-1], 1 / sr)
            assert power[..., (freqs > 35) & (freqs < 150)].sum() / power.sum() > 0.02


def test_synthetic_stereo_is_panned():
    data = make_drum_mixtures(n_tracks=2, duration=1.0, n_channels=2, sample_rate=16000, random_state=0)
    assert data.X.shape == (2, 2, 16000) and data.y.shape == (2, 2, 2, 16000)
    np.testing.assert_array_equal(data.X, data.y.sum(axis=1))
    assert not np.allclose(data.X[:, 0], data.X[:, 1])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_tracks=0), "n_tracks"),
        (dict(n_tracks=2.5), "n_tracks"),
        (dict(duration=0), "duration"),
        (dict(duration=-1.0), "duration"),
        (dict(duration=float("nan")), "duration"),
        (dict(sample_rate=0), "sample_rate"),
        (dict(sample_rate=22050.5), "sample_rate"),
        (dict(sample_rate=4000), "sample_rate"),
        (dict(n_channels=3), "n_channels"),
        (dict(n_channels=0), "n_channels"),
    ],
)
def test_synthetic_bad_args(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_drum_mixtures(**kwargs)


# ------------------------------------------------------------------ helpers
def test_stack_or_list():
    same = _base._stack_or_list([np.zeros((2, 5)), np.ones((2, 5))])
    assert isinstance(same, np.ndarray) and same.shape == (2, 2, 5) and same.dtype == np.float32
    ragged = _base._stack_or_list([np.zeros((2, 5)), np.ones((2, 4))])
    assert isinstance(ragged, list) and [a.shape for a in ragged] == [(2, 5), (2, 4)]


# ------------------------------------------------------------------ DSD100 layout
SR_DSD = 8000


@pytest.fixture
def dsd100(tmp_path):
    """A tiny DSD100-shaped folder of synthetic noise (3 Dev songs, 1 Test song)."""
    rng = np.random.default_rng(0)
    songs = {"Dev": ["051 - A", "052 - B", "053 - C"], "Test": ["001 - D"]}
    truth = {}
    for subset, names in songs.items():
        for name in names:
            stems = {s: (0.1 * rng.standard_normal((SR_DSD, 2))).astype(np.float32) for s in STEMS}
            truth[name] = stems
            src = tmp_path / "Sources" / subset / name
            mix = tmp_path / "Mixtures" / subset / name
            src.mkdir(parents=True)
            mix.mkdir(parents=True)
            for s, audio in stems.items():
                sf.write(src / f"{s}.wav", audio, SR_DSD, subtype="FLOAT")
            stored = sum(stems.values()) * 0.9  # a "mastered" mix that differs from the sum
            sf.write(mix / "mixture.wav", stored, SR_DSD, subtype="FLOAT")
    return tmp_path, truth


def test_dsd100_reads_layout(dsd100):
    root, truth = dsd100
    data = load_dsd100(root)
    assert data.track_names == ["051 - A", "052 - B", "053 - C"]
    assert data.sources == ("drums", "accompaniment")
    assert data.sample_rate == SR_DSD
    assert data.X.shape == (3, 2, SR_DSD) and data.y.shape == (3, 2, 2, SR_DSD)
    for i, name in enumerate(data.track_names):
        stems = {s: a.T for s, a in truth[name].items()}
        np.testing.assert_array_equal(data.y[i, 0], stems["drums"])
        np.testing.assert_allclose(data.y[i, 1], stems["bass"] + stems["other"] + stems["vocals"], atol=1e-6)
    np.testing.assert_array_equal(data.X, data.y.sum(axis=1))


def test_dsd100_options(dsd100):
    root, truth = dsd100
    data = load_dsd100(root, subsets=("Dev", "Test"), targets=("vocals", "bass"), duration=0.5,
                       offset=0.25, mono=True, sample_rate=4000)
    assert data.track_names[-1] == "001 - D"
    assert data.sources == ("vocals", "bass", "accompaniment")
    assert data.sample_rate == 4000
    assert data.X.shape == (4, 1, 2000) and data.y.shape == (4, 3, 1, 2000)
    # cropping without resampling is exact
    data = load_dsd100(root, subsets="Test", targets="drums", duration=0.5, offset=0.25)
    np.testing.assert_array_equal(data.y[0, 0], truth["001 - D"]["drums"][2000:6000].T)


def test_dsd100_all_targets_no_accompaniment(dsd100):
    root, _ = dsd100
    data = load_dsd100(root, targets=STEMS)
    assert data.sources == STEMS and data.y.shape[1] == 4


def test_dsd100_stored_mixture(dsd100):
    root, truth = dsd100
    data = load_dsd100(root, mixture="stored")
    np.testing.assert_allclose(data.X, 0.9 * data.y.sum(axis=1), atol=1e-5)


def test_dsd100_ragged_lengths_give_lists(dsd100):
    root, truth = dsd100
    song = root / "Sources" / "Dev" / "052 - B"
    for s in STEMS:
        sf.write(song / f"{s}.wav", truth["052 - B"][s][:6000], SR_DSD, subtype="FLOAT")
    data = load_dsd100(root)
    assert isinstance(data.X, list) and isinstance(data.y, list)
    assert [x.shape for x in data.X] == [(2, 8000), (2, 6000), (2, 8000)]
    assert data.y[1].shape == (2, 2, 6000)


def test_dsd100_errors(dsd100, tmp_path):
    root, _ = dsd100
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_dsd100(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="subsets"):
        load_dsd100(root, subsets="train")
    with pytest.raises(ValueError, match="Unknown target 'piano'"):
        load_dsd100(root, targets=("drums", "piano"))
    with pytest.raises(ValueError, match="added automatically"):
        load_dsd100(root, targets=("drums", "accompaniment"))
    with pytest.raises(ValueError, match="mixture"):
        load_dsd100(root, mixture="mastered")
    with pytest.raises(ValueError, match="duration"):
        load_dsd100(root, duration=0)
    with pytest.raises(ValueError, match="offset"):
        load_dsd100(root, offset=-1)
    with pytest.raises(ValueError, match="offset"):
        load_dsd100(root, offset=5.0)  # beyond the 1-s songs
    (root / "Sources" / "Dev" / "053 - C" / "bass.wav").unlink()
    with pytest.raises(FileNotFoundError, match="bass.wav"):
        load_dsd100(root)



# ------------------------------------------------------------------ DSD100-like folders in FLAC
@pytest.fixture
def flac_folder(tmp_path):
    """A DSD100-like folder with FLAC stems and no mixture files (as MDB Drums): two Dev
    songs of different lengths."""
    rng = np.random.default_rng(1)
    truth = {}
    for name, n in (("Song A", SR_DSD), ("Song B", SR_DSD // 2)):
        song = tmp_path / "Sources" / "Dev" / name
        song.mkdir(parents=True)
        for s in STEMS:
            sf.write(song / f"{s}.flac", 0.1 * rng.standard_normal((n, 2)), SR_DSD, subtype="PCM_24")
            truth.setdefault(name, {})[s] = sf.read(song / f"{s}.flac", dtype="float32", always_2d=True)[0].T
    return tmp_path, truth


def test_dsd100_reads_flac_stems_without_mixture_files(flac_folder):
    root, truth = flac_folder
    data = load_dsd100(root)
    assert data.track_names == ["Song A", "Song B"] and data.sample_rate == SR_DSD
    assert [x.shape for x in data.X] == [(2, SR_DSD), (2, SR_DSD // 2)]
    for x, y, name in zip(data.X, data.y, data.track_names):
        stems = truth[name]
        np.testing.assert_array_equal(y[0], stems["drums"])
        np.testing.assert_allclose(y[1], stems["bass"] + stems["other"] + stems["vocals"], atol=1e-6)
        np.testing.assert_array_equal(x, y.sum(axis=0))
    with pytest.raises(FileNotFoundError, match="mixture.wav or mixture.flac"):
        load_dsd100(root, mixture="stored")
    # a song may mix formats; WAV wins where both exist
    sf.write(root / "Sources" / "Dev" / "Song B" / "drums.wav", np.zeros((SR_DSD // 2, 2)), SR_DSD)
    assert not load_dsd100(root).y[1][0].any()


def test_two_datasets_train_one_pipeline(flac_folder):
    # what load_dsd100's docstring advises: concatenate the X and y lists of two Bunches
    root, _ = flac_folder
    a = load_dsd100(root)
    b = make_drum_mixtures(n_tracks=2, duration=0.75, sample_rate=SR_DSD, n_channels=2, random_state=0)
    assert a.sources == b.sources and a.sample_rate == b.sample_rate
    X, y = list(a.X) + list(b.X), list(a.y) + list(b.y)
    pipe = make_pipeline(STFT(n_fft=256), VPNNSeparator(hidden_units=16, n_layers=1, max_epochs=1,
                                                        batch_size=64, random_state=0), InverseSTFT())
    out = pipe.fit(X, y).transform(X)
    assert [o.shape for o in out] == [yi.shape for yi in y]


# ------------------------------------------------------------------ MUSDB18 (no audio needed)
def test_musdb_without_root_or_env(monkeypatch):
    monkeypatch.delenv("MUSDB_PATH", raising=False)
    with pytest.raises(ValueError, match="MUSDB_PATH"):
        load_musdb()


def test_musdb_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="not-here"):
        load_musdb(tmp_path / "not-here")


def test_musdb_missing_ffmpeg(monkeypatch, tmp_path):
    (tmp_path / "train").mkdir()
    monkeypatch.setattr(_musdb.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install ffmpeg"):
        load_musdb(tmp_path)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(targets=("drums", "guitar")), "guitar"),
        (dict(targets=()), "at least one"),
        (dict(targets=("drums", "drums")), "repeat"),
        (dict(split="test"), "split"),
        (dict(subsets="test", split="valid"), "split"),
        (dict(subsets="dev"), "subsets"),
        (dict(mixture="aac"), "mixture"),
        (dict(sample_rate=-1), "sample_rate"),
    ],
)
def test_musdb_bad_args(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_musdb(tmp_path, **kwargs)


def test_musdb_empty_folder(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(ValueError, match="No tracks"):
        load_musdb(tmp_path)


# ------------------------------------------------------------------ MUSDB18 (real audio)
@pytest.fixture(scope="module")
def musdb_valid(musdb_root):
    return load_musdb(musdb_root, split="valid", duration=2.0)


@pytest.mark.musdb
def test_musdb_valid_split(musdb_valid):
    data = musdb_valid
    assert data.sources == ("drums", "accompaniment")
    assert len(data.track_names) == 14 and data.sample_rate == 44100
    assert data.X.shape == (14, 2, 88200) and data.y.shape == (14, 2, 2, 88200)
    assert data.X.dtype == np.float32 and data.y.dtype == np.float32
    np.testing.assert_allclose(data.y.sum(axis=1), data.X, atol=1e-6)
    drums_rms = np.sqrt((data.y[:, 0] ** 2).mean(axis=(1, 2)))
    assert np.all(drums_rms > 1e-3), dict(zip(data.track_names, drums_rms))


@pytest.mark.musdb
def test_musdb_stored_mixture_differs_but_correlates(musdb_root, musdb_valid):
    stored = load_musdb(musdb_root, split="valid", duration=2.0, mixture="stored")
    assert stored.track_names == musdb_valid.track_names
    np.testing.assert_array_equal(stored.y, musdb_valid.y)
    assert not np.allclose(stored.X, musdb_valid.X, atol=1e-4)
    for a, b in zip(stored.X, musdb_valid.X):
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9


@pytest.mark.musdb
def test_musdb_targets_resample_mono(musdb_root, musdb_valid):
    data = load_musdb(musdb_root, split="valid", targets=("vocals", "drums"), duration=1.0,
                      offset=1.0, sample_rate=16000, mono=True)
    assert data.sources == ("vocals", "drums", "accompaniment")
    assert data.sample_rate == 16000
    assert data.X.shape == (14, 1, 16000) and data.y.shape == (14, 3, 1, 16000)
    np.testing.assert_allclose(data.y.sum(axis=1), data.X, atol=1e-6)


# ------------------------------------------------------------------ MDB Drums (real audio, FLAC)
@pytest.fixture(scope="module")
def mdb_drums_root():
    """The MDB Drums multitracks: ``$MDB_DRUMS_PATH``, else ``mdb-drums`` beside ``$MUSDB_PATH``."""
    root = os.environ.get("MDB_DRUMS_PATH")
    if not root and os.environ.get("MUSDB_PATH"):
        root = Path(os.environ["MUSDB_PATH"]).expanduser().parent / "mdb-drums"
    if not root:
        pytest.skip("neither MDB_DRUMS_PATH nor MUSDB_PATH set; CI has ../shared/data/mdb-drums")
    root = Path(root).expanduser()
    if not (root / "Sources" / "Dev").is_dir():
        pytest.skip(f"no MDB Drums folder (Sources/Dev/) at {root}; set MDB_DRUMS_PATH")
    return root


@pytest.mark.musdb
def test_load_dsd100_reads_mdb_drums(mdb_drums_root):
    data = load_dsd100(mdb_drums_root, duration=1.0, offset=5.0)
    assert len(data.track_names) == 13 and data.sample_rate == 44100
    assert data.sources == ("drums", "accompaniment")
    assert data.X.shape == (13, 2, 44100) and data.y.shape == (13, 2, 2, 44100)
    np.testing.assert_allclose(data.y.sum(axis=1), data.X, atol=1e-6)
    drums_rms = np.sqrt((data.y[:, 0] ** 2).mean(axis=(1, 2)))
    assert np.all(drums_rms > 1e-4), dict(zip(data.track_names, drums_rms))
