"""The sklearn-vpnn command end to end: separate, train, evaluate, demo, bad inputs."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import joblib
import numpy as np
import pytest
import soundfile as sf

from sklearn_vpnn import STFT, load_model, save_model
from sklearn_vpnn.cli import main

TINY = ["--hidden-units", "16", "--n-fft", "256"]
SR = 8000  # the tiny model's rate


def _exe():
    exe = shutil.which("sklearn-vpnn")
    return [exe] if exe else [sys.executable, "-m", "sklearn_vpnn.cli"]


def _env():
    return dict(os.environ, PYTHONUNBUFFERED="1")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A tiny model trained once through `sklearn-vpnn train --synthetic` (the safe format)."""
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    rc = main(["train", "--synthetic", "3", "--duration", "1", "--sample-rate", str(SR), "--epochs", "1",
               "--device", "cpu", *TINY, "-o", str(path)])
    assert rc == 0 and path.exists()
    return path


@pytest.fixture
def songs(tmp_path, rng):
    """A stereo 16 kHz WAV (not the model's rate) and a mono FLAC at the model's rate."""
    st = tmp_path / "stereo song.wav"
    sf.write(st, 0.3 * rng.standard_normal((16000 * 2, 2)).astype(np.float32), 16000, subtype="FLOAT")
    mono = tmp_path / "mono.flac"
    sf.write(mono, 0.3 * rng.standard_normal(SR + 123), SR)
    return st, mono


def _last_error(err):
    lines = [line for line in err.splitlines() if "error:" in line]
    assert lines, err
    assert "Traceback" not in err
    return lines


# --------------------------------------------------------------------- basics
def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert "sklearn-vpnn 0.2.0" in capsys.readouterr().out
    for cmd, options in [("separate", ["--model", "--format", "--sources", "--device", "--force",
                                       "--chunk-seconds", "--outdir"]),
                         ("train", ["--musdb-root", "--mapping", "--targets", "--max-minutes", "--epochs",
                                    "--n-fft", "--seed", "--synthetic", "--force", "--output"]),
                         ("evaluate", ["--subsets", "--split", "--duration", "--json", "--max-tracks"]),
                         ("demo", ["--outdir", "--minutes", "--tracks", "--seed", "--force"])]:
        assert main([cmd, "--help"]) == 0
        out = capsys.readouterr().out
        for opt in options:
            assert opt in out, (cmd, opt)
        assert "default" in out


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    assert main(["separate"]) == 2  # no input
    assert "sklearn-vpnn: error:" in capsys.readouterr().err
    assert main(["separate", "x.wav", "--model", "m", "--format", "aac"]) == 2
    # options that do not go together are usage errors too, before the model is opened
    for bad in (["--format", "flac", "--float32"], ["--format", "mp3", "--int16"],
                ["--bitrate", "128"], ["--int16", "--int24"], ["--filename", "{song}.{ext}"],
                ["--filename", "../{stem}.{ext}"], ["--residual", "--other-method", "add"],
                ["--stdout", "drums", "-o", "x"], ["--bitrate", "7", "--format", "mp3"]):
        capsys.readouterr()
        assert main(["separate", "x.wav", "--model", "m", *bad]) == 2, bad
        err = capsys.readouterr().err
        assert "sklearn-vpnn: error:" in err and "model file not found" not in err, (bad, err)
    assert main(["demo", "--minutes", "-1"]) == 2
    assert main(["frobnicate"]) == 2


# ------------------------------------------------------------------- separate
def test_separate_any_rate_and_channels(model_path, songs, tmp_path, capsys):
    st, mono = songs
    out = tmp_path / "out"
    rc = main(["separate", str(st), str(mono), "--model", str(model_path), "-o", str(out),
               "--chunk-seconds", "0.5", "--overlap-seconds", "0.1", "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    for song, sr, ch, n in [("stereo song", 16000, 2, 32000), ("mono", SR, 1, SR + 123)]:
        for source in ("drums", "accompaniment"):
            info = sf.info(out / song / f"{source}.wav")
            assert (info.samplerate, info.channels, info.frames, info.subtype) == (sr, ch, n, "FLOAT")
    # masks sum to one: at the model's rate the sources add up to the mixture
    x, _ = sf.read(mono, dtype="float32")
    d, _ = sf.read(out / "mono" / "drums.wav", dtype="float32")
    a, _ = sf.read(out / "mono" / "accompaniment.wav", dtype="float32")
    np.testing.assert_allclose(d + a, x, atol=1e-4)
    # and at another rate too: what the model's 8 kHz cannot carry (above 4 kHz) is
    # in the accompaniment, so nothing of the input is lost
    x, _ = sf.read(st, dtype="float32")
    d, _ = sf.read(out / "stereo song" / "drums.wav", dtype="float32")
    a, _ = sf.read(out / "stereo song" / "accompaniment.wav", dtype="float32")
    assert np.sum((d + a - x) ** 2) < 1e-3 * np.sum(x**2)


def test_separate_picks_frame_grids_by_overlap_unless_told(model_path, songs, tmp_path, capsys):
    """Two grids for a model at 50% overlap (the bundled model's STFT), one at 75% (the default's)."""
    from sklearn_vpnn._cli_separate import _default_shifts

    assert _default_shifts(STFT(n_fft=1024, hop_length=512)) == 2 and _default_shifts(STFT()) == 1
    _, mono = songs
    x, _ = sf.read(mono, dtype="float32")
    pipe = load_model(model_path)
    assert pipe[0]._params()["hop_length"] == 64  # --n-fft 256: hop a quarter of it
    for shifts, extra in [(1, []), (2, ["--shifts", "2"]), (3, ["--shifts", "3"])]:
        out = tmp_path / f"s{shifts}"
        assert main(["separate", str(mono), "--model", str(model_path), "-o", str(out), "--chunk-seconds", "100",
                     "--no-progress", *extra]) == 0
        drums = sf.read(out / "mono" / "drums.wav", dtype="float32")[0]
        pipe[1].set_params(shifts=shifts)  # what the Python API gives with the same setting
        np.testing.assert_allclose(drums, pipe.transform(x[np.newaxis, np.newaxis])[0, 0, 0], atol=1e-4)
    assert main(["separate", str(mono), "--model", str(model_path), "-o", str(tmp_path / "bad"),
                 "--shifts", "0"]) == 2
    assert "--shifts" in _last_error(capsys.readouterr().err)[-1]
    assert not (tmp_path / "bad").exists()


def test_chunked_cli_equals_whole(model_path, songs, tmp_path):
    _, mono = songs
    outs = []
    for i, chunk in enumerate(["0.3", "100"]):
        out = tmp_path / f"o{i}"
        assert main(["separate", str(mono), "--model", str(model_path), "-o", str(out),
                     "--chunk-seconds", chunk, "--no-progress"]) == 0
        outs.append(sf.read(out / "mono" / "drums.wav", dtype="float32")[0])
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-5)


def test_sources_flac_and_no_clipping(model_path, tmp_path, rng, capsys):
    loud = tmp_path / "loud.wav"
    sf.write(loud, 4.0 * rng.standard_normal(SR).astype(np.float32), SR, subtype="FLOAT")
    rc = main(["separate", str(loud), "--model", str(model_path), "-o", str(tmp_path / "o"),
               "--format", "flac", "--sources", "drums", "--no-progress"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "sklearn-vpnn: warning:" in err and "scaled by" in err and "dB" in err
    files = sorted(p.name for p in (tmp_path / "o" / "loud").iterdir())
    assert files == ["drums.flac"]  # no leftover temporary files either
    y, _ = sf.read(tmp_path / "o" / "loud" / "drums.flac")
    assert 0.9 < np.max(np.abs(y)) <= 1.0  # rescaled, not clipped
    assert np.mean(np.abs(y) >= 0.99999) < 1e-3


def test_bad_inputs_reported_others_run(model_path, songs, tmp_path, capsys):
    _, mono = songs
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF" + b"\x00garbage" * 50)
    out = tmp_path / "out"
    rc = main(["separate", str(tmp_path / "missing.wav"), str(corrupt), str(mono), "--model",
               str(model_path), "-o", str(out), "--no-progress"])
    assert rc == 1
    lines = _last_error(capsys.readouterr().err)
    assert any("missing.wav" in line and "not found" in line for line in lines)
    assert any("corrupt.wav" in line for line in lines)
    assert (out / "mono" / "drums.wav").exists()
    assert not (out / "corrupt").exists() or not any((out / "corrupt").iterdir())


def test_existing_outputs_kept_unless_force(model_path, songs, tmp_path, capsys):
    _, mono = songs
    out = tmp_path / "out"
    args = ["separate", str(mono), "--model", str(model_path), "-o", str(out), "--no-progress"]
    assert main(args) == 0
    target = out / "mono" / "drums.wav"
    target.write_bytes(b"keep me")
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "skipped" in err and "--force" in err
    assert target.read_bytes() == b"keep me"
    assert main(args + ["--force"]) == 0
    assert sf.info(target).frames == SR + 123


def test_unwritable_output_dir(model_path, songs, tmp_path, capsys):
    _, mono = songs
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    rc = main(["separate", str(mono), "--model", str(model_path), "-o", str(blocker / "sub"),
               "--no-progress"])
    assert rc == 1
    assert any("mono.flac" in line for line in _last_error(capsys.readouterr().err))
    if os.geteuid() != 0:  # root ignores permissions
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            assert main(["separate", str(mono), "--model", str(model_path), "-o", str(ro),
                         "--no-progress"]) == 1
        finally:
            ro.chmod(0o755)


def test_bad_model_files(tmp_path, songs, capsys):
    """With --allow-pickle (trusted files), bad joblib files still get one clear line each."""
    from sklearn.pipeline import make_pipeline

    from sklearn_vpnn import InverseSTFT, VPNNSeparator

    _, mono = songs
    garbage = tmp_path / "garbage.joblib"
    garbage.write_bytes(b"this is not a pickle")
    unfitted = tmp_path / "unfitted.joblib"
    joblib.dump(make_pipeline(STFT(), VPNNSeparator(), InverseSTFT()), unfitted)
    other = tmp_path / "dict.joblib"
    joblib.dump({"a": 1}, other)
    number = tmp_path / "int.joblib"
    joblib.dump(3, number)
    no_sep = tmp_path / "nosep.joblib"
    joblib.dump(make_pipeline(STFT(), InverseSTFT()), no_sep)
    for path, pattern in [(tmp_path / "none.joblib", "not found"), (garbage, "not a joblib model file"),
                          (unfitted, "not fitted"), (other, "holds a dict, not a separation pipeline"),
                          (number, "holds an int, not"), (no_sep, "without a separator")]:
        rc = main(["separate", str(mono), "--model", str(path), "--allow-pickle", "-o", str(tmp_path / "o")])
        assert rc == 1
        lines = _last_error(capsys.readouterr().err)
        assert len(lines) == 1 and lines[0].startswith("sklearn-vpnn: error:")
        assert re.search(pattern, lines[0]), lines[0]


def test_debug_shows_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.joblib"
    bad.write_bytes(b"nope")
    assert main(["separate", "x.wav", "--model", str(bad), "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_model_without_sample_rate_warns(model_path, songs, tmp_path, capsys):
    _, mono = songs
    pipe = load_model(model_path)
    pipe[0].set_params(sample_rate=None)
    path = save_model(pipe, tmp_path / "norate.safetensors")
    assert main(["separate", str(mono), "--model", str(path), "-o", str(tmp_path / "o"),
                 "--no-progress"]) == 0
    assert "assuming 44100 Hz" in capsys.readouterr().err
    assert sf.info(tmp_path / "o" / "mono" / "drums.wav").samplerate == SR  # still the input's rate


def test_separate_subprocess(model_path, songs, tmp_path):
    st, _ = songs
    proc = subprocess.run(_exe() + ["separate", str(st), "--model", str(model_path), "-o",
                                    str(tmp_path / "o"), "--chunk-seconds", "1"],
                          capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal
    # the last line says where the stems went and how fast
    assert re.fullmatch(r".*stereo song\.wav -> .*o/stereo song/ \(drums\.wav, accompaniment\.wav\): "
                        r"2\.0 s of audio in \d+\.\d s \(\d+\.\dx real time\)\n", proc.stdout), proc.stdout
    assert (tmp_path / "o" / "stereo song" / "accompaniment.wav").exists()


# ---------------------------------------------------------------------- train
def test_train_refuses_to_overwrite_before_training(model_path, capsys):
    before = model_path.stat().st_mtime_ns
    rc = main(["train", "--synthetic", "2", "-o", str(model_path)])
    assert rc == 1
    err = capsys.readouterr().err
    assert "exists" in err and "--force" in err
    assert model_path.stat().st_mtime_ns == before


def test_budget_shorter_than_an_epoch_still_trains_one(tmp_path, capsys):
    """The separator's time budget only stops after a completed epoch; the CLI saves it."""
    path = tmp_path / "m.safetensors"
    rc = main(["train", "--synthetic", "3", "--duration", "1", "--sample-rate", str(SR),
               "--max-minutes", "0.00001", "--device", "cpu", *TINY, "-o", str(path)])
    assert rc == 0, capsys.readouterr().err
    assert load_model(path)[1].n_epochs_ >= 1


def test_train_bad_arguments(tmp_path, capsys):
    assert main(["train", "-o", str(tmp_path / "m.safetensors")]) == 1  # no data source
    assert "--musdb-root" in capsys.readouterr().err
    assert main(["train", "--musdb-root", str(tmp_path / "nowhere"), "-o", str(tmp_path / "m.safetensors")]) == 1
    assert "not found" in capsys.readouterr().err
    assert main(["train", "--synthetic", "2", "-o", str(tmp_path / "no" / "m.safetensors")]) == 1
    assert main(["train", "--synthetic", "2", "--model", "dnn", "--mapping", "color",
                 "-o", str(tmp_path / "m.safetensors")]) == 1


def test_trained_model_is_the_documented_pipeline(model_path):
    from sklearn_vpnn import InverseSTFT, VPNNSeparator

    pipe = load_model(model_path)
    assert [type(s) for _, s in pipe.steps] == [STFT, VPNNSeparator, InverseSTFT]
    assert pipe[0].sample_rate == SR and pipe[0].n_fft == 256
    assert pipe[1].hidden_units == 16 and pipe[1].sources_ == ("drums", "accompaniment")


def test_ctrl_c_saves_best_model(tmp_path):
    """SIGINT during training: skorch stops, the model so far (weight average) is kept and
    saved, and the exit code is 130 as documented (it was 0)."""
    out = tmp_path / "interrupted.safetensors"
    proc = subprocess.Popen(
        _exe() + ["train", "--synthetic", "3", "--duration", "1", "--sample-rate", str(SR),
                  "--epochs", "10000", "--patience", "0", "--device", "cpu", *TINY, "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=_env())
    lines, first_epoch = [], threading.Event()

    def reader():
        for line in proc.stdout:
            lines.append(line)
            if re.match(r"^\s+1\s", line):
                first_epoch.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        assert first_epoch.wait(120), "".join(lines)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    t.join(5)
    text = "".join(lines)
    assert rc == 130, text
    assert "Interrupted after" in text and "Saved" in text
    assert out.exists()
    pipe = load_model(out)
    assert 1 <= pipe[1].n_epochs_ < 10000


# ----------------------------------------------------------------------- demo
def test_demo_reduced(tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "-o", str(out), "--minutes", "0.1", "--tracks", "2", "--duration", "1",
            "--device", "cpu", *TINY]
    assert main(args) == 0
    text = capsys.readouterr().out
    for name in ("mixture.wav", "drums.wav", "accompaniment.wav", "separation.png", "model.safetensors"):
        assert (out / name).exists(), name
    assert re.search(r"drums\s+-?\d+\.\d+\s+-?\d+\.\d+", text)  # separated vs mixture SDR
    assert "SDR" in text
    assert main(args) == 1  # never overwrites without --force
    assert "--force" in capsys.readouterr().err
    # the demo's model file works with `separate`
    assert main(["separate", str(out / "mixture.wav"), "--model", str(out / "model.safetensors"),
                 "-o", str(tmp_path / "sep"), "--no-progress"]) == 0


# ------------------------------------------------------------------- evaluate
def test_evaluate_missing_root(model_path, tmp_path, capsys):
    rc = main(["evaluate", "--model", str(model_path), "--musdb-root", str(tmp_path / "nowhere")])
    assert rc == 1
    assert "not found" in _last_error(capsys.readouterr().err)[0]


@pytest.mark.musdb
def test_evaluate_musdb(model_path, musdb_root, tmp_path, capsys):
    js = tmp_path / "scores.json"
    rc = main(["evaluate", "--model", str(model_path), "--musdb-root", str(musdb_root),
               "--duration", "2", "--max-tracks", "2", "--json", str(js), "--device", "cpu"])
    assert rc == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "Median over 2 tracks" in out and "SIR" in out
    report = json.loads(js.read_text())
    assert len(report["tracks"]) == 2
    for track in report["tracks"].values():
        assert set(track) == {"drums", "accompaniment"}
        assert set(track["drums"]) == {"SDR", "SIR", "SAR", "ISR"}
    assert set(report["median"]["drums"]) == {"SDR", "SIR", "SAR", "ISR"}
