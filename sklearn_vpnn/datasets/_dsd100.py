"""DSD100 and any folder with its layout (WAV or FLAC stems): :func:`load_dsd100`."""

import os
from pathlib import Path

from sklearn.utils import Bunch

from .._validation import check_sample_rate
from ..io import _read_audio
from ._base import (STEMS, _check_crop, _check_mixture, _check_subsets, _check_targets, _descr,
                    _make_track, _stack_or_list)

__all__ = ["load_dsd100"]

#: the audio formats a song's files may have, in order of preference
_EXTENSIONS = (".wav", ".flac")


def _audio_file(folder, stem):
    """Path of ``folder/<stem>.wav`` or, failing that, ``folder/<stem>.flac``."""
    for ext in _EXTENSIONS:
        path = folder / f"{stem}{ext}"
        if path.is_file():
            return path
    raise FileNotFoundError(
        2, f"No {' or '.join(stem + ext for ext in _EXTENSIONS)} in {str(folder)!r}",
        str(folder / f"{stem}{_EXTENSIONS[0]}"))


def load_dsd100(
    root,
    subsets="Dev",
    targets=("drums",),
    duration=None,
    offset=0.0,
    sample_rate=None,
    mono=False,
    mixture="sum",
):
    """Load DSD100, or any folder with its layout, as mixtures and sources.

    The layout is ``Sources/<subset>/<song>/{bass,drums,other,vocals}.wav`` (and,
    for ``mixture="stored"`` only, ``Mixtures/<subset>/<song>/mixture.wav``) with
    subsets ``Dev`` and ``Test``. Each file may be WAV or FLAC (``drums.flac``...;
    WAV is read when a song has both), so folders arranged like DSD100 but in FLAC
    and without mixture files, such as the MDB Drums multitracks, load as they are.
    Files are read with soundfile (no ffmpeg needed).

    Parameters
    ----------
    root : str or path-like
        The DSD100 folder (holding ``Sources/`` and, for ``mixture="stored"``,
        ``Mixtures/``).
    subsets : {"Dev", "Test"} or list of them, default="Dev"
        Which half to read; ``("Dev", "Test")`` reads both, Dev first.
    targets : str or sequence of str, default=("drums",)
        Stems among ``"drums"``, ``"bass"``, ``"other"``, ``"vocals"``; an
        ``"accompaniment"`` source (sum of the other stems) is appended unless the
        targets cover all four.
    duration : float, default=None
        Seconds to read from each song; ``None`` reads to the end.
    offset : float, default=0.0
        Seconds to skip at the start of each song.
    sample_rate : int, default=None
        Resample to this rate with soxr; ``None`` keeps the files' rate.
    mono : bool, default=False
        Average the channels into one.
    mixture : {"sum", "stored"}, default="sum"
        ``"sum"``: ``X`` is the sum of the sources. ``"stored"``: read
        ``mixture.wav`` (or ``mixture.flac``) from ``Mixtures/``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Same fields as :func:`load_musdb`: ``X``, ``y``, ``sources``, ``track_names``
        (the song folder names), ``sample_rate``, ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If ``root``, a subset folder or a song's file (in neither WAV nor FLAC) is
        missing.
    ValueError
        If an argument is invalid, no song is found, or a song's stems differ in shape.

    See Also
    --------
    load_musdb : MUSDB18, with the same Bunch fields.

    Notes
    -----
    To train on several datasets at once, concatenate the ``X`` and ``y`` of their
    Bunches as lists (tracks of any lengths) when they share ``sources``,
    ``sample_rate`` and channel count: ``X = list(a.X) + list(b.X)`` and
    ``y = list(a.y) + list(b.y)``. :class:`~sklearn_vpnn.STFT` and the separators
    accept such lists of differently sized tracks, e.g.
    ``make_pipeline(STFT(), VPNNSeparator()).fit(X, y)``.

    Examples
    --------
    >>> from sklearn_vpnn import load_dsd100
    >>> data = load_dsd100("~/data/DSD100", subsets="Dev", duration=10.0)  # doctest: +SKIP
    >>> data.sources  # doctest: +SKIP
    ('drums', 'accompaniment')

    Two datasets in one training set (the same sources and rate, here 44.1 kHz):

    >>> from sklearn_vpnn import load_musdb
    >>> mdb = load_dsd100("../shared/data/mdb-drums", duration=30.0)  # doctest: +SKIP
    >>> musdb = load_musdb("../shared/data/musdb18-7")  # doctest: +SKIP
    >>> X, y = list(mdb.X) + list(musdb.X), list(mdb.y) + list(musdb.y)  # doctest: +SKIP
    """
    targets, sources, rest = _check_targets(targets)
    duration, offset = _check_crop(duration, offset)
    mixture = _check_mixture(mixture)
    sample_rate = check_sample_rate(sample_rate, allow_none=True)
    subsets = _check_subsets(subsets, ("Dev", "Test"))
    root = Path(os.fspath(root)).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(2, "DSD100 root folder not found", str(root))

    songs = []
    for subset in subsets:
        folder = root / "Sources" / subset
        if not folder.is_dir():
            raise FileNotFoundError(2, f"DSD100 subset folder {subset!r} not found", str(folder))
        songs += [(subset, p.name) for p in sorted(folder.iterdir()) if p.is_dir()]
    if not songs:
        raise ValueError(f"No songs found under {str(root / 'Sources')!r} for subsets {subsets}.")

    X, Y, names, rates = [], [], [], set()
    for subset, song in songs:
        stems, srs = {}, set()
        for s in STEMS:
            stems[s], sr = _read_audio(_audio_file(root / "Sources" / subset / song, s), offset, duration)
            srs.add(sr)
        stored = None
        if mixture == "stored":
            path = _audio_file(root / "Mixtures" / subset / song, "mixture")
            stored, sr = _read_audio(path, offset, duration)
            srs.add(sr)
        if len(srs) != 1:
            raise ValueError(f"Song {song!r}: files have different sample rates {sorted(srs)}.")
        orig_sr = srs.pop()
        x, y = _make_track(stems, stored, targets, rest, mixture, mono, orig_sr, sample_rate, song)
        X.append(x)
        Y.append(y)
        names.append(song)
        rates.add(sample_rate or orig_sr)
    if len(rates) != 1:
        raise ValueError(f"Songs have different sample rates {sorted(rates)}; pass sample_rate=.")
    out_sr = rates.pop()
    details = (
        f"Read from {root} (subsets={subsets}, offset={offset} s, duration={duration} s, "
        f"mixture={mixture!r})."
    )
    return Bunch(
        X=_stack_or_list(X),
        y=_stack_or_list(Y),
        sources=sources,
        track_names=names,
        sample_rate=out_sr,
        DESCR=_descr("DSD100", len(names), sources, out_sr, details),
    )
