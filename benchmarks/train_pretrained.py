"""Train the bundled drums model (or its held-out twin for the model card).

The recipe is ``make_pipeline(STFT(sample_rate=44100), VPNNSeparator(**RECIPE), InverseSTFT())``
trained on the shared research data:

* ``--data all`` — MUSDB18-7 ``train`` and ``valid`` (94 clips) and the 13 MDB Drums
  songs: the model that ships in ``sklearn_vpnn/pretrained/drums.safetensors``;
* ``--data heldout`` — the same recipe without MUSDB18-7 ``valid`` (80 clips + 13
  songs), then scored on ``valid`` (14 clips): the figure the model card reports.

Run (from the repository root; ``--threads 2`` alone on the machine)::

    python benchmarks/train_pretrained.py --data heldout --threads 2
    python benchmarks/train_pretrained.py --data all --threads 2 \\
        -o sklearn_vpnn/pretrained/drums.safetensors --heldout-json heldout.json

The model file is written with :func:`sklearn_vpnn.save_model` (``--half`` stores
float16 weights); its notes record the data, the licence, the command and, with
``--heldout-json``, the held-out run's scores.
"""

import argparse
import json
import os
import shlex
import sys
import time

import numpy as np

#: the bundled recipe: VPNNSeparator's defaults (context_strides=(1, 4, 16), hidden_units=256,
#: 30 epochs, no early stopping, the weight average kept), stated here so the file keeps
#: saying what the bundled model is if the defaults change. The tracks differ in length
#: (7 s clips, songs of a minute), so the frames are cached on disk, one track at a time:
#: the in-memory cache pads every track to the longest (12 GB here) and the same seed
#: gives the same model either way.
# the shipped model is the dense network alone (band_radius=None; trained before the band network existed)
RECIPE = {"band_radius": None, "context_strides": (1, 4, 16), "hidden_units": 256, "patience": None,
          "cache": "disk"}
LICENCE = (
    "Weights trained on MUSDB18 (7-second clips; non-commercial research use only, "
    "https://sigsep.github.io/datasets/musdb.html) and MDB Drums / MedleyDB "
    "(Creative Commons Attribution-NonCommercial-ShareAlike 4.0). The weights are for "
    "non-commercial use only; the sklearn-vpnn code is BSD-3-Clause."
)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=["all", "heldout"], required=True)
    p.add_argument("--musdb-root", default=os.environ.get("MUSDB_PATH", "../shared/data/musdb18-7"))
    p.add_argument("--mdb-root", default=os.environ.get("MDB_DRUMS_PATH", "../shared/data/mdb-drums"))
    p.add_argument("--params", default="{}", help="JSON dict overriding the recipe")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("-o", "--output", default=None, help="model file to write")
    p.add_argument("--half", action="store_true", help="store float16 weights")
    p.add_argument("--heldout-json", default=None, help="results of a --data heldout run, for the notes")
    p.add_argument("--json", default=None, help="write this run's results here")
    args = p.parse_args(argv)
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0]] + list(argv or sys.argv[1:]))
    print("command:", command, flush=True)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from sklearn.pipeline import make_pipeline

    from sklearn_vpnn import STFT, InverseSTFT, VPNNSeparator, load_dsd100, load_musdb, save_model, sdr

    train = load_musdb(args.musdb_root, subsets="train", split="train")
    valid = load_musdb(args.musdb_root, subsets="train", split="valid")
    mdb = load_dsd100(args.mdb_root, subsets="Dev")
    X, y = list(train.X) + list(mdb.X), list(train.y) + list(mdb.y)
    if args.data == "all":
        X, y = X + list(valid.X), y + list(valid.y)
    recipe = {**RECIPE, **json.loads(args.params)}
    pipe = make_pipeline(STFT(sample_rate=44100), VPNNSeparator(random_state=args.seed, **recipe),
                         InverseSTFT())
    seconds = sum(np.shape(x)[-1] for x in X) / 44100
    print(f"training on {len(X)} tracks, {seconds / 60:.1f} minutes of audio", flush=True)
    t0 = time.monotonic()
    pipe.fit(X, y)
    minutes = (time.monotonic() - t0) / 60
    sep = pipe[1]
    result = {"data": args.data, "tracks": len(X), "audio_minutes": round(seconds / 60, 2),
              "recipe": {k: list(v) if isinstance(v, tuple) else v for k, v in recipe.items()},
              "seed": args.seed, "fit_minutes": round(minutes, 1), "epochs": sep.n_epochs_,
              "torch_threads": torch.get_num_threads(), "command": command}
    print(f"fit: {minutes:.1f} min, {sep.n_epochs_} epochs", flush=True)
    if args.data == "heldout":
        s = sdr(valid.y, pipe.transform(valid.X), sample_rate=44100, method="framewise")
        result.update(valid_drums_sdr=round(float(np.nanmedian(s[:, 0])), 2),
                      valid_accompaniment_sdr=round(float(np.nanmedian(s[:, 1])), 2),
                      valid_per_track_drums=[round(float(v), 2) for v in s[:, 0]])
        print(f"valid: drums SDR {result['valid_drums_sdr']:.2f} dB, accompaniment "
              f"{result['valid_accompaniment_sdr']:.2f} dB ({len(s)} clips)", flush=True)
    if args.output:
        notes = {"training_data": ("MUSDB18-7 train+valid (94 clips) and MDB Drums (13 songs)"
                                   if args.data == "all" else "MUSDB18-7 train (80 clips) and MDB Drums"),
                 "licence": LICENCE, "retrain": command,
                 "fit_minutes": str(result["fit_minutes"]), "epochs": str(result["epochs"])}
        if args.heldout_json:
            held = json.load(open(args.heldout_json))
            notes["valid_drums_sdr_db"] = str(held["valid_drums_sdr"])
            notes["valid_accompaniment_sdr_db"] = str(held["valid_accompaniment_sdr"])
            notes["valid_sdr_note"] = ("the same recipe trained without MUSDB18-7 valid, scored on its "
                                       "14 clips (museval v4 SDR, median of medians): "
                                       + held["command"])
        save_model(pipe, args.output, overwrite=True, half=args.half, notes=notes)
        print("wrote", args.output, os.path.getsize(args.output) // 1024, "KiB", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
