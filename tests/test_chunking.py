"""Chunked separation (sklearn_vpnn.chunking): exactness, coverage, bounded reads."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

from sklearn_vpnn.chunking import iter_separate, pipeline_context, separate_long


class FractionModel(TransformerMixin, BaseEstimator):
    """Identity-ish 'separator': each source is a fixed fraction of f(input) plus an offset.

    ``(n_tracks, n_channels, n)`` -> ``(n_tracks, n_sources, n_channels, n)``. Being
    pointwise, any crossfade whose weights sum to one must reproduce it exactly; the
    offset catches weights that do not sum to one.
    """

    def __init__(self, fractions=(0.25, 0.75), offset=0.0, nonlinear=False):
        self.fractions = fractions
        self.offset = offset
        self.nonlinear = nonlinear

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        X = np.asarray(X, dtype=np.float32)
        f = np.tanh(X) if self.nonlinear else X
        fr = np.asarray(self.fractions, dtype=np.float32)[None, :, None, None]
        return (f[:, None] * fr + np.float32(self.offset)).astype(np.float32)


def _tiny(strides):
    from sklearn.pipeline import make_pipeline

    from sklearn_vpnn import STFT, InverseSTFT, VPNNSeparator, make_drum_mixtures

    data = make_drum_mixtures(n_tracks=3, duration=1.0, sample_rate=8000, random_state=0)
    pipe = make_pipeline(STFT(n_fft=256, sample_rate=8000),
                         VPNNSeparator(context_strides=strides, hidden_units=16, max_epochs=1,
                                       device="cpu", random_state=0, validation_fraction=0),
                         InverseSTFT())
    return pipe.fit(data.X, data.y), data


@pytest.fixture(scope="module")
def tiny_pipeline():
    """The paper's window (t - 1, t, t + 1)."""
    return _tiny((1,))


@pytest.fixture(scope="module")
def multiscale_pipeline():
    """The default multi-scale context (t ± 1, 4, 16): chunks need 16 hops of context."""
    return _tiny((1, 4, 16))


@pytest.mark.parametrize("n", [1, 999, 10_000, 12_345])
@pytest.mark.parametrize("chunk,overlap", [(1000, 0), (1000, 300), (777, 776), (4096, 1024), (50_000, 100)])
def test_identity_model_reproduced_exactly(rng, n, chunk, overlap):
    audio = rng.standard_normal((2, n)).astype(np.float32)
    model = FractionModel(offset=0.1, nonlinear=True)
    whole = model.transform(audio[None])[0]
    out = separate_long(model, audio, chunk, overlap)
    assert out.shape == (2, 2, n) and out.dtype == np.float32
    np.testing.assert_allclose(out, whole, rtol=1e-6, atol=1e-6)


def test_mono_1d_input(rng):
    audio = rng.standard_normal(5000).astype(np.float32)
    out = separate_long(FractionModel(), audio, 1024, 256)
    np.testing.assert_allclose(out[:, 0], np.stack([0.25 * audio, 0.75 * audio]), atol=1e-6)


def test_blocks_are_consecutive_and_reads_bounded(rng):
    n, chunk, overlap = 10_001, 1000, 200
    audio = rng.standard_normal((1, n)).astype(np.float32)
    spans, calls = [], []

    def read(a, b):
        spans.append((a, b))
        return audio[:, a:b]

    pos = 0
    for start, block in iter_separate(FractionModel(), read, n, chunk, overlap, context=50,
                                      progress=lambda k: calls.append(k)):
        assert start == pos
        pos += block.shape[-1]
    assert pos == n
    assert len(calls) == len(spans)
    assert max(b - a for a, b in spans) <= chunk + 2 * 50  # bounded memory
    assert spans[0][0] == 0 and spans[-1][1] == n


def test_invalid_arguments():
    with pytest.raises(ValueError, match="overlap_samples"):
        separate_long(FractionModel(), np.zeros((1, 100), np.float32), 10, 10)
    with pytest.raises(ValueError, match="chunk_samples"):
        separate_long(FractionModel(), np.zeros((1, 100), np.float32), 0, 0)
    with pytest.raises(ValueError, match="n_channels"):
        separate_long(FractionModel(), np.zeros((1, 1, 100), np.float32), 10, 0)
    with pytest.raises(ValueError, match="returned"):
        list(iter_separate(FractionModel(), lambda a, b: np.zeros((1, 3), np.float32), 100, 10, 0))


def test_context_from_stft(tiny_pipeline):
    pipe, _ = tiny_pipeline
    context, align = pipeline_context(pipe)
    assert align == 64 and context % 64 == 0 and context >= 256 + 2 * 64  # hop n_fft // 4
    assert pipeline_context(FractionModel()) == (0, 1)


@pytest.mark.parametrize("chunk,overlap", [(2000, 500), (3000, 0), (1500, 700)])
def test_vpnn_chunked_equals_whole(tiny_pipeline, chunk, overlap):
    """Context + hop-aligned chunks: chunked == whole to float precision."""
    pipe, data = tiny_pipeline
    audio = np.concatenate([data.X[0], data.X[1], data.X[2][:, :1234]], axis=1)
    whole = pipe.transform(audio[None])[0]
    out = separate_long(pipe, audio, chunk, overlap)
    assert out.shape == whole.shape
    np.testing.assert_allclose(out, whole, rtol=0, atol=1e-5 * np.abs(whole).max())


@pytest.mark.parametrize("chunk,overlap", [(4000, 500), (3000, 0)])
def test_multiscale_vpnn_chunked_equals_whole(multiscale_pipeline, chunk, overlap):
    pipe, data = multiscale_pipeline
    context, _ = pipeline_context(pipe)
    assert context >= 256 + 2 * 16 * 64  # the farthest frame the network reads (hop n_fft // 4)
    audio = np.concatenate([data.X[0], data.X[1], data.X[2][:, :1234]], axis=1)
    whole = pipe.transform(audio[None])[0]
    out = separate_long(pipe, audio, chunk, overlap)
    np.testing.assert_allclose(out, whole, rtol=0, atol=1e-5 * np.abs(whole).max())


def test_vpnn_without_context_differs_only_slightly(tiny_pipeline):
    """Without the discarded context, the crossfade alone keeps the error small (> 30 dB SNR)."""
    pipe, data = tiny_pipeline
    audio = np.concatenate(list(data.X), axis=1)
    whole = pipe.transform(audio[None])[0]
    out = separate_long(pipe, audio, 2000, 512, context=0)
    err = np.sum((out - whole) ** 2)
    assert err > 0  # the edges of the chunks do differ...
    snr = 10 * np.log10(np.sum(whole**2) / err)
    assert snr > 30  # ...but only slightly
