"""MUSDB18: :func:`load_musdb` and the reader that decodes its tracks one at a time.

The stem MP4 files are decoded by musdb/stempeg, which call the ffmpeg and ffprobe
programs (checked first, with an install hint); the MUSDB18-HQ / ``musdb convert``
WAV layout is read with soundfile.
"""

import os
import shutil
from pathlib import Path

from sklearn.utils import Bunch

from .._validation import check_choice, check_sample_rate
from ..io import _read_audio
from ._base import (STEMS, _check_crop, _check_mixture, _check_subsets, _check_targets, _descr,
                    _make_track, _stack_or_list)
from ._lazy import LazyTracks

__all__ = ["load_musdb"]


def _check_ffmpeg():
    """Raise a RuntimeError saying how to install ffmpeg/ffprobe if either is missing."""
    missing = [p for p in ("ffmpeg", "ffprobe") if shutil.which(p) is None]
    if missing:
        raise RuntimeError(
            f"{' and '.join(missing)} not found on PATH: reading MUSDB18 stem files needs "
            "the ffmpeg and ffprobe programs (musdb/stempeg call them). Install them, "
            "e.g. `sudo apt-get install ffmpeg` (Debian/Ubuntu), `brew install ffmpeg` "
            "(macOS) or `conda install -c conda-forge ffmpeg`."
        )


class _MusdbReader:
    """Decodes MUSDB18 tracks one at a time; keeps the last one (``X[i]`` then ``y[i]``
    decode once). Picklable (the cache is dropped), so lazy data ships to workers."""

    def __init__(self, tracks, options):
        self.tracks = tracks
        self.options = options
        self._last = (None, None)

    def __len__(self):
        return len(self.tracks)

    def __getstate__(self):
        return {**self.__dict__, "_last": (None, None)}

    def read(self, i, keep=True):
        """``(x, y)`` of track ``i``, decoded now unless it was the last one read."""
        if self._last[0] == i:
            return self._last[1]
        o = self.options
        track = self.tracks[i]
        orig_sr = int(track.rate)
        if o["is_wav"]:
            # plain WAV files: read them exactly (and without ffmpeg) with soundfile
            stems = {s: _read_audio(track.sources[s].path, o["offset"], o["duration"])[0] for s in STEMS}
            stored = (_read_audio(track.path, o["offset"], o["duration"])[0]
                      if o["mixture"] == "stored" else None)
        else:
            track.chunk_start = o["offset"]
            track.chunk_duration = o["duration"]
            streams = track.stems  # (5, n_samples, n_channels), one ffmpeg call
            stems = {s: streams[track.sources[s].stem_id].T for s in STEMS}
            stored = streams[track.stem_id].T if o["mixture"] == "stored" else None
        xy = _make_track(stems, stored, o["targets"], o["rest"], o["mixture"], o["mono"],
                         orig_sr, o["sample_rate"], track.name)
        if keep:
            self._last = (i, xy)
        return xy



def load_musdb(
    root=None,
    subsets="train",
    split=None,
    targets=("drums",),
    duration=None,
    offset=0.0,
    sample_rate=None,
    mono=False,
    mixture="sum",
    is_wav=False,
    lazy=False,
):
    """Load MUSDB18 (stem MP4s) or MUSDB18-HQ (WAV) as mixtures and sources.

    Parameters
    ----------
    root : str or path-like, default=None
        Folder with ``train/`` (and ``test/``). ``None`` reads the ``MUSDB_PATH``
        environment variable, musdb's convention.
    subsets : {"train", "test"} or list of them, default="train"
        Which half of the dataset to read.
    split : {"train", "valid"}, default=None
        musdb's own train/validation split of the ``train`` subset (80/14 tracks on
        the 7-second sample); ``None`` reads the whole subset. Needs ``subsets="train"``.
    targets : str or sequence of str, default=("drums",)
        Stems among ``"drums"``, ``"bass"``, ``"other"``, ``"vocals"``, in the order
        wanted in ``y``. An ``"accompaniment"`` source, the sum of every *other* stem,
        is appended unless the targets cover all four stems.
    duration : float, default=None
        Seconds to read from each track; ``None`` reads to the end.
    offset : float, default=0.0
        Seconds to skip at the start of each track.
    sample_rate : int, default=None
        Resample to this rate with soxr; ``None`` keeps 44100 Hz.
    mono : bool, default=False
        Average the two channels into one.
    mixture : {"sum", "stored"}, default="sum"
        ``"sum"``: ``X`` is exactly the sum of the sources. ``"stored"``: the mixture
        stream stored in the file, which (AAC-coded separately) differs slightly.
    is_wav : bool, default=False
        Read the decoded MUSDB18-HQ / ``musdb convert`` layout
        (``<subset>/<track>/{mixture,drums,bass,other,vocals}.wav``).
    lazy : bool, default=False
        Return ``X`` and ``y`` as :class:`LazyTracks`: nothing is decoded now, each
        track is decoded when indexed (the last one is kept). With
        ``STFT() -> VPNNSeparator(cache="auto")`` a pipeline then trains on the whole
        dataset one track in memory at a time (see :class:`LazyTracks`).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (n_tracks, n_channels, n_samples) float32 or list, ``y``
        (n_tracks, n_sources, n_channels, n_samples) float32 or list (both
        :class:`LazyTracks` when ``lazy=True``), ``sources`` (tuple of names),
        ``track_names`` (list), ``sample_rate`` (int), ``DESCR``.

    Raises
    ------
    ValueError
        If neither ``root`` nor ``MUSDB_PATH`` is given, or an argument is invalid.
    FileNotFoundError
        If ``root`` or a subset folder does not exist.
    RuntimeError
        If ffmpeg/ffprobe are not installed (needed for the stem MP4 files).

    Notes
    -----
    Each stem MP4 is decoded with a single ffmpeg call for all five streams. The full
    MUSDB18 training set is about 2.6 GB of float32 per source at 44.1 kHz stereo:
    use ``duration``, ``sample_rate`` or ``mono`` to keep memory in check.

    Examples
    --------
    >>> from sklearn_vpnn import load_musdb
    >>> data = load_musdb("../shared/data/musdb18-7", split="valid")  # doctest: +SKIP
    >>> data.X.shape, data.y.shape, data.sources  # doctest: +SKIP
    ((14, 2, 300032), (14, 2, 2, 300032), ('drums', 'accompaniment'))
    >>> data = load_musdb(split="train", duration=2.0, sample_rate=22050,
    ...                   mono=True)  # uses $MUSDB_PATH  # doctest: +SKIP
    """
    targets, sources, rest = _check_targets(targets)
    duration, offset = _check_crop(duration, offset)
    mixture = _check_mixture(mixture)
    sample_rate = check_sample_rate(sample_rate, allow_none=True)
    subsets = _check_subsets(subsets, ("train", "test"))
    check_choice(split, "split", (None, "train", "valid"))
    if split is not None and subsets != ["train"]:
        raise ValueError(f"split={split!r} applies to subsets='train' only, got subsets={subsets}.")

    if root is None:
        root = os.environ.get("MUSDB_PATH")
        if not root:
            raise ValueError(
                "No MUSDB18 folder given: pass root=... or set the MUSDB_PATH "
                "environment variable to the folder holding train/ and test/."
            )
    root = Path(os.fspath(root)).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(2, "MUSDB18 root folder not found", str(root))
    for subset in subsets:
        if not (root / subset).is_dir():
            raise FileNotFoundError(2, f"MUSDB18 subset folder {subset!r} not found", str(root / subset))

    _check_ffmpeg()  # before importing musdb: stempeg needs the programs
    import musdb

    db = musdb.DB(root=str(root), subsets=subsets, split=split, is_wav=is_wav)
    if len(db) == 0:
        raise ValueError(
            f"No tracks found in {str(root)!r} (subsets={subsets}, split={split!r}, "
            f"is_wav={is_wav}); {'WAV track folders' if is_wav else '.stem.mp4 files'} expected."
        )

    reader = _MusdbReader(list(db), dict(targets=targets, rest=rest, mixture=mixture, mono=mono,
                                         sample_rate=sample_rate, offset=offset,
                                         duration=duration, is_wav=is_wav))
    names = [track.name for track in reader.tracks]
    rates = {sample_rate or int(track.rate) for track in reader.tracks}
    if len(rates) != 1:
        raise ValueError(f"Tracks have different sample rates {sorted(rates)}; pass sample_rate=.")
    out_sr = rates.pop()
    if lazy:
        X, Y = LazyTracks(reader, "X"), LazyTracks(reader, "y")
    else:
        X, Y = [], []
        for i in range(len(reader)):
            x, y = reader.read(i, keep=False)
            X.append(x)
            Y.append(y)
        X, Y = _stack_or_list(X), _stack_or_list(Y)
    details = (
        f"Read from {root} (subsets={subsets}, split={split!r}, offset={offset} s, "
        f"duration={duration} s, mixture={mixture!r}"
        f"{', lazily: tracks are decoded on demand' if lazy else ''}). MUSDB18 is for "
        "non-commercial research only."
    )
    return Bunch(
        X=X,
        y=Y,
        sources=sources,
        track_names=names,
        sample_rate=out_sr,
        DESCR=_descr("MUSDB18", len(names), sources, out_sr, details),
    )
