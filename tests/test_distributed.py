"""Model selection on a Dask cluster through joblib's Dask backend.

Starts a real ``distributed.LocalCluster`` with two worker *processes*: the
separator pipeline, its parameters and the scorer are pickled to the workers,
trained there (each clone in its own per-fit temporary folder) and scored.
"""

import os

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from sklearn_vpnn import STFT, InverseSTFT, VPNNSeparator, make_drum_mixtures, sdr_scorer  # noqa: E402

TINY = dict(hidden_units=16, n_layers=1, max_epochs=1, batch_size=128, validation_fraction=0.0,
            patience=None, remix=0.0, gain_db=0.0, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def client():
    # one torch thread per worker process: two workers on two cores do not fight
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", worker_class=distributed.Nanny,
                                  env=env) as cluster, \
            distributed.Client(cluster) as client:
        yield client


@pytest.mark.timeout(120)
def test_grid_search_on_local_cluster(client):
    data = make_drum_mixtures(n_tracks=4, duration=1.0, sample_rate=8000, random_state=0)
    pipe = make_pipeline(STFT(n_fft=256, sample_rate=8000), VPNNSeparator(**TINY), InverseSTFT())
    search = GridSearchCV(
        pipe,
        {"vpnnseparator__mapping": ["window", "color"]},
        scoring=sdr_scorer("drums", method="global"),
        cv=2,
        refit=True,
    )
    with joblib.parallel_config(backend="dask"):
        search.fit(data.X, data.y)

    # the work really ran on the workers (each worker process imported our package)
    where = client.run(lambda: "sklearn_vpnn.separator" in __import__("sys").modules)
    assert len(where) == 2 and any(where.values())

    res = search.cv_results_
    assert list(res["param_vpnnseparator__mapping"]) == ["window", "color"]
    for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
        assert np.all(np.isfinite(res[key])), key
    assert search.best_params_["vpnnseparator__mapping"] in ("window", "color")
    best = int(np.argmax(res["mean_test_score"]))
    assert search.best_params_ == res["params"][best]
    assert search.best_score_ == pytest.approx(res["mean_test_score"][best])
    assert sorted(res["rank_test_score"]) == [1, 2]
    # the refitted best model separates in the client process
    est = search.best_estimator_.transform(data.X[:1])
    assert est.shape == (1, 2, 1, data.X.shape[-1])


def test_per_fit_temporary_folders_are_private_and_removed(monkeypatch, tmp_path):
    """Every fit (every clone on every worker) checkpoints in its own fresh folder."""
    import tempfile

    import sklearn_vpnn.separator._estimators as sep_mod

    made = []
    real = tempfile.mkdtemp

    def spy(*args, **kwargs):
        path = real(*args, dir=tmp_path, **{k: v for k, v in kwargs.items() if k != "dir"})
        made.append(path)
        return path

    monkeypatch.setattr(sep_mod.tempfile, "mkdtemp", spy)
    data = make_drum_mixtures(n_tracks=2, duration=0.5, sample_rate=8000, random_state=0)
    spec = STFT(n_fft=256).fit_transform(data.X)
    VPNNSeparator(**TINY).fit(spec, data.y)
    VPNNSeparator(**TINY).fit(spec, data.y)
    assert len(made) == 2 and made[0] != made[1]
    assert not any(os.path.exists(p) for p in made)  # removed after fit
