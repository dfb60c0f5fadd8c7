"""Peak memory of training on MUSDB18: everything in RAM vs. lazy loading + disk frame cache.

Each configuration runs ``make_pipeline(STFT(), VPNNSeparator(...), InverseSTFT()).fit``
in a fresh child process on the 94 training clips of the shared MUSDB18 sample
(``load_musdb(root, subsets="train", split=None)``) with a tiny training budget,
and reports the child's peak resident memory (``ru_maxrss``) and wall time. The
baseline (in-memory data, ``cache="memory"``) is measured in the same run; the
last column is each row's peak over the baseline's.

Rows:

- ``eager + memory``: ``load_musdb`` decodes every track; targets in one array
  (the behaviour before lazy loading existed).
- ``eager + disk``: same data in RAM, targets in the disk frame cache.
- ``lazy + disk``: ``load_musdb(..., lazy=True)``; one track in memory at a time
  (``cache="auto"`` picks the disk cache).

The pipeline fit includes what scikit-learn's ``Pipeline.fit`` does after
training (the separator's ``fit_transform`` on the training set), which the lazy
path defers.

Usage::

    MUSDB_PATH=../shared/data/musdb18-7 python benchmarks/bench_lazy_memory.py
    python benchmarks/bench_lazy_memory.py --root ../shared/data/musdb18-7 --n-fft 1024
"""

import argparse
import json
import os
import subprocess
import sys
import time

CONFIGS = [("eager + memory", False, "memory"), ("eager + disk", False, "disk"),
           ("lazy + disk", True, "auto")]


def child(root, lazy, cache, n_fft, hidden_units):
    import resource

    from sklearn.pipeline import make_pipeline

    from sklearn_vpnn import STFT, InverseSTFT, VPNNSeparator, load_musdb

    t0 = time.perf_counter()
    data = load_musdb(root, subsets="train", split=None, lazy=lazy)
    pipe = make_pipeline(
        STFT(n_fft=n_fft),
        VPNNSeparator(hidden_units=hidden_units, n_layers=1, max_epochs=1, batch_size=512,
                      cache=cache, random_state=0),
        InverseSTFT(),
    )
    pipe.fit(data.X, data.y)
    sep = pipe[1]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(json.dumps({"peak_mb": peak_mb, "seconds": time.perf_counter() - t0,
                      "n_tracks": len(data.X), "train_loss": sep.history_[-1]["train_loss"]}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=os.environ.get("MUSDB_PATH", "../shared/data/musdb18-7"))
    parser.add_argument("--n-fft", type=int, default=1024)
    parser.add_argument("--hidden-units", type=int, default=16)
    parser.add_argument("--child", nargs=2, metavar=("LAZY", "CACHE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.root, args.child[0] == "1", args.child[1], args.n_fft, args.hidden_units)
        return
    if not os.path.isdir(os.path.join(args.root, "train")):
        sys.exit(f"MUSDB18 sample not found at {args.root!r} (expected a train/ folder); "
                 "pass --root or set MUSDB_PATH to ../shared/data/musdb18-7")
    rows = []
    for name, lazy, cache in CONFIGS:
        cmd = [sys.executable, __file__, "--root", args.root, "--n-fft", str(args.n_fft),
               "--hidden-units", str(args.hidden_units), "--child", str(int(lazy)), cache]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode:
            sys.exit(f"{name} failed:\n{out.stderr[-3000:]}")
        rows.append((name, json.loads(out.stdout.strip().splitlines()[-1])))
        print(f"done: {name}", file=sys.stderr)
    base = rows[0][1]["peak_mb"]
    print(f"training on {rows[0][1]['n_tracks']} MUSDB18 clips, STFT n_fft={args.n_fft}, "
          f"VPNN hidden_units={args.hidden_units}, n_layers=1, max_epochs=1")
    print(f"{'configuration':<16} {'peak RSS (MB)':>14} {'time (s)':>9} {'train loss':>11} {'peak / baseline':>16}")
    for name, r in rows:
        print(f"{name:<16} {r['peak_mb']:>14.0f} {r['seconds']:>9.1f} {r['train_loss']:>11.4f} "
              f"{r['peak_mb'] / base:>16.2f}")


if __name__ == "__main__":
    main()
