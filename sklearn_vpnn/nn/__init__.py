"""Pure PyTorch building blocks of vector product neural networks (no scikit-learn estimators).

Layers (:class:`VectorProductLinear`, :class:`TimeFrequencyMask`), real <-> 3-D
mappings (context window, spectral colouring), the :class:`VPNN`, :class:`BandVPNN`
and :class:`DNN` models, :class:`MaskNet` (input normalisation + either model, what the separators
train), :class:`FrameMasker` (the masks of every frame of a spectrogram sequence,
what separating runs) and the :class:`DiscriminativeMSELoss`.

Models take ``(batch, 3, n_bins)`` normalised features of the (prev, cur, next) frames
and return masks ``(batch, n_sources, n_bins)`` that sum to one over sources; see
:mod:`sklearn_vpnn.nn.models`.
"""

from ._band import BandVPNN
from ._inference import FrameMasker
from .layers import TimeFrequencyMask, VectorProductLinear, vector_product_linear
from .losses import DiscriminativeMSELoss
from .mappings import (
    COLOR_BREAKPOINT,
    ContextWindow,
    InverseSpectralColor,
    MiddleComponent,
    SpectralColor,
    check_strides,
    context_indices,
    context_window,
)
from .models import ACTIVATIONS, DNN, MAPPINGS, VPNN, MaskNet

__all__ = [
    "ACTIVATIONS",
    "BandVPNN",
    "COLOR_BREAKPOINT",
    "ContextWindow",
    "DNN",
    "DiscriminativeMSELoss",
    "FrameMasker",
    "InverseSpectralColor",
    "MAPPINGS",
    "MaskNet",
    "MiddleComponent",
    "SpectralColor",
    "TimeFrequencyMask",
    "VPNN",
    "VectorProductLinear",
    "check_strides",
    "context_indices",
    "context_window",
    "vector_product_linear",
]
