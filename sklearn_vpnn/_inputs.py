"""The inputs and the pipe ends of ``sklearn-vpnn separate``: folders, ``-`` and ``--stdout``.

* :func:`expand_inputs` turns the command line's paths into input files: a folder is
  searched recursively for audio files (:data:`AUDIO_EXTENSIONS`; hidden files and
  folders, and anything inside the output folder, are skipped), in sorted order,
  each with its folder relative to the one given (the template's ``{dir}``);
* :func:`spool_stdin` copies standard input to a temporary file (libsndfile needs
  to seek; memory stays bounded), named ``stdin.<format>`` after its content;
* :func:`copy_to_stdout` sends a finished file to standard output in blocks.
"""

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AUDIO_EXTENSIONS", "Input", "expand_inputs", "spool_stdin", "copy_to_stdout"]

#: extensions of the files a folder contributes (what libsndfile reads)
AUDIO_EXTENSIONS = (".wav", ".wave", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".aif", ".aiff",
                    ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64")
_BLOCK = 1 << 20


@dataclass
class Input:
    """One input of a run.

    Parameters
    ----------
    path : str
        The file to read (for ``-``, the spooled copy of standard input).
    label : str
        How messages name it: the path as given, or ``stdin``.
    folder : str
        The template's ``{dir}``: its folder relative to a folder given on the
        command line, ``""`` otherwise.
    """

    path: str
    label: str
    folder: str = ""


def _inside(path, root):
    try:
        return os.path.commonpath([os.path.realpath(path), root]) == root
    except ValueError:  # different drives
        return False


def expand_inputs(items, outdir=None):
    """The input files named by ``items`` (files, folders, ``-``), in order.

    Parameters
    ----------
    items : sequence of str
        As given on the command line; ``-`` is kept as it is (standard input).
    outdir : str or None, default=None
        The output folder: files inside it are never inputs of a folder search,
        so ``separate . -o separated`` does not separate its own earlier outputs.

    Returns
    -------
    list of Input
        Files given directly stay as given (a missing one is reported when it is
        separated); a folder contributes its audio files, recursively.

    Raises
    ------
    ValueError
        A folder without any audio file, or ``-`` given twice.
    """
    out = []
    root = os.path.realpath(outdir) if outdir is not None else None
    if list(items).count("-") > 1:
        raise ValueError("- (standard input) is given twice; it can be read once")
    for item in items:
        p = Path(item).expanduser()
        if item == "-" or not p.is_dir():
            out.append(Input(item, "stdin" if item == "-" else item))
            continue
        found = []
        for dirpath, dirnames, filenames in os.walk(p):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                                 and not (root and _inside(os.path.join(dirpath, d), root)))
            rel = os.path.relpath(dirpath, p)
            for name in sorted(filenames):
                if name.startswith(".") or not name.lower().endswith(AUDIO_EXTENSIONS):
                    continue
                path = os.path.join(dirpath, name)
                if not os.path.isfile(path) or (root and _inside(path, root)):
                    continue
                found.append(Input(path, path, "" if rel == "." else rel.replace(os.sep, "/")))
        if not found:
            raise ValueError(f"folder {item} holds no audio files ({', '.join(AUDIO_EXTENSIONS)}) "
                             "outside the output folder")
        out.extend(found)
    return out


def spool_stdin(tmpdir, stream=None):
    """Copy standard input (``stream``, default ``sys.stdin.buffer``) to ``tmpdir``; return the path.

    The file is named ``stdin.<format>`` after what libsndfile recognises in it
    (``stdin.wav`` for a WAV from ``ffmpeg -f wav -``), so ``{track}`` is ``stdin``.
    """
    import soundfile as sf

    from .io import _decode_error

    if stream is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise ValueError("the input - reads audio from standard input, but nothing is piped in; "
                             "e.g. ffmpeg -i song.m4a -f wav - | sklearn-vpnn separate - --stdout drums")
        stream = sys.stdin.buffer
    path = Path(tmpdir) / "stdin"
    with open(path, "wb") as f:
        shutil.copyfileobj(stream, f, _BLOCK)
    if path.stat().st_size == 0:
        raise ValueError("standard input (-) was empty: no audio to separate")
    try:
        kind = sf.info(str(path)).format.lower()
    except (sf.SoundFileError, RuntimeError) as exc:
        raise _decode_error("standard input", exc) from None
    named = path.with_name(f"stdin.{kind}")
    path.rename(named)
    return named


def copy_to_stdout(path, stream=None):
    """Write the file ``path`` to standard output (``stream``, default ``sys.stdout.buffer``)."""
    stream = sys.stdout.buffer if stream is None else stream
    try:
        with open(path, "rb") as f:
            shutil.copyfileobj(f, stream, _BLOCK)
        stream.flush()
    except BrokenPipeError:
        # whoever read our output went away: say so once, and keep Python from
        # complaining again when it flushes stdout at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise OSError(32, "standard output was closed before the whole stem was written",
                      "standard output") from None
