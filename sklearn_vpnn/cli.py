"""The ``sklearn-vpnn`` command: separate, train, evaluate, demo.

Run ``sklearn-vpnn --help`` or ``sklearn-vpnn COMMAND --help``. Exit codes: 0 on
success, 1 on failure (one ``sklearn-vpnn: error: ...`` line on stderr; ``--debug``
shows the traceback), 2 on a usage error, 130 when interrupted by Ctrl-C.

A model file is a :mod:`joblib` dump of a fitted
``Pipeline(STFT(sample_rate=...), VPNNSeparator(...), InverseSTFT())``. This module
only parses options and reports; loading models and separating files and arrays is
:mod:`sklearn_vpnn.separate`.
"""

import argparse
import json
import math
import os
import re
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

from ._cli_train import _best_epoch, _check_new_file, _dump, _fit, _make_separator
from .separate import CLIError, Model, load_model, separate_array, separate_file

PROG = "sklearn-vpnn"

__all__ = ["main", "CLIError"]


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
    """``sklearn-vpnn separate``; an input that fails is reported and skipped (exit code 1)."""
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


def cmd_train(args):
    """``sklearn-vpnn train``: train a pipeline on MUSDB18 or synthetic songs, save it; return 0."""
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


def cmd_evaluate(args):
    """``sklearn-vpnn evaluate``: BSS Eval v4 scores of a model on MUSDB18 tracks; return 0."""
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


def _metrics(references, estimates, sample_rate, all_metrics=True):
    """Per-source scores of one track ``(n_sources, n_channels, n_samples)``, median over 1 s windows.

    ``{"SDR": ..., "SIR": ..., "SAR": ..., "ISR": ...}`` (museval BSS Eval v4), each
    ``(n_sources,)``; with ``all_metrics=False`` only ``{"SDR": ...}``, computed by
    :func:`sklearn_vpnn.sdr`'s ``"framewise"`` method (the same SDR, faster).
    """
    from .metrics import sdr

    refs = np.asarray(references, dtype=np.float64)[None]
    ests = np.asarray(estimates, dtype=np.float64)[None]
    if all_metrics:
        r = sdr(refs, ests, sample_rate=sample_rate, method="bss_eval_v4", return_all=True)
        return {k.upper(): np.asarray(r[k])[0] for k in ("sdr", "sir", "sar", "isr")}
    return {"SDR": np.asarray(sdr(refs, ests, sample_rate=sample_rate, method="framewise"))[0]}


def cmd_demo(args):
    """``sklearn-vpnn demo``: train on synthetic songs and separate a held-out one; return 0."""
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
        _fit(pipe, X, y)
    except KeyboardInterrupt:
        raise CLIError("interrupted before the first epoch finished; nothing saved") from None
    model = Model(pipe, pipe[1], pipe[0], sr, files["model"])
    est = separate_array(model, mix, sr)
    save_audio(files["mixture"], mix, sr, overwrite=True)
    for i, s in enumerate(sources):
        save_audio(files[s], est[i], sr, overwrite=True)
    _dump(pipe, files["model"])

    m_est = _metrics(truth, est, sr, all_metrics=False)["SDR"]
    m_mix = _metrics(truth, np.stack([mix] * len(sources)), sr, all_metrics=False)["SDR"]
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
        # "argument --epochs: --epochs must be ..." -> "--epochs must be ..."
        m = re.fullmatch(r"argument ([^:]+): (.*)", message, flags=re.S)
        if m and m.group(2).split(" ", 1)[0] in m.group(1).split("/"):
            message = m.group(2)
        self.print_usage(sys.stderr)
        print(f"{PROG}: error: {message}", file=sys.stderr)
        sys.exit(2)


# kind of numeric option -> (parsed as int?, checker of sklearn_vpnn._validation, its arguments)
_NUMBER_KINDS = {
    "count": (True, "check_number", dict(integer=True, low=1, what="a positive integer")),
    "hertz": (True, "check_sample_rate", {}),
    "seconds": (False, "check_seconds", {}),
    "seconds>=0": (False, "check_seconds", dict(allow_zero=True)),
    "minutes": (False, "check_number", dict(low=0, include_low=False, what="a positive number of minutes")),
}


def _number(option, kind):
    """An argparse ``type`` for a numeric ``option`` of a kind in ``_NUMBER_KINDS``.

    The text is parsed as a number and checked by :mod:`sklearn_vpnn._validation`
    (imported only when an option is parsed, so ``--help`` stays fast); its
    ValueError, e.g. "--overlap-seconds must be a non-negative number of seconds;
    got 'abc'", becomes the usage error (exit code 2).
    """
    integer, checker, kwargs = _NUMBER_KINDS[kind]

    def parse(text):
        from . import _validation

        try:
            value = int(text) if integer else float(text)
        except ValueError:
            value = text  # not a number: the checker refuses it, quoting the text
        try:
            return getattr(_validation, checker)(value, option, **kwargs)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def build_parser():
    """The ``sklearn-vpnn`` argument parser, with one subcommand per ``cmd_*`` function.

    Returns
    -------
    argparse.ArgumentParser
        Each subcommand sets ``func`` to its ``cmd_*`` function.
    """
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
    p.add_argument("--chunk-seconds", type=_number("--chunk-seconds", "seconds"), default=30.0,
                   help="length of the chunks separated at a time (memory grows with it)")
    p.add_argument("--overlap-seconds", type=_number("--overlap-seconds", "seconds>=0"), default=1.0,
                   help="crossfade between consecutive chunks (at most half a chunk)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_separate)

    def model_options(p, hidden_default):
        p.add_argument("--model", dest="model_kind", choices=["vpnn", "dnn"], default="vpnn",
                       help="vector product network or the real-valued DNN baseline")
        p.add_argument("--mapping", choices=["window", "color"], default=None,
                       help="VPNN real-to-3-D mapping: context window (WVPNN) or spectral colour "
                            "(CVPNN); default window")
        p.add_argument("--hidden-units", type=_number("--hidden-units", "count"), default=hidden_default,
                       help="units per hidden layer")
        p.add_argument("--device", **device)
        p.add_argument("--seed", type=int, default=0, help="random seed (data, weights, shuffling)")

    p = sub.add_parser("train", parents=[common], formatter_class=fmt, help="train a model",
                       description="Train an STFT -> VPNN/DNN -> inverse STFT pipeline on MUSDB18 "
                                   "(train split) or synthetic songs and save it with joblib. "
                                   "Ctrl-C stops training and saves the model trained so far.")
    p.add_argument("--musdb-root", metavar="PATH", default=None,
                   help="MUSDB18 folder holding train/ (stem .mp4 files)")
    p.add_argument("--synthetic", type=_number("--synthetic", "count"), metavar="N", default=None,
                   help="train on N synthetic songs (make_drum_mixtures) instead of MUSDB18")
    p.add_argument("--targets", default="drums",
                   help="comma-separated MUSDB18 stems to separate; accompaniment is the rest")
    p.add_argument("--max-minutes", type=_number("--max-minutes", "minutes"), metavar="N", default=None,
                   help="training time budget in minutes (the model so far is kept); default: no limit")
    p.add_argument("--epochs", type=_number("--epochs", "count"), default=40, help="maximum number of epochs")
    p.add_argument("--patience", type=int, default=6,
                   help="early stopping: epochs without improvement before stopping (0: never stop early)")
    p.add_argument("--n-fft", type=_number("--n-fft", "count"), default=1024, help="STFT size")
    p.add_argument("--duration", type=_number("--duration", "seconds"), default=None,
                   help="seconds per track (MUSDB18: crop, default whole tracks; synthetic: "
                        "length, default 6)")
    p.add_argument("--sample-rate", type=_number("--sample-rate", "hertz"), default=None,
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
    p.add_argument("--duration", type=_number("--duration", "seconds"), default=None,
                   help="seconds of each track to score (default: whole tracks)")
    p.add_argument("--max-tracks", type=_number("--max-tracks", "count"), default=None,
                   help="score only the first N tracks")
    p.add_argument("--json", metavar="OUT", default=None, help="write per-track numbers to this JSON file")
    p.add_argument("--chunk-seconds", type=_number("--chunk-seconds", "seconds"), default=30.0,
                   help="separation chunk length")
    p.add_argument("--device", **device)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("demo", parents=[common], formatter_class=fmt,
                       help="train on synthetic songs and separate one, no data needed",
                       description="Generate synthetic drum + accompaniment songs, train a small "
                                   "VPNN for a few minutes on the CPU, separate a held-out song and "
                                   "write stems, a figure and the model to OUTDIR; prints the SDR "
                                   "against the truth and the mixture-as-estimate baseline.")
    p.add_argument("-o", "--outdir", default="demo-output", help="output folder")
    p.add_argument("--minutes", type=_number("--minutes", "minutes"), default=2.0,
                   help="training time budget")
    p.add_argument("--tracks", type=_number("--tracks", "count"), default=24, help="synthetic training songs")
    p.add_argument("--duration", type=_number("--duration", "seconds"), default=6.0, help="seconds per song")
    p.add_argument("--n-fft", type=_number("--n-fft", "count"), default=1024, help="STFT size")
    p.add_argument("--force", action="store_true", help="overwrite existing files in OUTDIR")
    model_options(p, 256)
    p.set_defaults(func=cmd_demo, mapping=None, model_kind="vpnn")
    return parser


def _showwarning(message, category, filename, lineno, file=None, line=None):
    print(f"{PROG}: warning: {message}", file=sys.stderr if file is None else file)


def main(argv=None):
    """Run the ``sklearn-vpnn`` command; return the exit code.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments (``sys.argv[1:]`` when None).

    Returns
    -------
    int
        0 on success, 1 on failure (one ``sklearn-vpnn: error: ...`` line on stderr),
        2 on a usage error, 130 when interrupted.
    """
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
