"""Devices: ``device="cuda"`` without CUDA, and a GPU-trained model used on a CPU-only machine.

There is no GPU here, so a GPU-trained model is simulated faithfully: the net is
fitted on the CPU, its ``device`` set to ``"cuda"``, and it is pickled while
torch's serialisation tags every tensor storage with location ``"cuda:0"`` —
byte for byte what a model trained on ``cuda:0`` writes. Loading such a file
without a CUDA map location fails in plain torch; skorch's ``__setstate__`` must
map it to the CPU.
"""

import pickle
import warnings
from contextlib import contextmanager

import joblib
import numpy as np
import pytest
import torch
from skorch.exceptions import DeviceWarning

from sklearn_vpnn import STFT, VPNNSeparator, make_drum_mixtures

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a CPU-only machine")

TINY = dict(hidden_units=16, n_layers=1, max_epochs=1, batch_size=128, random_state=0)


@pytest.fixture(scope="module")
def spec_and_y():
    data = make_drum_mixtures(n_tracks=3, duration=1.0, sample_rate=8000, random_state=0)
    return STFT(n_fft=256).fit_transform(data.X), data.y


@contextmanager
def _storages_tagged_cuda(tensors=None):
    """Make pickling record storages as living on ``cuda:0``.

    Only the storages of ``tensors`` (all storages when None): on a GPU, skorch
    moves the module, criterion and optimizer state there, while e.g. the data
    loader's ``torch.Generator`` stays on the CPU.
    """
    import torch.serialization as ts

    real = ts.location_tag
    ptrs = None if tensors is None else {t.untyped_storage().data_ptr() for t in tensors}

    def tag(storage):
        if ptrs is None or storage.data_ptr() in ptrs:
            return "cuda:0"
        return real(storage)

    ts.location_tag = tag
    try:
        yield
    finally:
        ts.location_tag = real


def _gpu_tensors(net):
    """Tensors that live on the GPU after ``fit(device="cuda")``."""
    # a fitted net keeps no optimizer (see test_fitted_model_holds_weights_not_the_optimizer)
    return [*net.module_.parameters(), *net.module_.buffers(), *net.criterion_.state_dict().values()]


def _gpu_trained_copy(sep, path):
    sep.net_.device = "cuda"
    try:
        with _storages_tagged_cuda(_gpu_tensors(sep.net_)):
            joblib.dump(sep, path)
    finally:
        sep.net_.device = "cpu"
    return path


def test_cuda_without_cuda_is_a_clear_error(spec_and_y):
    spec, y = spec_and_y
    for device in ("cuda", "cuda:1"):
        with pytest.raises(ValueError, match="CUDA is not available"):
            VPNNSeparator(device=device, **TINY).fit(spec, y)
    with pytest.raises(ValueError, match="device must be"):
        VPNNSeparator(device="tpu", **TINY).fit(spec, y)


def test_auto_picks_cpu_here(spec_and_y):
    spec, y = spec_and_y
    sep = VPNNSeparator(device="auto", **TINY).fit(spec, y)
    assert sep.net_.device == "cpu"
    assert next(sep.net_.module_.parameters()).device.type == "cpu"


def test_simulation_is_faithful(spec_and_y, tmp_path):
    """The simulated file really holds CUDA-tagged storages: plain torch refuses it."""
    spec, y = spec_and_y
    sep = VPNNSeparator(device="cpu", **TINY).fit(spec, y)
    state = sep.net_.module_.state_dict()
    with _storages_tagged_cuda():
        torch.save(state, tmp_path / "w.pt")
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(tmp_path / "w.pt", weights_only=True)


def test_gpu_trained_model_runs_on_cpu(spec_and_y, tmp_path):
    spec, y = spec_and_y
    sep = VPNNSeparator(device="auto", **TINY).fit(spec, y)
    expected = sep.transform(spec).data
    path = _gpu_trained_copy(sep, tmp_path / "gpu.joblib")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = joblib.load(path)
    # skorch says plainly that it falls back to the CPU
    messages = [str(w.message) for w in caught if issubclass(w.category, DeviceWarning)]
    assert any("not available" in m or "no CUDA" in m for m in messages), messages

    assert str(loaded.net_.device) == "cpu"
    module = loaded.net_.module_
    assert all(t.device.type == "cpu" for t in [*module.parameters(), *module.buffers()])
    out = loaded.transform(spec).data
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(loaded.predict_masks(spec), sep.predict_masks(spec))

    # saved again from the CPU machine, it loads silently
    again = pickle.loads(pickle.dumps(loaded))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeviceWarning)
        again = pickle.loads(pickle.dumps(loaded))
    np.testing.assert_array_equal(again.transform(spec).data, expected)


def test_predict_masks_follows_the_module_device(spec_and_y):
    """Masks are computed wherever the module lives, not where ``device`` says."""
    spec, y = spec_and_y
    sep = VPNNSeparator(device="cpu", **TINY).fit(spec, y)
    expected = sep.predict_masks(spec)
    sep.set_params(device="cuda")  # a parameter for the next fit only
    np.testing.assert_array_equal(sep.predict_masks(spec), expected)
