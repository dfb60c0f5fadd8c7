"""Speed of separating a 3-minute stereo track, as a ratio to the arithmetic floor.

Separates one synthetic 3-minute stereo 44.1 kHz track
(``make_drum_mixtures(n_tracks=1, duration=180, sample_rate=44100, n_channels=2,
random_state=0)``) with ``make_pipeline(STFT(), VPNNSeparator(), InverseSTFT())`` at
the default model size, and with each ``--params`` variant (separator parameters as
JSON; by default the previous default, the dense network alone, ``{"band_radius":
null}``; the paper's window is ``{"band_radius": null, "context_strides": [1],
"hidden_units": 512}``). Each model is "fitted" for one epoch on two 2-s tracks: only
the compute matters, not the quality.

The floor is measured in the same process, interleaved with the pipeline runs:

* ``STFT+iSTFT``: the bare transforms the pipeline cannot avoid (the STFT of the
  mixture, the inverse STFT of the separated spectrogram held in memory, 2 sources x
  2 channels);
* ``GEMM rate``: GFLOP/s of ``torch.mm`` at ``(8192, 1024) @ (1024, 512)``, the
  shape of one output component of a 512-unit hidden layer (the same shape for
  every variant; a variant's own hidden shape, which runs slower when smaller, and
  a 2048^3 product are shown for reference);
* network FLOPs per frame and channel, counted exactly as the network runs
  (:class:`~sklearn_vpnn.nn.FrameMasker`): ``12 * in * out`` for each hidden vector
  product layer after the first (3 components x 2 * in multiply-adds x out units x 2
  FLOPs), ``6 * K * n_bins * out`` for the window VPNN's first layer (``K`` strides:
  one product per frame and weight component, not per gathered window; the
  ``12 * K * n_bins * out`` of gathered windows is shown as "as trained"), and
  ``4 * in * out`` per head (only the middle component is read out).

A band network (``band_radius``, :class:`~sklearn_vpnn.nn.BandVPNN`) counts ``12 * in
* out`` per layer and ``4 * band_units * n_sources`` for its head, per bin (it runs
3/2 of that: its products include the zeros of its cross-product matrices), plus the
dense network beside it (``hidden_units``): as the window VPNN runs when their masks
are averaged (``band_join="masks"``, the default), on gathered windows when their
outputs are summed.

``floor = STFT+iSTFT time + network FLOPs / GEMM rate``, times ``shifts`` for a
separator that separates on several frame grids (``shifts > 1``; the default separates
on one: each grid needs its STFT, its network pass and its inverse; averaging them is
overhead). A default with ``shifts > 1`` is also run with ``shifts=1`` ("default, one
grid"), the same model. Targets for the default
model (set when it was the dense network alone; the band network beside it does 3.6
times its arithmetic, so the default's real-time factor cannot reach the second): pipeline / floor <= 1.2 and real-time factor (audio seconds / wall seconds)
>= 60. Every figure is the median of ``--repeats`` interleaved repetitions; the
machine may be loaded, so read the ratios, not the absolute times.

``--breakdown`` adds, per model, the time of each stage (STFT, features, the network
alone, the masking product: the separator's output read whole into memory, minus the
network; iSTFT; "fused": the inverse STFT of the separator's output as it is computed,
chunk by chunk, which is what the pipeline runs; predict_masks) and the command line's
file path:
``separate_file`` on a float WAV of the track at 44.1 kHz (the model's rate) and at
48 kHz (resampled both ways), against the in-memory ``Pipeline.transform``, the same
chunked separation in memory (``chunking.separate_long``, 30-s chunks, 1-s
crossfade) and reading/writing the WAVs alone (soundfile). Target: the 44.1 kHz file
path within 1.1x of ``Pipeline.transform``.

Run::

    python benchmarks/bench_speed.py [--duration 180] [--repeats 3] [--breakdown]
        [--params '{"context_strides": [1], "hidden_units": 512}'] [--hop256]
"""

import argparse
import copy
import json
import os
import shlex
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

PREVIOUS_DEFAULT = '{"band_radius": null}'
FLOOR_SHAPE = (8192, 1024, 512)


def fit_pipeline(params=None, hop_length=None, sample_rate=44100):
    """Pipeline with ``VPNNSeparator(**params)`` trained for one epoch on two 2-s tracks."""
    from sklearn.pipeline import make_pipeline

    from sklearn_vpnn import STFT, InverseSTFT, VPNNSeparator, make_drum_mixtures

    data = make_drum_mixtures(n_tracks=2, duration=2.0, sample_rate=sample_rate, n_channels=2,
                              random_state=1)
    sep = VPNNSeparator(max_epochs=1, device="cpu", validation_fraction=0, random_state=0,
                        **(params or {}))
    pipe = make_pipeline(STFT(hop_length=hop_length, sample_rate=sample_rate), sep, InverseSTFT())
    return pipe.fit(data.X, data.y)


def fit_default_pipeline(hop_length=None, sample_rate=44100):
    """Default-size pipeline trained for one epoch on two 2-s tracks (compute only)."""
    return fit_pipeline(None, hop_length, sample_rate)


def network_flops_per_frame(n_bins, hidden=512, n_layers=3, n_sources=2, mapping="window",
                            n_scales=1, as_run=True):
    """GEMM FLOPs of the VPNN per frame and channel that its output needs.

    ``12 * in * out`` per hidden vector product layer; the window VPNN's first layer
    runs as ``6 * K * n_bins * out`` (per-frame products, ``as_run=True``) instead of
    the ``12 * K * n_bins * out`` of gathered windows; a head costs ``4 * in * out``
    for ``mapping="window"`` (middle component only) and ``12 * in * out`` for
    ``"color"``.
    """
    sizes = [n_scales * n_bins] + [hidden] * n_layers
    layers = [12 * i * o for i, o in zip(sizes[:-1], sizes[1:])]
    if as_run and mapping == "window":
        layers[0] //= 2
    per_head = (4 if mapping == "window" else 12) * hidden * n_bins
    return sum(layers) + n_sources * per_head


def band_flops_per_frame(n_bins, hidden, n_layers, n_sources, n_scales, radius):
    """GEMM FLOPs per frame and channel that a :class:`~sklearn_vpnn.nn.BandVPNN`'s output needs.

    Per bin, ``12 * in * out`` per vector product layer (``in = n_scales * (2 radius
    + 1)`` vectors for the first) and ``4 * hidden * n_sources`` for the head (its
    middle component); the network runs ``3/2`` of this, the zeros of its
    cross-product matrices included.
    """
    sizes = [n_scales * (2 * radius + 1)] + [hidden] * n_layers
    per_bin = sum(12 * i * o for i, o in zip(sizes[:-1], sizes[1:])) + 4 * hidden * n_sources
    return n_bins * per_bin


def _flops(sep, n_bins, as_run=True):
    """A fitted separator's network FLOPs per frame and channel (its dense network's, and its band network's)."""
    net = sep.net_.module_
    K = len(net.context_strides) * (2 if net.stereo else 1)
    S = len(sep.sources_)
    if getattr(sep, "band_radius", None) is None:
        return network_flops_per_frame(n_bins, sep.hidden_units, sep.n_layers, S, sep.mapping, K, as_run=as_run)
    flops = band_flops_per_frame(n_bins, sep.band_units, sep.n_layers, S, K, sep.band_radius)
    dense = getattr(net, "dense", None)
    if dense is not None:  # by the window path when averaged with the band network, else on gathered windows
        window_path = as_run and getattr(net, "dense_join", "outputs") == "masks"
        flops += network_flops_per_frame(n_bins, dense.hidden_units, sep.n_layers, S, "window", K,
                                         as_run=window_path)
    return flops


_CPU = []  # CPU seconds (all threads of the process) of the last _timed call


def _timed(fn):
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    _CPU[:] = [time.process_time() - c0]
    return time.perf_counter() - t0, out


def gemm_rate(m, k, n, repeats=3, cpu=False):
    """Median GFLOP/s of torch.mm (m, k) @ (k, n), float32 (per CPU second with ``cpu=True``)."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    out = torch.empty(m, n)
    torch.mm(a, b, out=out)  # warm-up
    times, cpus = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        torch.mm(a, b, out=out)
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    flop = 2.0 * m * k * n / 1e9
    return (flop / statistics.median(times), flop / statistics.median(cpus)) if cpu else flop / statistics.median(times)


_POOL = {}


def _parallel(fn, items):
    """``[fn(i) for i in items]`` as the separator runs them: on torch's threads, one torch thread each."""
    n = torch.get_num_threads()
    if n <= 1:
        return [fn(i) for i in items]
    if n not in _POOL:
        _POOL[n] = ThreadPoolExecutor(n, initializer=torch.set_num_threads, initargs=(1,))
    out = list(_POOL[n].map(fn, items))
    torch.set_num_threads(n)  # a worker's start set the process-wide default to 1
    return out


def _maskers(sep):
    from sklearn_vpnn.nn import FrameMasker

    maskers = {}

    def masker():  # one per thread, as the separator (each has its own buffers)
        key = threading.get_ident()
        if key not in maskers:
            maskers[key] = FrameMasker(sep.net_.module_)
        return maskers[key]

    return masker


def features_only(sep, spec):
    """The network's input (normalised log-magnitudes) of every channel."""
    masker = _maskers(sep)
    n = spec.n_frames_per_track
    return _parallel(lambda ic: masker().features(spec.data[ic], int(n[ic[0]])),
                     [(i, c) for i in range(len(spec)) for c in range(spec.shape[1])])


def network_only(sep, spec):
    """The masks of every frame, as ``transform`` computes them, written nowhere."""
    masker = _maskers(sep)
    feats = features_only(sep, spec)
    seqs = [(i, c) for i in range(len(spec)) for c in range(spec.shape[1])]

    def chunk(item):
        k, a, b = item
        with torch.inference_mode():
            masker().chunk_masks(feats[k], a, b)

    _parallel(chunk, [(k, a, b) for k, (i, c) in enumerate(seqs)
                      for a, b in masker().spans(int(spec.n_frames_per_track[i]))])


class FilePath:
    """The command line's file path: ``separate_file`` on WAVs of the track, and its parts."""

    def __init__(self, pipe, X, sr, tmp):
        import soundfile as sf
        import soxr

        from sklearn_vpnn import save_model
        from sklearn_vpnn.separate import open_model

        self.pipe, self.X, self.sr, self.tmp = pipe, X, sr, tmp
        save_model(pipe, os.path.join(tmp, "model.safetensors"), overwrite=True)
        self.model = open_model(os.path.join(tmp, "model.safetensors"))
        self.wav = os.path.join(tmp, "track.wav")
        sf.write(self.wav, X[0].T, sr, subtype="FLOAT")
        self.wav48 = os.path.join(tmp, "track48.wav")
        sf.write(self.wav48, soxr.resample(X[0].T, sr, 48000, quality="HQ"), 48000, subtype="FLOAT")

    def separate(self, path):
        from sklearn_vpnn.separate import separate_file

        separate_file(self.model, path, os.path.join(self.tmp, "out"), overwrite=True, progress=False)

    def chunked(self):
        from sklearn_vpnn.chunking import separate_long

        separate_long(self.pipe, self.X[0], 30 * self.sr, self.sr)

    def read(self):
        import soundfile as sf

        sf.read(self.wav, dtype="float32", always_2d=True)

    def write(self):
        import soundfile as sf

        for s in range(2):  # two stems, as float WAVs
            sf.write(os.path.join(self.tmp, f"stem{s}.wav"), self.X[0].T, self.sr, subtype="FLOAT")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=180.0, help="seconds of audio (default 180)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--params", action="append", default=None,
                   help=f"separator parameters of another model, as JSON (repeatable; default "
                        f"{PREVIOUS_DEFAULT}; '{{}}' for none)")
    p.add_argument("--hop256", action="store_true",
                   help="also run the default network on an STFT with hop_length=256")
    p.add_argument("--breakdown", action="store_true",
                   help="also time each stage and the command line's file path")
    args = p.parse_args(argv)

    from sklearn.pipeline import make_pipeline

    from sklearn_vpnn import STFT, InverseSTFT, Spectrogram, make_drum_mixtures

    sr = 44100
    X = make_drum_mixtures(n_tracks=1, duration=args.duration, sample_rate=sr, n_channels=2,
                           random_state=0).X.astype(np.float32)
    audio_s = X.shape[-1] / sr
    t_fit, pipe = _timed(fit_default_pipeline)
    variants = {"default": pipe}
    if pipe[1].shifts > 1:  # the same model on one frame grid
        one = copy.deepcopy(pipe)
        one[1].set_params(shifts=1)
        variants["default, one grid"] = one
    for text in args.params or [PREVIOUS_DEFAULT]:
        params = json.loads(text)
        if params:
            variants[json.dumps(params, separators=(",", ":"))] = fit_pipeline(params)
    if args.hop256:
        variants["default, hop 256"] = make_pipeline(STFT(hop_length=256, sample_rate=sr), pipe[1],
                                                     InverseSTFT())

    info, specs, seps = {}, {}, {}
    for name, v in variants.items():
        stft, sep = v[0], v[1]
        n_bins = stft.n_fft // 2 + 1
        spec = stft.transform(X)
        # the separated values, read once: the floor's iSTFT inverts them as they are
        specs[name] = spec
        seps[name] = Spectrogram(np.asarray(sep.transform(spec)), spec.lengths, spec.params,
                                 sep.sources_)
        info[name] = dict(
            frames=int(spec.n_frames_per_track.sum()) * spec.shape[1],  # x channels
            fpf=_flops(sep, n_bins), fpf_trained=_flops(sep, n_bins, as_run=False),
            hidden=sep.hidden_units, strides=tuple(sep.net_.module_.context_strides), shifts=sep.shifts)
    stages = ["pipeline", "stft", "istft"]
    if args.breakdown:
        stages += ["features", "network", "separator", "fused", "masks"]
    times = {"gemm_floor": [], "gemm_floor_cpu": [], "gemm_square": []}
    times.update({(n, k): [] for n in variants for k in stages})
    times.update({(n, k, "cpu"): [] for n in variants for k in ("stft", "istft", "pipeline")})
    hiddens = sorted({i["hidden"] for i in info.values()})
    times.update({("gemm_hidden", h): [] for h in hiddens})
    files = None
    if args.breakdown:
        tmp = tempfile.mkdtemp(prefix="bench-speed-")
        files = FilePath(pipe, X, sr, tmp)
        for k in ("file", "file48", "chunked", "read", "write"):
            times[k] = []
        files.separate(files.wav)  # warm-up (and the outputs exist for overwrite=True)

    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, "
          f"threads={torch.get_num_threads()}, audio {audio_s:.0f} s stereo {sr} Hz, "
          f"repeats={args.repeats} (interleaved, medians); fit took {t_fit:.1f} s; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    for r in range(args.repeats):
        wall_rate, cpu_rate = gemm_rate(*FLOOR_SHAPE, cpu=True)
        times["gemm_floor"].append(wall_rate)
        times["gemm_floor_cpu"].append(cpu_rate)
        times["gemm_square"].append(gemm_rate(2048, 2048, 2048, repeats=1))
        for h in hiddens:
            times[("gemm_hidden", h)].append(gemm_rate(2048, 2 * h, h))
        for name, v in variants.items():
            spec = specs[name]
            for k, fn in (("stft", lambda: v[0].transform(X)), ("istft", lambda: v[2].transform(seps[name])),
                          ("pipeline", lambda: v.transform(X))):
                dt, out = _timed(fn)
                times[(name, k)].append(dt)
                times[(name, k, "cpu")].append(_CPU[0])
                del out
            if args.breakdown:
                times[(name, "features")].append(_timed(lambda: features_only(v[1], spec))[0])
                times[(name, "network")].append(_timed(lambda: network_only(v[1], spec))[0])
                # transform's values read whole (into fresh memory), and inverted as they come
                times[(name, "separator")].append(_timed(lambda: np.asarray(v[1].transform(spec)))[0])
                times[(name, "fused")].append(_timed(lambda: v[2].transform(v[1].transform(spec)))[0])
                times[(name, "masks")].append(_timed(lambda: v[1].predict_masks(spec))[0])
        if files is not None:
            times["file"].append(_timed(lambda: files.separate(files.wav))[0])
            times["file48"].append(_timed(lambda: files.separate(files.wav48))[0])
            times["chunked"].append(_timed(files.chunked)[0])
            times["read"].append(_timed(files.read)[0])
            times["write"].append(_timed(files.write)[0])
        print(f"  repeat {r + 1}/{args.repeats}: "
              + ", ".join(f"{n}: {times[(n, 'pipeline')][-1]:.2f} s" for n in variants)
              + (f", file: {times['file'][-1]:.2f} s" if files else ""), flush=True)

    med = {k: statistics.median(v) for k, v in times.items() if v}
    rate = med["gemm_floor"] * 1e9
    print()
    print(f"GEMM rate: {med['gemm_floor']:.1f} GFLOP/s at ({FLOOR_SHAPE[0]}, {FLOOR_SHAPE[1]}) @ "
          f"({FLOOR_SHAPE[1]}, {FLOOR_SHAPE[2]}) [floor]; "
          + "; ".join(f"{med[('gemm_hidden', h)]:.1f} at (2048, {2 * h}) @ ({2 * h}, {h})" for h in hiddens)
          + f"; {med['gemm_square']:.1f} at 2048^3 (reference)")
    for name in variants:
        i = info[name]
        print(f"network {name}: {i['fpf'] / 1e6:.2f} MFLOP per frame and channel as run "
              f"({i['fpf_trained'] / 1e6:.2f} on gathered windows, as trained)")
    rows = []
    for name in variants:
        k = info[name]["shifts"]  # frame grids: each one STFT, one network pass, one inverse
        fl = k * info[name]["fpf"] * info[name]["frames"]
        net_floor = fl / rate
        bare = k * (med[(name, "stft")] + med[(name, "istft")])
        floor = bare + net_floor
        wall = med[(name, "pipeline")]
        rows.append((name, info[name]["frames"], fl / 1e9, bare, net_floor, floor, wall, wall / floor,
                     audio_s / wall, audio_s / floor))
    w = max(18, max(len(n) for n in variants))
    print(f"{'model':<{w}} {'frames':>7} {'GFLOP':>6} {'STFT+iSTFT s':>12} {'net floor s':>11} "
          f"{'floor s':>8} {'pipeline s':>10} {'/ floor':>8} {'RTF':>6} {'floor RTF':>9}")
    for r in rows:
        print(f"{r[0]:<{w}} {r[1]:>7d} {r[2]:>6.0f} {r[3]:>12.2f} {r[4]:>11.2f} {r[5]:>8.2f} "
              f"{r[6]:>10.2f} {r[7]:>8.2f} {r[8]:>6.1f} {r[9]:>9.1f}")
    print()
    print(f"the same in CPU seconds (all threads; less sensitive to other jobs than wall time): "
          f"GEMM {med['gemm_floor_cpu']:.1f} GFLOP per CPU second at the floor shape")
    print(f"{'model':<{w}} {'STFT+iSTFT':>10} {'net floor':>9} {'floor':>6} {'pipeline':>8} {'/ floor':>8}")
    for name in variants:
        k = info[name]["shifts"]
        bare = k * (med[(name, "stft", "cpu")] + med[(name, "istft", "cpu")])
        net = k * info[name]["fpf"] * info[name]["frames"] / (med["gemm_floor_cpu"] * 1e9)
        pipe_cpu = med[(name, "pipeline", "cpu")]
        print(f"{name:<{w}} {bare:>10.2f} {net:>9.2f} {bare + net:>6.2f} {pipe_cpu:>8.2f} "
              f"{pipe_cpu / (bare + net):>8.2f}")
    if args.breakdown:
        print()
        print(f"{'model':<{w}} {'STFT':>6} {'features':>8} {'network':>8} {'net/floor':>9} "
              f"{'mask*X':>7} {'iSTFT':>6} {'fused':>6} {'fused/(net+iSTFT)':>17} {'other':>6} "
              f"{'pipeline':>8} {'predict_masks':>13}  (s)")
        for r, name in zip(rows, variants):
            g = lambda k: med[(name, k)]  # noqa: E731
            product = g("separator") - g("network")
            other = g("pipeline") - g("stft") - g("fused")
            print(f"{name:<{w}} {g('stft'):>6.2f} {g('features'):>8.2f} {g('network'):>8.2f} "
                  f"{g('network') * info[name]['shifts'] / r[4]:>9.2f} {product:>7.2f} {g('istft'):>6.2f} {g('fused'):>6.2f} "
                  f"{g('fused') / (g('network') + g('istft')):>17.2f} {other:>6.2f} "
                  f"{g('pipeline'):>8.2f} {g('masks'):>13.2f}")
        base = med[("default", "pipeline")]
        print()
        print("file path (default model; 30-s chunks, 1-s crossfade):")
        for k, what in (("chunked", "separate_long, in memory"),
                        ("file", "separate_file, 44.1 kHz float WAV"),
                        ("file48", "separate_file, 48 kHz float WAV (resampled both ways)"),
                        ("read", "reading the 44.1 kHz WAV alone"),
                        ("write", "writing two stems alone")):
            print(f"  {what:<56} {med[k]:6.2f} s  {med[k] / base:5.2f}x Pipeline.transform  "
                  f"RTF {audio_s / med[k]:6.1f}")
    r0 = rows[0]
    print()
    print(f"target pipeline/floor <= 1.2: {'met' if r0[7] <= 1.2 else 'NOT met'} ({r0[7]:.2f}); "
          f"target RTF >= 60: {'met' if r0[8] >= 60 else 'NOT met'} ({r0[8]:.1f}; the floor "
          f"itself allows {r0[9]:.1f} at this GEMM rate)"
          + (f"; target file path <= 1.1x Pipeline.transform: "
             f"{'met' if med['file'] <= 1.1 * med[('default', 'pipeline')] else 'NOT met'} "
             f"({med['file'] / med[('default', 'pipeline')]:.2f})" if args.breakdown else ""))
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print("command: python " + " ".join(shlex.quote(a) for a in [sys.argv[0]] + list(argv or sys.argv[1:])))


if __name__ == "__main__":
    main()
