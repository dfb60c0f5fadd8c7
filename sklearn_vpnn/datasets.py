"""Datasets: MUSDB18, DSD100 and seeded synthetic drum mixtures.

Every loader returns the same :class:`~sklearn.utils.Bunch`:

``X``
    mixtures, ``(n_tracks, n_channels, n_samples)`` float32 (a list of
    ``(n_channels, n_samples)`` arrays when the tracks differ in length);
``y``
    sources, ``(n_tracks, n_sources, n_channels, n_samples)`` float32 (or a list of
    ``(n_sources, n_channels, n_samples)`` arrays): the requested targets in order,
    then ``"accompaniment"``, the sum of every other stem;
``sources``, ``track_names``, ``sample_rate``, ``DESCR``.

Note that musdb's own ``accompaniment`` target (bass + drums + other) still contains
the drums; here "accompaniment" always means *everything but the targets*.
"""

import functools
import numbers
import os
import shutil
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .io import _check_sample_rate, _read_audio, _resample

__all__ = ["load_musdb", "load_dsd100", "make_drum_mixtures", "LazyTracks"]

#: the four stems of MUSDB18 / DSD100
STEMS = ("drums", "bass", "other", "vocals")
_ACCOMPANIMENT = "accompaniment"


# --------------------------------------------------------------------------- helpers
def _stack_or_list(arrays):
    """Stack equally shaped arrays into one float32 ndarray, else return a list."""
    arrays = [np.asarray(a, dtype=np.float32) for a in arrays]
    if arrays and all(a.shape == arrays[0].shape for a in arrays):
        return np.stack(arrays)
    return arrays


def _check_targets(targets):
    """Validate ``targets``; return ``(targets, sources, rest)`` tuples of names."""
    if isinstance(targets, str):
        targets = (targets,)
    try:
        targets = tuple(targets)
    except TypeError:
        raise ValueError(f"targets must be a stem name or a sequence of them, got {targets!r}.") from None
    if not targets:
        raise ValueError(f"targets must name at least one of {STEMS}.")
    for name in targets:
        if name not in STEMS:
            hint = ""
            if name == _ACCOMPANIMENT:
                hint = " ('accompaniment' is added automatically as the sum of the other stems)"
            raise ValueError(f"Unknown target {name!r}; choose from {STEMS}{hint}.")
    if len(set(targets)) != len(targets):
        raise ValueError(f"targets must not repeat a stem, got {targets}.")
    rest = tuple(s for s in STEMS if s not in targets)
    sources = targets + ((_ACCOMPANIMENT,) if rest else ())
    return targets, sources, rest


def _check_seconds(value, name, what="a positive number of seconds"):
    """``value`` as a float number of seconds: finite, > 0 (or >= 0 when ``what`` says
    non-negative); otherwise a ValueError naming ``name`` and ``what``."""
    non_negative = what.startswith("a non-negative")
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not np.isfinite(value)
        or (value < 0 if non_negative else value <= 0)
    ):
        raise ValueError(f"{name} must be {what}, got {value!r}.")
    return float(value)


def _check_crop(duration, offset):
    if duration is not None:
        duration = _check_seconds(duration, "duration", "a positive number of seconds or None")
    return duration, _check_seconds(offset, "offset", "a non-negative number of seconds")


def _check_mixture(mixture):
    if mixture not in ("sum", "stored"):
        raise ValueError(f"mixture must be 'sum' or 'stored', got {mixture!r}.")
    return mixture


def _check_subsets(subsets, valid, name="subsets"):
    if isinstance(subsets, str):
        subsets = [subsets]
    try:
        subsets = list(subsets)
    except TypeError:
        raise ValueError(f"{name} must be one of {valid} or a list of them, got {subsets!r}.") from None
    if not subsets or any(s not in valid for s in subsets):
        raise ValueError(f"{name} must be one of {valid} or a list of them, got {subsets!r}.")
    return subsets


def _make_track(stems, stored, targets, rest, mixture, mono, orig_sr, sample_rate, name):
    """Combine one track's stems into ``(x, y)``.

    ``stems`` maps stem name -> ``(n_channels, n_samples)`` array; ``stored`` is the
    stored mixture (or None when ``mixture == "sum"``).
    """
    shapes = {k: np.shape(v) for k, v in stems.items()}
    if stored is not None:
        shapes["mixture"] = np.shape(stored)
    if len(set(shapes.values())) != 1:
        raise ValueError(f"Track {name!r}: stems differ in shape {shapes}.")
    n_samples = next(iter(shapes.values()))[-1]
    if n_samples == 0:
        raise ValueError(f"Track {name!r}: no audio left (is offset beyond the end of the track?).")
    ys = [np.asarray(stems[t], dtype=np.float32) for t in targets]
    if rest:
        acc = np.zeros_like(ys[0])
        for s in rest:
            acc += np.asarray(stems[s], dtype=np.float32)
        ys.append(acc)
    y = np.stack(ys)
    if mono:
        y = y.mean(axis=1, keepdims=True, dtype=np.float32)
    if stored is not None:
        x = np.asarray(stored, dtype=np.float32)
        if mono:
            x = x.mean(axis=0, keepdims=True, dtype=np.float32)
    if sample_rate is not None and sample_rate != orig_sr:
        y = _resample(y, orig_sr, sample_rate)
        if stored is not None:
            x = _resample(x, orig_sr, sample_rate)
    if mixture == "sum":
        x = y.sum(axis=0, dtype=np.float32)
    return x, y


def _descr(title, n_tracks, sources, sample_rate, details):
    return (
        f"{title}\n{'=' * len(title)}\n\n"
        f"{n_tracks} tracks, sources {sources} at {sample_rate} Hz.\n"
        f"{details}\n"
        "X: mixtures (n_tracks, n_channels, n_samples), or a list when lengths differ.\n"
        "y: sources (n_tracks, n_sources, n_channels, n_samples), in the order of "
        "`sources`; 'accompaniment' is the sum of every stem that is not a target.\n"
    )


def _check_ffmpeg():
    missing = [p for p in ("ffmpeg", "ffprobe") if shutil.which(p) is None]
    if missing:
        raise RuntimeError(
            f"{' and '.join(missing)} not found on PATH: reading MUSDB18 stem files needs "
            "the ffmpeg and ffprobe programs (musdb/stempeg call them). Install them, "
            "e.g. `sudo apt-get install ffmpeg` (Debian/Ubuntu), `brew install ffmpeg` "
            "(macOS) or `conda install -c conda-forge ffmpeg`."
        )


# --------------------------------------------------------------------------- lazy data
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


class LazyTracks:
    """Tracks of a dataset, decoded one at a time when indexed.

    What :func:`load_musdb` returns as ``X`` and ``y`` with ``lazy=True``. A
    read-only sequence: ``len(tracks)``, ``tracks[i]`` (an ndarray, decoded now),
    ``tracks[1:5]`` or ``tracks[[0, 3]]`` (a new :class:`LazyTracks`, nothing
    decoded) and iteration. It has no ``shape``: the track lengths are unknown
    until decoded.

    :class:`~sklearn_vpnn.STFT` turns it into a :class:`LazySpectrogram`, and the
    separators' ``cache="disk"`` (chosen by ``cache="auto"``) train on that with
    one track in memory at a time. Anything else that wants an array (e.g.
    :meth:`~sklearn_vpnn.VPNNSeparator.transform`, scorers) decodes every track;
    :meth:`compute` does so explicitly.

    Parameters
    ----------
    reader : object
        Has ``len(reader)`` and ``reader.read(i)`` returning one track's
        ``(x, y)`` arrays.
    field : {"X", "y"}
        Mixtures or sources.
    indices : array-like of int or None, default=None
        Which of the reader's tracks, in order; None means all.

    Examples
    --------
    >>> from sklearn_vpnn import load_musdb
    >>> data = load_musdb("../shared/data/musdb18-7", lazy=True)  # doctest: +SKIP
    >>> len(data.X), data.X[0].shape, len(data.y[:10])  # doctest: +SKIP
    (94, (2, 300032), 10)
    """

    is_lazy = True

    def __init__(self, reader, field, indices=None):
        if field not in ("X", "y"):
            raise ValueError(f"field must be 'X' or 'y'; got {field!r}")
        self.reader = reader
        self.field = field
        self.indices = np.arange(len(reader)) if indices is None else np.asarray(indices, dtype=np.int64)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, key):
        if isinstance(key, (numbers.Integral, np.integer)) and not isinstance(key, bool):
            x, y = self.reader.read(int(self.indices[key]))
            return x if self.field == "X" else y
        return LazyTracks(self.reader, self.field, self.indices[key])

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self):
        what = "mixtures" if self.field == "X" else "sources"
        return f"<LazyTracks: {len(self)} {what}, decoded on demand>"

    def compute(self):
        """Decode every track: an ndarray when all have one shape, else a list."""
        return _stack_or_list(list(self))


# --------------------------------------------------------------------------- MUSDB18
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
    sample_rate = _check_sample_rate(sample_rate, allow_none=True)
    subsets = _check_subsets(subsets, ("train", "test"))
    if split not in (None, "train", "valid"):
        raise ValueError(f"split must be 'train', 'valid' or None, got {split!r}.")
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


# --------------------------------------------------------------------------- DSD100
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
    """Load DSD100 (or a folder with its layout) as mixtures and sources.

    The layout is ``Mixtures/<subset>/<song>/mixture.wav`` and
    ``Sources/<subset>/<song>/{bass,drums,other,vocals}.wav`` with subsets ``Dev`` and
    ``Test``. Files are read with soundfile (no ffmpeg needed).

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
        ``"sum"``: ``X`` is the sum of the sources. ``"stored"``: read ``mixture.wav``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Same fields as :func:`load_musdb`: ``X``, ``y``, ``sources``, ``track_names``
        (the song folder names), ``sample_rate``, ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If ``root``, a subset folder or a song's file is missing.
    ValueError
        If an argument is invalid, no song is found, or a song's stems differ in shape.

    Examples
    --------
    >>> from sklearn_vpnn import load_dsd100
    >>> data = load_dsd100("~/data/DSD100", subsets="Dev", duration=10.0)  # doctest: +SKIP
    >>> data.sources  # doctest: +SKIP
    ('drums', 'accompaniment')
    """
    targets, sources, rest = _check_targets(targets)
    duration, offset = _check_crop(duration, offset)
    mixture = _check_mixture(mixture)
    sample_rate = _check_sample_rate(sample_rate, allow_none=True)
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
            stems[s], sr = _read_audio(root / "Sources" / subset / song / f"{s}.wav", offset, duration)
            srs.add(sr)
        stored = None
        if mixture == "stored":
            stored, sr = _read_audio(root / "Mixtures" / subset / song / "mixture.wav", offset, duration)
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


# --------------------------------------------------------------------------- synthetic
# Everything below renders seeded, musically plausible drum + accompaniment tracks with
# vectorised numpy: drum one-shots are synthesised once per track and placed by
# convolving an impulse train; pitched notes are wavetable oscillators (one table
# lookup per sample, whatever the number of harmonics), with ADSR envelopes.

_MIN_SYNTH_RATE = 8000
_TABLE_SIZE = 2048

# 16 steps per 4/4 bar: "x" accent, "o" normal, "g" ghost, "." rest
_LEVELS = {"x": 1.0, "o": 0.7, "g": 0.3, ".": 0.0}
_PATTERNS = {
    "rock": dict(kick="x.....x.x.......", snare="....x.......x...", hat="x.o.x.o.x.o.x.o."),
    "half-time": dict(kick="x.........x.....", snare="........x.......", hat="xgogxgogxgogxgog"),
    "four-on-the-floor": dict(
        kick="x...x...x...x...", snare="....x.......x...", hat="g.g.g.g.g.g.g.g.",
        open_hat="..o...o...o...o."),
    "funk": dict(kick="x..x..x...x..x..", snare="....x..g.g..x..g", hat="xgoxxgoxxgoxxgox"),
    "shuffle": dict(kick="x.....x.x.....x.", snare="....x.......x...", ride="x...o.g.x...o.g."),
    "breakbeat": dict(kick="x.x.......x.....", snare="....x..g.g..x...", hat="x.o.x.o.x.o.x.o."),
}
_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])
# chord progressions as 0-based scale degrees
_PROGRESSIONS = {
    "major": [[0, 4, 5, 3], [0, 3, 4, 3], [0, 5, 3, 4], [1, 4, 0, 0], [0, 3, 0, 4]],
    "minor": [[0, 5, 2, 6], [0, 3, 4, 0], [0, 6, 5, 6], [0, 3, 6, 2]],
}


@functools.lru_cache(maxsize=256)
def _butter(order, wn, kind):
    from scipy.signal import butter

    return butter(order, wn, btype=kind, output="sos")


def _sos_filter(x, sr, kind, freq, order=2):
    """Butterworth filter along the last axis; cut-offs are kept below Nyquist."""
    from scipy.signal import sosfilt

    nyq = 0.5 * sr
    if kind == "bandpass":
        lo, hi = min(freq[0], 0.8 * nyq), min(freq[1], 0.95 * nyq)
        lo = min(lo, 0.5 * hi)
        wn = (round(lo / nyq, 4), round(hi / nyq, 4))
    else:
        wn = round(min(freq, 0.95 * nyq) / nyq, 4)
    return sosfilt(_butter(order, wn, kind), x, axis=-1)


def _midi_hz(note):
    return 440.0 * 2.0 ** ((np.asarray(note, dtype=float) - 69.0) / 12.0)


def _wavetable(amps, rng):
    """One period of sum_k amps[k] * sin(2 pi (k+1) t + phi_k), peak 1."""
    spec = np.zeros(_TABLE_SIZE // 2 + 1, dtype=complex)
    k = min(len(amps), _TABLE_SIZE // 2 - 1)
    phases = rng.uniform(0, 2 * np.pi, k)
    spec[1 : k + 1] = np.asarray(amps[:k]) * np.exp(1j * phases)
    table = np.fft.irfft(spec, n=_TABLE_SIZE)
    table /= np.max(np.abs(table)) + 1e-12
    return np.append(table, table[0])  # wrap-around sample for interpolation


def _harmonic_amps(f0, sr, tilt=1.0, cutoff=None, odd_only=False, n_max=40):
    """Harmonic amplitudes 1/k**tilt, low-passed at ``cutoff`` Hz, band-limited."""
    k = np.arange(1, n_max + 1, dtype=float)
    amps = k ** -float(tilt)
    if cutoff is not None:
        amps *= np.exp(-k * f0 / cutoff)
    if odd_only:
        amps[1::2] *= 0.05
    amps[k * f0 * 1.06 >= 0.45 * sr] = 0.0  # no aliasing, vibrato included
    return amps


def _oscillator(table, freq, sr, phase0=0.0):
    """Wavetable oscillator; ``freq`` is the instantaneous frequency per sample."""
    cycles = phase0 + np.cumsum(freq) / sr
    pos = (cycles % 1.0) * _TABLE_SIZE
    i0 = pos.astype(np.int64)
    frac = pos - i0
    return table[i0] + frac * (table[i0 + 1] - table[i0])


def _envelope(n, n_on, sr, attack, decay, sustain, release, tau=None):
    """ADSR envelope of ``n`` samples with note-off at sample ``n_on``."""
    t = np.arange(n) / sr
    env = np.interp(t, [0.0, attack, attack + decay], [0.0, 1.0, sustain])
    if tau is not None:  # struck/plucked strings keep decaying while held
        env *= np.exp(-t / tau)
    t_off = n_on / sr
    env *= np.clip(1.0 - (t - t_off) / release, 0.0, 1.0)
    return env


def _add_note(buf, start, note, dur, sr, voice, rng):
    """Render one pitched note of ``dur`` seconds into the mono buffer ``buf``."""
    n_total = buf.shape[-1]
    if start >= n_total or dur <= 0:
        return
    n_on = max(1, int(dur * sr))
    n = min(n_on + int(voice["release"] * sr), n_total - start)
    f0 = float(_midi_hz(note))
    t = np.arange(n) / sr
    freq = np.full(n, f0)
    if voice.get("vibrato"):
        rate, depth, delay = voice["vibrato"]
        fade = np.clip((t - delay) / 0.2, 0.0, 1.0)
        freq *= 2.0 ** (depth * fade * np.sin(2 * np.pi * rate * t) / 12.0)
    out = np.zeros(n)
    for cents in voice.get("detune", (0.0,)):
        f = freq * 2.0 ** (cents / 1200.0)
        bright = _wavetable(voice["amps"](f0), rng)
        x = _oscillator(bright, f, sr, rng.uniform())
        if voice.get("dull") is not None:  # bright attack fading to a duller tone
            dull = _wavetable(voice["dull"](f0), rng)
            w = np.exp(-t / voice["bright_decay"])
            x = w * x + (1.0 - w) * _oscillator(dull, f, sr, rng.uniform())
        out += x
    env = _envelope(n, n_on, sr, voice["attack"], voice["decay"], voice["sustain"],
                    voice["release"], voice.get("tau"))
    if voice.get("tremolo"):
        env *= 1.0 + voice["tremolo"] * np.sin(2 * np.pi * 6.0 * t)
    buf[start : start + n] += voice["level"] * env * out / len(voice.get("detune", (0.0,)))


def _drum_kit(rng, sr):
    """Synthesise this track's kit: dict name -> list of one-shot variants (peak 1)."""
    def t_(seconds):
        return np.arange(int(seconds * sr)) / sr

    def norm(x):
        return x / (np.max(np.abs(x)) + 1e-12)

    def noise(n):
        return rng.standard_normal(n)

    kit = {}
    # kick: pitched sine sweep (e.g. 150 -> 50 Hz) with exponential decay + beater click
    t = t_(0.6)
    f_hi, f_lo, tau_f = rng.uniform(120, 180), rng.uniform(42, 60), rng.uniform(0.02, 0.05)
    freq = f_lo + (f_hi - f_lo) * np.exp(-t / tau_f)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / rng.uniform(0.12, 0.3))
    click = _sos_filter(noise(t.size), sr, "highpass", 1500) * np.exp(-t / 0.004)
    kick = np.tanh(rng.uniform(1.0, 2.5) * (body + rng.uniform(0.1, 0.3) * click))
    kit["kick"] = [norm(kick * np.clip(t / 0.001, 0, 1))]

    # snare: tonal body (~180-250 Hz, with an inharmonic overtone) + band-passed noise
    t = t_(0.45)
    f_body = rng.uniform(180, 250)
    tau_n, snappy = rng.uniform(0.08, 0.18), rng.uniform(0.5, 1.2)
    kit["snare"] = []
    for _ in range(2):
        tone = (np.sin(2 * np.pi * f_body * (1 + 0.3 * np.exp(-t / 0.01)) * t)
                + 0.5 * np.sin(2 * np.pi * 1.59 * f_body * t)) * np.exp(-t / rng.uniform(0.04, 0.08))
        rattle = _sos_filter(noise(t.size), sr, "bandpass", (1500, 9000)) * np.exp(-t / tau_n)
        kit["snare"].append(norm(tone + snappy * 3.0 * rattle))

    # hi-hats: high-passed noise + metallic inharmonic partials; short / long decay
    base = rng.uniform(3000, 4500)
    ratios = np.array([1.0, 1.4471, 1.617, 1.9265, 2.5028, 2.6637])

    def metal(n, seconds):
        tt = np.arange(n) / sr
        f = base * ratios
        f = f[f < 0.45 * sr]
        partials = np.sign(np.sin(2 * np.pi * f[:, None] * tt + rng.uniform(0, 6.3, (f.size, 1)))).sum(0)
        x = 0.6 * noise(n) + 0.15 * partials
        return _sos_filter(x, sr, "highpass", 7000, order=4) * np.exp(-tt / seconds)

    tau_closed, tau_open = rng.uniform(0.02, 0.05), rng.uniform(0.25, 0.5)
    kit["hat"] = [norm(metal(int(0.25 * sr), tau_closed)) for _ in range(3)]
    kit["open_hat"] = [norm(metal(int(1.2 * sr), tau_open))]

    # crash and ride: bright noise + many inharmonic partials, long decays
    t = t_(2.5)
    f = rng.uniform(2000, 12000, 24)
    f = f[f < 0.45 * sr]
    partials = np.sin(2 * np.pi * f[:, None] * t + rng.uniform(0, 6.3, (f.size, 1))).sum(0) / max(f.size, 1)
    crash = _sos_filter(noise(t.size) + 2.0 * partials, sr, "highpass", 3000, order=2)
    crash *= np.exp(-t / rng.uniform(0.6, 1.0)) * np.clip(t / 0.003, 0, 1)
    kit["crash"] = [norm(crash)]
    t = t_(1.5)
    bell = rng.uniform(500, 800) * np.array([1.0, 2.32, 3.01, 4.16, 5.43, 6.79])
    bell = bell[bell < 0.45 * sr]
    ping = np.sin(2 * np.pi * bell[:, None] * t).sum(0) / bell.size * np.exp(-t / 0.4)
    wash = _sos_filter(noise(t.size), sr, "highpass", 5000) * np.exp(-t / rng.uniform(0.4, 0.8))
    kit["ride"] = [norm(0.6 * ping + wash)]

    # toms (for fills): pitch-dropping sines with a little noise
    t = t_(0.6)
    kit["toms"] = []
    for f_tom in np.array([170.0, 125.0, 90.0]) * rng.uniform(0.9, 1.1):
        freq = f_tom * (1.0 + 0.4 * np.exp(-t / 0.03))
        tom = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / rng.uniform(0.15, 0.3))
        tom += 0.2 * _sos_filter(noise(t.size), sr, "bandpass", (300, 3000)) * np.exp(-t / 0.03)
        kit["toms"].append(norm(tom))
    return kit


def _place(template_list, onsets, velocities, n_samples, rng):
    """Sum of one-shots at ``onsets`` (samples) scaled by ``velocities``."""
    out = np.zeros(n_samples)
    which = rng.randint(len(template_list), size=len(onsets))
    for onset, velocity, i in zip(onsets, velocities, which):  # per-hit loop, vector adds
        tmpl = template_list[i][: n_samples - onset]
        out[onset : onset + tmpl.size] += velocity * tmpl
    return out


def _pan(mono, position, n_channels):
    """Equal-power pan of a mono signal to ``n_channels`` (1 or 2); position in [-1, 1]."""
    if n_channels == 1:
        return mono[np.newaxis]
    theta = (position + 1.0) * np.pi / 4.0
    return np.stack([np.cos(theta) * mono, np.sin(theta) * mono]) * np.sqrt(2.0)


def _reverb(bus, sr, rng, wet):
    """Light room reverb: exponentially decaying noise, decorrelated per channel."""
    from scipy.signal import fftconvolve

    rt60 = rng.uniform(0.3, 1.0)
    n = int(min(rt60, 0.8) * sr)
    t = np.arange(n) / sr
    ir = rng.standard_normal((bus.shape[0], n)) * np.exp(-6.9 * t / rt60)
    ir = _sos_filter(ir, sr, "lowpass", rng.uniform(3000, 8000))
    ir[:, : int(0.01 * sr)] = 0.0  # pre-delay
    ir /= np.sqrt(np.sum(ir**2, axis=-1, keepdims=True)) + 1e-12
    return bus + wet * fftconvolve(bus, ir, axes=-1)[:, : bus.shape[-1]]


def _drum_grid(rng, n_bars, pattern_name):
    """Step velocities (n_bars * 16 steps) per drum voice, with variations and fills."""
    n_steps = n_bars * 16
    pattern = _PATTERNS[pattern_name]
    grid = {}
    for voice in ("kick", "snare", "hat", "open_hat", "ride"):
        row = np.array([_LEVELS[c] for c in pattern.get(voice, "." * 16)])
        grid[voice] = np.tile(row, n_bars)
    grid["crash"] = np.zeros(n_steps)
    grid["toms"] = np.zeros((3, n_steps))
    for bar in range(n_bars):
        s0 = bar * 16
        # variations: an extra kick on a free off-beat, ghost notes, an open hat
        if rng.uniform() < 0.35:
            free = [s for s in range(2, 16, 2) if grid["snare"][s0 + s] == 0 and grid["kick"][s0 + s] == 0]
            if free:
                grid["kick"][s0 + rng.choice(free)] = 0.7
        if rng.uniform() < 0.25:
            pos = rng.choice(np.arange(1, 16, 2), size=2, replace=False)
            grid["snare"][s0 + pos] = np.maximum(grid["snare"][s0 + pos], 0.25)
        if pattern_name != "four-on-the-floor" and rng.uniform() < 0.2:
            grid["open_hat"][s0 + 14] = 0.7
            grid["hat"][s0 + 14] = 0.0
        # fills at the end of 4-bar phrases (sometimes elsewhere)
        if (bar % 4 == 3 and rng.uniform() < 0.7) or rng.uniform() < 0.1:
            n_fill = rng.choice([4, 8])
            steps = np.arange(16 - n_fill, 16)
            for voice in ("kick", "snare", "hat", "open_hat", "ride"):
                grid[voice][s0 + steps] = 0.0
            every = rng.choice([1, 2])
            steps = steps[steps % every == 0]
            drums = np.minimum(np.arange(steps.size) * 4 // max(steps.size, 1), 3)  # snare, hi, mid, low tom
            vel = np.linspace(0.6, 1.0, steps.size)
            for s, d, v in zip(steps, drums, vel):
                if d == 0:
                    grid["snare"][s0 + s] = v
                else:
                    grid["toms"][d - 1, s0 + s] = v
            if bar + 1 < n_bars:
                grid["crash"][s0 + 16] = 1.0
                grid["kick"][s0 + 16] = 1.0
    if rng.uniform() < 0.5:
        grid["crash"][0] = 1.0
    return grid


def _synth_track(rng, n_samples, sr, n_channels):
    """One synthetic track: returns (drums, accompaniment), each (n_channels, n_samples)."""
    duration = n_samples / sr
    tempo = rng.uniform(80, 160)
    beat = 60.0 / tempo
    step = beat / 4
    n_bars = int(np.ceil(duration / (4 * beat))) + 1
    n_steps = 16 * n_bars
    pattern_name = rng.choice(sorted(_PATTERNS))
    steps = np.arange(n_steps)
    # swing delays the off-beat 8ths (shuffle) or, lightly, the off-beat 16ths
    if pattern_name == "shuffle":
        swing = rng.uniform(0.25, 0.6) * 2 * step * (steps % 4 == 2)
    else:
        swing = rng.uniform(0.0, 0.12) * step * (steps % 2 == 1)
    t_steps = steps * step + swing

    def to_samples(times):
        return np.round(np.asarray(times) * sr).astype(np.int64)

    # ---- drums
    kit = _drum_kit(rng, sr)
    grid = _drum_grid(rng, n_bars, pattern_name)
    pans = {"kick": 0.0, "snare": rng.uniform(-0.1, 0.1), "hat": rng.choice([-1, 1]) * rng.uniform(0.2, 0.5)}
    pans["open_hat"] = pans["hat"]
    pans["crash"] = -np.sign(pans["hat"]) * rng.uniform(0.3, 0.6)
    pans["ride"] = -pans["crash"]
    gains_db = {"kick": (-3, 0), "snare": (-4, 0), "hat": (-14, -7), "open_hat": (-16, -9),
                "crash": (-16, -9), "ride": (-14, -8), "toms": (-6, -2)}
    gains = {k: 10 ** (rng.uniform(*v) / 20) for k, v in gains_db.items()}
    drums = np.zeros((n_channels, n_samples))
    rows = [(v, grid[v], kit[v], pans[v]) for v in ("kick", "snare", "hat", "open_hat", "crash", "ride")]
    rows += [("toms", grid["toms"][i], [kit["toms"][i]], (i - 1) * 0.4) for i in range(3)]
    for voice, vel, templates, pan in rows:
        hit = np.flatnonzero(vel)
        if hit.size == 0:
            continue
        jitter = np.clip(rng.normal(0.0, 0.006, hit.size), -0.02, 0.02)  # humanised timing
        onsets = to_samples(np.maximum(t_steps[hit] + jitter * (hit > 0), 0.0))
        velocity = vel[hit] * rng.uniform(0.8, 1.0, hit.size)
        keep = onsets < n_samples
        mono = _place(templates, onsets[keep], velocity[keep], n_samples, rng)
        drums += _pan(gains[voice] * mono, pan, n_channels)
    drums = _reverb(drums, sr, rng, wet=rng.uniform(0.05, 0.2))

    # ---- harmony: key, mode, progression, chord timeline
    mode = rng.choice(["major", "minor"])
    scale = _MAJOR if mode == "major" else _MINOR
    tonic = rng.randint(12)
    progs = _PROGRESSIONS[mode]
    prog = progs[rng.randint(len(progs))]
    steps_per_chord = int(rng.choice([8, 16, 16]))

    def chord(step_index, seventh=False):
        degree = prog[(step_index // steps_per_chord) % len(prog)]
        idx = degree + np.array([0, 2, 4] + ([6] if seventh else []))
        return tonic + scale[idx % 7] + 12 * (idx // 7)  # pitch classes above the tonic

    acc = np.zeros((n_channels, n_samples))
    chord_starts = np.arange(0, n_steps, steps_per_chord)

    # ---- bass: harmonic-rich, low (E1..E2), following the chord roots
    bass_buf = np.zeros(n_samples)
    cutoff = rng.uniform(500, 1500)
    bass = dict(amps=lambda f: _harmonic_amps(f, sr, 1.0, cutoff), dull=lambda f: _harmonic_amps(f, sr, 1.5, 300.0),
                bright_decay=rng.uniform(0.05, 0.2), attack=0.005, decay=0.1, sustain=0.7,
                release=0.03, tau=rng.uniform(0.5, 1.5), level=1.0)
    style = rng.choice(["kick", "eighths", "root-fifth", "walking"])
    if style == "kick":
        bass_steps = np.flatnonzero(grid["kick"])
    elif style == "eighths":
        bass_steps = np.arange(0, n_steps, 2)
    else:
        bass_steps = np.arange(0, n_steps, 4)
    base_note = 28 + tonic  # E1 = 28 (41 Hz) and up
    for j, s in enumerate(bass_steps):
        root = base_note + (chord(s)[0] - tonic) % 12
        beat_in_chord = (s % steps_per_chord) // 4
        if style == "root-fifth":
            root += [0, 7, 12, 7][beat_in_chord % 4]
        elif style == "walking":
            root += [0, 4 if mode == "major" else 3, 7, 5][beat_in_chord % 4]
        elif s % 4 and rng.uniform() < 0.25:
            root += 12
        nxt = bass_steps[j + 1] if j + 1 < bass_steps.size else n_steps
        dur = min(t_steps[min(nxt, n_steps - 1)] - t_steps[s], beat) * rng.uniform(0.7, 0.95)
        if nxt >= n_steps:
            dur = beat
        _add_note(bass_buf, int(to_samples(t_steps[s])), root, dur, sr, bass, rng)
    acc += _pan(10 ** (rng.uniform(-4, 0) / 20) * bass_buf / (np.max(np.abs(bass_buf)) + 1e-12), 0.0, n_channels)

    # ---- chords: organ, pad or piano voicings around middle C
    timbre = rng.choice(["organ", "pad", "piano"])
    if timbre == "organ":
        draw = rng.uniform(0.2, 1.0, 8) * np.array([1, 1, 1, 1, 0, 1, 0, 1])
        voice = dict(amps=lambda f: np.where(np.arange(1, 9) * f < 0.45 * sr, draw, 0.0),
                     attack=0.01, decay=0.05, sustain=0.9, release=0.06, tremolo=0.08, level=1.0)
        rhythm = "sustain"
    elif timbre == "pad":
        lp = rng.uniform(800, 2500)
        voice = dict(amps=lambda f: _harmonic_amps(f, sr, 1.0, lp), detune=(-8.0, 0.0, 7.0),
                     attack=rng.uniform(0.15, 0.4), decay=0.3, sustain=0.8, release=0.3, level=1.0)
        rhythm = "sustain"
    else:
        voice = dict(amps=lambda f: _harmonic_amps(f, sr, 1.2, 3000.0), dull=lambda f: _harmonic_amps(f, sr, 2.0, 600.0),
                     bright_decay=0.15, attack=0.003, decay=0.2, sustain=0.6, release=0.08,
                     tau=rng.uniform(0.8, 2.0), level=1.0)
        rhythm = ["x...x...x...x...", "x..x..x.....x...", "x.......x.......", "x.x...x.x.x...x."][rng.randint(4)]
    seventh = rng.uniform() < 0.3
    chord_buf = np.zeros((n_channels, n_samples))
    for c0 in chord_starts:
        pitches = chord(c0, seventh)
        pitches = 55 + (pitches - 55) % 12  # close voicing from G3 up
        if rhythm == "sustain":
            hits = [(c0, steps_per_chord)]
        else:
            on = [c0 + i for i, ch in enumerate(np.tile(list(rhythm), 2)[:steps_per_chord]) if ch == "x"]
            hits = [(s, (on[i + 1] if i + 1 < len(on) else c0 + steps_per_chord) - s) for i, s in enumerate(on)]
        for s, length in hits:
            if s >= n_steps:
                continue
            dur = length * step * (0.95 if rhythm == "sustain" else rng.uniform(0.6, 0.9))
            for k, p in enumerate(pitches):
                buf = np.zeros(n_samples)
                _add_note(buf, int(to_samples(t_steps[s])), p, dur, sr, voice, rng)
                chord_buf += _pan(rng.uniform(0.6, 1.0) * buf, (k / max(len(pitches) - 1, 1) - 0.5) * 0.8,
                                  n_channels)
    acc += 10 ** (rng.uniform(-9, -3) / 20) * chord_buf / (np.max(np.abs(chord_buf)) + 1e-12)

    # ---- lead melody: harmonics, vibrato, envelopes, rests; chord tones on changes
    lead_timbre = rng.choice(["saw", "clarinet", "flute"])
    tilt, odd = {"saw": (1.0, False), "clarinet": (1.0, True), "flute": (2.5, False)}[lead_timbre]
    lead_voice = dict(amps=lambda f: _harmonic_amps(f, sr, tilt, 4000.0, odd_only=odd, n_max=20),
                      attack=rng.uniform(0.02, 0.06), decay=0.1, sustain=0.75, release=0.08,
                      vibrato=(rng.uniform(4.5, 6.5), rng.uniform(0.15, 0.4), 0.15), level=1.0)
    lead_buf = np.zeros(n_samples)
    s = int(rng.choice([0, 2, 4]))
    degree = rng.randint(7)
    lead_base = 60 + tonic  # C4..B4 plus scale degrees
    while s < n_steps:
        length = int(rng.choice([2, 4, 4, 6, 8]))
        if rng.uniform() < 0.2:
            s += length  # a rest
            continue
        degree += rng.choice([-2, -1, -1, 0, 1, 1, 2])
        degree = int(np.clip(degree, 0, 11))
        if s % steps_per_chord == 0 and rng.uniform() < 0.6:  # land on a chord tone
            tones = np.array([d + 7 * o for d in (prog[(s // steps_per_chord) % len(prog)] + np.array([0, 2, 4])) % 7
                              for o in (0, 1)])
            degree = int(tones[np.argmin(np.abs(tones - degree))])
        pitch = lead_base + scale[degree % 7] + 12 * (degree // 7)
        _add_note(lead_buf, int(to_samples(t_steps[s])), pitch, length * step * 0.9, sr, lead_voice, rng)
        s += length
    if np.any(lead_buf):
        acc += _pan(10 ** (rng.uniform(-9, -3) / 20) * lead_buf / np.max(np.abs(lead_buf)),
                    rng.uniform(-0.3, 0.3), n_channels)
    acc = _reverb(acc, sr, rng, wet=rng.uniform(0.1, 0.3))

    # ---- balance: drums-to-accompaniment ratio of -4..+4 dB (RMS)
    d_rms = np.sqrt(np.mean(drums**2)) + 1e-12
    a_rms = np.sqrt(np.mean(acc**2)) + 1e-12
    drums *= (a_rms / d_rms) * 10 ** (rng.uniform(-4, 4) / 20)
    info = dict(tempo=tempo, pattern=pattern_name, key=tonic, mode=mode, chords=timbre, bass=style)
    return drums, acc, info


def make_drum_mixtures(n_tracks=10, duration=5.0, sample_rate=22050, n_channels=1, random_state=None):
    """Generate seeded synthetic drum + accompaniment mixtures.

    Each track is a small piece of music: a synthesised drum kit (kick: pitched
    sine sweep with exponential decay; snare: tonal body plus band-passed noise;
    closed/open hi-hats; crash and ride cymbals; toms for fills) playing one of
    several grooves (rock, half-time, four-on-the-floor, funk, shuffle, breakbeat)
    at 80-160 BPM with varied velocities, humanised timing, variations and fills,
    against a tonal accompaniment: a harmonic-rich bass line following a chord
    progression (overlapping the kick's frequency range), organ/pad/piano chords with
    ADSR envelopes, and a lead melody with harmonics and vibrato. Source gains, the
    drums-to-accompaniment ratio, stereo panning and a light reverb are random.

    Parameters
    ----------
    n_tracks : int, default=10
        Number of tracks.
    duration : float, default=5.0
        Length of each track in seconds.
    sample_rate : int, default=22050
        Sample rate in Hz (at least 8000).
    n_channels : {1, 2}, default=1
        Mono, or stereo with panned instruments.
    random_state : int, RandomState instance or None, default=None
        Seed. The same seed gives identical output; track ``i`` only depends on the
        seed and ``i``, not on ``n_tracks``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (n_tracks, n_channels, n_samples) float32 mixtures, exactly
        ``y.sum(axis=1)``; ``y`` (n_tracks, 2, n_channels, n_samples) float32 sources;
        ``sources`` = ``("drums", "accompaniment")``; ``track_names``
        (``"synthetic-000"``, ...); ``sample_rate``; ``DESCR``. Each track is scaled
        (both sources by the same factor) so that the mixture peaks at 0.9.

    Examples
    --------
    >>> from sklearn_vpnn import make_drum_mixtures
    >>> data = make_drum_mixtures(n_tracks=4, duration=2.0, random_state=0)
    >>> data.X.shape, data.y.shape, data.sources
    ((4, 1, 44100), (4, 2, 1, 44100), ('drums', 'accompaniment'))
    >>> bool((data.y.sum(axis=1) == data.X).all())
    True
    """
    if isinstance(n_tracks, bool) or not isinstance(n_tracks, numbers.Integral) or n_tracks < 1:
        raise ValueError(f"n_tracks must be a positive integer, got {n_tracks!r}.")
    _check_seconds(duration, "duration")
    sample_rate = _check_sample_rate(sample_rate)
    if sample_rate < _MIN_SYNTH_RATE:
        raise ValueError(
            f"sample_rate must be at least {_MIN_SYNTH_RATE} Hz for drums with cymbals, got {sample_rate}."
        )
    if isinstance(n_channels, bool) or n_channels not in (1, 2):
        raise ValueError(f"n_channels must be 1 (mono) or 2 (stereo), got {n_channels!r}.")
    n_channels = int(n_channels)
    n_samples = int(round(duration * sample_rate))
    if n_samples < 1:
        raise ValueError(f"duration={duration} s is shorter than one sample at {sample_rate} Hz.")

    rng = check_random_state(random_state)
    seeds = rng.randint(np.iinfo(np.int32).max, size=int(n_tracks))
    y = np.empty((int(n_tracks), 2, n_channels, n_samples), dtype=np.float32)
    infos = []
    for i, seed in enumerate(seeds):
        drums, acc, info = _synth_track(np.random.RandomState(seed), n_samples, sample_rate, n_channels)
        scale = 0.9 / (np.max(np.abs(drums + acc)) + 1e-12)
        y[i, 0] = drums * scale
        y[i, 1] = acc * scale
        infos.append(info)
    X = y.sum(axis=1, dtype=np.float32)
    names = [f"synthetic-{i:03d}" for i in range(int(n_tracks))]
    lines = "\n".join(
        f"  {n}: {d['pattern']} at {d['tempo']:.0f} BPM, {d['mode']} key (tonic pitch class "
        f"{d['key']}), {d['chords']} chords, {d['bass']} bass"
        for n, d in zip(names, infos)
    )
    details = f"Seeded synthetic drum mixtures, {duration} s each, {n_channels} channel(s):\n{lines}"
    return Bunch(
        X=X,
        y=y,
        sources=("drums", "accompaniment"),
        track_names=names,
        sample_rate=sample_rate,
        DESCR=_descr("Synthetic drum mixtures", len(names), ("drums", "accompaniment"), sample_rate, details),
    )


def __getattr__(name):
    # LazySpectrogram lives in sklearn_vpnn.spectral; this keeps the old import working
    if name == "LazySpectrogram":
        from .spectral import LazySpectrogram

        return LazySpectrogram
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
