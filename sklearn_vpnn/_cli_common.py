"""What every ``sklearn-vpnn`` command shares: the program name, one-line reports, option types."""

import argparse
import os
import signal
import sys
from pathlib import Path

from ._model_files import CLIError  # noqa: F401  (the commands' one-line failure)

PROG = "sklearn-vpnn"
#: the --device option of every command that runs a network
DEVICE = dict(choices=["cpu", "cuda", "auto"], default="auto",
              help="where the network runs: auto uses CUDA when available")


class UsageError(CLIError):
    """A choice of options that does not go together: exit code 2, like argparse's own errors."""


def model_file_options(p):
    """``--model`` and ``--allow-pickle``, on the parser or argument group ``p``."""
    p.add_argument("--model", "-m", default=None, metavar="MODEL",
                   help="model file made by `sklearn-vpnn train` or `demo` (.safetensors: "
                        "loading it runs no code); default: the model bundled with the "
                        "package (see `sklearn-vpnn models`)")
    p.add_argument("--allow-pickle", action="store_true",
                   help="also load joblib/pickle model files. A pickle runs any code it "
                        "carries while it loads: use this only for files you made or trust")


def _err(msg):
    """Print ``sklearn-vpnn: error: <msg>`` on stderr."""
    print(f"{PROG}: error: {msg}", file=sys.stderr)


def _describe(exc):
    """One line for an exception: an OSError's reason and file, else its first line."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.strerror or exc}: {exc.filename}"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _signal_word(signum):
    """How a run stopped by ``signum`` is reported."""
    return "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted (Ctrl-C)"


def _check_new_file(path, force, what="output file"):
    """``path`` as a Path, if a new file may be written there (CLIError otherwise)."""
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


# kind of numeric option -> (parsed as int?, checker of sklearn_vpnn._validation, its arguments)
_NUMBER_KINDS = {
    "count": (True, "check_number", dict(integer=True, low=1, what="a positive integer")),
    "hertz": (True, "check_sample_rate", {}),
    "seconds": (False, "check_seconds", {}),
    "seconds>=0": (False, "check_seconds", dict(allow_zero=True)),
    "minutes": (False, "check_number", dict(low=0, include_low=False, what="a positive number of minutes")),
    "kbps": (True, "check_number", dict(integer=True, low=8, high=500, what="a bitrate in kbps (8 to 500)")),
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
