"""Larger-than-memory training: LazyTracks, LazySpectrogram and the disk frame cache."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from sklearn_vpnn import STFT, DNNSeparator, InverseSTFT, VPNNSeparator, make_drum_mixtures
from sklearn_vpnn.datasets import LazyTracks
from sklearn_vpnn.spectral import LazySpectrogram, Spectrogram

TINY = dict(hidden_units=16, n_layers=1, max_epochs=2, batch_size=64, random_state=0)


class _ArrayReader:
    """A reader over in-memory tracks that counts decodes (stands in for MUSDB files)."""

    def __init__(self, X, y):
        self.X, self.y, self.reads = X, y, []
        self._last = (None, None)

    def __len__(self):
        return len(self.X)

    def read(self, i, keep=True):
        if self._last[0] == i:
            return self._last[1]
        self.reads.append(i)
        xy = (np.asarray(self.X[i]), np.asarray(self.y[i]))
        if keep:
            self._last = (i, xy)
        return xy


@pytest.fixture(scope="module")
def data():
    # ragged tracks: the disk cache must get sequence offsets and edges right
    d = make_drum_mixtures(n_tracks=5, duration=1.0, sample_rate=8000, random_state=0)
    cut = [8000, 6500, 8000, 7300, 5000]
    return [x[:, :n] for x, n in zip(d.X, cut)], [y[..., :n] for y, n in zip(d.y, cut)]


def _lazy(data):
    reader = _ArrayReader(*data)
    return LazyTracks(reader, "X"), LazyTracks(reader, "y"), reader


def test_lazy_tracks_sequence_protocol(data):
    X, y, reader = _lazy(data)
    assert len(X) == len(y) == 5 and not hasattr(X, "shape")
    np.testing.assert_array_equal(X[1], data[0][1])
    np.testing.assert_array_equal(y[1], data[1][1])
    assert reader.reads == [1]  # X[1] then y[1]: one decode
    sub = X[1:4]
    assert isinstance(sub, LazyTracks) and len(sub) == 3 and reader.reads == [1]
    np.testing.assert_array_equal(sub[-1], data[0][3])
    np.testing.assert_array_equal(X[[4, 0]][0], data[0][4])
    assert [t.shape[-1] for t in X] == [8000, 6500, 8000, 7300, 5000]
    assert "5 mixtures" in repr(X)
    back = pickle.loads(pickle.dumps(y))
    np.testing.assert_array_equal(back[2], data[1][2])
    with pytest.raises(ValueError, match="field"):
        LazyTracks(reader, "z")


def test_stft_of_lazy_tracks_is_lazy_and_equal(data):
    X, _, reader = _lazy(data)
    stft = STFT(n_fft=256)
    spec = stft.fit(X).transform(X)
    assert isinstance(spec, LazySpectrogram) and len(spec) == 5
    assert stft.n_channels_ == 1
    assert reader.reads == [0]  # fit checks the first track only; transform decodes nothing
    full = STFT(n_fft=256).fit_transform(data[0])
    one = spec[3]
    assert isinstance(one, Spectrogram) and one.shape[0] == 1
    n3 = full.n_frames_per_track[3]
    np.testing.assert_array_equal(one.data[0, ..., :n3], full.data[3, ..., :n3])
    np.testing.assert_array_equal(spec.lengths, full.lengths)
    np.testing.assert_array_equal(spec.n_frames_per_track, full.n_frames_per_track)
    np.testing.assert_array_equal(spec.compute().data, full.data)
    assert isinstance(spec[1:3], LazySpectrogram) and len(spec[1:3]) == 2


@pytest.mark.parametrize("cls,extra", [(VPNNSeparator, {"mapping": "window"}),
                                       (VPNNSeparator, {"loss_target": "phase_sensitive"}),
                                       (DNNSeparator, {})], ids=["vpnn", "vpnn-psa", "dnn"])
def test_disk_cache_gives_the_same_model(data, cls, extra):
    """Same seed, same model: every batch, every random draw, every value alike."""
    spec = STFT(n_fft=256).fit_transform(data[0])
    params = dict(TINY, validation_fraction=0.25, remix=0.5, gain_db=3.0, eq_db=6.0, pitch_shift=1.0, **extra)
    mem = cls(cache="memory", **params).fit(spec, data[1])
    disk = cls(cache="disk", **params).fit(spec, data[1])
    assert [h["train_loss"] for h in mem.history_] == [h["train_loss"] for h in disk.history_]
    assert [h["valid_loss"] for h in mem.history_] == [h["valid_loss"] for h in disk.history_]
    np.testing.assert_array_equal(mem.transform(spec).data, disk.transform(spec).data)


def test_lazy_pipeline_trains_the_same_model(data):
    X, y, reader = _lazy(data)
    pipe = make_pipeline(STFT(n_fft=256), VPNNSeparator(**TINY), InverseSTFT())
    lazy_fit = clone(pipe).fit(X, y)  # cache="auto" -> disk for lazy data
    eager_fit = clone(pipe).fit(*data)
    assert sorted(set(reader.reads)) == [0, 1, 2, 3, 4]
    assert len(reader.reads) <= 6  # each track decoded once (track 0 maybe twice)
    a, b = lazy_fit.transform(data[0]), eager_fit.transform(data[0])
    for ta, tb in zip(a, b):
        np.testing.assert_array_equal(ta, tb)
    # transforming lazy data works too (it is materialised: the output holds it all)
    c = lazy_fit.transform(X)
    for ta, tc in zip(a, c):
        np.testing.assert_array_equal(ta, tc)


def test_cache_memory_on_lazy_data_and_bad_cache(data):
    X, y, _ = _lazy(data)
    spec = STFT(n_fft=256).fit_transform(X)
    mem = VPNNSeparator(cache="memory", **TINY).fit(spec, y)
    ref = VPNNSeparator(cache="memory", **TINY).fit(STFT(n_fft=256).fit_transform(data[0]), data[1])
    full = STFT(n_fft=256).fit_transform(data[0])
    np.testing.assert_array_equal(mem.transform(full).data, ref.transform(full).data)
    with pytest.raises(ValueError, match="cache must be"):
        VPNNSeparator(cache="ram", **TINY).fit(spec, y)


def test_disk_cache_errors_and_cleanup(data, tmp_path, monkeypatch):
    import tempfile

    import sklearn_vpnn.separator._estimators as sep_mod

    made = []
    real = tempfile.mkdtemp

    def spy(*args, **kwargs):
        made.append(real(dir=tmp_path))
        return made[-1]

    monkeypatch.setattr(sep_mod.tempfile, "mkdtemp", spy)
    spec = STFT(n_fft=256).fit_transform([np.zeros((1, 4000), np.float32)] * 2)
    with pytest.raises(ValueError, match="silent"):
        VPNNSeparator(cache="disk", **TINY).fit(spec, np.zeros((2, 2, 1, 4000), np.float32))
    bad = [y.copy() for y in data[1]]
    bad[3][0, 0, 10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        VPNNSeparator(cache="disk", **TINY).fit(STFT(n_fft=256).fit_transform(data[0]), bad)
    VPNNSeparator(cache="disk", **TINY).fit(STFT(n_fft=256).fit_transform(data[0]), data[1])
    assert len(made) == 3 and not any(p.exists() for p in map(__import__("pathlib").Path, made))


@pytest.mark.musdb
def test_load_musdb_lazy_matches_eager(musdb_root):
    from sklearn_vpnn import load_musdb

    lazy = load_musdb(musdb_root, split="valid", duration=1.0, lazy=True)
    eager = load_musdb(musdb_root, split="valid", duration=1.0)
    assert isinstance(lazy.X, LazyTracks) and len(lazy.X) == len(eager.X)
    assert lazy.track_names == eager.track_names and lazy.sample_rate == eager.sample_rate
    for i in (0, len(eager.X) - 1):
        np.testing.assert_array_equal(lazy.X[i], eager.X[i])
        np.testing.assert_array_equal(lazy.y[i], eager.y[i])
