"""Source separators as scikit-learn estimators, trained by skorch.

:class:`VPNNSeparator` and :class:`DNNSeparator` sit between :class:`~sklearn_vpnn.STFT`
and :class:`~sklearn_vpnn.InverseSTFT` in a pipeline. ``fit(X, y)`` takes the
mixture :class:`~sklearn_vpnn.Spectrogram` and the source *waveforms*; the training
targets are derived with the very STFT that made ``X``. ``transform(X)`` returns the
separated spectrogram ``(n_tracks, n_sources, n_channels, n_bins, n_frames)``.

This is the one package where skorch meets the pure PyTorch models of
:mod:`sklearn_vpnn.nn`:

* ``_estimators``: the estimators (``_docs``: their shared docstring pieces);
* ``_frames``: the training frames (:class:`FrameDataset`), pure PyTorch + NumPy;
* ``_net``: the skorch net that trains :class:`~sklearn_vpnn.nn.MaskNet`;
* ``_callbacks``: the skorch callbacks (time budget, weight averaging, best epoch).

Only ``_net`` and ``_callbacks`` import skorch. :class:`SeparatorNet`,
:class:`TimeBudget`, :class:`WeightAveraging`, :class:`BestCheckpoint` and
:class:`~sklearn_vpnn.nn.MaskNet` are importable from here too, as before, so model
files pickled when this package was one module still load.
"""

from ..nn import MaskNet
from ._callbacks import BestCheckpoint, TimeBudget, WeightAveraging
from ._estimators import DNNSeparator, VPNNSeparator
from ._frames import FrameDataset
from ._frames import _collate  # noqa: F401  (joblib files saved before the split name it here)
from ._net import SeparatorNet, mask_loss  # noqa: F401  (mask_loss: the loss as training scores it, for benchmarks)

__all__ = ["VPNNSeparator", "DNNSeparator", "FrameDataset"]
