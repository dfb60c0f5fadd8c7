"""Model files that cannot run code: save_model / load_model / the bundled model."""

import json
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from sklearn_vpnn import (STFT, DNNSeparator, InverseSTFT, VPNNSeparator, load_model,
                          make_drum_mixtures, save_model)
from sklearn_vpnn.persistence import ModelFileError, read_model_info


@pytest.fixture(scope="module")
def data():
    return make_drum_mixtures(n_tracks=3, duration=1.0, random_state=0)


@pytest.fixture(scope="module")
def fitted(data):
    pipe = make_pipeline(STFT(n_fft=256, hop_length=64),
                         VPNNSeparator(hidden_units=8, n_layers=2, max_epochs=2, random_state=0),
                         InverseSTFT())
    return pipe.fit(data.X, data.y)


@pytest.mark.parametrize("Sep,extra", [(VPNNSeparator, {"mapping": "window"}),
                                       (VPNNSeparator, {"mapping": "color"}),
                                       (DNNSeparator, {})])
def test_round_trip_is_bit_identical(tmp_path, data, Sep, extra, no_pickle):
    pipe = make_pipeline(STFT(n_fft=256, hop_length=64),
                         Sep(hidden_units=8, n_layers=2, max_epochs=1, random_state=0, **extra),
                         InverseSTFT()).fit(data.X, data.y)
    path = save_model(pipe, tmp_path / "m.safetensors")
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.transform(data.X), pipe.transform(data.X))
    assert loaded.get_params(deep=True).keys() == pipe.get_params(deep=True).keys()
    for a, b in zip(loaded.steps, pipe.steps):
        assert a[0] == b[0] and type(a[1]) is type(b[1])
        assert a[1].get_params(deep=False) == b[1].get_params(deep=False)
    assert loaded[1].sources_ == pipe[1].sources_
    assert loaded[1].history_ == pipe[1].history_


def test_loaded_pipeline_clones_and_refits(tmp_path, data, fitted):
    loaded = load_model(save_model(fitted, tmp_path / "m.safetensors"))
    refit = clone(loaded).set_params(vpnnseparator__max_epochs=1).fit(data.X, data.y)
    assert refit.transform(data.X).shape == fitted.transform(data.X).shape


def test_file_is_small_and_holds_no_optimiser(tmp_path, fitted):
    path = save_model(fitted, tmp_path / "m.safetensors")
    n_weights = sum(p.numel() for p in fitted[1].net_.module_.state_dict().values())
    # 4 bytes a weight plus a small JSON header: Adam's two moment buffers are not in it
    assert path.stat().st_size < 4 * n_weights + 64_000
    half = save_model(fitted, tmp_path / "h.safetensors", half=True)
    assert half.stat().st_size < path.stat().st_size


def test_half_precision_stays_close(tmp_path, data, fitted):
    loaded = load_model(save_model(fitted, tmp_path / "h.safetensors", half=True))
    ref = fitted.transform(data.X)
    out = loaded.transform(data.X)
    assert np.abs(out - ref).max() < 1e-2 * np.abs(ref).max()


def test_description_has_params_notes_and_checksum(tmp_path, fitted):
    path = save_model(fitted, tmp_path / "m.safetensors", notes={"licence": "CC BY-NC-SA 4.0"})
    info = read_model_info(path)
    assert info["format"] == "sklearn-vpnn-model" and info["format_version"] == 1
    assert [s["class"] for s in info["steps"]] == ["STFT", "VPNNSeparator", "InverseSTFT"]
    assert info["steps"][1]["params"]["hidden_units"] == 8
    assert info["steps"][1]["params"]["sources"] == ("drums", "accompaniment")
    assert info["notes"]["licence"] == "CC BY-NC-SA 4.0"
    assert info["checksum"].startswith("sha256:")


def test_never_overwrites_without_asking(tmp_path, fitted):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="m.safetensors"):
        save_model(fitted, path)
    assert path.read_bytes() == b"precious"
    save_model(fitted, path, overwrite=True)
    assert load_model(path) is not None
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary left


def test_refuses_unfitted_and_foreign_pipelines(tmp_path, fitted):
    from sklearn.exceptions import NotFittedError
    from sklearn.preprocessing import StandardScaler

    with pytest.raises(NotFittedError, match="not fitted"):
        save_model(clone(fitted), tmp_path / "m.safetensors")
    with pytest.raises(TypeError, match="STFT -> VPNNSeparator"):
        save_model(make_pipeline(StandardScaler()), tmp_path / "m.safetensors")
    with pytest.raises(TypeError, match="Pipeline"):
        save_model(fitted[1], tmp_path / "m.safetensors")


def _resave(path, desc, tensors):
    """Write a model file with an edited description (its checksum recomputed)."""
    from safetensors.numpy import save_file

    from sklearn_vpnn import persistence

    desc["checksum"] = persistence._checksum(desc, tensors)
    save_file(tensors, str(path), metadata={persistence._META_KEY: json.dumps(desc)})
    return path


def _flip(path, where):
    raw = bytearray(path.read_bytes())
    raw[where] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_tampered_weights_are_refused(tmp_path, fitted, no_pickle):
    path = save_model(fitted, tmp_path / "m.safetensors")
    _flip(path, len(path.read_bytes()) - 5)  # a byte of the last tensor
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        load_model(path)


def test_tampered_description_is_refused(tmp_path, fitted):
    path = save_model(fitted, tmp_path / "m.safetensors")
    raw = path.read_bytes()
    # the description is JSON inside the safetensors header's JSON: quotes are escaped
    edited = raw.replace(b'wiener_iterations\\":0', b'wiener_iterations\\":9')
    assert edited != raw and len(edited) == len(raw)
    path.write_bytes(edited)
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        load_model(path)


def test_truncated_and_garbage_files_are_refused(tmp_path, fitted, no_pickle):
    path = save_model(fitted, tmp_path / "m.safetensors")
    raw = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelFileError, match="truncated or damaged"):
        load_model(tmp_path / "cut.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 3)
    with pytest.raises(ModelFileError, match="not a sklearn-vpnn model"):
        load_model(tmp_path / "junk.safetensors")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.safetensors")


def test_a_pickle_is_not_a_model_file(tmp_path, fitted, no_pickle):
    import joblib

    path = tmp_path / "m.joblib"
    with open(path, "wb") as f:  # joblib.dump without joblib.load (patched away)
        pickle.Pickler(f).dump({"not": "a model"})
    with pytest.raises(ModelFileError):
        load_model(path)
    assert joblib is not None


def test_foreign_safetensors_and_unknown_classes_are_refused(tmp_path, fitted):
    from safetensors.numpy import save_file

    from sklearn_vpnn import persistence

    plain = tmp_path / "plain.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(plain))
    with pytest.raises(ModelFileError, match="not a sklearn-vpnn model"):
        load_model(plain)
    # a well-formed file naming a class that is not ours: refused, not imported
    path = save_model(fitted, tmp_path / "m.safetensors")
    desc, tensors = persistence._read(path)
    desc["steps"][0]["class"] = "os.system"
    bad = _resave(tmp_path / "bad.safetensors", desc, tensors)
    with pytest.raises(ModelFileError, match="unknown step class 'os.system'"):
        load_model(bad)


def test_non_finite_weights_are_refused(tmp_path, fitted):
    from sklearn_vpnn import persistence

    desc, tensors = persistence._read(save_model(fitted, tmp_path / "m.safetensors"))
    name = next(k for k in tensors if k.endswith("weight"))
    tensors[name] = tensors[name].copy()
    tensors[name].flat[0] = np.nan
    bad = _resave(tmp_path / "nan.safetensors", desc, tensors)
    with pytest.raises(ModelFileError, match="NaN or infinite"):
        load_model(bad)


def test_newer_format_is_refused(tmp_path, fitted):
    from sklearn_vpnn import persistence

    desc, tensors = persistence._read(save_model(fitted, tmp_path / "m.safetensors"))
    desc["format_version"] = 99
    bad = _resave(tmp_path / "new.safetensors", desc, tensors)
    with pytest.raises(ModelFileError, match="version 99"):
        load_model(bad)


def test_files_of_0_1_read_hop_none_as_half_the_fft(tmp_path, data, fitted, monkeypatch, no_pickle):
    """In 0.1 ``hop_length=None`` meant ``n_fft // 2``; its files keep that hop, newer ones the new rule."""
    import sklearn_vpnn

    pipe = make_pipeline(STFT(n_fft=256, hop_length=128),
                         VPNNSeparator(hidden_units=8, n_layers=2, max_epochs=1, random_state=0),
                         InverseSTFT()).fit(data.X, data.y)
    pipe[0].set_params(hop_length=None)  # as 0.1 saved it: None, resolved to 128 when fitted
    monkeypatch.setattr(sklearn_vpnn, "__version__", "0.1.0")
    save_model(pipe, tmp_path / "old.safetensors")
    monkeypatch.undo()
    old = load_model(tmp_path / "old.safetensors")
    assert old[0].hop_length == 128 and read_model_info(tmp_path / "old.safetensors")["sklearn_vpnn_version"] == "0.1.0"
    pipe[0].set_params(hop_length=128)
    np.testing.assert_array_equal(old.transform(data.X[:1]), pipe.transform(data.X[:1]))
    fitted_none = clone(fitted).set_params(stft__hop_length=None).fit(data.X, data.y)  # hop 64 = 256 // 4
    save_model(fitted_none, tmp_path / "new.safetensors")
    assert load_model(tmp_path / "new.safetensors")[0].hop_length is None
