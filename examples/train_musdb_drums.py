"""
Drums from MUSDB18 with the default recipe
==========================================

Train ``make_pipeline(STFT(), VPNNSeparator(random_state=0), InverseSTFT())`` with no
other arguments on the ``train`` split of a MUSDB18-format dataset (drums against
everything else) and report the drums SDR on the ``valid`` split, the way SiSEC reports
it: museval BSS Eval v4, median over 1-second windows, then median over tracks.

This example is not executed when the documentation is built: on the 80 training clips
of the 7-second MUSDB18 sample it trains for about 21 minutes on two CPU
cores (the default's two networks with the 0.2 STFT, ``n_fft=4096``, hop 1024, on an
AMD EPYC of 2026; about 4.6 dB). Run it yourself::

    MUSDB_PATH=../shared/data/musdb18-7 python examples/train_musdb_drums.py

Set ``SKLEARN_VPNN_SAVE=drums.joblib`` to keep the trained pipeline. The figures this
produced on our machine are on the results page of the documentation.
"""

import os
import time

import numpy as np
from sklearn.pipeline import make_pipeline

from sklearn_vpnn import STFT, InverseSTFT, VPNNSeparator, load_musdb, sdr

root = os.environ.get("MUSDB_PATH")
if not root:
    raise SystemExit("Set MUSDB_PATH to a MUSDB18-format folder (e.g. ../shared/data/musdb18-7).")

# %%
# Load drums-vs-everything-else waveforms: ``y[:, 0]`` is the drums, ``y[:, 1]`` the sum
# of bass, other and vocals, and ``X`` their sum.
train = load_musdb(root, subsets="train", split="train")
valid = load_musdb(root, subsets="train", split="valid")
print(f"train: {train.X.shape}, valid: {valid.X.shape}, {train.sample_rate} Hz")

# %%
# The default recipe: every parameter at its default.
pipe = make_pipeline(STFT(), VPNNSeparator(random_state=0), InverseSTFT())
start = time.monotonic()
pipe.fit(train.X, train.y)
minutes = (time.monotonic() - start) / 60
print(f"trained {pipe[1].n_epochs_} epochs in {minutes:.1f} min")

# %%
# Separate the validation clips and score them with museval (BSS Eval v4).
estimates = pipe.transform(valid.X)
scores = sdr(valid.y, estimates, sample_rate=valid.sample_rate)  # (n_tracks, n_sources)
for name, row in zip(valid.track_names, scores):
    print(f"{name:45s} drums {row[0]:6.2f} dB   accompaniment {row[1]:6.2f} dB")
print(f"median over tracks: drums {np.nanmedian(scores[:, 0]):.2f} dB, "
      f"accompaniment {np.nanmedian(scores[:, 1]):.2f} dB")

if os.environ.get("SKLEARN_VPNN_SAVE"):
    import joblib

    joblib.dump(pipe, os.environ["SKLEARN_VPNN_SAVE"])
