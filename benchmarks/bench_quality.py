"""Separation quality on the ``valid`` split of a MUSDB18-format dataset.

Every method separates drums from everything else on the same clips and is scored
the SiSEC way: museval BSS Eval v4 (``sklearn_vpnn.sdr(method="bss_eval_v4",
return_all=True)``: 1 s windows, median over windows), then the median over tracks,
for SDR, SIR and SAR of both sources.

Rows:

* ``mixture``       the mixture itself as the estimate of every source (lower bound);
* ``hpss``          librosa's harmonic/percussive separation, percussive = drums;
* ``irm-oracle``    the ideal ratio mask computed from the true sources (upper bound
                    for masking with the mixture phase, same STFT);
* ``wvpnn``         ``VPNNSeparator()`` with every default: the recipe (a dense
                    window VPNN of context strides (1, 4, 16) and 256 vector units,
                    and a band network beside it, their masks averaged);
* ``paper-wvpnn``   ``VPNNSeparator(band_radius=None, context_strides=(1,), hidden_units=512,
                    loss_target="magnitude")``: the paper's WVPNN (one (prev, cur,
                    next) window, 512 units);
* ``cvpnn``         ``VPNNSeparator(mapping="color")``;
* ``dnn``           ``DNNSeparator()`` (its defaults: 512 units, one window);
* ``openunmix``     the Open-Unmix network with its own recipe
                    (``bench_openunmix.py``, imported from this folder), trained
                    here for the wall-clock time wvpnn's fit took, residual
                    accompaniment; or read from a JSON that ``bench_openunmix.py
                    --json`` wrote (``--openunmix-json``);
* any ``--load NAME=PATH``: a pipeline saved with ``sklearn_vpnn.save_model``,
  scored as it is (not trained here);
* ``... +wiener``   the same models with one multichannel Wiener iteration.

"Equal compute" means equal training compute: wvpnn trains with its defaults; the
script times one training step of each model *as configured above* in this process
(batch draw + forward + backward + Adam + weight average; interleaved, median of
several repeats, so the ratio holds on a busy machine) and gives the other
separators the number of epochs that costs what wvpnn's epochs cost. Epoch counts,
not wall-clock limits, keep every row reproducible with ``random_state=0``.
Open-Unmix gets wvpnn's fit wall-clock instead (its recipe has no epochs to match).

Next to every row: training time, training throughput (training frames per second
from the per-epoch durations the separator records in ``history_``) and its
fraction of the *floor*: the epoch's GEMM FLOPs (``training_flops_per_frame`` of
``bench_training.py`` per training frame, the forward FLOPs per validation frame;
the colour mapping's full heads and the DNN's dense layers counted the same way)
at the dense GEMM rate measured in this process (before and after training,
averaged). Loaded models get the same figures from their saved ``history_``,
assuming they were trained on the ``train`` clips used here with their own
``validation_fraction``; their GEMM rate is this run's, not their training run's.

Run (from the repository root; ~1.5 h on 2 CPU cores with every row)::

    MUSDB_PATH=../shared/data/musdb18-7 python benchmarks/bench_quality.py \\
        --threads 2 --json quality.json --figure quality.png

``--models wvpnn,dnn`` picks the trained rows (``openunmix`` included);
``--openunmix-json FILE`` reads the Open-Unmix rows from ``bench_openunmix.py``;
``--load NAME=PATH`` (repeatable) adds saved models; ``--shifts K`` separates every
model on ``K`` frame grids (default: each model's own ``shifts``; files saved before
the parameter existed have 1); ``--budget-minutes M`` caps
every model at ``M`` minutes of training; ``--max-tracks N`` uses the first N train
and valid clips (smoke runs); ``--cache DIR`` keeps the trained pipelines
(``save_model`` files) so a second run only re-scores them; ``--json OUT`` writes
every per-track SDR/SIR/SAR; ``--figure PNG`` draws per-track drums SDR per method.
"""

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEPARATORS = ("wvpnn", "paper-wvpnn", "cvpnn", "dnn")


_UMX = []  # bench_openunmix.import_openunmix() once: a second call fails (its stand-in package has no spec)


def _openunmix():
    if not _UMX:
        _UMX.append(_sibling("bench_openunmix").import_openunmix())
    return _UMX[0]


def _sibling(name):
    """A benchmark script of this folder, imported as a module."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    return __import__(name)


def make_separator(name, **kw):
    from sklearn_vpnn import DNNSeparator, VPNNSeparator

    return {"wvpnn": lambda: VPNNSeparator(**kw),
            "paper-wvpnn": lambda: VPNNSeparator(band_radius=None, context_strides=(1,), hidden_units=512,
                                                 loss_target="magnitude", **kw),
            "cvpnn": lambda: VPNNSeparator(mapping="color", **kw),
            "dnn": lambda: DNNSeparator(**kw)}[name]()


def parse_loads(items):
    """``["NAME=PATH", ...]`` -> ``{NAME: PATH}``."""
    out = {}
    for item in items or ():
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            sys.exit(f"--load expects NAME=PATH; got {item!r}")
        out[name] = path
    return out


def command_line():
    env = " ".join(f"{k}={shlex.quote(os.environ[k])}" for k in
                   ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "MUSDB_PATH") if k in os.environ)
    return ((env + " ") if env else "") + "python " + " ".join(shlex.quote(a) for a in sys.argv)


# --------------------------------------------------------------------- compute
def _config(sep):
    """kind, MaskNet arguments and context strides of a separator as configured."""
    p = sep.get_params()
    mapping = p.get("mapping")
    strides = (1,) if mapping == "color" else tuple(int(s) for s in p["context_strides"])
    kind = "dnn" if mapping is None else "vpnn"
    return kind, mapping, strides, p


def flops_per_frame(sep, n_bins):
    """``(forward, forward + backward)`` GEMM FLOPs of one frame of ``sep``'s network.

    Window VPNN: ``bench_training.separator_flops_per_frame`` (its dense and band
    networks). Colour VPNN: ``bench_training.training_flops_per_frame``
    with one stack, plus full heads (all three components, ``12 * hidden * n_bins``
    per head, where the window mapping computes the middle one alone). DNN: ``2 * in
    * out`` per dense layer and head, backward twice the forward minus the first
    layer's input gradient, as there.
    """
    kind, mapping, strides, p = _config(sep)
    S, H, L = len(p["sources"]), p["hidden_units"], p["n_layers"]
    if kind == "vpnn" and mapping == "window":
        return _sibling("bench_training").separator_flops_per_frame(sep, n_bins, S)
    if kind == "vpnn":
        fwd, train = _sibling("bench_training").training_flops_per_frame(n_bins, H, L, S, len(strides))
        if mapping == "color":
            extra = S * 8 * H * n_bins
            fwd, train = fwd + extra, train + 3 * extra
        return fwd, train
    sizes = [3 * len(strides) * n_bins] + [H] * L
    layers = [2 * i * o for i, o in zip(sizes[:-1], sizes[1:])]
    fwd = sum(layers) + S * 2 * H * n_bins
    return fwd, fwd + 2 * fwd - layers[0]


def epoch_frames(stft_params, X, validation_fraction):
    """Training and validation frames of one epoch (whole tracks held out, as ``fit``)."""
    from sklearn_vpnn import STFT

    stft = STFT(**stft_params)
    per_track = [np.asarray(x).shape[0] * int(stft.fit_transform(np.asarray(x)[None]).n_frames_per_track[0])
                 for x in X]
    n = len(per_track)
    n_valid = min(max(int(round(validation_fraction * n)), 1), n - 1) if validation_fraction > 0 and n >= 2 else 0
    mean = float(np.mean(per_track))  # equal-length clips: which tracks are held out does not matter
    return (n - n_valid) * mean, n_valid * mean


def throughput(pipe, X, rate):
    """Training frames/s and fraction of the floor from ``pipe[1].history_`` (None without durations)."""
    sep = pipe[1]
    durs = [h["dur"] for h in getattr(sep, "history_", []) if "dur" in h]
    if not durs:
        return None
    train_f, valid_f = epoch_frames(pipe[0].get_params(), X, sep.validation_fraction)
    fwd, train = flops_per_frame(sep, sep.n_bins_)
    epoch = statistics.median(durs)
    floor = (train_f * train + valid_f * fwd) / (rate * 1e9)
    return {"epochs": len(durs), "median_epoch_seconds": epoch, "train_frames_per_epoch": train_f,
            "frames_per_second": train_f / epoch, "floor_seconds": floor, "floor_fraction": floor / epoch}


def step_costs(seps, n_bins=513, repeats=15):
    """Median seconds of one training step of each separator as configured."""
    import torch

    from sklearn_vpnn.nn import DiscriminativeMSELoss, MaskNet
    from sklearn_vpnn.separator import FrameDataset, mask_loss

    gen = torch.Generator().manual_seed(0)
    S = torch.randn(2, 8, 400, n_bins, dtype=torch.complex64, generator=gen)
    runs = {}
    for name, sep in seps.items():
        kind, mapping, strides, p = _config(sep)
        ds = FrameDataset(S, [400] * 8, remix=p["remix"], gain_db=p["gain_db"], seed=0,
                          context_strides=strides, eq_db=p["eq_db"], pitch_shift=p["pitch_shift"])
        net = MaskNet(**sep._hyperparameters(n_bins, 2))  # as its fit builds it (band network included)
        runs[name] = (ds, net, torch.optim.Adam(net.parameters(), p["lr"]), DiscriminativeMSELoss(p["gamma"]),
                      [t.detach().clone() for t in net.parameters()], p["batch_size"])
    times = {k: [] for k in runs}
    for r in range(repeats):
        for k, (ds, net, opt, loss_fn, avg, B) in runs.items():
            t = time.perf_counter()
            feats, target = ds.batch(torch.randint(len(ds), (B,), generator=gen).tolist())
            loss = mask_loss(loss_fn, net, net(feats), target)  # as SeparatorNet scores it
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for a, q in zip(avg, net.parameters()):
                    a.lerp_(q.detach(), 0.001)
            if r > 0:  # the first round warms up
                times[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) for k, v in times.items()}


# --------------------------------------------------------------------- scoring
def score(references, estimates, sample_rate):
    """museval BSS Eval v4: ``(n_tracks, n_sources, 3 [sdr, sir, sar])``."""
    from sklearn_vpnn import sdr

    res = sdr(references, estimates, sample_rate=sample_rate, method="bss_eval_v4", return_all=True)
    return np.stack([res.sdr, res.sir, res.sar], axis=-1)


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


def _irm(X, y, sample_rate):
    from sklearn_vpnn import STFT, InverseSTFT, Spectrogram

    spec = STFT(sample_rate=sample_rate).fit_transform(X)
    mags = np.abs(spec.analyze_like(y))
    masks = mags / np.maximum(mags.sum(axis=1, keepdims=True), 1e-10)
    sep = Spectrogram(masks * spec.data[:, None], spec.lengths, spec.params)
    return InverseSTFT().fit_transform(sep)


def _nanmedian(a):
    """Median of the non-NaN values (NaN when there is none)."""
    a = np.asarray(a, dtype=float)
    a = a[~np.isnan(a)]
    return float(np.median(a)) if a.size else float("nan")


def _fmt(v, digits=2):
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


# ------------------------------------------------------------------ open-unmix
def openunmix_trained(stems, valid_X, sample_rate, budget_s):
    """bench_openunmix's recipe in this process: (estimates per niter, info)."""
    import random
    from types import SimpleNamespace

    import torch

    bo = _sibling("bench_openunmix")
    umx = _openunmix()
    a = SimpleNamespace(n_fft=4096, n_hop=1024, sample_rate=sample_rate, seq_dur=6.0, batch_size=16,
                        lr=1e-3, weight_decay=1e-5, hidden_size=512, nb_layers=3)  # its defaults
    random.seed(42)
    torch.manual_seed(42)
    t_fit = time.monotonic()
    stft, _ = umx.transforms.make_filterbanks(n_fft=a.n_fft, n_hop=a.n_hop, sample_rate=sample_rate)
    encoder = torch.nn.Sequential(stft, umx.model.ComplexNorm(mono=False))
    stats = bo.input_statistics(encoder, (s.sum(0) for s in stems))
    max_bin = int(umx.utils.bandwidth_to_max_bin(sample_rate, a.n_fft, 16000.0))
    sampler = bo.ExcerptSampler(stems, sample_rate, a.seq_dur, umx.data.aug_from_str(["gain", "channelswap"]))
    print(f"openunmix {umx.version}: training the drums model for {budget_s / 60:.2f} min", flush=True)
    model, info = bo.train_model(umx, "drums", sampler, encoder, max_bin, stats, a, t_fit + budget_s)
    info.pop("losses")
    info["fit_seconds"] = time.monotonic() - t_fit
    return {niter: bo.separate(umx, {"drums": model}, valid_X, niter, a) for niter in (0, 1)}, info


def openunmix_from_json(path, track_names):
    """Rows ``openunmix[+wiener]`` of a ``bench_openunmix.py --json`` file, on our tracks."""
    d = json.loads(Path(path).read_text())
    missing = [n for n in track_names if n not in d["tracks"]]
    if missing:
        sys.exit(f"--openunmix-json {path}: no scores for tracks {missing}")
    idx = [d["tracks"].index(n) for n in track_names]
    rows = {}
    for key, fw in d["sdr_framewise"].items():
        if "museval" in d:
            rows[key] = np.asarray(d["museval"][key], dtype=float)[idx]
        else:  # framewise SDR only (= museval SDR); no SIR/SAR without --museval
            fw = np.asarray(fw, dtype=float)[idx]
            rows[key] = np.stack([fw, np.full_like(fw, np.nan), np.full_like(fw, np.nan)], axis=-1)
    info = dict(d["train"]["drums"], fit_seconds=d.get("fit_seconds"), command=d.get("command"),
                accompaniment=d.get("accompaniment"))
    info.pop("losses", None)
    return rows, info


# ---------------------------------------------------------------------- figure
def plot_tracks(drums_sdr, track_names, path, title):
    """One column per method, one dot per track (same colour everywhere, joined), median bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(drums_sdr)
    V = np.array([np.asarray(drums_sdr[k], dtype=float) for k in names])  # (methods, tracks)
    V[~np.isfinite(V)] = np.nan
    n_m, n_t = V.shape
    fig, ax = plt.subplots(figsize=(max(6.5, 0.75 * n_m + 3.5), 4.8), constrained_layout=True)
    colours = plt.get_cmap("tab20" if n_t > 10 else "tab10")(np.arange(n_t) % (20 if n_t > 10 else 10))
    x = np.arange(n_m)
    jitter = np.linspace(-0.12, 0.12, n_t) if n_t > 1 else np.zeros(1)
    for t in range(n_t):
        ax.plot(x + jitter[t], V[:, t], "-", color=colours[t], lw=0.6, alpha=0.45, zorder=1)
        ax.scatter(x + jitter[t], V[:, t], s=22, color=colours[t], edgecolor="k", linewidth=0.3,
                   zorder=2, label=track_names[t])
    med = np.array([np.nanmedian(v) if np.isfinite(v).any() else np.nan for v in V])
    ax.hlines(med, x - 0.3, x + 0.3, color="k", lw=2.2, zorder=3)
    for xi, m in zip(x, med):
        if np.isfinite(m):
            ax.annotate(f"{m:.2f}", (xi + 0.32, m), fontsize=8, va="center")
    ax.set_xticks(x, names, rotation=35, ha="right", fontsize=9)
    ax.set_ylabel("drums SDR (dB, museval v4)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=6.5, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False,
              title="track (bar: median)", title_fontsize=7)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)


# ------------------------------------------------------------------------ main
def load_data(root, max_tracks, four_stems):
    """Valid and train clips as arrays (the first ``max_tracks``), decoded once each.

    With ``four_stems`` the train sources are decoded as Open-Unmix's four stems
    (also returned, in ``bench_openunmix.STEMS`` order) and drums + accompaniment
    (the sum of the other three) derived from them.
    """
    from sklearn_vpnn import load_musdb

    def take(bunch):
        n = len(bunch.y) if max_tracks is None else min(max_tracks, len(bunch.y))
        pairs = [(np.asarray(bunch.y[i]), np.asarray(bunch.X[i])) for i in range(n)]  # y first: one decode
        return np.stack([x for _, x in pairs]), np.stack([y for y, _ in pairs]), list(bunch.track_names[:n])

    valid = load_musdb(root, subsets="train", split="valid", lazy=True)
    vX, vy, names = take(valid)
    order = ("vocals", "drums", "bass", "other")  # bench_openunmix.STEMS
    trX, trY, _ = take(load_musdb(root, subsets="train", split="train", lazy=True,
                                  **({"targets": order} if four_stems else {})))
    stems = None
    if four_stems:
        stems = list(trY)
        trY = np.stack([trY[:, 1], trY[:, 0] + trY[:, 2] + trY[:, 3]], axis=1)
    return trX, trY, stems, vX, vy, names, int(valid.sample_rate)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--musdb-root", default=os.environ.get("MUSDB_PATH"))
    p.add_argument("--models", default="wvpnn,paper-wvpnn,cvpnn,dnn,openunmix",
                   help="rows to train: " + ", ".join(SEPARATORS + ("openunmix",)) + " ('' for none)")
    p.add_argument("--load", action="append", metavar="NAME=PATH", help="score a saved model (repeatable)")
    p.add_argument("--openunmix-json", default=None, help="read the Open-Unmix rows from bench_openunmix.py")
    p.add_argument("--openunmix-minutes", type=float, default=None,
                   help="Open-Unmix training budget (default: the wall-clock time of wvpnn's fit)")
    p.add_argument("--budget-minutes", type=float, default=None, help="cap every separator's training")
    p.add_argument("--max-tracks", type=int, default=None, help="first N train and valid clips (smoke)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--shifts", type=int, default=None,
                   help="separate every model on this many frame grids (default: each model's own shifts)")
    p.add_argument("--cache", default=None, help="folder to keep trained pipelines (save_model files)")
    p.add_argument("--json", default=None)
    p.add_argument("--figure", default=None, help="PNG of per-track drums SDR per method")
    args = p.parse_args(argv)
    if not args.musdb_root:
        sys.exit("bench_quality: set MUSDB_PATH or --musdb-root (e.g. ../shared/data/musdb18-7)")
    models = [m for m in args.models.split(",") if m]
    unknown = set(models) - set(SEPARATORS) - {"openunmix"}
    if unknown:
        sys.exit(f"bench_quality: unknown --models {sorted(unknown)}")
    loads = parse_loads(args.load)
    umx_inprocess = "openunmix" in models and not args.openunmix_json
    if umx_inprocess:
        _openunmix()  # a missing package fails at once

    import torch
    from sklearn.pipeline import make_pipeline

    from sklearn_vpnn import STFT, InverseSTFT, load_model, save_model

    torch.set_num_threads(args.threads)
    gemm_rate = _sibling("bench_training").gemm_rate
    command = command_line()
    print("command: " + command, flush=True)
    t = time.monotonic()
    trX, trY, stems, vX, vy, names, sr = load_data(args.musdb_root, args.max_tracks, umx_inprocess)
    print(f"train {trX.shape}, valid {vX.shape}, {sr} Hz (decoded in {time.monotonic() - t:.0f} s); "
          f"torch {torch.get_num_threads()} threads", flush=True)
    cache = Path(args.cache) if args.cache else None
    if cache:
        cache.mkdir(parents=True, exist_ok=True)

    scores, info = {}, {}
    scores["mixture"] = score(vy, np.stack([vX, vX], axis=1), sr)
    t = time.monotonic()
    scores["hpss"] = score(vy, _hpss(vX), sr)
    info["hpss"] = {"note": f"separation {time.monotonic() - t:.0f} s, no training"}
    scores["irm-oracle"] = score(vy, _irm(vX, vy, sr), sr)

    rates = [gemm_rate(2048)]
    budget = None if args.budget_minutes is None else 60 * args.budget_minutes
    seps = {m: make_separator(m, random_state=0, max_time=budget) for m in SEPARATORS if m in models}
    costs = step_costs(seps) if seps else {}
    if costs:
        print("seconds per training step (same process, median): "
              + ", ".join(f"{k} {v:.3f}" for k, v in costs.items()), flush=True)
    pipes, wvpnn_epochs, wvpnn_seconds = {}, None, None
    for name, sep in seps.items():
        path = cache / f"{name}.safetensors" if cache else None
        if path and path.exists():
            pipe = load_model(path)
            print(f"{name}: from the cache {path}", flush=True)
        else:
            if name != "wvpnn" and wvpnn_epochs is not None:  # wvpnn's compute, as epochs of this model
                sep.set_params(max_epochs=max(1, round(wvpnn_epochs * costs["wvpnn"] / costs[name])))
            pipe = make_pipeline(STFT(sample_rate=sr), sep, InverseSTFT())
            t = time.monotonic()
            pipe.fit(trX, trY)
            pipe[1].train_seconds_ = time.monotonic() - t
            if path:
                save_model(pipe, path, overwrite=True)
        if name == "wvpnn":
            wvpnn_epochs, wvpnn_seconds = pipe[1].n_epochs_, pipe[1].train_seconds_
        pipes[name] = pipe
        info[name] = {"train_seconds": pipe[1].train_seconds_, "max_epochs": pipe[1].max_epochs,
                      "step_seconds": costs.get(name)}
        print(f"{name}: {pipe[1].train_seconds_ / 60:.1f} min, {pipe[1].n_epochs_} epochs", flush=True)
    for name, path in loads.items():
        pipes[name] = load_model(path)
        sep = pipes[name][1]
        secs = getattr(sep, "train_seconds_", None)
        info[name] = {"loaded": str(path), "train_seconds": secs if secs is not None else
                      (sum(h["dur"] for h in sep.history_ if "dur" in h) if getattr(sep, "history_", None)
                       else None), "params": {k: v for k, v in sep.get_params().items()
                                              if k in ("mapping", "context_strides", "hidden_units", "band_radius",
                                                       "band_units")}}
    rates.append(gemm_rate(2048))  # again after training: the machine may have changed
    rate = float(np.mean(rates))
    for name, pipe in pipes.items():
        # a loaded model trained on every train clip: its epochs are not those of --max-tracks clips
        info[name]["throughput"] = None if name in loads and args.max_tracks else throughput(pipe, trX, rate)
        if args.shifts is not None:
            pipe[1].set_params(shifts=args.shifts)
        info[name]["shifts"] = pipe[1].shifts
        for wiener in (0, 1):
            pipe[1].set_params(wiener_iterations=wiener)
            key = name + ("+wiener" if wiener else "")
            scores[key] = score(vy, pipe.transform(vX), sr)
            print(f"  {key}: drums SDR {np.nanmedian(scores[key][:, 0, 0]):.2f} dB", flush=True)

    if "openunmix" in models or args.openunmix_json:  # a JSON given is read whatever --models says
        if args.openunmix_json:
            rows, info["openunmix"] = openunmix_from_json(args.openunmix_json, names)
            scores.update(rows)
        else:
            minutes = args.openunmix_minutes or (wvpnn_seconds / 60 if wvpnn_seconds else None)
            if minutes is None:
                sys.exit("bench_quality: the Open-Unmix budget is wvpnn's training time; train wvpnn "
                         "(--models) or give --openunmix-minutes")
            est, info["openunmix"] = openunmix_trained(stems, list(vX), sr, 60 * minutes)
            for niter, e in est.items():
                scores["openunmix" + ("+wiener" if niter else "")] = score(vy, np.stack(e), sr)

    print()
    print(f"Valid split, {len(vX)} clips; median over tracks of the median over 1 s windows (dB)")
    head = ("method", "drums SDR", "SIR", "SAR", "accomp SDR", "SIR", "SAR")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for key, s in scores.items():
        med = [_nanmedian(s[:, j, m]) for j in range(2) for m in range(3)]
        print(f"| {key} | " + " | ".join(_fmt(float(v)) for v in med) + " |")
    print()
    print(f"Training (dense GEMM {rate:.1f} GFLOP/s in this process, {torch.get_num_threads()} threads)")
    print("| method | training (min) | epochs | train frames/s | of floor | note |")
    print("|---|---|---|---|---|---|")
    for key, d in info.items():
        if key == "hpss":
            continue
        tp = d.get("throughput")
        if key == "openunmix":
            note = ("from " + args.openunmix_json) if args.openunmix_json else "trained here"
            print(f"| openunmix | {_fmt(d['train_seconds'] / 60)} | {d['epochs']:.3f} (Open-Unmix epochs) | "
                  f"{d['frames_per_second']:.0f} (hop 1024) | n/a (BLSTM) | {note}, {d['steps']} steps |")
            continue
        secs = d.get("train_seconds")
        note = f"loaded {d['loaded']}" if "loaded" in d else f"step {_fmt(d['step_seconds'], 3)} s"
        print(f"| {key} | {_fmt(secs / 60 if secs else None)} | {tp['epochs'] if tp else 'n/a'} | "
              f"{_fmt(tp['frames_per_second'], 0) if tp else 'n/a'} | "
              f"{_fmt(tp['floor_fraction']) if tp else 'n/a'} | {note} |")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"command": command, "tracks": names, "sources": ["drums", "accompaniment"],
             "metrics": ["sdr", "sir", "sar"], "gemm_gflops": rate, "info": info,
             "scores": {k: v.tolist() for k, v in scores.items()}}, indent=1, default=float))
        print(f"wrote {args.json}")
    if args.figure:
        plot_tracks({k: v[:, 0, 0] for k, v in scores.items()}, names, args.figure,
                    f"drums SDR per track, valid split ({len(vX)} clips)")
        print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
