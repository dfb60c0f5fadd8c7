"""The accompaniment two ways: the model's own estimate vs the input minus the drums (--residual).

For every MUSDB18 ``valid`` clip the model separates the mixture once with its own
accompaniment (``separate_array(model, x, sr)``, the default of ``sklearn-vpnn
separate``) and once with the accompaniment computed as the mixture minus the drums
(``separate_array(..., residual=True)``, ``--residual`` / Demucs's ``--other-method
minus``), with and without a Wiener filter (``wiener_iterations``). Both are scored
with museval (BSS Eval v4: SDR, SIR, SAR, ISR, median over 1 s windows, median over
tracks, as SiSEC reports it). The drums are the same in both modes; what differs is
the accompaniment, and how far the stems are from adding back up to the mixture
(``max |sum - mix|``, printed too).

Run (from the repository root; the model: a file from ``sklearn-vpnn train`` or
``benchmarks/bench_recipe.py --save`` with ``--allow-pickle``; without ``--model`` the
bundled one)::

    MUSDB_PATH=../shared/data/musdb18-7 python benchmarks/bench_residual.py \\
        --model drums.safetensors --wiener 0,1 --json residual.json

Smoke run on a tiny model: ``--max-tracks 2``.
"""

import argparse
import json
import os
import shlex
import sys
import time

import numpy as np

KEYS = ("SDR", "SIR", "SAR", "ISR")


def _median(rows):
    a = np.asarray(rows, dtype=np.float64)
    return float(np.nanmedian(a)) if a.size and not np.all(np.isnan(a)) else float("nan")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--musdb-root", default=os.environ.get("MUSDB_PATH"))
    p.add_argument("--model", default=None, help="model file (default: the bundled model)")
    p.add_argument("--allow-pickle", action="store_true", help="load a joblib model file you trust")
    p.add_argument("--wiener", default="0,1", help="comma-separated wiener_iterations to try")
    p.add_argument("--max-tracks", type=int, default=None)
    p.add_argument("--chunk-seconds", type=float, default=30.0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--json", default=None, help="write per-track and median scores here")
    args = p.parse_args(argv)
    if not args.musdb_root:
        sys.exit("bench_residual: set MUSDB_PATH or --musdb-root (e.g. ../shared/data/musdb18-7)")
    print("command: python " + " ".join(shlex.quote(a) for a in [sys.argv[0]] + list(argv or sys.argv[1:])),
          flush=True)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from sklearn_vpnn import load_musdb, sdr
    from sklearn_vpnn.separate import open_model, separate_array

    model = open_model(args.model, allow_pickle=args.allow_pickle, device="cpu")
    targets = [s for s in model.sources if s != "accompaniment"]
    valid = load_musdb(args.musdb_root, subsets="train", split="valid", targets=targets)
    if tuple(valid.sources) != tuple(model.sources):
        sys.exit(f"bench_residual: the model separates {model.sources}, MUSDB gives {valid.sources}")
    sr = int(valid.sample_rate)
    n = len(valid.X) if args.max_tracks is None else min(args.max_tracks, len(valid.X))
    names = list(valid.track_names)[:n]
    print(f"model {model.path} ({type(model.separator).__name__}, {model.sample_rate} Hz), "
          f"{n} valid clips at {sr} Hz, torch threads {torch.get_num_threads()}", flush=True)
    report = {"model": str(model.path), "tracks": names, "runs": {}}
    rows = []
    for wiener in [int(w) for w in args.wiener.split(",") if w.strip()]:
        if "wiener_iterations" in model.separator.get_params():
            model.separator.set_params(wiener_iterations=wiener)
        elif wiener:
            print(f"  (the separator has no Wiener filter; skipping wiener={wiener})")
            continue
        per = {"own": [], "residual": []}
        gap = {"own": 0.0, "residual": 0.0}
        t0 = time.monotonic()
        for i in range(n):
            x = np.asarray(valid.X[i], np.float32)
            for mode in ("own", "residual"):
                est = separate_array(model, x, sr, args.chunk_seconds, residual=mode == "residual")
                gap[mode] = max(gap[mode], float(np.abs(est.sum(0).astype(np.float64) - x).max()))
                r = sdr(np.asarray(valid.y[i], np.float64)[None], est.astype(np.float64)[None],
                        sample_rate=sr, method="bss_eval_v4", return_all=True)
                per[mode].append({k: np.asarray(r[k.lower()])[0].tolist() for k in KEYS})
        print(f"wiener_iterations={wiener}: {n} clips in {time.monotonic() - t0:.0f} s", flush=True)
        for mode in ("own", "residual"):
            med = {s: {k: _median([t[k][j] for t in per[mode]]) for k in KEYS}
                   for j, s in enumerate(model.sources)}
            rows.append((wiener, mode, med, gap[mode]))
            report["runs"][f"wiener{wiener}-{mode}"] = {"median": med, "max_sum_error": gap[mode],
                                                        "tracks": per[mode]}
    print()
    print("median over clips of the median over 1 s windows (museval BSS Eval v4), dB")
    acc = model.sources[-1] if "accompaniment" not in model.sources else "accompaniment"
    drums = model.sources[0]
    print(f"{'wiener':>6} {'accompaniment':<22} {drums + ' SDR':>10} " +
          " ".join(f"{'acc ' + k:>8}" for k in KEYS) + f" {'max|sum-mix|':>13}")
    for wiener, mode, med, g in rows:
        label = "model's own (default)" if mode == "own" else "input - drums"
        print(f"{wiener:>6} {label:<22} {med[drums]['SDR']:>10.2f} " +
              " ".join(f"{med[acc][k]:>8.2f}" for k in KEYS) + f" {g:>13.2e}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, allow_nan=True)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
