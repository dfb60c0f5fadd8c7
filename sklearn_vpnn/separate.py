"""Separating audio with a trained model: model files, audio files and arrays.

The library side of ``sklearn-vpnn separate`` (what Open-Unmix keeps in its
``predict.py``); :mod:`sklearn_vpnn.cli` only parses options and reports.

* :func:`load_model` reads a model file, a :mod:`joblib` dump of a fitted
  ``Pipeline(STFT(sample_rate=...), VPNNSeparator(...), InverseSTFT())``, into a
  :class:`Model`, optionally moving the network to a device;
* :func:`separate_file` separates an audio file of any length, rate and channel
  count into ``OUTDIR/<input stem>/<source>.<format>`` with bounded memory: the
  input is read in blocks, resampled to the model's rate in a stream, separated
  chunk by chunk (:func:`sklearn_vpnn.chunking.iter_separate`), resampled back
  and each stem written block by block;
* :func:`separate_array` does the same for an in-memory signal.

Examples
--------
>>> from sklearn_vpnn.separate import load_model, separate_file
>>> model = load_model("drums.joblib")  # doctest: +SKIP
>>> paths = separate_file(model, "song.mp3", "separated")  # doctest: +SKIP
>>> paths["drums"]  # doctest: +SKIP
PosixPath('separated/song/drums.wav')
"""

import os
import sys
import tempfile
import uuid
import warnings
from pathlib import Path

import numpy as np

__all__ = ["CLIError", "Model", "load_model", "separate_file", "separate_array", "output_paths"]

DEFAULT_SAMPLE_RATE = 44100  # assumed for model files that do not record their rate
_BLOCK = 1 << 17  # frames per read/write block when streaming files


class CLIError(Exception):
    """A failure explained in one line (no traceback unless ``--debug``).

    Raised by :func:`load_model` for unusable model files, and by the
    ``sklearn-vpnn`` commands; :func:`sklearn_vpnn.cli.main` prints its message as
    one ``sklearn-vpnn: error: ...`` line.
    """


# --------------------------------------------------------------------------- #
# model files
# --------------------------------------------------------------------------- #
class Model:
    """A loaded model file: the pipeline and what separating with it needs to know.

    Parameters
    ----------
    pipeline : Pipeline
        The fitted ``STFT -> separator -> InverseSTFT`` pipeline.
    separator : estimator
        Its fitted separator step (with ``sources_``).
    stft : STFT or None
        Its STFT step.
    sample_rate : int
        The rate (Hz) the model works at.
    path : Path
        The file it was loaded from.

    Attributes
    ----------
    sources : tuple of str
        The separator's ``sources_``.
    """

    def __init__(self, pipeline, separator, stft, sample_rate, path):
        self.pipeline = pipeline
        self.separator = separator
        self.stft = stft
        self.sources = tuple(separator.sources_)
        self.sample_rate = sample_rate
        self.path = path


def load_model(path, device=None):
    """Load a model file saved by ``sklearn-vpnn train`` (or any joblib'd pipeline).

    Parameters
    ----------
    path : str or path-like
        Joblib file of a fitted ``STFT -> separator -> InverseSTFT`` pipeline.
    device : {"cpu", "cuda", "cuda:N", "auto"} or None
        Move the separator's network there (None leaves it where it is).

    Returns
    -------
    Model
        With ``pipeline``, ``separator``, ``stft``, ``sources``, ``sample_rate``.

    Raises
    ------
    CLIError
        Missing file, not a joblib file, an unfitted pipeline, an object that is
        not a separation pipeline, or a device that is unknown or not available.
    """
    path = Path(os.fspath(path)).expanduser()
    if not path.exists():
        raise CLIError(f"model file not found: {path}")
    if path.is_dir():
        raise CLIError(f"model file {path} is a directory")
    import joblib

    try:
        obj = joblib.load(path)
    except Exception as exc:  # pickle/joblib raise many types for garbage files
        raise CLIError(
            f"cannot load model file {path}: not a joblib model file "
            f"({type(exc).__name__}: {str(exc).strip() or 'unreadable'})"
        ) from exc
    steps = getattr(obj, "steps", None)
    if steps is None or not hasattr(obj, "transform"):
        raise CLIError(
            f"model file {path} holds a {type(obj).__name__}, not a separation pipeline "
            "(STFT -> separator -> InverseSTFT); make one with `sklearn-vpnn train`"
        )
    objs = [s for _, s in steps]
    separators = [s for s in objs if hasattr(s, "sources_")]
    from sklearn.exceptions import NotFittedError

    if not separators:
        if any(hasattr(s, "sources") and hasattr(s, "fit") for s in objs):
            err = NotFittedError(f"the pipeline in model file {path} is not fitted; fit it before saving")
            raise CLIError(f"{err} (sklearn NotFittedError)") from err
        raise CLIError(
            f"model file {path} holds a pipeline without a separator step "
            f"(steps: {', '.join(type(s).__name__ for s in objs)})"
        )
    separator = separators[0]
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(separator)
    except NotFittedError as exc:
        raise CLIError(f"the separator in model file {path} is not fitted: {exc}") from exc
    stft = next((s for s in objs if hasattr(s, "n_fft") and hasattr(s, "sample_rate")), None)
    sample_rate = getattr(stft, "sample_rate", None)
    if sample_rate is None:
        warnings.warn(
            f"model file {path} does not record its sample rate (STFT sample_rate=None); "
            f"assuming {DEFAULT_SAMPLE_RATE} Hz",
            UserWarning,
            stacklevel=2,
        )
        sample_rate = DEFAULT_SAMPLE_RATE
    if device is not None:
        try:
            _move_to_device(separator, device)
        except ValueError as exc:
            raise CLIError(str(exc)) from exc
    return Model(obj, separator, stft, int(sample_rate), path)


def _move_to_device(separator, device):
    """Run a fitted separator's network on ``device`` ("cpu", "cuda", "cuda:N", "auto").

    The device is resolved and checked by the separator's own rule (the one ``fit``
    uses; ValueError for an unknown device or CUDA that is not there); the
    separator's ``device`` parameter, its skorch net and the module follow.
    """
    from .separator._estimators import _resolve_device

    if "device" not in separator.get_params(deep=False):
        return  # not a separator of this package: nothing to move
    resolved = _resolve_device(device)
    separator.set_params(device=device)
    net = getattr(separator, "net_", None)
    if net is not None:
        net.device = resolved
        net.module_.to(resolved)  # transform uses the device of the module's parameters


# --------------------------------------------------------------------------- #
# chunks and lengths
# --------------------------------------------------------------------------- #
def _chunk_samples(chunk_seconds, overlap_seconds, sample_rate):
    """Chunk and crossfade lengths in samples at ``sample_rate`` (overlap < chunk)."""
    from ._validation import check_seconds

    chunk_seconds = check_seconds(chunk_seconds, "chunk_seconds")
    overlap_seconds = check_seconds(overlap_seconds, "overlap_seconds", allow_zero=True)
    chunk = max(1, int(round(chunk_seconds * sample_rate)))
    return chunk, min(int(round(overlap_seconds * sample_rate)), chunk - 1)


def _fit_length(x, n):
    """``x`` cut or zero-padded to ``n`` samples on the last axis."""
    if x.shape[-1] >= n:
        return x[..., :n]
    pad = [(0, 0)] * (x.ndim - 1) + [(0, n - x.shape[-1])]
    return np.pad(x, pad)


def separate_array(model, audio, sample_rate, chunk_seconds=30.0, overlap_seconds=1.0):
    """Separate an in-memory signal, resampled to the model's rate and back.

    Parameters
    ----------
    model : Model
        From :func:`load_model`.
    audio : array-like of shape (n_channels, n_samples) or (n_samples,)
        The mixture.
    sample_rate : int
        Sample rate of ``audio`` in Hz.
    chunk_seconds : float, default=30.0
        Chunk length, in seconds (:func:`sklearn_vpnn.chunking.separate_long`).
    overlap_seconds : float, default=1.0
        Crossfade between consecutive chunks, in seconds.

    Returns
    -------
    ndarray of shape (n_sources, n_channels, n_samples), float32
        The sources in the order of ``model.sources``, at ``sample_rate`` and
        exactly as long as ``audio``.
    """
    from ._validation import check_sample_rate
    from .chunking import separate_long
    from .io import _resample

    sample_rate = check_sample_rate(sample_rate)
    audio = np.asarray(audio, np.float32)
    x = _resample(audio, sample_rate, model.sample_rate)
    chunk, overlap = _chunk_samples(chunk_seconds, overlap_seconds, model.sample_rate)
    est = separate_long(model.pipeline, x, chunk, overlap)
    return np.stack([_fit_length(_resample(e, model.sample_rate, sample_rate), audio.shape[-1])
                     for e in est])


# --------------------------------------------------------------------------- #
# reading and writing files in blocks
# --------------------------------------------------------------------------- #
def _open_input(path):
    """An open :class:`soundfile.SoundFile` on ``path``; errors name the file."""
    import soundfile as sf

    from .io import AudioFileError

    path = Path(os.fspath(path)).expanduser()
    if not path.exists():
        raise FileNotFoundError(2, "input file not found", str(path))
    if path.is_dir():
        raise IsADirectoryError(21, "input is a directory, not an audio file", str(path))
    try:
        f = sf.SoundFile(str(path))
    except (sf.SoundFileError, RuntimeError) as exc:
        raise AudioFileError(f"cannot read audio file {str(path)!r}: {exc}") from exc
    if f.frames <= 0:
        f.close()
        raise AudioFileError(f"audio file {str(path)!r} holds no samples")
    return f


def _read_block(f, start, stop):
    """Samples ``[start, stop)`` of an open SoundFile, ``(n_channels, n)`` float32."""
    f.seek(start)
    data = f.read(frames=stop - start, dtype="float32", always_2d=True)
    if data.shape[0] < stop - start:  # some decoders report a few frames too many
        data = np.concatenate([data, np.zeros((stop - start - data.shape[0], data.shape[1]), np.float32)])
    return np.ascontiguousarray(data.T)


def _wav_format(n_frames, n_channels):
    # plain WAV headers stop at 4 GiB; RF64 is WAV's 64-bit extension
    return "RF64" if n_frames * n_channels * 4 > 0xFFFF0000 else "WAV"


def _resample_to_file(f, in_sr, out_sr, tmp_path):
    """Stream ``f`` resampled to ``out_sr`` into a float WAV; return its frame count."""
    import soundfile as sf
    import soxr

    n_ch = f.channels
    expected = int(round(f.frames * out_sr / in_sr))
    rs = soxr.ResampleStream(in_sr, out_sr, n_ch, dtype="float32", quality="HQ")
    written = 0
    f.seek(0)
    with sf.SoundFile(str(tmp_path), "w", samplerate=out_sr, channels=n_ch,
                      format=_wav_format(expected, n_ch), subtype="FLOAT") as out:
        while True:
            block = f.read(frames=_BLOCK, dtype="float32", always_2d=True)
            last = block.shape[0] < _BLOCK
            y = rs.resample_chunk(np.ascontiguousarray(block), last=last)
            if len(y):
                out.write(y)
                written += len(y)
            if last:
                break
    return written


class _SourceWriter:
    """Writes one source incrementally at the input's rate, exactly ``n_frames`` long."""

    def __init__(self, path, fmt, n_frames, sample_rate, n_channels, model_sr, overwrite):
        import soundfile as sf

        self.path, self.fmt, self.n_frames = path, fmt, n_frames
        self.sample_rate, self.n_channels, self.overwrite = sample_rate, n_channels, overwrite
        self.tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:10]}.part"
        # WAV is written as float (never clips); FLAC is integer, so write float first,
        # then rescale if needed when converting
        self.float_tmp = self.tmp if fmt == "wav" else self.tmp.with_suffix(".float.part")
        self.file = sf.SoundFile(str(self.float_tmp), "w", samplerate=sample_rate, channels=n_channels,
                                 format=_wav_format(n_frames, n_channels), subtype="FLOAT")
        self.written = 0
        self.peak = 0.0
        self.rs = None
        if model_sr != sample_rate:
            import soxr

            self.rs = soxr.ResampleStream(model_sr, sample_rate, n_channels, dtype="float32", quality="HQ")

    def _put(self, frames):
        frames = frames[: max(0, self.n_frames - self.written)]
        if len(frames):
            self.file.write(frames)
            self.written += len(frames)
            self.peak = max(self.peak, float(np.max(np.abs(frames))))

    def write(self, block, last=False):
        """``block``: (n_channels, n) at the model's rate."""
        frames = np.ascontiguousarray(block.T, dtype=np.float32)
        if self.rs is not None:
            frames = self.rs.resample_chunk(frames, last=last)
        self._put(frames)

    def close(self):
        import soundfile as sf

        if self.written < self.n_frames:  # resampler round-off: pad the last few frames
            self._put(np.zeros((self.n_frames - self.written, self.n_channels), np.float32))
        self.file.close()
        if self.fmt == "flac":
            scale = 1.0
            if self.peak > 1.0:
                scale = 1.0 / self.peak
                warnings.warn(
                    f"peak {self.peak:.4g} > 1.0 would clip in FLAC file {str(self.path)!r}; "
                    f"scaling the audio by 1/{self.peak:.4g} (use --format wav to keep levels)",
                    UserWarning, stacklevel=2,
                )
            with sf.SoundFile(str(self.float_tmp)) as src, sf.SoundFile(
                str(self.tmp), "w", samplerate=self.sample_rate, channels=self.n_channels,
                format="FLAC", subtype="PCM_24"
            ) as dst:
                for block in src.blocks(blocksize=_BLOCK, dtype="float32", always_2d=True):
                    dst.write(np.clip(block * scale, -1.0, 1.0))
            self.float_tmp.unlink()
        if not self.overwrite and self.path.exists():
            raise FileExistsError(17, "output appeared while separating; not replaced", str(self.path))
        os.replace(self.tmp, self.path)

    def discard(self):
        try:
            self.file.close()
        except Exception:
            pass
        for p in {self.tmp, self.float_tmp}:
            try:
                p.unlink()
            except FileNotFoundError:
                pass


# --------------------------------------------------------------------------- #
# separating files
# --------------------------------------------------------------------------- #
def output_paths(input_path, outdir, sources, fmt):
    """Where :func:`separate_file` writes: ``{source: OUTDIR/<input stem>/<source>.<fmt>}``.

    Parameters
    ----------
    input_path : str or path-like
        The input file (only its stem is used: ``song.wav`` -> ``song``).
    outdir : str or path-like
        The output folder.
    sources : sequence of str
        Source names.
    fmt : str
        File extension without the dot, e.g. ``"wav"``.

    Returns
    -------
    dict
        ``{source: Path}``.

    Examples
    --------
    >>> from sklearn_vpnn.separate import output_paths
    >>> {s: str(p) for s, p in output_paths("in/song.mp3", "out", ["drums"], "wav").items()}
    {'drums': 'out/song/drums.wav'}
    """
    stem = Path(os.fspath(input_path)).stem
    return {s: Path(outdir) / stem / f"{s}.{fmt}" for s in sources}


def separate_file(model, input_path, outdir="separated", fmt="wav", sources=None, overwrite=False,
                  chunk_seconds=30.0, overlap_seconds=1.0, progress=True):
    """Separate one audio file into ``OUTDIR/<stem>/<source>.<fmt>`` files.

    The input is read in blocks (seeking), resampled to the model's rate in a
    stream if needed, separated chunk by chunk (:func:`sklearn_vpnn.chunking.
    iter_separate`), resampled back to the input's rate and written block by
    block, so memory stays bounded whatever the length. Every channel is
    separated.

    Parameters
    ----------
    model : Model or str
        From :func:`load_model`, or a model file path.
    input_path : str or path-like
        Any file libsndfile reads (WAV, FLAC, OGG, MP3...), any rate and channels.
    outdir : str or path-like, default="separated"
        Output folder; ``OUTDIR/<input stem>/`` is created.
    fmt : {"wav", "flac"}, default="wav"
        WAV is written as 32-bit float; FLAC as 24-bit integers (rescaled, with a
        warning, if the peak exceeds 1).
    sources : sequence of str, default=None
        Sources to write; None writes all the model's sources.
    overwrite : bool, default=False
        Replace existing outputs; otherwise :class:`FileExistsError` before any work.
    chunk_seconds : float, default=30.0
        Chunk length, in seconds at the model's rate.
    overlap_seconds : float, default=1.0
        Crossfade between consecutive chunks, in seconds.
    progress : bool, default=True
        Show a tqdm bar over chunks on stderr.

    Returns
    -------
    dict
        ``{source: output path}``.
    """
    from ._validation import check_choice
    from .chunking import _n_chunks, iter_separate

    if not isinstance(model, Model):
        model = load_model(model)
    check_choice(fmt, "format", ("wav", "flac"))
    sources = model.sources if sources is None else tuple(sources)
    unknown = [s for s in sources if s not in model.sources]
    if unknown:
        raise ValueError(f"unknown source(s) {unknown}; the model separates {list(model.sources)}")
    chunk, overlap = _chunk_samples(chunk_seconds, overlap_seconds, model.sample_rate)
    idx = [model.sources.index(s) for s in sources]
    paths = output_paths(input_path, outdir, sources, fmt)
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(17, f"outputs exist, not overwritten (use --force): {', '.join(existing)}",
                              str(input_path))
    f = _open_input(input_path)
    tmpdir = None
    writers = []
    try:
        in_sr, n_ch, n_frames = int(f.samplerate), int(f.channels), int(f.frames)
        model_sr = model.sample_rate
        stem_dir = next(iter(paths.values())).parent
        stem_dir.mkdir(parents=True, exist_ok=True)
        if in_sr == model_sr:
            src, n = f, n_frames
        else:
            tmpdir = Path(tempfile.mkdtemp(prefix=".sklearn-vpnn-", dir=stem_dir))
            tmp_in = tmpdir / "input.wav"
            n = _resample_to_file(f, in_sr, model_sr, tmp_in)
            f.close()
            import soundfile as sf

            src = f = sf.SoundFile(str(tmp_in))
        writers = [_SourceWriter(paths[s], fmt, n_frames, in_sr, n_ch, model_sr, overwrite) for s in sources]
        from tqdm.auto import tqdm

        with tqdm(total=_n_chunks(model.pipeline, n, chunk, overlap), unit="chunk", file=sys.stderr,
                  desc=Path(os.fspath(input_path)).name, disable=not progress, leave=False) as bar:
            blocks = iter_separate(model.pipeline, lambda a, b: _read_block(src, a, b), n, chunk,
                                   overlap, progress=bar.update)
            for start, block in blocks:
                last = start + block.shape[-1] >= n
                for w, i in zip(writers, idx):
                    w.write(block[i], last=last)
        for w in writers:
            w.close()
        writers = []
        return paths
    finally:
        for w in writers:
            w.discard()
        f.close()
        if tmpdir is not None:
            import shutil

            shutil.rmtree(tmpdir, ignore_errors=True)
