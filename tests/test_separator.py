"""VPNNSeparator / DNNSeparator: fit/transform, pipelines, model selection, persistence."""

import pickle
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from sklearn_vpnn import (
    STFT,
    DNNSeparator,
    InverseSTFT,
    VPNNSeparator,
    make_drum_mixtures,
)

SMALL = dict(hidden_units=24, n_layers=2, max_epochs=2, batch_size=128)


@pytest.fixture(scope="module")
def data():
    return make_drum_mixtures(n_tracks=5, duration=1.5, sample_rate=16000, random_state=0)


@pytest.fixture(scope="module")
def fitted_pipe(data):
    pipe = make_pipeline(STFT(n_fft=256, sample_rate=16000),
                         VPNNSeparator(random_state=0, **SMALL), InverseSTFT())
    return pipe.fit(data.X, data.y)


def _snr(ref, est):
    return 10 * np.log10(np.sum(ref**2) / np.sum((ref - est) ** 2))


@pytest.mark.parametrize(
    "sep",
    [VPNNSeparator(mapping="window", **SMALL), VPNNSeparator(mapping="color", **SMALL),
     DNNSeparator(**SMALL)],
    ids=["wvpnn", "cvpnn", "dnn"],
)
def test_fit_transform_shapes_and_consistency(data, sep):
    spec = STFT(n_fft=256).fit_transform(data.X)
    sep = clone(sep).set_params(random_state=0)
    assert sep.fit(spec, data.y) is sep
    out = sep.transform(spec)
    assert out.is_separated
    assert out.shape == (5, 2, 1, 129, spec.shape[-1])
    assert out.sources == ("drums", "accompaniment")
    assert sep.sources_ == ("drums", "accompaniment")
    # the masks split the mixture: the sources add back up to it
    np.testing.assert_allclose(out.data.sum(axis=1), spec.data, atol=1e-4)
    masks = sep.predict_masks(spec)
    assert np.all((masks >= 0) & (masks <= 1))
    np.testing.assert_allclose(masks.sum(axis=1), 1.0, atol=1e-5)
    assert sep.n_epochs_ == 2 and len(sep.history_) == 2


def test_training_separates_better_than_mixture(data):
    # a short but real training run must beat "mixture as estimate" for the drums
    pipe = make_pipeline(STFT(n_fft=256), VPNNSeparator(hidden_units=64, n_layers=2, max_epochs=6,
                                                        random_state=0), InverseSTFT())
    est = pipe.fit(data.X, data.y).transform(data.X)
    drums = data.y[:, 0]
    assert _snr(drums, est[:, 0]) > _snr(drums, data.X) + 2.0


def test_pipeline_output_matches_input_lengths_for_ragged_tracks(data):
    X = [data.X[0][:, :20000], data.X[1][:, :15001]]
    y = [data.y[0][..., :20000], data.y[1][..., :15001]]
    pipe = make_pipeline(STFT(n_fft=256), VPNNSeparator(random_state=0, **SMALL), InverseSTFT())
    out = pipe.fit(X, y).transform(X)
    assert [o.shape for o in out] == [(2, 1, 20000), (2, 1, 15001)]


def test_random_state_makes_fits_identical(data, fitted_pipe):
    again = clone(fitted_pipe).fit(data.X, data.y)
    np.testing.assert_array_equal(again.transform(data.X), fitted_pipe.transform(data.X))
    other = clone(fitted_pipe).set_params(vpnnseparator__random_state=1).fit(data.X, data.y)
    assert not np.array_equal(other.transform(data.X), fitted_pipe.transform(data.X))


def test_fit_leaves_the_callers_torch_random_stream_alone(data):
    """fit(random_state=0) seeds a private stream: the caller's torch generator is untouched."""
    import torch

    spec = STFT(n_fft=256).fit_transform(data.X)
    kw = dict(hidden_units=8, n_layers=1, max_epochs=1, batch_size=128, random_state=0)
    torch.manual_seed(1234)
    torch.rand(3)  # somewhere in the caller's stream
    seed, expected = torch.initial_seed(), torch.rand(5)
    torch.manual_seed(1234)
    torch.rand(3)
    first = VPNNSeparator(**kw).fit(spec, data.y)
    assert torch.initial_seed() == seed
    torch.testing.assert_close(torch.rand(5), expected)  # the stream goes on where it was
    # and the same seed still makes the same model, whatever the caller's stream
    torch.manual_seed(99)
    second = VPNNSeparator(**kw).fit(spec, data.y)
    np.testing.assert_array_equal(first.predict_masks(spec), second.predict_masks(spec))


def test_fitted_net_builds_its_module_from_module_params(fitted_pipe):
    """skorch gets the MaskNet class and its arguments; the module holds the statistics."""
    import torch

    from sklearn_vpnn.nn import MaskNet

    net = fitted_pipe[1].net_
    assert net.module is MaskNet
    module = net.module_
    assert {name for name, _ in module.named_buffers()} >= {"mean", "scale", "lo", "hi"}
    torch.testing.assert_close(module.mean, net.module__mean)
    assert module.mean.data_ptr() != net.module__mean.data_ptr()  # a copy, not shared
    # the default: a band network (MaskNet's model) and the dense network of hidden_units beside it
    assert fitted_pipe[1]._module_kwargs() == dict(
        kind="vpnn", n_bins=129, n_sources=2, hidden_units=32, n_layers=2, activation="relu",
        mapping="window", context_strides=(1, 4, 16), stereo=False, band_radius=4, band_bins=128,
        dense_units=24, dense_join="masks")


def test_clone_is_unfitted_with_same_params(fitted_pipe):
    c = clone(fitted_pipe)
    assert c.get_params()["vpnnseparator__hidden_units"] == 24
    assert not hasattr(c[1], "net_")
    with pytest.raises(NotFittedError):
        c[1].transform(STFT(n_fft=256).fit_transform(np.zeros((1, 1, 1000))))


def test_joblib_round_trip_in_fresh_process_is_bit_identical(tmp_path, data, fitted_pipe):
    path = tmp_path / "model.joblib"
    joblib.dump(fitted_pipe, path)
    np.save(tmp_path / "X.npy", data.X)
    expected = fitted_pipe.transform(data.X)
    code = textwrap.dedent(f"""
        import joblib, numpy as np
        pipe = joblib.load({str(path)!r})
        np.save({str(tmp_path / 'out.npy')!r}, pipe.transform(np.load({str(tmp_path / 'X.npy')!r})))
    """)
    subprocess.run([sys.executable, "-c", code], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected)
    # and plain pickle in-process
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted_pipe)).transform(data.X), expected)


def test_fitted_model_file_is_small_and_holds_no_training_data(tmp_path, fitted_pipe):
    path = tmp_path / "m.joblib"
    joblib.dump(fitted_pipe, path)
    n_params = sum(p.numel() for p in fitted_pipe[1].net_.module_.parameters())
    assert path.stat().st_size < 4 * n_params * 3 + 200_000


def test_max_time_stops_training_and_keeps_the_model(data):
    spec = STFT(n_fft=256).fit_transform(data.X)
    sep = VPNNSeparator(hidden_units=16, n_layers=1, max_epochs=1000, max_time=0.5,
                        random_state=0).fit(spec, data.y)
    assert 1 <= sep.n_epochs_ < 1000
    assert np.all(np.isfinite(sep.transform(spec).data))


def test_early_stopping_patience(data):
    spec = STFT(n_fft=256).fit_transform(data.X)
    sep = VPNNSeparator(hidden_units=8, n_layers=1, max_epochs=200, lr=0.5, patience=2,
                        random_state=0).fit(spec, data.y)
    assert sep.n_epochs_ < 200


def test_weight_averaging_is_an_exponential_moving_average_of_the_steps():
    import torch

    from sklearn_vpnn.separator import WeightAveraging

    class Net:  # what the callback reads of a skorch net
        module_ = torch.nn.Linear(2, 1)

    net, cb = Net(), WeightAveraging(0.5)
    w = net.module_.weight
    with torch.no_grad():
        w.fill_(0.0)
    cb.on_train_begin(net)
    expected = torch.zeros_like(w)
    for step, value in enumerate([1.0, 2.0, 4.0, 8.0, 16.0], start=1):
        with torch.no_grad():
            w.fill_(value)  # an optimiser step
        cb.on_batch_end(net, training=True)
        cb.on_batch_end(net, training=False)  # validation batches do not count
        d = min(0.5, (1 + step) / (10 + step))  # warm-up, then the decay
        expected = d * expected + (1 - d) * value
    torch.testing.assert_close(cb.average_[0], expected)
    torch.testing.assert_close(w.detach(), torch.full_like(w, 16.0))  # training uses raw weights
    cb.on_train_end(net)  # the model keeps the average
    torch.testing.assert_close(w.detach(), expected)


def test_averaging_changes_what_is_kept_not_how_training_runs(data):
    spec = STFT(n_fft=256).fit_transform(data.X)
    kw = dict(hidden_units=16, n_layers=1, max_epochs=3, batch_size=64, patience=None,
              validation_fraction=0.4, random_state=0)
    best = VPNNSeparator(average=None, **kw).fit(spec, data.y)
    avg = VPNNSeparator(average=0.9, **kw).fit(spec, data.y)
    # training and validation run on the raw weights either way ...
    for key in ("train_loss", "valid_loss"):
        np.testing.assert_allclose([h[key] for h in avg.history_], [h[key] for h in best.history_],
                                   rtol=1e-5)
    # ... and the model kept differs: the moving average, not the best epoch
    assert not np.allclose(avg.predict_masks(spec), best.predict_masks(spec), atol=1e-4)
    assert np.all(np.isfinite(avg.transform(spec).data))
    # the average is kept when a time budget stops training, too
    stopped = VPNNSeparator(hidden_units=16, n_layers=1, max_epochs=1000, max_time=0.5,
                            random_state=0).fit(spec, data.y)
    assert 1 <= stopped.n_epochs_ < 1000
    assert np.all(np.isfinite(stopped.predict_masks(spec)))


def test_more_than_two_sources():
    d = make_drum_mixtures(n_tracks=3, duration=1.0, sample_rate=8000, random_state=1)
    y = np.stack([d.y[:, 0], 0.5 * d.y[:, 1], 0.5 * d.y[:, 1]], axis=1)
    sep = VPNNSeparator(sources=("drums", "a", "b"), random_state=0, **SMALL)
    spec = STFT(n_fft=128).fit_transform(d.X)
    out = sep.fit(spec, y).transform(spec)
    assert out.shape[1] == 3


def test_wiener_postfilter_runs_and_keeps_shapes(data, fitted_pipe):
    spec = STFT(n_fft=256).fit_transform(data.X)
    sep = fitted_pipe[1]
    plain = sep.transform(spec)
    sep_w = pickle.loads(pickle.dumps(sep))
    sep_w.set_params(wiener_iterations=1)
    refined = sep_w.transform(spec)
    assert refined.shape == plain.shape
    assert np.all(np.isfinite(refined.data))
    assert not np.allclose(refined.data, plain.data)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(mapping="rgb"), "mapping"),
        (dict(hidden_units=0), "hidden_units"),
        (dict(n_layers=1.5), "n_layers"),
        (dict(gamma=1.0), "gamma"),
        (dict(gamma=-0.1), "gamma"),
        (dict(activation="swish"), "activation"),
        (dict(lr=0), "lr"),
        (dict(remix=1.5), "remix"),
        (dict(sources=("drums",)), "sources"),
        (dict(sources="drums"), "sources"),
        (dict(validation_fraction=1.0), "validation_fraction"),
        (dict(max_time=-1), "max_time"),
        (dict(average=1.0), "average"),
        (dict(average=-0.5), "average"),
        (dict(average=True), "average"),
        (dict(device="tpu"), "device"),
        (dict(max_epochs=True), "max_epochs"),
        (dict(max_time=float("nan")), "max_time"),
        (dict(gain_db=float("inf")), "gain_db"),
        (dict(eq_db=-1.0), "eq_db"),
        (dict(frame_weighting="track"), "frame_weighting"),
        (dict(pitch_shift=13.0), "pitch_shift"),
        (dict(lr=float("inf")), "lr"),
        (dict(cache="ram"), "cache"),
    ],
)
def test_invalid_parameters_raise_in_fit(data, params, match):
    spec = STFT(n_fft=256).fit_transform(data.X[:2])
    sep = VPNNSeparator(**params)  # __init__ stores, fit validates
    with pytest.raises(ValueError, match=match):
        sep.fit(spec, data.y[:2])


def test_bad_inputs_raise_clear_errors(data, fitted_pipe):
    spec = STFT(n_fft=256).fit_transform(data.X)
    sep = VPNNSeparator(**SMALL)
    with pytest.raises(TypeError, match="Spectrogram"):
        sep.fit(np.abs(spec.data), data.y)
    with pytest.raises(ValueError, match="y=None"):
        sep.fit(spec, None)
    with pytest.raises(ValueError, match="tracks"):
        sep.fit(spec, data.y[:3])
    with pytest.raises(ValueError, match="sources"):
        sep.fit(spec, data.y[:, :1])
    with pytest.raises(ValueError, match=r"y\[0\]"):
        sep.fit(spec, data.y[..., :-5])
    with pytest.raises(ValueError, match="silent"):
        sep.fit(STFT(n_fft=256).fit_transform(np.zeros_like(data.X)), data.y * 0)
    with pytest.raises(ValueError, match="bins"):
        fitted_pipe[1].transform(STFT(n_fft=512).fit_transform(data.X))


def test_context_strides_train_the_same_from_memory_and_disk():
    from sklearn_vpnn import make_drum_mixtures

    d = make_drum_mixtures(n_tracks=3, duration=1.0, random_state=0)
    outs = []
    for cache in ("memory", "disk"):
        pipe = make_pipeline(STFT(n_fft=256, hop_length=64),
                             VPNNSeparator(context_strides=(1, 4, 16), hidden_units=8, max_epochs=2,
                                           random_state=0, cache=cache), InverseSTFT())
        outs.append(pipe.fit(d.X, d.y).transform(d.X))
        assert pipe[1].net_.module_.context_strides == (1, 4, 16)
    np.testing.assert_array_equal(outs[0], outs[1])


def test_context_strides_are_validated_in_fit():
    from sklearn_vpnn import make_drum_mixtures

    d = make_drum_mixtures(n_tracks=2, duration=0.5, random_state=0)
    pipe = make_pipeline(STFT(n_fft=256), VPNNSeparator(context_strides=(1, 1), max_epochs=1), InverseSTFT())
    with pytest.raises(ValueError, match="context_strides"):
        pipe.fit(d.X, d.y)


def test_fitted_model_holds_weights_not_the_optimizer(fitted_pipe, tmp_path):
    # Adam's two moment buffers would triple a saved model; a fit always trains a new net
    net = fitted_pipe[1].net_
    assert not hasattr(net, "optimizer_")
    n_bytes = sum(t.numel() * t.element_size() for t in net.module_.state_dict().values())
    joblib.dump(fitted_pipe, tmp_path / "m.joblib")
    assert (tmp_path / "m.joblib").stat().st_size < 1.3 * n_bytes + 200_000


def test_default_recipe_is_multiscale_and_colour_ignores_strides():
    from sklearn_vpnn import make_drum_mixtures

    assert VPNNSeparator().context_strides == (1, 4, 16)
    assert VPNNSeparator().hidden_units == 256
    assert (VPNNSeparator().band_radius, VPNNSeparator().band_units, VPNNSeparator().band_join) == (4, 32, "masks")
    d = make_drum_mixtures(n_tracks=2, duration=0.5, random_state=0)
    pipe = make_pipeline(STFT(n_fft=256), VPNNSeparator(mapping="color", hidden_units=8,
                                                        max_epochs=1, random_state=0), InverseSTFT())
    pipe.fit(d.X, d.y)
    assert pipe[1].net_.module_.context_strides == (1,)


def test_eq_augmentation_is_a_smooth_bounded_curve_per_source_and_sample():
    """eq_db: each source of a sample gets one smooth gain curve within +-eq_db dB,
    the same on every context frame, drawn again for every batch and seeded."""
    import torch

    from sklearn_vpnn.separator import FrameDataset

    stft = torch.ones(2, 3, 20, 257, dtype=torch.complex64)  # 2 sources, flat spectra

    def draw(seed):
        ds = FrameDataset(stft, [20, 20, 20], eq_db=6.0, seed=seed, context_strides=(1, 4))
        return ds, ds.batch(range(8))

    ds, (features, target) = draw(0)
    gains_db = 20 * torch.log10(target[:, 1:])  # (8, 2, F): each source's curve
    assert gains_db.abs().max() <= 6.0 + 1e-4
    assert gains_db.std(-1).min() > 0.1  # not flat: an equaliser, not a gain
    upper = gains_db[:, :, 16:]  # smooth in log-frequency: small steps between neighbours up here
    assert (upper[:, :, 1:] - upper[:, :, :-1]).abs().max() < 1.0
    assert not torch.allclose(gains_db[:, 0], gains_db[:, 1])  # per source
    mix = features.exp()  # the mixture's context frames share the current frame's curve
    torch.testing.assert_close(mix, mix[:, 1:2].expand_as(mix), atol=1e-4, rtol=1e-4)
    assert not torch.equal(ds.batch(range(8))[1], target)  # a new curve every draw
    torch.testing.assert_close(draw(0)[1][1], target)  # seeded
    plain = ds.batch(range(8), augment=False)[1]
    torch.testing.assert_close(plain, torch.tensor([2.0, 1.0, 1.0])[None, :, None].expand_as(plain))


def test_pitch_shift_moves_a_tone_by_the_drawn_ratio_on_every_context_frame():
    """pitch_shift: a source's partial moves up or down by at most the asked
    semitones, on the current and the context frames alike; seeded."""
    import torch

    from sklearn_vpnn.separator import FrameDataset

    stft = torch.zeros(2, 2, 30, 1025, dtype=torch.complex64)
    stft[0, :, :, 400] = 1.0  # source 0: one partial at bin 400 on every frame
    stft[1, :, :, 100] = 1.0
    ds = FrameDataset(stft, [30, 30], pitch_shift=2.0, seed=0, context_strides=(1, 4))
    features, target = ds.batch(range(40))
    ratios = 2.0 ** (torch.tensor([-2.0, 2.0]) / 12)
    for b in range(40):
        bins = target[b, 1].nonzero().flatten()
        assert len(bins) >= 1 and bins.min() >= 400 * ratios[0] - 1 and bins.max() <= 400 * ratios[1] + 1
        frames = features[b].exp() > 0.5  # (rows, F): where the mixture is loud
        assert (frames == frames[1]).all()  # the same bins on every context frame
    moved = {tuple(target[b, 1].nonzero().flatten().tolist()) for b in range(40)}
    assert len(moved) > 5  # drawn per sample
    again = FrameDataset(stft, [30, 30], pitch_shift=2.0, seed=0, context_strides=(1, 4)).batch(range(40))
    torch.testing.assert_close(again[1], target)


@pytest.mark.parametrize("strides", [(1,), (1, 4, 16), (3, 2)])
@pytest.mark.parametrize("stereo", [False, True])
def test_training_features_are_the_mixtures_context_stacks(strides, stereo):
    # a batch gathers each distinct frame once; what the network reads must still be
    # every stride's (prev, cur, next) log-magnitudes, clamped at each sequence's end
    import torch

    from sklearn_vpnn.nn import context_indices
    from sklearn_vpnn.separator import FrameDataset

    S = torch.randn(2, 4, 40, 9, dtype=torch.complex64, generator=torch.Generator().manual_seed(1))
    n_valid = [40, 40, 25, 25]  # a track's channels have the same length
    partner = [1, 0, 3, 2] if stereo else None
    ds = FrameDataset(S, n_valid, context_strides=strides, partner=partner)
    idx = list(range(0, len(ds), 3))
    feats, target = ds.batch(idx, augment=False)
    logmag = torch.log(S.sum(0).abs() + 1e-5)  # (N, T, F)
    seq = torch.repeat_interleave(torch.arange(4), torch.tensor(n_valid))[idx]
    t = torch.cat([torch.arange(n) for n in n_valid])[idx]
    rows = torch.minimum(context_indices(40, strides=strides)[t], (torch.tensor(n_valid)[seq] - 1)[:, None])
    expected = logmag[seq[:, None], rows]
    if stereo:
        expected = torch.cat([expected, logmag[torch.tensor(partner)[seq][:, None], rows]], 1)
    assert feats.shape == (len(idx), 3 * len(strides) * (2 if stereo else 1), 9)
    torch.testing.assert_close(feats, expected, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(target[:, 1:], S[:, seq, t].abs().permute(1, 0, 2), rtol=1e-6, atol=1e-6)
    # the same batch from sources that are not one contiguous block (indexed, not row-selected)
    strided = FrameDataset(S.transpose(2, 3).contiguous().transpose(2, 3), n_valid, context_strides=strides,
                           partner=partner)
    again = strided.batch(idx, augment=False)
    assert torch.equal(again[0], feats) and torch.equal(again[1], target)


def test_phase_sensitive_targets_are_the_in_phase_part_of_each_source():
    import torch

    from sklearn_vpnn.separator import FrameDataset

    S = torch.randn(2, 3, 12, 9, dtype=torch.complex64, generator=torch.Generator().manual_seed(0))
    idx = list(range(0, 36, 2))
    _, mag = FrameDataset(S, [12, 12, 12]).batch(idx, augment=False)
    feats, psa = FrameDataset(S, [12, 12, 12], loss_target="phase_sensitive").batch(idx, augment=False)
    seq, t = np.array(idx) // 12, np.array(idx) % 12
    src = S[:, seq, t]  # (2, B, F) current frames
    mix = src.sum(0)
    expected = (src * mix.conj()).real / mix.abs()
    expected = torch.minimum(expected.clamp(min=0), mix.abs())
    torch.testing.assert_close(psa[:, 1:], expected.permute(1, 0, 2))
    torch.testing.assert_close(psa[:, 0], mag[:, 0])  # the mixture stays its magnitude
    torch.testing.assert_close(psa[:, 1] + psa[:, 2], psa[:, 0])  # two sources: they add up to |X|
    assert (psa[:, 1:] <= mag[:, 1:] + 1e-6).all()  # never more than the source's magnitude
    # in-phase sources: the same targets as magnitudes
    real = S.abs().to(torch.complex64)
    _, a = FrameDataset(real, [12, 12, 12]).batch(idx, augment=False)
    _, b = FrameDataset(real, [12, 12, 12], loss_target="phase_sensitive").batch(idx, augment=False)
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="loss_target"):
        FrameDataset(S, [12, 12, 12], loss_target="complex")


def test_loss_target_trains_another_model_and_is_validated_in_fit():
    from sklearn_vpnn import make_drum_mixtures

    d = make_drum_mixtures(n_tracks=3, duration=1.0, random_state=0)
    spec = STFT(n_fft=256).fit_transform(d.X)
    kw = dict(hidden_units=8, max_epochs=2, random_state=0)
    mag = VPNNSeparator(loss_target="magnitude", **kw).fit(spec, d.y)
    psa = VPNNSeparator(loss_target="phase_sensitive", **kw).fit(spec, d.y)
    assert psa.get_params()["loss_target"] == "phase_sensitive"
    assert not np.allclose(mag.transform(spec).data, psa.transform(spec).data)
    with pytest.raises(ValueError, match="loss_target"):
        VPNNSeparator(loss_target="complex", **kw).fit(spec, d.y)


def test_pickles_from_before_loss_target_and_stereo_train_as_they_did():
    import pickle

    state = VPNNSeparator(hidden_units=8).__getstate__()
    del state["loss_target"], state["stereo"]
    old = VPNNSeparator.__new__(VPNNSeparator)
    old.__setstate__(state)
    assert old.get_params()["loss_target"] == "magnitude" and old.get_params()["stereo"] is False
    new = pickle.loads(pickle.dumps(VPNNSeparator(stereo=True)))
    assert new.loss_target == "phase_sensitive" and new.stereo is True
