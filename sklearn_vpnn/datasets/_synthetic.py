"""Seeded synthetic drum mixtures: :func:`make_drum_mixtures`.

:func:`_synth_track` composes one piece of music (tempo, groove, key, chord
progression, bass line, chords, lead melody, mix) from the instruments of
:mod:`._synth_instruments`.
"""

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .._validation import check_number, check_seconds
from ._base import _descr
from ._synth_instruments import (_add_note, _drum_grid, _drum_kit, _groove_timing, _harmonic_amps,
                                 _humanised_hits, _pan, _place, _reverb)

__all__ = ["make_drum_mixtures"]

_MIN_SYNTH_RATE = 8000
_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])
# chord progressions as 0-based scale degrees
_PROGRESSIONS = {
    "major": [[0, 4, 5, 3], [0, 3, 4, 3], [0, 5, 3, 4], [1, 4, 0, 0], [0, 3, 0, 4]],
    "minor": [[0, 5, 2, 6], [0, 3, 4, 0], [0, 6, 5, 6], [0, 3, 6, 2]],
}


def _synth_track(rng, n_samples, sr, n_channels):
    """One synthetic track: returns (drums, accompaniment), each (n_channels, n_samples)."""
    tempo, pattern_name, n_bars, t_steps = _groove_timing(rng, n_samples / sr)
    beat = 60.0 / tempo
    step = beat / 4
    n_steps = 16 * n_bars

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
        hits = _humanised_hits(rng, vel, t_steps, sr, n_samples)
        if hits is None:
            continue
        mono = _place(templates, *hits, n_samples, rng)
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
    n_tracks = check_number(n_tracks, "n_tracks", integer=True, low=1, what="a positive integer")
    duration = check_seconds(duration, "duration")
    sample_rate = check_number(sample_rate, "sample_rate", integer=True, low=_MIN_SYNTH_RATE,
                               what=f"an integer >= {_MIN_SYNTH_RATE} (Hz; drums with cymbals need it)")
    n_channels = check_number(n_channels, "n_channels", integer=True, low=1, high=2,
                              what="1 (mono) or 2 (stereo)")
    n_samples = int(round(duration * sample_rate))
    if n_samples < 1:
        raise ValueError(f"duration={duration} s is shorter than one sample at {sample_rate} Hz.")

    rng = check_random_state(random_state)
    seeds = rng.randint(np.iinfo(np.int32).max, size=n_tracks)
    y = np.empty((n_tracks, 2, n_channels, n_samples), dtype=np.float32)
    infos = []
    for i, seed in enumerate(seeds):
        drums, acc, info = _synth_track(np.random.RandomState(seed), n_samples, sample_rate, n_channels)
        scale = 0.9 / (np.max(np.abs(drums + acc)) + 1e-12)
        y[i, 0] = drums * scale
        y[i, 1] = acc * scale
        infos.append(info)
    X = y.sum(axis=1, dtype=np.float32)
    names = [f"synthetic-{i:03d}" for i in range(n_tracks)]
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
