"""The instruments of the synthetic mixtures: drum kit, grooves, oscillators, effects.

Vectorised NumPy (filters and convolutions from SciPy): drum one-shots are synthesised
once per track (:func:`_drum_kit`) and placed by :func:`_place`; pitched notes are
wavetable oscillators (one table lookup per sample, whatever the number of harmonics)
with ADSR envelopes (:func:`_add_note`). :mod:`._synthetic` composes them into tracks.
"""

import functools

import numpy as np

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


def _groove_timing(rng, duration):
    """A random tempo (80-160 BPM) and groove: ``(tempo, pattern_name, n_bars, t_steps)``.

    ``t_steps`` are the times (s) of the 16th-note steps of ``n_bars`` bars (one bar more
    than ``duration`` needs), swung: the off-beat 8ths of a shuffle, lightly the off-beat
    16ths otherwise.
    """
    tempo = rng.uniform(80, 160)
    step = 60.0 / tempo / 4
    n_bars = int(np.ceil(duration / (16 * step))) + 1
    pattern_name = rng.choice(sorted(_PATTERNS))
    steps = np.arange(16 * n_bars)
    if pattern_name == "shuffle":
        swing = rng.uniform(0.25, 0.6) * 2 * step * (steps % 4 == 2)
    else:
        swing = rng.uniform(0.0, 0.12) * step * (steps % 2 == 1)
    return tempo, pattern_name, n_bars, steps * step + swing


def _humanised_hits(rng, vel, t_steps, sr, n_samples):
    """``(onsets, velocities)`` of one grid row's hits, humanised; None without hits.

    Timing jitters by a clipped normal (6 ms, at most 20 ms; the first step is kept on
    time), velocities by a factor in [0.8, 1]; hits at or past ``n_samples`` are dropped.
    """
    hit = np.flatnonzero(vel)
    if hit.size == 0:
        return None
    jitter = np.clip(rng.normal(0.0, 0.006, hit.size), -0.02, 0.02)
    onsets = np.round(np.maximum(t_steps[hit] + jitter * (hit > 0), 0.0) * sr).astype(np.int64)
    velocity = vel[hit] * rng.uniform(0.8, 1.0, hit.size)
    keep = onsets < n_samples
    return onsets[keep], velocity[keep]


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
