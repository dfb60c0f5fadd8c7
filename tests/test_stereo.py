"""Stereo cues (stereo=True): each channel's network also reads the track's other channel."""

import copy

import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline

from sklearn_vpnn import STFT, DNNSeparator, InverseSTFT, VPNNSeparator, load_model, make_drum_mixtures, save_model
from sklearn_vpnn.nn import FrameMasker, MaskNet, context_indices
from sklearn_vpnn.separator import FrameDataset


def _net(kind="vpnn", strides=(1, 4), n_bins=33, hidden=16, seed=0):
    torch.manual_seed(seed)
    net = MaskNet(kind, n_bins, hidden_units=hidden, context_strides=strides, stereo=True,
                  mean=torch.randn(n_bins), scale=torch.rand(n_bins) + 0.5)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return net.eval()


def _spec(seed, n_bins=33, n_frames=200):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n_bins, n_frames)) + 1j * rng.standard_normal((n_bins, n_frames))).astype(np.complex64)


def _reference(net, own, other, n, dtype=torch.float32):
    """The batch forward pass on the gathered stacks of both channels, own first."""
    net = copy.deepcopy(net).to(dtype)
    with torch.inference_mode():
        def feats(spec):
            mag = torch.from_numpy(np.ascontiguousarray(np.abs(spec[:, :n]).T)).to(dtype)
            return net.normalise(torch.log(mag + 1e-5))[context_indices(n, strides=net.context_strides)]
        return net.model(torch.cat([feats(own), feats(other)], 1)).permute(1, 2, 0).numpy()


def _masks(masker, own, other, n):
    out = np.empty((2, own.shape[0], n), np.float32)
    with torch.inference_mode():
        for a, b, m in masker.masks(own, n, other):
            out[..., a:b] = m.numpy()
    return out


def test_stereo_net_reads_twice_the_stacks():
    net = _net()
    assert net.model.n_scales == 4
    assert net(torch.randn(5, 12, 33)).shape == (5, 2, 33)
    with pytest.raises(ValueError, match="expected input"):
        net(torch.randn(5, 6, 33))  # one channel's stacks alone
    with pytest.raises(ValueError, match="stereo=True needs"):
        MaskNet("vpnn", 33, mapping="color", stereo=True)


@pytest.mark.parametrize("kind", ["vpnn", "dnn"])
def test_frame_masker_gives_the_forward_pass_of_both_channels(kind):
    net, own, other = _net(kind), _spec(1), _spec(2)
    ref = _reference(net, own, other, 200)
    gathered = _masks(FrameMasker(net, chunk=64, shift=False), own, other, 200)
    np.testing.assert_array_equal(gathered, ref)
    if kind == "vpnn":  # the shifted first layer: the same terms in another order
        exact = _reference(net, own, other, 200, torch.float64)
        shifted = _masks(FrameMasker(net, chunk=64), own, other, 200)
        assert np.abs(shifted - exact).max() < 1e-4
    # the other channel matters; without one a channel is its own partner
    assert not np.allclose(ref, _reference(net, own, own, 200), atol=1e-4)
    np.testing.assert_allclose(_masks(FrameMasker(net, chunk=64), own, None, 200),
                               _reference(net, own, own, 200), atol=1e-4)


def test_frame_dataset_adds_the_partner_channels_stacks():
    S = torch.randn(2, 4, 30, 9, dtype=torch.complex64, generator=torch.Generator().manual_seed(0))
    idx = list(range(0, 120, 7))
    mono = FrameDataset(S, [30] * 4, context_strides=(1, 4))
    pair = FrameDataset(S, [30] * 4, context_strides=(1, 4), partner=[1, 0, 3, 2])
    f1, t1 = mono.batch(idx, augment=False)
    f2, t2 = pair.batch(idx, augment=False)
    assert f2.shape == (len(idx), 12, 9)
    torch.testing.assert_close(f2[:, :6], f1)
    torch.testing.assert_close(t2, t1)  # the targets stay the channel's own
    swapped = [(i // 30 ^ 1) * 30 + i % 30 for i in idx]  # the same frames of the partner sequences
    torch.testing.assert_close(f2[:, 6:], mono.batch(swapped, augment=False)[0])
    # augmented: one gain per source for both channels, so their difference survives
    aug = FrameDataset(S, [30] * 4, gain_db=6.0, seed=3, context_strides=(1, 4), partner=[1, 0, 3, 2])
    fa, _ = aug.batch(idx)
    assert fa.shape == f2.shape and not torch.allclose(fa, f2)
    with pytest.raises(ValueError, match="partner"):
        FrameDataset(S, [30] * 4, partner=[1, 0])


@pytest.fixture(scope="module")
def stereo_data():
    return make_drum_mixtures(n_tracks=4, duration=1.5, sample_rate=22050, n_channels=2, random_state=0)


_TINY = dict(hidden_units=8, max_epochs=2, random_state=0)


@pytest.mark.parametrize("cls", [VPNNSeparator, DNNSeparator])
def test_stereo_separator_uses_the_other_channel(stereo_data, cls):
    d = stereo_data
    spec = STFT(n_fft=256).fit_transform(d.X)
    sep = cls(stereo=True, context_strides=(1, 4), **_TINY).fit(spec, d.y)
    assert sep.net_.module_.stereo and sep.net_.module_.model.n_scales == 4
    out = sep.transform(spec).data
    assert out.shape == (4, 2, 2) + spec.shape[2:] and np.isfinite(out).all()
    # changing the right channel changes the left channel's masks
    X2 = d.X.copy()
    X2[:, 1] *= 0.3
    spec2 = STFT(n_fft=256).fit_transform(X2)
    m1, m2 = sep.predict_masks(spec), sep.predict_masks(spec2)
    assert not np.allclose(m1[:, :, 0], m2[:, :, 0], atol=1e-4)
    mono = cls(stereo=False, context_strides=(1, 4), **_TINY).fit(spec, d.y)
    np.testing.assert_allclose(mono.predict_masks(spec)[:, :, 0], mono.predict_masks(spec2)[:, :, 0], atol=1e-6)


def test_stereo_trains_the_same_from_memory_and_disk(stereo_data):
    d = stereo_data
    spec = STFT(n_fft=256).fit_transform(d.X)
    params = dict(_TINY, stereo=True, context_strides=(1, 4), remix=0.5, gain_db=3.0, validation_fraction=0.25)
    mem = VPNNSeparator(cache="memory", **params).fit(spec, d.y)
    disk = VPNNSeparator(cache="disk", **params).fit(spec, d.y)
    assert [h["train_loss"] for h in mem.history_] == [h["train_loss"] for h in disk.history_]
    np.testing.assert_array_equal(mem.transform(spec).data, disk.transform(spec).data)


def test_stereo_model_files_round_trip(stereo_data, tmp_path):
    d = stereo_data
    pipe = make_pipeline(STFT(n_fft=256), VPNNSeparator(stereo=True, **_TINY), InverseSTFT()).fit(d.X, d.y)
    save_model(pipe, tmp_path / "stereo.safetensors")
    loaded = load_model(tmp_path / "stereo.safetensors")
    assert loaded[1].stereo and loaded[1].net_.module_.stereo
    np.testing.assert_array_equal(loaded.transform(d.X[:2]), pipe.transform(d.X[:2]))


def test_stereo_on_mono_tracks_and_bad_inputs(stereo_data):
    mono = make_drum_mixtures(n_tracks=3, duration=1.0, random_state=0)
    spec = STFT(n_fft=256).fit_transform(mono.X)
    sep = VPNNSeparator(stereo=True, **_TINY).fit(spec, mono.y)  # a mono channel is its own partner
    assert np.isfinite(sep.transform(spec).data).all()
    with pytest.raises(ValueError, match="stereo"):
        VPNNSeparator(stereo="yes", **_TINY).fit(spec, mono.y)
    with pytest.raises(ValueError, match="stereo=True needs"):
        VPNNSeparator(stereo=True, mapping="color", **_TINY).fit(spec, mono.y)
    quad = np.concatenate([stereo_data.X, stereo_data.X], axis=1)
    spec4 = STFT(n_fft=256).fit_transform(quad)
    with pytest.raises(ValueError, match="mono or stereo tracks"):
        VPNNSeparator(stereo=True, **_TINY).fit(spec4, np.concatenate([stereo_data.y] * 2, axis=2))
