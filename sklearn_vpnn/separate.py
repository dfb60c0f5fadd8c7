"""Separating audio with a trained model: model files, audio files and arrays.

The library side of ``sklearn-vpnn separate`` (what Open-Unmix keeps in its
``predict.py``); :mod:`sklearn_vpnn.cli` only parses options and reports.

* :func:`open_model` opens a model file into a :class:`Model`: the safe format of
  :func:`sklearn_vpnn.save_model` (``.safetensors``; loading runs no code), the
  model bundled with the package when no path is given, or, only with
  ``allow_pickle=True``, a :mod:`joblib`/pickle dump (**a pickle runs any code it
  carries while it loads**: only for files you trust);
* :func:`separate_file` separates an audio file of any length, rate and channel
  count into ``OUTDIR/<track>/<source>.<format>`` (or any ``filename`` template)
  with bounded memory: the input is read in blocks, resampled to the model's rate
  in a stream, separated chunk by chunk (:func:`sklearn_vpnn.chunking.iter_separate`),
  resampled back and each stem written block by block, as WAV (16/24-bit or
  float), FLAC, MP3 or OGG/Vorbis (the body is :mod:`sklearn_vpnn._stems`);
* :func:`separate_array` does the same for an in-memory signal;
* :func:`plan_outputs` says where the outputs of several inputs go, refusing
  plans in which an output would replace an input, leave the output folder, or
  collide with another output (:mod:`sklearn_vpnn._plan`).

Nothing the input holds is lost to resampling: when the file's rate differs from
the model's, whatever the round trip to the model's rate and back cannot carry
(everything above half the model's rate, for a file of a higher rate) is added to
the accompaniment (the source named ``"accompaniment"``, else the last), so the
sources still add up to the input. With ``residual=True`` the accompaniment is
the input minus the other sources, so they add up exactly.

Examples
--------
>>> from sklearn_vpnn.separate import open_model, separate_file
>>> model = open_model("drums.safetensors")  # doctest: +SKIP
>>> paths = separate_file(model, "song.mp3", "separated")  # doctest: +SKIP
>>> paths["drums"]  # doctest: +SKIP
PosixPath('separated/song/drums.wav')
"""

import numpy as np

from ._model_files import DEFAULT_SAMPLE_RATE, CLIError, Model, open_model  # noqa: F401
from ._plan import DEFAULT_FILENAME, output_paths, plan_outputs  # noqa: F401
from ._stems import residual_index as _residual_index

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


def separate_array(model, audio, sample_rate, chunk_seconds=30.0, overlap_seconds=1.0, residual=False):
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
    residual : bool, default=False
        Return the accompaniment (the source ``"accompaniment"``, else the last) as
        ``audio`` minus the other sources (Demucs's ``--other-method minus``), so
        the sources add up to ``audio`` to float32 rounding, instead of the
        model's own estimate.

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
    if residual:
        from ._stems import subtract_residual

        return subtract_residual(out, audio, model.sources)
    if sample_rate != model.sample_rate:
        low = _fit_length(_resample(x, model.sample_rate, sample_rate), n)
        out[_residual_index(model.sources)] += audio - low
    return out


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


def separate_file(model, input_path, outdir="separated", fmt="wav", sources=None, overwrite=False,
                  chunk_seconds=30.0, overlap_seconds=1.0, progress=True, *, depth=None, bitrate=None,
                  clip_mode=None, residual=False, filename=DEFAULT_FILENAME, folder=""):
    """Separate one audio file into one file per source, ``OUTDIR/<track>/<source>.<fmt>``.

    The input is read in blocks (seeking), resampled to the model's rate in a
    stream if needed, separated chunk by chunk (:func:`sklearn_vpnn.chunking.
    iter_separate`), resampled back to the input's rate and written block by
    block, so memory stays bounded whatever the length. Every channel is
    separated. When the input's rate differs from the model's, what the model's
    rate cannot carry (the band above half its rate) is added to the
    accompaniment (see :func:`separate_array`).

    Every stem is first written as 32-bit float (which never clips and gives the
    file's peak), then converted to the output format: a rescale uses one gain
    for all the stems of the file, reported once in a :class:`UserWarning`.

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
        Output folder; the folders of ``filename`` are created in it.
    fmt : {"wav", "flac", "mp3", "ogg"}, default="wav"
        Output format. FLAC holds at most 8 channels, MP3 2 channels and the rates
        8-48 kHz of MPEG audio; this is checked before separating.
    sources : sequence of str, default=None
        Sources to write, each once; None writes all the model's sources.
    overwrite : bool, default=False
        Replace existing outputs; otherwise :class:`FileExistsError` before any work.
    chunk_seconds : float, default=30.0
        Chunk length, in seconds at the model's rate.
    overlap_seconds : float, default=1.0
        Crossfade between consecutive chunks, in seconds.
    progress : bool, default=True
        Show a tqdm bar in seconds of audio on stderr, when it is a terminal.
    depth : {"int16", "int24", "float32"} or None, default=None
        Bit depth of WAV/FLAC; None: float32 for WAV (never clips), int24 for FLAC.
    bitrate : int or None, default=None
        kbps for MP3 (constant bitrate) and OGG/Vorbis (the nearest quality);
        None: 320.
    clip_mode : {"rescale", "clamp", "none"} or None, default=None
        What happens to peaks above full scale: ``"rescale"`` scales all stems of
        the file by one gain, ``"clamp"`` clips the samples, ``"none"`` leaves them
        (integer formats still clip at full scale). None: ``"rescale"`` for
        integer and lossy outputs, ``"none"`` for float32 WAV.
    residual : bool, default=False
        Write the accompaniment as the input minus the other sources (at the
        input's rate and channels), so the stems add up to the input exactly
        (float32 rounding for float WAV; bit for bit in integers; lossy formats
        add their codec's error).
    filename : str, default="{track}/{stem}.{ext}"
        Template of each output's path inside ``outdir`` (see
        :func:`output_paths`).
    folder : str, default=""
        ``{dir}`` of the template: the input's folder relative to a folder being
        separated.

    Returns
    -------
    dict
        ``{source: output path}``.
    """
    from ._encoding import check_stream, output_spec
    from ._stems import make_folders, remove_empty, write_stems
    from ._streams import _open_input

    if not isinstance(model, Model):
        model = open_model(model)
    spec = output_spec(fmt, depth, bitrate, clip_mode)
    sources = _check_sources(model, sources)
    chunk, overlap = _chunk_samples(chunk_seconds, overlap_seconds, model.sample_rate)
    paths = plan_outputs([input_path], outdir, sources, spec.fmt, filename, [folder])[0]
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
        check_stream(spec, int(f.channels), int(f.samplerate), str(input_path))
        created = make_folders(p.parent for p in paths.values())
    except BaseException:
        f.close()
        raise
    done = False
    try:
        out = write_stems(model, f, input_path, paths, spec, overwrite, chunk, overlap, progress, residual)
        done = True
        return out
    finally:
        if not done:
            remove_empty(created)
