"""
A pipeline on MUSDB18-format data
=================================

Read MUSDB18 with :func:`~sklearn_vpnn.load_musdb` (drums against everything else),
train a small separator and score it on held-out tracks. The data folder comes from
the ``MUSDB_PATH`` environment variable, musdb's own convention. Without it this
example falls back to the synthetic song generator and says so in its output, so it
always runs.

To keep the documentation build short, only the first 3 seconds of 7 clips of musdb's
``valid`` split are read, in mono at 11025 Hz, and the model
trains for a few seconds: a wiring demonstration, not a benchmark. For a real
training see :ref:`sphx_glr_auto_examples_train_musdb_drums.py`.
"""

# %%
# Load the data (or fall back to synthetic songs)
# -----------------------------------------------
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline

from sklearn_vpnn import STFT, InverseSTFT, VPNNSeparator, load_musdb, make_drum_mixtures, sdr

SR = 11025
root = os.environ.get("MUSDB_PATH")
if root and os.path.isdir(root):
    # lazy=True decodes a track only when it is indexed: read just the first 7 clips
    data = load_musdb(root, subsets="train", split="valid", targets="drums",
                      duration=3.0, sample_rate=SR, mono=True, lazy=True)
    pairs = [(data.X[i], data.y[i]) for i in range(7)]
    data.X = np.stack([x for x, _ in pairs])
    data.y = np.stack([y for _, y in pairs])
    data.track_names = data.track_names[:7]
    print(f"Read {len(data.track_names)} MUSDB18 clips from MUSDB_PATH={root}")
else:
    print("MUSDB_PATH is not set (or not a folder): using synthetic songs from "
          "make_drum_mixtures instead of MUSDB18.")
    data = make_drum_mixtures(n_tracks=8, duration=3.0, sample_rate=SR, random_state=0)
print("sources:", data.sources, " X:", np.shape(data.X), " y:", np.shape(data.y))

# %%
# Hold out the last tracks, train on the others
# ---------------------------------------------
# Real recordings are much harder than the synthetic songs: with seconds of training
# on a handful of clips, do not expect more than a small gain over the mixture.
n_test = 3
X_train, y_train = data.X[:-n_test], data.y[:-n_test]
X_test, y_test = data.X[-n_test:], data.y[-n_test:]

pipe = make_pipeline(
    STFT(n_fft=512, sample_rate=SR),
    VPNNSeparator(hidden_units=128, n_layers=2, max_epochs=20, max_time=8, random_state=0),
    InverseSTFT(),
)
pipe.fit(X_train, y_train)
print(f"trained {pipe[1].n_epochs_} epochs")

# %%
# Score: SDR of the drums against the mixture-as-estimate baseline
# ----------------------------------------------------------------
estimates = pipe.transform(X_test)
scores = sdr(y_test, estimates, sample_rate=SR, method="framewise")
baseline = sdr(y_test, np.repeat(np.asarray(X_test)[:, None], 2, axis=1),
               sample_rate=SR, method="framewise")
for name, s, b in zip(data.track_names[-n_test:], scores, baseline):
    print(f"{name[:40]:40s} drums {s[0]:6.2f} dB  (mixture {b[0]:6.2f} dB)")

# %%
# Training curve
# --------------
# ``history_`` keeps the per-epoch training and validation losses (the validation
# loss is computed on held-out *tracks*, never on frames of a training track).
hist = [h for h in pipe[1].history_ if "valid_loss" in h]  # the last epoch may be cut short
fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
ax.plot([h["epoch"] for h in hist], [h["train_loss"] for h in hist], "o-", label="train")
ax.plot([h["epoch"] for h in hist], [h["valid_loss"] for h in hist], "s-", label="validation")
ax.set(xlabel="epoch", ylabel="discriminative loss", title="Training a small WVPNN")
ax.legend()
plt.show()
