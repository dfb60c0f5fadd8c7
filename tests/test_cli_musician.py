"""`sklearn-vpnn separate` for musicians: formats, clip modes, stems that add up, folders,
file-name templates, pipes, progress and help, each end to end on short generated files."""

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from sklearn.pipeline import make_pipeline

from sklearn_vpnn import STFT, InverseSTFT, VPNNSeparator, make_drum_mixtures, save_model
from sklearn_vpnn.cli import main

SR = 8000  # the tiny model's rate
CLI = [sys.executable, "-m", "sklearn_vpnn.cli"]
ENV = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    data = make_drum_mixtures(n_tracks=3, duration=1.0, sample_rate=SR, random_state=0)
    pipe = make_pipeline(STFT(n_fft=256, sample_rate=SR),
                         VPNNSeparator(hidden_units=8, n_layers=2, max_epochs=2, device="cpu",
                                       random_state=0),
                         InverseSTFT()).fit(data.X, data.y)
    return save_model(pipe, tmp_path_factory.mktemp("model") / "tiny.safetensors")


def _write(path, rng, sr=SR, seconds=1.0, channels=2, gain=0.15, subtype="FLOAT"):
    path.parent.mkdir(parents=True, exist_ok=True)
    x = (gain * rng.standard_normal((int(sr * seconds), channels))).astype(np.float32)
    sf.write(path, x, sr, subtype=subtype if path.suffix.lower() == ".wav" else None)
    return path


def _sep(model, *args):
    return main(["separate", *map(str, args), "--model", str(model), "--no-progress", "--device", "cpu"])


def _files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def _read(path, dtype="float64"):
    return sf.read(path, dtype=dtype, always_2d=True)[0]


# ---------------------------------------------------------------- 1. formats and bit depths
@pytest.mark.parametrize("options,ext,subtype", [
    ([], "wav", "FLOAT"), (["--int16"], "wav", "PCM_16"), (["--int24"], "wav", "PCM_24"),
    (["--float32"], "wav", "FLOAT"), (["--format", "flac"], "flac", "PCM_24"),
    (["--format", "flac", "--int16"], "flac", "PCM_16"),
    (["--format", "mp3"], "mp3", "MPEG_LAYER_III"), (["--format", "ogg"], "ogg", "VORBIS")])
def test_formats_and_depths_read_back(model_path, tmp_path, rng, options, ext, subtype, capsys):
    inp = _write(tmp_path / "song.wav", rng, sr=16000)
    assert _sep(model_path, inp, "-o", tmp_path / "o", *options) == 0, capsys.readouterr().err
    assert _files(tmp_path / "o") == [f"song/accompaniment.{ext}", f"song/drums.{ext}"]
    for stem in ("drums", "accompaniment"):
        info = sf.info(tmp_path / "o" / "song" / f"{stem}.{ext}")
        # the input's rate, channels and length, whatever the format (MP3 too: gapless)
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 2, 16000, subtype)
    if ext != "mp3":  # lossless and Vorbis: close to the float WAV stems
        assert _sep(model_path, inp, "-o", tmp_path / "ref") == 0
        ref = _read(tmp_path / "ref" / "song" / "drums.wav")
        got = _read(tmp_path / "o" / "song" / f"drums.{ext}")
        if subtype == "VORBIS":
            assert np.sqrt(np.mean((got - ref) ** 2)) < 0.3 * np.sqrt(np.mean(ref**2))
        else:  # the same samples, to the format's step
            step = {"PCM_16": 2.0**-15, "PCM_24": 2.0**-23, "FLOAT": 0}[subtype]
            assert np.abs(got - ref).max() <= step / 2 + 1e-12


def test_mp3_and_ogg_bitrates(model_path, tmp_path, rng):
    inp = _write(tmp_path / "song.wav", rng, sr=32000, seconds=2.0)
    sizes = {}
    for fmt, kbps in [("mp3", 64), ("mp3", 128), ("mp3", 320), ("ogg", 64), ("ogg", 320)]:
        out = tmp_path / f"{fmt}{kbps}"
        assert _sep(model_path, inp, "-o", out, "--format", fmt, "--bitrate", kbps, "--sources", "drums") == 0
        sizes[fmt, kbps] = (out / "song" / f"drums.{fmt}").stat().st_size * 8 / 2.0 / 1000
    for kbps in (64, 128, 320):  # constant bitrate: the file's size says it
        assert abs(sizes["mp3", kbps] - kbps) < 0.1 * kbps, sizes
    assert sizes["ogg", 320] > 1.5 * sizes["ogg", 64], sizes  # Vorbis: the nearest quality


def test_formats_refuse_what_they_cannot_hold_before_separating(model_path, tmp_path, rng, capsys):
    three = _write(tmp_path / "three.wav", rng, channels=3)
    assert _sep(model_path, three, "-o", tmp_path / "o", "--format", "mp3") == 1
    err = capsys.readouterr().err
    assert "3 channels" in err and "MP3 holds at most 2" in err
    odd = _write(tmp_path / "odd.wav", rng, sr=96000, seconds=0.2, channels=1)
    assert _sep(model_path, odd, "-o", tmp_path / "o", "--format", "mp3") == 1
    assert "96000 Hz" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing separated, no folder left
    from sklearn_vpnn.separate import separate_file

    for kwargs in (dict(fmt="flac", depth="float32"), dict(fmt="mp3", depth="int16"),
                   dict(fmt="wav", bitrate=128), dict(fmt="wav", clip_mode="soft")):
        with pytest.raises(ValueError):
            separate_file(str(model_path), odd, tmp_path / "o", **kwargs)


# -------------------------------------------------------------------------- 2. clip modes
@pytest.fixture
def loud(tmp_path, rng):
    return _write(tmp_path / "loud.wav", rng, gain=3.0)


def _warnings(err):
    return [line for line in err.splitlines() if "warning:" in line]


def test_rescale_reports_one_gain_per_file(model_path, loud, tmp_path, capsys):
    assert _sep(model_path, loud, "-o", tmp_path / "o", "--int16") == 0  # rescale: the default
    lines = _warnings(capsys.readouterr().err)
    assert len(lines) == 1, lines  # once per file, not per stem
    gain = float(re.search(r"scaled by ([\d.]+) \(-[\d.]+ dB\)", lines[0]).group(1))
    d = _read(tmp_path / "o" / "loud" / "drums.wav")
    a = _read(tmp_path / "o" / "loud" / "accompaniment.wav")
    assert max(np.abs(d).max(), np.abs(a).max()) <= 1.0 and gain < 0.5
    # one gain for both stems: they keep their balance and still add up to the (scaled) input
    x = _read(loud)
    g = np.sum((d + a) * x) / np.sum(x * x)
    assert np.isclose(g, gain, rtol=1e-3) and np.abs(d + a - g * x).max() < 1e-3


def test_clamp_and_none(model_path, loud, tmp_path, capsys):
    assert _sep(model_path, loud, "-o", tmp_path / "c", "--int16", "--clip-mode", "clamp") == 0
    lines = _warnings(capsys.readouterr().err)
    assert len(lines) == 1 and "clipped at full scale" in lines[0]
    d = _read(tmp_path / "c" / "loud" / "drums.wav", "int16")
    assert np.mean(np.abs(d.astype(int)) >= 32767) > 0.01  # clamped, not rescaled
    # float WAV keeps peaks above 1 (none is its default) ...
    assert _sep(model_path, loud, "-o", tmp_path / "f") == 0
    assert not _warnings(capsys.readouterr().err)
    assert np.abs(_read(tmp_path / "f" / "loud" / "drums.wav")).max() > 1.5
    # ... unless asked: --clip-mode applies to float32 when given
    assert _sep(model_path, loud, "-o", tmp_path / "r", "--clip-mode", "rescale") == 0
    assert "scaled by" in capsys.readouterr().err
    assert np.abs(_read(tmp_path / "r" / "loud" / "drums.wav")).max() <= 1.0 + 1e-6
    # none in integers: nothing done, nothing said (full scale still clips, never wraps around)
    assert _sep(model_path, loud, "-o", tmp_path / "n", "--int16", "--clip-mode", "none") == 0
    assert not _warnings(capsys.readouterr().err)
    n = _read(tmp_path / "n" / "loud" / "drums.wav", "int16").astype(int)
    f = _read(tmp_path / "f" / "loud" / "drums.wav")
    assert np.all(np.sign(n[np.abs(f) > 1.1]) == np.sign(f[np.abs(f) > 1.1]))


# ---------------------------------------------------------- 3. stems that add up to the input
@pytest.mark.parametrize("sr", [SR, 16000, 22050])
def test_residual_float_wav_adds_up_to_float32_rounding(model_path, tmp_path, rng, sr, capsys):
    inp = _write(tmp_path / "song.wav", rng, sr=sr, seconds=1.3)
    assert _sep(model_path, inp, "-o", tmp_path / "o", "--residual", "--chunk-seconds", "0.4") == 0
    x = _read(inp, "float32")
    d = _read(tmp_path / "o" / "song" / "drums.wav", "float32")
    a = _read(tmp_path / "o" / "song" / "accompaniment.wav", "float32")
    assert d.shape == a.shape == x.shape  # the input's own rate and channels
    err = np.abs(d.astype(np.float64) + a - x)
    assert np.all(err <= 0.5 * np.spacing(np.maximum(np.abs(d), np.abs(a)))), err.max()
    # the drums are the model's own: the same as without --residual
    assert _sep(model_path, inp, "-o", tmp_path / "plain", "--chunk-seconds", "0.4") == 0
    np.testing.assert_array_equal(d, _read(tmp_path / "plain" / "song" / "drums.wav", "float32"))


@pytest.mark.parametrize("options,subtype,dtype,shift", [
    (["--int16"], "PCM_16", "int16", 0), (["--format", "flac"], "PCM_24", "int32", 8),
    (["--int24", "--other-method", "minus"], "PCM_24", "int32", 8)])
def test_residual_integer_stems_add_up_bit_for_bit(model_path, tmp_path, rng, options, subtype, dtype,
                                                   shift):
    inp = _write(tmp_path / "song.wav", rng, sr=16000, subtype=subtype)  # not the model's rate
    assert _sep(model_path, inp, "-o", tmp_path / "o", "--residual", *options) == 0
    ext = "flac" if "flac" in options else "wav"
    x, d, a = (_read(p, dtype).astype(np.int64) >> shift for p in
               (inp, tmp_path / "o" / "song" / f"drums.{ext}", tmp_path / "o" / "song" / f"accompaniment.{ext}"))
    np.testing.assert_array_equal(d + a, x)
    assert np.abs(d).max() > 100  # and the drums are not silence


def test_residual_accompaniment_alone_and_other_method_none(model_path, tmp_path, rng):
    inp = _write(tmp_path / "song.wav", rng)
    assert _sep(model_path, inp, "-o", tmp_path / "a", "--residual", "--sources", "accompaniment") == 0
    assert _sep(model_path, inp, "-o", tmp_path / "b", "--other-method", "none") == 0
    assert _files(tmp_path / "a") == ["song/accompaniment.wav"]
    assert _files(tmp_path / "b") == ["song/drums.wav"]
    x = _read(inp, "float32")
    d = _read(tmp_path / "b" / "song" / "drums.wav", "float32")
    np.testing.assert_array_equal(_read(tmp_path / "a" / "song" / "accompaniment.wav", "float32"), x - d)


def test_separate_array_residual(model_path):
    from sklearn_vpnn.separate import open_model, separate_array

    model = open_model(model_path)
    x = np.random.default_rng(3).standard_normal((2, 12345)).astype(np.float32) * 0.3
    for sr in (SR, 11025):
        own = separate_array(model, x, sr)
        est = separate_array(model, x, sr, residual=True)
        assert est.shape == (2, 2, 12345) and est.dtype == np.float32
        np.testing.assert_array_equal(est[0], own[0])  # the drums are the model's
        np.testing.assert_array_equal(est[1], x - est[0])  # the accompaniment is what is left
        np.testing.assert_allclose(est.sum(0), x, atol=1e-6)


# ----------------------------------------------------------------------- 4. many files at once
@pytest.fixture
def album(tmp_path, rng):
    root = tmp_path / "album"
    for rel in ("a.wav", "cd2/b.flac", "cd2/deeper/c.WAV", ".hidden.wav", ".git/d.wav"):
        _write(root / rel, rng, seconds=0.5)
    (root / "notes.txt").write_text("not audio")
    (root / "cd2" / "cover.jpg").write_bytes(b"\xff\xd8 not audio")
    return root


def test_folders_are_searched_recursively_for_audio_only(model_path, album, tmp_path, capsys):
    assert _sep(model_path, album, "-o", tmp_path / "o", "--sources", "drums") == 0
    assert _files(tmp_path / "o") == ["a/drums.wav", "b/drums.wav", "c/drums.wav"]
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 3 and all("x real time" in line for line in out.splitlines())
    # {dir} mirrors the tree; several paths (a folder and a file) in one run
    extra = _write(tmp_path / "single.wav", np.random.default_rng(1), seconds=0.5)
    assert _sep(model_path, album, extra, "-o", tmp_path / "t", "--sources", "drums",
                "--filename", "{dir}/{track}_{stem}.{ext}") == 0
    assert _files(tmp_path / "t") == ["a_drums.wav", "cd2/b_drums.wav", "cd2/deeper/c_drums.wav",
                                      "single_drums.wav"]


def test_output_folder_inside_the_input_folder_is_not_searched(model_path, album, tmp_path, capsys):
    out = album / "stems"
    assert _sep(model_path, album, "-o", out) == 0
    before = _files(out)
    assert len(before) == 6
    assert _sep(model_path, album, "-o", out, "--force") == 0  # not the stems of the stems
    assert _files(out) == before
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "readme.txt").write_text("x")
    assert _sep(model_path, empty, "-o", tmp_path / "e") == 1
    assert "holds no audio files" in capsys.readouterr().err


# ------------------------------------------------------------- file-name templates, collisions
def test_filename_templates(model_path, tmp_path, rng):
    for name in ("song.flac", "song.ogg"):
        _write(tmp_path / "in" / name, rng, seconds=0.5)
    ins = [tmp_path / "in" / "song.flac", tmp_path / "in" / "song.ogg"]
    assert _sep(model_path, *ins, "-o", tmp_path / "o", "--filename", "{track}_{trackext}/{stem}.{ext}",
                "--format", "flac") == 0
    assert _files(tmp_path / "o") == ["song_flac/accompaniment.flac", "song_flac/drums.flac",
                                      "song_ogg/accompaniment.flac", "song_ogg/drums.flac"]
    assert _sep(model_path, ins[0], "-o", tmp_path / "flat", "--filename", "{track}_{stem}.{ext}") == 0
    assert _files(tmp_path / "flat") == ["song_accompaniment.wav", "song_drums.wav"]
    assert _sep(model_path, ins[0], "-o", tmp_path / "bystem", "--filename", "{stem}/{track}.{ext}") == 0
    assert _files(tmp_path / "bystem") == ["accompaniment/song.wav", "drums/song.wav"]


@pytest.mark.parametrize("template,message", [
    ("{track}_{stem}.{ext}", "would both write to"),      # song.flac and song.ogg
    ("{track}/{stem}.{ext}", "would both write to"),      # the default
    ("{trackext}/{stem}.{ext}", "would both write to"),   # a/x.wav and b/y.wav ... and the two songs
    ("{track}.{ext}", "the same file"),                   # no {stem}: drums over accompaniment
])
def test_template_collisions_are_caught_before_any_work(model_path, tmp_path, rng, template, message,
                                                        capsys):
    first = _write(tmp_path / "in" / "first.wav", rng, seconds=0.5)  # would be separated first
    ins = [first] + [_write(tmp_path / "in" / n, rng, seconds=0.5) for n in ("song.flac", "song.ogg")]
    if template.startswith("{trackext}"):
        ins = [_write(tmp_path / "x" / "one.wav", rng, seconds=0.5), first]
    assert _sep(model_path, *ins, "-o", tmp_path / "o", "--filename", template) == 1
    err = capsys.readouterr().err
    assert message in err and "nothing was separated" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # not even the first input's stems


def test_folder_recursion_collisions_and_dir(model_path, tmp_path, rng, capsys):
    for rel in ("x/song.wav", "y/song.wav"):
        _write(tmp_path / "lib" / rel, rng, seconds=0.5)
    assert _sep(model_path, tmp_path / "lib", "-o", tmp_path / "o") == 1
    assert "would both write to" in capsys.readouterr().err and not (tmp_path / "o").exists()
    assert _sep(model_path, tmp_path / "lib", "-o", tmp_path / "o", "--filename", "{dir}/{track}/{stem}.{ext}") == 0
    assert len(_files(tmp_path / "o")) == 4


def test_templates_never_replace_inputs_nor_leave_the_output_folder(model_path, tmp_path, rng, capsys):
    inp = _write(tmp_path / "o" / "song.wav", rng, seconds=0.5)
    before = inp.read_bytes()
    assert _sep(model_path, inp, "-o", tmp_path / "o", "--filename", "{track}.{ext}", "--sources",
                "drums", "--force") == 1
    assert "never replaced" in capsys.readouterr().err and inp.read_bytes() == before
    for bad in ("../{stem}.{ext}", "/tmp/{stem}.{ext}", "{track}/../../{stem}.{ext}", "{stem}/"):
        assert _sep(model_path, inp, "-o", tmp_path / "p", "--filename", bad) == 2, bad
    assert not (tmp_path / "p").exists()


# ------------------------------------------------------------------------ 5. pipes
def _wav_bytes(x, sr, subtype="PCM_16", unknown_sizes=False):
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV", subtype=subtype)
    data = bytearray(buf.getvalue())
    if unknown_sizes:  # what ffmpeg writes to a pipe: RIFF and data sizes it cannot know
        data[4:8] = b"\xff\xff\xff\xff"
        k = data.index(b"data")
        data[k + 4:k + 8] = b"\xff\xff\xff\xff"
    return bytes(data)


@pytest.mark.parametrize("unknown_sizes", [False, True])
def test_stdin_to_stdout_through_a_real_pipe(model_path, tmp_path, rng, unknown_sizes):
    x = (0.3 * rng.standard_normal((12000, 2))).astype(np.float32)
    sf.write(tmp_path / "song.wav", x, 16000, subtype="PCM_16")
    x16 = sf.read(tmp_path / "song.wav", dtype="float32")[0]
    proc = subprocess.run(CLI + ["separate", "-", "--stdout", "drums", "--model", str(model_path),
                                 "--device", "cpu"],
                          input=_wav_bytes(x16, 16000, unknown_sizes=unknown_sizes),
                          capture_output=True, env=ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout[:4] == b"RIFF"  # nothing but the WAV on stdout
    y, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32")
    assert sr == 16000 and y.shape == x.shape
    # the same drums as separating the file
    assert _sep(model_path, tmp_path / "song.wav", "-o", tmp_path / "o") == 0
    np.testing.assert_array_equal(y, sf.read(tmp_path / "o" / "song" / "drums.wav", dtype="float32")[0])
    assert "stdin -> standard output (drums, WAV 32-bit float)" in proc.stderr.decode()


def test_shell_pipeline_with_ffmpeg_shape(model_path, tmp_path, rng):
    """`ffmpeg -i x.flac -f wav - | sklearn-vpnn separate - --stdout drums > drums.wav` (a real
    shell pipeline; ffmpeg when installed, else cat of a WAV with unknown sizes)."""
    src = tmp_path / "x.flac"
    sf.write(src, (0.3 * rng.standard_normal((9000, 2))).astype(np.float32), 22050)
    if shutil.which("ffmpeg"):
        feed = f"ffmpeg -nostdin -loglevel error -i {src} -f wav -"
    else:
        (tmp_path / "x.wav").write_bytes(_wav_bytes(sf.read(src)[0], 22050, unknown_sizes=True))
        feed = f"cat {tmp_path / 'x.wav'}"
    cli = " ".join(CLI)
    cmd = (f"{feed} | {cli} separate - --stdout accompaniment --residual --int16 --model {model_path} "
           f"--device cpu > {tmp_path / 'acc.wav'}")
    proc = subprocess.run(cmd, shell=True, capture_output=True, text=True, env=ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr
    info = sf.info(tmp_path / "acc.wav")
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (22050, 2, 9000, "PCM_16")


def test_stdin_to_files_and_pipe_errors(model_path, tmp_path, rng):
    x = (0.3 * rng.standard_normal((SR, 1))).astype(np.float32)
    proc = subprocess.run(CLI + ["separate", "-", "-o", str(tmp_path / "o"), "--model", str(model_path),
                                 "--device", "cpu", "--format", "flac"],
                          input=_wav_bytes(x, SR), capture_output=True, env=ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    assert _files(tmp_path / "o") == ["stdin/accompaniment.flac", "stdin/drums.flac"]
    for args, stdin, message in [
        (["-", "--stdout", "drums"], b"", "was empty"),
        (["-", "--stdout", "drums"], b"not audio at all" * 100, "Could not read audio"),
        (["-", "--stdout", "bass"], _wav_bytes(x, SR), "unknown source"),
        (["-", "-", "--stdout", "drums"], _wav_bytes(x, SR), "given twice")]:
        proc = subprocess.run(CLI + ["separate", *args, "--model", str(model_path), "--device", "cpu"],
                              input=stdin, capture_output=True, env=ENV, timeout=120)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and message in err and "Traceback" not in err, (args, err)
        assert proc.stdout == b""


def test_sigterm_in_stdout_mode_leaves_no_temporary_files(model_path, tmp_path, rng):
    """SIGTERM while separating stdin to stdout: the spooled input and the stem's temporary
    folder are removed, exit code 143, nothing on stdout."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    long = _wav_bytes((0.3 * rng.standard_normal((16000 * 120, 2))).astype(np.float32), 16000)
    proc = subprocess.Popen(CLI + ["separate", "-", "--stdout", "drums", "--int16", "--model", str(model_path),
                                   "--device", "cpu", "--chunk-seconds", "0.2"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(ENV, TMPDIR=str(tmp)))
    try:
        proc.stdin.write(long)
        proc.stdin.close()
        proc.stdin = None  # communicate() must not flush it again
        deadline = time.monotonic() + 120
        while not any(f.endswith(".part") for f in _files(tmp)):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no .part file appeared"
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert out == b"" and b"terminated" in err
    assert os.listdir(tmp) == []


# ---------------------------------------------------------------- 6. progress, summary, help
def test_progress_bar_in_seconds_on_a_terminal_only(model_path, tmp_path, rng):
    pty = pytest.importorskip("pty")
    inp = _write(tmp_path / "song.wav", rng, seconds=3.0)
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # a terminal's width
    try:
        proc = subprocess.run(CLI + ["separate", str(inp), "-o", str(tmp_path / "o"), "--model", str(model_path),
                                     "--device", "cpu", "--chunk-seconds", "0.5"],
                              stderr=slave, stdout=subprocess.PIPE, env=ENV, timeout=120)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    assert proc.returncode == 0
    bar = b"".join(chunks).decode(errors="replace")
    assert "song.wav" in bar and "/3.0 s of audio" in bar, bar
    assert re.search(r"song\.wav -> .*o/song/ \(drums\.wav, accompaniment\.wav\): 3\.0 s of audio in "
                     r"[\d.]+ s \([\d.]+x real time\)", proc.stdout.decode())


def test_help_groups_the_options_and_shows_examples(capsys):
    assert main(["separate", "--help"]) == 0
    out = capsys.readouterr().out
    heads = [line for line in out.splitlines() if re.fullmatch(r"[a-z]+:", line)]
    assert heads == ["options:", "input:", "output:", "model:", "performance:", "examples:"], heads
    examples = out.split("examples:")[1]
    assert examples.count("sklearn-vpnn separate") == 2
    assert "--stdout drums > drums.wav" in examples
    for group, options in [("output", ["--filename", "--format", "--int16", "--int24", "--float32",
                                       "--bitrate", "--clip-mode", "--residual", "--stdout"]),
                           ("performance", ["--device", "--chunk-seconds", "--overlap-seconds"]),
                           ("model", ["--model", "--allow-pickle"])]:
        section = out.split(f"\n{group}:\n")[1].split("\n\n")[0]
        for opt in options:
            assert opt in section, (group, opt)
