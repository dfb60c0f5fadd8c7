"""Mask-average ensembles of saved models on the MUSDB18-7 valid split.

Loads model files written by ``bench_recipe.py --save-dir`` (or
``sklearn_vpnn.persistence.save_model``), scores each one and then the average of
their masks (``predict_masks``, one frame grid) times the mixture, with the same STFT and the same
scoring as ``bench_recipe.py``: drums and accompaniment SDR on the 14 ``valid``
clips, median over tracks of the median over 1 s windows (``sdr(method="framewise")``,
museval's SDR), no Wiener filter. ``--json`` appends the ensemble's line, with every
clip's SDR, for ``compare_recipes.py``. Every model must use the same STFT.
``--waveforms`` averages the separated waveforms instead: each model separates with
its own STFT and its own ``shifts`` (or ``--shifts``). Each model separates once.

Run (from the repository root)::

    MUSDB_PATH=../shared/data/musdb18-7 python benchmarks/bench_ensemble.py --threads 1 \\
        dense=models/psa_s0.safetensors band=models/band_r4_h32_s0.safetensors \\
        --name dense+band --json recipes.jsonl
    MUSDB_PATH=../shared/data/musdb18-7 python benchmarks/bench_ensemble.py --threads 1 --waveforms \\
        n1024=models/default_s0.safetensors n2048=models/default_nfft2048_s0.safetensors \\
        --name n1024+n2048 --json recipes.jsonl
"""

import argparse
import json
import os
import shlex
import sys

import numpy as np


def _scores(s):
    return {"drums": float(np.nanmedian(s[:, 0])), "accompaniment": float(np.nanmedian(s[:, 1])),
            "drums_tracks": [float(v) for v in s[:, 0]], "accompaniment_tracks": [float(v) for v in s[:, 1]]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", metavar="NAME=PATH", help="model files to average (two or more)")
    p.add_argument("--musdb-root", default=os.environ.get("MUSDB_PATH"))
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--name", default="ensemble", help="the ensemble's name in the JSON lines")
    p.add_argument("--json", default=None, help="append the ensemble's JSON line")
    p.add_argument("--waveforms", action="store_true",
                   help="average the separated waveforms (each model with its own STFT), not the masks")
    p.add_argument("--shifts", type=int, default=None,
                   help="frame grids each separator separates on (default: each model's own)")
    args = p.parse_args(argv)
    if not args.musdb_root:
        sys.exit("bench_ensemble: set MUSDB_PATH or --musdb-root (e.g. ../shared/data/musdb18-7)")
    named = [m.split("=", 1) for m in args.models]
    if len(named) < 2 or any(len(m) != 2 for m in named):
        sys.exit("bench_ensemble: give two or more models as NAME=PATH")
    if args.shifts not in (None, 1) and not args.waveforms:
        sys.exit("bench_ensemble: --shifts needs --waveforms (a mask average is taken on one frame grid)")

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from sklearn_vpnn import Spectrogram, load_musdb, sdr
    from sklearn_vpnn.persistence import load_model

    print("command: python " + " ".join(shlex.quote(a) for a in [sys.argv[0]] + list(argv or sys.argv[1:])))
    valid = load_musdb(args.musdb_root, subsets="train", split="valid")
    sr = int(valid.sample_rate)
    pipes = [(name, load_model(path)) for name, path in named]
    stft, inverse = pipes[0][1][0], pipes[0][1][2]
    spec = None if args.waveforms else stft.transform(valid.X)

    def score(name, waveforms):
        s = sdr(valid.y, waveforms, sample_rate=sr, method="framewise")
        print(f"{name}: drums SDR {np.nanmedian(s[:, 0]):.2f} dB, accompaniment SDR {np.nanmedian(s[:, 1]):.2f} dB")
        return s

    def from_masks(masks):  # the masks times the mixture, back to waveforms with the shared STFT
        return inverse.transform(Spectrogram((masks * spec.data[:, np.newaxis]).astype(np.complex64),
                                             spec.lengths, spec.params, pipes[0][1][1].sources_))

    members = []  # each member's masks (mask average) or separated waveforms (waveform average)
    for name, pipe in pipes:
        pipe[1].set_params(wiener_iterations=0)
        if args.shifts is not None:
            pipe[1].set_params(shifts=args.shifts)
        if args.waveforms:
            members.append(np.asarray(pipe.transform(valid.X)))
            score(name, members[-1])
        else:
            if pipe[0].params_ != stft.params_:  # the fitted STFTs, hop_length resolved
                sys.exit(f"bench_ensemble: {name} uses another STFT than {pipes[0][0]}")
            members.append(pipe[1].predict_masks(spec))
            score(name, from_masks(members[-1]))
    if args.waveforms:
        n = min(w.shape[-1] for w in members)
        ensemble = np.mean([w[..., :n] for w in members], axis=0)
    else:
        ensemble = from_masks(np.mean(members, axis=0))
    kind = "waveform" if args.waveforms else "mask"
    s = score(f"{args.name} ({kind} average of {', '.join(n for n, _ in named)}, valid, {len(valid.X)} clips)",
              ensemble)
    if args.json:  # the members have their recipes' own lines already
        with open(args.json, "a") as f:
            f.write(json.dumps({"name": args.name, "seed": [n for n, _ in named], **_scores(s)}) + "\n")


if __name__ == "__main__":
    main()
