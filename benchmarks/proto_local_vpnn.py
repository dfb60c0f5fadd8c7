"""A prototype: a vector product network shared across frequency, trained like the default.

The default window VPNN reads every bin's context vectors through one dense first layer
(``3 K n_bins`` inputs per hidden unit), so each of its 1.2 M first-layer weight vectors
is learnt from 80 clips. This prototype asks whether sharing the weights across
frequency generalises better on so little data: for every bin, the same small vector
product network reads the context vectors ``(t - s, t, t + s)`` of the ``2 r + 1``
neighbouring bins (``--radius``) at every stride, plus a learnt per-bin bias on its
first layer (where in the spectrum it is), and gives that bin's masks; the sources'
masks sum to one as in the default. A training batch computes and scores the masks of
``--train-bins`` random bins of its frames (a bin's mask depends only on its own band,
so this is an unbiased sample of the loss at a fraction of the cost; validation and
separation compute every bin). Everything else is the default recipe's:
``VPNNSeparator``'s data, augmentation, phase-sensitive loss, Adam, weight average and
30 epochs (only the network differs; ``--params`` passes separator parameters), scored
on the 14 ``valid`` clips like ``bench_recipe.py`` (framewise SDR = museval's SDR).

Not part of the library: the network has no fast separation path (it runs frame
batches through autograd-free torch) and no model file format.

Run (from the repository root)::

    MUSDB_PATH=../shared/data/musdb18-7 python benchmarks/proto_local_vpnn.py --threads 1 \\
        --radius 4 --hidden 32 --train-bins 128 --json recipes.jsonl --name local_r4_h32
"""

import argparse
import json
import os
import shlex
import sys
import time

import numpy as np
import torch
from torch import nn


def _cross_matrix(weight):
    """``(3 in, 3 out)`` matrix of a vector product layer's map on component-major rows.

    ``z = a @ M`` equals the layer's ``sum_j W_ij x a_j``: with ``(W x a)_x = W_y a_z -
    W_z a_y`` and its cyclic permutations. One GEMM of inner dimension ``3 in`` (a third
    of its products are by zero) instead of six of inner dimension ``in``: for the
    prototype's narrow layers over ``n_bins`` times more rows, the faster form.
    """
    wx, wy, wz = (w.t() for w in weight.unbind(-1))  # (in, out) each
    zero = torch.zeros_like(wx)
    return torch.cat([torch.cat([zero, wz, -wy], 1),    # rows of a_x: z_y += W_z a_x, z_z -= W_y a_x
                      torch.cat([-wz, zero, wx], 1),    # rows of a_y
                      torch.cat([wy, -wx, zero], 1)])   # rows of a_z


def _cross_layer(layer, rows):
    """``layer`` (a VectorProductLinear) on ``(N, 3 in)`` rows as one GEMM: ``(N, 3 out)``."""
    return torch.addmm(layer.bias.t().reshape(-1), rows, _cross_matrix(layer.weight))


class LocalVPNN(nn.Module):
    """Per-bin vector product network over a band of ``2 radius + 1`` bins (see the module docstring)."""

    def __init__(self, n_bins, n_sources, hidden, n_layers, n_scales, radius, train_bins=None,
                 activation=nn.ReLU):
        super().__init__()
        self.train_bins, self.bins = train_bins, None
        from sklearn_vpnn.nn import TimeFrequencyMask, VectorProductLinear

        self.n_bins, self.n_scales, self.radius = n_bins, n_scales, radius
        n_in = n_scales * (2 * radius + 1)
        sizes = [n_in] + [hidden] * n_layers
        self.hidden = nn.ModuleList(VectorProductLinear(i, o, component_dim=-2, gain=1.0 if k == 0 else 2 ** 0.5)
                                    for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])))
        self.where = nn.Parameter(torch.zeros(n_bins, 3, hidden))  # per-bin bias of the first layer
        self.head = VectorProductLinear(hidden, n_sources, component_dim=-2, gain=2 ** 0.5)
        self.act = activation()
        self.mask = TimeFrequencyMask()

    def forward(self, x):  # (B, 3 K, F) normalised context stacks
        B, _, F = x.shape
        r, K = self.radius, self.n_scales
        v = nn.functional.pad(x.view(B, K, 3, F), (r, r))  # zeros (the mean) beyond the edges
        v = v.unfold(3, 2 * r + 1, 1)  # (B, K, 3, F, 2r+1)
        where = self.where.view(F, -1)
        self.bins = None
        if self.training and self.train_bins and self.train_bins < F:
            # training: the masks of a random subset of bins (the same for the batch); the
            # loss reads those bins' targets (_SubsetNet.get_loss)
            self.bins = torch.randperm(F)[: self.train_bins].sort().values
            v, where, F = v[:, :, :, self.bins], where[self.bins], self.train_bins
        rows = v.permute(0, 3, 2, 1, 4).reshape(B * F, 3 * K * (2 * r + 1))  # component-major
        h = _cross_layer(self.hidden[0], rows).view(B, F, -1) + where
        h = self.act(h.view(B * F, -1))
        for layer in self.hidden[1:]:
            h = self.act(_cross_layer(layer, h))
        out = _cross_layer(self.head, h).view(B, F, 3, -1)[:, :, 1]  # the middle component, (B, F, S)
        return self.mask(out.transpose(1, 2))  # (B, S, F)


def _local_mask_net(radius, hidden_local, train_bins):
    from sklearn_vpnn.nn import MaskNet

    class LocalMaskNet(MaskNet):
        """MaskNet's normalisation (statistics as buffers) in front of a LocalVPNN."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.model = LocalVPNN(self.mean.shape[0], kwargs.get("n_sources", 2), hidden_local,
                                   kwargs.get("n_layers", 3), len(self.context_strides), radius, train_bins)

    return LocalMaskNet


def _masks(module, spec, chunk=256):
    """Masks ``(n_tracks, S, C, F, T)`` of a Spectrogram, frame batches through the module."""
    from sklearn_vpnn.nn import context_indices

    out = []
    with torch.inference_mode():
        for t in range(spec.shape[0]):
            per_ch = []
            for c in range(spec.shape[1]):
                mag = torch.from_numpy(np.abs(spec.data[t, c]).T.copy())  # (T, F)
                feats = module.normalise(torch.log(mag + 1e-5))
                idx = context_indices(mag.shape[0], strides=module.context_strides)
                m = torch.cat([module.model(feats[idx[i:i + chunk]]) for i in range(0, len(idx), chunk)])
                per_ch.append(m.permute(1, 2, 0).numpy())  # (S, F, T)
            out.append(np.stack(per_ch, 1))
    return np.stack(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--musdb-root", default=os.environ.get("MUSDB_PATH"))
    p.add_argument("--radius", type=int, default=4, help="neighbouring bins on each side")
    p.add_argument("--hidden", type=int, default=32, help="vector units of the per-bin network")
    p.add_argument("--train-bins", type=int, default=128,
                   help="bins per training batch whose masks are computed and scored (0: all)")
    p.add_argument("--params", default="{}", help="JSON dict of VPNNSeparator parameters")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--name", default="local")
    p.add_argument("--json", default=None, help="append one JSON line with every clip's SDR")
    args = p.parse_args(argv)
    if not args.musdb_root:
        sys.exit("proto_local_vpnn: set MUSDB_PATH or --musdb-root")
    if args.threads:
        torch.set_num_threads(args.threads)
    from sklearn_vpnn import STFT, InverseSTFT, Spectrogram, VPNNSeparator, load_musdb, sdr
    from sklearn_vpnn.separator import SeparatorNet

    print("command: python " + " ".join(shlex.quote(a) for a in [sys.argv[0]] + list(argv or sys.argv[1:])))
    params = json.loads(args.params)
    Net = _local_mask_net(args.radius, args.hidden, args.train_bins)

    class SubsetNet(SeparatorNet):
        def get_loss(self, y_pred, y_true, X=None, training=False):
            if y_pred.shape[-1] != y_true.shape[-1]:  # a training batch of some bins
                y_true = y_true[..., self.module_.model.bins]
            return super().get_loss(y_pred, y_true, X, training)

    class LocalSeparator(VPNNSeparator):
        def _make_net(self, module_kwargs, seed, valid_ds, tmpdir, device):
            net = super()._make_net(module_kwargs, seed, valid_ds, tmpdir, device)
            net.__class__ = SubsetNet
            return net.set_params(module=Net)

    train = load_musdb(args.musdb_root, subsets="train", split="train")
    valid = load_musdb(args.musdb_root, subsets="train", split="valid")
    sr = int(train.sample_rate)
    stft = STFT(sample_rate=sr)
    sep = LocalSeparator(random_state=args.seed, **params)
    t0 = time.monotonic()
    sep.fit(stft.fit_transform(train.X), train.y)
    fit_min = (time.monotonic() - t0) / 60
    module = sep.net_.module_
    n_par = sum(p.numel() for p in module.model.parameters())
    print(f"fit: {fit_min:.1f} min, {sep.n_epochs_} epochs, {n_par:,} parameters (torch threads "
          f"{torch.get_num_threads()})")
    for row in sep.history_:
        print("  " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
    spec = stft.transform(valid.X)
    masks = _masks(module, spec)
    est = Spectrogram((masks * spec.data[:, np.newaxis]).astype(np.complex64), spec.lengths, spec.params,
                      sep.sources_)
    s = sdr(valid.y, InverseSTFT().fit(spec).transform(est), sample_rate=sr, method="framewise")
    print(f"drums SDR {np.nanmedian(s[:, 0]):.2f} dB, accompaniment SDR {np.nanmedian(s[:, 1]):.2f} dB "
          f"(valid, {len(s)} clips, no Wiener)")
    if args.json:
        row = {"name": args.name, "seed": args.seed, "stft": {}, "params": {**params, "radius": args.radius,
               "hidden_local": args.hidden, "train_bins": args.train_bins}, "dnn": False, "kits": 0, "fit_min": round(fit_min, 2),
               "epochs": int(sep.n_epochs_), "threads": torch.get_num_threads(),
               "drums": float(np.nanmedian(s[:, 0])), "accompaniment": float(np.nanmedian(s[:, 1])),
               "drums_tracks": [float(v) for v in s[:, 0]], "accompaniment_tracks": [float(v) for v in s[:, 1]]}
        with open(args.json, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
