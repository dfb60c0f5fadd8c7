"""The bundled drums model: loads offline, without unpickling, and separates."""

import numpy as np
import pytest

from sklearn_vpnn import VPNNSeparator, load_pretrained


def test_bundled_model_loads_without_unpickling(no_pickle):
    pipe = load_pretrained("drums")
    mix = np.random.default_rng(0).standard_normal((1, 2, 22050)).astype(np.float32) * 0.1
    out = pipe.transform(mix)
    assert out.shape == (1, 2, 2, 22050)
    assert np.isfinite(out).all()
    # the stems add up to the mixture up to the masks' rounding
    np.testing.assert_allclose(out.sum(1), mix, atol=1e-3)


def test_bundled_model_of_0_1_keeps_its_hop():
    """Written by sklearn-vpnn 0.1, where hop_length=None meant n_fft // 2: read as hop 512."""
    stft = load_pretrained("drums")[0]
    assert (stft.n_fft, stft.hop_length) == (1024, 512)


def test_list_pretrained_shows_licence():
    from sklearn_vpnn.pretrained import list_pretrained

    (drums,) = [m for m in list_pretrained() if m["name"] == "drums"]
    assert drums["sources"] == ("drums", "accompaniment")
    assert "non-commercial" in drums["licence"].lower()
    with pytest.raises(ValueError, match="no bundled model named 'piano'"):
        load_pretrained("piano")


def test_bundled_model_is_the_documented_recipe_and_small():
    from sklearn_vpnn.pretrained import pretrained_path

    pipe = load_pretrained("drums")
    sep = pipe[1]
    assert sep.context_strides == (1, 4, 16) and sep.hidden_units == 256
    # its file predates the band network: the dense network alone, as it was trained
    assert sep.band_radius is None and sep.net_.module_.dense is None
    assert pipe[0].sample_rate == 44100
    assert pretrained_path("drums").stat().st_size <= 25 * 2**20


def test_bundled_model_reports_the_recipe_it_was_trained_with():
    # its file predates loss_target and stereo: loading gives their old behaviour, not today's defaults
    sep = load_pretrained("drums")[1]
    assert sep.loss_target == "magnitude" and sep.stereo is False
    assert VPNNSeparator().loss_target == "phase_sensitive"
