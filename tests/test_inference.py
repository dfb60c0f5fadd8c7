"""Separating without the glue: FrameMasker, the in-place products, the block STFT/iSTFT.

The fast paths must give the numbers of the plain computations they replace: bit
for bit where they only move data or reorder nothing, to float32 rounding where
they add the same terms in another order (the window VPNN's shifted first layer).
"""

import copy

import numpy as np
import pytest
import torch

from sklearn_vpnn import STFT, VPNNSeparator, make_drum_mixtures
from sklearn_vpnn.nn import ACTIVATIONS, FrameMasker, MaskNet, context_indices
from sklearn_vpnn.nn._inference import _activate_
from sklearn_vpnn.spectral._stft import _istft_rows, _resolve_params, _stft_rows, _window, n_frames


def _net(kind="vpnn", mapping=None, strides=(1,), n_bins=33, hidden=16, seed=0):
    torch.manual_seed(seed)
    net = MaskNet(kind, n_bins, hidden_units=hidden, mapping=mapping, context_strides=strides,
                  mean=torch.randn(n_bins), scale=torch.rand(n_bins) + 0.5, lo=-8.0, hi=2.0)
    with torch.no_grad():  # nonzero biases, so that every term is exercised
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return net.eval()


def _spec(n_bins=33, n_frames=300, seed=1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n_bins, n_frames + 5))
            + 1j * rng.standard_normal((n_bins, n_frames + 5))).astype(np.complex64)


def _reference(net, spec, n, dtype=torch.float32):
    """The batch forward pass on gathered context stacks (what predict_masks did)."""
    net = copy.deepcopy(net).to(dtype)
    mag = np.ascontiguousarray(np.abs(spec[:, :n]).T).astype(dtype == torch.float64 and np.float64 or np.float32)
    with torch.inference_mode():
        feats = net.normalise(torch.log(torch.from_numpy(mag) + 1e-5))
        return net.model(feats[context_indices(n, strides=net.context_strides)]).permute(1, 2, 0).numpy()


def _masks(masker, spec, n):
    out = np.empty((masker.model.n_sources, spec.shape[0], n), np.float32)
    with torch.inference_mode():
        for a, b, m in masker.masks(spec, n):
            out[..., a:b] = m.numpy()
    return out


@pytest.mark.parametrize("strides", [(1,), (1, 4, 16)])
@pytest.mark.parametrize("n", [1, 5, 63, 300])
def test_gathered_frame_masks_are_the_forward_pass_bit_for_bit(strides, n):
    net, spec = _net(strides=strides), _spec()
    masker = FrameMasker(net, chunk=128, shift=False)  # several chunks of unequal sizes
    np.testing.assert_array_equal(_masks(masker, spec, n), _reference(net, spec, n))


@pytest.mark.parametrize("strides", [(1,), (1, 4, 16)])
def test_shifted_first_layer_agrees_to_float32_rounding(strides):
    net, spec, n = _net(strides=strides, hidden=32), _spec(n_frames=400), 400
    exact = _reference(net, spec, n, torch.float64)
    gathered = np.abs(_reference(net, spec, n) - exact)
    shifted = np.abs(_masks(FrameMasker(net, chunk=128), spec, n) - exact)
    # the same terms summed in another order: errors of the same size as float32's own
    assert shifted.max() <= 4 * gathered.max() + 1e-6
    assert shifted.mean() <= 2 * gathered.mean() + 1e-8
    assert shifted.max() < 1e-4


@pytest.mark.parametrize("kind, mapping, strides", [("vpnn", "color", (1,)), ("dnn", None, (1,)),
                                                    ("dnn", None, (1, 3))])
def test_other_models_run_their_forward_pass_chunk_by_chunk(kind, mapping, strides):
    net, spec = _net(kind, mapping, strides), _spec()
    np.testing.assert_array_equal(_masks(FrameMasker(net, chunk=100), spec, 300), _reference(net, spec, 300))


def test_features_are_normalised_log_magnitudes_edge_padded():
    net, spec = _net(strides=(1, 4)), _spec()
    feats = FrameMasker(net).features(spec, 300)
    expected = net.normalise(torch.log(torch.from_numpy(np.abs(spec[:, :300]).T.copy()) + 1e-5))
    assert feats.shape == (300 + 2 * 4, 33)
    torch.testing.assert_close(feats[4:-4], expected, rtol=0, atol=0)
    torch.testing.assert_close(feats[:4], expected[:1].expand(4, -1), rtol=0, atol=0)
    torch.testing.assert_close(feats[-4:], expected[-1:].expand(4, -1), rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_in_place_activations_match_the_modules(name):
    act = ACTIVATIONS[name][0]()
    x = torch.randn(7, 11)
    torch.testing.assert_close(_activate_(act, x.clone()), act(x), rtol=0, atol=0)


def test_transposed_head_equals_forward_component():
    net = _net(hidden=16)
    head = net.model.heads[0]
    rows = torch.randn(200, 3 * 16)
    out = torch.empty(33, 200)
    with torch.inference_mode():
        head._component_t_into(rows, 1, out)
        torch.testing.assert_close(out.t(), head.forward_component(rows.view(200, 3, 16), 1))


@pytest.fixture(scope="module")
def fitted():
    data = make_drum_mixtures(n_tracks=3, duration=1.5, random_state=0)
    X = [data.X[0], data.X[1][:, :20000], data.X[2][:, :700]]  # different lengths: padding frames
    spec = STFT(n_fft=256).fit_transform(X)
    y = STFT(n_fft=256).fit_transform(data.X)
    sep = VPNNSeparator(hidden_units=8, max_epochs=1, random_state=0, device="cpu",
                        validation_fraction=0).fit(y, data.y)
    return sep, spec


def test_transform_is_masks_times_mixture(fitted):
    sep, spec = fitted
    sep = copy.deepcopy(sep).set_params(shifts=1)  # one frame grid (more grids: tests/test_shifts.py)
    expected = sep.predict_masks(spec) * spec.data[:, np.newaxis]
    np.testing.assert_array_equal(sep.transform(spec).data, expected)


def test_threads_change_no_number_and_are_restored(fitted):
    sep, spec = fitted
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = sep.transform(spec).data
        torch.set_num_threads(2)
        two = sep.transform(spec).data
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


def _torch_stft_reference(x, params):
    """What _stft_rows computed before: torch.stft on the zero-padded signal."""
    n_fft, hop = params["n_fft"], params["hop_length"]
    pad = n_fft // 2 if params["center"] else 0
    t = n_frames(x.shape[-1], **params)
    buf = np.zeros((x.shape[0], (t - 1) * hop + n_fft), np.float32)
    buf[:, pad : pad + x.shape[-1]] = x
    return torch.stft(torch.from_numpy(buf), n_fft, hop, window=torch.from_numpy(_window(params["window"], n_fft)),
                      center=False, return_complex=True).numpy()


def _fold_reference(spec, length, params):
    """What _istft_rows computed before: torch's fold of every windowed frame."""
    n_fft, hop = params["n_fft"], params["hop_length"]
    pad = n_fft // 2 if params["center"] else 0
    n_fr = n_frames(length, **params)
    out_len = (n_fr - 1) * hop + n_fft
    window = torch.from_numpy(_window(params["window"], n_fft))
    fold = torch.nn.functional.fold
    env = fold((window**2)[None, :, None].expand(1, n_fft, n_fr), output_size=(1, out_len),
               kernel_size=(1, n_fft), stride=(1, hop)).reshape(out_len)[pad : pad + length]
    frames = torch.fft.irfft(torch.from_numpy(spec[:, :, :n_fr].copy()), n=n_fft, dim=-2)
    frames.mul_(window[:, None])
    y = fold(frames, output_size=(1, out_len), kernel_size=(1, n_fft), stride=(1, hop))
    return (y.reshape(-1, out_len)[:, pad : pad + length] / env).numpy()


@pytest.mark.parametrize("n_fft, hop, window, center", [(1024, 512, "hann", True), (1024, 256, "hann", True),
                                                        (256, 256, "boxcar", True), (512, 128, "hamming", False),
                                                        (512, 200, "hann", True)])
def test_block_stft_is_torch_stft_and_overlap_add_is_fold(n_fft, hop, window, center):
    params = _resolve_params(n_fft, hop, window, center)
    x = np.random.default_rng(0).standard_normal((2, 30000)).astype(np.float32)
    spec = _stft_rows([x], params)[0]
    np.testing.assert_array_equal(spec, _torch_stft_reference(x, params))
    window = torch.from_numpy(_window(params["window"], n_fft))
    for data in (spec, spec.astype(np.complex128)):
        ref = _fold_reference(data, 30000, params).astype(np.float32)
        # The blocks' inverse FFTs run on other batch shapes than the reference's one
        # call, and MKL picks its FFT kernels by CPU and shape: bit for bit on an AMD
        # EPYC, within float32 rounding (1.5e-7 of the peak, up to 6.3e-7) on an
        # Intel Xeon. Either way the same waveform.
        np.testing.assert_allclose(_istft_rows(data, 30000, params, window), ref,
                                   rtol=0, atol=2e-6 * np.abs(ref).max())


def test_run_all_leaves_torch_thread_count_of_new_threads_alone():
    """Workers run one torch thread each; threads started afterwards get the caller's count."""
    from concurrent.futures import ThreadPoolExecutor

    from sklearn_vpnn._threads import run_all

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert run_all(lambda _: torch.get_num_threads(), range(4)) == [1, 1, 1, 1]
        assert torch.get_num_threads() == 2
        with ThreadPoolExecutor(1) as other:
            assert other.submit(torch.get_num_threads).result() == 2
    finally:
        torch.set_num_threads(before)
