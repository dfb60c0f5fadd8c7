"""Audio files read and written in blocks, for :func:`sklearn_vpnn.separate.separate_file`.

Memory stays bounded by a block whatever the file's length: the input is read by
seeking (:class:`_BlockReader`), resampled to the model's rate into a temporary float
WAV (:func:`_resample_to_file`); the separated sources are resampled back together
(:class:`_StemFrames`) and each is written block by block as 32-bit float
(:class:`_SourceWriter`) to a hidden ``.part`` file, converted to the output format
(:mod:`sklearn_vpnn._encoding`) and renamed into place only when complete.
:class:`_BandResidual` streams what the resampling round trip to the model's rate and
back loses (everything above the model's band, when the file's rate is higher),
which the accompaniment gets back; :class:`_InputFrames` reads the input at its own
rate for residual stems (``input - drums``).
"""

import os
import uuid
from pathlib import Path

import numpy as np

_BLOCK = 1 << 17  # frames per read/write block when streaming files


def _check_finite_block(block, name, start, sample_rate):
    """Raise an AudioFileError naming the file if ``block`` holds NaN or infinite samples."""
    if block.size and not (np.isfinite(block.min()) and np.isfinite(block.max())):
        from .io import AudioFileError

        bad = np.flatnonzero(~np.isfinite(block).all(axis=tuple(range(1, block.ndim))))
        at = (start + int(bad[0])) / sample_rate if len(bad) else start / sample_rate
        raise AudioFileError(f"audio file {name!r} holds NaN or infinite samples (the first at "
                             f"{at:.3f} s); it cannot be separated")


def _open_input(path):
    """An open :class:`soundfile.SoundFile` on ``path``; errors name the file."""
    import soundfile as sf

    from .io import AudioFileError, _decode_error

    path = Path(os.fspath(path)).expanduser()
    if not path.exists():
        raise FileNotFoundError(2, "input file not found", str(path))
    if path.is_dir():
        raise IsADirectoryError(21, "input is a directory, not an audio file", str(path))
    try:
        f = sf.SoundFile(str(path))
    except (sf.SoundFileError, RuntimeError) as exc:
        raise _decode_error(path, exc) from exc
    if f.frames <= 0:
        f.close()
        raise AudioFileError(f"audio file {str(path)!r} holds no samples")
    return f


class _BlockReader:
    """``read(start, stop)``: samples of an open SoundFile as ``(n_channels, n)`` float32.

    Refuses NaN and infinite samples, naming the file ``name``.
    """

    def __init__(self, f, name):
        self.f, self.name = f, name

    def __call__(self, start, stop):
        self.f.seek(start)
        data = self.f.read(frames=stop - start, dtype="float32", always_2d=True)
        if data.shape[0] < stop - start:  # some decoders report a few frames too many
            data = np.concatenate([data, np.zeros((stop - start - data.shape[0], data.shape[1]),
                                                  np.float32)])
        _check_finite_block(data, self.name, start, self.f.samplerate)
        return np.ascontiguousarray(data.T)


def _wav_format(n_frames, n_channels):
    # plain WAV headers stop at 4 GiB; RF64 is WAV's 64-bit extension
    return "RF64" if n_frames * n_channels * 4 > 0xFFFF0000 else "WAV"


def _resample_to_file(f, in_sr, out_sr, tmp_path, name):
    """Stream ``f`` resampled to ``out_sr`` into a float WAV; return its frame count.

    NaN or infinite input samples raise an AudioFileError naming the file ``name``.
    """
    import soundfile as sf
    import soxr

    n_ch = f.channels
    expected = int(round(f.frames * out_sr / in_sr))
    rs = soxr.ResampleStream(in_sr, out_sr, n_ch, dtype="float32", quality="HQ")
    written = read = 0
    f.seek(0)
    with sf.SoundFile(str(tmp_path), "w", samplerate=out_sr, channels=n_ch,
                      format=_wav_format(expected, n_ch), subtype="FLOAT") as out:
        while True:
            block = f.read(frames=_BLOCK, dtype="float32", always_2d=True)
            _check_finite_block(block, name, read, in_sr)
            read += len(block)
            last = block.shape[0] < _BLOCK
            y = rs.resample_chunk(np.ascontiguousarray(block), last=last)
            if len(y):
                out.write(y)
                written += len(y)
            if last:
                break
    return written


class _BandResidual:
    """``x - up(down(x))`` of an input file, streamed: what the model's rate cannot carry.

    ``down`` is the input resampled to the model's rate (the temporary file the
    separation reads), ``up`` the same stream resampling back that the source
    writers use; :meth:`take` returns the next frames of the difference at the
    input's rate. Added to one source, it makes the written sources add up to the
    input again, high band included.
    """

    def __init__(self, input_path, down_path, in_sr, model_sr, n_channels):
        import soundfile as sf
        import soxr

        self.inp = sf.SoundFile(str(input_path))
        self.down = sf.SoundFile(str(down_path))
        self.rs = soxr.ResampleStream(model_sr, in_sr, n_channels, dtype="float32", quality="HQ")
        self.low = np.zeros((0, n_channels), np.float32)
        self.done = False

    def take(self, n):
        """The next ``n`` frames of the residual, ``(n, n_channels)`` float32."""
        while len(self.low) < n and not self.done:
            block = self.down.read(frames=_BLOCK, dtype="float32", always_2d=True)
            self.done = block.shape[0] < _BLOCK
            y = self.rs.resample_chunk(np.ascontiguousarray(block), last=self.done)
            self.low = np.concatenate([self.low, y]) if len(self.low) else np.asarray(y)
        low, self.low = self.low[:n], self.low[n:]
        x = self.inp.read(frames=n, dtype="float32", always_2d=True)
        out = np.zeros((n, self.low.shape[1]), np.float32)
        out[: len(x)] = x
        out[: len(low)] -= low
        return out

    def close(self):
        self.inp.close()
        self.down.close()


class _StemFrames:
    """Separated blocks at the model's rate -> every needed source at the input's rate.

    All sources go through one soxr stream (``n_sources * n_channels`` channels), so
    their frames stay aligned; :meth:`push` returns ``(n_sources, n, n_channels)``
    float32 and, over the whole file, exactly ``n_frames`` frames (the last push
    flushes the resampler and pads its round-off with zeros).
    """

    def __init__(self, n_sources, n_channels, model_sr, sample_rate, n_frames):
        self.shape = (n_sources, n_channels)
        self.left = n_frames
        self.rs = None
        if model_sr != sample_rate:
            import soxr

            self.rs = soxr.ResampleStream(model_sr, sample_rate, n_sources * n_channels,
                                          dtype="float32", quality="HQ")

    def push(self, block, last=False):
        """``block``: ``(n_sources, n_channels, n)`` at the model's rate."""
        s, c = self.shape
        if self.rs is None:  # one copy, (n_sources, n_channels, n) -> (n_sources, n, n_channels)
            frames = np.ascontiguousarray(np.asarray(block, np.float32)[..., : self.left].transpose(0, 2, 1))
            if last and frames.shape[1] < self.left:
                frames = np.concatenate([frames, np.zeros((s, self.left - frames.shape[1], c), np.float32)], 1)
            self.left -= frames.shape[1]
            return frames
        frames = np.ascontiguousarray(np.asarray(block, np.float32).reshape(s * c, -1).T)
        frames = self.rs.resample_chunk(frames, last=last)
        frames = frames[: self.left]
        if last and len(frames) < self.left:
            frames = np.concatenate([frames, np.zeros((self.left - len(frames), s * c), np.float32)])
        self.left -= len(frames)
        return np.ascontiguousarray(frames.reshape(-1, s, c).transpose(1, 0, 2))


class _InputFrames:
    """The input file read front to back at its own rate: :meth:`take` ``(n, n_channels)`` float32."""

    def __init__(self, path):
        import soundfile as sf

        self.f = sf.SoundFile(str(path))

    def take(self, n):
        """The next ``n`` frames (zeros past the end)."""
        x = self.f.read(frames=n, dtype="float32", always_2d=True)
        if len(x) < n:
            x = np.concatenate([x, np.zeros((n - len(x), x.shape[1]), np.float32)])
        return x

    def close(self):
        self.f.close()


class _SourceWriter:
    """Writes one source incrementally as 32-bit float, then puts the finished file in place.

    Samples go to a hidden ``.<name>.<random>.part`` file beside ``path`` (float WAV
    when that is the output, else ``....float.part`` to be converted into the
    ``.part`` by :func:`sklearn_vpnn._encoding.convert`); :meth:`commit` renames the
    ``.part`` to ``path``, :meth:`discard` removes both. The peak is tracked for
    the clip mode.
    """

    def __init__(self, path, n_frames, sample_rate, n_channels, overwrite, as_is=True):
        import soundfile as sf

        self.path, self.overwrite = path, overwrite
        self.tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:10]}.part"
        self.float_tmp = self.tmp if as_is else self.tmp.with_suffix(".float.part")
        self.file = None
        try:
            self.file = sf.SoundFile(str(self.float_tmp), "w", samplerate=sample_rate,
                                     channels=n_channels, format=_wav_format(n_frames, n_channels),
                                     subtype="FLOAT")
        except (sf.SoundFileError, RuntimeError) as exc:
            raise OSError(5, f"cannot write in the output folder ({_why(exc)})", str(path)) from None
        self.peak = 0.0

    def write(self, frames):
        """``frames``: ``(n, n_channels)`` float32 at the output's rate."""
        if len(frames):
            self.file.write(frames)
            self.peak = max(self.peak, float(frames.max()), -float(frames.min()))  # no |frames| copy

    def finish(self):
        """Close the float file; return the stem's peak."""
        self.file.close()
        return self.peak

    def commit(self):
        """Rename the finished ``.part`` into place and remove the float one."""
        if self.float_tmp != self.tmp:
            self.float_tmp.unlink()
        _move_into_place(self.tmp, self.path, self.overwrite)

    def discard(self):
        try:
            if self.file is not None:
                self.file.close()
        except Exception:
            pass
        for p in {self.tmp, self.float_tmp}:
            try:
                p.unlink()
            except FileNotFoundError:
                pass


def _why(exc):
    """libsndfile's own words for an error, without the file name it quotes."""
    return getattr(exc, "error_string", None) or str(exc).strip() or type(exc).__name__


def _move_into_place(tmp, path, overwrite):
    """Rename the finished ``tmp`` to ``path``; without ``overwrite`` never replace a file."""
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # refuses to clobber a file that appeared while separating
    except FileExistsError:
        raise FileExistsError(17, "output appeared while separating; not replaced", str(path)) from None
    except OSError:  # a file system without hard links
        if path.exists():
            raise FileExistsError(17, "output appeared while separating; not replaced",
                                  str(path)) from None
        os.replace(tmp, path)
    else:
        tmp.unlink()
