"""
WVPNN vs CVPNN vs DNN
=====================

The paper compares two vector product networks, one per real → 3-D mapping, with a
real-valued DNN of the same shape:

* **WVPNN** (``VPNNSeparator(mapping="window", band_radius=None)``): each bin becomes
  the vector of its log-magnitudes in the previous, current and next frame;
* **CVPNN** (``VPNNSeparator(mapping="color")``): each bin of the current frame
  becomes a "hot" colour ``(r, g, b)``;
* **DNN** (:class:`~sklearn_vpnn.DNNSeparator`): ordinary neurons on the same three
  frames.

``band_radius=None`` leaves out the band network that the default trains beside the
dense window VPNN (the colour VPNN always trains alone): the paper's networks. All
three get the same data, width, depth, loss and the same *training time*, the fair
comparison on a shared CPU. With seconds of training on a few synthetic songs the
ranking below is noisy; the benchmark on the :doc:`results page </results>` trains
much longer on MUSDB18.
"""

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline

from sklearn_vpnn import STFT, DNNSeparator, InverseSTFT, VPNNSeparator, make_drum_mixtures, sdr

SR = 11025
data = make_drum_mixtures(n_tracks=7, duration=2.5, sample_rate=SR, random_state=2)
X_train, y_train, X_test, y_test = data.X[:5], data.y[:5], data.X[5:], data.y[5:]

common = dict(hidden_units=64, n_layers=2, max_epochs=50, max_time=5, random_state=0)
models = {
    "WVPNN": VPNNSeparator(mapping="window", band_radius=None, **common),
    "CVPNN": VPNNSeparator(mapping="color", **common),
    "DNN": DNNSeparator(**common),
}

results = {}
for name, separator in models.items():
    pipe = make_pipeline(STFT(n_fft=512, sample_rate=SR), separator, InverseSTFT())
    start = time.perf_counter()
    pipe.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    scores = sdr(y_test, pipe.transform(X_test), sample_rate=SR, method="framewise")
    n_params = sum(p.numel() for p in pipe[1].net_.module_.parameters())
    results[name] = scores[:, 0]
    print(f"{name:6s} {n_params:7d} parameters, {pipe[1].n_epochs_:3d} epochs in {seconds:4.1f} s, "
          f"drums SDR per test song: {np.round(scores[:, 0], 2)} dB")

# %%
# A vector product connection has three weights against one for a real connection,
# but the DNN's first layer reads the three frames as ``3 * n_bins`` separate numbers
# where the VPNN reads ``n_bins`` vectors: the parameter counts above are the honest
# comparison. The time budget is checked after each batch but never cuts the first
# epoch, so on a busy machine a model may run a little over it.
fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
for i, (name, s) in enumerate(results.items()):
    ax.scatter(np.full(len(s), i), s, s=40)
    ax.hlines(np.mean(s), i - 0.25, i + 0.25, color="k")
ax.set_xticks(range(len(results)), list(results))
ax.set(ylabel="drums SDR (dB)", title=f"Same training time ({common['max_time']} s)")
plt.show()
