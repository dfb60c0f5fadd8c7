"""Separation quality on the ``valid`` split of a MUSDB18-format dataset.

Every method separates drums from everything else on the same clips and is scored
the SiSEC way: museval BSS Eval v4 (1 s windows, median over windows), then the
median over tracks, for SDR, SIR and SAR of both sources.

Rows:

* ``mixture``       the mixture itself as the estimate of every source (lower bound);
* ``hpss``          librosa's harmonic/percussive separation, percussive = drums;
* ``irm-oracle``    the ideal ratio mask computed from the true sources (upper bound
                    for masking with the mixture phase, same STFT);
* ``wvpnn``         ``VPNNSeparator(mapping="window")`` with every default: the recipe;
* ``cvpnn``         ``VPNNSeparator(mapping="color")``, same training time as wvpnn;
* ``dnn``           ``DNNSeparator()``, same training time as wvpnn;
* ``... +wiener``   the same trained models with one multichannel Wiener iteration.

"Same budget" means the same training compute: wvpnn trains with its defaults; the
script then times a training step of each model in this process (interleaved, median
of several repeats, so the ratio holds on a busy machine) and gives cvpnn and dnn the
number of epochs that costs what wvpnn's epochs cost. Epoch counts, not wall-clock
limits, keep every row reproducible with ``random_state=0``.

Run (from the repository root; ~1 h for the full recipe on 2 CPU cores)::

    MUSDB_PATH=../shared/data/musdb18-7 python benchmarks/bench_quality.py

``--budget-minutes M`` caps every model at ``M`` minutes of training (smoke runs);
``--models wvpnn,dnn`` picks models; ``--cache DIR`` keeps the trained pipelines so a
second run only re-scores them; ``--json OUT`` writes every per-track figure.
"""

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np


def _median_table(scores):
    """scores: dict name -> (n_tracks, n_sources, 3 [sdr, sir, sar]) -> rows."""
    rows = []
    for name, s in scores.items():
        med = np.nanmedian(s, axis=0)  # (n_sources, 3)
        rows.append((name, *med[0], *med[1]))
    return rows


def _score(references, estimates, sample_rate):
    from sklearn_vpnn import sdr

    res = sdr(references, estimates, sample_rate=sample_rate, return_all=True)
    return np.stack([res.sdr, res.sir, res.sar], axis=-1)  # (n_tracks, n_sources, 3)


def _hpss(X, n_fft=2048, hop=512):
    import librosa

    out = []
    for track in X:
        drums = []
        for ch in track:
            D = librosa.stft(ch, n_fft=n_fft, hop_length=hop)
            _, P = librosa.decompose.hpss(D)
            drums.append(librosa.istft(P, hop_length=hop, length=len(ch)))
        drums = np.stack(drums).astype(np.float32)
        out.append(np.stack([drums, track - drums]))
    return np.stack(out)


def _irm(X, y):
    from sklearn_vpnn import STFT, InverseSTFT, Spectrogram

    spec = STFT().fit_transform(X)
    mags = np.abs(spec.analyze_like(y))
    masks = mags / np.maximum(mags.sum(axis=1, keepdims=True), 1e-10)
    sep = Spectrogram(masks * spec.data[:, None], spec.lengths, spec.params)
    return InverseSTFT().fit_transform(sep)


def _step_costs(n_bins=513, batch_size=256, repeats=15):
    """Median seconds of one training step (batch fetch + forward + backward + Adam)."""
    import torch

    from sklearn_vpnn.nn import DiscriminativeMSELoss
    from sklearn_vpnn.nn import MaskNet
    from sklearn_vpnn.separator import FrameDataset as _FrameDataset

    gen = torch.Generator().manual_seed(0)
    S = torch.randn(2, 8, 400, n_bins, dtype=torch.complex64, generator=gen)
    ds = _FrameDataset(S, [400] * 8, remix=0.5, gain_db=3.0, seed=0)
    nets = {"wvpnn": MaskNet("vpnn", n_bins, 2, 512, 3, "relu", "window"),
            "cvpnn": MaskNet("vpnn", n_bins, 2, 512, 3, "relu", "color"),
            "dnn": MaskNet("dnn", n_bins, 2, 512, 3, "relu")}
    opts = {k: torch.optim.Adam(m.parameters(), 1e-4) for k, m in nets.items()}
    loss_fn = DiscriminativeMSELoss(0.05)
    times = {k: [] for k in nets}
    for r in range(repeats):
        for k, net in nets.items():
            t = time.perf_counter()
            feats, target = ds.batch(torch.randint(len(ds), (batch_size,), generator=gen))
            loss = loss_fn(net(feats), target[:, 0], target[:, 1:])
            opts[k].zero_grad()
            loss.backward()
            opts[k].step()
            if r > 0:  # the first round warms up
                times[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) for k, v in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--musdb-root", default=os.environ.get("MUSDB_PATH"))
    parser.add_argument("--models", default="wvpnn,cvpnn,dnn")
    parser.add_argument("--budget-minutes", type=float, default=None)
    parser.add_argument("--cache", default=None, help="folder to keep trained pipelines")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if not args.musdb_root:
        sys.exit("bench_quality: set MUSDB_PATH or --musdb-root (e.g. ../shared/data/musdb18-7)")

    import joblib
    from sklearn.pipeline import make_pipeline

    from sklearn_vpnn import STFT, DNNSeparator, InverseSTFT, VPNNSeparator, load_musdb

    print("command: python " + " ".join(shlex.quote(a) for a in sys.argv))
    train = load_musdb(args.musdb_root, subsets="train", split="train")
    valid = load_musdb(args.musdb_root, subsets="train", split="valid")
    sr = valid.sample_rate
    print(f"train {train.X.shape}, valid {valid.X.shape}, {sr} Hz", flush=True)
    cache = Path(args.cache) if args.cache else None
    if cache:
        cache.mkdir(parents=True, exist_ok=True)

    scores, info = {}, {}
    models = args.models.split(",") if args.models else []
    scores["mixture"] = _score(valid.y, np.stack([valid.X, valid.X], axis=1), sr)
    t = time.monotonic()
    scores["hpss"] = _score(valid.y, _hpss(valid.X), sr)
    info["hpss"] = f"{time.monotonic() - t:.0f} s"
    scores["irm-oracle"] = _score(valid.y, _irm(valid.X, valid.y), sr)

    budget = None if args.budget_minutes is None else 60 * args.budget_minutes
    costs = _step_costs()
    print("seconds per training step (same process, median): "
          + ", ".join(f"{k} {v:.3f}" for k, v in costs.items()), flush=True)
    makers = {
        "wvpnn": lambda: VPNNSeparator(mapping="window", random_state=0, max_time=budget),
        "cvpnn": lambda: VPNNSeparator(mapping="color", random_state=0, max_time=budget),
        "dnn": lambda: DNNSeparator(random_state=0, max_time=budget),
    }
    wvpnn_epochs = None
    for name in models:
        path = cache / f"{name}.joblib" if cache else None
        if path and path.exists():
            pipe = joblib.load(path)
            train_s = pipe[1].train_seconds_
        else:
            sep = makers[name]()
            if name != "wvpnn" and wvpnn_epochs is not None:
                # same compute as wvpnn's epochs, as epochs of this model
                sep.set_params(max_epochs=max(1, round(wvpnn_epochs * costs["wvpnn"] / costs[name])))
            pipe = make_pipeline(STFT(sample_rate=sr), sep, InverseSTFT())
            t = time.monotonic()
            pipe.fit(train.X, train.y)
            train_s = time.monotonic() - t
            pipe[1].train_seconds_ = train_s
            if path:
                joblib.dump(pipe, path)
        if name == "wvpnn":
            wvpnn_epochs = pipe[1].max_epochs
        info[name] = (f"{train_s / 60:.1f} min wall, {pipe[1].n_epochs_} of max_epochs="
                      f"{pipe[1].max_epochs} epochs")
        print(f"{name}: {info[name]}", flush=True)
        for wiener in (0, 1):
            pipe[1].set_params(wiener_iterations=wiener)
            key = name + ("+wiener" if wiener else "")
            scores[key] = _score(valid.y, pipe.transform(valid.X), sr)
            print(f"  {key}: drums SDR {np.nanmedian(scores[key][:, 0, 0]):.2f} dB", flush=True)

    print()
    print(f"Valid split, {len(valid.X)} clips; median over tracks of the median over 1 s windows (dB)")
    head = ("method", "drums SDR", "SIR", "SAR", "accomp SDR", "SIR", "SAR")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in _median_table(scores):
        print(f"| {row[0]} | " + " | ".join(f"{v:.2f}" for v in row[1:]) + " |")
    print()
    for k, v in info.items():
        print(f"{k}: {v}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"tracks": valid.track_names, "info": info,
                       "scores": {k: v.tolist() for k, v in scores.items()}}, fh, indent=1)


if __name__ == "__main__":
    main()
