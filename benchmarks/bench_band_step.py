"""CPU time of one training step of the band network, alone and in the default pair.

A training step (forward, loss, backward, Adam) of
:class:`~sklearn_vpnn.nn.BandVPNN` as the default trains it (513 bins, 32 units, 3
layers, three context strides, ``radius=4``, masks of 128 random bins per batch of
256 frames) and of the default's :class:`~sklearn_vpnn.nn.MaskNet` (that band network
and the dense window VPNN of 256 units, each on its own loss), on random inputs,
timed in *process CPU time* (``time.process_time``): the measure least disturbed by
other jobs on the machine, unlike wall time. ``--profile`` adds torch.profiler's
table of the band network's step (operators by their own CPU time, with shapes).

Run (from the repository root; old code from a git worktree)::

    python benchmarks/bench_band_step.py --threads 1
    PYTHONPATH=<worktree> python <worktree>/benchmarks/bench_band_step.py --threads 1
"""

import argparse
import time


def _stepper(module, x, target, torch):
    from sklearn_vpnn.nn import DiscriminativeMSELoss
    from sklearn_vpnn.separator import mask_loss

    criterion = DiscriminativeMSELoss(gamma=0.05)
    optimizer = torch.optim.Adam(module.parameters(), fused=True)

    def step():
        optimizer.zero_grad(set_to_none=True)
        mask_loss(criterion, module, module(x), target).backward()
        optimizer.step()

    return step


def _cpu_ms(step, repeats):
    for _ in range(3):
        step()
    t = time.process_time()
    for _ in range(repeats):
        step()
    return 1e3 * (time.process_time() - t) / repeats


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--profile", action="store_true", help="torch.profiler table of the band network's step")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from sklearn_vpnn.nn import MaskNet

    torch.manual_seed(0)
    common = dict(context_strides=(1, 4, 16), band_radius=4, band_bins=128)
    band = MaskNet("vpnn", 513, hidden_units=32, **common).train()
    pair = MaskNet("vpnn", 513, hidden_units=32, dense_units=256, dense_join="masks", **common).train()
    x = torch.randn(256, 9, 513)
    target = torch.rand(256, 3, 513)  # mixture, drums, accompaniment magnitudes
    for name, module in (("band network alone", band), ("default pair (band + dense)", pair)):
        ms = _cpu_ms(_stepper(module, x, target, torch), args.repeats)
        print(f"{name}: {ms:.1f} ms CPU per training step ({args.threads} thread(s))", flush=True)
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        step = _stepper(band, x, target, torch)
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            for _ in range(5):
                step()
        print(prof.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=20))


if __name__ == "__main__":
    main()
