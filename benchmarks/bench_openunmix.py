"""Open-Unmix peer row for the quality benchmark: its network, its recipe, our clips.

Trains the Open-Unmix network (``openunmix.model.OpenUnmix``, the PyPI package
``openunmix``) with Open-Unmix's own training recipe (``scripts/train.py`` and
``openunmix/data.py`` of sigsep/open-unmix-pytorch) on exactly the MUSDB18
7-second ``train`` clips the VPNN recipe trains on (``load_musdb(root,
subsets="train", split="train")``: 80 clips), for a wall-clock budget, then
separates the 14 ``valid`` clips at 44.1 kHz Open-Unmix's way and scores drums and
accompaniment (everything but the drums) like ``bench_quality.py`` and
``bench_recipe.py``: median over tracks of the median over 1 s windows, with
``sklearn_vpnn.sdr(method="framewise")`` (equal to museval's BSS Eval v4 SDR) and,
with ``--museval``, ``method="bss_eval_v4"`` for SIR and SAR too.

The recipe, as Open-Unmix's train.py runs it (defaults in brackets):

* STFT n_fft 4096, hop 1024, Hann window, ``center=False`` in training (its
  ``transforms.make_filterbanks``), magnitudes by ``transforms.ComplexNorm``;
  ``max_bin`` from the 16 kHz bandwidth (``utils.bandwidth_to_max_bin``: 1487 of
  2049 bins at 44.1 kHz);
* ``OpenUnmix(nb_bins=2049, nb_channels=2, hidden_size=512, nb_layers=3,
  max_bin=max_bin, input_mean=..., input_scale=...)``: 3-layer BLSTM;
  input mean/scale from the training mixtures as train.py's ``get_statistics``
  computes them (StandardScaler over the frames of every whole training mixture,
  channels averaged in the magnitude domain, scale floored at 1e-4 x its max; the
  mixture is the sum of the stems, as ``load_musdb``'s default, where Open-Unmix
  reads the stored AAC mixture; the learned output scale/mean start at ones, as in
  the model). This takes ~6 s and counts against the budget;
* Adam, lr 1e-3, weight decay 1e-5; MSE between the estimated and the true target
  magnitudes; seeds 42 (``random`` and ``torch``, as train.py);
* training excerpts as its ``MUSDBDataset(split="train", random_track_mix=True,
  source_augmentations=aug_from_str(["gain", "channelswap"]))`` makes them: each of
  the four MUSDB stems (vocals, drums, bass, other) from a random track and a random
  start, each stem with a random gain in [0.25, 1.25] and a channel swap with
  probability 0.5 (Open-Unmix's own ``data._augment_gain`` /
  ``data._augment_channelswap``, imported), mixture = sum of the four; target
  ``drums`` is the drums stem, target ``accompaniment`` is ``mixture - drums`` (the
  way MUSDBDataset builds its vocals/accompaniment target);
* batches of 16 excerpts of ``--seq-dur`` seconds (its 6.0 s fits the 6.8 s clips).
  The excerpts are cut from the clips held in memory (one decode of the 80 clips by
  ``sklearn_vpnn.load_musdb``) instead of decoded per excerpt by musdb/ffmpeg, which
  would cost more CPU than the network; the sampling is the same.

What is left out, and why: the per-epoch validation, its ``ReduceLROnPlateau``
(patience 80 epochs) and early stopping (patience 140 epochs) act on a scale of
epochs (Open-Unmix's epoch: 64 excerpts per track, 5120 excerpts here) that a
10-minute CPU budget never reaches, and the ``valid`` clips are the test set here,
so no model selection on them: the model after the last step is scored.

Two sources, one model or two (``--targets``):

* ``drums`` (default): one OpenUnmix for the drums, trained for the whole budget;
  the accompaniment is Open-Unmix's ``residual`` target
  (``Separator(residual=True)``, what ``umx --residual`` and ``predict.separate(...,
  residual=True)`` do when not every source has a model): mixture STFT minus the
  drums estimate ``|D| e^{i angle X}``, i.e. the complementary mask ``1 - |D|/|X|``
  on the mixture. Closest to Open-Unmix for this task: Open-Unmix trains one model
  per target and this task has one target, the other source being "everything but";
  it also spends the budget like the VPNN row (one network, whole budget) and the
  headline figure is drums SDR.
* ``drums,accompaniment``: one model per source, as Open-Unmix's four-target
  releases, each trained for half of the budget (independently, same recipe).

Separation is Open-Unmix's ``model.Separator`` (STFT ``center=True``, magnitude
estimates with the mixture phase, ``softmask=False``, ``wiener_win_len=300``), with
``niter=0`` (no post-filter) and ``niter=1`` (one EM iteration of
``filtering.wiener``, the default of its ``predict.separate`` and ``umx`` CLI); both
are reported.

Installing Open-Unmix without torchaudio. ``openunmix`` declares ``torchaudio`` as
a dependency and imports it at import time (``openunmix/__init__`` imports
``utils``, which imports torchaudio; ``model.py`` imports ``transforms.py``, which
does ``import torchaudio``), so ``pip install openunmix`` would install torchaudio
and with it possibly a multi-GB torch build other than the pinned torch 2.13.0 CPU.
Install it with::

    pip install --no-deps openunmix

This script then imports ``openunmix.model``, ``.transforms``, ``.filtering``,
``.utils`` and ``.data`` without running the package ``__init__`` (an empty package
module whose ``__path__`` is the installed folder), with an empty stand-in module
for ``torchaudio`` during that import only. No name of torchaudio is needed at
import time (``transforms.py``, ``utils.py`` and ``data.py`` only do ``import
torchaudio``; ``model.py`` and ``filtering.py`` do not import it), and nothing this
script calls (``OpenUnmix``, ``Separator``, ``TorchSTFT``/``TorchISTFT``,
``ComplexNorm``, ``filtering.wiener``, ``utils.bandwidth_to_max_bin``,
``data.aug_from_str`` and the augmentations) uses it at run time: they call
``torch.stft``/``torch.istft`` and plain torch. The stand-in raises on any
attribute access, so a run that finishes proves it. (Checked for openunmix 1.3.0.)

Run (from the repository root; ~15-18 min on 2 cores: 1-3 min to decode the 94 clips,
the 10.2-min training budget, ~0.5 min to separate twice, ~1.5 min for ``--museval``;
peak memory ~2.5 GB)::

    OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 MUSDB_PATH=../shared/data/musdb18-7 \\
        python benchmarks/bench_openunmix.py --minutes 10.2 --threads 2 \\
        --museval --json openunmix.json

``--targets drums,accompaniment`` trains two models (half the budget each);
``--max-tracks N`` uses the first N train and valid clips (smoke runs);
``--save PATH`` keeps the trained state dicts (``torch.save``).
"""

import argparse
import importlib
import importlib.util
import json
import os
import random
import shlex
import sys
import time
import types
from pathlib import Path

import numpy as np

INSTALL = "pip install --no-deps openunmix"
STEMS = ("vocals", "drums", "bass", "other")  # musdb's setup["sources"] order


def import_openunmix():
    """Open-Unmix's modules without its package ``__init__`` and without torchaudio.

    Returns a namespace with ``model``, ``transforms``, ``filtering``, ``utils``,
    ``data`` and ``version``. Exits with the install command if openunmix is absent.
    """
    spec = importlib.util.find_spec("openunmix")
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"bench_openunmix: the 'openunmix' package is not installed. Install it with\n"
                 f"    {INSTALL}\n"
                 "(--no-deps: its torchaudio dependency would pull another torch build; "
                 "this script does not need torchaudio, see its docstring).")
    folder = list(spec.submodule_search_locations)[0]
    if "openunmix" not in sys.modules:
        # the package without running __init__ (which imports utils -> torchaudio)
        pkg = types.ModuleType("openunmix", "openunmix, __init__ not executed (bench_openunmix)")
        pkg.__path__ = [folder]
        pkg.__file__ = None
        pkg.__package__ = "openunmix"
        sys.modules["openunmix"] = pkg

    stand_in = None
    if "torchaudio" not in sys.modules:
        stand_in = types.ModuleType("torchaudio", "empty stand-in for torchaudio (bench_openunmix)")

        def __getattr__(name):  # any use of torchaudio fails loudly
            raise AttributeError(f"torchaudio is not installed; bench_openunmix's stand-in has no "
                                 f"{name!r} (an openunmix code path that needs torchaudio was hit)")

        stand_in.__getattr__ = __getattr__
        sys.modules["torchaudio"] = stand_in
    try:
        mods = {name: importlib.import_module(f"openunmix.{name}")
                for name in ("filtering", "transforms", "model", "utils", "data")}
    finally:
        if stand_in is not None and sys.modules.get("torchaudio") is stand_in:
            del sys.modules["torchaudio"]  # nobody else should think torchaudio exists
    try:
        from importlib.metadata import version

        mods["version"] = version("openunmix")
    except Exception:  # pragma: no cover
        mods["version"] = "unknown"
    return types.SimpleNamespace(**mods)


def input_statistics(encoder, mixtures):
    """train.py's ``get_statistics``: whole training mixtures, no augmentation."""
    import torch
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler()
    with torch.no_grad():
        for x in mixtures:
            X = encoder(torch.as_tensor(x)[None]).mean(1, keepdim=False).permute(0, 2, 1)
            scaler.partial_fit(np.squeeze(X.numpy(), 0))
    std = np.maximum(scaler.scale_, 1e-4 * np.max(scaler.scale_))
    return scaler.mean_, std


class ExcerptSampler:
    """MUSDBDataset(split="train", random_track_mix=True, gain+channelswap) in memory.

    ``stems``: list of (4, n_channels, n_samples) float32 arrays in ``STEMS`` order.
    """

    def __init__(self, stems, sample_rate, seq_dur, augment):
        self.stems = stems
        self.sample_rate = sample_rate
        self.seq_dur = seq_dur
        self.n = int(seq_dur * sample_rate)
        self.augment = augment
        self.durations = [s.shape[-1] / sample_rate for s in stems]
        if self.n > min(s.shape[-1] for s in stems):
            raise ValueError(f"--seq-dur {seq_dur} s is longer than the shortest training clip "
                             f"({min(self.durations):.2f} s)")

    def excerpt(self, target):
        import torch

        audio_sources = []
        for k, _source in enumerate(STEMS):
            t = random.randrange(len(self.stems))  # random.choice(self.mus.tracks)
            start = random.uniform(0, self.durations[t] - self.seq_dur)
            i = min(int(start * self.sample_rate), self.stems[t].shape[-1] - self.n)
            audio = torch.from_numpy(np.ascontiguousarray(self.stems[t][k, :, i:i + self.n]))
            audio_sources.append(self.augment(audio))
        stems = torch.stack(audio_sources, dim=0)
        x = stems.sum(0)
        d = STEMS.index("drums")
        y = stems[d] if target == "drums" else x - stems[d]  # accompaniment: mixture - drums
        return x, y

    def batch(self, target, batch_size):
        import torch

        xs, ys = zip(*(self.excerpt(target) for _ in range(batch_size)))
        return torch.stack(xs), torch.stack(ys)


def train_model(umx, target, sampler, encoder, max_bin, stats, args, deadline):
    """One OpenUnmix for ``target``, Adam(1e-3, wd 1e-5), MSE on magnitudes, until ``deadline``.

    ``deadline`` is a ``time.monotonic()`` value; no step starts that would end after it
    (judged by the last step's duration), but the first step always runs.
    """
    import torch

    unmix = umx.model.OpenUnmix(input_mean=stats[0], input_scale=stats[1], nb_bins=args.n_fft // 2 + 1,
                                nb_channels=2, hidden_size=args.hidden_size, nb_layers=args.nb_layers,
                                max_bin=max_bin)
    optimizer = torch.optim.Adam(unmix.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    unmix.train()
    losses, step_times, frames = [], [], 0
    t0 = time.monotonic()
    budget_s = deadline - t0
    last_print, acc = t0, []
    while True:
        if step_times and time.monotonic() + step_times[-1] > deadline:
            break  # the next step would overrun the budget
        ts = time.monotonic()
        x, y = sampler.batch(target, args.batch_size)
        optimizer.zero_grad()
        X = encoder(x)
        Y_hat = unmix(X)
        Y = encoder(y)
        loss = torch.nn.functional.mse_loss(Y_hat, Y)
        loss.backward()
        optimizer.step()
        step_times.append(time.monotonic() - ts)
        losses.append(float(loss.item()))
        acc.append(losses[-1])
        frames += X.shape[0] * X.shape[-1]
        now = time.monotonic()
        if now - last_print > 60 or len(losses) == 1:
            print(f"  [{target}] step {len(losses)}, {now - t0:.0f} s, loss {np.mean(acc):.4f} "
                  f"({step_times[-1]:.2f} s/step)", flush=True)
            last_print, acc = now, []
    train_s = time.monotonic() - t0
    excerpts = len(losses) * args.batch_size
    info = {
        "target": target,
        "train_seconds": train_s,
        "budget_seconds": budget_s,
        "steps": len(losses),
        "excerpts": excerpts,
        # Open-Unmix's epoch: samples_per_track (64) excerpts per training track
        "epochs": excerpts / (64 * len(sampler.stems)),
        "frames": frames,
        "frames_per_second": frames / train_s,
        "audio_seconds_per_second": excerpts * sampler.seq_dur / train_s,
        "median_step_seconds": float(np.median(step_times)),
        "first_loss": losses[0],
        "last_losses_mean": float(np.mean(losses[-10:])),
        "losses": losses,
    }
    print(f"  [{target}] {len(losses)} steps ({excerpts} excerpts, {info['epochs']:.3f} Open-Unmix "
          f"epochs) in {train_s:.0f} s: {info['frames_per_second']:.0f} frames/s "
          f"({info['audio_seconds_per_second']:.1f} s of audio per s), median "
          f"{info['median_step_seconds']:.2f} s/step, loss {losses[0]:.4f} -> "
          f"{info['last_losses_mean']:.4f} (mean of the last 10)", flush=True)
    unmix.eval()
    return unmix, info


def separate(umx, models, valid_X, niter, args):
    """Open-Unmix's Separator: (n_tracks, 2, n_channels, n_samples) [drums, accompaniment]."""
    import torch

    residual = "accompaniment" not in models
    separator = umx.model.Separator(models, niter=niter, softmask=False, residual=residual,
                                    sample_rate=args.sample_rate, n_fft=args.n_fft, n_hop=args.n_hop,
                                    nb_channels=2, wiener_win_len=300, filterbank="torch")
    separator.freeze()
    out = []
    with torch.no_grad():
        for x in valid_X:
            est = separator(torch.as_tensor(x, dtype=torch.float32)[None])[0].numpy()
            assert est.shape == (2,) + x.shape, (est.shape, x.shape)
            out.append(est)  # order: drums, then accompaniment (model or residual)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--musdb-root", default=os.environ.get("MUSDB_PATH", "../shared/data/musdb18-7"))
    p.add_argument("--minutes", type=float, default=10.2,
                   help="training budget, wall clock, including the input statistics "
                        "(default 10.2: the default VPNN recipe's training time)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--targets", default="drums", choices=["drums", "drums,accompaniment"],
                   help="'drums': one model, accompaniment = Open-Unmix's residual (default); "
                        "'drums,accompaniment': one model per source, half the budget each")
    p.add_argument("--seq-dur", type=float, default=6.0, help="excerpt seconds (Open-Unmix: 6.0)")
    p.add_argument("--batch-size", type=int, default=16, help="(Open-Unmix: 16)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-5)
    p.add_argument("--hidden-size", type=int, default=512)
    p.add_argument("--nb-layers", type=int, default=3)
    p.add_argument("--bandwidth", type=float, default=16000.0)
    p.add_argument("--seed", type=int, default=42, help="(Open-Unmix: 42)")
    p.add_argument("--museval", action="store_true", help="also museval BSS Eval v4 SDR/SIR/SAR")
    p.add_argument("--max-tracks", type=int, default=None,
                   help="use only the first N train and valid clips (smoke runs)")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--save", default=None, help="torch.save the trained state dicts here")
    args = p.parse_args(argv)
    args.n_fft, args.n_hop = 4096, 1024
    argv = sys.argv[1:] if argv is None else list(argv)
    env = " ".join(f"{k}={shlex.quote(os.environ[k])}" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                                  "MUSDB_PATH") if k in os.environ)
    command = ((env + " ") if env else "") + "python " + " ".join(
        shlex.quote(a) for a in [sys.argv[0]] + argv)
    print("command: " + command, flush=True)

    umx = import_openunmix()  # before anything slow: a missing package fails at once
    import torch

    torch.set_num_threads(args.threads)
    from sklearn_vpnn import load_musdb, sdr

    random.seed(args.seed)
    torch.manual_seed(args.seed)

    t = time.monotonic()
    train = load_musdb(args.musdb_root, subsets="train", split="train", targets=STEMS, lazy=True)
    valid = load_musdb(args.musdb_root, subsets="train", split="valid", lazy=True)
    sr = args.sample_rate = int(train.sample_rate)
    if tuple(train.sources) != STEMS or tuple(valid.sources) != ("drums", "accompaniment"):
        sys.exit(f"bench_openunmix: unexpected sources {train.sources} / {valid.sources}")
    n_train = len(train.y) if args.max_tracks is None else min(args.max_tracks, len(train.y))
    n_valid = len(valid.y) if args.max_tracks is None else min(args.max_tracks, len(valid.y))
    stems = [np.asarray(train.y[i], dtype=np.float32) for i in range(n_train)]  # (4, 2, n)
    valid_X, valid_y = [], []
    for i in range(n_valid):
        valid_X.append(np.asarray(valid.X[i], dtype=np.float32))
        valid_y.append(np.asarray(valid.y[i], dtype=np.float32))
    valid_names = list(valid.track_names[:n_valid])
    print(f"openunmix {umx.version}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"train {n_train} clips x {len(STEMS)} stems {stems[0].shape[1:]}, valid {n_valid} clips "
          f"{valid_X[0].shape}, {sr} Hz (decoded in {time.monotonic() - t:.0f} s)", flush=True)

    targets = args.targets.split(",")
    budget = 60 * args.minutes
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # its first call imports for ~2 s
    t_fit = time.monotonic()
    stft, _ = umx.transforms.make_filterbanks(n_fft=args.n_fft, n_hop=args.n_hop, sample_rate=sr)
    encoder = torch.nn.Sequential(stft, umx.model.ComplexNorm(mono=False))
    stats = input_statistics(encoder, (s.sum(0) for s in stems))
    stats_s = time.monotonic() - t_fit
    max_bin = int(umx.utils.bandwidth_to_max_bin(sr, args.n_fft, args.bandwidth))
    print(f"input statistics of {n_train} mixtures: {stats_s:.1f} s; max_bin {max_bin} of "
          f"{args.n_fft // 2 + 1} ({args.bandwidth:.0f} Hz)", flush=True)

    sampler = ExcerptSampler(stems, sr, args.seq_dur, umx.data.aug_from_str(["gain", "channelswap"]))
    models, train_info = {}, {}
    per_model = max(0.0, budget - stats_s) / len(targets)
    for i, target in enumerate(targets):
        print(f"training the {target} model for {per_model / 60:.2f} min (batches of "
              f"{args.batch_size} x {args.seq_dur} s)", flush=True)
        models[target], train_info[target] = train_model(umx, target, sampler, encoder, max_bin,
                                                         stats, args, t_fit + stats_s + (i + 1) * per_model)
    fit_s = time.monotonic() - t_fit
    print(f"fit: {fit_s / 60:.2f} min (budget {args.minutes} min) incl. {stats_s:.1f} s of statistics",
          flush=True)
    if args.save:
        torch.save({k: m.state_dict() for k, m in models.items()}, args.save)

    scores, museval_scores, sep_info = {}, {}, {}
    for niter in (0, 1):
        key = "openunmix" + ("+wiener" if niter else "")
        t = time.monotonic()
        est = separate(umx, models, valid_X, niter, args)
        sep_s = time.monotonic() - t
        assert all(np.isfinite(e).all() for e in est), "non-finite estimates"
        s = sdr(valid_y, est, sample_rate=sr, method="framewise")
        scores[key] = s
        sep_info[key] = {"seconds": sep_s, "real_time_factor": sum(x.shape[-1] for x in valid_X) / sr / sep_s}
        print(f"{key} (niter={niter}): drums SDR {np.nanmedian(s[:, 0]):.2f} dB, accompaniment SDR "
              f"{np.nanmedian(s[:, 1]):.2f} dB (framewise, {len(s)} clips); separation "
              f"{sep_s:.1f} s, {sep_info[key]['real_time_factor']:.1f}x real time", flush=True)
        if args.museval:
            t = time.monotonic()
            res = sdr(valid_y, est, sample_rate=sr, method="bss_eval_v4", return_all=True)
            museval_scores[key] = np.stack([res.sdr, res.sir, res.sar], axis=-1)  # (tracks, 2, 3)
            print(f"  museval in {time.monotonic() - t:.0f} s", flush=True)

    print()
    print(f"Per-track drums SDR (dB, framewise = museval SDR), valid split, {n_valid} clips")
    print("| track | " + " | ".join(scores) + " |")
    print("|---|" + "---|" * len(scores))
    for i, name in enumerate(valid_names):
        print(f"| {name} | " + " | ".join(f"{scores[k][i, 0]:.2f}" for k in scores) + " |")
    print()
    print(f"Valid split, {n_valid} clips; median over tracks of the median over 1 s windows (dB)")
    if args.museval:
        head = ("method", "drums SDR", "SIR", "SAR", "accomp SDR", "SIR", "SAR")
        rows = [(k, *np.nanmedian(v, axis=0).ravel()) for k, v in museval_scores.items()]
    else:
        head = ("method", "drums SDR", "accomp SDR")
        rows = [(k, *np.nanmedian(v, axis=0)) for k, v in scores.items()]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print(f"| {row[0]} | " + " | ".join(f"{v:.2f}" for v in row[1:]) + " |")
    print()
    for target, info in train_info.items():
        print(f"{target} model: {info['train_seconds'] / 60:.2f} min, {info['steps']} steps of "
              f"{args.batch_size} x {args.seq_dur} s, {info['epochs']:.3f} Open-Unmix epochs, "
              f"{info['frames_per_second']:.0f} training frames/s (hop {args.n_hop})")
    if len(targets) == 1:
        print("accompaniment: Open-Unmix residual (mixture minus the drums estimate)")

    if args.json:
        out = {
            "command": command,
            "args": vars(args),
            "openunmix_version": umx.version,
            "torch_version": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "max_bin": max_bin,
            "n_train": n_train,
            "tracks": valid_names,
            "sources": ["drums", "accompaniment"],
            "accompaniment": "residual" if len(targets) == 1 else "model",
            "fit_seconds": fit_s,
            "statistics_seconds": stats_s,
            "train": train_info,
            "separation": sep_info,
            "sdr_framewise": {k: v.tolist() for k, v in scores.items()},
            "median_sdr_framewise": {k: np.nanmedian(v, axis=0).tolist() for k, v in scores.items()},
        }
        if args.museval:
            out["museval"] = {k: v.tolist() for k, v in museval_scores.items()}  # [sdr, sir, sar]
            out["median_museval"] = {k: np.nanmedian(v, axis=0).tolist() for k, v in museval_scores.items()}
        Path(args.json).write_text(json.dumps(out, indent=1, default=float))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
