"""Speed of separating a 3-minute stereo track, as a ratio to the arithmetic floor.

Separates one synthetic 3-minute stereo 44.1 kHz track
(``make_drum_mixtures(n_tracks=1, duration=180, sample_rate=44100, n_channels=2,
random_state=0)``) with ``make_pipeline(STFT(), VPNNSeparator(), InverseSTFT())`` at the
default model size (hidden_units=512, n_layers=3, n_fft=1024, hop 512), "fitted" for one
epoch on two 2-s tracks: only the compute matters, not the quality.

The floor is measured in the same process, interleaved with the pipeline runs:

* ``STFT+iSTFT``: the bare transforms the pipeline cannot avoid (the STFT of the
  mixture, the inverse STFT of the separated spectrogram, 2 sources x 2 channels);
* ``GEMM rate``: GFLOP/s of ``torch.mm`` at the shape of one output component of a
  hidden vector product layer, ``(chunk, 2 * 512) @ (2 * 512, 512)`` (chunk = 8192
  frames, as ``predict_masks``); a large square product is shown for reference;
* network FLOPs, counted exactly: per frame, 12 * in * out for each hidden vector
  product layer (3 components x 2 * in multiply-adds x out units x 2 FLOPs), i.e.
  513->512, 512->512, 512->512, and 4 * in * out for each of the two heads 512->513,
  which compute only the middle component that the window mapping reads out.

``floor = STFT+iSTFT time + network FLOPs / GEMM rate``. Targets: pipeline / floor
<= 1.5 (no overhead beyond the arithmetic) and real-time factor (audio seconds / wall
seconds) >= 20. Every figure is the median of ``--repeats`` interleaved repetitions;
the machine may be loaded, so read the ratios, not the absolute times.

The same fitted network also runs on an STFT with hop_length=256 (twice the frames,
the default before the recipe changed to hop 512) unless ``--no-hop256`` is given.

Run::

    python benchmarks/bench_speed.py [--duration 180] [--repeats 3] [--no-hop256] [--breakdown]
"""

import argparse
import shlex
import statistics
import sys
import time

import numpy as np
import torch


def fit_default_pipeline(hop_length=None, sample_rate=44100):
    """Default-size pipeline trained for one epoch on two 2-s tracks (compute only)."""
    from sklearn.pipeline import make_pipeline

    from sklearn_vpnn import STFT, InverseSTFT, VPNNSeparator, make_drum_mixtures

    data = make_drum_mixtures(n_tracks=2, duration=2.0, sample_rate=sample_rate, n_channels=2,
                              random_state=1)
    pipe = make_pipeline(STFT(hop_length=hop_length, sample_rate=sample_rate),
                         VPNNSeparator(max_epochs=1, device="cpu", validation_fraction=0,
                                       random_state=0),
                         InverseSTFT())
    return pipe.fit(data.X, data.y)


def network_flops_per_frame(n_bins, hidden=512, n_layers=3, n_sources=2, mapping="window"):
    """GEMM FLOPs of the VPNN per frame that its output needs.

    12 * in * out per hidden vector product layer (3 components x 2 * in multiply-adds
    x out units x 2 FLOPs); a head costs the same for ``mapping="color"``, which reads
    all three output components, and a third of it (4 * in * out) for ``"window"``,
    which reads only the middle one (``VectorProductLinear.forward_component``).
    """
    sizes = [n_bins] + [hidden] * n_layers
    flops = sum(12 * i * o for i, o in zip(sizes[:-1], sizes[1:]))
    per_head = (4 if mapping == "window" else 12) * hidden * n_bins
    return flops + n_sources * per_head


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def gemm_rate(m, k, n, repeats=3):
    """Median GFLOP/s of torch.mm (m, k) @ (k, n), float32."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    out = torch.empty(m, n)
    torch.mm(a, b, out=out)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b, out=out)
        times.append(time.perf_counter() - t0)
    return 2.0 * m * k * n / statistics.median(times) / 1e9


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=180.0, help="seconds of audio (default 180)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-hop256", action="store_true", help="skip the hop_length=256 variant")
    p.add_argument("--breakdown", action="store_true",
                   help="also time predict_masks, the masking product and the bare network")
    args = p.parse_args(argv)

    from sklearn_vpnn import STFT, InverseSTFT, make_drum_mixtures

    sr = 44100
    X = make_drum_mixtures(n_tracks=1, duration=args.duration, sample_rate=sr, n_channels=2,
                           random_state=0).X.astype(np.float32)
    audio_s = X.shape[-1] / sr
    t_fit, pipe = _timed(fit_default_pipeline)
    stft, sep, istft = (s for _, s in pipe.steps)
    variants = {f"hop {stft.hop_length or stft.n_fft // 2} (default)": pipe}
    if not args.no_hop256:
        from sklearn.pipeline import make_pipeline

        # same trained network, twice the frames: the compute is what is measured here
        variants["hop 256"] = make_pipeline(STFT(hop_length=256, sample_rate=sr), sep, InverseSTFT())

    n_bins = stft.n_fft // 2 + 1
    fpf = network_flops_per_frame(n_bins, sep.hidden_units, sep.n_layers, len(sep.sources_),
                                  sep.mapping)
    chunk = 8192

    # precompute the inputs of the bare transforms (not timed)
    specs, seps, frames = {}, {}, {}
    for name, v in variants.items():
        spec = v[0].transform(X)
        specs[name] = spec
        seps[name] = v[1].transform(spec)
        frames[name] = int(spec.n_frames_per_track.sum()) * spec.shape[1]  # x channels

    times = {k: [] for k in ("gemm_layer", "gemm_square")}
    for name in variants:
        for k in ("pipeline", "stft", "istft", "masks", "mask_product", "network"):
            times[(name, k)] = []

    def network_only(v, spec):
        """The module on prepared context stacks, chunk by chunk (no numpy glue)."""
        module = v[1].net_.module_
        module.eval()
        with torch.inference_mode():
            for c in range(spec.shape[1]):
                n_fr = int(spec.n_frames_per_track[0])
                logmag = torch.log(torch.from_numpy(np.abs(spec.data[0, c, :, :n_fr]).T.copy()) + 1e-5)
                t = torch.arange(n_fr)
                ctx = torch.stack([(t - 1).clamp(min=0), t, (t + 1).clamp(max=n_fr - 1)], 1)
                xs = [logmag[ctx[s : s + chunk]] for s in range(0, n_fr, chunk)]
                t0 = time.perf_counter()
                for x in xs:
                    module(x)
                times[(current, "network")][-1] += time.perf_counter() - t0

    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, "
          f"threads={torch.get_num_threads()}, audio {audio_s:.0f} s stereo {sr} Hz, "
          f"repeats={args.repeats} (interleaved, medians); fit took {t_fit:.1f} s", flush=True)
    for r in range(args.repeats):
        times["gemm_layer"].append(gemm_rate(chunk, 2 * sep.hidden_units, sep.hidden_units))
        times["gemm_square"].append(gemm_rate(2048, 2048, 2048, repeats=1))
        for name, v in variants.items():
            current = name
            times[(name, "stft")].append(_timed(lambda: v[0].transform(X))[0])
            times[(name, "istft")].append(_timed(lambda: v[2].transform(seps[name]))[0])
            dt, out = _timed(lambda: v.transform(X))
            assert out.shape == (1, 2, 2, X.shape[-1]), out.shape
            del out
            times[(name, "pipeline")].append(dt)
            if args.breakdown:
                times[(name, "masks")].append(_timed(lambda: v[1].predict_masks(specs[name]))[0])
                times[(name, "mask_product")].append(
                    _timed(lambda: v[1].transform(specs[name]))[0] - times[(name, "masks")][-1])
                times[(name, "network")].append(0.0)
                network_only(v, specs[name])
        print(f"  repeat {r + 1}/{args.repeats}: "
              + ", ".join(f"{n}: {times[(n, 'pipeline')][-1]:.1f} s" for n in variants), flush=True)

    med = {k: statistics.median(v) for k, v in times.items() if v}
    rate = med["gemm_layer"] * 1e9
    print()
    print(f"GEMM rate: {med['gemm_layer']:.1f} GFLOP/s at ({chunk}, {2 * sep.hidden_units}) @ "
          f"({2 * sep.hidden_units}, {sep.hidden_units}) [floor]; "
          f"{med['gemm_square']:.1f} GFLOP/s at 2048^3 (reference)")
    print(f"network: {fpf / 1e6:.2f} MFLOP per frame and channel")
    rows = []
    for name in variants:
        fl = fpf * frames[name]
        net_floor = fl / rate
        bare = med[(name, "stft")] + med[(name, "istft")]
        floor = bare + net_floor
        wall = med[(name, "pipeline")]
        rows.append((name, frames[name], fl / 1e9, bare, net_floor, floor, wall, wall / floor,
                     audio_s / wall, audio_s / floor))
    hdr = (f"{'setting':<18} {'frames':>7} {'GFLOP':>7} {'STFT+iSTFT s':>12} {'net floor s':>11} "
           f"{'floor s':>8} {'pipeline s':>10} {'/ floor':>8} {'RTF':>6} {'floor RTF':>9}")
    print(hdr)
    for r in rows:
        print(f"{r[0]:<18} {r[1]:>7d} {r[2]:>7.0f} {r[3]:>12.2f} {r[4]:>11.2f} {r[5]:>8.2f} "
              f"{r[6]:>10.2f} {r[7]:>8.2f} {r[8]:>6.1f} {r[9]:>9.1f}")
    if args.breakdown:
        print()
        print(f"{'setting':<18} {'predict_masks s':>15} {'network only s':>14} {'net/floor':>9} "
              f"{'mask*X s':>9} {'STFT s':>7} {'iSTFT s':>8}")
        for name in variants:
            net_floor = fpf * frames[name] / rate
            print(f"{name:<18} {med[(name, 'masks')]:>15.2f} {med[(name, 'network')]:>14.2f} "
                  f"{med[(name, 'network')] / net_floor:>9.2f} {med[(name, 'mask_product')]:>9.2f} "
                  f"{med[(name, 'stft')]:>7.2f} {med[(name, 'istft')]:>8.2f}")
    r0 = rows[0]
    print()
    print(f"target pipeline/floor <= 1.5: {'met' if r0[7] <= 1.5 else 'NOT met'} ({r0[7]:.2f}); "
          f"target RTF >= 20: {'met' if r0[8] >= 20 else 'NOT met'} ({r0[8]:.1f}; the floor "
          f"itself allows {r0[9]:.1f} at this GEMM rate)")
    print("command: python " + " ".join(shlex.quote(a) for a in [sys.argv[0]] + list(argv or sys.argv[1:])))


if __name__ == "__main__":
    main()
