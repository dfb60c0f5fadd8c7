"""STFT parameters, frame geometry (:func:`n_frames`) and the PyTorch forward/inverse kernels.

Where frames lie and how many there are is described in the notes of
:mod:`sklearn_vpnn.spectral`.
"""

import functools
import warnings

import numpy as np
from scipy.signal import check_NOLA, get_window

from .._threads import run_all
from .._validation import check_number, check_sample_rate

__all__ = ["n_frames"]

#: frames per FFT block of :func:`_stft_rows` and :func:`_overlap_add_rows` (fits in cache)
_FRAME_BLOCK = 512

#: Upper bound on the elements of the transient per-frame buffers of one inverse
#: call through ``fold`` (a hop that does not divide ``n_fft``; float32: 64 MB).
_CHUNK_ELEMENTS = 1 << 24


def _torch():
    import torch

    return torch


def default_hop(n_fft):
    """The hop that ``hop_length=None`` means: ``n_fft // 4`` (75% overlap, librosa's and torch's rule).

    Files and pickles written by sklearn-vpnn 0.1, where None meant ``n_fft // 2``, are
    read with their hop made explicit (:func:`as_in_0_1`).
    """
    return max(1, n_fft // 4)


def as_in_0_1(params):
    """An STFT's or InverseSTFT's parameters (or pickled state) as sklearn-vpnn 0.1 meant them.

    There ``hop_length=None`` meant ``n_fft // 2``; it is made explicit. Without an
    ``n_fft`` (an InverseSTFT reading it from its input) they are left as they are.
    """
    if params.get("hop_length") is None and params.get("n_fft") is not None:
        return {**params, "hop_length": max(1, int(params["n_fft"]) // 2)}
    return params


class _HopRule:
    """Pickles say which rule their ``hop_length=None`` follows; those of 0.1 (no word) keep ``n_fft // 2``."""

    def __getstate__(self):
        return {**super().__getstate__(), "_hop_rule": "n_fft // 4"}

    def __setstate__(self, state):
        state = dict(state)
        super().__setstate__(state if state.pop("_hop_rule", None) else as_in_0_1(state))


def _resolve_params(n_fft, hop_length, window="hann", center=True, sample_rate=None):
    """Validated STFT parameters as a plain dict (``hop_length`` resolved)."""
    n_fft = check_number(n_fft, "n_fft", integer=True, low=2)
    hop = check_number(hop_length, "hop_length", integer=True, low=1, allow_none=True,
                       what="a positive integer")
    hop = default_hop(n_fft) if hop is None else hop
    if hop > n_fft:
        raise ValueError(
            f"hop_length={hop} > n_fft={n_fft} would skip the samples between frames, "
            "so the STFT could not be inverted; use hop_length <= n_fft"
        )
    if not isinstance(center, (bool, np.bool_)):  # 0 and 1 are not booleans here
        raise ValueError(f"center must be True or False; got {center!r}")
    win = _window(window, n_fft)
    if not check_NOLA(win, n_fft, n_fft - hop):
        raise ValueError(
            f"window={window!r} with n_fft={n_fft} and hop_length={hop} cannot be inverted: "
            "the overlapping squared windows add up to zero at some samples (the NOLA "
            "condition fails); use a smaller hop_length or another window"
        )
    sample_rate = check_sample_rate(sample_rate, allow_none=True)
    return {
        "n_fft": n_fft,
        "hop_length": hop,
        "window": window,
        "center": bool(center),
        "sample_rate": sample_rate,
    }


def _window(window, n_fft):
    """Periodic (``fftbins=True``) float32 window, as librosa, torch and scipy.signal.stft."""
    if isinstance(window, (bool, np.bool_)):  # scipy would take True as a Kaiser beta of 1
        raise ValueError(f"window {window!r} is not a window scipy knows: a boolean is no window")
    try:
        win = get_window(window, n_fft, fftbins=True)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"window {window!r} is not a window scipy knows: {exc}") from None
    win = np.asarray(win, dtype=np.float32)
    if win.shape != (n_fft,) or not np.all(np.isfinite(win)):
        raise ValueError(f"window {window!r} did not give {n_fft} finite values")
    return win


#: Below this fraction of its largest value, the overlap-added squared window leaves a
#: sample unrecoverable: ``n_frames`` adds a frame rather than end a track there, and
#: the inverse STFT warns about any such sample.
_WEAK_ENVELOPE = 1e-4


def n_frames(n_samples, n_fft, hop_length, center=True, window="hann", **_):
    """Number of STFT frames for a signal of ``n_samples`` samples.

    librosa's count (``1 + (n_samples + 2 * (n_fft // 2) - n_fft) // hop_length``
    when centred), raised where needed so that every sample lies under a frame and,
    when centred, so that the last sample does not lie only under the near-zero tail
    of the last frame's window (with 50 % overlap that happens for lengths just short
    of a multiple of the hop; one more frame then covers the end fully).

    Parameters
    ----------
    n_samples : int
        Length of the signal.
    n_fft : int
        Frame length.
    hop_length : int
        Samples between frames.
    center : bool, default=True
        Whether frames are centred (signal padded by ``n_fft // 2`` zeros).
    window : str or tuple, default="hann"
        The analysis window (its tail decides whether the end is covered).
    **_ : dict
        Other STFT parameters, ignored (so ``n_frames(n, **spec.params)`` works).

    Returns
    -------
    int
        The number of frames.

    Examples
    --------
    >>> from sklearn_vpnn.spectral import n_frames
    >>> n_frames(1000, n_fft=256, hop_length=64), n_frames(1000, 256, 64, center=False)
    (16, 13)
    >>> n_frames(1020, n_fft=256, hop_length=128)  # librosa: 8, whose window ends near zero
    9
    """
    n_samples = int(n_samples)
    pad = n_fft // 2 if center else 0
    covering = 1 + -(-max(0, pad + n_samples - n_fft) // hop_length)  # ceil division
    if not center:
        return covering
    count = max(1 + max(0, n_samples + 2 * pad - n_fft) // hop_length, covering)
    w2, strong = _window_power(tuple(window) if isinstance(window, list) else window, n_fft, hop_length)
    last = pad + n_samples - 1  # the last sample, in padded coordinates
    while True:
        first = max(0, -(-(last - n_fft + 1) // hop_length))
        ks = np.arange(first, count)
        if w2[last - ks * hop_length].sum() >= _WEAK_ENVELOPE * strong:
            return count
        count += 1


@functools.lru_cache(maxsize=32)
def _window_power(window, n_fft, hop_length):
    """Squared window and the largest overlap-added squared window (its envelope)."""
    w2 = _window(window, n_fft).astype(np.float64) ** 2
    offsets = np.arange(hop_length)[:, None] + hop_length * np.arange(-(-n_fft // hop_length))[None]
    env = np.where(offsets < n_fft, w2[np.minimum(offsets, n_fft - 1)], 0.0).sum(1)
    return w2, float(env.max())


def _length_for_frames(n_fr, params):
    """Signal length implied by ``n_fr`` frames (librosa's istft default)."""
    n_fft, hop = params["n_fft"], params["hop_length"]
    pad = n_fft // 2 if params["center"] else 0
    return max(1, n_fft + hop * (n_fr - 1) - 2 * pad)


def _stft_rows(tracks, params, n_out=None):
    """STFT of tracks given as ``(n_rows, n_samples_i)`` real arrays (same ``n_rows``).

    Returns a C-contiguous complex64 ``(n_tracks, n_rows, n_bins, n_out)`` array,
    written in place: each row is copied once into a zero-padded float32 buffer
    (that copy also casts), whose frames (strided views) are windowed and
    transformed block by block (what ``torch.stft`` computes, bit for bit, without
    its copy of every frame) and written to the output; frames past a track's end
    are zeros.
    """
    torch = _torch()
    n_fft, hop = params["n_fft"], params["hop_length"]
    pad = n_fft // 2 if params["center"] else 0
    lengths = [t.shape[-1] for t in tracks]
    counts = [n_frames(n, **params) for n in lengths]
    n_out = max(counts) if n_out is None else n_out
    n_rows = tracks[0].shape[0]
    out = np.empty((len(tracks), n_rows, n_fft // 2 + 1, n_out), np.complex64)
    window = torch.from_numpy(_window(params["window"], n_fft))

    def transform_row(item):
        i, r = item
        t, n = counts[i], lengths[i]
        buf = np.zeros((t - 1) * hop + n_fft, np.float32)
        buf[pad : pad + n] = tracks[i][r]
        frames = torch.from_numpy(buf).unfold(0, n_fft, hop)  # (t, n_fft) views of buf
        dest = torch.from_numpy(out[i, r])
        for f0 in range(0, t, _FRAME_BLOCK):
            f1 = min(t, f0 + _FRAME_BLOCK)
            dest[:, f0:f1].copy_(torch.fft.rfft(frames[f0:f1] * window, dim=-1).t())
        if t < n_out:
            out[i, r, :, t:] = 0

    run_all(transform_row, [(i, r) for i in range(len(tracks)) for r in range(n_rows)])
    return out


def _envelope(window, n_fr, hop):
    """The overlap-added squared window of ``n_fr`` frames, ``((n_fr - 1) * hop + n_fft,)``.

    As ``torch.nn.functional.fold`` adds it (zeros, then for every sample the latest
    frame first), bit for bit; hop-sized pieces when the hop divides ``n_fft``.
    """
    torch = _torch()
    n_fft = window.shape[0]
    wsq = window**2
    if n_fft % hop:
        return torch.nn.functional.fold(wsq[None, :, None].expand(1, n_fft, n_fr),
                                        output_size=(1, (n_fr - 1) * hop + n_fft),
                                        kernel_size=(1, n_fft), stride=(1, hop)).reshape(-1)
    r = n_fft // hop
    env = torch.zeros(n_fr + r - 1, hop, dtype=wsq.dtype)
    for k in range(r):  # frame t's k-th piece lands in block t + k
        env[k : k + n_fr].add_(wsq[k * hop : (k + 1) * hop])
    return env.reshape(-1)


def _istft_rows(spec, length, params, window, out=None):
    """Inverse of one track's ``(n_rows, n_bins, n_frames)`` data -> ``(n_rows, length)``.

    Overlap-add of the windowed inverse FFTs divided by the overlap-added squared
    window: the exact inverse of :func:`_stft_rows` wherever that sum is nonzero.
    Written into ``out`` (float32 ``(n_rows, length)``) when given.
    """
    torch = _torch()
    n_fft, hop = params["n_fft"], params["hop_length"]
    pad = n_fft // 2 if params["center"] else 0
    n_fr, env = _inverse_envelope(length, params, window)
    out_len = (n_fr - 1) * hop + n_fft
    fold = torch.nn.functional.fold
    result = np.empty((spec.shape[0], length), np.float32) if out is None else out
    if n_fft % hop == 0:
        _overlap_add_rows(spec, n_fr, params, window, env, result)
        return result
    step = max(1, _CHUNK_ELEMENTS // (n_fr * n_fft))
    for r in range(0, spec.shape[0], step):
        chunk = spec[r : r + step, :, :n_fr]
        if not chunk.flags.writeable:  # torch.from_numpy warns on read-only memory
            chunk = chunk.copy()
        frames = torch.fft.irfft(torch.from_numpy(chunk), n=n_fft, dim=-2)  # (rows, n_fft, n_fr)
        frames.mul_(window[:, None])
        y = fold(frames, output_size=(1, out_len), kernel_size=(1, n_fft), stride=(1, hop))
        y = y.reshape(-1, out_len)[:, pad : pad + length]
        result[r : r + step] = (y / env).numpy()
    return result


def _inverse_envelope(length, params, window):
    """``(n_frames, env)``: the frames of a track and the divisor of its overlap-add.

    ``env`` is the overlap-added squared window on the track's ``length`` samples,
    where samples that lie (almost) only under the window's zeros are warned about
    and divided by one.
    """
    torch = _torch()
    n_fft, hop = params["n_fft"], params["hop_length"]
    pad = n_fft // 2 if params["center"] else 0
    n_fr = n_frames(length, **params)
    env = _envelope(window, n_fr, hop)[pad : pad + length]
    env_max = float(env.max())
    weak = env < _WEAK_ENVELOPE * env_max  # float32 round-off is amplified ~1/window there
    if bool(weak.any()):
        warnings.warn(
            f"{int(weak.sum())} sample(s) at the track edges lie only where the window "
            f"{params['window']!r} is (nearly) zero, so the STFT kept (almost) no trace of "
            "them; they come back inaccurate (zeros where the window is exactly zero). "
            "With center=False use a window that is nonzero at its ends (e.g. 'hamming'), "
            "or use center=True.",
            UserWarning,
            stacklevel=3,
        )
        env = torch.where(env <= 1e-10 * env_max, torch.ones_like(env), env)
    return n_fr, env


def _overlap_add_rows(spec, n_fr, params, window, env, result):
    """:func:`_istft_rows` for a hop that divides ``n_fft``: ``result`` filled in place.

    Each frame's windowed inverse FFT is ``r = n_fft / hop`` hop-long pieces, added
    into the output's hop-long blocks ``t, ..., t + r - 1``; block by block of frames,
    last block first. That adds every output sample's terms in the order of
    ``torch.nn.functional.fold`` (zeros, then the latest frame first), so the result is
    the same bit for bit, without fold's copy of every frame.
    """
    torch = _torch()
    n_fft, hop = params["n_fft"], params["hop_length"]
    pad = n_fft // 2 if params["center"] else 0
    r = n_fft // hop
    length = result.shape[-1]

    def invert_row(row):
        ola = None
        for f1 in range(n_fr, 0, -_FRAME_BLOCK):
            f0 = max(0, f1 - _FRAME_BLOCK)
            block = spec[row, :, f0:f1]
            if not block.flags.writeable:  # torch.from_numpy warns on read-only memory
                block = block.copy()
            z = torch.fft.irfft(torch.from_numpy(block).t(), n=n_fft, dim=-1)  # (frames, n_fft)
            if ola is None:
                ola = torch.zeros(n_fr + r - 1, hop, dtype=z.dtype)
            z.mul_(window)
            pieces = z.view(f1 - f0, r, hop)
            for k in range(r):  # frame t's k-th piece lands in block t + k
                ola[f0 + k : f1 + k].add_(pieces[:, k])
        y = ola.view(-1)[pad : pad + length]
        out = torch.from_numpy(result[row])
        if y.dtype == out.dtype:
            torch.div(y, env, out=out)
        else:
            out.copy_(y / env)

    run_all(invert_row, range(spec.shape[0]))
