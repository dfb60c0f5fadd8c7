"""Cost and agreement of the SDR scoring paths: museval (BSS Eval v4) vs fast proxies.

Part 1 - one synthetic 3-minute stereo 44.1 kHz track
(``make_drum_mixtures(n_tracks=1, duration=180, sample_rate=44100, n_channels=2,
random_state=0)``), several estimates (references + white noise, ideal-ratio-mask
oracle blended with the mixture). Times, in the same run:

* ``sdr_scorer("drums")`` on a stand-in estimator (museval path, both sources);
* ``museval.evaluate`` directly (the baseline, ratio 1.0);
* ``sdr(method="framewise")`` and ``sdr(method="global")`` (via the scorer too);

and reports agreement of each proxy with museval's per-track SDR over all the
estimates x sources: Spearman rank correlation, mean offset (proxy - museval),
max |difference|, sign agreement.

Part 2 - if ``$MUSDB_PATH`` is set: the 14 ``valid`` clips of MUSDB18 (7-s sample),
estimates = ideal ratio mask blended with the mixture at several levels
(``(1 - b) * IRM_j(X) + b * X``), same agreement figures over clips x blends x sources.

Run::

    python benchmarks/bench_scoring.py [--duration 180] [--no-musdb]
"""

import argparse
import os
import shlex
import sys
import time

import numpy as np
from scipy.stats import spearmanr

from sklearn_vpnn import STFT, InverseSTFT, Spectrogram, make_drum_mixtures, sdr, sdr_scorer


class Fixed:
    """Stand-in fitted separator whose transform returns precomputed estimates."""

    sources_ = ("drums", "accompaniment")

    def __init__(self, estimates):
        self.estimates = estimates

    def transform(self, X):
        return self.estimates


def irm_blend(X, y, blends, n_fft=2048, hop_length=1024):
    """Ideal-ratio-mask estimates blended with the mixture, one array per blend."""
    stft = STFT(n_fft=n_fft, hop_length=hop_length)
    spec = stft.fit_transform(X)
    mags = np.abs(spec.analyze_like(y))
    masks = mags / np.maximum(mags.sum(axis=1, keepdims=True), 1e-12)
    del mags
    sep = Spectrogram(spec.data[:, None] * masks, spec.lengths, spec.params, ("drums", "accompaniment"))
    irm = np.asarray(InverseSTFT().fit_transform(sep))
    Xa = np.asarray(X)[:, None]
    return {b: ((1 - b) * irm + b * Xa).astype(np.float32) for b in blends}


def timed(fn, repeats=1):
    best, out = np.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def agreement(proxy, ref):
    proxy, ref = np.ravel(proxy), np.ravel(ref)
    ok = np.isfinite(proxy) & np.isfinite(ref)
    proxy, ref = proxy[ok], ref[ok]
    d = proxy - ref
    return (f"rho={spearmanr(proxy, ref)[0]:.4f}  offset={d.mean():+.3g} dB  "
            f"max|diff|={np.abs(d).max():.3g} dB  sign={np.mean(np.sign(proxy) == np.sign(ref)):.0%}  (n={ok.sum()})")


def part1(duration):
    import museval

    print(f"\n## Part 1: synthetic {duration:g} s stereo track at 44100 Hz")
    t0 = time.perf_counter()
    data = make_drum_mixtures(n_tracks=1, duration=duration, sample_rate=44100, n_channels=2, random_state=0)
    X, y = data.X, data.y
    rng = np.random.default_rng(0)
    rms = y.std(axis=(2, 3), keepdims=True)
    estimates = {}
    for a in (0.1, 0.5):
        estimates[f"noise {a:g} x rms"] = (y + a * rms * rng.standard_normal(y.shape)).astype(np.float32)
    for b, est in irm_blend(X, y, (0.0, 0.5)).items():
        estimates[f"IRM blend {b:g}"] = est
    print(f"(synthesis + estimates: {time.perf_counter() - t0:.1f} s)")

    # timings on the first estimate
    est = estimates["noise 0.1 x rms"]
    ref_t = np.moveaxis(y[0], 1, 2)  # museval layout (n_src, n_samples, n_ch)
    est_t = np.moveaxis(est[0], 1, 2)
    t_museval, raw = timed(lambda: museval.evaluate(ref_t, est_t, win=44100, hop=44100))
    museval_drums = float(np.nanmedian(raw[0][0]))
    rows = [("museval.evaluate (baseline)", t_museval, museval_drums)]
    for method, repeats in (("bss_eval_v4", 1), ("framewise", 3), ("global", 3)):
        scorer = sdr_scorer("drums", sample_rate=44100, method=method)
        t, score = timed(lambda: scorer(Fixed(est), X, y), repeats)
        rows.append((f"sdr_scorer(method={method!r})", t, score))
    print(f"\n{'path':<36}{'time (s)':>10}{'vs museval':>12}{'drums SDR':>11}")
    for name, t, score in rows:
        print(f"{name:<36}{t:>10.3f}{t / t_museval:>12.4f}{score:>11.3f}")

    print("\nper-estimate SDR (dB), drums / accompaniment:")
    scores = {m: [] for m in ("bss_eval_v4", "framewise", "global")}
    for name, est in estimates.items():
        line = f"  {name:<18}"
        for m in scores:
            if m == "bss_eval_v4" and est is estimates["noise 0.1 x rms"]:
                s = np.nanmedian(raw[0], axis=1)  # computed above by museval.evaluate
            else:
                s = sdr(y, est, method=m)[0]
            scores[m].append(s)
            line += f"  {m}: {s[0]:7.3f} / {s[1]:7.3f}"
        print(line)
    for m in ("framewise", "global"):
        print(f"agreement {m:<10} vs museval: {agreement(scores[m], scores['bss_eval_v4'])}")


def part2():
    from sklearn_vpnn import load_musdb

    print("\n## Part 2: MUSDB18 7-s sample, split='valid', IRM blended with the mixture")
    t0 = time.perf_counter()
    data = load_musdb(split="valid")
    blends = (0.0, 0.4, 0.8)
    ests = irm_blend(data.X, data.y, blends)
    print(f"({len(data.track_names)} clips, shape {np.shape(data.y)}, sources {data.sources}; "
          f"loading + estimates {time.perf_counter() - t0:.1f} s)")
    times = {m: 0.0 for m in ("bss_eval_v4", "framewise", "global")}
    scores = {m: [] for m in times}
    for b in blends:
        for m in times:
            t = time.perf_counter()
            scores[m].append(sdr(data.y, ests[b], sample_rate=data.sample_rate, method=m))
            times[m] += time.perf_counter() - t
    print(f"\n{'blend':>6}" + "".join(f"{m + ' drums':>22}" for m in times) + "   (mean over clips)")
    for i, b in enumerate(blends):
        print(f"{b:>6g}" + "".join(f"{np.nanmean(scores[m][i][:, 0]):>22.3f}" for m in times))
    print("\ntotal time: " + ", ".join(f"{m} {t:.1f} s ({t / times['bss_eval_v4']:.4f}x)" for m, t in times.items()))
    for m in ("framewise", "global"):
        print(f"agreement {m:<10} vs museval (clips x blends x sources): "
              f"{agreement(scores[m], scores['bss_eval_v4'])}")
        print(f"agreement {m:<10} vs museval (drums only):                "
              f"{agreement([s[:, 0] for s in scores[m]], [s[:, 0] for s in scores['bss_eval_v4']])}")
    n_nan = int(np.isnan(np.array(scores["bss_eval_v4"])).sum())
    print(f"NaN scores (no scorable window): {n_nan}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=180.0, help="synthetic track length (s)")
    parser.add_argument("--no-musdb", action="store_true", help="skip part 2 even if MUSDB_PATH is set")
    args = parser.parse_args()
    env = f"MUSDB_PATH={shlex.quote(os.environ['MUSDB_PATH'])} " if os.environ.get("MUSDB_PATH") else ""
    print(f"$ {env}python {' '.join(shlex.quote(a) for a in sys.argv)}")
    print(f"(load average at start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"{os.cpu_count()} CPUs)")
    part1(args.duration)
    if os.environ.get("MUSDB_PATH") and not args.no_musdb:
        part2()
    else:
        print("\n(Part 2 skipped: set MUSDB_PATH=../shared/data/musdb18-7 to run it)")


if __name__ == "__main__":
    main()
