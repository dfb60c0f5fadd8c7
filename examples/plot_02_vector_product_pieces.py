"""
The pieces of a vector product network
======================================

A look inside :mod:`sklearn_vpnn.nn`, the pure PyTorch layer, without training
anything: the vector product (cross product) neuron, the two ways of turning a real
spectrogram value into a 3-D vector (context window and spectral colouring) and back,
the time-frequency masking layer and the discriminative loss. The figures are those of
the :doc:`method page </method>`.
"""

# %%
# A vector product layer is a sum of cross products
# -------------------------------------------------
# Each unit holds a 3-D vector; unit ``i`` of a layer computes
# ``z_i = sum_j W_ij x a_j + b_i`` with ``x`` the 3-D cross product, three weights per
# connection. :func:`~sklearn_vpnn.nn.vector_product_linear` computes it with six
# matrix products; here it is checked against :func:`torch.linalg.cross`.
import matplotlib.pyplot as plt
import numpy as np
import torch

from sklearn_vpnn.nn import (
    COLOR_BREAKPOINT,
    DiscriminativeMSELoss,
    InverseSpectralColor,
    SpectralColor,
    TimeFrequencyMask,
    VectorProductLinear,
    context_window,
)

torch.manual_seed(0)
layer = VectorProductLinear(in_units=5, out_units=4)
a = torch.randn(2, 5, 3)  # (batch, in_units, 3)
z = layer(a)  # (batch, out_units, 3)
reference = torch.linalg.cross(layer.weight[None], a[:, None]).sum(2) + layer.bias
print("output shape:", tuple(z.shape), " matches the cross products:",
      torch.allclose(z, reference, atol=1e-6))

# %%
# Mapping 1: the context window (WVPNN)
# -------------------------------------
# The vector of frequency bin ``f`` at frame ``t`` is the log-magnitude of that bin in
# the previous, current and next frame, in that order (edge frames repeated). The
# network reads its output back from the middle (current-frame) component.
frames = torch.arange(5.0)[:, None] * torch.ones(1, 2)  # 5 frames, 2 bins: value = frame index
windows = context_window(frames)  # (n_frames, n_bins, 3)
print("bin 0, (prev, cur, next) of each frame:\n", windows[:, 0].numpy())

# %%
# Mapping 2: spectral colouring (CVPNN)
# -------------------------------------
# A normalised value ``x`` in ``[0, 1]`` becomes a "hot" colour ``(r, g, b)``: red
# rises on ``[0, n]``, green on ``[n, 2n]``, blue on ``[2n, 1]``, with the breakpoint
# ``n = 0.0938``. Its inverse ``x = n r + n g + (1 - 2n) b`` is exact.
x = torch.linspace(0, 1, 501, dtype=torch.float64)
rgb = SpectralColor()(x)  # (501, 3)
back = InverseSpectralColor()(rgb)
print(f"breakpoint n = {COLOR_BREAKPOINT}; max |inverse(colour(x)) - x| = "
      f"{(back - x).abs().max().item():.1e}")

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
for k, colour in enumerate("rgb"):
    ax0.plot(x, rgb[:, k], color=colour, label=colour)
for k in (1, 2):
    ax0.axvline(k * COLOR_BREAKPOINT, color="0.6", lw=0.8, ls="--")
ax0.set(xlabel="normalised log-magnitude x", ylabel="component", title="spectral colouring")
ax0.legend(loc="lower right")
ax1.imshow(rgb.numpy()[None].repeat(40, 0), aspect="auto", extent=(0, 1, 0, 1))
ax1.set(yticks=[], xlabel="x", title="the colour each value becomes")
plt.show()

# %%
# The masking layer and the discriminative loss
# ---------------------------------------------
# One head per source outputs ``y_s``; the masks are ``m_s = |y_s| / sum_k |y_k|``,
# made total: where every head outputs zero each source gets ``1 / K`` instead of
# ``0 / 0``. The loss compares masked mixture magnitudes with the true source
# magnitudes and subtracts ``gamma`` times the error against the *other* source.
heads = torch.tensor([[[3.0, 0.0, -1.0], [1.0, 0.0, 1.0]]])  # (batch, sources, bins)
masks = TimeFrequencyMask()(heads)
print("masks:\n", masks[0].numpy().round(3))

mixture = torch.tensor([[2.0, 1.0, 2.0]])
targets = torch.tensor([[[1.2, 0.3, 1.4], [0.8, 0.7, 0.6]]])  # true source magnitudes
for gamma in (0.0, 0.05, 0.5):
    loss = DiscriminativeMSELoss(gamma=gamma)(masks, mixture, targets)
    print(f"gamma = {gamma:4}: loss {loss.item():.4f}")

# %%
# A drum mask for a two-source toy: the mask of source 0 as a function of the two
# head outputs.
y0, y1 = np.meshgrid(np.linspace(-2, 2, 201), np.linspace(-2, 2, 201))
heads = torch.from_numpy(np.stack([y0, y1])[None]).float()  # (1, 2, 201, 201)
m0 = TimeFrequencyMask(dim=1)(heads)[0, 0].numpy()
fig, ax = plt.subplots(figsize=(4.2, 3.6), layout="constrained")
im = ax.imshow(m0, origin="lower", extent=(-2, 2, -2, 2), cmap="magma", vmin=0, vmax=1)
ax.set(xlabel="head output y_drums", ylabel="head output y_accompaniment",
       title="m_drums = |y_d| / (|y_d| + |y_a|)")
fig.colorbar(im, ax=ax)
plt.show()
