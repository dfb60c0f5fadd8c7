"""The fused path: a separator's deferred output inverted chunk by chunk.

``InverseSTFT`` on a pending :class:`DeferredSpectrogram` must give the waveforms
of inverting the materialised values, bit for bit; everything else that reads the
values gets them whole, computed once.
"""

import copy
import functools
import pickle

import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline

from sklearn_vpnn import STFT, InverseSTFT, Spectrogram, VPNNSeparator, make_drum_mixtures
from sklearn_vpnn.spectral._deferred import DeferredSpectrogram


def _bits(a):
    return np.asarray(a).view(np.uint32)


def _fit(n_channels, n_fft=256, hop=None, strides=(1, 4), wiener=0):
    data = make_drum_mixtures(n_tracks=2, duration=1.0, sample_rate=8000, n_channels=n_channels,
                              random_state=0)
    # one frame grid: the deferred output (shifts > 1 averages waveforms into a plain Spectrogram)
    sep = VPNNSeparator(hidden_units=8, max_epochs=1, context_strides=strides, random_state=0,
                        validation_fraction=0, wiener_iterations=wiener, device="cpu", shifts=1)
    return make_pipeline(STFT(n_fft=n_fft, hop_length=hop, sample_rate=8000), sep,
                         InverseSTFT()).fit(data.X, data.y)


def _mixtures(n_channels, lengths, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n_channels, n)).astype(np.float32) for n in lengths]


def _materialised(pipe, X):
    """What the pipeline gave before: the separated values held, then inverted."""
    sep = pipe[1].transform(pipe[0].transform(X))
    return pipe[2].transform(Spectrogram(np.asarray(sep), sep.lengths, sep.params, sep.sources))


@pytest.fixture(scope="module")
def stereo():
    return _fit(2)


@pytest.mark.parametrize("n_channels", [1, 2])
@pytest.mark.parametrize("threads", [1, 2])
def test_fused_is_the_materialised_inverse_bit_for_bit(n_channels, threads):
    pipe = _fit(n_channels)
    X = np.stack(_mixtures(n_channels, [70001] * 3))
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        spec = pipe[1].transform(pipe[0].transform(X))
        assert isinstance(spec, DeferredSpectrogram) and spec.pending
        fused = pipe[2].transform(spec)
        assert spec.pending  # inverting did not read the values
        ref = _materialised(pipe, X)
    finally:
        torch.set_num_threads(before)
    assert fused.shape == (3, 2, n_channels, 70001)
    np.testing.assert_array_equal(_bits(fused), _bits(ref))
    np.testing.assert_array_equal(_bits(pipe.transform(X)), _bits(ref))


@pytest.mark.parametrize("n_fft, hop", [(256, 64), (256, 128), (64, 32)])
def test_ragged_tracks_tiny_chunks_and_other_hops(monkeypatch, n_fft, hop):
    """Lists for ragged tracks; chunks of a few frames (rows that three chunks reach)."""
    import sklearn_vpnn.separator._inference as inference

    pipe = _fit(2, n_fft=n_fft, hop=hop, strides=(1,))
    monkeypatch.setattr(inference, "FrameMasker", functools.partial(inference.FrameMasker, chunk=3))
    X = _mixtures(2, [20000, 777, 1, 5003])
    fused = pipe.transform(X)
    ref = _materialised(pipe, X)
    assert isinstance(fused, list) and [f.shape[-1] for f in fused] == [20000, 777, 1, 5003]
    for f, r in zip(fused, ref):
        np.testing.assert_array_equal(_bits(f), _bits(r))


def test_a_hop_that_does_not_divide_n_fft_reads_the_values():
    pipe = _fit(1, n_fft=256, hop=96, strides=(1,))
    X = _mixtures(1, [9000, 9000])
    spec = pipe[1].transform(pipe[0].transform(X))
    out = pipe[2].transform(spec)
    assert not spec.pending  # fold's path inverts the whole array
    np.testing.assert_array_equal(_bits(out), _bits(_materialised(pipe, X)))


def test_data_is_computed_once_on_first_access(stereo):
    X = _mixtures(2, [9000, 4000])
    spec = stereo[1].transform(stereo[0].transform(X))
    assert spec.pending and spec.shape == (2, 2, 2, 129, spec.shape[-1]) and len(spec) == 2
    assert "computed when first read" in repr(spec)
    masks = stereo[1].predict_masks(stereo[0].transform(X))
    mixture = stereo[0].transform(X).data
    np.testing.assert_array_equal(spec.data, masks * mixture[:, np.newaxis])
    assert not spec.pending and spec.data is spec.data
    assert spec[1].shape == (1, 2, 2, 129, spec.shape[-1]) and spec[0, 1].shape == spec.shape[2:]
    assert np.asarray(spec) is spec.data
    # inverting a materialised one uses its values
    for a, b in zip(stereo[2].transform(spec), _materialised(stereo, X)):  # ragged: lists
        np.testing.assert_array_equal(_bits(a), _bits(b))


def test_pickle_and_copy_hold_the_values(stereo):
    X = _mixtures(2, [6000])
    spec = stereo[1].transform(stereo[0].transform(X))
    back = pickle.loads(pickle.dumps(spec))
    assert type(back) is Spectrogram
    for other in (back, copy.copy(spec), copy.deepcopy(spec)):
        np.testing.assert_array_equal(other.data, spec.data)
        assert other.sources == spec.sources and other.lengths.tolist() == [6000]


def test_wiener_path_is_materialised():
    pytest.importorskip("norbert")
    pipe = _fit(2, wiener=1)
    X = _mixtures(2, [8000])
    spec = pipe[1].transform(pipe[0].transform(X))
    assert not isinstance(spec, DeferredSpectrogram)
    assert pipe.transform(X)[0].shape == (2, 2, 8000)


def test_non_finite_values_are_refused(stereo):
    X = _mixtures(2, [6000])
    sep = copy.deepcopy(stereo[1])
    with torch.no_grad():
        for weight in sep.net_.module_.parameters():  # every network of the model
            weight.fill_(float("nan"))
    spec = sep.transform(stereo[0].transform(X))
    with pytest.raises(ValueError, match="NaN or infinite"):
        stereo[2].transform(spec)
    with pytest.raises(ValueError, match="NaN or infinite"):
        stereo[2].transform(Spectrogram(spec.data, spec.lengths, spec.params, spec.sources))
