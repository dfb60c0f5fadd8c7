"""Tests of the pure PyTorch layer: sklearn_vpnn.nn."""

import math

import pytest
import torch

from sklearn_vpnn.nn import (
    COLOR_BREAKPOINT,
    DNN,
    VPNN,
    ContextWindow,
    DiscriminativeMSELoss,
    InverseSpectralColor,
    MiddleComponent,
    SpectralColor,
    TimeFrequencyMask,
    VectorProductLinear,
    context_indices,
    context_window,
    vector_product_linear,
)

ACTIVATION_NAMES = ["relu", "leaky_relu", "elu", "tanh", "sigmoid", "identity"]


def _cross_reference(a, weight, bias=None):
    """z_i = sum_j W_ij x a_j + b_i with torch.linalg.cross; a: (N, in, 3)."""
    n, n_in, _ = a.shape
    n_out = weight.shape[0]
    w = weight.unsqueeze(0).expand(n, n_out, n_in, 3)
    v = a.unsqueeze(1).expand(n, n_out, n_in, 3)
    z = torch.linalg.cross(w, v, dim=-1).sum(2)
    return z if bias is None else z + bias


# ---------------------------------------------------------------- vector product layer


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(1, 1, 1), (7, 5, 4), (16, 9, 13)])
def test_layer_matches_cross_product_reference(bias, shape):
    n, n_in, n_out = shape
    torch.manual_seed(0)
    layer = VectorProductLinear(n_in, n_out, bias=bias).double()
    if bias:
        with torch.no_grad():
            layer.bias.normal_()
    a = torch.randn(n, n_in, 3, dtype=torch.float64)
    expected = _cross_reference(a, layer.weight, layer.bias)
    torch.testing.assert_close(layer(a), expected, atol=1e-10, rtol=0)
    # component-major layout gives the same numbers
    cm = VectorProductLinear(n_in, n_out, bias=bias, component_dim=-2).double()
    cm.load_state_dict(layer.state_dict())
    out_cm = cm(a.transpose(1, 2).contiguous())
    assert out_cm.shape == (n, 3, n_out)
    torch.testing.assert_close(out_cm.transpose(1, 2), expected, atol=1e-10, rtol=0)


def test_layer_leading_dims_and_noncontiguous_input():
    torch.manual_seed(1)
    layer = VectorProductLinear(4, 3).double()
    a = torch.randn(2, 5, 4, 3, dtype=torch.float64)
    out = layer(a)
    assert out.shape == (2, 5, 3, 3)
    ref = _cross_reference(a.reshape(10, 4, 3), layer.weight, layer.bias).reshape(2, 5, 3, 3)
    torch.testing.assert_close(out, ref, atol=1e-10, rtol=0)
    a_nc = torch.randn(4, 3, 10, dtype=torch.float64).permute(2, 0, 1)  # (10, 4, 3) strided
    torch.testing.assert_close(layer(a_nc), _cross_reference(a_nc, layer.weight, layer.bias),
                               atol=1e-10, rtol=0)


def test_layer_trains_on_its_component_major_weight():
    """The weight keeps the (out, in, 3) shape, is stored component-major, and its gradient is the cross product's."""
    torch.manual_seed(0)
    layer = VectorProductLinear(4, 3, component_dim=-2).double()
    assert layer.weight.shape == (3, 4, 3) and layer.weight.permute(2, 0, 1).is_contiguous()
    with torch.no_grad():
        layer.bias.normal_()
    a = torch.randn(5, 3, 4, dtype=torch.float64, requires_grad=True)
    g = torch.randn(5, 3, 3, dtype=torch.float64)
    (layer(a) * g).sum().backward()
    assert layer.weight.grad.stride() == layer.weight.stride()  # written in place, no relayout
    w = layer.weight.detach().clone().requires_grad_(True)
    b = layer.bias.detach().clone().requires_grad_(True)
    a_ref = a.detach().clone().requires_grad_(True)
    ref = _cross_reference(a_ref.transpose(-1, -2), w, b).transpose(-1, -2)
    (ref * g).sum().backward()
    for got, want in [(a.grad, a_ref.grad), (layer.weight.grad, w.grad), (layer.bias.grad, b.grad)]:
        torch.testing.assert_close(got, want, atol=1e-12, rtol=0)
    # the same seed draws the same weights as a contiguous (out, in, 3) tensor would
    torch.manual_seed(3)
    drawn = VectorProductLinear(4, 3).weight.detach().clone()
    torch.manual_seed(3)
    torch.testing.assert_close(drawn, torch.empty(3, 4, 3).normal_(0.0, math.sqrt(2.0) / math.sqrt(8.0)),
                               rtol=0, atol=0)


@pytest.mark.parametrize("component_dim", [-1, -2])
@pytest.mark.parametrize("bias", [True, False])
def test_layer_gradcheck(component_dim, bias):
    torch.manual_seed(2)
    weight = torch.randn(3, 4, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, 3, dtype=torch.float64, requires_grad=True) if bias else None
    shape = (5, 4, 3) if component_dim == -1 else (5, 3, 4)
    a = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    inputs = (a, weight, b) if bias else (a, weight)

    def f(a, w, b=None):
        return vector_product_linear(a, w, b, component_dim=component_dim)

    assert torch.autograd.gradcheck(f, inputs)


@pytest.mark.parametrize("component_dim", [-1, -2])
@pytest.mark.parametrize("bias", [True, False])
def test_layer_single_component_equals_full_layer_and_its_gradients(component_dim, bias):
    torch.manual_seed(4)
    layer = VectorProductLinear(5, 4, bias=bias, component_dim=component_dim).double()
    if bias:
        with torch.no_grad():
            layer.bias.normal_()
    shape = (2, 3, 5, 3) if component_dim == -1 else (2, 3, 3, 5)
    a = torch.randn(*shape, dtype=torch.float64)
    full = layer(a)
    for k in range(3):
        expected = full[..., k] if component_dim == -1 else full[..., k, :]
        torch.testing.assert_close(layer.forward_component(a, k), expected, atol=1e-12, rtol=0)
        with torch.no_grad():  # the cached inference blocks give the same numbers
            torch.testing.assert_close(layer.forward_component(a, k), expected, atol=1e-12, rtol=0)
    # gradients with respect to input, weight and bias match the full layer's
    a.requires_grad_(True)
    g = torch.randn(2, 3, 4, dtype=torch.float64)
    grads_one = torch.autograd.grad((layer.forward_component(a, 1) * g).sum(),
                                    [a] + list(layer.parameters()))
    mid = layer(a)[..., 1] if component_dim == -1 else layer(a)[..., 1, :]
    grads_full = torch.autograd.grad((mid * g).sum(), [a] + list(layer.parameters()))
    for got, want in zip(grads_one, grads_full):
        torch.testing.assert_close(got, want, atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="k must be 0, 1 or 2"):
        layer.forward_component(a, 3)
    with pytest.raises(ValueError, match="expected input of shape"):
        layer.forward_component(a[..., :2], 1)


def test_window_vpnn_reads_out_only_the_middle_component_with_the_same_numbers():
    torch.manual_seed(5)
    model = VPNN(9, hidden_units=6, n_layers=2, mapping="window").double()
    x = torch.randn(4, 3, 9, dtype=torch.float64)
    h = model.to_vectors(x)
    for layer in model.hidden:
        h = model.act(layer(h))
    full = torch.stack([model.to_real(head(h)) for head in model.heads], dim=-2)
    torch.testing.assert_close(model.outputs(x), full, atol=1e-12, rtol=0)


def test_layer_parameter_shapes_and_zero_bias():
    layer = VectorProductLinear(6, 2)
    assert layer.weight.shape == (2, 6, 3)
    assert layer.bias.shape == (2, 3)
    assert torch.count_nonzero(layer.bias) == 0
    assert VectorProductLinear(6, 2, bias=False).bias is None


def test_init_keeps_deep_relu_stack_in_range():
    torch.manual_seed(3)
    x = torch.randn(1024, 256, 3)
    layers = [VectorProductLinear(256, 256, gain=1.0 if k == 0 else math.sqrt(2.0)) for k in range(6)]
    for layer in layers:
        x = torch.relu(layer(x))
        assert 0.2 <= x.std().item() <= 5.0
    # and the initialisation variance is the documented gain^2 / (2 * in)
    assert layers[1].weight.var().item() == pytest.approx(2.0 / (2 * 256), rel=0.05)


def test_init_vpnn_outputs_unit_order():
    torch.manual_seed(4)
    model = VPNN(257, hidden_units=128, n_layers=6)
    y = model.outputs(torch.randn(256, 3, 257))
    assert 0.2 <= y.std().item() <= 5.0


# ---------------------------------------------------------------- masks


def test_time_frequency_mask_values():
    y = torch.tensor([[[3.0, -2.0], [1.0, 2.0]]])
    m = TimeFrequencyMask(eps=1e-8)(y)
    torch.testing.assert_close(m, torch.tensor([[[0.75, 0.5], [0.25, 0.5]]]))


def test_masks_defined_on_all_zero_heads():
    torch.manual_seed(5)
    model = VPNN(9, n_sources=3, hidden_units=4, n_layers=2)
    with torch.no_grad():
        for head in model.heads:
            head.weight.zero_()
            head.bias.zero_()
    x = torch.randn(6, 3, 9, requires_grad=True)
    masks = model(x)
    assert torch.isfinite(masks).all()
    torch.testing.assert_close(masks, torch.full_like(masks, 1 / 3))
    (masks[:, 0] * torch.randn(6, 9)).sum().backward()
    grads = [x.grad] + [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)

    y = torch.zeros(2, 2, 5, requires_grad=True)
    m = TimeFrequencyMask()(y)
    m[:, 0].sum().backward()
    assert torch.isfinite(y.grad).all()
    torch.testing.assert_close(m.sum(1), torch.ones(2, 5))


# ---------------------------------------------------------------- mappings


def test_context_window_order_and_edges():
    frames = torch.arange(4.0)[:, None] * 10 + torch.arange(2.0)  # (4 frames, 2 bins)
    w = context_window(frames)
    assert w.shape == (4, 2, 3)
    # frame 2, bin 1: (prev, cur, next) = frames 1, 2, 3
    torch.testing.assert_close(w[2, 1], torch.tensor([11.0, 21.0, 31.0]))
    # edges repeat the edge frame
    torch.testing.assert_close(w[0, 0], torch.tensor([0.0, 0.0, 10.0]))
    torch.testing.assert_close(w[3, 0], torch.tensor([20.0, 30.0, 30.0]))
    cm = context_window(frames, component_dim=-2)
    assert cm.shape == (4, 3, 2)
    torch.testing.assert_close(cm.transpose(-1, -2), w)
    assert context_indices(1).tolist() == [[0, 0, 0]]
    assert context_indices(3).tolist() == [[0, 0, 1], [0, 1, 2], [1, 2, 2]]


def test_context_window_module_and_middle_component():
    prev, cur, nxt = torch.zeros(5), torch.ones(5), torch.full((5,), 2.0)
    stack = torch.stack([prev, cur, nxt])[None]  # (1, 3, 5)
    v = ContextWindow()(stack)
    assert v.shape == (1, 5, 3)
    torch.testing.assert_close(v[0, 3], torch.tensor([0.0, 1.0, 2.0]))
    torch.testing.assert_close(MiddleComponent()(v), cur[None])
    assert ContextWindow(component_dim=-2)(stack) is stack
    torch.testing.assert_close(MiddleComponent(component_dim=-2)(stack), cur[None])


def test_spectral_color_values_and_exact_inverse():
    n = COLOR_BREAKPOINT
    assert n == 0.0938
    edges = torch.tensor([0.0, n, 2 * n, 1.0], dtype=torch.float64)
    torch.manual_seed(6)
    x = torch.cat([edges, torch.rand(1000, dtype=torch.float64)])
    rgb = SpectralColor()(x)
    assert rgb.shape == (1004, 3)
    torch.testing.assert_close(rgb[:4], torch.tensor(
        [[0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(InverseSpectralColor()(rgb), x, atol=1e-12, rtol=0)
    # component-major layout, and clamping of out-of-range input
    rgb_cm = SpectralColor(component_dim=-2)(x[None])
    torch.testing.assert_close(InverseSpectralColor(component_dim=-2)(rgb_cm), x[None], atol=1e-12, rtol=0)
    out = InverseSpectralColor()(SpectralColor()(torch.tensor([-0.5, 1.5], dtype=torch.float64)))
    torch.testing.assert_close(out, torch.tensor([0.0, 1.0], dtype=torch.float64))
    # a point inside each piece, hand computed
    x = torch.tensor([0.05, 0.15, 0.5], dtype=torch.float64)
    expected = torch.tensor([[0.05 / n, 0, 0], [1, (0.15 - n) / n, 0],
                             [1, 1, (0.5 - 2 * n) / (1 - 2 * n)]], dtype=torch.float64)
    torch.testing.assert_close(SpectralColor()(x), expected, atol=1e-12, rtol=0)


# ---------------------------------------------------------------- models


def test_vpnn_parameter_count():
    model = VPNN(513, n_sources=2, hidden_units=512, n_layers=3)
    assert sum(p.numel() for p in model.parameters()) == 3_944_454
    assert sum(p.numel() for p in VPNN(513, mapping="color").parameters()) == 3_944_454


@pytest.mark.parametrize("mapping", ["window", "color"])
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_vpnn_forward_shapes(mapping, activation):
    torch.manual_seed(7)
    model = VPNN(17, n_sources=2, hidden_units=8, n_layers=2, mapping=mapping, activation=activation)
    x = torch.rand(5, 3, 17)
    masks = model(x)
    assert masks.shape == (5, 2, 17)
    assert torch.isfinite(masks).all() and (masks > 0).all()
    torch.testing.assert_close(masks.sum(1), torch.ones(5, 17))
    assert model(x[0]).shape == (2, 17)  # unbatched (3, n_bins) also works


def test_vpnn_color_uses_only_current_frame_window_uses_all():
    torch.manual_seed(8)
    x = torch.rand(4, 3, 11)
    x2 = x.clone()
    x2[:, 0] = torch.rand(4, 11)
    x2[:, 2] = torch.rand(4, 11)
    color = VPNN(11, hidden_units=6, mapping="color")
    torch.testing.assert_close(color(x), color(x2))
    window = VPNN(11, hidden_units=6, mapping="window")
    assert not torch.allclose(window(x), window(x2))
    # window order matters: swapping prev and next changes the output
    assert not torch.allclose(window(x), window(x.flip(1)))


@pytest.mark.parametrize("context", [1, 3])
def test_dnn_forward(context):
    torch.manual_seed(9)
    model = DNN(17, n_sources=3, hidden_units=8, n_layers=2, context=context)
    masks = model(torch.randn(5, 3, 17))
    assert masks.shape == (5, 3, 17)
    torch.testing.assert_close(masks.sum(1), torch.ones(5, 17))
    assert model.hidden[0].in_features == context * 17
    assert all(torch.count_nonzero(layer.bias) == 0 for layer in model.hidden)


def test_seeded_construction_is_deterministic():
    for make in (lambda: VPNN(13, hidden_units=5, mapping="color"), lambda: DNN(13, hidden_units=5)):
        torch.manual_seed(42)
        a = make().state_dict()
        torch.manual_seed(42)
        b = make().state_dict()
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("factory", [
    lambda: VPNN(10, mapping="rgb"),
    lambda: VPNN(10, activation="gelu"),
    lambda: VPNN(10, n_layers=0),
    lambda: VPNN(10, hidden_units=0),
    lambda: VPNN(10, n_sources=1),
    lambda: VPNN(0),
    lambda: VPNN(10, n_layers=2.0),
    lambda: DNN(10, context=2),
    lambda: DNN(10, activation="softmax"),
    lambda: DNN(10, n_layers=0),
    lambda: DiscriminativeMSELoss(gamma=1.0),
    lambda: DiscriminativeMSELoss(gamma=-0.1),
    lambda: DiscriminativeMSELoss(gamma="0.1"),
    lambda: TimeFrequencyMask(eps=0.0),
    lambda: VectorProductLinear(0, 3),
    lambda: VectorProductLinear(3, 3, component_dim=0),
    lambda: SpectralColor(n=0.6),
    lambda: VPNN(10, hidden_units=4)(torch.zeros(2, 10)),
    lambda: VPNN(10, hidden_units=4)(torch.zeros(2, 3, 11)),
    lambda: VectorProductLinear(3, 2)(torch.zeros(4, 3, 2)),
    lambda: ContextWindow()(torch.zeros(2, 4, 5)),
])
def test_invalid_arguments_raise_value_error(factory):
    with pytest.raises(ValueError):
        factory()


# ---------------------------------------------------------------- loss


def test_discriminative_loss_hand_computed():
    masks = torch.tensor([[[0.5, 1.0], [0.5, 0.0]],
                          [[0.5, 0.5], [0.5, 0.5]]])
    mixture = torch.tensor([[2.0, 4.0], [0.0, 0.0]])
    targets = torch.tensor([[[1.0, 3.0], [2.0, 0.0]],
                            [[1.0, 0.0], [0.0, 1.0]]])
    # item 0: estimates [[1, 4], [1, 0]]
    #   bin 0: own (1-1)^2 + (1-2)^2 = 1, cross (1-2)^2 + (1-1)^2 = 1  -> 1 - 0.1 * 1 = 0.9
    #   bin 1: own (4-3)^2 + (0-0)^2 = 1, cross (4-0)^2 + (0-3)^2 = 25 -> 1 - 2.5 = -1.5
    # item 1: estimates all 0
    #   bin 0: own 1 + 0 = 1, cross 0 + 1 = 1 -> 0.9;  bin 1: own 0 + 1 = 1, cross 1 + 0 -> 0.9
    # mean over 2 * 2 elements: (0.9 - 1.5 + 0.9 + 0.9) / 4 = 0.3
    loss = DiscriminativeMSELoss(gamma=0.1)(masks, mixture, targets)
    assert loss.item() == pytest.approx(0.3, abs=1e-6)
    # gamma = 0: plain summed MSE, (1 + 1 + 1 + 1) / 4
    assert DiscriminativeMSELoss(gamma=0)(masks, mixture, targets).item() == pytest.approx(1.0)
    # mixture given as (B, 1, F) is the same
    loss2 = DiscriminativeMSELoss(gamma=0.1)(masks, mixture[:, None], targets)
    assert loss2.item() == pytest.approx(0.3, abs=1e-6)


def test_frame_weighting_makes_a_quieter_frame_count_like_a_loud_one():
    """The same relative error in a frame 6 dB quieter: nearly equal shares with "mixture"; silence stays capped."""
    def frames(levels):
        mixture = torch.tensor([[lv] * 3 for lv in levels])
        targets = torch.stack([torch.stack([0.8 * m, 0.2 * m]) for m in mixture])  # same relative error
        return torch.full((len(levels), 2, 3), 0.5), mixture, targets

    def shares(weighting, levels):
        masks, mixture, targets = frames(levels)
        loss = DiscriminativeMSELoss(gamma=0, frame_weighting=weighting)
        alone = [DiscriminativeMSELoss(gamma=0)(masks[i:i + 1], mixture[i:i + 1], targets[i:i + 1]).item()
                 for i in range(len(levels))]
        return alone, loss(masks, mixture, targets).item()

    (loud, quiet), plain = shares(None, [1.0, 0.5])
    assert quiet == pytest.approx(loud / 4) and plain == pytest.approx((loud + quiet) / 2)
    # weights 1 / (e + 0.1 mean(e)), rescaled to mean 1: e = 1 and 0.25, mean 0.625
    w = torch.tensor([1 / 1.0625, 1 / 0.3125])
    w = w / w.mean()
    _, weighted = shares("mixture", [1.0, 0.5])
    assert weighted == pytest.approx(((w[0] * loud + w[1] * quiet) / 2).item(), rel=1e-5)
    assert 0.8 < (w[1] * quiet / (w[0] * loud)).item() < 1  # 1/4 of the loud frame's share without
    # a frame 40 dB down is near silence: its weight stops at the floor, it stays negligible
    (loud, silent), _ = shares(None, [1.0, 0.01])
    _, weighted = shares("mixture", [1.0, 0.01])
    w = torch.tensor([1 / (1 + 0.050005), 1 / (1e-4 + 0.050005)])
    assert weighted == pytest.approx(((w / w.mean() * torch.tensor([loud, silent])).mean()).item(), rel=1e-5)
    with pytest.raises(ValueError, match="frame_weighting"):
        DiscriminativeMSELoss(frame_weighting="track")


def test_discriminative_loss_backward_finite():
    torch.manual_seed(10)
    model = VPNN(7, hidden_units=4)
    x = torch.randn(3, 3, 7)
    masks = model(x)
    loss = DiscriminativeMSELoss()(masks, torch.rand(3, 7), torch.rand(3, 2, 7))
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_inference_cache_of_stacked_weights_follows_weight_updates():
    import pickle

    torch.manual_seed(0)
    layer = VectorProductLinear(5, 4, component_dim=-2).double()
    x = torch.randn(7, 3, 5, dtype=torch.float64)
    with torch.no_grad():
        first = layer(x)
        again = layer(x)  # served from the cache
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    # the grad path multiplies by the weight components without stacking them: the
    # same sums, grouped differently, so equal to rounding
    torch.testing.assert_close(first, layer(x).detach(), rtol=1e-12, atol=1e-12)
    with torch.no_grad():
        layer.weight.mul_(2.0)  # an optimiser step changes the weights in place
        updated = layer(x)
        fresh = vector_product_linear(x, layer.weight, layer.bias, component_dim=-2)  # no cache
    torch.testing.assert_close(updated, fresh, rtol=0, atol=0)
    torch.testing.assert_close(updated, layer(x).detach(), rtol=1e-12, atol=1e-12)
    assert not torch.allclose(updated, first)
    assert "_pairs_cache" not in pickle.loads(pickle.dumps(layer)).__dict__


# --------------------------------------------------------------------------- context strides
def test_context_indices_with_strides_clamp_at_the_edges():
    from sklearn_vpnn.nn import context_indices

    idx = context_indices(6, strides=(1, 4))
    assert idx.shape == (6, 6)
    assert idx[0].tolist() == [0, 0, 1, 0, 0, 4]
    assert idx[3].tolist() == [2, 3, 4, 0, 3, 5]
    assert torch.equal(context_indices(6, strides=(1,)), context_indices(6))


@pytest.mark.parametrize("bad", [(), (0,), (1, 1), "14", (1.5,), (True,), 3])
def test_check_strides_refuses_bad_strides(bad):
    from sklearn_vpnn.nn import check_strides

    with pytest.raises(ValueError, match="stride"):
        check_strides(bad)


def test_multiscale_vpnn_reads_k_vectors_per_bin():
    from sklearn_vpnn.nn import VPNN

    paper = VPNN(513)
    multi = VPNN(513, n_scales=3)
    # only the first layer grows: K * n_bins input vectors
    grown = sum(p.numel() for p in multi.parameters()) - sum(p.numel() for p in paper.parameters())
    assert grown == 2 * 513 * 512 * 3
    x = torch.randn(4, 9, 513)
    assert multi(x).shape == (4, 2, 513)
    # stride k's vector of bin f is input unit k * n_bins + f: the rows (3k, 3k+1, 3k+2)
    from sklearn_vpnn.nn.models import _scales_to_vectors

    v = _scales_to_vectors(x, 3)
    assert v.shape == (4, 3, 3 * 513)
    assert torch.equal(v[:, :, 513 + 7], x[:, 3:6, 7])
    with pytest.raises(ValueError, match=r"\(batch, 9, 513\)"):
        multi(torch.randn(4, 3, 513))
    with pytest.raises(ValueError, match="mapping='window'"):
        VPNN(513, n_scales=2, mapping="color")
