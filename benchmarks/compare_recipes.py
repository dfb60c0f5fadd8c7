"""Paired comparison of recipe variants from ``bench_recipe.py --json`` lines.

Every line holds one model's drums SDR on each ``valid`` clip. For each line this
prints its median and its paired difference against the baseline: the mean over
clips of (line - baseline), with its standard error over clips. The baseline of a
line is the ``--baseline`` variant's model with the same seed when there is one,
else that variant's first model; the baseline's own other seeds and every ensemble
are compared with its first model. Clip-by-clip pairing removes most of the spread
between clips (one hard clip moves every model), so a difference of two standard
errors is worth a second seed; the spread between seeds of the baseline itself is
the noise floor.

Run (from the repository root)::

    python benchmarks/compare_recipes.py recipes.jsonl --baseline default
"""

import argparse
import json
import sys

import numpy as np


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("jsonl", help="file written by bench_recipe.py --json")
    p.add_argument("--baseline", default="default", help="name of the baseline variant")
    args = p.parse_args(argv)
    with open(args.jsonl) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    base = [r for r in rows if r["name"] == args.baseline and not isinstance(r["seed"], list)]
    if not base:
        sys.exit(f"compare_recipes: no single-seed model named {args.baseline!r} in {args.jsonl}")
    by_seed = {r["seed"]: r for r in base}
    print(f"{'variant':<28} {'seed':>8} {'drums':>6} {'accomp':>7} {'paired diff (s.e.)':>19} {'fit min':>8}")
    for r in rows:
        single = not isinstance(r["seed"], list) and r["name"] != args.baseline
        b = by_seed.get(r["seed"], base[0]) if single else base[0]
        d = np.asarray(r["drums_tracks"]) - np.asarray(b["drums_tracks"])
        se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
        seed = "+".join(map(str, r["seed"])) if isinstance(r["seed"], list) else str(r["seed"])
        fit = "" if r.get("fit_min") is None else f"{r['fit_min']:.1f}"
        print(f"{r['name']:<28} {seed:>8} {r['drums']:6.2f} {r['accompaniment']:7.2f} "
              f"{d.mean():+9.2f} ({se:.2f})      {fit:>8}")


if __name__ == "__main__":
    main()
