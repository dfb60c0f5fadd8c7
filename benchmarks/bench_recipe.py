"""One training-recipe variant on MUSDB18-7: train, then drums SDR on the valid split.

The script behind the recipe comparison on the results page. It trains
``make_pipeline(STFT(**stft), VPNNSeparator(random_state=0, **params), InverseSTFT())``
on the 80 ``train`` clips and prints the per-epoch history and the drums and
accompaniment SDR on the 14 ``valid`` clips, median over tracks of the median over
1 s windows, with ``sdr(method="framewise")`` (equal to museval's SDR, see
``bench_scoring.py``), without and with one Wiener iteration.

Two variants can run side by side on a 2-core machine with ``--threads 1`` each
(two processes with 2 threads each slow each other down about tenfold).

Run (from the repository root)::

    MUSDB_PATH=../shared/data/musdb18-7 python benchmarks/bench_recipe.py \\
        --stft '{"hop_length": 512}' --params '{"max_epochs": 30}' --threads 1
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
    p.add_argument("--musdb-root", default=os.environ.get("MUSDB_PATH"))
    p.add_argument("--stft", default="{}", help="JSON dict of STFT parameters")
    p.add_argument("--params", default="{}", help="JSON dict of VPNNSeparator parameters")
    p.add_argument("--dnn", action="store_true", help="DNNSeparator instead of VPNNSeparator")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--save", default=None, help="joblib file for the trained pipeline")
    args = p.parse_args(argv)
    if not args.musdb_root:
        sys.exit("bench_recipe: set MUSDB_PATH or --musdb-root (e.g. ../shared/data/musdb18-7)")

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from sklearn.pipeline import make_pipeline

    from sklearn_vpnn import STFT, DNNSeparator, InverseSTFT, VPNNSeparator, load_musdb, sdr

    print("command: python " + " ".join(shlex.quote(a) for a in [sys.argv[0]] + list(argv or sys.argv[1:])))
    train = load_musdb(args.musdb_root, subsets="train", split="train")
    valid = load_musdb(args.musdb_root, subsets="train", split="valid")
    sr = int(train.sample_rate)
    Sep = DNNSeparator if args.dnn else VPNNSeparator
    pipe = make_pipeline(STFT(sample_rate=sr, **json.loads(args.stft)),
                         Sep(random_state=0, **json.loads(args.params)), InverseSTFT())
    t0 = time.monotonic()
    pipe.fit(train.X, train.y)
    print(f"fit: {(time.monotonic() - t0) / 60:.1f} min, {pipe[1].n_epochs_} epochs "
          f"(torch threads {torch.get_num_threads()})")
    for row in pipe[1].history_:
        print("  " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                               for k, v in row.items()))
    if args.save:
        import joblib

        joblib.dump(pipe, args.save)
    for wiener in (0, 1):
        pipe[1].set_params(wiener_iterations=wiener)
        s = sdr(valid.y, pipe.transform(valid.X), sample_rate=sr, method="framewise")
        print(f"wiener_iterations={wiener}: drums SDR {np.nanmedian(s[:, 0]):.2f} dB, "
              f"accompaniment SDR {np.nanmedian(s[:, 1]):.2f} dB (valid, {len(s)} clips)")


if __name__ == "__main__":
    main()
