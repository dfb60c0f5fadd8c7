"""Datasets: MUSDB18, DSD100 (and any folder like it) and seeded synthetic drum mixtures.

Every loader returns the same :class:`~sklearn.utils.Bunch`:

``X``
    mixtures, ``(n_tracks, n_channels, n_samples)`` float32 (a list of
    ``(n_channels, n_samples)`` arrays when the tracks differ in length);
``y``
    sources, ``(n_tracks, n_sources, n_channels, n_samples)`` float32 (or a list of
    ``(n_sources, n_channels, n_samples)`` arrays): the requested targets in order,
    then ``"accompaniment"``, the sum of every other stem;
``sources``, ``track_names``, ``sample_rate``, ``DESCR``.

Note that musdb's own ``accompaniment`` target (bass + drums + other) still contains
the drums; here "accompaniment" always means *everything but the targets*.

Modules: ``_base`` (what the loaders share), ``_musdb``, ``_dsd100``, ``_synthetic``
(with its instruments in ``_synth_instruments``), ``_sampled`` (real sampled kits, read
by ``_kits``, over real accompaniment) and ``_lazy`` (:class:`LazyTracks`).
:class:`~sklearn_vpnn.spectral.LazySpectrogram` lives in :mod:`sklearn_vpnn.spectral`;
``sklearn_vpnn.datasets.LazySpectrogram`` still finds it, importing spectral only when
asked (nothing here imports spectral at import time, so spectral can import ``_lazy``).
"""

from ._base import STEMS
from ._dsd100 import load_dsd100
from ._lazy import LazyTracks
from ._musdb import load_musdb
from ._sampled import make_sampled_drum_mixtures
from ._synthetic import make_drum_mixtures

__all__ = ["load_musdb", "load_dsd100", "make_drum_mixtures", "make_sampled_drum_mixtures", "LazyTracks", "LazySpectrogram"]


def __getattr__(name):
    # LazySpectrogram moved to sklearn_vpnn.spectral; imported on first use only, so
    # that importing this package never imports spectral (which imports ._lazy).
    if name == "LazySpectrogram":
        from ..spectral import LazySpectrogram

        return LazySpectrogram
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
