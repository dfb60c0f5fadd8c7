"""Tests for sklearn_vpnn.io (audio files are written by the tests, in tmp_path)."""

import os
import warnings

import numpy as np
import pytest
import soundfile as sf

from sklearn_vpnn import load_audio, save_audio
from sklearn_vpnn.io import AudioFileError

SR = 22050


@pytest.fixture
def stereo(rng):
    """One second of band-limited stereo test signal, peak well below 1."""
    t = np.arange(SR) / SR
    left = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(SR)
    right = 0.3 * np.sin(2 * np.pi * 660 * t + 0.3)
    return np.stack([left, right]).astype(np.float32)


def _corr(a, b):
    n = min(a.shape[-1], b.shape[-1])
    return np.corrcoef(a[..., :n].ravel(), b[..., :n].ravel())[0, 1]


def test_wav_round_trip_is_exact(tmp_path, stereo):
    path = tmp_path / "x.wav"
    save_audio(path, stereo, SR)
    audio, sr = load_audio(path)
    assert sr == SR
    assert audio.dtype == np.float32 and audio.shape == (2, SR)
    np.testing.assert_array_equal(audio, stereo)
    assert sf.info(str(path)).subtype == "FLOAT"


def test_wav_float_keeps_peaks_above_one(tmp_path, stereo):
    loud = 2.0 * stereo
    save_audio(tmp_path / "loud.wav", loud, SR)
    np.testing.assert_array_equal(load_audio(tmp_path / "loud.wav")[0], loud)


@pytest.mark.parametrize("ext, atol, min_corr", [(".flac", 1e-5, None), (".ogg", None, 0.95), (".mp3", None, 0.95)])
def test_lossy_and_lossless_round_trips(tmp_path, stereo, ext, atol, min_corr):
    path = tmp_path / f"x{ext}"
    save_audio(path, stereo, SR)
    audio, sr = load_audio(path)
    assert sr == SR and audio.dtype == np.float32 and audio.shape[0] == 2
    if atol is not None:  # FLAC PCM_24: exact up to quantisation
        assert audio.shape == stereo.shape
        np.testing.assert_allclose(audio, stereo, atol=atol)
    else:  # lossy codecs: same length within a frame, strongly correlated
        assert abs(audio.shape[1] - SR) < 2048
        assert _corr(audio, stereo) > min_corr


def test_one_dimensional_audio_is_mono(tmp_path, stereo):
    save_audio(tmp_path / "m.wav", stereo[0], SR)
    audio, _ = load_audio(tmp_path / "m.wav")
    assert audio.shape == (1, SR)
    np.testing.assert_array_equal(audio[0], stereo[0])


def test_mono_averages_channels(tmp_path, stereo):
    save_audio(tmp_path / "x.wav", stereo, SR)
    audio, _ = load_audio(tmp_path / "x.wav", mono=True)
    assert audio.shape == (1, SR)
    np.testing.assert_allclose(audio[0], stereo.mean(axis=0), atol=1e-7)


@pytest.mark.parametrize("target", [8000, 16000, 44100])
def test_resampling_changes_length(tmp_path, stereo, target):
    save_audio(tmp_path / "x.wav", stereo, SR)
    audio, sr = load_audio(tmp_path / "x.wav", sample_rate=target)
    assert sr == target and audio.dtype == np.float32
    assert abs(audio.shape[1] - SR * target / SR) <= 1
    assert audio.shape[0] == 2
    # a 440 Hz tone stays a 440 Hz tone
    spectrum = np.abs(np.fft.rfft(audio[1]))
    freqs = np.fft.rfftfreq(audio.shape[1], 1 / target)
    assert abs(freqs[np.argmax(spectrum)] - 660) < 2


def test_same_sample_rate_is_untouched(tmp_path, stereo):
    save_audio(tmp_path / "x.wav", stereo, SR)
    np.testing.assert_array_equal(load_audio(tmp_path / "x.wav", sample_rate=SR)[0], stereo)


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "nope.wav"
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        load_audio(path)


def test_corrupt_file_names_the_file(tmp_path):
    path = tmp_path / "garbage.wav"
    path.write_bytes(b"RIFF not really a wave file" * 50)
    with pytest.raises(AudioFileError, match="garbage.wav") as info:
        load_audio(path)
    assert isinstance(info.value, ValueError)


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.flac"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.flac"):
        load_audio(path)


def test_overwrite_refused_then_allowed(tmp_path, stereo):
    path = tmp_path / "x.wav"
    save_audio(path, stereo, SR)
    with pytest.raises(FileExistsError, match="x.wav"):
        save_audio(path, 0.5 * stereo, SR)
    np.testing.assert_array_equal(load_audio(path)[0], stereo)  # untouched
    save_audio(path, 0.5 * stereo, SR, overwrite=True)
    np.testing.assert_array_equal(load_audio(path)[0], 0.5 * stereo)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.wav"]  # no temporary left


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_audio_refused(tmp_path, stereo, bad):
    stereo[1, 100] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        save_audio(tmp_path / "x.wav", stereo, SR)
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("shape", [(), (2, 3, 100)])
def test_wrong_ndim_refused(tmp_path, shape):
    with pytest.raises(ValueError, match="shape"):
        save_audio(tmp_path / "x.wav", np.zeros(shape), SR)


def test_channels_last_is_caught(tmp_path, stereo):
    with pytest.raises(ValueError, match="channels first"):
        save_audio(tmp_path / "x.wav", stereo.T, SR)


@pytest.mark.parametrize("sr", [0, -44100, 44100.0, "44100", None, True])
def test_bad_sample_rate(tmp_path, stereo, sr):
    with pytest.raises(ValueError, match="sample_rate"):
        save_audio(tmp_path / "x.wav", stereo, sr)


def test_bad_load_sample_rate(tmp_path, stereo):
    save_audio(tmp_path / "x.wav", stereo, SR)
    with pytest.raises(ValueError, match="sample_rate"):
        load_audio(tmp_path / "x.wav", sample_rate=0)


def test_unknown_extension_and_subtype(tmp_path, stereo):
    with pytest.raises(ValueError, match=r"\.xyz"):
        save_audio(tmp_path / "x.xyz", stereo, SR)
    with pytest.raises(ValueError, match="subtype"):
        save_audio(tmp_path / "x.flac", stereo, SR, subtype="FLOAT")


def test_missing_directory_is_not_created(tmp_path, stereo):
    with pytest.raises(FileNotFoundError, match="missing"):
        save_audio(tmp_path / "missing" / "x.wav", stereo, SR)
    assert not (tmp_path / "missing").exists()


def test_integer_subtype_rescales_with_warning(tmp_path, stereo):
    loud = 3.0 * stereo
    peak = np.abs(loud).max()
    with pytest.warns(UserWarning, match=r"loud\.flac.*scaling"):
        save_audio(tmp_path / "loud.flac", loud, SR)
    audio, _ = load_audio(tmp_path / "loud.flac")
    np.testing.assert_allclose(audio, loud / peak, atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save_audio(tmp_path / "quiet.wav", stereo, SR, subtype="PCM_16")  # no warning


def test_failed_write_leaves_no_file(tmp_path, stereo):
    # the MP3 encoder does not support 7 kHz: the error names the file, no debris stays
    with pytest.raises(ValueError, match="x.mp3"):
        save_audio(tmp_path / "x.mp3", stereo, 7000)
    assert not os.listdir(tmp_path)
