"""Separating audio with a trained model: model files, audio files and arrays.

The library side of ``sklearn-vpnn separate`` (what Open-Unmix keeps in its
``predict.py``); :mod:`sklearn_vpnn.cli` only parses options and reports.

* :func:`open_model` opens a model file into a :class:`Model`: the safe format of
  :func:`sklearn_vpnn.save_model` (``.safetensors``; loading runs no code), the
  model bundled with the package when no path is given, or, only with
  ``allow_pickle=True``, a :mod:`joblib`/pickle dump (**a pickle runs any code it
  carries while it loads**: only for files you trust);
* :func:`separate_file` separates an audio file of any length, rate and channel
  count into ``OUTDIR/<input stem>/<source>.<format>`` with bounded memory: the
  input is read in blocks, resampled to the model's rate in a stream, separated
  chunk by chunk (:func:`sklearn_vpnn.chunking.iter_separate`), resampled back
  and each stem written block by block;
* :func:`separate_array` does the same for an in-memory signal;
* :func:`plan_outputs` says where the outputs of several inputs go, refusing
  plans in which an output would replace an input, leave the output folder, or
  collide with another input's.

Nothing the input holds is lost to resampling: when the file's rate differs from
the model's, whatever the round trip to the model's rate and back cannot carry
(everything above half the model's rate, for a file of a higher rate) is added to
the accompaniment (the source named ``"accompaniment"``, else the last), so the
sources still add up to the input.

Examples
--------
>>> from sklearn_vpnn.separate import open_model, separate_file
>>> model = open_model("drums.safetensors")  # doctest: +SKIP
>>> paths = separate_file(model, "song.mp3", "separated")  # doctest: +SKIP
>>> paths["drums"]  # doctest: +SKIP
PosixPath('separated/song/drums.wav')
"""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from ._model_files import DEFAULT_SAMPLE_RATE, CLIError, Model, open_model  # noqa: F401

__all__ = ["CLIError", "Model", "open_model", "separate_file", "separate_array", "output_paths",
           "plan_outputs"]


# --------------------------------------------------------------------------- #
# chunks, lengths, the band the model cannot hear
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


def _residual_index(sources):
    """The source that gets what the model's rate cannot carry: accompaniment, else the last."""
    sources = tuple(sources)
    return sources.index("accompaniment") if "accompaniment" in sources else len(sources) - 1


def separate_array(model, audio, sample_rate, chunk_seconds=30.0, overlap_seconds=1.0):
    """Separate an in-memory signal, resampled to the model's rate and back.

    Parameters
    ----------
    model : Model
        From :func:`open_model`.
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
        exactly as long as ``audio``. When ``sample_rate`` differs from the
        model's, what resampling to the model's rate and back loses (the band
        above half the model's rate) is added to the accompaniment (the source
        ``"accompaniment"``, else the last), so nothing of ``audio`` vanishes.
    """
    from ._validation import check_sample_rate
    from .chunking import separate_long
    from .io import _resample

    sample_rate = check_sample_rate(sample_rate)
    audio = np.asarray(audio, np.float32)
    if audio.size and not np.all(np.isfinite(audio)):
        raise ValueError("audio holds NaN or infinite samples; it cannot be separated")
    x = _resample(audio, sample_rate, model.sample_rate)
    chunk, overlap = _chunk_samples(chunk_seconds, overlap_seconds, model.sample_rate)
    est = separate_long(model.pipeline, x, chunk, overlap)
    n = audio.shape[-1]
    out = np.stack([_fit_length(_resample(e, model.sample_rate, sample_rate), n) for e in est])
    if sample_rate != model.sample_rate:
        low = _fit_length(_resample(x, model.sample_rate, sample_rate), n)
        out[_residual_index(model.sources)] += audio - low
    return out


# --------------------------------------------------------------------------- #
# where outputs go
# --------------------------------------------------------------------------- #
def _folder_name(input_path):
    """The output folder of an input: its stem; its whole name when the stem is only dots."""
    name = Path(os.fspath(input_path)).name
    stem = Path(name).stem
    if not stem.strip("."):  # "...wav" has stem "..", "..wav" has ".": they would leave OUTDIR
        stem = name
    if not stem.strip("."):
        raise ValueError(f"cannot name an output folder after the input {str(input_path)!r}")
    return stem


def output_paths(input_path, outdir, sources, fmt):
    """Where :func:`separate_file` writes: ``{source: OUTDIR/<input stem>/<source>.<fmt>}``.

    Parameters
    ----------
    input_path : str or path-like
        The input file (only its name is used: ``song.wav`` -> ``song``; a name
        whose stem is only dots, such as ``...wav``, names the folder whole).
    outdir : str or path-like
        The output folder.
    sources : sequence of str
        Source names.
    fmt : str
        File extension without the dot, e.g. ``"wav"``.

    Returns
    -------
    dict
        ``{source: Path}``, every path inside ``OUTDIR/<folder>/``.

    Examples
    --------
    >>> from sklearn_vpnn.separate import output_paths
    >>> {s: str(p) for s, p in output_paths("in/song.mp3", "out", ["drums"], "wav").items()}
    {'drums': 'out/song/drums.wav'}
    """
    folder = Path(outdir) / _folder_name(input_path)
    return {s: folder / f"{s}.{fmt}" for s in sources}


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return os.path.abspath(a) == os.path.abspath(b)


def plan_outputs(inputs, outdir, sources, fmt):
    """Output paths of every input, after checking that the plan destroys nothing.

    Parameters
    ----------
    inputs : sequence of str or path-like
        The input files.
    outdir : str or path-like
        The output folder.
    sources : sequence of str
        Sources to write.
    fmt : str
        File extension without the dot.

    Returns
    -------
    list of dict
        ``{source: Path}`` per input, as :func:`output_paths` gives them.

    Raises
    ------
    ValueError
        One line naming the problem, whatever ``overwrite`` would say: a file given
        twice; two inputs whose outputs would land in the same folder (e.g.
        ``a/song.wav`` and ``b/song.flac``); an output that is (or links to) an
        input; an output folder that resolves outside ``outdir`` (a link).
    """
    names = [os.fspath(p) for p in inputs]  # as given, for the messages
    inputs = [Path(p).expanduser() for p in names]
    for i, a in enumerate(inputs):
        for j, b in enumerate(inputs[:i]):
            if _same_file(a, b):
                same = names[i] == names[j]
                raise ValueError(f"{names[j]} is given twice{'' if same else f' (also as {names[i]})'}: "
                                 "a duplicate input; give each file once")
    plans = [output_paths(p, outdir, sources, fmt) for p in inputs]
    folders = {}
    for i, paths in enumerate(plans):
        folder = next(iter(paths.values())).parent
        j = folders.setdefault(os.path.normcase(os.path.abspath(folder)), i)
        if j != i:
            raise ValueError(f"inputs {names[j]} and {names[i]} would both write to {folder}/, one "
                             "replacing the other; rename one, or separate them in runs with "
                             "different -o")
    root = os.path.realpath(outdir)
    for i, paths in enumerate(plans):
        for out in paths.values():
            victim = next((j for j, p in enumerate(inputs) if out.exists() and _same_file(out, p)), None)
            if victim is not None:
                what = "its own input" if victim == i else f"the input {names[victim]}"
                raise ValueError(f"output {out} of {names[i]} is {what} (or a link to it); inputs are "
                                 "never replaced, even with --force: choose another -o")
            real = os.path.realpath(out)
            if os.path.commonpath([root, real]) != root:
                raise ValueError(f"output {out} of {names[i]} resolves to {real}, outside the output "
                                 f"folder {outdir}; not writing there")
    return plans


# --------------------------------------------------------------------------- #
# separating files
# --------------------------------------------------------------------------- #
def _check_sources(model, sources):
    sources = model.sources if sources is None else tuple(sources)
    if not sources:
        raise ValueError(f"no source to write; the model separates {', '.join(model.sources)}")
    unknown = [s for s in sources if s not in model.sources]
    if unknown:
        raise ValueError(f"unknown source(s) {', '.join(unknown)}; the model separates "
                         f"{', '.join(model.sources)}")
    twice = sorted({s for s in sources if sources.count(s) > 1})
    if twice:
        raise ValueError(f"source(s) {', '.join(twice)} named more than once")
    return sources


def _make_folder(folder):
    """Create ``folder`` (and missing parents); return the folders created, deepest first."""
    missing = []
    p = Path(folder)
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(20, "output folder exists and is not a folder", str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK):
        raise PermissionError(13, "output folder is not writable", str(folder))
    return missing


def _remove_empty(folders):
    for p in folders:  # deepest first; a folder that is not empty stays
        try:
            p.rmdir()
        except OSError:
            break


def separate_file(model, input_path, outdir="separated", fmt="wav", sources=None, overwrite=False,
                  chunk_seconds=30.0, overlap_seconds=1.0, progress=True):
    """Separate one audio file into ``OUTDIR/<stem>/<source>.<fmt>`` files.

    The input is read in blocks (seeking), resampled to the model's rate in a
    stream if needed, separated chunk by chunk (:func:`sklearn_vpnn.chunking.
    iter_separate`), resampled back to the input's rate and written block by
    block, so memory stays bounded whatever the length. Every channel is
    separated. When the input's rate differs from the model's, what the model's
    rate cannot carry (the band above half its rate) is added to the
    accompaniment (see :func:`separate_array`).

    Nothing is lost: an output that is (or links to) the input, or that would
    resolve outside ``outdir``, is refused whatever ``overwrite`` says; each output
    is written to a hidden ``.part`` file renamed into place when complete; on an
    error or an interruption the partial files, the temporary resampled input
    and the folders this call created are removed.

    Parameters
    ----------
    model : Model or str
        From :func:`open_model`, or the path of a safe model file.
    input_path : str or path-like
        Any file libsndfile reads (WAV, FLAC, OGG, MP3...), any rate and channels.
    outdir : str or path-like, default="separated"
        Output folder; ``OUTDIR/<input stem>/`` is created.
    fmt : {"wav", "flac"}, default="wav"
        WAV is written as 32-bit float; FLAC as 24-bit integers (rescaled, with a
        warning, if the peak exceeds 1; at most 8 channels).
    sources : sequence of str, default=None
        Sources to write, each once; None writes all the model's sources.
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
    from ._streams import FLAC_MAX_CHANNELS, _open_input
    from ._validation import check_choice

    if not isinstance(model, Model):
        model = open_model(model)
    check_choice(fmt, "format", ("wav", "flac"))
    sources = _check_sources(model, sources)
    chunk, overlap = _chunk_samples(chunk_seconds, overlap_seconds, model.sample_rate)
    paths = plan_outputs([input_path], outdir, sources, fmt)[0]
    folders = [str(p) for p in paths.values() if p.is_dir()]
    if folders:
        raise IsADirectoryError(21, f"output is a folder, not a file; not replaced: {', '.join(folders)}",
                                str(input_path))
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(17, f"outputs exist, not overwritten (use --force): {', '.join(existing)}",
                              str(input_path))
    f = _open_input(input_path)
    try:
        if fmt == "flac" and f.channels > FLAC_MAX_CHANNELS:
            raise ValueError(f"{input_path} has {f.channels} channels but FLAC holds at most "
                             f"{FLAC_MAX_CHANNELS}; use --format wav (fmt='wav')")
        created = _make_folder(next(iter(paths.values())).parent)
    except BaseException:
        f.close()
        raise
    done = False
    try:
        out = _separate_open_file(model, f, input_path, paths, sources, fmt, overwrite, chunk, overlap,
                                  progress)
        done = True
        return out
    finally:
        if not done:
            _remove_empty(created)


def _separate_open_file(model, f, input_path, paths, sources, fmt, overwrite, chunk, overlap, progress):
    """The body of :func:`separate_file` once the input is open and the folder exists."""
    import soundfile as sf
    from tqdm.auto import tqdm

    from ._streams import _BandResidual, _BlockReader, _resample_to_file, _SourceWriter
    from .chunking import _n_chunks, iter_separate

    name = str(input_path)
    tmpdir = residual = None
    writers = []
    try:
        in_sr, n_ch, n_frames = int(f.samplerate), int(f.channels), int(f.frames)
        model_sr = model.sample_rate
        stem_dir = next(iter(paths.values())).parent
        if in_sr == model_sr:
            n = n_frames
        else:
            tmpdir = Path(tempfile.mkdtemp(prefix=".sklearn-vpnn-", dir=stem_dir))
            tmp_in = tmpdir / "input.wav"
            n = _resample_to_file(f, in_sr, model_sr, tmp_in, name)
            f.close()
            f = sf.SoundFile(str(tmp_in))
            if model.sources[_residual_index(model.sources)] in sources:
                residual = _BandResidual(input_path, tmp_in, in_sr, model_sr, n_ch)
        res_source = model.sources[_residual_index(model.sources)]
        idx = [model.sources.index(s) for s in sources]
        writers = [_SourceWriter(paths[s], fmt, n_frames, in_sr, n_ch, model_sr, overwrite,
                                 residual=residual if s == res_source else None) for s in sources]
        with tqdm(total=_n_chunks(model.pipeline, n, chunk, overlap), unit="chunk", file=sys.stderr,
                  desc=Path(os.fspath(input_path)).name, disable=not progress, leave=False) as bar:
            blocks = iter_separate(model.pipeline, _BlockReader(f, name), n, chunk, overlap,
                                   progress=bar.update)
            for start, block in blocks:
                last = start + block.shape[-1] >= n
                for w, i in zip(writers, idx):
                    w.write(block[i], last=last)
        while writers:
            writers[0].close()
            writers.pop(0)
        return paths
    finally:
        for w in writers:
            w.discard()
        f.close()
        if residual is not None:
            residual.close()
        if tmpdir is not None:
            import shutil

            shutil.rmtree(tmpdir, ignore_errors=True)
