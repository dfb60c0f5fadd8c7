"""The ``sklearn-vpnn`` command: separate, train, evaluate, demo.

Run ``sklearn-vpnn --help`` or ``sklearn-vpnn COMMAND --help``. Exit codes: 0 on
success, 1 on failure (one ``sklearn-vpnn: error: ...`` line on stderr; ``--debug``
shows the traceback), 2 on a usage error, 130 when interrupted by Ctrl-C.

A model file is a :mod:`joblib` dump of a fitted
``Pipeline(STFT(sample_rate=...), VPNNSeparator(...), InverseSTFT())``.
"""

import argparse
import json
import math
import os
import signal
import sys
import tempfile
import time
import traceback
import uuid
import warnings
from pathlib import Path

import numpy as np

PROG = "sklearn-vpnn"
DEFAULT_SAMPLE_RATE = 44100
_BLOCK = 1 << 17  # frames per read/write block when streaming files

__all__ = ["main", "load_model", "separate_file", "CLIError"]


class CLIError(Exception):
    """A failure explained in one line (no traceback unless ``--debug``)."""


# --------------------------------------------------------------------------- #
# model files
# --------------------------------------------------------------------------- #
class Model:
    """A loaded model file: the pipeline and what the command line needs to know."""

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
    device : {"cpu", "cuda", "auto"} or None
        Move the separator's network there (None leaves it where it is).

    Returns
    -------
    Model
        With ``pipeline``, ``separator``, ``stft``, ``sources``, ``sample_rate``.

    Raises
    ------
    CLIError
        Missing file, not a joblib file, an unfitted pipeline, or an object
        that is not a separation pipeline.
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
    if not separators:
        if any(hasattr(s, "sources") and hasattr(s, "fit") for s in objs):
            from sklearn.exceptions import NotFittedError

            err = NotFittedError(f"the pipeline in model file {path} is not fitted; fit it before saving")
            raise CLIError(f"{err} (sklearn NotFittedError)") from err
        raise CLIError(
            f"model file {path} holds a pipeline without a separator step "
            f"(steps: {', '.join(type(s).__name__ for s in objs)})"
        )
    separator = separators[0]
    from sklearn.exceptions import NotFittedError
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
    model = Model(obj, separator, stft, int(sample_rate), path)
    if device is not None:
        set_device(model, device)
    return model


def set_device(model, device):
    """Run the separator on ``device`` ("cpu", "cuda", "cuda:N" or "auto")."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise CLIError(f"unknown device {device!r}; use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise CLIError(f"--device {device} was asked for but CUDA is not available here")
    sep = model.separator
    if "device" in sep.get_params(deep=False):
        sep.set_params(device=str(dev))
    net = getattr(sep, "net_", None)
    if net is not None:
        net.device = str(dev)
        module = getattr(net, "module_", None)
        if module is not None:
            module.to(dev)  # transform uses the device of the module's parameters


# --------------------------------------------------------------------------- #
# separating files
# --------------------------------------------------------------------------- #
def _open_input(path):
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


def output_paths(input_path, outdir, sources, fmt):
    """``{source: OUTDIR/<input stem>/<source>.<fmt>}``."""
    stem = Path(os.fspath(input_path)).stem  # song.wav -> song
    return {s: Path(outdir) / stem / f"{s}.{fmt}" for s in sources}


def n_chunks(n_samples, chunk_samples, overlap_samples, model):
    from .chunking import _plan, pipeline_context

    _, align = pipeline_context(model.pipeline)
    return len(_plan(n_samples, chunk_samples, overlap_samples, align)[0])


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
    fmt : {"wav", "flac"}, default="wav"
        WAV is written as 32-bit float; FLAC as 24-bit integers (rescaled, with a
        warning, if the peak exceeds 1).
    sources : sequence of str, default=None
        Sources to write; None writes all the model's sources.
    overwrite : bool, default=False
        Replace existing outputs; otherwise :class:`FileExistsError` before any work.
    chunk_seconds, overlap_seconds : float
        Chunk length and crossfade length, in seconds at the model's rate.
    progress : bool, default=True
        Show a tqdm bar over chunks on stderr.

    Returns
    -------
    dict
        ``{source: output path}``.
    """
    from .chunking import iter_separate

    if not isinstance(model, Model):
        model = load_model(model)
    if fmt not in ("wav", "flac"):
        raise ValueError(f"format must be 'wav' or 'flac'; got {fmt!r}")
    sources = model.sources if sources is None else tuple(sources)
    unknown = [s for s in sources if s not in model.sources]
    if unknown:
        raise ValueError(f"unknown source(s) {unknown}; the model separates {list(model.sources)}")
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
        chunk = max(1, int(round(chunk_seconds * model_sr)))
        overlap = min(int(round(overlap_seconds * model_sr)), chunk - 1)
        writers = [_SourceWriter(paths[s], fmt, n_frames, in_sr, n_ch, model_sr, overwrite) for s in sources]
        from tqdm.auto import tqdm

        with tqdm(total=n_chunks(n, chunk, overlap, model), unit="chunk", file=sys.stderr,
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


# --------------------------------------------------------------------------- #
# metrics
# --------------------------------------------------------------------------- #
def _metrics(references, estimates, sample_rate, all_metrics=True, method="bss_eval_v4"):
    """Per-source metrics of one track ``(n_sources, n_channels, n_samples)``.

    Returns ``{"SDR": array(n_sources), ...}`` (SDR only unless ``all_metrics``).
    Uses :func:`sklearn_vpnn.sdr` when available, else museval / a framewise SDR.
    """
    refs = np.asarray(references, dtype=np.float64)
    ests = np.asarray(estimates, dtype=np.float64)
    try:
        from .metrics import sdr
    except ImportError:
        sdr = None
    if sdr is not None:
        if all_metrics:
            r = sdr(refs[None], ests[None], sample_rate=sample_rate, method="bss_eval_v4", return_all=True)
            return {k.upper(): np.asarray(r[k])[0] for k in ("sdr", "sir", "sar", "isr")}
        return {"SDR": np.asarray(sdr(refs[None], ests[None], sample_rate=sample_rate, method=method))[0]}
    if all_metrics:  # museval directly: (n_sources, n_samples, n_channels)
        import museval

        keep = [np.any(r) and np.any(e) for r, e in zip(refs, ests)]
        out = {k: np.full(len(refs), np.nan) for k in ("SDR", "SIR", "SAR", "ISR")}
        if all(keep):
            sdr_, isr, sir, sar = museval.evaluate(refs.transpose(0, 2, 1), ests.transpose(0, 2, 1),
                                                   win=sample_rate, hop=sample_rate)
            for k, v in zip(("SDR", "ISR", "SIR", "SAR"), (sdr_, isr, sir, sar)):
                out[k] = np.nanmedian(np.where(np.isfinite(v), v, np.nan), axis=1)
        return out
    win = int(sample_rate)
    res = []
    for r, e in zip(refs, ests):
        vals = []
        for a in range(0, r.shape[-1], win):
            num, den = np.sum(r[:, a:a + win] ** 2), np.sum((r - e)[:, a:a + win] ** 2)
            if num > 0:
                vals.append(10 * np.log10(num / max(den, 1e-20)))
        res.append(np.median(vals) if vals else np.nan)
    return {"SDR": np.array(res)}


# --------------------------------------------------------------------------- #
# commands
# --------------------------------------------------------------------------- #
def _err(msg):
    print(f"{PROG}: error: {msg}", file=sys.stderr)


def _describe(exc):
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.strerror or exc}: {exc.filename}"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def cmd_separate(args):
    fmt = args.format
    sources = None
    model = load_model(args.model, device=args.device)
    if args.sources:
        sources = [s.strip() for s in args.sources.split(",") if s.strip()]
        unknown = [s for s in sources if s not in model.sources]
        if unknown:
            raise CLIError(f"--sources: unknown source(s) {', '.join(unknown)}; "
                           f"the model separates {', '.join(model.sources)}")
    overlap_seconds = min(args.overlap_seconds, args.chunk_seconds / 2)  # keep chunks useful
    outdir = Path(args.outdir)
    failed = 0
    for inp in args.inputs:
        t0 = time.monotonic()
        try:
            paths = separate_file(model, inp, outdir, fmt=fmt, sources=sources, overwrite=args.force,
                                  chunk_seconds=args.chunk_seconds, overlap_seconds=overlap_seconds,
                                  progress=not args.no_progress)
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            failed += 1
            if args.debug:
                traceback.print_exc()
            if isinstance(exc, FileExistsError):
                _err(f"{inp}: skipped: {exc.strerror}")
            else:
                _err(f"{inp}: {_describe(exc)}")
            continue
        folder = next(iter(paths.values())).parent
        print(f"{inp} -> {folder}/ ({', '.join(p.name for p in paths.values())}) "
              f"in {time.monotonic() - t0:.1f} s")
    if failed:
        _err(f"{failed} of {len(args.inputs)} input(s) failed")
        return 1
    return 0


def _check_new_file(path, force, what="output file"):
    path = Path(path)
    if path.is_dir():
        raise CLIError(f"{what} {path} is a directory")
    if path.exists() and not force:
        raise CLIError(f"{what} {path} exists; use --force to overwrite it")
    parent = path.parent
    if not parent.is_dir():
        raise CLIError(f"directory {parent} of {what} {path} does not exist")
    if not os.access(parent, os.W_OK):
        raise CLIError(f"directory {parent} of {what} {path} is not writable")
    return path


def _dump(obj, path):
    import joblib

    path = Path(path)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:10]}.part"
    try:
        joblib.dump(obj, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class _InterruptFlag:
    """Remember whether Ctrl-C was pressed while still raising KeyboardInterrupt."""

    def __init__(self):
        self.hit = False

    def __enter__(self):
        self.old = None
        try:
            self.old = signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not in the main thread
            pass
        return self

    def _handler(self, signum, frame):
        self.hit = True
        raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)
        return False


def _make_separator(args, sources, max_time, max_epochs, verbose=1, **extra):
    from .separator import DNNSeparator, VPNNSeparator

    common = dict(hidden_units=args.hidden_units, sources=tuple(sources), max_epochs=max_epochs,
                  max_time=max_time, random_state=args.seed, verbose=verbose, device=args.device,
                  **extra)
    if getattr(args, "model_kind", "vpnn") == "dnn":
        if args.mapping is not None:
            raise CLIError("--mapping applies to --model vpnn only")
        return DNNSeparator(**common)
    return VPNNSeparator(mapping=args.mapping or "window", **common)


def _fit(pipe, X, y, budget_option="--max-minutes"):
    """Fit; Ctrl-C during training keeps the model trained so far.

    That model is the moving average of the weights (the separators' default) or,
    with averaging off, the best epoch, which skorch's Checkpoint restores. If
    training stops (Ctrl-C or time budget) before the first epoch finished, the
    Checkpoint has nothing to restore and skorch fails with a KeyError ('event_cp')
    or FileNotFoundError; that is turned into a clear message.
    """
    with _InterruptFlag() as flag:
        try:
            pipe.fit(X, y)
        except KeyboardInterrupt:
            raise
        except (KeyError, FileNotFoundError) as exc:
            if "event_cp" not in str(exc) and not isinstance(exc, FileNotFoundError):
                raise
            if flag.hit:  # checkpoint restore failed: no epoch had finished
                raise KeyboardInterrupt from exc
            if pipe[1].max_time is not None:
                raise CLIError(
                    f"the training time budget ({pipe[1].max_time:g} s) ran out before the first "
                    f"epoch finished; give a larger {budget_option} or less data"
                ) from exc
            raise
    return flag.hit


def cmd_train(args):
    out = _check_new_file(args.output, args.force, "model file")
    from sklearn.pipeline import make_pipeline

    from .spectral import STFT, InverseSTFT

    if args.synthetic:
        from .datasets import make_drum_mixtures

        data = make_drum_mixtures(n_tracks=args.synthetic, duration=args.duration or 6.0,
                                  sample_rate=args.sample_rate or 22050, random_state=args.seed)
        if args.targets != "drums":
            raise CLIError("--synthetic data only has the sources drums and accompaniment")
    else:
        if not args.musdb_root:
            raise CLIError("give --musdb-root PATH (or --synthetic N to train on synthetic songs)")
        from .datasets import load_musdb

        targets = [t.strip() for t in args.targets.split(",") if t.strip()]
        data = load_musdb(args.musdb_root, subsets="train", split="train", targets=targets,
                          duration=args.duration, sample_rate=args.sample_rate)
    max_time = args.max_minutes * 60 if args.max_minutes else None
    sep = _make_separator(args, data.sources, max_time, args.epochs, verbose=1,
                          patience=args.patience if args.patience > 0 else None)
    pipe = make_pipeline(STFT(n_fft=args.n_fft, sample_rate=int(data.sample_rate)), sep, InverseSTFT())
    n = len(data.X)
    print(f"Training {type(sep).__name__} on {n} tracks ({', '.join(data.sources)}) at "
          f"{data.sample_rate} Hz; Ctrl-C stops and keeps the model trained so far.", flush=True)
    try:
        interrupted = _fit(pipe, data.X, data.y)
    except KeyboardInterrupt:
        raise CLIError("interrupted before the first epoch finished; no model saved") from None
    fitted = pipe[1]
    if interrupted:
        done = sum("train_loss" in h for h in fitted.history_)
        if not done:
            raise CLIError("interrupted before the first epoch finished; no model saved")
        print(f"Interrupted after {done} epoch(s); saving the model trained so far.", flush=True)
    _dump(pipe, out)
    best = _best_epoch(fitted)
    print(f"Saved {out} ({fitted.n_epochs_} epochs{best}).")
    return 0


def _best_epoch(sep):
    hist = getattr(sep, "history_", [])
    key = "valid_loss" if hist and "valid_loss" in hist[0] else "train_loss"
    vals = [(h.get(key, np.inf), h.get("epoch")) for h in hist if h.get(key) is not None]
    if not vals:
        return ""
    if getattr(sep, "average", None):
        return f", final {key} {vals[-1][0]:.4f}; kept: the moving average of the weights"
    v, e = min(vals)
    return f", best epoch {e} with {key} {v:.4f}"


def _resample(x, a, b):
    if a == b:
        return np.asarray(x, np.float32)
    import soxr

    y = soxr.resample(np.ascontiguousarray(np.asarray(x, np.float32).T), a, b, quality="HQ")
    return np.ascontiguousarray(np.asarray(y, np.float32).reshape(len(y), -1).T)


def _fit_length(x, n):
    if x.shape[-1] >= n:
        return x[..., :n]
    pad = [(0, 0)] * (x.ndim - 1) + [(0, n - x.shape[-1])]
    return np.pad(x, pad)


def separate_array(model, audio, sample_rate, chunk_seconds=30.0, overlap_seconds=1.0):
    """Separate an in-memory ``(n_channels, n_samples)`` signal at ``sample_rate``."""
    from .chunking import separate_long

    audio = np.asarray(audio, np.float32)
    x = _resample(audio, sample_rate, model.sample_rate)
    chunk = max(1, int(round(chunk_seconds * model.sample_rate)))
    est = separate_long(model.pipeline, x, chunk, min(int(round(overlap_seconds * model.sample_rate)), chunk - 1))
    est = np.stack([_fit_length(_resample(e, model.sample_rate, sample_rate), audio.shape[-1]) for e in est])
    return est


def cmd_evaluate(args):
    model = load_model(args.model, device=args.device)
    if args.json:
        _check_new_file(args.json, True, "JSON file")
    from .datasets import load_musdb

    targets = [s for s in model.sources if s != "accompaniment"]
    split = None if args.split == "none" else args.split
    subsets = [s.strip() for s in args.subsets.split(",") if s.strip()]
    if split is not None and subsets != ["train"]:
        split = None
    data = load_musdb(args.musdb_root, subsets=subsets, split=split, targets=targets,
                      duration=args.duration)
    if tuple(data.sources) != tuple(model.sources):
        raise CLIError(f"the model's sources {model.sources} are not MUSDB18 stems + accompaniment "
                       f"(got {data.sources})")
    names = list(data.track_names)
    if args.max_tracks:
        names = names[: args.max_tracks]
    sr = int(data.sample_rate)
    keys = ("SDR", "SIR", "SAR", "ISR")
    results = {}
    for i, name in enumerate(names):
        est = separate_array(model, data.X[i], sr, args.chunk_seconds)
        m = _metrics(data.y[i], est, sr, all_metrics=True)
        results[name] = {s: {k: _num(m[k][j]) for k in keys} for j, s in enumerate(model.sources)}
        row = "  ".join(f"{s} SDR {_fmt(results[name][s]['SDR'])}" for s in model.sources)
        print(f"[{i + 1}/{len(names)}] {name}: {row}", flush=True)
    median = {s: {k: _num(np.nanmedian([np.nan if results[t][s][k] is None else results[t][s][k]
                                        for t in names]) if names else np.nan)
                  for k in keys} for s in model.sources}
    print()
    print(f"Median over {len(names)} tracks (each: median over 1 s windows), dB:")
    print(f"{'source':<16}" + "".join(f"{k:>9}" for k in keys))
    for s in model.sources:
        print(f"{s:<16}" + "".join(f"{_fmt(median[s][k]):>9}" for k in keys))
    if args.json:
        report = {"model": str(model.path), "musdb_root": str(args.musdb_root), "subsets": subsets,
                  "split": split, "duration": args.duration, "sample_rate": sr,
                  "sources": list(model.sources), "tracks": results, "median": median}
        Path(args.json).write_text(json.dumps(report, indent=2, allow_nan=False))
        print(f"Wrote {args.json}")
    return 0


def _num(v):
    v = float(v)
    return round(v, 4) if math.isfinite(v) else None


def _fmt(v):
    return "nan" if v is None or not math.isfinite(v) else f"{v:.2f}"


def cmd_demo(args):
    import matplotlib

    matplotlib.use("Agg", force=True)
    from sklearn.pipeline import make_pipeline

    from .datasets import make_drum_mixtures
    from .io import save_audio
    from .plotting import plot_separation
    from .spectral import STFT, InverseSTFT

    outdir = Path(args.outdir)
    sources = ("drums", "accompaniment")
    files = {"mixture": outdir / "mixture.wav", **{s: outdir / f"{s}.wav" for s in sources},
             "figure": outdir / "separation.png", "model": outdir / "model.joblib"}
    existing = [str(p) for p in files.values() if p.exists()]
    if existing and not args.force:
        raise CLIError(f"{', '.join(existing)} exist(s); use --force to overwrite or pick another -o")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create output folder {outdir}: {exc.strerror}") from exc
    if not os.access(outdir, os.W_OK):
        raise CLIError(f"output folder {outdir} is not writable")

    sr = 22050
    print(f"Generating {args.tracks} synthetic training songs of {args.duration:g} s and 1 held-out "
          f"song ({sr} Hz stereo)...", flush=True)
    data = make_drum_mixtures(n_tracks=args.tracks + 1, duration=args.duration, sample_rate=sr,
                              n_channels=2, random_state=args.seed)
    X, y = data.X[:-1], data.y[:-1]
    mix, truth = data.X[-1], data.y[-1]
    sep = _make_separator(args, sources, args.minutes * 60, 10_000, verbose=1)
    pipe = make_pipeline(STFT(n_fft=args.n_fft, sample_rate=sr), sep, InverseSTFT())
    print(f"Training a VPNN (hidden_units={args.hidden_units}, n_fft={args.n_fft}) for at most "
          f"{args.minutes:g} min; Ctrl-C stops early and keeps the model so far.", flush=True)
    try:
        _fit(pipe, X, y, budget_option="--minutes")
    except KeyboardInterrupt:
        raise CLIError("interrupted before the first epoch finished; nothing saved") from None
    model = Model(pipe, pipe[1], pipe[0], sr, files["model"])
    est = separate_array(model, mix, sr)
    save_audio(files["mixture"], mix, sr, overwrite=True)
    for i, s in enumerate(sources):
        save_audio(files[s], est[i], sr, overwrite=True)
    _dump(pipe, files["model"])

    m_est = _metrics(truth, est, sr, all_metrics=False, method="framewise")["SDR"]
    m_mix = _metrics(truth, np.stack([mix] * len(sources)), sr, all_metrics=False, method="framewise")["SDR"]
    print()
    print("SDR on the held-out song (dB, median over 1 s windows; higher is better):")
    print(f"{'source':<16}{'separated':>11}{'mixture':>11}{'gain':>9}")
    for i, s in enumerate(sources):
        print(f"{s:<16}{m_est[i]:>11.2f}{m_mix[i]:>11.2f}{m_est[i] - m_mix[i]:>+9.2f}")
    spec = pipe[0].transform(mix[None])
    masks = pipe[1].predict_masks(spec)[0]
    fig = plot_separation(mix, est, sr, sources=sources, masks=masks, references=truth, path=files["figure"])
    import matplotlib.pyplot as plt

    plt.close(fig)
    print()
    print(f"Wrote {outdir}/: mixture.wav, drums.wav, accompaniment.wav, separation.png, model.joblib")
    print(f"Next: sklearn-vpnn separate YOUR_SONG.wav --model {files['model']}")
    return 0


# --------------------------------------------------------------------------- #
# argument parsing
# --------------------------------------------------------------------------- #
class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"{PROG}: error: {message}", file=sys.stderr)
        sys.exit(2)


def _positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not v > 0 or not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return v


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return v


def _nonneg_float(text):
    v = float(text)
    if v < 0 or not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return v


def build_parser():
    from . import __version__

    fmt = argparse.ArgumentDefaultsHelpFormatter
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback on errors")
    parser = _Parser(prog=PROG, parents=[common], formatter_class=fmt,
                     description="Separate drums from music with vector product neural networks.",
                     epilog="Run `sklearn-vpnn COMMAND --help` for a command's options. Exit codes: "
                            "0 ok, 1 failure, 2 usage error, 130 interrupted.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    device = dict(choices=["cpu", "cuda", "auto"], default="auto",
                  help="where the network runs: auto uses CUDA when available")

    p = sub.add_parser("separate", parents=[common], formatter_class=fmt,
                       help="separate audio files into sources",
                       description="Separate audio files into one file per source, "
                                   "OUTDIR/<input stem>/<source>.<format>. Any sample rate and "
                                   "channel count; long files are processed in chunks with "
                                   "bounded memory.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files (WAV, FLAC, OGG, MP3...)")
    p.add_argument("--model", "-m", required=True, metavar="MODEL.joblib",
                   help="model file made by `sklearn-vpnn train` (or `demo`)")
    p.add_argument("-o", "--outdir", default="separated", help="output folder")
    p.add_argument("--format", choices=["wav", "flac"], default="wav",
                   help="wav is 32-bit float (never clips); flac is 24-bit integer (rescaled with a "
                        "warning if the peak exceeds 1)")
    p.add_argument("--sources", default=None,
                   help="comma-separated sources to write, e.g. drums (default: all the model's)")
    p.add_argument("--device", **device)
    p.add_argument("--force", action="store_true", help="overwrite existing outputs "
                   "(otherwise an input whose outputs exist is skipped and the exit code is 1)")
    p.add_argument("--chunk-seconds", type=_positive_float, default=30.0,
                   help="length of the chunks separated at a time (memory grows with it)")
    p.add_argument("--overlap-seconds", type=_nonneg_float, default=1.0,
                   help="crossfade between consecutive chunks (at most half a chunk)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_separate)

    def model_options(p, hidden_default):
        p.add_argument("--model", dest="model_kind", choices=["vpnn", "dnn"], default="vpnn",
                       help="vector product network or the real-valued DNN baseline")
        p.add_argument("--mapping", choices=["window", "color"], default=None,
                       help="VPNN real-to-3-D mapping: context window (WVPNN) or spectral colour "
                            "(CVPNN); default window")
        p.add_argument("--hidden-units", type=_positive_int, default=hidden_default,
                       help="units per hidden layer")
        p.add_argument("--device", **device)
        p.add_argument("--seed", type=int, default=0, help="random seed (data, weights, shuffling)")

    p = sub.add_parser("train", parents=[common], formatter_class=fmt, help="train a model",
                       description="Train an STFT -> VPNN/DNN -> inverse STFT pipeline on MUSDB18 "
                                   "(train split) or synthetic songs and save it with joblib. "
                                   "Ctrl-C stops training and saves the model trained so far.")
    p.add_argument("--musdb-root", metavar="PATH", default=None,
                   help="MUSDB18 folder holding train/ (stem .mp4 files)")
    p.add_argument("--synthetic", type=_positive_int, metavar="N", default=None,
                   help="train on N synthetic songs (make_drum_mixtures) instead of MUSDB18")
    p.add_argument("--targets", default="drums",
                   help="comma-separated MUSDB18 stems to separate; accompaniment is the rest")
    p.add_argument("--max-minutes", type=_positive_float, metavar="N", default=None,
                   help="training time budget in minutes (the model so far is kept); default: no limit")
    p.add_argument("--epochs", type=_positive_int, default=40, help="maximum number of epochs")
    p.add_argument("--patience", type=int, default=6,
                   help="early stopping: epochs without improvement before stopping (0: never stop early)")
    p.add_argument("--n-fft", type=_positive_int, default=1024, help="STFT size")
    p.add_argument("--duration", type=_positive_float, default=None,
                   help="seconds per track (MUSDB18: crop, default whole tracks; synthetic: "
                        "length, default 6)")
    p.add_argument("--sample-rate", type=_positive_int, default=None,
                   help="resample the training audio (default: MUSDB18 44100, synthetic 22050)")
    model_options(p, 512)
    p.add_argument("-o", "--output", required=True, metavar="MODEL.joblib", help="model file to write")
    p.add_argument("--force", action="store_true", help="overwrite an existing model file")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", parents=[common], formatter_class=fmt,
                       help="score a model on MUSDB18 (SDR/SIR/SAR/ISR)",
                       description="BSS Eval v4 (museval) per track and source, median over 1 s "
                                   "windows, and the median over tracks, as SiSEC reports it.")
    p.add_argument("--model", "-m", required=True, metavar="MODEL.joblib", help="model file")
    p.add_argument("--musdb-root", metavar="PATH", required=True, help="MUSDB18 folder")
    p.add_argument("--subsets", default="train", help="train, test, or train,test")
    p.add_argument("--split", choices=["train", "valid", "none"], default="valid",
                   help="musdb split of the train subset (ignored for test)")
    p.add_argument("--duration", type=_positive_float, default=None,
                   help="seconds of each track to score (default: whole tracks)")
    p.add_argument("--max-tracks", type=_positive_int, default=None,
                   help="score only the first N tracks")
    p.add_argument("--json", metavar="OUT", default=None, help="write per-track numbers to this JSON file")
    p.add_argument("--chunk-seconds", type=_positive_float, default=30.0, help="separation chunk length")
    p.add_argument("--device", **device)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("demo", parents=[common], formatter_class=fmt,
                       help="train on synthetic songs and separate one, no data needed",
                       description="Generate synthetic drum + accompaniment songs, train a small "
                                   "VPNN for a few minutes on the CPU, separate a held-out song and "
                                   "write stems, a figure and the model to OUTDIR; prints the SDR "
                                   "against the truth and the mixture-as-estimate baseline.")
    p.add_argument("-o", "--outdir", default="demo-output", help="output folder")
    p.add_argument("--minutes", type=_positive_float, default=2.0, help="training time budget")
    p.add_argument("--tracks", type=_positive_int, default=24, help="synthetic training songs")
    p.add_argument("--duration", type=_positive_float, default=6.0, help="seconds per song")
    p.add_argument("--n-fft", type=_positive_int, default=1024, help="STFT size")
    p.add_argument("--force", action="store_true", help="overwrite existing files in OUTDIR")
    model_options(p, 256)
    p.set_defaults(func=cmd_demo, mapping=None, model_kind="vpnn")
    return parser


def _showwarning(message, category, filename, lineno, file=None, line=None):
    print(f"{PROG}: warning: {message}", file=sys.stderr if file is None else file)


def main(argv=None):
    """Run the ``sklearn-vpnn`` command; return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else 2
    args.debug = getattr(args, "debug", False)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    old = warnings.showwarning
    if not args.debug:
        warnings.showwarning = _showwarning
    try:
        return args.func(args)
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        _err(_describe(exc))
        return 1
    finally:
        warnings.showwarning = old
        sys.stdout.flush()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
