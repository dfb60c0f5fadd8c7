"""
Grid search with the SDR scorer
===============================

The separator is an ordinary scikit-learn estimator inside an ordinary
:class:`~sklearn.pipeline.Pipeline`, so :class:`~sklearn.model_selection.GridSearchCV`
tunes it as it tunes anything else. :func:`~sklearn_vpnn.sdr_scorer` scores a candidate
by the SDR of one source (here the drums) of its separated *waveforms*; one
``stft__*`` parameter in the grid changes the input spectrogram, the training targets
and the inversion together.

Kept tiny for the documentation build: short synthetic songs at 8 kHz, a 2 x 2 grid,
2-fold cross-validation and one-layer networks trained for a few epochs.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklearn_vpnn import STFT, InverseSTFT, VPNNSeparator, make_drum_mixtures, sdr_scorer

data = make_drum_mixtures(n_tracks=4, duration=1.5, sample_rate=8000, random_state=1)

pipe = make_pipeline(
    STFT(n_fft=256, sample_rate=8000),
    VPNNSeparator(hidden_units=32, n_layers=1, max_epochs=2, validation_fraction=0.0,
                  patience=None, random_state=0),
    InverseSTFT(),
)
param_grid = {
    "stft__n_fft": [256, 512],
    "vpnnseparator__mapping": ["window", "color"],
}
# method="framewise" is museval's SDR computed directly (see sklearn_vpnn.metrics)
search = GridSearchCV(pipe, param_grid, scoring=sdr_scorer("drums", method="framewise"),
                      cv=2, refit=True)
search.fit(data.X, data.y)

# %%
# Results
# -------
res = search.cv_results_
for params, mean, std, rank in zip(res["params"], res["mean_test_score"],
                                   res["std_test_score"], res["rank_test_score"]):
    print(f"rank {rank}: n_fft={params['stft__n_fft']:4d} "
          f"mapping={params['vpnnseparator__mapping']:6s}  drums SDR {mean:6.2f} +/- {std:.2f} dB")
print("best:", search.best_params_)

# %%
# ``best_estimator_`` is the whole pipeline, refitted on all tracks with the best
# parameters: waveforms in, waveforms out.
print(search.best_estimator_.transform(data.X[:1]).shape)

labels = [f"n_fft={p['stft__n_fft']}\n{p['vpnnseparator__mapping']}" for p in res["params"]]
fig, ax = plt.subplots(figsize=(5.5, 3), layout="constrained")
ax.bar(np.arange(len(labels)), res["mean_test_score"], yerr=res["std_test_score"], capsize=4)
ax.set_xticks(np.arange(len(labels)), labels)
ax.set(ylabel="drums SDR (dB), 2-fold CV", title="GridSearchCV with sdr_scorer")
plt.show()
