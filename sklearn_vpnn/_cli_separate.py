"""``sklearn-vpnn separate``: its options (grouped as input, output, model, performance) and the command.

The separating itself is :func:`sklearn_vpnn.separate.separate_file`; this module
turns the command line into calls of it: folders and ``-`` into input files
(:mod:`sklearn_vpnn._inputs`), the whole run's plan checked before any work
(:func:`sklearn_vpnn.separate.plan_outputs`), ``--stdout`` through a temporary
folder, and one summary line per file (real-time factor, where the stems went).
"""

import argparse
import os
import shutil
import sys
import tempfile
import textwrap
import time
import traceback
from pathlib import Path

from ._cli_common import DEVICE, CLIError, UsageError, _describe, _err, _number, model_file_options

__all__ = ["add_separate_parser", "cmd_separate"]

DESCRIPTION = (
    "Separate audio files into one file per source, OUTDIR/<track>/<source>.<format> by default "
    "(--filename changes it). Any sample rate and channel count; long files are processed in "
    "chunks with bounded memory and never truncated. What the model's sample rate cannot carry "
    "(the band above half its rate) goes to the accompaniment, so the outputs add up to the "
    "input; with --residual the accompaniment is the input minus the drums, exactly. Inputs "
    "are never overwritten, nothing is written outside OUTDIR, collisions stop the run before "
    "any work, and an interrupted run leaves no partial files."
)
EXAMPLES = """\
examples:
  # a folder of songs to MP3 stems that add back up to each song
  sklearn-vpnn separate album/ --format mp3 --residual -o stems
  # a pipe: any format ffmpeg reads in, the drums as WAV out
  ffmpeg -i song.m4a -f wav - | sklearn-vpnn separate - --stdout drums > drums.wav
"""


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown (not for flags, nor when there is none), the examples kept as written."""

    def _get_help_string(self, action):
        if action.nargs == 0 or action.default is None:
            return action.help
        return super()._get_help_string(action)


def add_separate_parser(sub, common):
    """Add the ``separate`` subcommand to the subparsers ``sub``; return its parser.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        From ``add_subparsers``.
    common : argparse.ArgumentParser
        Parent parser with the options every command shares (``--debug``).

    Returns
    -------
    argparse.ArgumentParser
        The ``separate`` parser (``func`` is :func:`cmd_separate`).
    """
    p = sub.add_parser("separate", parents=[common], formatter_class=_HelpFormatter,
                       help="separate audio files into sources",
                       description=textwrap.fill(DESCRIPTION, 86), epilog=EXAMPLES)
    g = p.add_argument_group("input")
    g.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="audio files (WAV, FLAC, OGG, MP3...), folders (searched recursively for "
                        "audio files) or - for standard input")
    g = p.add_argument_group("output")
    g.add_argument("-o", "--outdir", default=argparse.SUPPRESS,
                   help="output folder (default: separated)")
    g.add_argument("--filename", metavar="TEMPLATE", default=argparse.SUPPRESS,
                   help="path of each output inside OUTDIR, from {track}, {trackext}, {stem}, {ext} "
                        "and {dir} (the input's folder below a folder given as INPUT); e.g. "
                        "{track}_{stem}.{ext} (default: {track}/{stem}.{ext})")
    g.add_argument("--format", choices=["wav", "flac", "mp3", "ogg"], default="wav",
                   help="output format; mp3 and ogg (Vorbis) are written by libsndfile, no ffmpeg")
    depth = g.add_mutually_exclusive_group()
    for flag, what in (("int16", "16-bit integer WAV/FLAC"),
                       ("int24", "24-bit integer WAV/FLAC (FLAC's default)"),
                       ("float32", "32-bit float WAV (the default: never clips)")):
        depth.add_argument(f"--{flag}", dest="depth", action="store_const", const=flag,
                           default=argparse.SUPPRESS, help=what)
    g.add_argument("--bitrate", type=_number("--bitrate", "kbps"), metavar="KBPS", default=argparse.SUPPRESS,
                   help="bitrate of mp3 (constant) and ogg (the nearest Vorbis quality) (default: 320)")
    g.add_argument("--clip-mode", choices=["rescale", "clamp", "none"], default=argparse.SUPPRESS,
                   help="peaks above full scale: rescale all stems of a file by one gain (reported), "
                        "clamp the samples, or none (default: rescale for integer and lossy "
                        "outputs, none for float32)")
    g.add_argument("--sources", default=argparse.SUPPRESS,
                   help="comma-separated sources to write, e.g. drums (default: all the model's)")
    g.add_argument("--residual", action="store_true",
                   help="write the accompaniment as the input minus the other sources (at the "
                        "input's rate and channels), so the stems add up to the input exactly")
    g.add_argument("--other-method", choices=["add", "minus", "none"], default=argparse.SUPPRESS,
                   help="Demucs's name: minus is --residual, add the model's own accompaniment "
                        "(the default), none writes only the other sources")
    g.add_argument("--stdout", metavar="STEM", default=argparse.SUPPRESS,
                   help="write this one source to standard output as WAV (nothing else goes there); "
                        "for one input")
    g.add_argument("--force", action="store_true", help="overwrite existing outputs "
                   "(otherwise an input whose outputs exist is skipped and the exit code is 1); "
                   "an output that is an input is refused even so")
    g.add_argument("--no-progress", action="store_true",
                   help="hide the progress bar (it only shows on a terminal)")
    model_file_options(p.add_argument_group("model"))
    g = p.add_argument_group("performance")
    g.add_argument("--device", **DEVICE)
    g.add_argument("--chunk-seconds", type=_number("--chunk-seconds", "seconds"), default=30.0,
                   help="length of the chunks separated at a time (memory grows with it)")
    g.add_argument("--overlap-seconds", type=_number("--overlap-seconds", "seconds>=0"), default=1.0,
                   help="crossfade between consecutive chunks (at most half a chunk)")
    g.add_argument("--shifts", type=_number("--shifts", "count"), metavar="N", default=None,
                   help="separate on N frame grids and average them (default: 2 for a model whose "
                        "STFT frames overlap by half or less, such as the bundled one, about +0.15 dB "
                        "drums SDR for twice the work; else 1, a second grid gained nothing at 75%% "
                        "overlap)")
    p.set_defaults(func=cmd_separate)
    return p


def _default_shifts(stft):
    """Frame grids to separate on without ``--shifts``: 2 at 50% overlap or less, else 1.

    On MUSDB18 a second grid added 0.14-0.23 dB drums SDR with ``n_fft=1024``, hop 512
    (the bundled model's STFT) and nothing with ``n_fft=4096``, hop 1024 (see the
    results page).
    """
    params = stft._params() if hasattr(stft, "_params") else None
    return 2 if params and 2 * params["hop_length"] >= params["n_fft"] else 1


def _parse_sources(text, model):
    """The sources ``--sources`` names, each once and known to the model (CLIError otherwise)."""
    if text is None:
        return None
    sources = [s.strip() for s in text.split(",") if s.strip()]
    known = ", ".join(model.sources)
    if not sources:
        raise CLIError(f"--sources names no source; give e.g. --sources {model.sources[0]} "
                       f"(the model separates {known})")
    unknown = [s for s in sources if s not in model.sources]
    if unknown:
        raise CLIError(f"--sources: unknown source(s) {', '.join(unknown)}; the model separates {known}")
    twice = sorted({s for s in sources if sources.count(s) > 1})
    if twice:
        raise CLIError(f"--sources names {', '.join(twice)} more than once; name each source once")
    return sources


def _check_usage(args):
    """The output spec and the residual choice, refusing options that do not go together."""
    from ._encoding import output_spec
    from ._plan import check_filename

    given = vars(args)
    try:
        spec = output_spec(args.format, given.get("depth"), given.get("bitrate"), given.get("clip_mode"))
        check_filename(given.get("filename", "{track}/{stem}.{ext}"))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    method = given.get("other_method")
    if args.residual and method in ("add", "none"):
        raise UsageError(f"--residual is --other-method minus; it contradicts --other-method {method}")
    if "stdout" in given:
        clash = [o for o, k in (("-o", "outdir"), ("--filename", "filename"), ("--sources", "sources"))
                 if k in given]
        if clash:
            raise UsageError(f"--stdout writes one stem to standard output and no files: drop "
                             f"{', '.join(clash)}")
        if args.format != "wav":
            raise UsageError("--stdout writes WAV (--int16, --int24 or --float32); drop --format")
        if sys.stdout.isatty():
            raise UsageError("--stdout would write binary audio to the terminal; redirect it, e.g. "
                             "> drums.wav, or pipe it on")
    return spec, args.residual or method == "minus"


def _sources(args, model):
    from ._stems import residual_index

    given = vars(args)
    if "stdout" in given:
        return _parse_sources(given["stdout"], model)
    sources = _parse_sources(given.get("sources"), model)
    if given.get("other_method") == "none":
        res = model.sources[residual_index(model.sources)]
        sources = [s for s in (sources or model.sources) if s != res]
        if not sources:
            raise CLIError(f"--other-method none leaves nothing to write (--sources names only {res})")
    return sources


def _where(paths):
    """``(folder, names)``: where the stems of one input went."""
    parents = {str(p.parent) for p in paths}
    folder = Path(os.path.commonpath(sorted(parents)))
    return folder, [os.path.relpath(p, folder) for p in paths]


def cmd_separate(args):
    """``sklearn-vpnn separate``; an input that fails is reported and skipped (exit code 1).

    Before anything is separated the whole plan is checked: an input given twice,
    two outputs on the same file, an output that is an input, or an output
    outside ``-o`` stop the run with nothing written.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options.

    Returns
    -------
    int
        0 when every input was separated, else 1.
    """
    from ._inputs import copy_to_stdout, expand_inputs, spool_stdin
    from ._model_files import open_model
    from ._plan import DEFAULT_FILENAME, plan_outputs
    from .separate import separate_file

    spec, residual = _check_usage(args)
    to_stdout = "stdout" in vars(args)
    say = sys.stderr if to_stdout else sys.stdout  # with --stdout, nothing else goes to stdout
    model = open_model(args.model, allow_pickle=args.allow_pickle, device=args.device)
    model.separator.set_params(shifts=args.shifts or _default_shifts(model.stft))
    sources = _sources(args, model)
    overlap_seconds = min(args.overlap_seconds, args.chunk_seconds / 2)  # keep chunks useful
    tmp = Path(tempfile.mkdtemp(prefix="sklearn-vpnn-"))
    try:
        outdir = tmp / "out" if to_stdout else Path(getattr(args, "outdir", "separated"))
        filename = "{stem}.{ext}" if to_stdout else getattr(args, "filename", DEFAULT_FILENAME)
        try:
            inputs = expand_inputs(args.inputs, None if to_stdout else outdir)
            if to_stdout and len(inputs) != 1:
                raise ValueError(f"--stdout writes one stem of one input; got {len(inputs)} inputs")
            for inp in inputs:
                if inp.path == "-":
                    inp.path = str(spool_stdin(tmp))
            plan_outputs([i.path for i in inputs], outdir, sources or model.sources, spec.fmt,
                         filename, [i.folder for i in inputs])
        except ValueError as exc:
            raise CLIError(f"{exc}; nothing was separated") from None
        failed = 0
        for inp in inputs:
            t0 = time.monotonic()
            try:
                paths = separate_file(model, inp.path, outdir, fmt=spec.fmt, sources=sources,
                                      overwrite=args.force, chunk_seconds=args.chunk_seconds,
                                      overlap_seconds=overlap_seconds, progress=not args.no_progress,
                                      depth=spec.depth, bitrate=spec.kbps, clip_mode=spec.clip_mode,
                                      residual=residual, filename=filename, folder=inp.folder)
                if to_stdout:
                    copy_to_stdout(next(iter(paths.values())))
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                failed += 1
                if args.debug:
                    traceback.print_exc()
                if isinstance(exc, FileExistsError):
                    _err(f"{inp.label}: skipped: {exc.strerror}")
                else:
                    _err(f"{inp.label}: {_describe(exc)}".replace(inp.path, inp.label))
                continue
            _summary(inp, paths, time.monotonic() - t0, spec, to_stdout, say)
        if failed:
            _err(f"{failed} of {len(inputs)} input(s) failed")
            return 1
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _summary(inp, paths, elapsed, spec, to_stdout, say):
    import soundfile as sf

    seconds = sf.info(inp.path).duration
    rate = f"{seconds:.1f} s of audio in {elapsed:.1f} s ({seconds / max(elapsed, 1e-9):.1f}x real time)"
    if to_stdout:
        where = f"standard output ({next(iter(paths))}, {spec.describe()})"
    else:
        folder, names = _where(list(paths.values()))
        where = f"{folder}/ ({', '.join(names)})"
    print(f"{inp.label} -> {where}: {rate}", file=say, flush=True)
