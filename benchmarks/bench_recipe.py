"""One training-recipe variant on MUSDB18-7: train, then drums SDR on the valid split.

The script behind the recipe comparisons on the results page. It trains
``make_pipeline(STFT(**stft), VPNNSeparator(random_state=seed, **params), InverseSTFT())``
on the 80 ``train`` clips, once per ``--seeds`` value, and prints the per-epoch
history and the drums and accompaniment SDR on the 14 ``valid`` clips, median over
tracks of the median over 1 s windows, with ``sdr(method="framewise")`` (equal to
museval's SDR, see ``bench_scoring.py``), without and (unless ``--no-wiener``) with
one Wiener iteration.

With several seeds, ``--ensemble`` also scores the ensembles of the first 2, 3, ...
seeds: the average of their masks (``predict_masks``) times the mixture, the
variance-reduction baseline a recipe change has to beat. ``--json`` appends one line
per model (and ensemble) with every clip's SDR, for paired comparisons between
recipes (``benchmarks/compare_recipes.py``); ``--save-dir`` keeps each trained pipeline
as a safetensors model file (``sklearn_vpnn.persistence.save_model``).

Two variants can run side by side on a 2-core machine with ``--threads 1`` each
(two processes with 2 threads each slow each other down about tenfold).

Run (from the repository root)::

    MUSDB_PATH=../shared/data/musdb18-7 python benchmarks/bench_recipe.py \\
        --stft '{"hop_length": 512}' --params '{"max_epochs": 30}' --threads 1
    MUSDB_PATH=../shared/data/musdb18-7 python benchmarks/bench_recipe.py \\
        --seeds 0 1 2 --ensemble --no-wiener --json recipes.jsonl --name default
    MUSDB_PATH=../shared/data/musdb18-7 python benchmarks/bench_recipe.py --kits 80 \\
        --no-wiener --json recipes.jsonl --name kits80

``--kits N`` adds N tracks of :func:`sklearn_vpnn.make_sampled_drum_mixtures` (Debian's
``hydrogen-drumkits`` kits playing new grooves over the accompaniment of the train
clips; ``--kits-no-effects`` without the EQ/compression/reverb chain) to the training
data; the valid clips are never touched.
"""

import argparse
import json
import os
import shlex
import sys
import time

import numpy as np


def _scores(s):
    return {"drums": float(np.nanmedian(s[:, 0])), "accompaniment": float(np.nanmedian(s[:, 1])),
            "drums_tracks": [float(v) for v in s[:, 0]], "accompaniment_tracks": [float(v) for v in s[:, 1]]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--musdb-root", default=os.environ.get("MUSDB_PATH"))
    p.add_argument("--stft", default="{}", help="JSON dict of STFT parameters")
    p.add_argument("--params", default="{}", help="JSON dict of VPNNSeparator parameters")
    p.add_argument("--dnn", action="store_true", help="DNNSeparator instead of VPNNSeparator")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="random_state of each model (default: 0)")
    p.add_argument("--ensemble", action="store_true", help="also score the mask average of the first k seeds")
    p.add_argument("--no-wiener", action="store_true", help="skip the scores with one Wiener iteration")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--name", default="variant", help="the variant's name in the JSON lines")
    p.add_argument("--json", default=None, help="append one JSON line per model with every clip's SDR")
    p.add_argument("--save-dir", default=None, help="folder for NAME_sSEED.safetensors model files")
    p.add_argument("--kits", type=int, default=0,
                   help="add this many make_sampled_drum_mixtures tracks (sampled kits over the train "
                        "clips' accompaniment) to the training data")
    p.add_argument("--kits-seed", type=int, default=0, help="random_state of the sampled-kit tracks")
    p.add_argument("--kits-no-effects", action="store_true", help="sampled-kit drums without the mixing chain")
    args = p.parse_args(argv)
    if not args.musdb_root:
        sys.exit("bench_recipe: set MUSDB_PATH or --musdb-root (e.g. ../shared/data/musdb18-7)")
    if args.ensemble and len(args.seeds) < 2:
        sys.exit("bench_recipe: --ensemble needs at least two --seeds")
    stft_params, params = json.loads(args.stft), json.loads(args.params)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from sklearn.pipeline import make_pipeline

    from sklearn_vpnn import (STFT, DNNSeparator, InverseSTFT, Spectrogram, VPNNSeparator, load_musdb,
                              make_sampled_drum_mixtures, sdr)
    from sklearn_vpnn.persistence import save_model

    print("command: python " + " ".join(shlex.quote(a) for a in [sys.argv[0]] + list(argv or sys.argv[1:])))
    train = load_musdb(args.musdb_root, subsets="train", split="train")
    valid = load_musdb(args.musdb_root, subsets="train", split="valid")
    sr = int(train.sample_rate)
    X_train, y_train = train.X, train.y
    if args.kits:
        extra = make_sampled_drum_mixtures(train, n_tracks=args.kits, effects=not args.kits_no_effects,
                                           random_state=args.kits_seed)
        X_train, y_train = np.concatenate([train.X, extra.X]), np.concatenate([train.y, extra.y])
        print(f"training on {len(train.X)} clips + {args.kits} sampled-kit tracks")
    Sep = DNNSeparator if args.dnn else VPNNSeparator
    spec, masks = None, []

    def record(seed, fit_min, epochs, scores):
        if args.json:
            row = {"name": args.name, "seed": seed, "stft": stft_params, "params": params, "dnn": args.dnn,
                   "kits": args.kits, "kits_effects": not args.kits_no_effects,
                   "fit_min": fit_min, "epochs": epochs, "threads": torch.get_num_threads(), **scores}
            with open(args.json, "a") as f:
                f.write(json.dumps(row) + "\n")

    for seed in args.seeds:
        pipe = make_pipeline(STFT(sample_rate=sr, **stft_params), Sep(random_state=seed, **params),
                             InverseSTFT())
        t0 = time.monotonic()
        pipe.fit(X_train, y_train)
        fit_min = (time.monotonic() - t0) / 60
        print(f"seed {seed} fit: {fit_min:.1f} min, {pipe[1].n_epochs_} epochs "
              f"(torch threads {torch.get_num_threads()})")
        for row in pipe[1].history_:
            print("  " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                   for k, v in row.items()))
        if args.save_dir:
            os.makedirs(args.save_dir, exist_ok=True)
            save_model(pipe, os.path.join(args.save_dir, f"{args.name}_s{seed}.safetensors"))
        scores = {}
        for wiener in (0,) if args.no_wiener else (0, 1):
            pipe[1].set_params(wiener_iterations=wiener)
            s = sdr(valid.y, pipe.transform(valid.X), sample_rate=sr, method="framewise")
            scores["wiener" if wiener else "plain"] = _scores(s)
            print(f"seed {seed} wiener_iterations={wiener}: drums SDR {np.nanmedian(s[:, 0]):.2f} dB, "
                  f"accompaniment SDR {np.nanmedian(s[:, 1]):.2f} dB (valid, {len(s)} clips)")
        record(seed, round(fit_min, 2), int(pipe[1].n_epochs_), scores["plain"])
        if args.ensemble:
            spec = pipe[0].transform(valid.X) if spec is None else spec
            pipe[1].set_params(wiener_iterations=0)
            masks.append(pipe[1].predict_masks(spec))
            if len(masks) > 1:
                mean = np.mean(masks, axis=0)
                est = Spectrogram((mean * spec.data[:, np.newaxis]).astype(np.complex64), spec.lengths,
                                  spec.params, pipe[1].sources_)
                s = sdr(valid.y, pipe[2].transform(est), sample_rate=sr, method="framewise")
                print(f"ensemble of seeds {args.seeds[:len(masks)]}: drums SDR {np.nanmedian(s[:, 0]):.2f} dB, "
                      f"accompaniment SDR {np.nanmedian(s[:, 1]):.2f} dB (mask average, no Wiener)")
                record(args.seeds[:len(masks)], None, None, _scores(s))


if __name__ == "__main__":
    main()
