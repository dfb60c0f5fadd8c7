"""What every ``sklearn-vpnn`` command shares: the program name and one-line reports."""

import os
import signal
import sys
from pathlib import Path

from ._model_files import CLIError  # noqa: F401  (the commands' one-line failure)

PROG = "sklearn-vpnn"


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
