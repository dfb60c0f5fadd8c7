"""Separating on shifted frame grids and averaging the results (a separator's ``shifts``)."""

import pickle

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from sklearn_vpnn import STFT, DNNSeparator, InverseSTFT, VPNNSeparator, make_drum_mixtures
from sklearn_vpnn.persistence import load_model, save_model

SMALL = dict(hidden_units=16, band_units=4, n_layers=2, max_epochs=1, batch_size=128)


@pytest.fixture(scope="module")
def data():
    return make_drum_mixtures(n_tracks=3, duration=1.0, sample_rate=16000, random_state=0)


@pytest.fixture(scope="module")
def pipe(data):
    pipe = make_pipeline(STFT(n_fft=256, hop_length=128, sample_rate=16000),  # 50% overlap, where grids help
                         VPNNSeparator(random_state=0, shifts=2, **SMALL), InverseSTFT())
    return pipe.fit(data.X, data.y)


def _with_shifts(pipe, shifts):
    pipe = pickle.loads(pickle.dumps(pipe))
    return pipe.set_params(vpnnseparator__shifts=shifts)


@pytest.mark.parametrize("shifts", [2, 3])
def test_shifts_average_the_separations_of_the_mixture_moved_under_the_frames(data, pipe, shifts):
    once = _with_shifts(pipe, 1)
    offsets = [round(k * 128 / shifts) for k in range(shifts)]  # hop 128
    by_hand = np.mean([once.transform(np.pad(data.X, ((0, 0), (0, 0), (off, 0))))[..., off:] for off in offsets],
                      axis=0)
    averaged = _with_shifts(pipe, shifts).transform(data.X)
    # float32 STFT round trips apart (up to 1.01e-4 seen on an AMD EPYC); other grids differ by > 1e-3
    np.testing.assert_allclose(averaged, by_hand, atol=3e-4)
    np.testing.assert_allclose(averaged.sum(axis=1), data.X, atol=2e-5)  # still a split of the mixture
    assert np.abs(averaged - once.transform(data.X)).max() > 1e-3  # other frames, other estimates


def test_the_default_separates_on_one_grid_and_saved_settings_are_kept(pipe, tmp_path):
    """One grid by default (at the default STFT's 75% overlap a second one gained nothing)."""
    assert VPNNSeparator().shifts == 1 and DNNSeparator().shifts == 1
    sep = pipe[1]
    state = {k: v for k, v in sep.__getstate__().items() if k != "shifts"}
    old = VPNNSeparator.__new__(VPNNSeparator)
    old.__setstate__(state)  # a pickle from before the parameter
    assert old.shifts == 1
    save_model(pipe, tmp_path / "m.safetensors")
    assert load_model(tmp_path / "m.safetensors")[1].shifts == 2  # saved with it: kept
    from sklearn_vpnn.separator._checks import _upgrade_params

    assert _upgrade_params({"hidden_units": 256})["shifts"] == 1  # a model file from before it


def test_bad_shifts_are_refused_in_fit_and_in_transform(data, pipe):
    spec = STFT(n_fft=256, hop_length=128).fit_transform(data.X)
    with pytest.raises(ValueError, match="shifts"):
        VPNNSeparator(shifts=0, **SMALL).fit(spec, data.y)
    with pytest.raises(ValueError, match="shifts"):
        DNNSeparator(shifts=1.5, hidden_units=16, max_epochs=1).fit(spec, data.y)
    sep = _with_shifts(pipe, 0)[1]  # set after fit: checked when separating
    with pytest.raises(ValueError, match="shifts"):
        sep.transform(spec)
    with pytest.raises(ValueError, match="shifts=129 is more than hop_length=128"):
        sep.set_params(shifts=129).transform(spec)


def test_the_averaged_output_is_the_stft_of_the_waveforms_it_gives_back(data, pipe):
    from sklearn_vpnn import Spectrogram

    spec = pipe[0].transform(data.X)
    out = pipe[1].transform(spec)  # two grids
    waves = pipe[2].transform(out)  # handed back, not recomputed
    assert out.pending and waves.shape == (3, 2, 1, data.X.shape[-1])
    plain = Spectrogram(np.asarray(out), out.lengths, out.params, out.sources)  # its values, read
    np.testing.assert_allclose(pipe[2].transform(plain), waves, atol=1e-5)
    again = pickle.loads(pickle.dumps(out))  # a pickle holds the values
    assert type(again) is Spectrogram and np.array_equal(again.data, plain.data)
    tracks = [data.X[0], data.X[1][:, :9000]]  # tracks of different lengths: a list, each its own length
    back = pipe.transform(tracks)
    assert [b.shape for b in back] == [(2, 1, 16000), (2, 1, 9000)]
    np.testing.assert_allclose(back[1].sum(axis=0), tracks[1], atol=2e-5)
