"""Separation of long recordings in overlapping chunks, with bounded memory.

A fitted separation pipeline (``STFT -> separator -> InverseSTFT``) maps
waveforms ``(n_tracks, n_channels, n_samples)`` to sources ``(n_tracks,
n_sources, n_channels, n_samples)``. Applied to a whole hour of audio it would
hold several gigabytes of spectrograms and masks; :func:`separate_long` and
:func:`iter_separate` run it on overlapping chunks instead.

How a chunk is cut and joined
-----------------------------
The signal is cut into *nominal* chunks of ``chunk_samples`` samples that start
every ``chunk_samples - overlap_samples`` samples, so consecutive chunks share
``overlap_samples`` samples. In that shared stretch the outputs are joined with
a raised-cosine crossfade: the earlier chunk fades out with ``cos²`` while the
later one fades in with ``sin²`` (weights ``1 - w`` and ``w``, which sum to one
exactly); the very first and very last samples of the signal get weight one,
so nothing is lost or scaled at the ends and nothing is ever truncated.

Each nominal chunk is *separated* with ``context`` extra samples on both sides
(less at the ends of the signal, where the real signal ends anyway), which are
thrown away afterwards. With the STFT pipelines of this package the context is
derived from the STFT step (``n_fft + 2 * hop_length``, enough for the frame's
own window and the previous/next frame the separator looks at), and chunk
starts are aligned to multiples of ``hop_length`` so that chunk frames coincide
with whole-signal frames. The output of a chunk is then, on its nominal span,
the same as the whole-signal output up to float round-off, and chunked
separation reproduces whole-signal separation (except for steps that use
statistics of the whole track, such as a Wiener filter with
``wiener_iterations > 0``, where the crossfade keeps the joins smooth).

Memory is bounded by two chunks (plus their context): the next chunk is read
and separated while the caller uses the current one's output, which is yielded
block by block as soon as no later chunk can change it.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._validation import check_number
from .spectral._stft import default_hop

__all__ = ["separate_long", "iter_separate", "pipeline_context"]


def _stft_step(pipeline):
    """The first step that records STFT parameters (``n_fft``, ``hop_length``), or None."""
    steps = getattr(pipeline, "steps", None)
    candidates = [s for _, s in steps] if steps is not None else [pipeline]
    for step in candidates:
        if hasattr(step, "n_fft") and hasattr(step, "hop_length") and hasattr(step, "sample_rate"):
            return step
    return None


def pipeline_context(pipeline):
    """Context (samples) and alignment (samples) a pipeline needs for exact chunking.

    Parameters
    ----------
    pipeline : estimator
        A fitted separation pipeline.

    Returns
    -------
    context : int
        Samples to add on both sides of a chunk so that its nominal span is
        separated as in the whole signal: ``n_fft + 2 * s * hop_length`` for a
        pipeline starting with :class:`~sklearn_vpnn.STFT` whose separator reads
        frames up to ``s`` hops away (its largest context stride), else 0.
    align : int
        Chunk starts are rounded to multiples of this: the STFT hop, else 1.
    """
    stft = _stft_step(pipeline)
    if stft is None:
        return 0, 1
    n_fft = int(stft.n_fft)
    hop = int(stft.hop_length) if stft.hop_length is not None else default_hop(n_fft)
    context = n_fft + 2 * _max_stride(pipeline) * hop
    return -(-context // hop) * hop, hop


def _max_stride(pipeline):
    """How many frames away the pipeline's separator looks (1: previous and next frame)."""
    for _, step in getattr(pipeline, "steps", []):
        module = getattr(getattr(step, "net_", None), "module_", None)
        strides = getattr(module, "context_strides", None)
        if strides:
            return max(int(s) for s in strides)
    return 1


def _plan(n_samples, chunk_samples, overlap_samples, align):
    """Nominal chunk spans ``[(start, stop), ...]`` and the crossfade length."""
    chunk = max(align, (chunk_samples // align) * align)
    overlap = min((-(-overlap_samples // align)) * align, chunk - align) if overlap_samples else 0
    step = chunk - overlap
    spans = []
    start = 0
    while True:
        stop = min(start + chunk, n_samples)
        spans.append((start, stop))
        if stop >= n_samples:
            break
        start += step
    return spans, overlap


def _n_chunks(pipeline, n_samples, chunk_samples, overlap_samples):
    """How many chunks :func:`iter_separate` separates for these arguments."""
    _, align = pipeline_context(pipeline)
    return len(_plan(n_samples, chunk_samples, overlap_samples, align)[0])


def _fade_in(n):
    """Raised-cosine ramp ``sin²`` from ~0 to ~1 over ``n`` samples (float64)."""
    t = (np.arange(n) + 0.5) / n
    return np.sin(0.5 * np.pi * t) ** 2


def _separate_chunk(pipeline, audio):
    out = pipeline.transform(audio[np.newaxis])
    out = np.asarray(out[0], dtype=np.float32)
    if out.ndim != 3 or out.shape[-1] != audio.shape[-1]:
        raise ValueError(
            "the pipeline must map (1, n_channels, n_samples) to (1, n_sources, n_channels, "
            f"n_samples); got {(1,) + out.shape} for input {(1,) + audio.shape}"
        )
    return out


def iter_separate(pipeline, read, n_samples, chunk_samples, overlap_samples, context=None,
                  align=None, progress=None):
    """Separate a signal read piecewise; yield the output block by block.

    Parameters
    ----------
    pipeline : estimator
        Fitted; ``transform`` maps ``(1, n_channels, n)`` to ``(1, n_sources,
        n_channels, n)``.
    read : callable
        ``read(start, stop)`` returns samples ``[start, stop)`` of the input,
        ``(n_channels, stop - start)`` float32.
    n_samples : int
        Length of the input.
    chunk_samples : int
        Length of a nominal chunk (rounded down to a multiple of ``align``).
    overlap_samples : int
        Crossfade length between consecutive chunks (rounded up to a multiple
        of ``align``, at most ``chunk_samples - align``).
    context : int, default=None
        Extra samples separated on both sides of each chunk and discarded;
        ``None`` derives it from the pipeline (see :func:`pipeline_context`).
    align : int, default=None
        Chunk starts are multiples of this; ``None`` derives it from the pipeline.
    progress : callable, default=None
        Called as ``progress(1)`` after each chunk (e.g. a ``tqdm`` bar's ``update``).

    Yields
    ------
    start : int
        Position of the block in the signal.
    block : ndarray of shape (n_sources, n_channels, n)
        Final output for samples ``[start, start + n)`` (float32, a view of the
        chunk's output); blocks are consecutive and cover ``[0, n_samples)``
        exactly.
    """
    n_samples = check_number(n_samples, "n_samples", integer=True, low=1)
    chunk_samples = check_number(chunk_samples, "chunk_samples", integer=True, low=1)
    overlap_samples = check_number(overlap_samples, "overlap_samples", integer=True, low=0)
    if overlap_samples >= chunk_samples:
        raise ValueError(
            f"overlap_samples ({overlap_samples}) must be smaller than chunk_samples ({chunk_samples})"
        )
    auto_context, auto_align = pipeline_context(pipeline)
    context = auto_context if context is None else check_number(context, "context", integer=True, low=0)
    align = auto_align if align is None else check_number(align, "align", integer=True, low=1)
    spans, overlap = _plan(n_samples, chunk_samples, overlap_samples, align)
    ramp = _fade_in(overlap) if overlap else None

    def separate(k):
        start, stop = spans[k]
        lo, hi = max(0, start - context), min(n_samples, stop + context)
        audio = np.asarray(read(lo, hi), dtype=np.float32)
        if audio.ndim == 1:
            audio = audio[np.newaxis]
        if audio.shape[-1] != hi - lo:
            raise ValueError(f"read({lo}, {hi}) returned {audio.shape[-1]} samples, expected {hi - lo}")
        return _separate_chunk(pipeline, audio)[..., start - lo : stop - lo]

    # the next chunk is read and separated while the caller uses this one's block; if the
    # caller stops early, the chunk under way is finished (not used) before this returns
    ahead = ThreadPoolExecutor(1, thread_name_prefix="sklearn-vpnn-chunks")
    try:
        pending = ahead.submit(separate, 0)
        carry = None  # weighted output of the previous chunk over the current fade-in span
        for k in range(len(spans)):
            out = pending.result()
            if k + 1 < len(spans):
                pending = ahead.submit(separate, k + 1)
            start, block, carry = _crossfade(out, spans, k, overlap, ramp, carry)
            if progress is not None:
                progress(1)
            yield start, block
    finally:
        ahead.shutdown(wait=True, cancel_futures=True)


def _crossfade(out, spans, k, overlap, ramp, carry_in):
    """Chunk ``k``'s block (its fade-in crossfaded with ``carry_in``) and the next chunk's carry."""
    start, stop = spans[k]
    last = k == len(spans) - 1
    carry = None
    emit_stop = stop if last else spans[k + 1][0]
    fade_in = k > 0 and overlap
    if fade_in and overlap > emit_stop - start:  # the fade-in reaches into the next one's
        out = out.astype(np.float64)
        out[..., :overlap] *= ramp
        out[..., :overlap] += carry_in
        carry = None if last else out[..., emit_stop - start :] * (1.0 - ramp)
        block = out[..., : emit_stop - start].astype(np.float32)
    else:  # the crossfades in float64, in the chunk's own output; the rest as it is
        if not last:
            tail = out[..., emit_stop - start :]  # the next chunk's fade-in span
            carry = tail.astype(np.float64) * (1.0 - ramp) if overlap else None
        if fade_in:
            if not out.flags.writeable:
                out = out.copy()
            head = out[..., :overlap].astype(np.float64)
            head *= ramp
            head += carry_in
            out[..., :overlap] = head
        block = out[..., : emit_stop - start]
    return start, block, carry


def separate_long(pipeline, audio, chunk_samples, overlap_samples, progress=None, context=None,
                  align=None):
    """Separate a (long) signal in overlapping chunks with a crossfade.

    Parameters
    ----------
    pipeline : estimator
        A fitted separation pipeline, ``STFT -> separator -> InverseSTFT``:
        ``transform`` maps ``(n_tracks, n_channels, n_samples)`` to ``(n_tracks,
        n_sources, n_channels, n_samples)``.
    audio : array-like of shape (n_channels, n_samples) or (n_samples,)
        The mixture, at the pipeline's sample rate.
    chunk_samples : int
        Samples per chunk (rounded down to a multiple of the STFT hop).
    overlap_samples : int
        Crossfade length between chunks (rounded up to a multiple of the hop).
    progress : callable, default=None
        Called as ``progress(1)`` after each chunk, e.g. a ``tqdm`` bar's ``update``.
    context : int, default=None
        Extra samples separated (and discarded) on both sides of each chunk;
        ``None`` means ``n_fft + 2 * hop_length`` of the pipeline's STFT.
    align : int, default=None
        Chunk starts are multiples of this; ``None`` means the STFT hop.

    Returns
    -------
    ndarray of shape (n_sources, n_channels, n_samples), float32
        The separated sources, exactly as long as ``audio``.

    See Also
    --------
    iter_separate : The same, streaming (for signals that do not fit in memory).

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_vpnn import STFT, InverseSTFT, VPNNSeparator, make_drum_mixtures
    >>> from sklearn_vpnn.chunking import separate_long
    >>> data = make_drum_mixtures(n_tracks=2, duration=2.0, random_state=0)
    >>> pipe = make_pipeline(STFT(n_fft=512), VPNNSeparator(hidden_units=16, max_epochs=1,
    ...                                                     random_state=0), InverseSTFT())
    >>> pipe = pipe.fit(data.X, data.y)
    >>> separate_long(pipe, data.X[0], chunk_samples=22050, overlap_samples=2048).shape
    (2, 1, 44100)
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[np.newaxis]
    if audio.ndim != 2:
        raise ValueError(f"audio must be (n_channels, n_samples) or 1-D; got shape {audio.shape}")
    n = audio.shape[-1]
    out = None
    for start, block in iter_separate(pipeline, lambda a, b: audio[:, a:b], n, chunk_samples,
                                      overlap_samples, context=context, align=align,
                                      progress=progress):
        if out is None:
            out = np.empty(block.shape[:-1] + (n,), np.float32)
        out[..., start : start + block.shape[-1]] = block
    return out
