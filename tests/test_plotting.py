"""plot_separation: panels, saving, masks, axes, errors (Agg backend)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from sklearn_vpnn.plotting import plot_separation  # noqa: E402


@pytest.fixture
def signals(rng):
    sr = 8000
    drums = 0.3 * rng.standard_normal((2, sr)).astype(np.float32)
    acc = 0.3 * np.sin(2 * np.pi * 220 * np.arange(sr) / sr)[None].repeat(2, 0).astype(np.float32)
    return drums + acc, np.stack([drums, acc]), sr


def test_three_panels_and_png(signals, tmp_path):
    mix, est, sr = signals
    path = tmp_path / "fig.png"
    fig = plot_separation(mix, est, sr, n_fft=256, path=path)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes) == 6  # 3 panels + 3 colour bars
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "drums" in fig.axes[1].get_title()
    plt.close(fig)


def test_references_masks_and_mono(signals):
    mix, est, sr = signals
    masks = np.full((2, 2, 129, 40), 0.5, np.float32)
    fig = plot_separation(mix[0], est[:, 0], sr, sources=("kick", "rest"), masks=masks,
                          references=est, n_fft=256)
    assert len(fig.axes) == 8
    assert fig.axes[1].get_title() == "kick mask"
    assert "true kick" in fig.axes[3].get_title()
    plt.close(fig)


def test_given_axes(signals):
    mix, est, sr = signals
    fig, axes = plt.subplots(3, 1)
    assert plot_separation(mix, est, sr, ax=axes, n_fft=256) is fig
    with pytest.raises(ValueError, match="3 axes"):
        plot_separation(mix, est, sr, ax=axes[:2], n_fft=256)
    plt.close(fig)


def test_bad_shapes(signals):
    mix, est, sr = signals
    with pytest.raises(ValueError, match="estimates"):
        plot_separation(mix, est[..., :-1], sr)
    with pytest.raises(ValueError, match="NaN"):
        plot_separation(np.full_like(mix, np.nan), est, sr)
