"""Training throughput of the separators against their floor, stage by stage.

The *floor* of a training step is the network's training arithmetic at this CPU's
dense GEMM rate, measured in the same process: per frame, the forward pass's GEMM
FLOPs (as training runs it: the first layer on gathered windows,
``12 * K * n_bins * hidden``; ``12 * in * out`` per hidden layer; ``4 * hidden *
n_bins`` per head, its middle component) plus the backward pass's two products per
layer (input and weight gradients; the first layer needs no input gradient). The
GEMM rate is ``torch.mm`` on float32 matrices (``--gemm``, default 2048 x 2048 x 2048).
A band network (``band_radius``, the default's second network) counts its per-bin
network on the ``band_bins`` bins a training batch scores (every bin for
validation), ``12 * in * out`` per layer with ``in = K * (2 radius + 1)`` vectors
for the first and ``4 * band_units * n_sources`` for the head.

Two measurements:

* ``steps``: one training step's stages, timed separately on frames shaped like
  MUSDB18 clips (``--tracks`` stereo clips of ``--seconds`` seconds of noise: the
  speed does not depend on the content): drawing the batch
  (:meth:`~sklearn_vpnn.separator.FrameDataset.batch`: gather, augmentation,
  log-magnitudes), forward, loss, backward, the Adam step and the weight average.
  The stage table says where a step's time goes; "step / floor" is the ratio that
  training can reach at best with this batch size;
* ``fit``: ``VPNNSeparator(...).fit`` on the same clips for ``--epochs`` epochs,
  its frames per second from the per-epoch durations it records (which include the
  validation pass, so the floor adds the validation frames' forward FLOPs), as a
  fraction of the floor: the figure the quality issue asks for.

Run (from the repository root)::

    python benchmarks/bench_training.py --threads 2
    python benchmarks/bench_training.py --threads 1 --params '{"batch_size": 512}'
"""

import argparse
import json
import statistics
import time

import numpy as np
import torch


def training_flops_per_frame(n_bins, hidden=256, n_layers=3, n_sources=2, n_scales=3):
    """GEMM FLOPs of one frame of a window VPNN: ``(forward, forward + backward)``, as training runs them."""
    sizes = [n_scales * n_bins] + [hidden] * n_layers
    layers = [12 * i * o for i, o in zip(sizes[:-1], sizes[1:])]
    forward = sum(layers) + n_sources * 4 * hidden * n_bins
    backward = 2 * forward - layers[0]  # input and weight gradients; no input gradient for the features
    return forward, forward + backward


def band_training_flops_per_frame(n_bins, hidden, n_layers, n_sources, n_scales, radius, train_bins):
    """GEMM FLOPs of one frame of a band VPNN: ``(forward of every bin, training on train_bins bins)``."""
    sizes = [n_scales * (2 * radius + 1)] + [hidden] * n_layers
    layers = [12 * i * o for i, o in zip(sizes[:-1], sizes[1:])]
    per_bin = sum(layers) + 4 * hidden * n_sources
    bins = n_bins if train_bins is None else min(train_bins, n_bins)
    forward = bins * per_bin
    return n_bins * per_bin, 3 * forward - bins * layers[0]


def separator_flops_per_frame(sep, n_bins, n_sources):
    """``(validation forward, training)`` GEMM FLOPs per frame of a VPNNSeparator's networks (dense, band or both)."""
    K = len(tuple(sep.context_strides)) * (2 if sep.stereo else 1)
    fwd = train = 0
    if sep.hidden_units is not None:
        fwd, train = training_flops_per_frame(n_bins, sep.hidden_units, sep.n_layers, n_sources, K)
    if sep.band_radius is not None:
        f, t = band_training_flops_per_frame(n_bins, sep.band_units, sep.n_layers, n_sources, K,
                                             sep.band_radius, sep.band_bins)
        fwd, train = fwd + f, train + t
    return fwd, train


def gemm_rate(n, repeats=5):
    """Median GFLOP/s of a float32 ``torch.mm`` of two n x n matrices."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = torch.empty(n, n)
    torch.mm(a, b, out=out)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b, out=out)
        times.append(time.perf_counter() - t0)
    return 2.0 * n**3 / statistics.median(times) / 1e9


def _clips(n_tracks, seconds, sample_rate=44100, seed=0):
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    y = (0.1 * rng.standard_normal((n_tracks, 2, 2, n))).astype(np.float32)  # (tracks, sources, ch, samples)
    return y.sum(1), y


def _time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_steps(params, n_tracks, seconds, repeats, rate):
    """Stage times of one training step (seconds, medians)."""
    from sklearn_vpnn import STFT, VPNNSeparator
    from sklearn_vpnn.nn import DiscriminativeMSELoss, MaskNet
    from sklearn_vpnn.separator import FrameDataset, mask_loss

    sep = VPNNSeparator(**params)
    if sep.stereo:  # FrameDataset's stereo batches need the channel pairs a fit builds
        raise SystemExit("bench_training: the step table draws mono batches; measure stereo=True with the fit "
                         "alone (bench_quality.py's training table reads a real fit's epochs)")
    X, y = _clips(n_tracks, seconds)
    spec = STFT().fit_transform(X)
    Y = spec.analyze_like(y)  # (tracks, S, C, F, T)
    _, S, C, F, T = Y.shape
    stft = torch.from_numpy(np.ascontiguousarray(Y.transpose(1, 0, 2, 4, 3).reshape(S, n_tracks * C, T, F)))
    strides = tuple(sep.context_strides)
    ds = FrameDataset(stft, [T] * (n_tracks * C), remix=sep.remix, gain_db=sep.gain_db,
                      eq_db=getattr(sep, "eq_db", 0.0), seed=0, context_strides=strides)
    net = MaskNet(**sep._hyperparameters(F, S))  # as a fit builds it (band and dense networks included)
    loss_fn = DiscriminativeMSELoss(gamma=sep.gamma)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4, fused=True)  # as make_net trains
    avg = [p.detach().clone() for p in net.parameters()]
    B = sep.batch_size
    gen = torch.Generator().manual_seed(0)
    state = {}

    def draw():
        state["batch"] = ds.batch(torch.randint(len(ds), (B,), generator=gen).tolist())

    def forward():
        x, t = state["batch"]
        state["loss"] = mask_loss(loss_fn, net, net(x), t)  # as SeparatorNet scores it

    def backward():
        opt.zero_grad(set_to_none=True)
        forward()
        state["loss"].backward()

    def step():
        opt.step()

    def average():
        with torch.no_grad():
            for a, p in zip(avg, net.parameters()):
                a.lerp_(p.detach(), 0.001)

    def whole():
        draw()
        backward()
        step()
        average()

    for _ in range(3):
        whole()
    t_draw = _time(draw, repeats)
    t_fwd = _time(forward, repeats)
    t_fb = _time(backward, repeats)
    t_step = _time(step, repeats)
    t_avg = _time(average, repeats)
    t_whole = _time(whole, repeats)
    _, train_flops = separator_flops_per_frame(sep, F, S)
    floor = B * train_flops / (rate * 1e9)
    rows = [("draw the batch (gather, augment, log)", t_draw), ("forward + loss", t_fwd),
            ("backward (incl. forward)", t_fb), ("Adam step", t_step), ("weight average", t_avg),
            ("whole step", t_whole), ("floor (training GEMM FLOPs at the GEMM rate)", floor)]
    return rows, floor / t_whole, B / t_whole


def bench_fit(params, n_tracks, seconds, epochs):
    """Frames per second of a real fit and its fraction of the floor."""
    from sklearn_vpnn import STFT, VPNNSeparator

    X, y = _clips(n_tracks, seconds, seed=1)
    spec = STFT().fit_transform(X)
    sep = VPNNSeparator(**{**params, "max_epochs": epochs, "random_state": 0})
    t0 = time.perf_counter()
    sep.fit(spec, y)
    wall = time.perf_counter() - t0
    F, T, C = spec.shape[2], spec.shape[3], spec.shape[1]
    n_valid_tracks = min(max(int(round(sep.validation_fraction * n_tracks)), 1), n_tracks - 1) \
        if sep.validation_fraction > 0 else 0
    train_frames = (n_tracks - n_valid_tracks) * C * T
    valid_frames = n_valid_tracks * C * T
    fwd, train = separator_flops_per_frame(sep, F, 2)
    epoch_flops = train_frames * train + valid_frames * fwd
    durs = [h["dur"] for h in sep.history_]
    return dict(wall=wall, epoch_dur=statistics.median(durs), train_frames=train_frames,
                valid_frames=valid_frames, epoch_gflop=epoch_flops / 1e9)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--params", default="{}", help="JSON dict of VPNNSeparator parameters")
    p.add_argument("--tracks", type=int, default=16, help="stereo clips (MUSDB18-7 train: 80)")
    p.add_argument("--seconds", type=float, default=7.0)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--epochs", type=int, default=2, help="epochs of the fit measurement (0: skip it)")
    p.add_argument("--gemm", type=int, default=2048)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    params = json.loads(args.params)
    rate = gemm_rate(args.gemm)
    print(f"torch threads {torch.get_num_threads()}; dense GEMM ({args.gemm}^3 float32): {rate:.1f} GFLOP/s")
    rows, ratio, fps = bench_steps(params, args.tracks, args.seconds, args.repeats, rate)
    print(f"\none training step, params {params or 'default'}:")
    for name, t in rows:
        print(f"  {name:<46} {1e3 * t:8.1f} ms")
    print(f"  step at {ratio:.2f} of its floor ({fps:,.0f} frames/s)")
    if args.epochs:
        res = bench_fit(params, args.tracks, args.seconds, args.epochs)
        rate2 = gemm_rate(args.gemm)  # again after the fit: the machine may have changed
        r = 0.5 * (rate + rate2)
        floor = res["epoch_gflop"] / r
        print(f"\nfit: {args.epochs} epochs in {res['wall']:.1f} s; median epoch {res['epoch_dur']:.2f} s for "
              f"{res['train_frames']:,} training + {res['valid_frames']:,} validation frames "
              f"({res['train_frames'] / res['epoch_dur']:,.0f} training frames/s); "
              f"floor {floor:.2f} s at {r:.1f} GFLOP/s: **{floor / res['epoch_dur']:.2f} of the floor**")


if __name__ == "__main__":
    main()
