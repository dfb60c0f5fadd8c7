"""Tracks decoded on demand: :class:`LazyTracks`.

NumPy only, and importing nothing from :mod:`sklearn_vpnn.spectral`: the STFT step
(:mod:`sklearn_vpnn.spectral`) imports this module to recognise lazy input, so the
dependency runs one way, spectral -> datasets. (Importing it runs
``datasets/__init__``, which imports only the loaders, never spectral.)
"""

import numbers

import numpy as np

from ._base import _stack_or_list

__all__ = ["LazyTracks"]


class LazyTracks:
    """Tracks of a dataset, decoded one at a time when indexed.

    What :func:`load_musdb` returns as ``X`` and ``y`` with ``lazy=True``. A
    read-only sequence: ``len(tracks)``, ``tracks[i]`` (an ndarray, decoded now),
    ``tracks[1:5]`` or ``tracks[[0, 3]]`` (a new :class:`LazyTracks`, nothing
    decoded) and iteration. It has no ``shape``: the track lengths are unknown
    until decoded.

    :class:`~sklearn_vpnn.STFT` turns it into a
    :class:`~sklearn_vpnn.spectral.LazySpectrogram`, and the separators'
    ``cache="disk"`` (chosen by ``cache="auto"``) train on that with one track in
    memory at a time. Anything else that wants an array (e.g.
    :meth:`~sklearn_vpnn.VPNNSeparator.transform`, scorers) decodes every track;
    :meth:`compute` does so explicitly.

    Parameters
    ----------
    reader : object
        Has ``len(reader)`` and ``reader.read(i)`` returning one track's
        ``(x, y)`` arrays.
    field : {"X", "y"}
        Mixtures or sources.
    indices : array-like of int or None, default=None
        Which of the reader's tracks, in order; None means all.

    Examples
    --------
    >>> from sklearn_vpnn import load_musdb
    >>> data = load_musdb("../shared/data/musdb18-7", lazy=True)  # doctest: +SKIP
    >>> len(data.X), data.X[0].shape, len(data.y[:10])  # doctest: +SKIP
    (94, (2, 300032), 10)
    """

    is_lazy = True

    def __init__(self, reader, field, indices=None):
        if field not in ("X", "y"):
            raise ValueError(f"field must be 'X' or 'y'; got {field!r}")
        self.reader = reader
        self.field = field
        self.indices = np.arange(len(reader)) if indices is None else np.asarray(indices, dtype=np.int64)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, key):
        if isinstance(key, (numbers.Integral, np.integer)) and not isinstance(key, bool):
            x, y = self.reader.read(int(self.indices[key]))
            return x if self.field == "X" else y
        return LazyTracks(self.reader, self.field, self.indices[key])

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self):
        what = "mixtures" if self.field == "X" else "sources"
        return f"<LazyTracks: {len(self)} {what}, decoded on demand>"

    def compute(self):
        """Decode every track.

        Returns
        -------
        ndarray or list of ndarray
            An ndarray when all tracks have one shape, else a list.
        """
        return _stack_or_list(list(self))
