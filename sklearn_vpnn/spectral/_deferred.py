"""A separated spectrogram computed when first read, and its inverse STFT chunk by chunk.

A separator's ``transform`` returns a :class:`DeferredSpectrogram`: a
:class:`~sklearn_vpnn.Spectrogram` whose values (masks times the mixture: 509 MB
for a 3-minute stereo track and two sources) are not computed yet. Whatever reads
:attr:`~DeferredSpectrogram.data` (indexing, ``np.asarray``, scoring, plotting,
pickling, ``copy``) gets the whole array, computed on first access and kept: the
numbers of computing it at once.

:class:`~sklearn_vpnn.InverseSTFT` does not read it. For a hop that divides
``n_fft`` it inverts a pending spectrogram with :func:`inverse_deferred`: chunk by
chunk of frames (the producer's chunks, every channel's at once on torch's
threads), each source's frames are written into one reused complex block, inverse
transformed and overlap-added into the waveform, so the separated spectrogram is
never held. The waveform is the same bit for bit as inverting the materialised
data: the same products, the same inverse FFT of every frame, and every output
sample's terms added in the same order (zeros, then the latest frame first, as
:func:`~sklearn_vpnn.spectral._stft._overlap_add_rows`); a chunk's terms that land
past its last frame, or on the first rows that earlier frames still reach, are kept
apart and added last, in that order.
"""

import math
import threading

import numpy as np

from ._spectrogram import Spectrogram
from ._stft import _FRAME_BLOCK, _inverse_envelope, _torch

__all__ = []


class DeferredSpectrogram(Spectrogram):
    """A separated :class:`~sklearn_vpnn.Spectrogram` whose values are computed when first read.

    Parameters
    ----------
    shape : tuple of int
        ``(n_tracks, n_sources, n_channels, n_bins, n_frames)``.
    lengths, params, sources
        As for :class:`~sklearn_vpnn.Spectrogram` (checked the same way).
    producer : object
        Computes the values (the separator's masks times the mixture). It has

        * ``fill(out)``: write every value into ``out`` (complex64, ``shape``);
        * ``frame_chunks(i)``: prepare track ``i``; return its chunks
          ``[(channel, start, stop), ...]``, which cover every channel's real frames
          once and may be computed concurrently;
        * ``chunk(i, channel, start, stop)``: compute one chunk (on the calling
          thread) and return ``write(source, f0, f1, out)``, which writes that
          source's frames ``f0:f1`` (within the chunk) into ``out``, ``(n_bins, f1 -
          f0)`` complex64, on the same thread;
        * ``run_all(fn, items)``: ``[fn(item) for item in items]``, in parallel
          where the producer can.

    Notes
    -----
    :attr:`data` is computed on first access (then the producer, which holds the
    mixture and the network, is let go). Until then :meth:`inverse_deferred` may
    invert the spectrogram without holding it, computing the values again each
    time. A pickle or copy holds a plain :class:`~sklearn_vpnn.Spectrogram` of
    the values.
    """

    def __init__(self, shape, lengths, params, sources, producer):
        self._shape = tuple(int(n) for n in shape)
        self._data = None
        self._producer = producer
        self._lock = threading.Lock()
        self._set_metadata(lengths, params, sources)

    @property
    def data(self):
        """The values, computed now if they are not yet (complex64 ndarray)."""
        with self._lock:
            if self._data is None:
                out = np.empty(self._shape, np.complex64)
                self._producer.fill(out)
                self._data, self._producer = out, None
        return self._data

    @property
    def pending(self):
        """True while the values are not computed (:attr:`data` not read yet)."""
        return self._data is None

    @property
    def shape(self):
        """Shape of the values (known without computing them)."""
        return self._shape

    @property
    def ndim(self):
        """Number of dimensions (5: a separated spectrogram)."""
        return len(self._shape)

    @property
    def dtype(self):
        """Dtype of the values, complex64."""
        return np.dtype(np.complex64)

    def __reduce__(self):  # pickle and copy: the values, as a plain Spectrogram
        return Spectrogram, (self.data, self.lengths, self.params, self.sources)

    def __repr__(self):
        state = ", computed when first read" if self.pending else ""
        return super().__repr__()[:-1] + state + ">"


class WaveformSpectrogram(DeferredSpectrogram):
    """A separated spectrogram that is the STFT of waveforms it holds.

    What a separator with ``shifts > 1`` returns: the separated waveforms, averaged
    over frame grids, are what it computes; their STFT (with the mixture's
    parameters) is computed when :attr:`data` is first read, and
    :class:`~sklearn_vpnn.InverseSTFT` gives the waveforms back without computing it
    (inverting their STFT gives them again, to float rounding).

    Parameters
    ----------
    waveforms : list of ndarray
        One float32 ``(n_sources, n_channels, n_samples)`` array per track, each at
        its track's length.
    like : Spectrogram
        The mixture spectrogram whose STFT, frames and lengths the values follow.
    sources : tuple of str
        Source names.
    """

    def __init__(self, waveforms, like, sources):
        self.waveforms = [np.asarray(w, np.float32) for w in waveforms]
        shape = (len(like), self.waveforms[0].shape[0], *like.shape[1:])
        super().__init__(shape, like.lengths, like.params, sources, _Analysis(self.waveforms, like))

    def inverse(self):
        """The waveforms, as :class:`~sklearn_vpnn.InverseSTFT` returns them (stacked when equally long)."""
        if len({w.shape[-1] for w in self.waveforms}) == 1:
            return np.stack(self.waveforms)
        return list(self.waveforms)


class _Analysis:
    """Producer of a :class:`WaveformSpectrogram`'s values: the STFT of its waveforms."""

    def __init__(self, waveforms, like):
        self.waveforms, self.like = waveforms, like

    def fill(self, out):
        out[...] = self.like.analyze_like(self.waveforms)


def _finite(t):
    """True when a float tensor holds no NaN/inf (a fast sum first, the exact check if needed)."""
    return math.isfinite(float(t.sum())) or bool(_torch().isfinite(t).all())


def inverse_deferred(spec, i, length, window, out):
    """Inverse STFT of track ``i`` of a pending :class:`DeferredSpectrogram`, into ``out``.

    Parameters
    ----------
    spec : DeferredSpectrogram
        Pending, with a hop that divides ``n_fft``.
    i : int
        The track.
    length : int
        Its length in samples.
    window : torch.Tensor
        The float32 analysis window.
    out : ndarray of float32, shape (n_sources * n_channels, length)
        Filled with the waveforms, row ``source * n_channels + channel``.

    Returns
    -------
    bool
        True when every sample is finite (False: the values held NaN or inf).
    """
    torch = _torch()
    producer, params = spec._producer, spec.params
    n_fft, hop = params["n_fft"], params["hop_length"]
    r, pad = n_fft // hop, (n_fft // 2 if params["center"] else 0)
    _, env = _inverse_envelope(length, params, window)
    n_src, n_ch, n_bins = spec.shape[1:4]
    heads, tails, finite = {}, [], []  # written by the workers (distinct keys; appends)
    buffers = {}

    def emit(row, j0, ola):
        """Output rows ``j0, ...`` (hop-long blocks of padded samples) of ``row``, divided."""
        y = ola.reshape(-1)
        x0 = j0 * hop - pad
        lo, hi = max(0, x0), min(length, x0 + y.numel())
        if lo < hi:
            torch.div(y[lo - x0 : hi - x0], env[lo:hi], out=torch.from_numpy(out[row, lo:hi]))

    def invert(item):
        c, a, b = item
        write = producer.chunk(i, c, a, b)
        key = threading.get_ident()
        block, ola_all, z_all = buffers.get(key, (None, None, None))
        if block is None or ola_all.shape[0] < b - a:
            block = np.empty((n_bins, _FRAME_BLOCK), np.complex64)
            ola_all, z_all = torch.empty(b - a, hop), torch.empty(_FRAME_BLOCK * n_fft)
            buffers[key] = block, ola_all, z_all
        n = b - a
        first_final = a + r - 1 if a > 0 else a  # rows before it still get earlier frames' terms
        for s in range(n_src):
            row = s * n_ch + c
            ola = ola_all[:n].zero_()  # rows a ... b - 1
            for f1 in range(b, a, -_FRAME_BLOCK):  # last block first, as _overlap_add_rows
                f0 = max(a, f1 - _FRAME_BLOCK)
                frames = block[:, : f1 - f0]
                write(s, f0, f1, frames)
                z = z_all[: (f1 - f0) * n_fft].view(f1 - f0, n_fft)
                torch.fft.irfft(torch.from_numpy(frames).t(), n=n_fft, dim=-1, out=z)
                z.mul_(window)
                pieces = z.view(f1 - f0, r, hop)
                for k in range(r):  # frame t's k-th piece lands in row t + k
                    inside = min(f1, b - k)
                    if inside > f0:
                        ola[f0 - a + k : inside - a + k].add_(pieces[: inside - f0, k])
                    for t in range(max(f0, b - k), f1):  # past the chunk: added last
                        tails.append((-t, row, t + k, pieces[t - f0, k].clone()))
            finite.append(_finite(ola))
            for j in range(a, min(first_final, b)):
                heads[row, j] = ola[j - a].clone()
            if first_final < b:
                emit(row, first_final, ola[first_final - a :])

    producer.run_all(invert, producer.frame_chunks(i))
    # rows that several chunks reach: this chunk's partial sum, then earlier frames, latest first
    tails.sort(key=lambda e: e[0])
    for _, row, j, piece in tails:
        if (row, j) not in heads:
            heads[row, j] = torch.zeros(hop)
        heads[row, j].add_(piece)
    for (row, j), y in heads.items():
        finite.append(_finite(y))
        emit(row, j, y)
    return all(finite)
