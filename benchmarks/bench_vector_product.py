"""Throughput of VectorProductLinear against a dense nn.Linear doing the same useful work.

A 1024 -> 1024 vector product layer does, per frame and forward pass,
3 components x (2 * 1024) multiply-adds x 1024 outputs = 6 * 1024**2 MACs
(12 * 1024**2 FLOPs). nn.Linear(2048, 3072) does 2048 * 3072 = 6 * 1024**2 MACs: the
same useful work, on BLAS's favourite problem. Forward + backward is three such
products (output, input gradient, weight gradient) for both.

Both run in the same process, interleaved, on a 4096-frame batch; the table shows the
median wall time per forward+backward step, useful GFLOP/s, and the ratio to the dense
layer's rate (target >= 0.8). Threads: torch's default.

Run::

    python benchmarks/bench_vector_product.py [--frames 4096] [--units 1024] [--repeats 15]
"""

import argparse
import statistics
import time

import torch
from torch import nn

from sklearn_vpnn.nn import VectorProductLinear


def _step(module, x):
    x.grad = None
    module.zero_grad(set_to_none=True)
    module(x).sum().backward()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=4096)
    parser.add_argument("--units", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args(argv)
    n, u = args.frames, args.units
    torch.manual_seed(0)

    cases = {
        "dense nn.Linear(%d->%d)" % (2 * u, 3 * u): (nn.Linear(2 * u, 3 * u), torch.randn(n, 2 * u)),
        "VP %d->%d, (N, 3, units)" % (u, u): (
            VectorProductLinear(u, u, component_dim=-2), torch.randn(n, 3, u)),
        "VP %d->%d, (N, units, 3)" % (u, u): (
            VectorProductLinear(u, u, component_dim=-1), torch.randn(n, u, 3)),
    }
    for _, x in cases.values():
        x.requires_grad_(True)
    useful_flops = 3 * 12 * u * u * n  # fwd + 2 backward products, 2 FLOPs per MAC

    times = {name: [] for name in cases}
    for _ in range(args.warmup):
        for module, x in cases.values():
            _step(module, x)
    for _ in range(args.repeats):  # interleaved: drift hits every case alike
        for name, (module, x) in cases.items():
            t0 = time.perf_counter()
            _step(module, x)
            times[name].append(time.perf_counter() - t0)

    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, frames={n}, "
          f"units={u}, repeats={args.repeats} (median), fwd+bwd useful "
          f"{useful_flops / 1e9:.1f} GFLOP per step")
    dense_name = next(iter(cases))
    dense_rate = useful_flops / statistics.median(times[dense_name])
    print(f"{'case':<30} {'median ms':>10} {'GFLOP/s':>9} {'vs dense':>9}")
    for name in cases:
        med = statistics.median(times[name])
        rate = useful_flops / med
        print(f"{name:<30} {med * 1e3:>10.1f} {rate / 1e9:>9.1f} {rate / dense_rate:>9.2f}")


if __name__ == "__main__":
    main()
