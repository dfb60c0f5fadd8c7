"""
Separating long files: the command line and chunked separation
===============================================================

A whole album would not fit in memory as spectrograms and masks. Separation
therefore runs on overlapping chunks joined by a raised-cosine crossfade, with the
STFT context each chunk needs, so the result equals whole-signal separation up to
round-off while memory stays bounded by one chunk.

Two ways to use it:

* :func:`sklearn_vpnn.chunking.separate_long` on an in-memory array;
* ``sklearn-vpnn separate`` on audio files, which also streams the file from disk,
  resamples to the model's rate and back, and writes one file per source.

Here both run on a 20-second synthetic song with a tiny model and 5-second chunks.
"""

# %%
# A tiny model and a long song
# ----------------------------
import os
import subprocess
import sys
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline

from sklearn_vpnn import (
    STFT,
    InverseSTFT,
    VPNNSeparator,
    load_audio,
    make_drum_mixtures,
    save_audio,
    save_model,
    sdr,
)
from sklearn_vpnn.chunking import separate_long

SR = 8000
train = make_drum_mixtures(n_tracks=4, duration=2.0, sample_rate=SR, random_state=4)
pipe = make_pipeline(
    STFT(n_fft=256, sample_rate=SR),
    VPNNSeparator(hidden_units=32, n_layers=1, max_epochs=3, random_state=0),
    InverseSTFT(),
)
pipe.fit(train.X, train.y)

song = make_drum_mixtures(n_tracks=1, duration=20.0, sample_rate=SR, random_state=5)
mixture = song.X[0]  # (n_channels, n_samples)
print("song:", mixture.shape, f"= {mixture.shape[-1] / SR:.0f} s at {SR} Hz")

# %%
# In Python: ``separate_long``
# ----------------------------
# Chunks of 5 s with a 0.5 s crossfade; the output has exactly the input's length and
# matches separating the whole song at once.
chunked = separate_long(pipe, mixture, chunk_samples=5 * SR, overlap_samples=SR // 2)
whole = pipe.transform(mixture[None])[0]
print("chunked:", chunked.shape, " max |chunked - whole| =", float(np.max(np.abs(chunked - whole))))

# %%
# On the command line: ``sklearn-vpnn separate``
# ----------------------------------------------
# Save the model and the song as files, then run the command in a subprocess, as a
# user would in a shell (``python -m sklearn_vpnn.cli`` is the ``sklearn-vpnn``
# command).
with tempfile.TemporaryDirectory() as tmp:
    model_path = os.path.join(tmp, "drums.safetensors")
    song_path = os.path.join(tmp, "song.wav")
    save_model(pipe, model_path)  # the safe model file format of the command line
    save_audio(song_path, mixture, SR)
    cmd = [sys.executable, "-m", "sklearn_vpnn.cli", "separate", song_path,
           "--model", model_path, "-o", os.path.join(tmp, "separated"),
           "--chunk-seconds", "5", "--overlap-seconds", "0.5", "--no-progress", "--device", "cpu"]
    print("$ sklearn-vpnn", " ".join(cmd[3:]).replace(tmp + os.sep, ""))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    print(proc.stdout.replace(tmp + os.sep, "") + proc.stderr.replace(tmp + os.sep, ""))
    print("exit code", proc.returncode)
    proc.check_returncode()
    outdir = os.path.join(tmp, "separated", "song")
    print("written:", sorted(os.listdir(outdir)))
    drums, _ = load_audio(os.path.join(outdir, "drums.wav"))
    accompaniment, _ = load_audio(os.path.join(outdir, "accompaniment.wav"))

from_cli = np.stack([drums, accompaniment])
print("command line output == separate_long output:",
      np.allclose(from_cli, chunked, atol=1e-5))
scores = sdr(song.y[0], from_cli, sample_rate=SR, method="framewise")
print(f"drums SDR {scores[0]:.2f} dB, accompaniment SDR {scores[1]:.2f} dB")

# %%
# The crossfade weights
# ---------------------
# Consecutive chunks share ``overlap_samples``; the earlier one fades out with
# ``cos^2``, the later one fades in with ``sin^2``, and the weights sum to one.
w = np.sin(0.5 * np.pi * (np.arange(SR // 2) + 0.5) / (SR // 2)) ** 2
fig, ax = plt.subplots(figsize=(5, 2.6), layout="constrained")
t = np.arange(SR // 2) / SR
ax.plot(t, 1 - w, label="earlier chunk")
ax.plot(t, w, label="later chunk")
ax.plot(t, (1 - w) + w, "k--", lw=0.8, label="sum")
ax.set(xlabel="time in the overlap (s)", ylabel="weight", title="Raised-cosine crossfade")
ax.legend()
plt.show()
