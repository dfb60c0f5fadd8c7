"""The band vector product network: BandVPNN, its MaskNet and separator wiring."""

import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline

from sklearn_vpnn import STFT, InverseSTFT, VPNNSeparator, make_drum_mixtures
from sklearn_vpnn.nn import BandVPNN, FrameMasker, MaskNet, VectorProductLinear, context_indices
from sklearn_vpnn.nn import _band
from sklearn_vpnn.persistence import load_model, save_model


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    model = BandVPNN(**{"n_bins": 21, "hidden_units": 6, "n_scales": 2, "radius": 2, **kw})
    with torch.no_grad():  # nonzero biases, so that every term is exercised
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def test_one_product_by_the_cross_matrix_is_the_vector_product_layer():
    layer = VectorProductLinear(5, 4, component_dim=-2).double()
    with torch.no_grad():
        layer.bias.normal_()
    a = torch.randn(7, 3, 5, dtype=torch.float64)
    with torch.enable_grad():  # the training form of the layer
        expected = layer(a).reshape(7, 12)
    rows = a.reshape(7, 15)  # component-major: [a_x | a_y | a_z]
    torch.testing.assert_close(rows @ _band._cross_matrix(layer.weight) + layer.bias.t().reshape(-1), expected)
    ref = torch.linalg.cross(layer.weight.unsqueeze(0), a.transpose(1, 2).unsqueeze(1)).sum(2) + layer.bias
    torch.testing.assert_close(expected.view(7, 3, 4), ref.transpose(1, 2))


def test_masks_sum_to_one_and_the_parameters_do_not_grow_with_the_bins():
    model = _model().eval()
    masks = model(torch.randn(4, 6, 21))
    assert masks.shape == (4, 2, 21)
    torch.testing.assert_close(masks.sum(1), torch.ones(4, 21))
    assert (masks > 0).all()
    n_in, H = 2 * 5, 6
    expected = 3 * (n_in * H + H) + 2 * 3 * (H * H + H) + 3 * (2 * H + 2) + 21 * 3 * H
    assert sum(p.numel() for p in model.parameters()) == expected


def test_a_bins_masks_depend_on_its_band_alone():
    model = _model().eval()
    x = torch.randn(3, 6, 21)
    base = model(x)
    far = x.clone()
    far[:, :, 13:] += 5.0  # more than radius 2 bins above bin 10
    far[:, :, :8] -= 5.0
    torch.testing.assert_close(model(far)[:, :, 10], base[:, :, 10], rtol=0, atol=0)
    near = x.clone()
    near[:, 4, 12] += 5.0  # inside bin 10's band (one of its context rows)
    assert not torch.allclose(model(near)[:, :, 10], base[:, :, 10])


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "tanh", "sigmoid", "identity"])
def test_the_training_pass_has_the_gradients_of_its_function(activation):
    # a hand-written backward, bias and activations in place on the products' outputs
    torch.manual_seed(0)
    model = BandVPNN(n_bins=7, hidden_units=3, n_layers=2, n_scales=1, radius=1, activation=activation).double()
    names = [name for name, _ in model.named_parameters()]
    params = tuple(p.detach().clone().add_(0.1 * torch.randn_like(p)).requires_grad_() for p in model.parameters())
    x = torch.randn(2, 3, 7, dtype=torch.float64, requires_grad=True)

    def f(x, *ps):
        return torch.func.functional_call(model, dict(zip(names, ps)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params))


def _reference_masks(model, x, bins):
    """The band network of some bins written plainly with vector product layers (autograd's backward)."""
    B, F, r = x.shape[0], model.n_bins, model.radius
    v = torch.nn.functional.pad(x.view(B, model.n_scales, 3, F), (r, r)).unfold(3, 2 * r + 1, 1)
    a = v[:, :, :, bins].permute(0, 3, 2, 1, 4).reshape(B * len(bins), 3, -1)  # (rows, 3, K (2r+1))
    h = model.hidden[0](a) + model.where[bins].repeat(B, 1, 1)
    h = model.act(h)
    for layer in model.hidden[1:]:
        h = model.act(layer(h))
    y = model.head(h)[:, 1].view(B, len(bins), -1).transpose(1, 2)  # the middle components
    return model.mask(y)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_the_training_pass_on_some_bins_is_the_plain_network(activation):
    model = _model(train_bins=8, activation=activation).double().train()
    x = torch.randn(5, 6, 21, dtype=torch.float64)
    masks = model(x)
    masks.pow(2).sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    with torch.enable_grad():
        ref = _reference_masks(model, x, model.bins)
    ref.pow(2).sum().backward()
    torch.testing.assert_close(masks, ref)
    for g, p in zip(grads, model.parameters()):
        torch.testing.assert_close(g, p.grad)


def test_reused_buffers_never_change_a_live_graph():
    # the training pass's buffers go back to the model only when autograd frees the graph that holds them
    model = _model(train_bins=7).train()
    xs = [torch.randn(4, 6, 21) for _ in range(3)]

    def grads(x, seed):
        torch.manual_seed(seed)
        model.zero_grad()
        model(x).pow(2).sum().backward()
        return [p.grad.clone() for p in model.parameters()]

    alone = [grads(x, k) for k, x in enumerate(xs)]
    losses = []
    for k, x in enumerate(xs):  # three graphs alive at once, then their backward passes
        torch.manual_seed(k)
        losses.append(model(x).pow(2).sum())
    for loss, expected in zip(losses, alone):
        model.zero_grad()
        loss.backward(retain_graph=True)
        torch.manual_seed(99)
        model(xs[0]).sum()  # a forward between two backward passes of a retained graph
        model.zero_grad()
        loss.backward()
        for g, p in zip(expected, model.parameters()):
            torch.testing.assert_close(p.grad, g)
    del losses, loss
    assert len(model._workspace._free) <= model._workspace.keep
    step = [grads(xs[0], 0) for _ in range(4)]  # step after step: the same buffers, the same numbers
    assert all(torch.equal(a, b) for g in step for a, b in zip(g, step[0]))
    model.eval()  # leaving training mode frees them
    assert model._workspace._free == []


def test_a_pickled_band_network_carries_no_training_buffers():
    import pickle

    model = _model(train_bins=7).train()
    model(torch.randn(64, 6, 21)).sum().backward()
    assert model._workspace._free
    size = len(pickle.dumps(model))
    fresh = pickle.loads(pickle.dumps(_model(train_bins=7)))
    assert abs(size - len(pickle.dumps(fresh))) < 1000 and fresh._workspace._free == []
    restored = pickle.loads(pickle.dumps(model))
    x = torch.randn(3, 6, 21)
    torch.testing.assert_close(restored.eval()(x), model.eval()(x))


def test_training_on_some_bins_gives_those_bins_masks():
    model = _model(train_bins=7)
    x = torch.randn(5, 6, 21)
    torch.manual_seed(3)
    some = model.train()(x)
    bins = model.bins
    assert some.shape == (5, 2, 7) and bins.shape == (7,) and torch.equal(bins, bins.sort().values)
    assert len(set(bins.tolist())) == 7
    with torch.no_grad():
        every = model.eval()(x)
    assert model.bins is None
    torch.testing.assert_close(some.detach(), every[:, :, bins])
    some.sum().backward()  # differentiable, every parameter reached
    assert all(p.grad is not None for p in model.parameters())


def test_separating_in_pieces_gives_the_whole_batchs_masks(monkeypatch):
    model = _model().eval()
    x = torch.randn(40, 6, 21)
    whole = model(x)
    monkeypatch.setattr(_band, "_ROWS", 21 * 3)  # three frames per piece (the last one two)
    torch.testing.assert_close(model(x), whole)
    with torch.no_grad():  # reused buffers, in-place bias and activation: the same numbers
        assert torch.equal(model(x), model(x).clone())
        assert torch.equal(model(x), torch.cat([model._masks(x[i:i + 3], None) for i in range(0, 40, 3)]))
    with torch.inference_mode():
        torch.testing.assert_close(model(x), whole.detach())


def test_bad_input_and_arguments_are_refused():
    model = _model()
    with pytest.raises(ValueError, match=r"\(batch, 6, 21\)"):
        model(torch.randn(2, 3, 21))
    for kw, match in ((dict(radius=-1), "radius"), (dict(train_bins=0), "train_bins"),
                      (dict(activation="swish"), "activation")):
        with pytest.raises(ValueError, match=match):
            BandVPNN(21, **kw)
    with pytest.raises(ValueError, match="band_radius"):
        MaskNet("dnn", 21, band_radius=2)
    with pytest.raises(ValueError, match="band_radius"):
        MaskNet("vpnn", 21, mapping="color", band_radius=2)


@pytest.mark.parametrize("dense_units, dense_join", [(None, "outputs"), (12, "outputs"), (12, "masks")])
def test_frame_masker_runs_the_band_network_chunk_by_chunk(dense_units, dense_join):
    torch.manual_seed(0)
    net = MaskNet("vpnn", 33, hidden_units=8, context_strides=(1, 4), band_radius=3, dense_units=dense_units,
                  dense_join=dense_join, mean=torch.randn(33), scale=torch.rand(33) + 0.5).eval()
    rng = np.random.default_rng(1)
    spec = (rng.standard_normal((33, 305)) + 1j * rng.standard_normal((33, 305))).astype(np.complex64)
    out = np.empty((2, 33, 300), np.float32)
    with torch.inference_mode():
        for a, b, m in FrameMasker(net, chunk=128).masks(spec, 300):
            out[..., a:b] = m.numpy()
        feats = net.normalise(torch.log(torch.from_numpy(np.abs(spec[:, :300]).T.copy()) + 1e-5))
        stacks = feats[context_indices(300, strides=(1, 4))]
        expected = net.masks(stacks).permute(1, 2, 0).numpy()
        if dense_units:  # the dense network counts
            assert not np.allclose(net.model(stacks).permute(1, 2, 0).numpy(), expected)
        if dense_join == "masks":  # the average of the two networks' masks (the dense one's by the window path)
            mean = (net.model(stacks) + net.dense(stacks)).permute(1, 2, 0).numpy() / 2
            np.testing.assert_allclose(expected, mean, rtol=1e-6, atol=1e-7)
    # the pair's dense masks come from per-frame products summed in another order: float32
    # rounding (tests/test_inference.py bounds that path against float64)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6 if dense_join == "outputs" else 2e-5)


@pytest.fixture(scope="module")
def data():
    return make_drum_mixtures(n_tracks=5, duration=1.5, random_state=0)


def test_the_separator_trains_a_band_network_on_some_bins_and_saves_it(data, tmp_path, monkeypatch):
    from sklearn_vpnn.separator import SeparatorNet

    seen = []
    get_loss = SeparatorNet.get_loss

    def spy(self, y_pred, y_true, X=None, training=False):
        seen.append((training, y_pred.shape[-1], y_true.shape[-1]))
        return get_loss(self, y_pred, y_true, X, training)

    monkeypatch.setattr(SeparatorNet, "get_loss", spy)
    sep = VPNNSeparator(band_radius=2, band_bins=40, band_units=6, hidden_units=None, max_epochs=2, random_state=0)
    pipe = make_pipeline(STFT(n_fft=256), sep, InverseSTFT()).fit(data.X, data.y)
    assert isinstance(sep.net_.module_.model, BandVPNN)
    assert sep.net_.module_.model.radius == 2
    assert {(n_pred, n_true) for training, n_pred, n_true in seen if training} == {(40, 129)}
    assert {(n_pred, n_true) for training, n_pred, n_true in seen if not training} == {(129, 129)}
    out = pipe.transform(data.X)
    assert out.shape == (5, 2, 1, data.X.shape[-1])
    path = tmp_path / "band.safetensors"
    save_model(pipe, path)
    again = load_model(path)
    assert again[1].get_params()["band_radius"] == 2
    np.testing.assert_array_equal(again.transform(data.X), out)
    # the same seed, the same model
    twin = make_pipeline(STFT(n_fft=256), VPNNSeparator(band_radius=2, band_bins=40, band_units=6, hidden_units=None,
                                                        max_epochs=2, random_state=0), InverseSTFT()).fit(data.X, data.y)
    np.testing.assert_array_equal(twin.transform(data.X), out)


def test_a_dense_network_beside_the_band_network_adds_its_outputs(data):
    torch.manual_seed(0)
    net = MaskNet("vpnn", 21, hidden_units=6, context_strides=(1, 2), band_radius=2, dense_units=5)
    assert sum(p.numel() for p in net.dense.parameters()) == sum(
        p.numel() for p in MaskNet("vpnn", 21, hidden_units=5, context_strides=(1, 2)).model.parameters())
    x = torch.randn(4, 6, 21)
    with torch.no_grad():
        y = net.model._masks(x, None, net.dense.outputs(x))
        torch.testing.assert_close(net.masks(x), y)
        band, dense = net.model.eval()(x), net.dense(x)
        assert not torch.allclose(net.masks(x), band) and not torch.allclose(net.masks(x), dense)
    sep = VPNNSeparator(band_radius=2, band_units=6, hidden_units=8, band_join="outputs", band_bins=40, max_epochs=1,
                        random_state=0)
    pipe = make_pipeline(STFT(n_fft=256), sep, InverseSTFT()).fit(data.X, data.y)
    assert sep.net_.module_.dense.hidden_units == 8
    assert pipe.transform(data.X).shape == (5, 2, 1, data.X.shape[-1])


def test_two_networks_trained_together_each_on_its_own_loss_average_their_masks(data, tmp_path, monkeypatch):
    from sklearn_vpnn.separator import SeparatorNet

    torch.manual_seed(0)
    net = MaskNet("vpnn", 21, hidden_units=6, context_strides=(1, 2), band_radius=2, dense_units=5,
                  dense_join="masks")
    x = torch.randn(4, 6, 21)
    with torch.no_grad():  # separating: the average of the two networks' masks
        torch.testing.assert_close(net.eval().masks(x), (net.model(x) + net.dense(x)) / 2)
    band, dense = net.train().masks(x)  # training: each network's own masks
    torch.testing.assert_close(band, net.model._masks(x, None))
    torch.testing.assert_close(dense, net.dense(x))
    with pytest.raises(ValueError, match="dense_join"):
        MaskNet("vpnn", 21, band_radius=2, dense_units=5, dense_join="sum")

    losses = []
    get_loss = SeparatorNet.get_loss

    def spy(self, y_pred, y_true, X=None, training=False):
        loss = get_loss(self, y_pred, y_true, X, training)
        if isinstance(y_pred, tuple):  # the mean of the two networks' own losses
            parts = [get_loss(self, p, y_true, X, training) for p in y_pred]
            losses.append((loss.item(), (sum(parts) / 2).item(), [p.shape[-1] for p in y_pred]))
        return loss

    monkeypatch.setattr(SeparatorNet, "get_loss", spy)
    sep = VPNNSeparator(band_radius=2, band_units=6, hidden_units=8, band_bins=40, max_epochs=2, random_state=0)
    pipe = make_pipeline(STFT(n_fft=256), sep, InverseSTFT()).fit(data.X, data.y)
    assert losses and all(a == pytest.approx(b) and bins == [40, 129] for a, b, bins in losses)
    out = pipe.transform(data.X)
    path = tmp_path / "pair.safetensors"
    save_model(pipe, path)
    again = load_model(path)
    assert again[1].get_params()["band_join"] == "masks" and again[1].net_.module_.dense_join == "masks"
    np.testing.assert_array_equal(again.transform(data.X), out)
    hybrid = make_pipeline(STFT(n_fft=256), VPNNSeparator(band_radius=2, band_units=6, hidden_units=8, band_bins=40,
                                                          band_join="outputs", max_epochs=2, random_state=0),
                           InverseSTFT())
    assert not np.allclose(hybrid.fit(data.X, data.y).transform(data.X), out)  # not the outputs' sum


@pytest.mark.parametrize("kind, mapping", [("vpnn", "color"), ("dnn", None)])
def test_a_mask_net_pickled_before_dense_networks_existed_still_separates(kind, mapping):
    # FrameMasker reads the colour VPNN and the DNN through MaskNet.masks; a MaskNet
    # unpickled from an older release has no ``dense`` attribute
    net = MaskNet(kind, 9, hidden_units=4, mapping=mapping).eval()
    x = torch.rand(3, 3, 9)
    with torch.no_grad():
        expected = net.model(x)
        del net.__dict__["dense"]
        torch.testing.assert_close(net.masks(x), expected, rtol=0, atol=0)


def test_band_parameters_are_validated_in_fit(data):
    spec = STFT(n_fft=256).fit_transform(data.X)
    for kw, match in ((dict(band_radius=-1), "band_radius"), (dict(band_bins=0), "band_bins"),
                      (dict(band_units=0), "band_units"), (dict(band_join="sum"), "band_join"),
                      (dict(band_radius=None, hidden_units=None), "hidden_units=None needs a band network"),
                      (dict(mapping="color", hidden_units=None), "hidden_units=None needs a band network"),
                      (dict(hidden_units=0), "hidden_units")):
        with pytest.raises(ValueError, match=match):
            VPNNSeparator(max_epochs=1, **kw).fit(spec, data.y)


def test_the_default_separator_is_a_band_and_a_dense_network_whose_masks_are_averaged():
    hyper = VPNNSeparator()._hyperparameters(513, 2)
    net = MaskNet(**hyper)
    assert isinstance(net.model, BandVPNN) and net.model.hidden_units == 32 and net.model.radius == 4
    assert net.dense.hidden_units == 256 and net.dense_join == "masks"
    # the paper's dense network alone, as before the band network existed
    dense = MaskNet(**VPNNSeparator(band_radius=None)._hyperparameters(513, 2))
    assert dense.dense is None and dense.model.hidden_units == 256 and not isinstance(dense.model, BandVPNN)
    # the colour VPNN reads one frame: it trains alone, whatever band_radius says (as for context_strides)
    color = MaskNet(**VPNNSeparator(mapping="color")._hyperparameters(513, 2))
    assert color.dense is None and color.color and color.model.mapping == "color"


def test_band_separators_saved_before_band_units_existed_read_as_they_were_trained():
    from sklearn_vpnn.separator._checks import _upgrade_params

    # 2026-12-03: hidden_units were the band network's, dense_units the dense one's
    old = _upgrade_params({"band_radius": 4, "hidden_units": 32, "band_bins": 128, "dense_units": 256})
    assert (old["band_units"], old["hidden_units"], old["band_join"]) == (32, 256, "outputs")
    pair = _upgrade_params({"band_radius": 4, "hidden_units": 32, "dense_units": 256, "dense_join": "masks"})
    assert (pair["band_units"], pair["hidden_units"], pair["band_join"]) == (32, 256, "masks")
    assert "dense_join" not in pair
    alone = _upgrade_params({"band_radius": 4, "hidden_units": 32, "band_bins": 128, "dense_units": None})
    assert (alone["band_units"], alone["hidden_units"]) == (32, None)
    dense = _upgrade_params({"band_radius": None, "hidden_units": 256, "dense_units": None})
    assert dense["band_radius"] is None and dense["hidden_units"] == 256 and "dense_units" not in dense
    # from before band networks: the dense network, trained as it was
    older = _upgrade_params({"hidden_units": 512})
    assert older["band_radius"] is None and older["loss_target"] == "magnitude"
    sep = VPNNSeparator()
    state = {k: v for k, v in sep.__getstate__().items() if k not in ("band_units", "band_join")}
    state.update(band_radius=4, hidden_units=32, dense_units=256)
    again = VPNNSeparator.__new__(VPNNSeparator)
    again.__setstate__(state)  # a pickle of 2026-12-03
    params = again.get_params()
    assert (params["band_units"], params["hidden_units"], params["band_join"]) == (32, 256, "outputs")
