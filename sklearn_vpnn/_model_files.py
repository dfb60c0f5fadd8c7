"""Model files for the command line: :class:`Model`, :func:`open_model`, :class:`CLIError`.

Re-exported by :mod:`sklearn_vpnn.separate` (their public home). A model file is
either the safe format of :mod:`sklearn_vpnn.persistence` (``*.safetensors``:
weights plus a checksummed JSON description; loading it runs no code), which is
what ``sklearn-vpnn train`` writes, or a :mod:`joblib`/pickle dump of a fitted
pipeline. A pickle runs whatever code it carries while it loads, so
:func:`open_model` reads one only with ``allow_pickle=True`` (``--allow-pickle``).
The kind of file is told from its first bytes, never from its name.
"""

import os
import warnings
from pathlib import Path

__all__ = ["CLIError", "Model", "open_model"]

DEFAULT_SAMPLE_RATE = 44100  # assumed for model files that do not record their rate

# first bytes of pickle (protocol 2+), joblib's compressed dumps and torch's zip files
_PICKLE_MAGIC = (b"\x80", b"\x78", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x5d\x00\x00",
                 b"\x04\x22\x4d\x18", b"PK\x03\x04", b"ZF")


class CLIError(Exception):
    """A failure explained in one line (no traceback unless ``--debug``).

    Raised by :func:`open_model` for unusable model files, and by the
    ``sklearn-vpnn`` commands; :func:`sklearn_vpnn.cli.main` prints its message as
    one ``sklearn-vpnn: error: ...`` line.
    """


class Model:
    """A loaded model file: the pipeline and what separating with it needs to know.

    Parameters
    ----------
    pipeline : Pipeline
        The fitted ``STFT -> separator -> InverseSTFT`` pipeline.
    separator : estimator
        Its fitted separator step (with ``sources_``).
    stft : STFT or None
        Its STFT step.
    sample_rate : int
        The rate (Hz) the model works at.
    path : Path
        The file it was loaded from.

    Attributes
    ----------
    sources : tuple of str
        The separator's ``sources_``.
    """

    def __init__(self, pipeline, separator, stft, sample_rate, path):
        self.pipeline = pipeline
        self.separator = separator
        self.stft = stft
        self.sources = tuple(separator.sources_)
        self.sample_rate = sample_rate
        self.path = path


def _a(word):
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def _kind(path):
    """``"safetensors"``, ``"pickle"`` or ``"unknown"``, from the file's first bytes."""
    with open(path, "rb") as f:
        head = f.read(9)
    size = path.stat().st_size
    if len(head) == 9 and head[8:9] == b"{" and 0 < int.from_bytes(head[:8], "little") <= size - 8:
        return "safetensors"
    return "pickle" if head.startswith(_PICKLE_MAGIC) else "unknown"


def _bundled_path():
    from . import pretrained

    try:
        return pretrained.pretrained_path("drums")
    except ValueError:
        raise CLIError("no model is bundled with this installation (sklearn_vpnn/pretrained/"
                       "drums.safetensors is missing); pass --model PATH, e.g. a model made "
                       "by `sklearn-vpnn train`") from None


def open_model(path=None, allow_pickle=False, device=None):
    """Open a model file for separating: the safe format, or a trusted pickle.

    Parameters
    ----------
    path : str, path-like or None, default=None
        A model file written by :func:`sklearn_vpnn.save_model` or ``sklearn-vpnn
        train`` (safetensors weights + JSON; loading it never runs code), or, with
        ``allow_pickle=True``, a :mod:`joblib`/pickle dump of a fitted
        ``STFT -> separator -> InverseSTFT`` pipeline. None opens the model bundled
        with the package (:func:`sklearn_vpnn.pretrained.pretrained_path`).
    allow_pickle : bool, default=False
        Whether a joblib/pickle file may be loaded. **Loading a pickle runs any
        code it carries**: allow it only for files you made or trust. Without it
        such a file is refused before a byte of it is unpickled.
    device : {"cpu", "cuda", "cuda:N", "auto"} or None, default=None
        Where the network runs (None: the CPU for safe files; a pickle's network
        stays where it was saved).

    Returns
    -------
    Model
        With ``pipeline``, ``separator``, ``stft``, ``sources``, ``sample_rate``.

    Raises
    ------
    CLIError
        A missing file, a pickle without ``allow_pickle``, a damaged or foreign
        file, an unfitted pipeline, weights that are not finite, an STFT step that
        differs from the one the separator was fitted with, or a device that is
        unknown or not available.

    Examples
    --------
    >>> from sklearn_vpnn.separate import open_model
    >>> model = open_model("drums.safetensors")  # doctest: +SKIP
    >>> model.sources, model.sample_rate  # doctest: +SKIP
    (('drums', 'accompaniment'), 44100)
    """
    path = _bundled_path() if path is None else Path(os.fspath(path)).expanduser()
    if not path.exists():
        raise CLIError(f"model file not found: {path}")
    if path.is_dir():
        raise CLIError(f"model file {path} is a directory")
    kind = _kind(path)
    if kind == "safetensors":
        from .persistence import load_model

        try:
            obj = load_model(path, device=device or "cpu")
        except ValueError as exc:  # ModelFileError, or a device that is not there
            raise CLIError(str(exc)) from None
        device = None
    elif not allow_pickle:
        what = ("is a joblib/pickle file" if kind == "pickle" else
                "is neither a sklearn-vpnn model file (safetensors) nor a recognisable joblib/pickle file")
        raise CLIError(f"model file {path} {what}; loading a pickle can run any code it carries, so "
                       "it is refused: pass --allow-pickle (allow_pickle=True) only if you trust the "
                       "file, or re-save it once with sklearn_vpnn.save_model")
    else:
        obj = _load_pickle(path)
    separator, stft = _check_pipeline(obj, path)
    sample_rate = getattr(stft, "sample_rate", None)
    if sample_rate is None:
        warnings.warn(
            f"model file {path} does not record its sample rate (STFT sample_rate=None); "
            f"assuming {DEFAULT_SAMPLE_RATE} Hz",
            UserWarning,
            stacklevel=2,
        )
        sample_rate = DEFAULT_SAMPLE_RATE
    if device is not None:
        try:
            _move_to_device(separator, device)
        except ValueError as exc:
            raise CLIError(str(exc)) from exc
    return Model(obj, separator, stft, int(sample_rate), path)


def _load_pickle(path):
    """``joblib.load`` of a file the user trusts; its network must hold finite weights."""
    import joblib

    try:
        obj = joblib.load(path)
    except Exception as exc:  # pickle/joblib raise many types for garbage files
        raise CLIError(
            f"cannot load model file {path}: not a joblib model file "
            f"({type(exc).__name__}: {str(exc).strip() or 'unreadable'})"
        ) from exc
    module = getattr(getattr(_separator_of(obj), "net_", None), "module_", None)
    if module is not None:
        import torch

        for name, t in module.state_dict().items():
            if torch.is_floating_point(t) and not bool(torch.isfinite(t).all()):
                raise CLIError(f"model file {path}: the weights {name!r} hold NaN or infinite values "
                               "(the model diverged while training); refusing to load it")
    return obj


def _separator_of(obj):
    steps = getattr(obj, "steps", None) or []
    return next((s for _, s in steps if hasattr(s, "sources_")), None)


def _check_pipeline(obj, path):
    """``(separator, stft)`` of a fitted separation pipeline (CLIError otherwise)."""
    steps = getattr(obj, "steps", None)
    if steps is None or not hasattr(obj, "transform"):
        raise CLIError(
            f"model file {path} holds {_a(type(obj).__name__)}, not a separation pipeline "
            "(STFT -> separator -> InverseSTFT); make one with `sklearn-vpnn train`"
        )
    objs = [s for _, s in steps]
    separator = _separator_of(obj)
    from sklearn.exceptions import NotFittedError

    if separator is None:
        if any(hasattr(s, "sources") and hasattr(s, "fit") for s in objs):
            err = NotFittedError(f"the pipeline in model file {path} is not fitted; fit it before saving")
            raise CLIError(f"{err} (sklearn NotFittedError)") from err
        raise CLIError(
            f"model file {path} holds a pipeline without a separator step "
            f"(steps: {', '.join(type(s).__name__ for s in objs)})"
        )
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(separator)
    except NotFittedError as exc:
        raise CLIError(f"the separator in model file {path} is not fitted: {exc}") from exc
    stft = next((s for s in objs if hasattr(s, "n_fft") and hasattr(s, "sample_rate")), None)
    fitted = getattr(separator, "stft_params_", None)
    if stft is not None and fitted and hasattr(stft, "_params"):
        from .separator._checks import _stft_mismatch

        try:
            mismatch = _stft_mismatch(fitted, stft._params())
        except ValueError as exc:
            raise CLIError(f"model file {path}: its STFT step is invalid: {exc}") from None
        if mismatch:
            raise CLIError(f"model file {path}: its STFT step differs from the one its separator was "
                           f"fitted with: {mismatch}; the model would hear other features")
    return separator, stft


def _move_to_device(separator, device):
    """Run a fitted separator's network on ``device`` ("cpu", "cuda", "cuda:N", "auto").

    The device is resolved and checked by the separator's own rule (the one ``fit``
    uses; ValueError for an unknown device or CUDA that is not there); the
    separator's ``device`` parameter, its skorch net and the module follow.
    """
    from .separator._checks import _resolve_device

    if "device" not in separator.get_params(deep=False):
        return  # not a separator of this package: nothing to move
    resolved = _resolve_device(device)
    separator.set_params(device=device)
    net = getattr(separator, "net_", None)
    if net is not None:
        net.device = resolved
        net.module_.to(resolved)  # transform uses the device of the module's parameters
