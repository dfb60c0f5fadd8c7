"""The ``sklearn-vpnn`` command: separate, train, evaluate, models, demo.

Run ``sklearn-vpnn --help`` or ``sklearn-vpnn COMMAND --help``. Exit codes: 0 on
success, 1 on failure (one ``sklearn-vpnn: error: ...`` line on stderr; ``--debug``
shows the traceback), 2 on a usage error, 130 when interrupted by Ctrl-C, 143 when
terminated by SIGTERM (both clean up first).

A model file is the safe format of :func:`sklearn_vpnn.save_model` (safetensors
weights and a JSON description of a fitted
``Pipeline(STFT(sample_rate=...), VPNNSeparator(...), InverseSTFT())``; loading it
runs no code). A :mod:`joblib`/pickle file runs any code it carries while it loads:
the commands load one only with ``--allow-pickle``. This module only parses options
and reports; opening models and separating files and arrays is
:mod:`sklearn_vpnn.separate`.
"""

import argparse
import re
import signal
import sys
import traceback
import warnings
from pathlib import Path

from ._cli_common import (DEVICE, PROG, CLIError, UsageError, _describe, _err, _number, _signal_word,
                          model_file_options)
from ._cli_evaluate import cmd_evaluate
from ._cli_separate import add_separate_parser, cmd_separate  # noqa: F401  (cmd_* live with their parsers)
from ._cli_train import cmd_demo, cmd_train

__all__ = ["main", "CLIError"]


# --------------------------------------------------------------------------- #
# commands (separate: _cli_separate; train and demo: _cli_train; evaluate: _cli_evaluate)
# --------------------------------------------------------------------------- #
def cmd_models(args):
    """``sklearn-vpnn models``: the models bundled with the package, their data and licence; return 0."""
    from .pretrained import list_pretrained

    models = list_pretrained()
    if not models:
        print("No model is bundled with this installation; train one with `sklearn-vpnn train`.")
        return 0
    for m in models:
        print(f"{m['name']}: {m['separator']} separating {', '.join(m['sources'])} at "
              f"{m['sample_rate']} Hz")
        print(f"  file: {m['path']}")
        for key, value in (m.get("notes") or {}).items():
            print(f"  {key.replace('_', ' ')}: {value}")
        licence = [line.strip() for line in (m.get("licence") or "").splitlines() if line.strip()]
        if licence:
            more = f" (full text: {Path(m['path']).with_name(m['name'] + '.LICENSE.txt')})"
            print(f"  weights licence: {licence[0]}{more if len(licence) > 1 else ''}")
        else:
            print("  weights licence: not stated")
        print(f"  use: {PROG} separate SONG.wav{'' if m['name'] == 'drums' else ' --model ' + str(m['path'])}")
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

    device = DEVICE
    add_separate_parser(sub, common)

    def model_options(p, hidden_default):
        p.add_argument("--model", dest="model_kind", choices=["vpnn", "dnn"], default="vpnn",
                       help="vector product network or the real-valued DNN baseline")
        p.add_argument("--mapping", choices=["window", "color"], default=None,
                       help="VPNN real-to-3-D mapping: context window (WVPNN, with the band network "
                            "beside it) or spectral colour (CVPNN, alone); default window")
        p.add_argument("--hidden-units", type=_number("--hidden-units", "count"), default=hidden_default,
                       help="units per hidden layer of the dense network" + ("" if hidden_default else
                                                         " (default: the separator's, 256 for the VPNN)"))
        p.add_argument("--device", **device)
        p.add_argument("--seed", type=int, default=0, help="random seed (data, weights, shuffling)")

    p = sub.add_parser("train", parents=[common], formatter_class=fmt, help="train a model",
                       description="Train an STFT -> VPNN/DNN -> inverse STFT pipeline on MUSDB18 "
                                   "(train split) or synthetic songs and save it as a safe model "
                                   "file (safetensors weights + JSON; loading it runs no code). "
                                   "Ctrl-C stops training and saves the model trained so far "
                                   "(exit code 130).")
    p.add_argument("--musdb-root", metavar="PATH", default=None,
                   help="MUSDB18 folder holding train/ (stem .mp4 files)")
    p.add_argument("--synthetic", type=_number("--synthetic", "count"), metavar="N", default=None,
                   help="train on N synthetic songs (make_drum_mixtures) instead of MUSDB18")
    p.add_argument("--targets", default="drums",
                   help="comma-separated MUSDB18 stems to separate; accompaniment is the rest")
    p.add_argument("--max-minutes", type=_number("--max-minutes", "minutes"), metavar="N", default=None,
                   help="training time budget in minutes (the model so far is kept); default: no limit")
    p.add_argument("--epochs", type=_number("--epochs", "count"), default=None,
                   help="maximum number of epochs (default: the separator's, 30)")
    p.add_argument("--patience", type=int, default=None,
                   help="early stopping: epochs without improvement before stopping (0: never stop "
                        "early; default: the separator's, never)")
    p.add_argument("--n-fft", type=_number("--n-fft", "count"), default=4096,
                   help="STFT size (the hop is a quarter of it)")
    p.add_argument("--duration", type=_number("--duration", "seconds"), default=None,
                   help="seconds per track (MUSDB18: crop, default whole tracks; synthetic: "
                        "length, default 6)")
    p.add_argument("--sample-rate", type=_number("--sample-rate", "hertz"), default=None,
                   help="resample the training audio (default: MUSDB18 44100, synthetic 22050)")
    model_options(p, None)
    p.add_argument("-o", "--output", required=True, metavar="MODEL.safetensors",
                   help="model file to write, in the safe format; only a name ending in .joblib "
                        "writes a joblib pickle instead, for trusted use only (loading a pickle "
                        "runs code; the commands need --allow-pickle for it)")
    p.add_argument("--force", action="store_true", help="overwrite an existing model file")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", parents=[common], formatter_class=fmt,
                       help="score a model on MUSDB18 (SDR/SIR/SAR/ISR)",
                       description="BSS Eval v4 (museval) per track and source, median over 1 s "
                                   "windows, and the median over tracks, as SiSEC reports it.")
    model_file_options(p)
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

    p = sub.add_parser("models", parents=[common], formatter_class=fmt,
                       help="list the models bundled with the package",
                       description="List the models bundled with the package: what each "
                                   "separates, its training data, measured SDR and the licence of "
                                   "its weights.")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("demo", parents=[common], formatter_class=fmt,
                       help="train on synthetic songs and separate one, no data needed",
                       description="Generate synthetic drum + accompaniment songs, train a small "
                                   "VPNN for a few minutes on the CPU, separate a held-out song and "
                                   "write stems, a figure and the model (model.safetensors) to "
                                   "OUTDIR; prints the SDR against the truth and the "
                                   "mixture-as-estimate baseline.")
    p.add_argument("-o", "--outdir", default="demo-output", help="output folder")
    p.add_argument("--minutes", type=_number("--minutes", "minutes"), default=2.0,
                   help="training time budget")
    p.add_argument("--tracks", type=_number("--tracks", "count"), default=24, help="synthetic training songs")
    p.add_argument("--duration", type=_number("--duration", "seconds"), default=6.0, help="seconds per song")
    p.add_argument("--n-fft", type=_number("--n-fft", "count"), default=1024,
                   help="STFT size (the hop is half of it)")
    p.add_argument("--force", action="store_true", help="overwrite existing files in OUTDIR")
    model_options(p, 256)
    p.set_defaults(func=cmd_demo, mapping=None, model_kind="vpnn")
    return parser


def _showwarning(message, category, filename, lineno, file=None, line=None):
    print(f"{PROG}: warning: {message}", file=sys.stderr if file is None else file)


def _on_sigterm(signum, frame):
    # unwind like Ctrl-C: every finally block runs, so partial outputs and temporary
    # files are removed; main() then exits with 128 + 15
    raise KeyboardInterrupt(signum)


def _interrupt_exit(exc):
    """Report a KeyboardInterrupt (``args``: the signal, optionally a note); return 130 or 143."""
    signum = exc.args[0] if exc.args and isinstance(exc.args[0], int) else signal.SIGINT
    note = f"; {exc.args[1]}" if len(exc.args) > 1 else ""
    _err(f"{_signal_word(signum)}{note}")
    return 128 + int(signum)


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
        2 on a usage error, 130 when interrupted by Ctrl-C, 143 when terminated by
        SIGTERM (after removing partial outputs and temporary files).
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
    old_term = None
    try:
        old_term = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not in the main thread
        pass
    try:
        return args.func(args)
    except KeyboardInterrupt as exc:
        return _interrupt_exit(exc)
    except UsageError as exc:
        _err(str(exc))
        return 2
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        _err(_describe(exc))
        return 1
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        warnings.showwarning = old
        sys.stdout.flush()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
