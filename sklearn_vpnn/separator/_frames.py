"""Training frames of the separators: datasets of STFT frames, pure PyTorch + NumPy.

A sample is one frame of one channel of one track, with its previous and next frame
(the model's context); its features are the mixture's log-magnitudes and its target
packs the mixture and source magnitudes of the current frame. :class:`FrameDataset`
keeps the source STFTs in memory, :class:`_DiskFrameDataset` in raw files written by
:func:`_write_frame_cache` and read batch by batch; both give the same samples and
random draws, hence the same model for the same seed.
"""

import os

import numpy as np
import torch

from ..nn import context_indices

_LOG_EPS = 1e-5  # floor added to magnitudes before the logarithm

# normalisation statistics (see normalisation_statistics)
_NORM_FRAMES = 20_000  # random training frames they are estimated on: plenty for 2 x n_bins numbers
_NORM_CHUNK = 2048  # frames featurised at once meanwhile: bounds the memory of their context stacks
_QUANTILE_ELEMENTS = 1_000_000  # log-magnitudes [lo, hi] are quantiles of (torch.quantile sorts them)
_MIN_SCALE = 1e-3  # floor of the per-bin scale: a constant bin is not blown up
_EQ_BANDS = 6  # random EQ (eq_db): anchor gains, log-spaced in frequency, linear in between
_LOSS_TARGETS = ("magnitude", "phase_sensitive")


def _magnitude(z):
    """``abs`` of a complex tensor as ``sqrt(re * re + im * im)``.

    Equal to ``abs`` to within an ulp (no overflow at audio levels) and faster than
    both ``hypot`` of the parts and ``abs`` of the complex tensor, which take 1.6x and
    1.8x as long on a training batch.
    """
    r = torch.view_as_real(z)
    re, im = r[..., 0], r[..., 1]
    return (re * re).addcmul_(im, im).sqrt_()


def _in_phase(source, mixture, mixture_mag):
    """``|S| cos(angle(S) - angle(X))``, clipped to ``[0, |X|]``: ``Re(S conj(X)) / |X|``."""
    s, x = torch.view_as_real(source), torch.view_as_real(mixture)
    dot = s[..., 0] * x[..., 0] + s[..., 1] * x[..., 1]
    return torch.minimum((dot / mixture_mag.clamp(min=1e-12)).clamp_(min=0.0), mixture_mag)


def _eq_basis(n_bins, n_bands=_EQ_BANDS):
    """``(n_bands, n_bins)`` weights that turn anchor gains into a smooth curve over bins.

    The anchors sit at log-spaced bins from 1 to ``n_bins - 1``; a bin's gain (in dB)
    is the linear interpolation, in log-frequency, of its two neighbouring anchors
    (bin 0, the DC bin, takes the first anchor's). Rows sum to one at every bin.
    """
    if n_bins < 3:
        return torch.ones(1, n_bins)
    anchors = np.geomspace(1.0, n_bins - 1.0, n_bands)
    logf = np.log(np.maximum(np.arange(n_bins, dtype=np.float64), 1.0))
    basis = np.stack([np.interp(logf, np.log(anchors), np.eye(n_bands)[k]) for k in range(n_bands)])
    return torch.from_numpy(basis.astype(np.float32))


class FrameDataset(torch.utils.data.Dataset):
    """Training frames of every channel of every track, with their context.

    Holds the complex STFT of each source once, ``(n_sources, n_sequences,
    n_frames, n_bins)`` (a sequence is one channel of one track); a sample is a
    (sequence, frame) pair and its previous and next frames are gathered by
    indexing when a batch is drawn, never stored. A sample's features are the
    log-magnitudes of the mixture (the sum of the sources) of the three frames,
    its target the mixture and source magnitudes of the current frame.

    With ``remix > 0`` each source of a sample comes, with that probability,
    from a random frame of a random sequence instead of the sample's own
    (random remixing across tracks), ``gain_db`` draws a random gain per
    source and ``eq_db`` a random equaliser curve per source (a smooth gain
    over frequency, the same on the sample's context frames); ``pitch_shift``
    shifts each source by a random number of semitones (the frequency axis
    stretched, nearest bin). All are seeded by ``seed``. ``__getitems__`` returns a whole
    batch, stacked and augmented (what the separators train on), so a data
    loader's ``collate_fn`` must return its argument as it is.

    Parameters
    ----------
    sources_stft : torch.Tensor
        ``(n_sources, n_sequences, n_frames, n_bins)`` complex64 source STFTs.
    n_valid : array-like of int, shape (n_sequences,)
        Frames of each sequence that are real (the rest is padding), each >= 1.
    remix : float, default=0.0
        Probability of drawing a source of a sample from a random frame.
    gain_db : float, default=0.0
        Random gain per source and sample, uniform in ``[-gain_db, gain_db]`` dB.
    seed : int, default=0
        Seeds the augmentation.
    context_strides : tuple of int, default=(1,)
        One ``(t - s, t, t + s)`` stack per stride ``s`` (see
        :func:`~sklearn_vpnn.nn.context_indices`): features are ``(B, 3 K, n_bins)``.
    eq_db : float, default=0.0
        Random equaliser per source and sample: gains uniform in ``[-eq_db,
        eq_db]`` dB at six log-spaced frequencies, interpolated in
        log-frequency between them.
    pitch_shift : float, default=0.0
        Random pitch shift per source and sample, uniform in ``[-pitch_shift,
        pitch_shift]`` semitones: bin ``f`` takes the value of bin
        ``round(f / r)`` with ``r = 2 ** (u / 12)`` (zero past the last bin), the
        same on the sample's context frames.
    loss_target : {"magnitude", "phase_sensitive"}, default="magnitude"
        What each source's target holds: its magnitude ``|S|`` (the paper), or
        its phase-sensitive magnitude ``|S| cos(angle(S) - angle(X))`` clipped
        to ``[0, |X|]`` (Erdogan et al., 2015): the part of the source in
        phase with the mixture, which is all that a mask on the mixture can
        give back, so that the loss counts what the waveform's error counts.
    partner : array-like of int, shape (n_sequences,), or None, default=None
        Stereo cues: the sequence holding the other channel of each sequence's
        track (itself for a mono track). Features then hold the partner's
        context stacks of the same frames after the sequence's own,
        ``(B, 2 * 3 K, n_bins)``, drawn, remixed and augmented with them (one
        gain, equaliser and pitch shift per source for both channels).

    Examples
    --------
    >>> import torch
    >>> from sklearn_vpnn.separator import FrameDataset
    >>> stft = torch.ones(2, 3, 10, 5, dtype=torch.complex64)  # 2 sources, 3 sequences
    >>> ds = FrameDataset(stft, [10, 10, 4])
    >>> len(ds)
    24
    >>> features, target = ds.batch([0, 23])
    >>> features.shape, target.shape  # (prev, cur, next) log-magnitudes; mixture + 2 sources
    (torch.Size([2, 3, 5]), torch.Size([2, 3, 5]))
    >>> target[0, :, 0]
    tensor([2., 1., 1.])
    """

    def __init__(self, sources_stft, n_valid, remix=0.0, gain_db=0.0, seed=0, context_strides=(1,),
                 eq_db=0.0, pitch_shift=0.0, loss_target="magnitude", partner=None):
        self.S = sources_stft  # complex64 tensor (S, N, T, F)
        self.n_sources, self.n_seq, self.T, self.F = sources_stft.shape
        # every sequence's frames as the rows of one matrix per source (a view): a batch's
        # frames are then one index_select, much faster than indexing (S, N, T, F) by (seq, t)
        self._flat = (sources_stft.view(self.n_sources, self.n_seq * self.T, self.F)
                      if sources_stft.is_contiguous() else None)
        self._init_sampling(n_valid, remix, gain_db, seed, context_strides, eq_db, pitch_shift, loss_target,
                            partner)

    def _init_sampling(self, n_valid, remix, gain_db, seed, context_strides=(1,), eq_db=0.0,
                       pitch_shift=0.0, loss_target="magnitude", partner=None):
        if loss_target not in _LOSS_TARGETS:
            raise ValueError(f"loss_target must be one of {_LOSS_TARGETS}, got {loss_target!r}")
        self.loss_target = loss_target
        self.partner = None if partner is None else torch.as_tensor(partner, dtype=torch.int64)
        if self.partner is not None and self.partner.shape != (self.n_seq,):
            raise ValueError(f"partner must give one sequence per sequence ({self.n_seq}), got {self.partner.shape}")
        self.n_valid = torch.as_tensor(n_valid, dtype=torch.int64)  # (N,)
        seq = torch.repeat_interleave(torch.arange(self.n_seq), self.n_valid)
        frame = torch.cat([torch.arange(int(n)) for n in self.n_valid])
        self.index = torch.stack([seq, frame], 1)  # (n_samples, 2)
        # (prev, cur, next) of every frame of the longest sequence, clipped per sequence in
        # _rows; the current frame is gathered once, not once per stride: the batch's
        # columns are distinct frames, and _expand lays them out as the model reads them
        self.context_strides = tuple(context_strides)
        columns = [0, 1, 2] + [c for k in range(1, len(self.context_strides)) for c in (3 * k, 3 * k + 2)]
        self._neighbours = context_indices(max(int(self.n_valid.max()) if self.n_seq else 1, 1),
                                           strides=self.context_strides)[:, columns]
        expand = [0, 1, 2] + [i for k in range(1, len(self.context_strides)) for i in (2 * k + 1, 1, 2 * k + 2)]
        if self.partner is not None:  # the partner's distinct frames follow the channel's own
            expand += [len(columns) + i for i in expand]
        self._expand = torch.tensor(expand)
        self.remix = float(remix)
        self.gain_db = float(gain_db)
        self.eq_db = float(eq_db)
        self._eq = _eq_basis(self.F) if self.eq_db > 0 else None
        self.pitch_shift = float(pitch_shift)
        self.generator = torch.Generator().manual_seed(int(seed))

    def __len__(self):
        return len(self.index)

    def _rows(self, seq, t):
        """Frame indices ``(B, 2 K + 1)`` of the distinct context frames of samples ``(seq, t)``.

        ``(t - s_1, t, t + s_1, t - s_2, t + s_2, ...)``: the (prev, cur, next) frames
        of every stride, the current frame once.

        Edges repeat the edge frame: the first frame of a sequence is its own
        previous one, its last valid frame its own next one.
        """
        return torch.minimum(self._neighbours[t], (self.n_valid[seq] - 1)[:, None])

    def _context(self, s, seq, t):
        """``(B, 2 K + 1, F)`` distinct context frames of source ``s`` (twice as many with the partner's)."""
        own = self._gather(s, seq, t)
        if self.partner is None:
            return own
        return torch.cat([own, self._gather(s, self.partner[seq], t)], 1)

    def _gather(self, s, seq, t):
        rows = self._rows(seq, t)  # (B, 2 K + 1)
        if self._flat is None:
            return self.S[s, seq[:, None], rows]
        return self._flat[s].index_select(0, (seq[:, None] * self.T + rows).view(-1)).view(*rows.shape, self.F)

    def __getitems__(self, indices):
        return self.batch(indices, augment=True)

    def batch(self, indices, augment=True):
        """Features and packed targets of some samples.

        Parameters
        ----------
        indices : sequence of int
            Sample indices, in ``[0, len(self))``.
        augment : bool, default=True
            Whether to remix and apply gains, equalisers and pitch shifts (when
            ``remix`` / ``gain_db`` / ``eq_db`` / ``pitch_shift`` ask for it).

        Returns
        -------
        features : torch.Tensor
            ``(B, 3, n_bins)`` log-magnitudes of the mixture's (prev, cur, next) frames.
        target : torch.Tensor
            ``(B, 1 + n_sources, n_bins)``: the mixture magnitude of the current
            frame, then each source's.
        """
        idx = self.index[torch.as_tensor(indices, dtype=torch.int64)]
        B = len(idx)
        mix, target = None, []
        for s in range(self.n_sources):
            seq, t = idx[:, 0], idx[:, 1]
            if augment and self.remix > 0:
                swap = torch.rand(B, generator=self.generator) < self.remix
                other = self.index[torch.randint(len(self.index), (B,), generator=self.generator)]
                seq = torch.where(swap, other[:, 0], seq)
                t = torch.where(swap, other[:, 1], t)
            # a fresh tensor (gathered), so the augmentations scale it in place
            part = self._context(s, seq, t)  # (B, 2 K + 1, F) complex: distinct frames
            if augment and self.gain_db > 0:
                g = torch.empty(B).uniform_(-self.gain_db, self.gain_db, generator=self.generator)
                part.mul_((10.0 ** (g / 20.0))[:, None, None])
            if augment and self.eq_db > 0:
                g = torch.empty(B, len(self._eq)).uniform_(-self.eq_db, self.eq_db, generator=self.generator)
                part.mul_((10.0 ** ((g @ self._eq) / 20.0))[:, None, :])
            if augment and self.pitch_shift > 0:
                part = self._shift_pitch(part)
            # the current frame (copied: the mixture is summed in place into the first part)
            target.append(part[:, 1].clone() if self.loss_target == "phase_sensitive" else _magnitude(part[:, 1]))
            mix = part if mix is None else mix.add_(part)
        mix_mag = _magnitude(mix)  # (B, 2 K + 1, F)
        if self.loss_target == "phase_sensitive":
            target = [_in_phase(cur, mix[:, 1], mix_mag[:, 1]) for cur in target]
        target = torch.stack([mix_mag[:, 1]] + target, 1)  # (B, 1 + S, F), copied before the log
        logmag = mix_mag.add_(_LOG_EPS).log_()
        if len(self._expand) == logmag.shape[1]:  # one stride: the frames are the stacks
            return logmag, target
        return logmag.index_select(1, self._expand), target  # (B, 3 K, F): a stack per stride

    def _shift_pitch(self, part):
        """``part`` (B, R, F) with each sample's frequency axis stretched by a random ratio."""
        B, R, F = part.shape
        u = torch.empty(B).uniform_(-self.pitch_shift, self.pitch_shift, generator=self.generator)
        src = torch.round(torch.arange(F, dtype=torch.float32)[None] / (2.0 ** (u / 12.0))[:, None])
        inside = src <= F - 1
        src = src.clamp(max=F - 1).to(torch.int64)
        shifted = torch.gather(part, 2, src[:, None, :].expand(B, R, F))
        return shifted * inside[:, None, :]

    def __getitem__(self, i):
        features, target = self.__getitems__([i])
        return features[0], target[0]


def _collate(batch):
    return batch  # __getitems__ already returns stacked tensors


class _DiskFrameDataset(FrameDataset):
    """:class:`FrameDataset` whose source STFTs stay in raw files, read per batch.

    One file per source holds the frames of every sequence one after the other,
    ``(n_frames_total, n_bins)`` complex64, sequence ``k`` starting at row
    ``offsets[k]``. A sample's three context frames are adjacent rows, read with
    one ``pread`` into the batch buffer: reads go through the page cache, not
    into the process's memory. Same samples, same random draws, same values as
    the in-memory dataset, hence the same model for the same seed.
    """

    def __init__(self, paths, offsets, n_valid, n_bins, remix=0.0, gain_db=0.0, seed=0,
                 context_strides=(1,), eq_db=0.0, pitch_shift=0.0, loss_target="magnitude", partner=None):
        self.paths = list(paths)
        self.n_sources, self.F = len(self.paths), int(n_bins)
        self.n_seq = len(n_valid)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self._fds = None
        self._init_sampling(n_valid, remix, gain_db, seed, context_strides, eq_db, pitch_shift, loss_target,
                            partner)

    def _gather(self, s, seq, t):
        if self._fds is None:
            self._fds = [os.open(p, os.O_RDONLY) for p in self.paths]
        fd, row_bytes = self._fds[s], self.F * 8
        rows = self._rows(seq, t)
        if self.context_strides != (1,):  # rows far apart: one read per row
            out = np.empty((rows.shape[0], rows.shape[1], self.F), np.complex64)
            raw = out.view(np.uint8).reshape(rows.shape[0], rows.shape[1], -1)
            first = (torch.from_numpy(self.offsets)[seq][:, None] + rows).tolist()
            for b, row_list in enumerate(first):
                for k, r in enumerate(row_list):
                    if os.preadv(fd, [raw[b, k]], r * row_bytes) != row_bytes:
                        raise OSError(f"short read from the frame cache {self.paths[s]}")
            return torch.from_numpy(out)
        lo = rows[:, 0]
        n_rows = (rows[:, 2] - lo + 1).tolist()
        cur = (t - lo).tolist()
        first = (torch.from_numpy(self.offsets)[seq] + lo).tolist()
        out = np.empty((len(n_rows), 3, self.F), np.complex64)
        raw = out.view(np.uint8).reshape(len(n_rows), -1)
        for b, (n, r, c) in enumerate(zip(n_rows, first, cur)):
            if n == 3:  # (t - 1, t, t + 1) are rows r, r + 1, r + 2
                if os.preadv(fd, [raw[b]], r * row_bytes) != 3 * row_bytes:
                    raise OSError(f"short read from the frame cache {self.paths[s]}")
            else:  # a sequence edge: clamp like FrameDataset
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
    go to its group's files in track order, as ``FrameDataset`` orders them.
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


_SILENT = "the mixtures are silent (all-zero spectrogram); nothing to learn from"


def _partners(n_sequences, n_channels, stereo):
    """Stereo cues: the other channel's sequence of each sequence (itself when mono), or None."""
    if not stereo:
        return None
    if n_channels > 2:
        raise ValueError(f"stereo=True needs mono or stereo tracks; these have {n_channels} channels")
    seq = np.arange(n_sequences)
    return seq ^ 1 if n_channels == 2 else seq  # sequences are (track, channel), track-major


def _memory_datasets(X, y, train_tracks, valid_tracks, *, remix, gain_db, seed, context_strides=(1,),
                     eq_db=0.0, pitch_shift=0.0, loss_target="magnitude", stereo=False):
    """Training and validation :class:`FrameDataset` (None without validation tracks).

    The targets come from the very STFT that made the mixture spectrogram ``X``.
    Returns the two datasets, the number of channels and of bins.
    """
    Y = X.analyze_like(y)  # (n_tracks, S, C, F, T)
    _, S, C, F, T = Y.shape
    lengths = X.n_frames_per_track
    if not np.any(np.abs(X.data) > 0):
        raise ValueError(_SILENT)

    def make(tracks, train):
        data = Y[tracks].transpose(1, 0, 2, 4, 3).reshape(S, len(tracks) * C, T, F)
        return FrameDataset(torch.from_numpy(np.ascontiguousarray(data)), np.repeat(lengths[tracks], C),
                             remix=remix if train else 0.0, gain_db=gain_db if train else 0.0,
                             seed=seed + (0 if train else 1), context_strides=context_strides,
                             eq_db=eq_db if train else 0.0, pitch_shift=pitch_shift if train else 0.0,
                             loss_target=loss_target, partner=_partners(len(tracks) * C, C, stereo))

    return make(train_tracks, True), make(valid_tracks, False) if len(valid_tracks) else None, C, F


def _disk_datasets(X, y, train_tracks, valid_tracks, n_sources, tmpdir, check, *, remix, gain_db, seed,
                   context_strides=(1,), eq_db=0.0, pitch_shift=0.0, loss_target="magnitude", stereo=False):
    """Like :func:`_memory_datasets` with :class:`_DiskFrameDataset` files in ``tmpdir``.

    The source STFTs are computed one track at a time (``check(i, spec)``
    validates track ``i``) and read back batch by batch.
    """
    groups = [("train", train_tracks), ("valid", valid_tracks)]
    cached, C, F, heard = _write_frame_cache(X, y, groups, n_sources, tmpdir, check)
    if not heard:
        raise ValueError(_SILENT)
    train = _DiskFrameDataset(*cached["train"], F, remix=remix, gain_db=gain_db, seed=seed,
                              context_strides=context_strides, eq_db=eq_db, pitch_shift=pitch_shift,
                              loss_target=loss_target, partner=_partners(len(train_tracks) * C, C, stereo))
    valid = (_DiskFrameDataset(*cached["valid"], F, seed=seed + 1, context_strides=context_strides,
                               loss_target=loss_target, partner=_partners(len(valid_tracks) * C, C, stereo))
             if len(valid_tracks) else None)
    return train, valid, C, F


def _close_datasets(*datasets):
    """Close the cache files of the disk datasets among ``datasets`` (None allowed)."""
    for ds in datasets:
        if isinstance(ds, _DiskFrameDataset):
            ds.close()


def normalisation_statistics(dataset):
    """Normalisation statistics of the log-magnitudes of a dataset's mixture frames.

    Estimated on the current frames of up to ``_NORM_FRAMES`` random samples
    (a fixed draw, without augmentation): per-bin ``mean`` and ``scale``
    (standard deviation, floored) and the global ``lo``/``hi`` (0.5% and 99.5%
    quantiles) that the colour mapping scales to [0, 1].

    Returns
    -------
    dict
        ``mean``, ``scale`` ``(n_bins,)`` and ``lo``, ``hi`` ``()`` float32 tensors,
        :class:`~sklearn_vpnn.nn.MaskNet`'s statistics.
    """
    n = len(dataset)
    take = torch.randperm(n, generator=torch.Generator().manual_seed(0))[: min(n, _NORM_FRAMES)]
    cur = torch.cat([dataset.batch(take[i : i + _NORM_CHUNK], augment=False)[0][:, 1]
                     for i in range(0, len(take), _NORM_CHUNK)])  # (B, F) current frames
    sample = cur.flatten()[:_QUANTILE_ELEMENTS]
    return {"mean": cur.mean(0), "scale": cur.std(0).clamp(min=_MIN_SCALE),
            "lo": torch.quantile(sample, 0.005), "hi": torch.quantile(sample, 0.995)}
