"""Nothing lost, nothing run: the command line and the estimators at every edge.

Each test guards one case of the issue of that name (numbers in the docstrings);
each failed on the code before its fix. See docs/safety.rst.
"""

import os
import pickle
import re
import signal
import subprocess
import sys
import time

import joblib
import numpy as np
import pytest
import soundfile as sf
from sklearn.pipeline import make_pipeline

from sklearn_vpnn import (STFT, InverseSTFT, VPNNSeparator, load_model, make_drum_mixtures,
                          save_model)
from sklearn_vpnn.cli import main
from sklearn_vpnn.persistence import read_model_info

SR = 8000  # the tiny model's rate


@pytest.fixture(scope="module")
def pipe():
    data = make_drum_mixtures(n_tracks=3, duration=1.0, sample_rate=SR, random_state=0)
    return make_pipeline(STFT(n_fft=256, sample_rate=SR),
                         VPNNSeparator(hidden_units=16, n_layers=2, max_epochs=1, device="cpu",
                                       random_state=0),
                         InverseSTFT()).fit(data.X, data.y)


@pytest.fixture(scope="module")
def model_path(pipe, tmp_path_factory):
    return save_model(pipe, tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture
def song(tmp_path, rng):
    path = tmp_path / "song.wav"
    sf.write(path, 0.3 * rng.standard_normal((SR, 2)).astype(np.float32), SR, subtype="FLOAT")
    return path


def _sep(*args, model=None):
    """`sklearn-vpnn separate ARGS --model MODEL --no-progress` in this process; its exit code."""
    extra = ["--model", str(model)] if model is not None else []
    return main(["separate", *map(str, args), *extra, "--no-progress", "--device", "cpu"])


def _error(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert lines, err
    return " ".join(lines)


def _files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


# ------------------------------------------------------------------ 1. inputs are never destroyed
def test_output_that_is_the_input_is_refused_even_with_force(model_path, tmp_path, rng, capsys):
    """(1) `separate drums/drums.wav -o . --force` replaced the input with its own drums stem."""
    (tmp_path / "drums").mkdir()
    inp = tmp_path / "drums" / "drums.wav"
    sf.write(inp, 0.3 * rng.standard_normal(SR), SR, subtype="FLOAT")
    before = inp.read_bytes()
    assert _sep(inp, "-o", tmp_path, "--force", model=model_path) == 1
    assert "input" in (msg := _error(capsys)) and "never replaced" in msg
    assert inp.read_bytes() == before
    assert _files(tmp_path / "drums") == ["drums.wav"]  # accompaniment not written either


def test_output_linking_to_an_input_is_refused(model_path, song, tmp_path, capsys):
    """(1) An output that is a link to (or a hard link of) an input is never replaced."""
    out = tmp_path / "out"
    (out / "song").mkdir(parents=True)
    (out / "song" / "drums.wav").symlink_to(song)
    before = song.read_bytes()
    assert _sep(song, "-o", out, "--force", model=model_path) == 1
    assert "input" in (msg := _error(capsys)) and "never replaced" in msg
    assert song.read_bytes() == before
    # one input's output that is another input: refused before anything is separated
    other = out / "song" / "accompaniment.wav"
    os.link(song, other)
    (out / "song" / "drums.wav").unlink()
    assert _sep(song, other, "-o", out, "--force", model=model_path) == 1
    assert "nothing was separated" in _error(capsys)
    assert song.read_bytes() == before and not (out / "song" / "drums.wav").exists()


# ---------------------------------------------------------------- 2. nothing written outside -o
@pytest.mark.parametrize("name", ["...wav", "..wav"])
def test_dot_names_stay_inside_the_output_folder(model_path, tmp_path, rng, name, capsys):
    """(2) `...wav` wrote OUTDIR/../drums.wav (over a file there with --force); `..wav` wrote
    straight into OUTDIR."""
    src = tmp_path / "in"
    src.mkdir()
    inp = src / name
    sf.write(inp, 0.3 * rng.standard_normal(SR), SR, format="WAV", subtype="FLOAT")
    out = tmp_path / "box" / "out"
    out.mkdir(parents=True)
    sentinel = tmp_path / "box" / "drums.wav"
    sentinel.write_bytes(b"keep me")
    assert _sep(inp, "-o", out, "--force", model=model_path) == 0, capsys.readouterr().err
    assert sentinel.read_bytes() == b"keep me"
    assert _files(tmp_path / "box") == ["drums.wav", f"out/{name}/accompaniment.wav",
                                        f"out/{name}/drums.wav"]


def test_stem_folder_linking_outside_is_refused(model_path, song, tmp_path, capsys):
    """(2) OUTDIR/<stem> that is a link to a folder elsewhere is not written through."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "song").symlink_to(elsewhere, target_is_directory=True)
    assert _sep(song, "-o", out, model=model_path) == 1
    assert "outside the output folder" in _error(capsys)
    assert not any(elsewhere.iterdir())


# ---------------------------------------------------------------- 3. inputs never collide
@pytest.mark.parametrize("names", [("a/good.wav", "b/good.wav"), ("song.flac", "song.ogg")])
def test_colliding_inputs_are_refused_before_separating(model_path, tmp_path, rng, names, capsys):
    """(3) a/good.wav b/good.wav (or song.flac song.ogg) both wrote OUTDIR/good/, exit 0."""
    paths = []
    for n in names:
        p = tmp_path / n
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, 0.3 * rng.standard_normal(SR), SR)
        paths.append(p)
    out = tmp_path / "out"
    assert _sep(*paths, "-o", out, "--force", model=model_path) == 1
    msg = _error(capsys)
    assert "would both write" in msg and "nothing was separated" in msg
    assert not out.exists()


def test_same_file_twice_is_a_duplicate(model_path, song, tmp_path, capsys):
    """(3) The same file given twice is reported as a duplicate, not as 'outputs exist'."""
    again = tmp_path / "sub" / ".." / song.name
    (tmp_path / "sub").mkdir()
    assert _sep(song, again, "-o", tmp_path / "out", model=model_path) == 1
    msg = _error(capsys)
    assert "given twice" in msg and "exist" not in msg
    assert not (tmp_path / "out").exists()


# ------------------------------------------------ 4. interrupted runs leave nothing behind
def _cli():
    return [sys.executable, "-m", "sklearn_vpnn.cli"]


def test_sigterm_cleans_up_like_ctrl_c(model_path, tmp_path, rng):
    """(4) A terminated run left ~190 MB of hidden temporary and .part files in OUTDIR."""
    inp = tmp_path / "long.wav"  # another rate than the model's: a resampled temporary copy
    sf.write(inp, (0.3 * rng.standard_normal(16000 * 240)).astype(np.float32), 16000, subtype="PCM_16")
    out = tmp_path / "out"
    proc = subprocess.Popen(_cli() + ["separate", str(inp), "--model", str(model_path), "-o", str(out),
                                      "--chunk-seconds", "0.2", "--no-progress", "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1"))
    try:
        deadline = time.monotonic() + 120
        while not any(f.endswith(".part") for f in _files(out) if out.exists()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no .part file appeared"
            time.sleep(0.01)
        assert any(".sklearn-vpnn-" in f for f in _files(out))  # the resampled input, mid-run
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "terminated" in err and "Traceback" not in err
    assert not out.exists() or _files(out) == [], _files(out)
    assert not (out / "long").exists()  # no empty folder either


def test_failed_input_leaves_no_empty_folder(model_path, tmp_path, capsys):
    """(4, 10) A NaN file fails naming the file (not "X[0]") and leaves no OUTDIR/<stem>/."""
    bad = tmp_path / "nan.wav"
    x = np.zeros((SR, 1), np.float32)
    x[SR // 2] = np.nan
    sf.write(bad, x, SR, subtype="FLOAT")
    out = tmp_path / "out"
    assert _sep(bad, "-o", out, model=model_path) == 1
    msg = _error(capsys)
    assert "nan.wav" in msg and "NaN" in msg and "X[0]" not in msg
    assert not (out / "nan").exists()


# -------------------------------------------------------- 5. loading a model runs no code
class _Payload:
    """Unpickling this writes a file: proof that loading ran code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


def test_pickle_model_is_refused_without_allow_pickle(song, tmp_path, capsys):
    """(5) A .joblib carrying a pickle payload ran it before any check."""
    marker = tmp_path / "ran.txt"
    evil = tmp_path / "evil.joblib"
    joblib.dump({"model": _Payload(marker)}, evil)
    for command in (["separate", str(song), "-o", str(tmp_path / "o")],
                    ["evaluate", "--musdb-root", str(tmp_path)]):
        assert main(command + ["--model", str(evil)]) == 1
        msg = _error(capsys)
        assert "--allow-pickle" in msg and "run" in msg and "code" in msg
        assert not marker.exists()


def test_allow_pickle_loads_a_trusted_joblib_file(pipe, song, tmp_path, capsys):
    """(5) With --allow-pickle a joblib pipeline loads and separates as before."""
    path = tmp_path / "trusted.joblib"
    joblib.dump(pipe, path)
    assert _sep(song, "-o", tmp_path / "o", "--allow-pickle", model=path) == 0, capsys.readouterr().err
    assert sf.info(tmp_path / "o" / "song" / "drums.wav").frames == SR


def test_safe_model_file_loads_without_unpickling(model_path, song, tmp_path, monkeypatch):
    """(5) A safetensors model file is opened without any unpickling."""
    def refuse(*args, **kwargs):
        raise AssertionError("a model file was unpickled")

    import torch

    for mod, name in [(pickle, "load"), (pickle, "loads"), (joblib, "load"), (torch, "load")]:
        monkeypatch.setattr(mod, name, refuse)
    assert _sep(song, "-o", tmp_path / "o", model=model_path) == 0


def test_train_writes_the_safe_format_unless_joblib(tmp_path, capsys):
    """(5) `train -o X` writes safetensors; only a name ending in .joblib writes a pickle."""
    common = ["train", "--synthetic", "2", "--duration", "0.5", "--sample-rate", str(SR), "--epochs", "1",
              "--hidden-units", "8", "--n-fft", "256", "--device", "cpu", "-o"]
    safe = tmp_path / "m.safetensors"
    assert main(common + [str(safe)]) == 0
    assert read_model_info(safe)["notes"]["trained_by"] == "sklearn-vpnn train"
    capsys.readouterr()
    pickled = tmp_path / "m.joblib"
    assert main(common + [str(pickled)]) == 0
    assert "runs code" in capsys.readouterr().err  # the warning says what a pickle means
    assert joblib.load(pickled)[1].n_epochs_ == 1


def test_help_and_names_say_pickles_run_code(capsys):
    """(5) --help says so; separate.open_model (a Model) no longer clashes with load_model."""
    import sklearn_vpnn
    from sklearn_vpnn import separate

    for cmd in ("separate", "evaluate"):
        assert main([cmd, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.split())
        assert "--allow-pickle" in text and "runs any code" in text
    assert main(["train", "--help"]) == 0
    assert "runs code" in " ".join(capsys.readouterr().out.split())
    assert not hasattr(separate, "load_model") and sklearn_vpnn.load_model is load_model
    assert "run" in separate.open_model.__doc__ and "code" in separate.open_model.__doc__


def test_separate_without_model_uses_the_bundled_one(model_path, song, tmp_path, monkeypatch, capsys):
    """(5) `separate song.wav` without --model: the bundled model, or a clear error if none."""
    from sklearn_vpnn import pretrained

    def missing(name="drums"):
        raise ValueError(f"no bundled model named {name!r}; bundled models: none")

    monkeypatch.setattr(pretrained, "pretrained_path", missing)
    assert _sep(song, "-o", tmp_path / "o") == 1
    assert "no model is bundled" in _error(capsys)
    monkeypatch.setattr(pretrained, "pretrained_path", lambda name="drums": model_path)
    assert _sep(song, "-o", tmp_path / "o") == 0, capsys.readouterr().err
    assert (tmp_path / "o" / "song" / "accompaniment.wav").exists()


def test_models_lists_the_bundled_models(pipe, tmp_path, monkeypatch, capsys):
    """(5) `sklearn-vpnn models` shows each bundled model's data, licence and SDR."""
    from sklearn_vpnn import pretrained

    path = save_model(pipe, tmp_path / "drums.safetensors",
                      notes={"training_data": "MUSDB18 train (80 clips)", "sdr": "3.59 dB on valid"})
    (tmp_path / "drums.LICENSE.txt").write_text("Non-commercial research use only.\nDetails...\n")
    monkeypatch.setattr(pretrained, "_available", lambda: ["drums"])
    monkeypatch.setattr(pretrained, "pretrained_path", lambda name="drums": path)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for text in ("drums: VPNNSeparator", "drums, accompaniment", f"{SR} Hz", "MUSDB18 train (80 clips)",
                 "3.59 dB", "Non-commercial research use only."):
        assert text in out, out
    monkeypatch.setattr(pretrained, "_available", lambda: [])
    assert main(["models"]) == 0
    assert "No model is bundled" in capsys.readouterr().out


# ------------------------------------------------------------- 6. channels-last arrays
@pytest.mark.parametrize("shape,fix", [((1, 44100, 2), "moveaxis"), ((44100, 2), ".T"),
                                       ((1, 100, 3), "moveaxis")])
def test_channels_last_arrays_are_refused(shape, fix):
    """(6) (1, n_samples, 2) was read as 44,100 channels; (n_samples, 2) as thousands of tracks."""
    with pytest.raises(ValueError, match=re.escape(fix)):
        STFT(n_fft=256).transform(np.zeros(shape, np.float32))
    with pytest.raises(ValueError, match="channels first"):
        STFT(n_fft=256).transform([np.zeros(shape[-2:], np.float32)])


def test_short_stereo_and_estimator_shapes_still_pass():
    assert STFT(n_fft=64).transform(np.zeros((2, 2, 1))).shape[:2] == (2, 2)
    assert STFT(n_fft=64).transform(np.zeros((100, 2))).shape[:2] == (100, 1)


# ---------------------------------------------------------------- 7. STFT mismatches
@pytest.mark.parametrize("change", [dict(hop_length=32), dict(window="hamming"),
                                    dict(sample_rate=44100), dict(center=False)])
def test_stft_mismatch_is_an_error(pipe, change):
    """(7) A separator fitted at hop 64 / Hann / 8 kHz accepted other hops, windows and rates."""
    X = make_drum_mixtures(n_tracks=1, duration=0.5, sample_rate=SR, random_state=1).X
    params = {**pipe[0].get_params(), **change}
    spec = STFT(**params).transform(X)
    key = next(iter(change))
    with pytest.raises(ValueError, match=f"another STFT.*{key}="):
        pipe[1].transform(spec)
    with pytest.raises(ValueError, match=f"{key}="):
        pipe[1].predict_masks(spec)
    pipe[1].transform(pipe[0].transform(X))  # the fitted STFT still works


def test_model_file_with_another_stft_is_refused(pipe, song, tmp_path, capsys):
    """(7) ... and from model files on the command line."""
    from sklearn.base import clone

    other = make_pipeline(clone(pipe[0]).set_params(hop_length=32), pipe[1], InverseSTFT())
    path = save_model(other, tmp_path / "other.safetensors")
    assert _sep(song, "-o", tmp_path / "o", model=path) == 1
    assert "hop_length=32 (fitted with 64)" in _error(capsys)


# --------------------------------------------------------------- 8. diverged models
def test_diverging_fit_stops_with_an_error_naming_the_cause():
    """(8) A huge lr fitted NaN weights silently; then transform blamed the input."""
    from sklearn_vpnn.separator._callbacks import TrainingDivergedError

    data = make_drum_mixtures(n_tracks=3, duration=1.0, sample_rate=SR, random_state=0)
    for extra in ({}, {"validation_fraction": 0}):
        p = make_pipeline(STFT(n_fft=256), VPNNSeparator(hidden_units=8, max_epochs=3, lr=1e12,
                                                         device="cpu", random_state=0, **extra),
                          InverseSTFT())
        with pytest.raises(TrainingDivergedError, match=r"diverged.*lr=1e\+12"):
            p.fit(data.X, data.y)


@pytest.mark.parametrize("param", [dict(max_time=float("nan")), dict(gain_db=float("inf")),
                                   dict(lr=float("inf"))])
def test_non_finite_parameters_are_refused(param):
    """(8) max_time=nan and gain_db=inf are refused in fit."""
    data = make_drum_mixtures(n_tracks=2, duration=0.5, sample_rate=SR, random_state=0)
    spec = STFT(n_fft=256).transform(data.X)
    with pytest.raises(ValueError, match=next(iter(param))):
        VPNNSeparator(hidden_units=8, max_epochs=1, device="cpu", **param).fit(spec, data.y)


def test_joblib_model_with_non_finite_weights_is_refused(pipe, song, tmp_path, capsys):
    """(8) persistence refused NaN weights; the joblib path now does too."""
    import copy

    import torch

    bad = copy.deepcopy(pipe)
    with torch.no_grad():
        next(bad[1].net_.module_.parameters()).fill_(float("nan"))
    path = tmp_path / "nan.joblib"
    joblib.dump(bad, path)
    assert _sep(song, "-o", tmp_path / "o", "--allow-pickle", model=path) == 1
    assert "NaN or infinite" in _error(capsys)
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------- 9. the band above the model's
def _tone_and_noise(rng, sr, seconds=1.0, freq=10000.0):
    t = np.arange(int(sr * seconds)) / sr
    return (0.2 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def test_band_above_the_model_goes_to_the_accompaniment(model_path, tmp_path, rng):
    """(9) A 32 kHz file through an 8 kHz model lost everything above 4 kHz from both stems."""
    sr = 32000
    x = _tone_and_noise(rng, sr)
    inp = tmp_path / "hi.wav"
    sf.write(inp, x, sr, subtype="FLOAT")
    assert _sep(inp, "-o", tmp_path / "o", "--chunk-seconds", "0.3", model=model_path) == 0
    d, _ = sf.read(tmp_path / "o" / "hi" / "drums.wav", dtype="float32")
    a, _ = sf.read(tmp_path / "o" / "hi" / "accompaniment.wav", dtype="float32")
    assert np.sum((d + a - x) ** 2) < 1e-4 * np.sum(x**2)  # nothing vanished
    spectrum = np.abs(np.fft.rfft(a))
    k = int(round(10000 * len(a) / sr))
    assert spectrum[k] > 0.9 * np.abs(np.fft.rfft(x))[k]  # the 10 kHz tone is in the accompaniment
    assert np.abs(np.fft.rfft(d))[k] < 1e-3 * spectrum[k]  # the model never heard it


def test_separate_array_keeps_the_band_too(model_path):
    from sklearn_vpnn.separate import open_model, separate_array

    x = _tone_and_noise(np.random.default_rng(1), 24000)[None]
    est = separate_array(open_model(model_path), x, 24000)
    np.testing.assert_allclose(est.sum(0), x, atol=2e-3)


# --------------------------------------------------------------- 10. one clear line each
@pytest.mark.parametrize("sources,expected", [(",", "names no source"), ("drums,drums", "more than once")])
def test_bad_sources_lists(model_path, song, tmp_path, capsys, sources, expected):
    """(10) --sources "," raised StopIteration; drums,drums wrote, then said "output appeared"."""
    assert _sep(song, "-o", tmp_path / "o", "--sources", sources, model=model_path) == 1
    assert expected in _error(capsys)
    assert not (tmp_path / "o").exists()


def test_too_many_channels_for_flac_fails_before_separating(model_path, tmp_path, rng, capsys):
    """(10) More than 8 channels with --format flac failed after the whole separation."""
    inp = tmp_path / "many.wav"
    sf.write(inp, 0.1 * rng.standard_normal((SR, 10)).astype(np.float32), SR, subtype="FLOAT")
    assert _sep(inp, "-o", tmp_path / "o", "--format", "flac", model=model_path) == 1
    msg = _error(capsys)
    assert "10 channels" in msg and "at most 8" in msg and "--format wav" in msg
    assert not (tmp_path / "o").exists()


def test_random_bytes_named_mp3(model_path, tmp_path, rng, capsys):
    """(10) Random bytes named .mp3 were "File does not exist or is not a regular file"."""
    from sklearn_vpnn import load_audio
    from sklearn_vpnn.io import AudioFileError

    junk = tmp_path / "junk.mp3"
    junk.write_bytes(rng.integers(0, 256, 20000, dtype=np.uint8).tobytes())
    assert _sep(junk, "-o", tmp_path / "o", model=model_path) == 1
    msg = _error(capsys)
    assert "junk.mp3" in msg and "not audio" in msg and "does not exist" not in msg
    with pytest.raises(AudioFileError, match="not audio"):
        load_audio(junk)


def test_output_that_is_a_folder_or_under_a_file(model_path, song, tmp_path, capsys):
    """(10) An output that is a directory (or a stem folder that is a file) got "System error"
    naming the .part file, or "skipped: outputs exist"."""
    out = tmp_path / "o"
    (out / "song" / "drums.wav").mkdir(parents=True)
    for force in ([], ["--force"]):
        assert _sep(song, "-o", out, *force, model=model_path) == 1
        msg = _error(capsys)
        assert "is a folder" in msg and ".part" not in msg
    blocked = tmp_path / "b"
    blocked.mkdir()
    (blocked / "song").write_text("a file where the stem folder goes")
    assert _sep(song, "-o", blocked, model=model_path) == 1
    msg = _error(capsys)
    assert "not a folder" in msg and ".part" not in msg
    assert (blocked / "song").read_text() == "a file where the stem folder goes"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_unwritable_stem_folder(model_path, song, tmp_path, capsys):
    """(10) An unwritable stem folder: one line naming the folder, not the .part file."""
    (tmp_path / "o" / "song").mkdir(parents=True)
    (tmp_path / "o" / "song").chmod(0o555)
    try:
        assert _sep(song, "-o", tmp_path / "o", model=model_path) == 1
        msg = _error(capsys)
        assert "not writable" in msg and ".part" not in msg
    finally:
        (tmp_path / "o" / "song").chmod(0o755)


def test_pipeline_fit_without_y_is_a_clear_error(pipe):
    """(10) Pipeline.fit(X) without y was a bare TypeError."""
    from sklearn.base import clone

    X = make_drum_mixtures(n_tracks=2, duration=0.5, sample_rate=SR, random_state=0).X
    with pytest.raises(ValueError, match=r"needs the source waveforms y.*pipe\.fit\(X, y\)"):
        clone(pipe).fit(X)
