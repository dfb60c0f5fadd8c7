"""Source separators as scikit-learn estimators, trained by skorch.

:class:`VPNNSeparator` and :class:`DNNSeparator` sit between :class:`~sklearn_vpnn.STFT`
and :class:`~sklearn_vpnn.InverseSTFT` in a pipeline. ``fit(X, y)`` takes the
mixture :class:`~sklearn_vpnn.Spectrogram` and the source *waveforms*; the training
targets are derived with the very STFT that made ``X``. ``transform(X)`` returns the
separated spectrogram ``(n_tracks, n_sources, n_channels, n_bins, n_frames)``.

This is the one module where skorch meets the pure PyTorch models of
:mod:`sklearn_vpnn.nn`.
"""

import os
import shutil
import tempfile
import time
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import Callback, Checkpoint, EarlyStopping, LRScheduler, ProgressBar
from skorch.helper import predefined_split
from skorch.utils import noop

from .nn import ACTIVATIONS, DNN, VPNN, DiscriminativeMSELoss
from .spectral import Spectrogram

__all__ = ["VPNNSeparator", "DNNSeparator"]

_LOG_EPS = 1e-5  # floor added to magnitudes before the logarithm


# --------------------------------------------------------------------------- #
# torch pieces
# --------------------------------------------------------------------------- #
class MaskNet(torch.nn.Module):
    """Input normalisation + a VPNN/DNN mask model: what skorch trains.

    Takes log-magnitude context stacks ``(batch, 3, n_bins)`` (previous, current,
    next frame) and returns masks ``(batch, n_sources, n_bins)``. The
    normalisation statistics are buffers learned in ``fit``, so a saved model
    carries them: per-bin standardisation for the window mapping and the DNN, a
    global [lo, hi] range mapped to [0, 1] for the colour mapping.
    """

    def __init__(self, kind, n_bins, n_sources, hidden_units, n_layers, activation, mapping=None):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_bins))
        self.register_buffer("scale", torch.ones(n_bins))
        self.register_buffer("lo", torch.zeros(()))
        self.register_buffer("hi", torch.ones(()))
        self.color = kind == "vpnn" and mapping == "color"
        if kind == "vpnn":
            self.model = VPNN(n_bins, n_sources, hidden_units, n_layers, mapping, activation)
        else:
            self.model = DNN(n_bins, n_sources, hidden_units, n_layers, activation)

    def normalise(self, logmag):
        """Normalised features of log-magnitudes ``(..., n_bins)``, element by element."""
        if self.color:  # the colour map wants inputs in [0, 1]
            return ((logmag - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0)
        return (logmag - self.mean) / self.scale

    def forward(self, logmag):
        return self.model(self.normalise(logmag))


class _FrameDataset(torch.utils.data.Dataset):
    """Training frames of every channel of every track, with their context.

    Holds the complex STFT of each source once, ``(n_sources, n_sequences,
    n_frames, n_bins)``; a sample is a (sequence, frame) pair and its context
    frames are gathered by indexing when a batch is drawn, never stored.

    With ``remix > 0`` each source of a sample comes, with that probability,
    from a random frame of a random sequence instead of the sample's own
    (random remixing across tracks), and ``gain_db`` draws a random gain per
    source. Both are seeded by ``seed``.
    """

    def __init__(self, sources_stft, n_valid, remix=0.0, gain_db=0.0, seed=0):
        self.S = sources_stft  # complex64 tensor (S, N, T, F)
        self.n_sources, self.n_seq, self.T, self.F = sources_stft.shape
        self._init_sampling(n_valid, remix, gain_db, seed)

    def _init_sampling(self, n_valid, remix, gain_db, seed):
        self.n_valid = torch.as_tensor(n_valid, dtype=torch.int64)  # (N,)
        seq = torch.repeat_interleave(torch.arange(self.n_seq), self.n_valid)
        frame = torch.cat([torch.arange(int(n)) for n in self.n_valid])
        self.index = torch.stack([seq, frame], 1)  # (n_samples, 2)
        self.remix = float(remix)
        self.gain_db = float(gain_db)
        self.generator = torch.Generator().manual_seed(int(seed))

    def __len__(self):
        return len(self.index)

    def _context(self, s, seq, t):
        last = self.n_valid[seq] - 1
        ts = torch.stack([(t - 1).clamp(min=0), t, torch.minimum(t + 1, last)], 1)  # (B, 3)
        return self.S[s, seq[:, None], ts]  # (B, 3, F)

    def __getitems__(self, indices):
        return self.batch(indices, augment=True)

    def batch(self, indices, augment=True):
        """Features ``(B, 3, F)`` and packed targets ``(B, 1 + S, F)`` of some samples."""
        idx = self.index[torch.as_tensor(indices, dtype=torch.int64)]
        B = len(idx)
        parts = []
        for s in range(self.n_sources):
            seq, t = idx[:, 0], idx[:, 1]
            if augment and self.remix > 0:
                swap = torch.rand(B, generator=self.generator) < self.remix
                other = self.index[torch.randint(len(self.index), (B,), generator=self.generator)]
                seq = torch.where(swap, other[:, 0], seq)
                t = torch.where(swap, other[:, 1], t)
            part = self._context(s, seq, t)
            if augment and self.gain_db > 0:
                g = torch.empty(B).uniform_(-self.gain_db, self.gain_db, generator=self.generator)
                part = part * (10.0 ** (g / 20.0))[:, None, None]
            parts.append(part)
        parts = torch.stack(parts, 1)  # (B, S, 3, F) complex
        mix = parts.sum(1)  # (B, 3, F)
        mix_mag = mix.abs()
        features = torch.log(mix_mag + _LOG_EPS)
        target = torch.cat([mix_mag[:, None, 1], parts[:, :, 1].abs()], 1)  # (B, 1+S, F)
        return features, target

    def __getitem__(self, i):
        features, target = self.__getitems__([i])
        return features[0], target[0]


def _collate(batch):
    return batch  # __getitems__ already returns stacked tensors


class _DiskFrameDataset(_FrameDataset):
    """:class:`_FrameDataset` whose source STFTs stay in raw files, read per batch.

    One file per source holds the frames of every sequence one after the other,
    ``(n_frames_total, n_bins)`` complex64, sequence ``k`` starting at row
    ``offsets[k]``. A sample's three context frames are adjacent rows, read with
    one ``pread`` into the batch buffer: reads go through the page cache, not
    into the process's memory. Same samples, same random draws, same values as
    the in-memory dataset, hence the same model for the same seed.
    """

    def __init__(self, paths, offsets, n_valid, n_bins, remix=0.0, gain_db=0.0, seed=0):
        self.paths = list(paths)
        self.n_sources, self.F = len(self.paths), int(n_bins)
        self.n_seq = len(n_valid)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self._fds = None
        self._init_sampling(n_valid, remix, gain_db, seed)

    def _context(self, s, seq, t):
        if self._fds is None:
            self._fds = [os.open(p, os.O_RDONLY) for p in self.paths]
        fd, row_bytes = self._fds[s], self.F * 8
        last = self.n_valid[seq] - 1
        lo = (t - 1).clamp(min=0)
        n_rows = (torch.minimum(t + 1, last) - lo + 1).tolist()
        cur = (t - lo).tolist()
        first = (torch.from_numpy(self.offsets)[seq] + lo).tolist()
        out = np.empty((len(n_rows), 3, self.F), np.complex64)
        raw = out.view(np.uint8).reshape(len(n_rows), -1)
        for b, (n, r, c) in enumerate(zip(n_rows, first, cur)):
            if n == 3:  # (t - 1, t, t + 1) are rows r, r + 1, r + 2
                if os.preadv(fd, [raw[b]], r * row_bytes) != 3 * row_bytes:
                    raise OSError(f"short read from the frame cache {self.paths[s]}")
            else:  # a sequence edge: clamp like _FrameDataset
                block = np.frombuffer(os.pread(fd, n * row_bytes, r * row_bytes), np.complex64)
                out[b] = block.reshape(n, self.F)[[0, c, n - 1]]
        return torch.from_numpy(out)

    def close(self):
        """Close the cache files (they are deleted with the fit's temporary folder)."""
        for fd in self._fds or ():
            os.close(fd)
        self._fds = None


def _write_frame_cache(X, y, groups, n_sources, tmpdir, check):
    """Source STFTs of each track group, one track at a time, into raw files.

    ``groups`` lists ``(name, tracks)``; a track's sequences (one per channel)
    go to its group's files in track order, as ``_FrameDataset`` orders them.
    ``check(i, spec)`` validates track ``i``'s one-track mixture spectrogram.
    Returns ``{name: (paths, offsets, n_valid)}``, the number of channels and of
    bins, and whether any mixture frame was not silent.
    """
    group_of = {int(i): name for name, tracks in groups for i in tracks}
    paths = {name: [os.path.join(tmpdir, f"{name}-source{s}.c64") for s in range(n_sources)]
             for name, _ in groups}
    files = {name: [open(p, "wb") for p in ps] for name, ps in paths.items()}
    n_valid = {name: [] for name, _ in groups}
    C = F = None
    heard = False
    try:
        for i in range(len(X)):
            spec = check(i, X[i])  # one-track Spectrogram, (1, C, F, T)
            target = y[i]
            Y = spec.analyze_like([target])[0]  # (S, C, F, T): the same STFT, this track only
            if Y.shape[0] != n_sources:
                raise ValueError(f"y[{i}] has {Y.shape[0]} sources, y[0] has {n_sources}")
            if C is None:
                C, F = spec.shape[1], spec.shape[2]
            elif spec.shape[1:3] != (C, F):
                raise ValueError(f"X[{i}] has shape {spec.shape[1:3]} (channels, bins), X[0] {(C, F)}")
            heard = heard or bool(np.any(spec.data != 0))
            n_fr = int(spec.n_frames_per_track[0])
            name = group_of.get(i)
            if name is None:
                continue
            for c in range(C):
                for s in range(n_sources):
                    files[name][s].write(np.ascontiguousarray(Y[s, c, :, :n_fr].T).data)
                n_valid[name].append(n_fr)
            del spec, target, Y
    finally:
        for fs in files.values():
            for f in fs:
                f.close()
    out = {}
    for name, counts in n_valid.items():
        counts = np.asarray(counts, dtype=np.int64)
        out[name] = (paths[name], np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64), counts)
    return out, C, F, heard


class TimeBudget(Callback):
    """Stop training once ``max_time`` seconds have passed.

    It raises ``KeyboardInterrupt``, skorch's own way to end ``fit`` early (its
    ``EarlyStopping`` does the same), so the end-of-training callbacks still run:
    the model keeps the weight average (or the best epoch when averaging is off).
    """

    def __init__(self, max_time):
        self.max_time = max_time

    def on_train_begin(self, net, **kwargs):
        self.start_ = time.monotonic()

    def on_batch_end(self, net, training=True, **kwargs):
        # stop only once an epoch has been completed (and checkpointed)
        if training and len(net.history) > 1 and time.monotonic() - self.start_ > self.max_time:
            if net.verbose:
                print(f"Stopping: training time budget of {self.max_time:.0f} s used up.")
            raise KeyboardInterrupt


class WeightAveraging(Callback):
    """Exponential moving average of the weights over training steps, kept at the end.

    After every training step ``avg = d * avg + (1 - d) * w`` with
    ``d = min(decay, (1 + t) / (10 + t))`` at step ``t`` (the warm-up keeps the
    random initial weights from lingering in the average). Training, validation,
    the learning-rate schedule and early stopping run on the raw weights; when
    training ends, for whatever reason (last epoch, early stopping, time budget,
    Ctrl-C), the module takes the averaged weights.
    """

    def __init__(self, decay):
        self.decay = decay

    @staticmethod
    def _params(net):
        return list(net.module_.parameters())  # buffers (normalisation) do not change in training

    def on_train_begin(self, net, **kwargs):
        self.average_ = [t.detach().clone() for t in self._params(net)]
        self.steps_ = 0

    def on_batch_end(self, net, training=True, **kwargs):
        if training:
            self.steps_ += 1
            d = min(float(self.decay), (1.0 + self.steps_) / (10.0 + self.steps_))
            with torch.no_grad():
                for a, t in zip(self.average_, self._params(net)):
                    a.lerp_(t.detach(), 1.0 - d)

    def on_train_end(self, net, **kwargs):
        if self.steps_:
            with torch.no_grad():
                for t, a in zip(self._params(net), self.average_):
                    t.copy_(a)
        self.average_ = None


class BestCheckpoint(Checkpoint):
    """skorch's ``Checkpoint`` that restores the best epoch at the end of training,
    and does nothing (instead of failing) when training stopped before any epoch
    was checkpointed, e.g. Ctrl-C during the first epoch."""

    def on_train_end(self, net, **kwargs):
        if any(row.get(self.event_name) for row in net.history):
            super().on_train_end(net, **kwargs)
        else:
            warnings.warn(
                "training stopped before its first epoch ended; the model keeps the "
                "weights it had at that moment, which are barely trained",
                UserWarning,
                stacklevel=2,
            )


class SeparatorNet(NeuralNet):
    """skorch net whose target packs the mixture and the source magnitudes.

    ``y_true[:, 0]`` is the mixture magnitude of the current frame and
    ``y_true[:, 1:]`` the source magnitudes, as the loss wants them.
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = y_true.to(y_pred.device)
        return self.criterion_(y_pred, y_true[:, 0], y_true[:, 1:])

    # ``module`` (the instance given at construction) *is* ``module_``. skorch maps
    # ``module_`` to the CPU on loading when CUDA is absent, but pickles ``module``
    # as a plain attribute: a GPU-trained model would then hold CUDA storages
    # outside skorch's reach (unloadable on a CPU-only machine) and the weights twice.
    def __getstate__(self):
        state = super().__getstate__()
        if state.get("module") is getattr(self, "module_", None) is not None:
            state["module"] = _SAME_AS_MODULE_
        return state

    def __setstate__(self, state):
        same = state.get("module") == _SAME_AS_MODULE_
        super().__setstate__(state)
        if same:
            self.module = self.module_


_SAME_AS_MODULE_ = "<sklearn_vpnn: same as module_>"


# --------------------------------------------------------------------------- #
# the estimators
# --------------------------------------------------------------------------- #
class _BaseSeparator(TransformerMixin, BaseEstimator):
    _kind = None

    # ------------------------------------------------------------ validation
    def _validate_params(self):
        def check_int(name, low):
            v = getattr(self, name)
            if not isinstance(v, Integral) or isinstance(v, bool) or v < low:
                raise ValueError(f"{name} must be an integer >= {low}; got {v!r}")

        check_int("hidden_units", 1)
        check_int("n_layers", 1)
        check_int("max_epochs", 1)
        check_int("batch_size", 1)
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {self.activation!r}")
        if not isinstance(self.gamma, Real) or not 0 <= self.gamma < 1:
            raise ValueError(f"gamma must be in [0, 1); got {self.gamma!r}")
        if not isinstance(self.lr, Real) or not self.lr > 0:
            raise ValueError(f"lr must be a positive number; got {self.lr!r}")
        if not isinstance(self.remix, Real) or not 0 <= self.remix <= 1:
            raise ValueError(f"remix must be a probability in [0, 1]; got {self.remix!r}")
        if not isinstance(self.gain_db, Real) or self.gain_db < 0:
            raise ValueError(f"gain_db must be >= 0; got {self.gain_db!r}")
        if not isinstance(self.validation_fraction, Real) or not 0 <= self.validation_fraction < 1:
            raise ValueError(
                f"validation_fraction must be in [0, 1); got {self.validation_fraction!r}"
            )
        if self.patience is not None and (not isinstance(self.patience, Integral) or self.patience < 1):
            raise ValueError(f"patience must be a positive integer or None; got {self.patience!r}")
        if self.average is not None and (
            not isinstance(self.average, Real) or isinstance(self.average, bool) or not 0 <= self.average < 1
        ):
            raise ValueError(f"average must be a decay in [0, 1) or None; got {self.average!r}")
        if self.max_time is not None and (not isinstance(self.max_time, Real) or self.max_time <= 0):
            raise ValueError(f"max_time must be a positive number of seconds or None; got {self.max_time!r}")
        if not isinstance(self.wiener_iterations, Integral) or self.wiener_iterations < 0:
            raise ValueError(f"wiener_iterations must be an integer >= 0; got {self.wiener_iterations!r}")
        sources = self.sources
        if isinstance(sources, str) or len(sources) < 2 or len(set(sources)) != len(sources):
            raise ValueError(
                f"sources must be a sequence of at least two distinct names; got {sources!r}"
            )
        return tuple(str(s) for s in sources)

    def _resolve_device(self):
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        try:
            dev = torch.device(self.device)
        except (RuntimeError, TypeError):
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {self.device!r}") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={self.device!r} was asked for but CUDA is not available here")
        return str(dev)

    def _resolve_cache(self, X):
        if self.cache not in ("auto", "memory", "disk"):
            raise ValueError(f"cache must be 'auto', 'memory' or 'disk'; got {self.cache!r}")
        if self.cache == "auto":
            return "disk" if getattr(X, "is_lazy", False) else "memory"
        return self.cache

    @staticmethod
    def _check_spectrogram(X, method):
        if getattr(X, "is_lazy", False):  # datasets.LazySpectrogram
            if method == "fit":
                return X  # checked track by track while training
            X = X.compute()
        if not isinstance(X, Spectrogram):
            raise TypeError(
                f"{method} expects the Spectrogram made by sklearn_vpnn.STFT (put STFT() before "
                f"the separator in a pipeline); got {type(X).__name__}"
            )
        if X.is_separated:
            raise ValueError(f"{method} expects a mixture spectrogram, got a separated one {X.shape}")
        if not np.all(np.isfinite(X.data)):
            raise ValueError("the spectrogram contains NaN or infinite values")
        return X

    # ------------------------------------------------------------------ fit
    def fit(self, X, y):
        """Train the separator.

        Parameters
        ----------
        X : Spectrogram or LazySpectrogram
            Mixture spectrograms ``(n_tracks, n_channels, n_bins, n_frames)``
            from :class:`~sklearn_vpnn.STFT` (a
            :class:`~sklearn_vpnn.datasets.LazySpectrogram` for lazily loaded
            tracks).
        y : ndarray, list of ndarray or LazyTracks
            Source waveforms ``(n_tracks, n_sources, n_channels, n_samples)``
            (or a list of ``(n_sources, n_channels, n_samples)`` arrays), in the
            order of ``sources``.

        Returns
        -------
        self : object
            The fitted separator.
        """
        sources = self._validate_params()
        X = self._check_spectrogram(X, "fit")
        if y is None:
            raise ValueError("fit needs the source waveforms y; got y=None")
        if len(y) != len(X):
            raise ValueError(f"X holds {len(X)} tracks but y holds {len(y)}")
        n_src = np.asarray(y[0]).shape[0]
        if n_src != len(sources):
            raise ValueError(
                f"y has {n_src} sources per track but sources={sources!r} names {len(sources)}"
            )
        device = self._resolve_device()
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        torch.manual_seed(seed)

        cache = self._resolve_cache(X)
        if cache == "memory" and getattr(X, "is_lazy", False):
            X, y = X.compute(), list(y)
        S, n_tracks = len(sources), len(X)

        # split whole tracks for validation (never frames of one track on both sides)
        order = rng.permutation(n_tracks)
        n_valid = int(round(self.validation_fraction * n_tracks))
        if self.validation_fraction > 0 and n_tracks >= 2:
            n_valid = min(max(n_valid, 1), n_tracks - 1)
        else:
            n_valid = 0
        valid_tracks, train_tracks = np.sort(order[:n_valid]), np.sort(order[n_valid:])
        silent = "the mixtures are silent (all-zero spectrogram); nothing to learn from"
        tmpdir = tempfile.mkdtemp(prefix="sklearn-vpnn-fit-")  # checkpoints (and frame cache)
        train_ds = valid_ds = None
        try:
            if cache == "disk":
                # source STFTs one track at a time into tmpdir, read back batch by batch
                groups = [("train", train_tracks), ("valid", valid_tracks)]
                cached, C, F, heard = _write_frame_cache(
                    X, y, groups, S, tmpdir,
                    lambda i, spec: self._check_spectrogram(spec, f"fit (track {i})"))
                if not heard:
                    raise ValueError(silent)
                train_ds = _DiskFrameDataset(*cached["train"], F, remix=self.remix,
                                             gain_db=self.gain_db, seed=seed)
                if n_valid:
                    valid_ds = _DiskFrameDataset(*cached["valid"], F, seed=seed + 1)
            else:
                # targets with the very STFT that made X: (n_tracks, S, C, F, T)
                Y = X.analyze_like(y)
                n_tracks, S, C, F, T = Y.shape
                lengths = X.n_frames_per_track
                if not np.any(np.abs(X.data) > 0):
                    raise ValueError(silent)

                def make_dataset(tracks, train):
                    data = Y[tracks].transpose(1, 0, 2, 4, 3).reshape(S, len(tracks) * C, T, F)
                    n_fr = np.repeat(lengths[tracks], C)
                    return _FrameDataset(
                        torch.from_numpy(np.ascontiguousarray(data)), n_fr,
                        remix=self.remix if train else 0.0, gain_db=self.gain_db if train else 0.0,
                        seed=seed + (0 if train else 1),
                    )

                train_ds = make_dataset(train_tracks, True)
                valid_ds = make_dataset(valid_tracks, False) if n_valid else None
                del Y
        except BaseException:
            self._close_datasets(train_ds, valid_ds, tmpdir)
            raise

        module = MaskNet(
            self._kind, F, S, self.hidden_units, self.n_layers, self.activation,
            getattr(self, "mapping", None),
        )
        self._init_normalisation(module, train_ds)

        callbacks = []
        monitor = "valid_loss" if valid_ds is not None else "train_loss"
        if self.average:
            # the moving average of the weights is what is kept at the end
            callbacks.append(("weight_averaging", WeightAveraging(float(self.average))))
        else:
            # the best epoch (by the monitored loss) is what is kept at the end
            checkpoint = BestCheckpoint(monitor=f"{monitor}_best", dirname=tmpdir, f_params="params.pt",
                                        f_optimizer=None, f_criterion=None, f_history=None,
                                        load_best=True, sink=noop)
            callbacks.append(("checkpoint", checkpoint))
        # halve the learning rate when the monitored loss stalls for two epochs
        callbacks.append(("lr_plateau", LRScheduler(policy="ReduceLROnPlateau", monitor=monitor,
                                                    patience=2, factor=0.5)))
        if self.patience is not None:
            callbacks.append(("early_stopping", EarlyStopping(monitor=monitor, patience=self.patience,
                                                              sink=print if self.verbose else noop)))
        if self.max_time is not None:
            callbacks.append(("time_budget", TimeBudget(float(self.max_time))))
        if self.verbose:
            callbacks.append(("progress", ProgressBar()))

        net = SeparatorNet(
            module=module,
            criterion=DiscriminativeMSELoss,
            criterion__gamma=self.gamma,
            optimizer=torch.optim.Adam,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train__collate_fn=_collate,
            iterator_train__shuffle=True,
            iterator_train__generator=torch.Generator().manual_seed(seed),
            iterator_valid__collate_fn=_collate,
            train_split=predefined_split(valid_ds) if valid_ds is not None else None,
            callbacks=callbacks,
            device=device,
            verbose=int(bool(self.verbose)),
        )
        try:
            net.fit(train_ds, y=None)
            # at train end, even when the time budget or Ctrl-C stopped training,
            # WeightAveraging loads the average (or Checkpoint the best epoch)
        finally:
            self._close_datasets(train_ds, valid_ds, tmpdir)
        # keep the fitted net light and self-contained: no datasets, no temp paths
        net.train_split = None
        net.callbacks = None
        net.callbacks_ = []
        self.net_ = net
        self.sources_ = sources
        self.n_bins_ = F
        self.n_channels_ = C
        self.stft_params_ = dict(X.params)
        self.history_ = [
            {k: row[k] for k in ("epoch", "train_loss", "valid_loss", "dur") if k in row}
            for row in net.history
        ]
        self.n_epochs_ = len(net.history)
        return self

    @staticmethod
    def _close_datasets(train_ds, valid_ds, tmpdir):
        for ds in (train_ds, valid_ds):
            if isinstance(ds, _DiskFrameDataset):
                ds.close()
        shutil.rmtree(tmpdir, ignore_errors=True)

    def _init_normalisation(self, module, dataset):
        """Per-bin mean/scale (and global range) of log-magnitudes of the training mixes."""
        n = len(dataset)
        take = torch.randperm(n, generator=torch.Generator().manual_seed(0))[: min(n, 20000)]
        # in chunks: only the current frames' log-magnitudes (B, F) are kept
        cur = torch.cat([dataset.batch(take[i : i + 2048], augment=False)[0][:, 1]
                         for i in range(0, len(take), 2048)])  # (B, F) current frames
        module.mean.copy_(cur.mean(0))
        module.scale.copy_(cur.std(0).clamp(min=1e-3))
        module.lo.copy_(torch.quantile(cur.flatten()[:1_000_000], 0.005))
        module.hi.copy_(torch.quantile(cur.flatten()[:1_000_000], 0.995))

    # ------------------------------------------------------------- transform
    def predict_masks(self, X):
        """Masks for every source, ``(n_tracks, n_sources, n_channels, n_bins, n_frames)``.

        Parameters
        ----------
        X : Spectrogram
            Mixture spectrograms.

        Returns
        -------
        ndarray of float32
            Masks in [0, 1] that sum to one over sources.
        """
        check_is_fitted(self, "net_")
        X = self._check_spectrogram(X, "transform")
        n_tracks, C, F, T = X.shape
        if F != self.n_bins_:
            raise ValueError(
                f"X has {F} frequency bins but the separator was fitted on {self.n_bins_} "
                f"(STFT n_fft={self.stft_params_['n_fft']}); use the same STFT settings"
            )
        module = self.net_.module_
        module.eval()
        device = next(module.parameters()).device
        n_sources = len(self.sources_)
        masks = np.empty((n_tracks, n_sources, C, F, T), np.float32)
        chunk = 8192
        with torch.inference_mode():
            for i, n_fr in enumerate(X.n_frames_per_track):
                t = torch.arange(n_fr)
                ctx = torch.stack([(t - 1).clamp(min=0), t, (t + 1).clamp(max=n_fr - 1)], 1)
                for c in range(C):
                    # features once per frame, (frames, bins); context frames are gathered
                    mag = np.ascontiguousarray(np.abs(X.data[i, c, :, :n_fr]).T)
                    feats = module.normalise(torch.log_(torch.from_numpy(mag).add_(_LOG_EPS)).to(device))
                    for start in range(0, n_fr, chunk):
                        stop = min(start + chunk, n_fr)
                        m = module.model(feats[ctx[start:stop]])  # (b, S, F)
                        masks[i, :, c, :, start:stop] = m.permute(1, 2, 0).cpu().numpy()
                    masks[i, :, c, :, n_fr:] = 1.0 / n_sources
        return masks

    def transform(self, X):
        """Separate the mixtures.

        Parameters
        ----------
        X : Spectrogram
            Mixture spectrograms ``(n_tracks, n_channels, n_bins, n_frames)``.

        Returns
        -------
        Spectrogram
            Separated spectrograms ``(n_tracks, n_sources, n_channels, n_bins,
            n_frames)``: the mixture's phase, the masks' magnitudes (refined by a
            multichannel Wiener filter when ``wiener_iterations > 0``).
        """
        if getattr(X, "is_lazy", False):  # separated track by track when indexed/computed
            from .datasets import LazySpectrogram

            return LazySpectrogram(X.tracks, X.params, separate=self.transform)
        masks = self.predict_masks(X)
        out = masks * X.data[:, np.newaxis]
        if self.wiener_iterations > 0:
            out = self._wiener(out, X)
        return Spectrogram(out.astype(np.complex64, copy=False), X.lengths, X.params, self.sources_)

    def _wiener(self, estimates, X):
        import norbert

        refined = np.empty_like(estimates)
        for i in range(len(X)):
            # norbert wants (frames, bins, channels[, sources])
            v = np.abs(estimates[i]).transpose(3, 2, 1, 0)
            x = X.data[i].transpose(2, 1, 0)
            y = norbert.wiener(v.astype(np.float32), x.astype(np.complex64),
                               iterations=self.wiener_iterations)
            refined[i] = y.transpose(3, 2, 1, 0)
        return refined

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        # input is the Spectrogram made by STFT, never a real 2-D feature matrix
        tags.input_tags.two_d_array = False
        return tags



_COMMON_PARAMS_DOC = """
    hidden_units : int, default=512
        Units in each hidden layer (vector units for the VPNN).
    n_layers : int, default=3
        Number of hidden layers.
    activation : {"relu", "leaky_relu", "elu", "tanh", "sigmoid", "identity"}, default="relu"
        Hidden-layer activation (applied per component in a VPNN).
    gamma : float, default=0.05
        Weight of the discriminative term of the loss, in [0, 1).
    sources : sequence of str, default=("drums", "accompaniment")
        Names of the sources, in the order of ``y``'s second axis.
    max_epochs : int, default=30
        Maximum number of passes over the training frames (about 11 minutes for
        the 80 MUSDB18-7 training clips on a 2-core CPU).
    lr : float, default=1e-3
        Initial Adam learning rate; it is halved whenever the validation loss
        (training loss without validation) has not improved for two epochs.
    batch_size : int, default=256
        Frames per optimisation step.
    remix : float, default=0.5
        Probability that a source of a training frame is drawn from a random
        frame of a random training track (random remixing augmentation); 0
        trains on the given mixtures only.
    gain_db : float, default=3.0
        Random gain per source and frame, uniform in ``[-gain_db, gain_db]`` dB.
    validation_fraction : float, default=0.1
        Fraction of the training *tracks* held out to monitor training: the
        validation loss drives the learning-rate schedule and early stopping
        (and picks the best epoch when ``average`` is off). 0 disables
        validation.
    patience : int or None, default=6
        Early stopping: epochs without improvement of the validation loss
        before training stops. None disables early stopping.
    average : float or None, default=0.999
        Decay of an exponential moving average of the weights over training
        steps (Polyak averaging; 0.999 averages roughly the last 1000 steps,
        about three epochs on MUSDB18-7). When training ends (last epoch, early
        stopping, ``max_time`` or Ctrl-C) the model keeps the averaged weights.
        ``None`` or 0 keeps instead the epoch with the best monitored loss
        (validation loss, or training loss without validation).
    max_time : float or None, default=None
        Training time budget in seconds; training stops after the first batch
        past it (but never before one whole epoch is done) and keeps the model
        so far (the weight average, or the best epoch when ``average`` is off).
    wiener_iterations : int, default=0
        Multichannel Wiener filter iterations applied to the separated
        spectrograms (0 = plain masking).
    device : str, default="auto"
        "auto" uses CUDA when available, else the CPU; or "cpu", "cuda", "cuda:N".
    cache : {"auto", "memory", "disk"}, default="auto"
        Where the training targets (source STFTs) live during ``fit``.
        ``"memory"``: one array for all tracks. ``"disk"``: computed one track
        at a time into raw files in the fit's temporary folder (``$TMPDIR``) and
        read back batch by batch, so memory stays bounded by one track whatever
        the dataset size; same seed, same model as ``"memory"``. ``"auto"``:
        ``"disk"`` for lazily loaded data (``load_musdb(..., lazy=True)``),
        else ``"memory"``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, data shuffling, remixing and the
        validation split. An int makes two fits identical.
    verbose : int, default=0
        0 is silent; 1 prints the per-epoch table and a progress bar.
"""

_COMMON_ATTRS_DOC = """
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the PyTorch model.
    sources_ : tuple of str
        Source names, in output order.
    n_bins_ : int
        Frequency bins the model was trained on.
    n_channels_ : int
        Channels of the training mixtures.
    stft_params_ : dict
        Parameters of the STFT that made the training spectrograms.
    history_ : list of dict
        Per-epoch ``train_loss``, ``valid_loss`` and duration.
    n_epochs_ : int
        Epochs actually run.
"""


class VPNNSeparator(_BaseSeparator):
    __doc__ = f"""Vector product neural network separator (WVPNN / CVPNN).

    Each frequency bin of a frame becomes a 3-D vector — (previous, current,
    next) frame log-magnitudes for ``mapping="window"``, a hot colour map of the
    current frame for ``mapping="color"`` — and flows through layers of vector
    product neurons (cross products of 3-D weights and inputs). One head per
    source, then a time-frequency masking layer, trained with a mean squared
    error on the masked magnitudes of every source minus ``gamma`` times the
    cross-source error (discriminative training). After Fan, Chan, Yang & Jang,
    *Music Signal Processing Using Vector Product Neural Networks* (2017).

    Parameters
    ----------
    mapping : {{"window", "color"}}, default="window"
        Real -> 3-D mapping: context window (WVPNN) or spectral colouring (CVPNN).
{_COMMON_PARAMS_DOC}
    Attributes
    ----------
{_COMMON_ATTRS_DOC}
    See Also
    --------
    DNNSeparator : Real-valued baseline of the same shape.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_vpnn import STFT, InverseSTFT, VPNNSeparator, make_drum_mixtures
    >>> data = make_drum_mixtures(n_tracks=4, duration=2.0, random_state=0)
    >>> pipe = make_pipeline(STFT(n_fft=512), VPNNSeparator(hidden_units=32, max_epochs=2,
    ...                                                     random_state=0), InverseSTFT())
    >>> pipe.fit(data.X, data.y).transform(data.X).shape
    (4, 2, 1, 44100)
    """
    _kind = "vpnn"

    def __init__(
        self,
        mapping="window",
        hidden_units=512,
        n_layers=3,
        activation="relu",
        gamma=0.05,
        sources=("drums", "accompaniment"),
        max_epochs=30,
        lr=1e-3,
        batch_size=256,
        remix=0.5,
        gain_db=3.0,
        validation_fraction=0.1,
        patience=6,
        average=0.999,
        max_time=None,
        wiener_iterations=0,
        device="auto",
        cache="auto",
        random_state=None,
        verbose=0,
    ):
        self.mapping = mapping
        self.hidden_units = hidden_units
        self.n_layers = n_layers
        self.activation = activation
        self.gamma = gamma
        self.sources = sources
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.remix = remix
        self.gain_db = gain_db
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.average = average
        self.max_time = max_time
        self.wiener_iterations = wiener_iterations
        self.device = device
        self.cache = cache
        self.random_state = random_state
        self.verbose = verbose

    def _validate_params(self):
        if self.mapping not in ("window", "color"):
            raise ValueError(f"mapping must be 'window' or 'color'; got {self.mapping!r}")
        return super()._validate_params()


class DNNSeparator(_BaseSeparator):
    __doc__ = f"""Real-valued deep neural network separator (the paper's DNN baseline).

    Same input (log-magnitudes of the previous, current and next frame), same
    depth and width, same heads, masking layer and discriminative loss as
    :class:`VPNNSeparator`, with ordinary real-valued neurons.

    Parameters
    ----------
{_COMMON_PARAMS_DOC}
    Attributes
    ----------
{_COMMON_ATTRS_DOC}
    See Also
    --------
    VPNNSeparator : The vector product network.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_vpnn import STFT, InverseSTFT, DNNSeparator, make_drum_mixtures
    >>> data = make_drum_mixtures(n_tracks=4, duration=2.0, random_state=0)
    >>> pipe = make_pipeline(STFT(n_fft=512), DNNSeparator(hidden_units=32, max_epochs=2,
    ...                                                    random_state=0), InverseSTFT())
    >>> pipe.fit(data.X, data.y).transform(data.X).shape
    (4, 2, 1, 44100)
    """
    _kind = "dnn"

    def __init__(
        self,
        hidden_units=512,
        n_layers=3,
        activation="relu",
        gamma=0.05,
        sources=("drums", "accompaniment"),
        max_epochs=30,
        lr=1e-3,
        batch_size=256,
        remix=0.5,
        gain_db=3.0,
        validation_fraction=0.1,
        patience=6,
        average=0.999,
        max_time=None,
        wiener_iterations=0,
        device="auto",
        cache="auto",
        random_state=None,
        verbose=0,
    ):
        self.hidden_units = hidden_units
        self.n_layers = n_layers
        self.activation = activation
        self.gamma = gamma
        self.sources = sources
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.remix = remix
        self.gain_db = gain_db
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.average = average
        self.max_time = max_time
        self.wiener_iterations = wiener_iterations
        self.device = device
        self.cache = cache
        self.random_state = random_state
        self.verbose = verbose
