"""Shared pytest fixtures (keep these small and generic)."""

import os
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
