"""
Distributed grid search with Dask
=================================

scikit-learn parallelises :class:`~sklearn.model_selection.GridSearchCV` through
joblib, and joblib can hand the work to a Dask cluster. Nothing in the separator
changes: the pipeline, its parameters and the picklable
:class:`~sklearn_vpnn.metrics.SDRScorer` are shipped to the workers, each fit runs
there (checkpointing in its own private temporary folder) and the scores come back.

Here the cluster is a :class:`distributed.LocalCluster` with two worker processes on
this machine, one thread each; on a real cluster only the address given to
:class:`distributed.Client` changes. See :doc:`/distributed`.
"""

# %%
# Start a two-worker cluster
# --------------------------
# One PyTorch thread per worker process, so that two workers on two cores do not
# fight over them. Worker processes are *spawned*: they import this script again, so,
# as with any multiprocessing code, everything that starts work sits under
# ``if __name__ == "__main__":``.
import logging

import joblib
import numpy as np
from distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklearn_vpnn import STFT, InverseSTFT, VPNNSeparator, make_drum_mixtures, sdr_scorer

if __name__ == "__main__":
    # on a busy machine workers can take a few seconds to stop; keep Dask's log quiet
    logging.getLogger("distributed").setLevel(logging.ERROR)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None,
                           env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    client = Client(cluster)
    print("workers:", len(client.scheduler_info()["workers"]))

# %%
# A tiny search, run on the workers
# ---------------------------------
# ``joblib.parallel_config(backend="dask")`` sends every fit of the search to the
# cluster; the code of the search itself is unchanged.
if __name__ == "__main__":
    data = make_drum_mixtures(n_tracks=4, duration=1.0, sample_rate=8000, random_state=6)
    pipe = make_pipeline(
        STFT(n_fft=256, sample_rate=8000),
        VPNNSeparator(hidden_units=16, n_layers=1, max_epochs=2, validation_fraction=0.0,
                      patience=None, device="cpu", random_state=0),
        InverseSTFT(),
    )
    search = GridSearchCV(pipe, {"vpnnseparator__mapping": ["window", "color"]},
                          scoring=sdr_scorer("drums", method="framewise"), cv=2)
    try:
        with joblib.parallel_config(backend="dask"):
            search.fit(data.X, data.y)
        # every worker process imported the separator: the fits really ran there
        ran_there = client.run(lambda: "sklearn_vpnn.separator" in __import__("sys").modules)
    finally:
        client.close()
        cluster.close()

    print("separator imported on the workers:", sorted(ran_there.values()))
    for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
        print(params, f"drums SDR {score:.2f} dB")
    print("best:", search.best_params_)

# %%
# The refitted best pipeline is back in this process, ready to separate.
if __name__ == "__main__":
    print(search.best_estimator_.transform(data.X[:1]).shape, np.isfinite(search.best_score_))
