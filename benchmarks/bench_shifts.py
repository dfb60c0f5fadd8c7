"""Separating on several frame grids (a separator's ``shifts``): saved models on the MUSDB18-7 valid split.

Loads model files written by ``bench_recipe.py --save-dir`` (or
``sklearn_vpnn.persistence.save_model``), separates the 14 ``valid`` clips with each
``--shifts`` value (``set_params(shifts=k)``: the mixture separated on ``k`` frame
grids ``hop_length / k`` samples apart, the separated waveforms averaged) and scores
them as ``bench_recipe.py`` does: drums and accompaniment SDR, median over tracks of
the median over 1 s windows (``sdr(method="framewise")``, museval's SDR), no Wiener
filter (``--wiener N``: ``N`` Wiener iterations on every separation). Next to each:
the paired difference against the first ``--shifts`` value (mean over the clips,
standard error) and the separation time as a ratio to it, in
the same process. ``--json`` appends one line per model and value, named
``NAME+shiftsK``, with every clip's SDR, for ``compare_recipes.py``.

Run (from the repository root)::

    MUSDB_PATH=../shared/data/musdb18-7 python benchmarks/bench_shifts.py --threads 1 \\
        default=models/default_s0.safetensors --shifts 1 2 3 --json recipes.jsonl
"""

import argparse
import json
import os
import shlex
import sys
import time

import numpy as np


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", metavar="NAME=PATH", help="model files to score")
    p.add_argument("--shifts", type=int, nargs="+", default=[1, 2, 3], help="values to score (default: 1 2 3)")
    p.add_argument("--musdb-root", default=os.environ.get("MUSDB_PATH"))
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--json", default=None, help="append one JSON line per model and shifts value")
    p.add_argument("--wiener", type=int, default=0, metavar="N",
                   help="wiener_iterations of every separation (default: 0, no Wiener filter)")
    args = p.parse_args(argv)
    if not args.musdb_root:
        sys.exit("bench_shifts: set MUSDB_PATH or --musdb-root (e.g. ../shared/data/musdb18-7)")
    named = [m.split("=", 1) for m in args.models]
    if any(len(m) != 2 for m in named):
        sys.exit("bench_shifts: give models as NAME=PATH")
    if any(k < 1 for k in args.shifts):
        sys.exit("bench_shifts: --shifts values are positive integers")
    if args.wiener < 0:
        sys.exit("bench_shifts: --wiener is a count of iterations, 0 or more")

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from sklearn_vpnn import load_musdb, sdr
    from sklearn_vpnn.persistence import load_model

    print("command: python " + " ".join(shlex.quote(a) for a in [sys.argv[0]] + list(argv or sys.argv[1:])))
    valid = load_musdb(args.musdb_root, subsets="train", split="valid")
    sr = int(valid.sample_rate)
    for name, path in named:
        pipe = load_model(path)
        pipe[1].set_params(wiener_iterations=args.wiener)
        base = None
        for k in args.shifts:
            pipe[1].set_params(shifts=k)
            t = time.perf_counter()
            est = pipe.transform(valid.X)
            seconds = time.perf_counter() - t
            s = sdr(valid.y, est, sample_rate=sr, method="framewise")
            base = (s, seconds) if base is None else base
            d = s[:, 0] - base[0][:, 0]
            se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
            tag = f"{name} shifts={k}" + (f" wiener={args.wiener}" if args.wiener else "")
            print(f"{tag}: drums SDR {np.nanmedian(s[:, 0]):.2f} dB, accompaniment SDR "
                  f"{np.nanmedian(s[:, 1]):.2f} dB; drums vs shifts={args.shifts[0]} {d.mean():+.3f} "
                  f"(s.e. {se:.3f}); separation {seconds:.1f} s ({seconds / base[1]:.2f}x)", flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps({
                        "name": f"{name}+shifts{k}" + (f"+wiener{args.wiener}" if args.wiener else ""),
                        "seed": name, "shifts": k, "wiener_iterations": args.wiener, "model": str(path),
                        "separate_seconds": seconds,
                        "drums": float(np.nanmedian(s[:, 0])), "accompaniment": float(np.nanmedian(s[:, 1])),
                        "drums_tracks": [float(v) for v in s[:, 0]],
                        "accompaniment_tracks": [float(v) for v in s[:, 1]]}) + "\n")


if __name__ == "__main__":
    main()
