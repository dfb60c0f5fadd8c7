"""sklearn-vpnn: source separation with vector product neural networks.

Separate the drums (or any source) from a music mixture with the vector product
neural networks (VPNN) of Fan, Chan, Yang & Jang (2017), exposed as scikit-learn
estimators that chain in an ordinary :class:`~sklearn.pipeline.Pipeline`::

    from sklearn.pipeline import make_pipeline
    from sklearn_vpnn import STFT, VPNNSeparator, InverseSTFT

    pipe = make_pipeline(STFT(), VPNNSeparator(random_state=0), InverseSTFT())

Public names are imported lazily, so ``import sklearn_vpnn`` is cheap and does not
load PyTorch until a model is needed.
"""

from importlib import import_module

__version__ = "0.2.0"

# public name -> submodule that defines it
_PUBLIC = {
    "load_audio": "io",
    "save_audio": "io",
    "load_musdb": "datasets",
    "load_dsd100": "datasets",
    "make_drum_mixtures": "datasets",
    "make_sampled_drum_mixtures": "datasets",
    "STFT": "spectral",
    "InverseSTFT": "spectral",
    "Spectrogram": "spectral",
    "VPNNSeparator": "separator",
    "DNNSeparator": "separator",
    "sdr": "metrics",
    "sdr_scorer": "metrics",
    "plot_separation": "plotting",
    "save_model": "persistence",
    "load_model": "persistence",
    "load_pretrained": "pretrained",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name):
    try:
        module = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module 'sklearn_vpnn' has no attribute {name!r}") from None
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # cache: later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
