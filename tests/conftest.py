"""Shared pytest fixtures (keep these small and generic)."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

MUSDB_SKIP_REASON = "MUSDB_PATH not set; CI points it at ../shared/data/musdb18-7"


@pytest.fixture
def rng():
    """A seeded NumPy random generator, fresh for each test."""
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def musdb_root():
    """Path of the real MUSDB18 sample (``$MUSDB_PATH``); skips the test, saying why, if absent."""
    root = os.environ.get("MUSDB_PATH")
    if not root:
        pytest.skip(MUSDB_SKIP_REASON)
    root = Path(root).expanduser()
    if not (root / "train").is_dir():
        pytest.skip(f"MUSDB_PATH={root} has no train/ folder; {MUSDB_SKIP_REASON}")
    return root


@pytest.fixture
def no_pickle(monkeypatch):
    """Any unpickling (pickle, joblib, torch.load) fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("a model file was unpickled")

    class RefusingUnpickler(pickle.Unpickler):  # still subclassable, never usable
        def __init__(self, *args, **kwargs):
            refuse()

    import joblib
    import torch

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", RefusingUnpickler)
    monkeypatch.setattr(joblib, "load", refuse)
    monkeypatch.setattr(torch, "load", refuse)
