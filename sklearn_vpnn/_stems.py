"""Separating one open audio file into its stem files, for :func:`sklearn_vpnn.separate.separate_file`.

The file is read in blocks, resampled to the model's rate if needed (a temporary
float WAV beside the outputs), separated chunk by chunk
(:func:`sklearn_vpnn.chunking.iter_separate`), resampled back (:class:`_StemFrames`)
and written as float ``.part`` files; then the whole file's peak decides the clip
mode's gain and every stem is converted to its format (:mod:`sklearn_vpnn._encoding`)
and renamed into place. A progress bar counts seconds of audio.

Stems that add up to the input: by default what the model's rate cannot carry goes
to the accompaniment (the band residual); with ``residual=True`` the accompaniment
(the source named ``accompaniment``, else the last) is ``input - the other sources``
as written, computed at the input's rate and channels, so the stems add up to the
input exactly (to float32 rounding for float WAV, bit for bit in integer formats).
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["residual_index", "make_folders", "remove_empty", "write_stems"]


def residual_index(sources):
    """The source that gets what the others leave: ``accompaniment``, else the last."""
    sources = tuple(sources)
    return sources.index("accompaniment") if "accompaniment" in sources else len(sources) - 1


def make_folders(folders):
    """Create the output folders (and missing parents); return those created, deepest first.

    On a failure the folders created so far are removed again.
    """
    created = []
    try:
        for folder in dict.fromkeys(Path(f) for f in folders):
            p = folder
            while not p.exists() and p != p.parent:
                created.append(p)
                p = p.parent
            if folder.exists() and not folder.is_dir():
                raise NotADirectoryError(20, "output folder exists and is not a folder", str(folder))
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except (NotADirectoryError, FileExistsError):
                raise NotADirectoryError(20, "output folder is under a file, not a folder",
                                         str(folder)) from None
            if not os.access(folder, os.W_OK):
                raise PermissionError(13, "output folder is not writable", str(folder))
    except BaseException:
        remove_empty(sorted(created, key=lambda p: len(p.parts), reverse=True))
        raise
    return sorted(created, key=lambda p: len(p.parts), reverse=True)


def remove_empty(folders):
    """Remove the folders a run created, deepest first; one that is not empty stays."""
    for p in folders:
        try:
            p.rmdir()
        except OSError:
            pass


def _progress_bar(total_seconds, desc, progress):
    """A tqdm bar in seconds of audio on stderr; hidden when stderr is not a terminal."""
    from tqdm.auto import tqdm

    return tqdm(total=round(total_seconds, 2), unit="s", file=sys.stderr, desc=desc,
                disable=None if progress else True, leave=False, dynamic_ncols=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s of audio "
                           "[{elapsed}<{remaining}, {rate_fmt}]")


def write_stems(model, f, input_path, paths, spec, overwrite, chunk, overlap, progress=True,
                residual=False):
    """Separate the open SoundFile ``f`` into ``paths`` (``{source: Path}``, folders exist).

    Parameters
    ----------
    model : Model
        The opened model.
    f : soundfile.SoundFile
        The input, open (closed by this function).
    input_path : path-like
        Its path (re-read at its own rate for the band residual and residual stems).
    paths : dict
        ``{source: output path}`` in the order to write.
    spec : OutputSpec
        The output format (:func:`sklearn_vpnn._encoding.output_spec`).
    overwrite : bool
        Replace existing outputs.
    chunk, overlap : int
        Chunk and crossfade lengths at the model's rate, in samples.
    progress : bool, default=True
        Show a bar (on a terminal only).
    residual : bool, default=False
        Write the residual source as ``input - the other sources``.

    Returns
    -------
    dict
        ``paths``.
    """
    import soundfile as sf

    from ._encoding import convert, rescale_gain, report_clipping
    from ._streams import _BandResidual, _BlockReader, _InputFrames, _resample_to_file, _SourceWriter, _StemFrames
    from .chunking import iter_separate

    name = str(input_path)
    tmpdir = band = inp = None
    writers = {}
    try:
        in_sr, n_ch, n_frames = int(f.samplerate), int(f.channels), int(f.frames)
        model_sr = model.sample_rate
        sources = list(paths)
        res_source = model.sources[residual_index(model.sources)]
        residual = residual and res_source in sources
        # the sources the model must deliver: the residual one is input - the others
        needed = [s for s in model.sources if s != res_source] if residual else sources
        needed = [s for s in model.sources if s in needed]
        n = n_frames
        if in_sr != model_sr:
            tmpdir = Path(tempfile.mkdtemp(prefix=".sklearn-vpnn-", dir=next(iter(paths.values())).parent))
            tmp_in = tmpdir / "input.wav"
            n = _resample_to_file(f, in_sr, model_sr, tmp_in, name)
            f.close()
            f = sf.SoundFile(str(tmp_in))
            if not residual and res_source in sources:
                band = _BandResidual(input_path, tmp_in, in_sr, model_sr, n_ch)
        if residual:
            inp = _InputFrames(input_path)
        for s in sources:
            writers[s] = _SourceWriter(paths[s], n_frames, in_sr, n_ch, overwrite, as_is=spec.as_is)
        idx = [model.sources.index(s) for s in needed]
        frames = _StemFrames(len(needed), n_ch, model_sr, in_sr, n_frames)
        with _progress_bar(n_frames / in_sr, Path(os.fspath(input_path)).name, progress) as bar:
            for start, block in iter_separate(model.pipeline, _BlockReader(f, name), n, chunk, overlap):
                last = start + block.shape[-1] >= n
                picked = block if idx == list(range(len(block))) else block[idx]  # no copy for all
                stems = dict(zip(needed, frames.push(picked, last=last)))
                m = len(next(iter(stems.values()))) if stems else 0
                if residual:
                    stems[res_source] = inp.take(m) - sum(stems[s] for s in needed)
                elif band is not None:
                    stems[res_source] = stems[res_source] + band.take(m)
                for s, w in writers.items():
                    w.write(stems[s])
                bar.update(block.shape[-1] / model_sr)
        peaks = [w.finish() for w in writers.values()]
        gain = rescale_gain(spec, max(peaks))
        clamped = 0
        if not spec.as_is:
            exact = residual and all(s in writers for s in needed)  # else there is nothing to add up
            others = [writers[s].float_tmp for s in needed] if exact else []
            for s, w in writers.items():
                res_of = (input_path, others) if exact and s == res_source else None
                clamped += convert(spec, w.float_tmp, w.tmp, in_sr, n_ch, gain=gain, residual_of=res_of)
        while writers:
            s = next(iter(writers))
            writers[s].commit()
            del writers[s]
        report_clipping(spec, name, gain, max(peaks), clamped, [p.name for p in paths.values()])
        return paths
    finally:
        for w in writers.values():
            w.discard()
        f.close()
        for r in (band, inp):
            if r is not None:
                r.close()
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


def subtract_residual(out, audio, sources):
    """``out`` (n_sources, ...) with its residual source replaced by ``audio - the others``."""
    k = residual_index(sources)
    others = [i for i in range(len(out)) if i != k]
    out[k] = audio - np.sum(out[others], axis=0, dtype=np.float32) if others else audio
    return out
