"""Where the drums error lives: per frequency band, and against how loud the drums are.

For saved models (``--load NAME=PATH``, files written by ``sklearn_vpnn.save_model``)
and the ``valid`` clips of a MUSDB18-format dataset (``load_musdb(root,
subsets="train", split="valid")``), on each model's own STFT:

(a) **per frequency band** (``--bands``, default edges 150, 500, 2000, 8000 Hz: <150 Hz,
    150-500 Hz, 0.5-2 kHz, 2-8 kHz, >8 kHz; a bin belongs to the band its centre
    frequency ``k * sample_rate / n_fft`` falls in), the energy of the drums
    estimate's error relative to the true drums energy in that band, in dB, median
    over tracks, split into what *leaked in* and what was *lost*.

    Definition. The separators estimate the drums as a real mask ``m`` in [0, 1] on
    the mixture STFT, ``D_hat = m X`` with ``X = D + A`` (true drums plus true
    accompaniment; exact here: the mixture is the sum of the stems). So in every
    time-frequency bin the error splits exactly into two parts::

        D_hat - D = m A - (1 - m) D
        leaked in = m A          (the accompaniment the drums mask lets through)
        lost      = (1 - m) D    (the drums the mask removes)

    Each is reported as ``10 log10(sum |part|^2 / sum |D|^2)`` over the band's bins,
    both channels and all frames of a track (0 dB: as loud as the drums themselves).
    The error is ``leaked - lost`` as complex numbers, so its energy is the sum of the
    two energies plus a cross term ``-2 m (1 - m) Re(A conj(D))`` (zero on average
    when drums and accompaniment are uncorrelated in a bin, not in every track). Models are scored without Wiener
    filtering (``wiener_iterations=0``): the post-filter is not a mask on ``X``. The
    energies are those of the STFT coefficients the model produced, before the
    inverse STFT (which, with the mixture's phase, changes them slightly). The row
    ``drums/accomp.`` gives ``10 log10(sum |D|^2 / sum |A|^2)`` per band for context.

(b) **per track**: drums SDR (``sklearn_vpnn.sdr(method="framewise")``, equal to museval
    BSS Eval v4's SDR: 1 s windows, median over windows) of the model's separated
    waveforms against the drums-to-accompaniment energy ratio of the track (dB,
    time domain, both channels), with Spearman's rank correlation (scipy).

``--oracle`` adds the ideal ratio mask ``|D| / (|D| + |A|)`` (``bench_quality.py``'s
``irm-oracle``) on the first model's STFT (the default STFT without ``--load``).
``--figure PNG`` draws both panels; ``--json OUT`` keeps every per-track figure.
``--reshape`` adds (c): each model's drums SDR with its masks sharpened
(``m^p / (m^p + (1-m)^p)``) or their logits shifted after the fact: whether a
post-processing step could fix the masks' calibration.

Run (from the repository root; about a minute per model on 14 clips)::

    MUSDB_PATH=../shared/data/musdb18-7 python benchmarks/bench_errors.py \\
        --load wvpnn=wvpnn.safetensors --oracle --json errors.json --figure errors.png

``--max-tracks N`` uses the first N valid clips (smoke runs).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from bench_quality import command_line, parse_loads


def band_labels(edges):
    def hz(f):
        return f"{f / 1000:g} kHz" if f >= 1000 else f"{f:g} Hz"

    labels = [f"<{hz(edges[0])}"]
    for lo, hi in zip(edges[:-1], edges[1:]):
        labels.append(f"{lo / 1000:g}-{hi / 1000:g} kHz" if hi >= 1000 else f"{lo:g}-{hi:g} Hz")
    return labels + [f">{hz(edges[-1])}"]


def band_of_bins(n_bins, n_fft, sample_rate, edges):
    """Band index of every bin (``len(edges) + 1`` bands)."""
    freqs = np.arange(n_bins) * sample_rate / n_fft
    return np.searchsorted(np.asarray(edges, dtype=float), freqs, side="right")


def _db(num, den):
    with np.errstate(divide="ignore", invalid="ignore"):
        return 10 * np.log10(np.asarray(num, dtype=float) / np.asarray(den, dtype=float))


def band_errors(mask, X, D, A, bands, n_bands):
    """Per track and band energies ``{error, leaked, lost, drums, accomp}``: (n_tracks, n_bands + 1).

    ``mask``, ``X``, ``D``, ``A``: (n_tracks, n_channels, n_bins, n_frames); the last
    column is the whole spectrum.
    """
    parts = {"error": mask * X - D, "leaked": mask * A, "lost": (1 - mask) * D, "drums": D, "accomp": A}
    out = {}
    for k, v in parts.items():
        per_bin = (np.abs(v) ** 2).sum(axis=(1, 3))  # (tracks, bins)
        e = np.stack([per_bin[:, bands == b].sum(axis=1) for b in range(n_bands)], axis=1)
        out[k] = np.concatenate([e, per_bin.sum(axis=1, keepdims=True)], axis=1)
    return out


def analyse(mask, spec, vy, drums_est, vX_energy_ratio, edges, sample_rate):
    """Band energies (dB relative to the drums), per-track drums SDR and Spearman."""
    from scipy.stats import spearmanr

    from sklearn_vpnn import sdr

    refs = spec.analyze_like(vy)  # (tracks, 2, channels, bins, frames)
    n_fft = spec.params["n_fft"]
    bands = band_of_bins(refs.shape[3], n_fft, sample_rate, edges)
    E = band_errors(mask, spec.data, refs[:, 0], refs[:, 1], bands, len(edges) + 1)
    rel = {k: _db(E[k], E["drums"]) for k in ("error", "leaked", "lost")}
    rel["drums/accomp."] = _db(E["drums"], E["accomp"])
    sdrs = sdr(vy, drums_est, sample_rate=sample_rate, method="framewise")[:, 0]
    ok = np.isfinite(sdrs)
    rho, pval = spearmanr(vX_energy_ratio[ok], sdrs[ok]) if ok.sum() >= 3 else (np.nan, np.nan)
    return {"n_fft": n_fft, "band_db": {k: v.tolist() for k, v in rel.items()},
            "median_band_db": {k: np.nanmedian(v, axis=0).tolist() for k, v in rel.items()},
            "drums_sdr": sdrs.tolist(), "spearman_rho": float(rho), "spearman_p": float(pval)}


def plot(results, dar, labels, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    colours = plt.get_cmap("tab10")(np.arange(len(results)) % 10)
    x = np.arange(len(labels))
    styles = (("error", "-", "o", "error"), ("leaked", "--", "^", "leaked in (m A)"),
              ("lost", ":", "v", "lost ((1 - m) D)"))
    for c, (name, r) in zip(colours, results.items()):
        for key, ls, mk, _ in styles:
            a.plot(x, r["median_band_db"][key][:-1], ls=ls, marker=mk, color=c, ms=4, lw=1.3)
        b.scatter(dar, r["drums_sdr"], color=c, s=24, edgecolor="k", linewidth=0.3,
                  label=f"{name} (Spearman {r['spearman_rho']:.2f})")
    a.axhline(0, color="k", lw=0.8, alpha=0.5)
    for key, ls, mk, text in styles:  # legend of the line styles
        a.plot([], [], ls=ls, marker=mk, color="0.3", label=text)
    for c, name in zip(colours, results):
        a.plot([], [], color=c, lw=4, label=name)
    a.set_xticks(x, labels, fontsize=8)
    a.set_ylabel("energy relative to the true drums in the band (dB)")
    a.set_title("(a) drums error per band, median over tracks", fontsize=10)
    a.legend(fontsize=7, frameon=False)
    a.grid(alpha=0.3)
    b.set_xlabel("drums-to-accompaniment energy ratio of the track (dB)")
    b.set_ylabel("drums SDR (dB, museval v4 SDR)")
    b.set_title("(b) per track: SDR against how loud the drums are", fontsize=10)
    b.legend(fontsize=7, frameon=False)
    b.grid(alpha=0.3)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def reshaped_masks(mask, spec, vy, sample_rate):
    """Drums SDR with the drums mask sharpened (``m^p / (m^p + (1-m)^p)``) or its logit shifted.

    Tells whether the masks are off by a calibration a post-processing step could fix.
    Returns ``{label: {"drums", "accompaniment", "paired"}}`` (median SDRs; mean per-clip change).
    """
    from sklearn_vpnn import InverseSTFT, Spectrogram, sdr

    def run(m):
        est = InverseSTFT().fit_transform(Spectrogram(np.stack([m, 1 - m], 1) * spec.data[:, None],
                                                      spec.lengths, spec.params))
        return sdr(vy, est, sample_rate=sample_rate, method="framewise")

    base = run(mask)
    logit = np.log(np.clip(mask, 1e-6, 1 - 1e-6) / np.clip(1 - mask, 1e-6, 1 - 1e-6))
    variants = {"as trained": mask}
    for p in (0.8, 1.2, 1.5, 2.0):
        variants[f"sharpened, p={p}"] = mask**p / (mask**p + (1 - mask) ** p)
    for b in (-0.5, 0.25, 0.5, 1.0):
        variants[f"logit {b:+}"] = 1 / (1 + np.exp(-(logit + b)))
    out = {}
    for key, m in variants.items():
        s = base if key == "as trained" else run(m.astype(mask.dtype))
        out[key] = {"drums": float(np.nanmedian(s[:, 0])), "accompaniment": float(np.nanmedian(s[:, 1])),
                    "paired": float(np.nanmean(s[:, 0] - base[:, 0]))}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--musdb-root", default=os.environ.get("MUSDB_PATH"))
    p.add_argument("--load", action="append", metavar="NAME=PATH", help="a saved model (repeatable)")
    p.add_argument("--oracle", action="store_true", help="add the ideal ratio mask")
    p.add_argument("--bands", default="150,500,2000,8000", help="band edges in Hz")
    p.add_argument("--max-tracks", type=int, default=None, help="first N valid clips (smoke runs)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--json", default=None)
    p.add_argument("--figure", default=None, help="PNG with both panels")
    p.add_argument("--reshape", action="store_true",
                   help="also score each model's masks sharpened and shifted after the fact")
    args = p.parse_args(argv)
    if not args.musdb_root:
        sys.exit("bench_errors: set MUSDB_PATH or --musdb-root (e.g. ../shared/data/musdb18-7)")
    loads = parse_loads(args.load)
    if not loads and not args.oracle:
        sys.exit("bench_errors: give --load NAME=PATH (repeatable) and/or --oracle")
    edges = [float(e) for e in args.bands.split(",")]
    if edges != sorted(edges) or edges[0] <= 0:
        sys.exit(f"--bands must be increasing positive frequencies; got {args.bands}")
    labels = band_labels(edges)

    import torch

    from sklearn_vpnn import STFT, InverseSTFT, Spectrogram, load_model, load_musdb

    torch.set_num_threads(args.threads)
    command = command_line()
    print("command: " + command, flush=True)
    t = time.monotonic()
    valid = load_musdb(args.musdb_root, subsets="train", split="valid", lazy=True)
    n = len(valid.y) if args.max_tracks is None else min(args.max_tracks, len(valid.y))
    pairs = [(np.asarray(valid.y[i]), np.asarray(valid.X[i])) for i in range(n)]  # y first: one decode
    vy, vX = np.stack([y for y, _ in pairs]), np.stack([x for _, x in pairs])
    names, sr = list(valid.track_names[:n]), int(valid.sample_rate)
    if tuple(valid.sources) != ("drums", "accompaniment"):
        sys.exit(f"bench_errors: unexpected sources {valid.sources}")
    dar = _db((vy[:, 0] ** 2).sum(axis=(1, 2)), (vy[:, 1] ** 2).sum(axis=(1, 2)))
    print(f"valid {vX.shape}, {sr} Hz (decoded in {time.monotonic() - t:.0f} s)", flush=True)

    results, stft_params = {}, None
    for name, path in loads.items():
        t = time.monotonic()
        pipe = load_model(path)
        sep = pipe[1].set_params(wiener_iterations=0)
        if list(sep.sources_)[:1] != ["drums"]:
            sys.exit(f"bench_errors: {path} separates {sep.sources_}, expected drums first")
        stft_params = stft_params or pipe[0].get_params()
        spec = pipe[0].transform(vX)
        mask = sep.predict_masks(spec)[:, 0]
        results[name] = analyse(mask, spec, vy, pipe.transform(vX), dar, edges, sr)
        results[name]["model"] = str(path)
        if args.reshape:
            results[name]["reshaped"] = reshaped_masks(mask, spec, vy, sr)
        print(f"{name}: {time.monotonic() - t:.0f} s", flush=True)
    if args.oracle:
        spec = STFT(**(stft_params or {"sample_rate": sr})).fit_transform(vX)
        mags = np.abs(spec.analyze_like(vy))
        masks = mags / np.maximum(mags.sum(axis=1, keepdims=True), 1e-10)
        est = InverseSTFT().fit_transform(Spectrogram(masks * spec.data[:, None], spec.lengths, spec.params))
        results["irm-oracle"] = analyse(masks[:, 0], spec, vy, est, dar, edges, sr)

    print()
    print(f"(a) Drums error per band (dB relative to the true drums energy in the band; "
          f"median over {n} valid clips). error = m X - D = leaked - lost, leaked = m A, lost = (1 - m) D")
    print("| model | quantity | " + " | ".join(labels) + " | all |")
    print("|---|---|" + "---|" * (len(labels) + 1))
    for name, r in results.items():
        for key in ("error", "leaked", "lost", "drums/accomp."):
            if key == "drums/accomp." and name != next(iter(results)):
                continue  # the same for every model of one STFT
            print(f"| {name} | {key} | " + " | ".join(f"{v:.1f}" for v in r["median_band_db"][key]) + " |")
    print()
    print("(b) Per track: drums SDR (dB) against the drums-to-accompaniment energy ratio (DAR, dB)")
    print("| track | DAR | " + " | ".join(results) + " |")
    print("|---|---|" + "---|" * len(results))
    for i in np.argsort(dar):
        print(f"| {names[i]} | {dar[i]:.1f} | " + " | ".join(f"{r['drums_sdr'][i]:.2f}" for r in results.values())
              + " |")
    print("| Spearman rho (p) | | " + " | ".join(f"{r['spearman_rho']:.2f} ({r['spearman_p']:.2g})"
                                            for r in results.values()) + " |")
    for name, r in results.items():
        if "reshaped" in r:
            print()
            print(f"(c) {name}: masks reshaped after the fact (drums SDR, median over clips; paired: mean "
                  f"over clips of the change)")
            print("| reshaping | drums SDR | accomp. SDR | paired change |")
            print("|---|---|---|---|")
            for key, v in r["reshaped"].items():
                print(f"| {key} | {v['drums']:.2f} | {v['accompaniment']:.2f} | {v['paired']:+.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"command": command, "tracks": names, "bands": labels, "band_edges_hz": edges,
             "drums_to_accompaniment_db": dar.tolist(), "models": results}, indent=1, default=float))
        print(f"wrote {args.json}")
    if args.figure:
        plot(results, dar, labels, args.figure)
        print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
