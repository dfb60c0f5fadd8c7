"""
Saving and loading a separator with joblib
==========================================

A fitted pipeline is a plain Python object: :func:`joblib.dump` saves it whole (STFT
settings, network weights, input normalisation statistics, source names) and
:func:`joblib.load` gives back a pipeline that separates bit for bit as before. This
is for Python and for files you trust: loading a joblib (pickle) file runs any code
it carries. The command line's model files are the safe format of
:func:`~sklearn_vpnn.save_model` (``sklearn-vpnn train -o model.safetensors``; loading
runs no code); it loads a joblib file only with ``--allow-pickle`` (see
:doc:`/safety`). A model trained on a GPU loads on a CPU-only machine (see
:doc:`/distributed`).

The training data is not stored in the file.
"""

# %%
import os
import tempfile

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from sklearn_vpnn import STFT, InverseSTFT, VPNNSeparator, make_drum_mixtures

data = make_drum_mixtures(n_tracks=4, duration=2.0, sample_rate=8000, random_state=3)
pipe = make_pipeline(
    STFT(n_fft=256, sample_rate=8000),
    VPNNSeparator(hidden_units=32, n_layers=1, max_epochs=3, random_state=0),
    InverseSTFT(),
)
pipe.fit(data.X[:3], data.y[:3])
before = pipe.transform(data.X[3:])

# %%
# Save, load, separate again
# --------------------------
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "drums.joblib")
    joblib.dump(pipe, path)
    print(f"model file: {os.path.getsize(path) / 1024:.0f} KiB")
    loaded = joblib.load(path)

after = loaded.transform(data.X[3:])
print("identical output after loading:", np.array_equal(before, after))
print("sources:", loaded[1].sources_, " STFT:", loaded[0].get_params()["n_fft"],
      "points at", loaded[0].get_params()["sample_rate"], "Hz")

# %%
# Parameters, clones and seeds
# ----------------------------
# ``clone`` gives an unfitted copy with the same parameters, what model selection
# uses. With an integer ``random_state`` two fits are identical, so a result can be
# reproduced from the parameters alone.
again = clone(pipe).fit(data.X[:3], data.y[:3])
print("refit from the same parameters is identical:",
      np.array_equal(again.transform(data.X[3:]), before))
