"""Drums played on real sampled kits over real accompaniment: :func:`make_sampled_drum_mixtures`.

The project's groove generator (:mod:`._synth_instruments`: tempo, pattern,
variations, fills, humanised timing) plays a sampled kit (:mod:`._kits`); the drum
bus goes through a random mixing chain (EQ, compression, reverb; Spotify's
``pedalboard``), and is laid over the accompaniment stem of a real track at that
track's own drums-to-accompaniment level (give or take ``gain_db``).
"""

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .._validation import check_number
from ._base import _descr
from ._kits import HYDROGEN_KITS, _Kit, _playable, _read_kit, find_kits
from ._synth_instruments import _drum_grid, _groove_timing, _humanised_hits, _pan

__all__ = ["make_sampled_drum_mixtures"]

# level ranges (dB) of each voice in the drum bus, as in the synthetic mixtures
_VOICE_DB = {"kick": (-3, 0), "snare": (-4, 0), "hat": (-14, -7), "open_hat": (-16, -9),
             "crash": (-16, -9), "ride": (-14, -8), "toms": (-6, -2)}


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _play(kit, rng, n_samples, sr, n_channels):
    """One groove on ``kit``: ``(drums (n_channels, n_samples), tempo, pattern)``."""
    tempo, pattern, n_bars, t_steps = _groove_timing(rng, n_samples / sr)
    grid = _drum_grid(rng, n_bars, pattern)
    hat_side = rng.choice([-1, 1]) * rng.uniform(0.2, 0.5)
    pans = {"kick": 0.0, "snare": rng.uniform(-0.1, 0.1), "hat": hat_side, "open_hat": hat_side,
            "crash": -np.sign(hat_side) * rng.uniform(0.3, 0.6)}
    pans["ride"] = -pans["crash"]
    # one instrument per voice and track (toms: up to three, low to high reused)
    rows = []
    for voice in ("kick", "snare", "hat", "open_hat", "crash", "ride"):
        insts = kit.voices[voice]
        rows.append((voice, grid[voice], insts[rng.randint(len(insts))], pans[voice]))
    toms = kit.voices.get("toms", [])
    for i in range(3 if toms else 0):
        rows.append(("toms", grid["toms"][i], toms[i % len(toms)], (i - 1) * 0.4))
    drums = np.zeros((2, n_samples), dtype=np.float32)
    for voice, vel, inst, pan in rows:
        hits = _humanised_hits(rng, vel, t_steps, sr, n_samples)
        if hits is None:
            continue
        gain = 10 ** (rng.uniform(*_VOICE_DB[voice]) / 20)
        lr = _pan(np.ones(1), pan, 2)  # (2, 1) equal-power gains
        for onset, velocity in zip(*hits):
            s = kit.sample(inst, velocity, rng)[:, : n_samples - onset]
            drums[:, onset : onset + s.shape[-1]] += (gain * velocity) * lr * s  # mono or stereo sample
    if n_channels == 1:
        drums = drums.mean(axis=0, keepdims=True)
    return drums, tempo, pattern


def _mixing_chain(rng):
    """A random drum-bus chain: three EQ bands, a compressor, a room reverb."""
    try:
        import pedalboard as pb
    except ImportError:
        raise ImportError("effects=True needs Spotify's pedalboard: pip install pedalboard "
                          "(or pip install 'sklearn-vpnn[augment]'), or pass effects=False.") from None
    return pb.Pedalboard([
        pb.LowShelfFilter(cutoff_frequency_hz=float(rng.uniform(60, 200)), gain_db=float(rng.uniform(-6, 6))),
        pb.PeakFilter(cutoff_frequency_hz=float(np.exp(rng.uniform(np.log(300), np.log(4000)))),
                      gain_db=float(rng.uniform(-6, 6)), q=float(rng.uniform(0.5, 2.0))),
        pb.HighShelfFilter(cutoff_frequency_hz=float(rng.uniform(4000, 10000)), gain_db=float(rng.uniform(-6, 6))),
        pb.Compressor(threshold_db=float(rng.uniform(-24, -8)), ratio=float(rng.uniform(1.5, 6)),
                      attack_ms=float(rng.uniform(1, 30)), release_ms=float(rng.uniform(50, 300))),
        pb.Reverb(room_size=float(rng.uniform(0.1, 0.7)), damping=float(rng.uniform(0.2, 0.8)),
                  wet_level=float(rng.uniform(0.03, 0.25)), dry_level=1.0, width=float(rng.uniform(0.5, 1.0))),
    ])


def _check_accompaniment(data):
    """``(accompaniment list, drums list or None, sample_rate, names)`` from a loader's Bunch."""
    try:
        y, sources, sr = data["y"], tuple(data["sources"]), data["sample_rate"]
    except (KeyError, TypeError, IndexError, ValueError):
        raise TypeError("accompaniment must be a Bunch from a loader (load_musdb, load_dsd100, ...) with "
                        f"y, sources and sample_rate; got {type(data).__name__}.") from None
    if "accompaniment" not in sources:
        raise ValueError(f"accompaniment has no 'accompaniment' source (its sources are {sources}); load it "
                         "with targets='drums'.")
    if len(y) == 0:
        raise ValueError("accompaniment holds no tracks.")
    acc = [np.asarray(t[sources.index("accompaniment")], dtype=np.float32) for t in y]
    drums = [np.asarray(t[sources.index("drums")], dtype=np.float32) for t in y] if "drums" in sources else None
    names = list(data.get("track_names", [f"track-{i}" for i in range(len(acc))]))
    sr = check_number(sr, "accompaniment.sample_rate", integer=True, low=8000, what="a sample rate >= 8000 Hz")
    return acc, drums, sr, names


def make_sampled_drum_mixtures(accompaniment, n_tracks=None, kits=None, effects=True, gain_db=6.0,
                               random_state=None):
    """Real sampled drum kits playing new grooves over real accompaniment stems.

    Track ``i`` takes the accompaniment of track ``i % len(accompaniment.y)`` of the
    given dataset and lays over it a drum part rendered for it: a groove of the
    project's generator (rock, half-time, four-on-the-floor, funk, shuffle or
    breakbeat at 80-160 BPM, with variations, fills and humanised timing, as in
    :func:`make_drum_mixtures`) played on a randomly chosen sampled kit, with each
    hit's velocity layer, per-voice levels and stereo positions, then (``effects``) a
    random mixing chain on the drum bus: low-shelf, peak and high-shelf EQ (+-6 dB),
    a compressor and a room reverb. The drums are set to the drums-to-accompaniment
    level of the track the accompaniment came from, changed by a random gain of up to
    ``gain_db`` either way, so the balance stays that of real mixes. The new drums are
    not in time with the accompaniment.

    This is data that does not run out: more tracks (other seeds) give new grooves,
    kits and mixes over the same accompaniment. Concatenate the result with the real
    data to train on both (see :func:`load_dsd100`).

    Parameters
    ----------
    accompaniment : :class:`~sklearn.utils.Bunch`
        A loader's dataset with an ``"accompaniment"`` source, e.g.
        ``load_musdb(root, split="train")``. Its sample rate and channels are kept; its
        drums, when present, set the level of the new drums.
    n_tracks : int or None, default=None
        Number of tracks; None: one per accompaniment track.
    kits : path, list of paths or None, default=None
        Hydrogen drum kits: a kit folder (with a ``drumkit.xml``), a folder of kit
        folders, or a list of either. None: the kits of Debian's
        ``hydrogen-drumkits`` package in ``/usr/share/hydrogen/data/drumkits``
        (``apt install hydrogen-drumkits``). Kits whose instrument names show no kick,
        snare and hi-hat or ride (hand percussion, say) are skipped.
    effects : bool, default=True
        Run the drum bus through the random mixing chain (needs ``pedalboard``).
    gain_db : float, default=6.0
        The largest change (dB) of the drums' level against the reference balance.
    random_state : int, RandomState instance or None, default=None
        Seed. Track ``i`` only depends on the seed and ``i``, not on ``n_tracks``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` mixtures (exactly ``y.sum(axis=1)``), ``y`` with sources
        ``("drums", "accompaniment")`` (arrays, or lists when the accompaniment
        tracks differ in length), ``track_names`` (``"kits-000"``, ...),
        ``sample_rate``, ``DESCR`` (kit, groove, tempo and source of every track).
        A track whose mixture would clip is scaled down (both sources alike).

    Examples
    --------
    >>> from sklearn_vpnn import load_musdb, make_sampled_drum_mixtures
    >>> train = load_musdb("musdb18-7", split="train")  # doctest: +SKIP
    >>> extra = make_sampled_drum_mixtures(train, random_state=0)  # doctest: +SKIP
    >>> X = list(train.X) + list(extra.X)  # doctest: +SKIP
    >>> y = list(train.y) + list(extra.y)  # doctest: +SKIP
    """
    acc, ref_drums, sr, acc_names = _check_accompaniment(accompaniment)
    n_tracks = len(acc) if n_tracks is None else check_number(n_tracks, "n_tracks", integer=True, low=1,
                                                              what="a positive integer or None")
    gain_db = check_number(gain_db, "gain_db", low=0, high=40, what="a level change in dB (0 to 40)")
    if not isinstance(effects, (bool, np.bool_)):
        raise TypeError(f"effects must be True or False, got {effects!r}.")
    paths = [HYDROGEN_KITS] if kits is None else [kits] if isinstance(kits, (str, bytes)) or hasattr(
        kits, "__fspath__") else list(kits)
    folders = [f for p in paths for f in find_kits(p)]
    if not folders:
        where = ", ".join(map(str, paths))
        hint = " Install Debian's hydrogen-drumkits (apt install hydrogen-drumkits)." if kits is None else ""
        raise FileNotFoundError(f"No Hydrogen drum kit (a folder with a drumkit.xml) in {where}.{hint}")
    loaded = {}

    def kit_at(i):
        if i not in loaded:
            loaded[i] = _Kit(folders[i], sr)
        return loaded[i]

    # which kits can play a groove: their drumkit.xml tells; samples are decoded on first use
    playable = [i for i, folder in enumerate(folders) if _playable(_read_kit(folder)[1])]
    if not playable:
        raise ValueError(f"None of the drum kits in {', '.join(map(str, paths))} has a kick, a snare and a "
                         "hi-hat or ride among its instrument names.")

    rng = check_random_state(random_state)
    seeds = rng.randint(np.iinfo(np.int32).max, size=n_tracks)
    xs, ys, lines = [], [], []
    for i, seed in enumerate(seeds):
        r = np.random.RandomState(seed)
        j = i % len(acc)
        a = acc[j]
        kit = kit_at(playable[r.randint(len(playable))])
        drums, tempo, pattern = _play(kit, r, a.shape[-1], sr, a.shape[0])
        if effects:
            drums = _mixing_chain(r)(drums.astype(np.float32), sr)
            if a.shape[0] == 1 and drums.shape[0] != 1:
                drums = drums.mean(axis=0, keepdims=True)
        ratio = (_rms(ref_drums[j]) / (_rms(a) + 1e-12)) if ref_drums is not None else 10 ** (r.uniform(-12, 0) / 20)
        target = max(ratio, 10 ** (-30 / 20)) * _rms(a) * 10 ** (r.uniform(-gain_db, gain_db) / 20)
        drums = drums * (target / (_rms(drums) + 1e-12)) if _rms(a) > 0 else drums / (np.max(np.abs(drums)) + 1e-12) * 0.5
        y = np.stack([drums, a]).astype(np.float32)
        peak = float(np.max(np.abs(y.sum(axis=0))))
        if peak > 0.99:
            y *= 0.99 / peak
        ys.append(y)
        xs.append(y.sum(axis=0, dtype=np.float32))
        lines.append(f"  kits-{i:03d}: {kit.name}, {pattern} at {tempo:.0f} BPM, over the accompaniment of "
                     f"{acc_names[j]}{' with EQ, compression and reverb' if effects else ''}")
    same = all(x.shape == xs[0].shape for x in xs)
    names = [f"kits-{i:03d}" for i in range(n_tracks)]
    details = "Sampled drum kits over real accompaniment stems:\n" + "\n".join(lines)
    return Bunch(
        X=np.stack(xs) if same else xs,
        y=np.stack(ys) if same else ys,
        sources=("drums", "accompaniment"),
        track_names=names,
        sample_rate=sr,
        DESCR=_descr("Sampled drum kits over real accompaniment", n_tracks, ("drums", "accompaniment"), sr,
                     details),
    )
