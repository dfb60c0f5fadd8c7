"""Separation quality: SDR (museval BSS Eval v4), fast equivalents, and scorers.

:func:`sdr` scores separated waveforms against the true sources with the SiSEC
convention: BSS Eval v4 "images" metrics (:func:`museval.metrics.bss_eval`,
time-invariant 512-tap distortion filters, no permutation search) on 1 s
windows, median over windows. :func:`sdr_scorer` wraps it as a model-selection
scorer for :class:`~sklearn.model_selection.GridSearchCV`; by default it computes
that SDR with ``method="framewise"`` (below): the same numbers, about 200 times
faster, and a search needs neither museval nor musdb (whose import needs ffmpeg).

**A fact worth knowing** (checked in ``tests/test_metrics.py``): in BSS Eval v4
*images* mode (the SiSEC mode, ``bsseval_sources_version=False``) the distortion
filters only split the error into spatial / interference / artifact parts: the
SDR numerator is the plain windowed reference ``s`` and the three error terms
sum to exactly ``ŝ - s``. So museval's SDR of a window *is* ``10 log10(||s||² /
||s - ŝ||²)`` over that window, and ``method="framewise"`` reproduces museval's
SDR to round-off (below 1e-9 dB) at under 1% of the cost, without importing
museval. The filters matter for ISR, SIR and SAR, which only
``method="bss_eval_v4"`` computes.

**Silence policy** (one rule for every method): museval refuses a track in which
any source's reference or estimate is all-zero (``ValueError``) and gives NaN
for every source in a window where any source's reference or estimate is silent.
Here:

* a window in which any source's reference or estimate is silent (museval's
  test: the sum over channels is zero at every sample) is skipped for all
  sources of that track: NaN, ignored by the median/mean over windows;
* if every window of a track is skipped (for instance a whole source is
  silent, where museval would raise), :func:`sdr` returns NaN for that track;
* :func:`sdr_scorer` never returns NaN or inf to a model search: a track whose
  *references* leave no window to score (e.g. no drums at all) is left out of
  the average; a track that could be scored but whose *estimates* are silent
  scores the floor (-100 dB by default); every track score is clipped to
  ``[floor, 300]`` dB; and if no track can be scored at all the scorer returns
  the floor.
"""

from ._scorers import SDRScorer, sdr_scorer
from ._sdr import sdr

__all__ = ["sdr", "sdr_scorer", "SDRScorer"]
