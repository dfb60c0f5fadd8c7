"""Where the outputs of ``sklearn-vpnn separate`` go: file-name templates and the run's plan.

Re-exported by :mod:`sklearn_vpnn.separate` (the public home of :func:`output_paths`
and :func:`plan_outputs`). An output's path inside the output folder comes from a
template (``--filename``) as in Demucs: ``{track}/{stem}.{ext}`` by default, or e.g.
``{track}_{stem}.{ext}``. :func:`plan_outputs` renders it for every input and source
and refuses a plan that would destroy something before any work starts: a file given
twice, two outputs on the same file, an output that is (or links to) an input, an
output that would leave the output folder.
"""

import os
import string
from pathlib import Path

__all__ = ["DEFAULT_FILENAME", "FILENAME_FIELDS", "check_filename", "output_paths", "plan_outputs"]

#: The default ``--filename`` template (Demucs's): one folder per track.
DEFAULT_FILENAME = "{track}/{stem}.{ext}"
#: What a template may use, and what each means.
FILENAME_FIELDS = {
    "track": "the input's name without its extension (song.mp3 -> song)",
    "trackext": "the input's extension without the dot (song.mp3 -> mp3)",
    "stem": "the source, e.g. drums or accompaniment",
    "ext": "the output format's extension: wav, flac, mp3 or ogg",
    "dir": "the input's folder relative to the folder given on the command line "
           "(empty for files given directly), to mirror a folder tree",
}


def check_filename(template):
    """Check a file-name template; return it.

    Parameters
    ----------
    template : str
        Text with ``{track}``, ``{trackext}``, ``{stem}``, ``{ext}`` and ``{dir}``
        placeholders (``{{`` and ``}}`` for literal braces), ``/`` between folders.

    Returns
    -------
    str
        ``template`` itself.

    Raises
    ------
    ValueError
        An unknown placeholder, a format spec (``{track:>3}``), a template that is
        absolute or climbs out of the output folder (``..``), or one naming no file.
    """
    if not isinstance(template, str) or not template.strip():
        raise ValueError(f"--filename must be a non-empty template such as {DEFAULT_FILENAME!r}; "
                         f"got {template!r}")
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(template)
                  if name is not None]
    except ValueError as exc:
        raise ValueError(f"--filename {template!r} is not a valid template ({exc}); write literal "
                         "braces as {{ and }}") from None
    known = ", ".join("{" + k + "}" for k in FILENAME_FIELDS)
    for name, spec, conv in fields:
        if name not in FILENAME_FIELDS:
            raise ValueError(f"--filename {template!r}: unknown placeholder {{{name}}}; use {known}")
        if spec or conv:
            raise ValueError(f"--filename {template!r}: {{{name}}} takes no format spec or conversion")
    if template.startswith(("/", "~")) or os.path.isabs(template):
        raise ValueError(f"--filename {template!r} must be relative: outputs stay inside -o")
    sample = _render(template, dict(track="t", trackext="wav", stem="s", ext="wav", dir=""))
    if sample is None:
        raise ValueError(f"--filename {template!r} names no file (it ends with /)")
    return template


def _render(template, values):
    """``template`` filled in and cleaned: a relative POSIX path, or None when it names no file.

    Empty and ``.`` components are dropped (``{dir}`` is empty for files given
    directly); a ``..`` component is refused: outputs never climb out of -o.
    """
    text = template.format(**values)
    if text.endswith("/"):
        return None
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"--filename {template!r} gives {text!r}, which climbs out of the output "
                         "folder ('..'); outputs stay inside -o")
    return "/".join(parts) or None


def _folder_name(input_path):
    """An input's ``{track}``: its stem; its whole name when the stem is only dots."""
    name = Path(os.fspath(input_path)).name
    stem = Path(name).stem
    if not stem.strip("."):  # "...wav" has stem "..", "..wav" has ".": they would leave OUTDIR
        stem = name
    if not stem.strip("."):
        raise ValueError(f"cannot name an output after the input {str(input_path)!r}")
    return stem


def output_paths(input_path, outdir, sources, fmt, filename=DEFAULT_FILENAME, folder=""):
    """Where :func:`separate_file` writes: ``{source: OUTDIR/<filename template>}``.

    Parameters
    ----------
    input_path : str or path-like
        The input file (only its name is used: ``song.wav`` -> ``{track}`` ``song``;
        a name whose stem is only dots, such as ``...wav``, is used whole).
    outdir : str or path-like
        The output folder.
    sources : sequence of str
        Source names (``{stem}``).
    fmt : str
        File extension without the dot (``{ext}``), e.g. ``"wav"``.
    filename : str, default="{track}/{stem}.{ext}"
        The template (see :func:`check_filename`): ``{track}``, ``{trackext}``,
        ``{stem}``, ``{ext}``, ``{dir}``.
    folder : str, default=""
        ``{dir}``: the input's folder relative to a folder being separated.

    Returns
    -------
    dict
        ``{source: Path}``, every path inside ``outdir``.

    Examples
    --------
    >>> from sklearn_vpnn.separate import output_paths
    >>> {s: str(p) for s, p in output_paths("in/song.mp3", "out", ["drums"], "wav").items()}
    {'drums': 'out/song/drums.wav'}
    >>> str(output_paths("in/song.mp3", "out", ["drums"], "flac", "{track}_{stem}.{ext}")["drums"])
    'out/song_drums.flac'
    """
    check_filename(filename)
    track = _folder_name(input_path)
    trackext = Path(os.fspath(input_path)).suffix.lstrip(".") if track != Path(input_path).name else ""
    out = {}
    for s in sources:
        rel = _render(filename, dict(track=track, trackext=trackext, stem=s, ext=fmt,
                                     dir=str(folder or "").strip("/")))
        if rel is None:
            raise ValueError(f"--filename {filename!r} names no file for {input_path}")
        out[s] = Path(outdir) / rel
    return out


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return os.path.abspath(a) == os.path.abspath(b)


def _key(path):
    return os.path.normcase(os.path.abspath(path))


def plan_outputs(inputs, outdir, sources, fmt, filename=DEFAULT_FILENAME, folders=None):
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
    filename : str, default="{track}/{stem}.{ext}"
        The file-name template (:func:`output_paths`).
    folders : sequence of str, default=None
        ``{dir}`` of each input (None: ``""`` for all).

    Returns
    -------
    list of dict
        ``{source: Path}`` per input, as :func:`output_paths` gives them.

    Raises
    ------
    ValueError
        One line naming the problem, whatever ``overwrite`` would say: a file given
        twice; two outputs on the same file (two inputs, e.g. ``a/song.wav`` and
        ``b/song.flac`` under ``{track}/{stem}.{ext}``, or two sources of one
        input under a template without ``{stem}``); an output that is (or links
        to) an input; an output that resolves outside ``outdir`` (a link).
    """
    names = [os.fspath(p) for p in inputs]  # as given, for the messages
    inputs = [Path(p).expanduser() for p in names]
    folders = [""] * len(inputs) if folders is None else list(folders)
    for i, a in enumerate(inputs):
        for j, b in enumerate(inputs[:i]):
            if _same_file(a, b):
                same = names[i] == names[j]
                raise ValueError(f"{names[j]} is given twice{'' if same else f' (also as {names[i]})'}: "
                                 "a duplicate input; give each file once")
    plans = [output_paths(p, outdir, sources, fmt, filename, d) for p, d in zip(inputs, folders)]
    owners = {}
    for i, paths in enumerate(plans):
        for source, out in paths.items():
            j, other = owners.setdefault(_key(out), (i, source))
            if (j, other) == (i, source):
                continue
            if j == i:
                raise ValueError(f"--filename {filename!r} gives {other} and {source} of {names[i]} the "
                                 f"same file {out}; put {{stem}} in it")
            where = out.parent if filename == DEFAULT_FILENAME else out
            raise ValueError(f"inputs {names[j]} and {names[i]} would both write to "
                             f"{where}{'/' if where != out else ''}, one replacing the other; rename "
                             "one, use a --filename with {dir} or {trackext}, or separate them in "
                             "runs with different -o")
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
