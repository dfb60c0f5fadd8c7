"""make_sampled_drum_mixtures: Hydrogen kits read, grooves played, real accompaniment kept."""

import sys

import numpy as np
import pytest
import soundfile as sf

from sklearn_vpnn import make_drum_mixtures, make_sampled_drum_mixtures
from sklearn_vpnn.datasets._kits import _Kit, _read_kit, _voice_of, find_kits

_NS = 'xmlns="http://www.hydrogen-music.org/drumkit"'


def _tone(sr, seconds, freq, decay, rng, noise=0.0, channels=1):
    t = np.arange(int(seconds * sr)) / sr
    x = (np.sin(2 * np.pi * freq * t) + noise * rng.standard_normal(t.size)) * np.exp(-t / decay)
    x = 0.8 * x / np.max(np.abs(x))
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def _write_layered_kit(folder, sr=48000):
    """A kit in the layered format (namespaced XML), with 48 kHz WAV and a stereo FLAC."""
    rng = np.random.RandomState(0)
    folder.mkdir()
    sf.write(folder / "kick_soft.wav", 0.3 * _tone(sr, 0.3, 60, 0.1, rng), sr)
    sf.write(folder / "kick_hard.wav", _tone(sr, 0.3, 60, 0.1, rng), sr)
    sf.write(folder / "snare.flac", _tone(sr, 0.2, 200, 0.05, rng, noise=2.0, channels=2), sr)
    sf.write(folder / "hat.wav", _tone(sr, 0.1, 9000, 0.02, rng, noise=1.0), sr)
    sf.write(folder / "cowbell.wav", _tone(sr, 0.2, 800, 0.1, rng), sr)
    (folder / "drumkit.xml").write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<drumkit_info {_NS}><name>Test Layered</name><instrumentList>
 <instrument><id>0</id><name>Kick</name><volume>1</volume>
  <layer><filename>kick_soft.wav</filename><min>0</min><max>0.5</max><gain>1</gain></layer>
  <layer><filename>kick_hard.wav</filename><min>0.5</min><max>1</max><gain>1</gain></layer>
 </instrument>
 <instrument><id>1</id><name>Snare Rock</name><volume>0.9</volume>
  <layer><filename>snare.flac</filename><min>0</min><max>1</max><gain>1</gain></layer></instrument>
 <instrument><id>2</id><name>Closed HH</name><volume>1</volume>
  <layer><filename>hat.wav</filename><min>0</min><max>1</max><gain>1</gain></layer></instrument>
 <instrument><id>3</id><name>Cowbell</name><volume>1</volume>
  <layer><filename>cowbell.wav</filename><min>0</min><max>1</max><gain>1</gain></layer></instrument>
 <instrument><id>4</id><name>Tom Low</name><volume>1</volume>
  <layer><filename>missing.wav</filename><min>0</min><max>1</max><gain>1</gain></layer></instrument>
</instrumentList></drumkit_info>""")
    return folder


def _write_flat_kit(folder, sr=22050):
    """A kit in the older format: one <filename> per instrument, no layers."""
    rng = np.random.RandomState(1)
    folder.mkdir()
    for name, args in {"bd.wav": (55, 0.15, 0.0), "sn.wav": (180, 0.04, 3.0), "ride.wav": (5000, 0.3, 1.0)}.items():
        sf.write(folder / name, _tone(sr, 0.4, args[0], args[1], rng, noise=args[2]), sr)
    (folder / "drumkit.xml").write_text("""<drumkit_info><name>Test Flat</name><instrumentList>
 <instrument><id>0</id><filename>bd.wav</filename><name>c3 - bass drum 1</name><volume>1</volume></instrument>
 <instrument><id>1</id><filename>sn.wav</filename><name>Snare</name><volume>1</volume></instrument>
 <instrument><id>2</id><filename>ride.wav</filename><name>Ride</name><volume>1</volume></instrument>
</instrumentList></drumkit_info>""")
    return folder


def _write_percussion_kit(folder):
    folder.mkdir()
    sf.write(folder / "clap.wav", np.random.RandomState(2).standard_normal(2205) * 0.1, 22050)
    (folder / "drumkit.xml").write_text("""<drumkit_info><name>Hands</name><instrumentList>
 <instrument><id>0</id><filename>clap.wav</filename><name>Hand Clap</name></instrument>
</instrumentList></drumkit_info>""")
    return folder


@pytest.fixture(scope="module")
def kits(tmp_path_factory):
    root = tmp_path_factory.mktemp("kits")
    _write_layered_kit(root / "layered")
    _write_flat_kit(root / "flat")
    _write_percussion_kit(root / "hands")
    return root


@pytest.fixture(scope="module")
def accomp():
    return make_drum_mixtures(n_tracks=3, duration=1.5, sample_rate=22050, n_channels=2, random_state=0)


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


@pytest.mark.parametrize("name, voice", [
    ("Kick", "kick"), ("c3 - bass drum 1", "kick"), ("BassDrum", "kick"), ("Pearl Snare Rimshot", "snare"),
    ("Closed HH", "hat"), ("Hi Hat Opened", "open_hat"), ("Hat Op Dirty", "open_hat"),
    ("f#3 - hi-hat closed", "hat"), ("Sabian Hat Semi-Open", "open_hat"), ("Pedal HH", "hat"),
    ("Paiste Ride", "ride"), ("crash16inch", "crash"), ("Floor Tom", "toms"),
    ("Snare Roll", None), ("Side Stick", None), ("Hand Clap", None), ("Cowbell", None), ("Ride Bell", None),
])
def test_instrument_names_map_to_voices(name, voice):
    assert _voice_of(name) == voice


def test_kits_are_found_and_read(kits):
    assert [p.rsplit("/", 1)[-1] for p in find_kits(kits)] == ["flat", "hands", "layered"]
    assert find_kits(kits / "flat") == [str(kits / "flat")]
    assert find_kits(kits / "nowhere") == []
    name, voices = _read_kit(str(kits / "layered"))
    assert name == "Test Layered"
    # the cowbell plays no voice; the tom's file is missing
    assert sorted(voices) == ["hat", "kick", "snare"]
    assert [lay[:2] for lay in voices["kick"][0]] == [(0.0, 0.5), (0.5, 1.0)]
    assert voices["snare"][0][0][2] == pytest.approx(0.9)  # instrument volume x layer gain


def test_kit_resamples_and_picks_layers_by_velocity(kits):
    kit = _Kit(str(kits / "layered"), 22050)
    kick = kit.voices["kick"][0]
    rng = np.random.RandomState(0)
    soft, hard = kit.sample(kick, 0.2, rng), kit.sample(kick, 0.9, rng)
    assert soft.shape == (1, int(0.3 * 22050)) and hard.shape == soft.shape  # 48 kHz -> 22.05 kHz
    assert np.max(np.abs(hard)) == pytest.approx(1.0, abs=0.02)  # the loudest layer peaks at 1
    assert np.max(np.abs(soft)) == pytest.approx(0.3, abs=0.02)  # the layers keep their balance
    assert kit.sample(kit.voices["snare"][0], 0.5, rng).shape[0] == 2  # stereo samples stay stereo
    # voices the kit lacks borrow a neighbour
    assert kit.voices["ride"] is kit.voices["hat"] and kit.voices["crash"] is kit.voices["ride"]
    gap = [(0.0, 0.2, np.ones((1, 3))), (0.8, 1.0, 2 * np.ones((1, 3)))]
    assert kit.sample(gap, 0.7, rng)[0, 0] == 2  # between layers: the nearest


def test_mixtures_keep_the_real_accompaniment(kits, accomp):
    data = make_sampled_drum_mixtures(accomp, n_tracks=5, kits=kits, random_state=0)
    assert data.sources == ("drums", "accompaniment") and data.sample_rate == 22050
    assert data.X.shape == (5, 2, accomp.X.shape[-1]) and data.y.shape == (5, 2, 2, accomp.X.shape[-1])
    assert data.X.dtype == np.float32 and np.array_equal(data.X, data.y.sum(axis=1, dtype=np.float32))
    assert data.track_names == [f"kits-{i:03d}" for i in range(5)]
    assert np.max(np.abs(data.X)) <= 0.99 + 1e-6
    for i in range(5):
        ref = accomp.y[i % 3, 1]
        scale = np.dot(data.y[i, 1].ravel(), ref.ravel()) / np.dot(ref.ravel(), ref.ravel())
        np.testing.assert_allclose(data.y[i, 1], scale * ref, atol=1e-5)  # the accompaniment, maybe scaled
        assert 0 < scale <= 1
        assert _rms(data.y[i, 0]) > 0
    assert "Test Layered" in data.DESCR or "Test Flat" in data.DESCR
    assert "Hands" not in data.DESCR  # a kit without kick, snare and hat/ride is skipped


def test_drums_follow_the_reference_balance(kits, accomp):
    data = make_sampled_drum_mixtures(accomp, kits=kits, gain_db=0, effects=False, random_state=1)
    for i in range(3):
        ref = _rms(accomp.y[i, 0]) / _rms(accomp.y[i, 1])
        assert _rms(data.y[i, 0]) / _rms(data.y[i, 1]) == pytest.approx(ref, rel=1e-3)
    wide = make_sampled_drum_mixtures(accomp, n_tracks=12, kits=kits, gain_db=6, random_state=2)
    for i in range(12):
        ratio = _rms(wide.y[i, 0]) / _rms(wide.y[i, 1])
        ref = _rms(accomp.y[i % 3, 0]) / _rms(accomp.y[i % 3, 1])
        assert abs(20 * np.log10(ratio / ref)) <= 6 + 1e-3


def test_seeded_and_track_i_independent_of_n_tracks(kits, accomp):
    a = make_sampled_drum_mixtures(accomp, n_tracks=2, kits=kits, random_state=3)
    b = make_sampled_drum_mixtures(accomp, n_tracks=4, kits=kits, random_state=3)
    np.testing.assert_array_equal(a.y, b.y[:2])
    c = make_sampled_drum_mixtures(accomp, n_tracks=2, kits=kits, random_state=4)
    assert not np.allclose(a.y[:, 0], c.y[:, 0])
    assert not np.allclose(b.y[0, 0], b.y[3, 0])  # same accompaniment source, new drums


def test_effects_change_the_drums_and_need_pedalboard(kits, accomp, monkeypatch):
    dry = make_sampled_drum_mixtures(accomp, n_tracks=1, kits=kits, effects=False, gain_db=0, random_state=5)
    wet = make_sampled_drum_mixtures(accomp, n_tracks=1, kits=kits, effects=True, gain_db=0, random_state=5)
    assert not np.allclose(dry.y[0, 0], wet.y[0, 0], atol=1e-3)
    ratio = np.dot(dry.y[0, 1].ravel(), wet.y[0, 1].ravel()) / np.dot(wet.y[0, 1].ravel(), wet.y[0, 1].ravel())
    np.testing.assert_allclose(dry.y[0, 1], ratio * wet.y[0, 1], atol=1e-5)  # the same accompaniment
    monkeypatch.setitem(sys.modules, "pedalboard", None)
    with pytest.raises(ImportError, match="pip install pedalboard"):
        make_sampled_drum_mixtures(accomp, n_tracks=1, kits=kits, random_state=5)
    make_sampled_drum_mixtures(accomp, n_tracks=1, kits=kits, effects=False, random_state=5)


def test_mono_accompaniment_gives_mono_drums(kits):
    mono = make_drum_mixtures(n_tracks=2, duration=1.0, sample_rate=16000, n_channels=1, random_state=0)
    data = make_sampled_drum_mixtures(mono, kits=[kits / "flat", kits / "layered"], random_state=0)
    assert data.y.shape == (2, 2, 1, 16000) and data.sample_rate == 16000


def test_ragged_accompaniment_gives_lists(kits, accomp):
    ragged = dict(accomp, y=[accomp.y[0], accomp.y[1][..., :20000]])
    data = make_sampled_drum_mixtures(ragged, kits=kits, random_state=0)
    assert isinstance(data.X, list) and [x.shape[-1] for x in data.X] == [accomp.X.shape[-1], 20000]


def test_trains_a_pipeline_with_real_data(kits, accomp):
    from sklearn.pipeline import make_pipeline

    from sklearn_vpnn import STFT, InverseSTFT, VPNNSeparator

    extra = make_sampled_drum_mixtures(accomp, kits=kits, random_state=0)
    X, y = np.concatenate([accomp.X, extra.X]), np.concatenate([accomp.y, extra.y])
    pipe = make_pipeline(STFT(n_fft=256, sample_rate=22050),
                         VPNNSeparator(hidden_units=8, n_layers=1, max_epochs=1, random_state=0), InverseSTFT())
    est = pipe.fit(X, y).transform(X[:1])
    assert est.shape == (1, 2) + X.shape[1:] and np.isfinite(est).all()


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_tracks=0), ValueError, "n_tracks"),
    (dict(gain_db=-1), ValueError, "gain_db"),
    (dict(effects="yes"), TypeError, "effects"),
])
def test_bad_arguments(kits, accomp, kwargs, error, match):
    with pytest.raises(error, match=match):
        make_sampled_drum_mixtures(accomp, kits=kits, **kwargs)


def test_bad_data_and_kits(kits, accomp, tmp_path):
    with pytest.raises(TypeError, match="Bunch from a loader"):
        make_sampled_drum_mixtures(np.zeros((2, 2, 100)), kits=kits)
    with pytest.raises(ValueError, match="no 'accompaniment' source"):
        make_sampled_drum_mixtures(dict(accomp, sources=("drums", "bass")), kits=kits)
    with pytest.raises(FileNotFoundError, match="No Hydrogen drum kit"):
        make_sampled_drum_mixtures(accomp, kits=tmp_path)
    with pytest.raises(ValueError, match="has a kick, a snare"):
        make_sampled_drum_mixtures(accomp, kits=kits / "hands")
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "drumkit.xml").write_text("<drumkit_info><name>oops</name")
    with pytest.raises(ValueError, match="drumkit.xml"):
        make_sampled_drum_mixtures(accomp, kits=bad)
