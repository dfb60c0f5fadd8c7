"""Reading and writing audio files.

Audio is always channels first: ``(n_channels, n_samples)`` float32, the layout used
everywhere in :mod:`sklearn_vpnn` (see :ref:`data_model`, ``docs/data_model.rst``).
Files are read and written with :mod:`soundfile` (libsndfile), so WAV, FLAC, OGG/Vorbis
and MP3 work without ffmpeg; resampling uses :mod:`soxr`.
"""

import os
import uuid
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

from ._validation import check_sample_rate

__all__ = ["AudioFileError", "load_audio", "save_audio"]

# file extension -> libsndfile major format, and the subtype written by default
_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".mp3": "MP3"}
_DEFAULT_SUBTYPES = {"WAV": "FLOAT", "FLAC": "PCM_24", "OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}
# subtypes that store fixed-point samples, i.e. clip anything beyond [-1, 1]
_CLIPPING_SUBTYPE_PREFIXES = ("PCM_", "ULAW", "ALAW", "DPCM_", "DWVW_", "ALAC_")


class AudioFileError(ValueError):
    """An audio file exists but cannot be read or written (corrupt, unsupported...).

    Subclasses :class:`ValueError`; the message always names the file.

    Examples
    --------
    >>> from sklearn_vpnn.io import AudioFileError, load_audio
    >>> try:
    ...     load_audio("not-really-audio.wav")  # doctest: +SKIP
    ... except AudioFileError as exc:
    ...     print(exc)  # doctest: +SKIP
    Could not read audio file 'not-really-audio.wav': Format not recognised.
    """


def _resample(audio, orig_sr, target_sr):
    """Resample channels-first ``audio`` from ``orig_sr`` to ``target_sr`` with soxr.

    Any leading axes are kept: ``(..., n_samples)`` in, ``(..., n_resampled)`` out,
    float32. All rows are resampled in one soxr call.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if orig_sr == target_sr:
        return audio
    import soxr

    lead, n_samples = audio.shape[:-1], audio.shape[-1]
    rows = audio.reshape(-1, n_samples)
    if rows.shape[0] == 0 or n_samples == 0:
        n_out = int(round(n_samples * target_sr / orig_sr))
        return np.zeros(lead + (n_out,), dtype=np.float32)
    # soxr wants (n_frames, n_channels)
    out = soxr.resample(np.ascontiguousarray(rows.T), orig_sr, target_sr, quality="HQ")
    out = np.asarray(out, dtype=np.float32).reshape(-1, rows.shape[0]).T
    return np.ascontiguousarray(out).reshape(lead + (out.shape[-1],))


def _decode_error(path, exc):
    """The AudioFileError for a file libsndfile could not open or decode; names the file.

    libsndfile's MP3 reader says "File does not exist or is not a regular file" for
    bytes it cannot parse; for a regular file that exists that is replaced by what it
    means: the content is not audio libsndfile can decode.
    """
    why = getattr(exc, "error_string", None) or str(exc).strip() or type(exc).__name__
    if "does not exist or is not a regular file" in why and Path(path).is_file():
        why = "its content is not audio in a format libsndfile can decode (corrupt or mislabelled?)"
    hint = ""
    if Path(path).name.lower().endswith(".mp4"):
        hint = " (MP4/stem files are not supported here; read MUSDB18 with load_musdb)"
    return AudioFileError(f"Could not read audio file {str(path)!r}: {why}{hint}")


def _check_input_path(path):
    """Return ``path`` as a Path if it names an existing file, else raise."""
    path = Path(os.fspath(path)).expanduser()
    if not path.exists():
        raise FileNotFoundError(2, "Audio file not found", str(path))
    if path.is_dir():
        raise IsADirectoryError(21, "Expected an audio file, got a directory", str(path))
    return path


def _read_audio(path, offset=0.0, duration=None):
    """Read ``path`` (or the segment ``[offset, offset + duration)`` in seconds).

    Returns ``(audio, sample_rate)`` with audio channels first, float32. Errors name
    the file.
    """
    path = _check_input_path(path)
    try:
        with sf.SoundFile(str(path)) as f:
            sample_rate = int(f.samplerate)
            start = int(round(offset * sample_rate))
            frames = -1 if duration is None else int(round(duration * sample_rate))
            if start > 0:
                if f.frames and start >= f.frames:
                    raise ValueError(
                        f"offset={offset} s is beyond the end of {str(path)!r} "
                        f"({f.frames / sample_rate:.3f} s)."
                    )
                f.seek(start)
            data = f.read(frames=frames, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, EOFError) as exc:  # LibsndfileError and friends
        raise _decode_error(path, exc) from exc
    return np.ascontiguousarray(data.T), sample_rate


def load_audio(path, sample_rate=None, mono=False):
    """Load an audio file as a channels-first float32 array.

    Parameters
    ----------
    path : str or path-like
        Audio file readable by libsndfile (WAV, FLAC, OGG/Vorbis, MP3, AIFF...).
    sample_rate : int, default=None
        Resample to this rate (Hz) with soxr if it differs from the file's rate.
        ``None`` keeps the file's rate.
    mono : bool, default=False
        Average the channels; the result then has shape ``(1, n_samples)``.

    Returns
    -------
    audio : ndarray of shape (n_channels, n_samples), dtype float32
        The samples, channels first, nominally in ``[-1, 1]``.
    sample_rate : int
        Sample rate of ``audio`` in Hz.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    AudioFileError
        (a :class:`ValueError`) if the file cannot be decoded (corrupt or unsupported).

    See Also
    --------
    save_audio : The inverse operation.

    Examples
    --------
    >>> from sklearn_vpnn import load_audio
    >>> audio, sr = load_audio("song.wav")  # doctest: +SKIP
    >>> audio.shape, sr  # doctest: +SKIP
    ((2, 441000), 44100)
    >>> audio, sr = load_audio("song.wav", sample_rate=22050, mono=True)  # doctest: +SKIP
    >>> audio.shape, sr  # doctest: +SKIP
    ((1, 220500), 22050)
    """
    sample_rate = check_sample_rate(sample_rate, allow_none=True)
    audio, file_sr = _read_audio(path)
    if mono:
        audio = audio.mean(axis=0, keepdims=True, dtype=np.float32)
    if sample_rate is not None and sample_rate != file_sr:
        audio = _resample(audio, file_sr, sample_rate)
        file_sr = sample_rate
    return audio, file_sr


def _is_clipping_subtype(subtype):
    return subtype.upper().startswith(_CLIPPING_SUBTYPE_PREFIXES)


def save_audio(path, audio, sample_rate, overwrite=False, subtype=None):
    """Write a channels-first array to an audio file.

    The format follows the file extension: ``.wav`` (default subtype ``FLOAT``, no
    clipping), ``.flac`` (``PCM_24``), ``.ogg`` (Vorbis) or ``.mp3``. The file is
    written to a temporary name in the same directory and then renamed, so a failed
    write never leaves a partial file behind.

    Parameters
    ----------
    path : str or path-like
        Output file. Its directory must exist (it is not created).
    audio : array-like of shape (n_channels, n_samples) or (n_samples,)
        Samples, channels first; a 1-D array is written as mono. Must be finite.
    sample_rate : int
        Sample rate in Hz, a positive integer.
    overwrite : bool, default=False
        Replace ``path`` if it already exists. By default an existing file is never
        touched and :class:`FileExistsError` is raised.
    subtype : str, default=None
        libsndfile subtype, e.g. ``"PCM_16"``, ``"PCM_24"``, ``"FLOAT"``; ``None``
        picks the format's default listed above. For fixed-point (integer) subtypes,
        audio whose peak exceeds 1.0 is scaled by ``1 / peak`` (with a
        :class:`UserWarning`) instead of being clipped.

    Raises
    ------
    ValueError
        Unsupported extension or subtype, wrong ``audio`` shape, NaN or infinite
        samples, or an invalid ``sample_rate``.
    FileExistsError
        If ``path`` exists and ``overwrite=False``.
    FileNotFoundError
        If the directory of ``path`` does not exist.
    AudioFileError
        (a :class:`ValueError`) if libsndfile fails to encode the file (for example an
        MP3 sample rate the encoder does not support).

    See Also
    --------
    load_audio : The inverse operation.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_vpnn import save_audio
    >>> t = np.arange(44100) / 44100
    >>> stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)])
    >>> save_audio("tone.wav", 0.5 * stereo, 44100)  # doctest: +SKIP
    >>> save_audio("tone.flac", 0.5 * stereo, 44100, subtype="PCM_16")  # doctest: +SKIP
    >>> save_audio("tone.wav", stereo, 44100, overwrite=True)  # doctest: +SKIP
    """
    path = Path(os.fspath(path)).expanduser()
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"Cannot tell the audio format of {str(path)!r} from its extension "
            f"{path.suffix!r}; use one of {sorted(_FORMATS)}."
        )
    if fmt not in sf.available_formats():
        raise ValueError(
            f"Cannot write {str(path)!r}: this libsndfile ({sf.__libsndfile_version__}) "
            f"has no {fmt} support; MP3 needs libsndfile >= 1.1."
        )
    if subtype is None:
        subtype = _DEFAULT_SUBTYPES[fmt]
    elif not isinstance(subtype, str) or not sf.check_format(fmt, subtype.upper()):
        raise ValueError(
            f"subtype {subtype!r} is not valid for {fmt} files; "
            f"valid subtypes: {sorted(sf.available_subtypes(fmt))}."
        )
    subtype = subtype.upper()
    sample_rate = check_sample_rate(sample_rate)

    audio = np.asarray(audio)
    if audio.dtype.kind not in "fiub":
        raise ValueError(f"audio must be real-valued numbers, got dtype {audio.dtype}.")
    if audio.dtype.kind != "f" or audio.dtype.itemsize < 4:
        audio = audio.astype(np.float32)
    if audio.ndim == 1:
        audio = audio[np.newaxis]
    if audio.ndim != 2:
        raise ValueError(
            f"audio must have shape (n_channels, n_samples) or (n_samples,), "
            f"got an array with shape {audio.shape}."
        )
    n_channels, n_samples = audio.shape
    if n_channels == 0:
        raise ValueError(f"audio has no channels (shape {audio.shape}).")
    if n_channels > 16 and n_channels > n_samples:
        raise ValueError(
            f"audio has shape {audio.shape}, read as {n_channels} channels of "
            f"{n_samples} samples; arrays are channels first (n_channels, n_samples), "
            "so pass audio.T if yours is (n_samples, n_channels)."
        )
    if not np.all(np.isfinite(audio)):
        raise ValueError(f"audio to save to {str(path)!r} contains NaN or infinite values.")

    if path.is_dir():
        raise IsADirectoryError(21, "Cannot write audio over a directory", str(path))
    if path.exists() and not overwrite:
        raise FileExistsError(17, "Audio file exists (pass overwrite=True to replace it)", str(path))
    directory = path.parent
    if not directory.is_dir():
        raise FileNotFoundError(2, "Directory does not exist (create it first)", str(directory))

    if _is_clipping_subtype(subtype) and n_samples:
        peak = float(np.max(np.abs(audio)))
        if peak > 1.0:
            warnings.warn(
                f"Peak {peak:.4g} > 1.0 would clip in {subtype} file {str(path)!r}; "
                f"scaling the audio by 1/{peak:.4g}.",
                UserWarning,
                stacklevel=2,
            )
            audio = audio / peak

    tmp = directory / f".{path.name}.{uuid.uuid4().hex[:12]}.part"
    try:
        with open(tmp, "xb") as f:
            sf.write(f, audio.T, sample_rate, format=fmt, subtype=subtype)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            # link() refuses to clobber a file created since the check above
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise FileExistsError(
                    17, "Audio file exists (pass overwrite=True to replace it)", str(path)
                ) from None
            except OSError:  # file system without hard links
                if path.exists():
                    raise FileExistsError(
                        17, "Audio file exists (pass overwrite=True to replace it)", str(path)
                    ) from None
                os.replace(tmp, path)
    except (sf.SoundFileError, RuntimeError) as exc:
        raise AudioFileError(f"Could not write audio file {str(path)!r}: {exc}") from exc
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
