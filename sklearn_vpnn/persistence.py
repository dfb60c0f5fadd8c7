"""Model files that cannot run code: safetensors weights and a JSON description.

A model file (``*.safetensors``, written by :func:`save_model`) is one safetensors
file. Its tensors are the weights and normalisation statistics of the separator's
network; its metadata holds a JSON description of the whole pipeline: the class and
every ``get_params()`` of each step, the fitted attributes, the format version, the
package version, free-form notes (training data, licence) and a SHA-256 checksum of
the description and every tensor. :func:`load_model` rebuilds the pipeline from
that description, only from a fixed list of our own classes, and never unpickles:
loading such a file cannot run code. Files that are truncated, tampered with or not
ours get a :class:`ModelFileError` that says so.

``joblib``/pickle files stay supported for Python users (``joblib.load``), but a
pickle runs whatever code it carries while it loads: load only files you trust.
The command line loads them only with ``--allow-pickle``.

Why safetensors: it is the format the model hubs settled on for exactly this reason
(a header of JSON plus raw little-endian tensors, no code), it is small, and it reads
lazily. skops (``skops.io``) was considered: it also refuses unknown types, but it
walks arbitrary object graphs (skorch nets, optimisers) behind a list of trusted
types, which would either make users trust skorch/torch internals or store far more
than the weights; a description of our own few classes is smaller and stricter.
"""

import hashlib
import json
import math
import os
import uuid
from pathlib import Path

import numpy as np

__all__ = ["ModelFileError", "save_model", "load_model", "read_model_info", "FORMAT", "FORMAT_VERSION"]

#: Value of the ``format`` field of every model file.
FORMAT = "sklearn-vpnn-model"
#: Version of the description layout; files of a newer version are refused.
FORMAT_VERSION = 1
_META_KEY = "sklearn_vpnn"


class ModelFileError(ValueError):
    """A model file that cannot be loaded: missing, truncated, modified or not ours."""


def _step_classes():
    from .separator import DNNSeparator, VPNNSeparator
    from .spectral import STFT, InverseSTFT

    return {c.__name__: c for c in (STFT, InverseSTFT, VPNNSeparator, DNNSeparator)}


# ----------------------------------------------------------------------------- JSON
def _encode(value, where):
    """JSON-ready copy of ``value``; tuples are tagged so they come back as tuples."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else {"__float__": repr(v)}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, where) for v in value]}
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _encode(v, where) for k, v in value.items()}
    raise ModelFileError(
        f"cannot save {where}: a {type(value).__name__} ({value!r:.60}) has no place in a model "
        "file (numbers, strings, None, lists, tuples and dicts only); set it to a plain value first"
    )


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_decode(v) for v in value["__tuple__"])
        if set(value) == {"__float__"}:
            return float(value["__float__"])
        return {k: _decode(v) for k, v in value.items()}
    return value


def _canonical(description):
    return json.dumps(description, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _checksum(description, tensors):
    h = hashlib.sha256()
    body = {k: v for k, v in description.items() if k != "checksum"}
    h.update(_canonical(body).encode())
    for name in sorted(tensors):
        arr = np.array(tensors[name], order="C")
        h.update(f"{name}:{arr.dtype.str}:{arr.shape}".encode())
        h.update(arr.tobytes())
    return "sha256:" + h.hexdigest()


# ----------------------------------------------------------------------------- save
def _split_pipeline(pipeline, what="pipeline", fitted=True):
    """``(stft, separator, istft)`` of a fitted STFT -> separator -> InverseSTFT pipeline."""
    from sklearn.exceptions import NotFittedError
    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import check_is_fitted

    classes = _step_classes()
    if not isinstance(pipeline, Pipeline):
        raise TypeError(f"{what} must be a fitted sklearn Pipeline STFT -> separator -> InverseSTFT; "
                        f"got {type(pipeline).__name__}")
    steps = [s for _, s in pipeline.steps]
    kinds = [type(s).__name__ for s in steps]
    if (len(steps) != 3 or kinds[0] != "STFT" or kinds[2] != "InverseSTFT"
            or kinds[1] not in ("VPNNSeparator", "DNNSeparator")
            or any(type(s) is not classes[k] for s, k in zip(steps, kinds))):
        raise TypeError(f"{what} must be STFT -> VPNNSeparator or DNNSeparator -> InverseSTFT; "
                        f"got {' -> '.join(kinds)}")
    if fitted:
        try:
            check_is_fitted(steps[1], "net_")
        except NotFittedError as exc:
            raise NotFittedError(f"{what} is not fitted: fit it before saving ({exc})") from None
    return steps


def _fitted_attributes(step):
    return {k: v for k, v in vars(step).items()
            if k.endswith("_") and not k.startswith("_") and k != "net_"}


def save_model(pipeline, path, *, overwrite=False, half=False, notes=None):
    """Save a fitted pipeline as a model file that cannot run code when loaded.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Fitted ``STFT -> VPNNSeparator or DNNSeparator -> InverseSTFT``.
    path : str or path-like
        File to write (``.safetensors`` is the usual suffix). It is written to a
        temporary file beside it first and renamed when complete, so a failed save
        never leaves half a file.
    overwrite : bool, default=False
        Replace ``path`` if it exists (otherwise a ``FileExistsError``).
    half : bool, default=False
        Store the network's weights in float16 (half the size; they are float32
        again once loaded). The normalisation statistics stay float32.
    notes : dict of str, optional
        Free-form description kept in the file and shown by
        ``sklearn-vpnn models``, e.g. ``{"training_data": ..., "licence": ...}``.

    Returns
    -------
    pathlib.Path
        The file written.

    See Also
    --------
    load_model : The inverse.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_vpnn import (STFT, InverseSTFT, VPNNSeparator, load_model,
    ...                           make_drum_mixtures, save_model)
    >>> data = make_drum_mixtures(n_tracks=2, duration=1.0, random_state=0)
    >>> pipe = make_pipeline(STFT(n_fft=256), VPNNSeparator(hidden_units=8, max_epochs=1,
    ...                      random_state=0), InverseSTFT()).fit(data.X, data.y)
    >>> path = save_model(pipe, pathlib.Path(tempfile.mkdtemp()) / "drums.safetensors")
    >>> bool((load_model(path).transform(data.X) == pipe.transform(data.X)).all())
    True
    """
    from safetensors.numpy import save_file

    from . import __version__

    steps = _split_pipeline(pipeline)
    path = Path(os.fspath(path)).expanduser()
    if path.is_dir():
        raise IsADirectoryError(21, "model path is a directory", str(path))
    if path.exists() and not overwrite:
        raise FileExistsError(17, "model file exists (pass overwrite=True to replace it)", str(path))
    if notes is not None and not (isinstance(notes, dict) and all(isinstance(k, str) for k in notes)):
        raise TypeError(f"notes must be a dict with str keys; got {type(notes).__name__}")
    module = steps[1].net_.module_
    tensors = {}
    for name, t in module.state_dict().items():
        arr = t.detach().cpu().numpy()
        if half and name in dict(module.named_parameters()):
            arr = arr.astype(np.float16)
        tensors[name] = np.array(arr, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
    description = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sklearn_vpnn_version": __version__,
        "steps": [
            {"name": name, "class": type(step).__name__,
             "params": _encode(step.get_params(deep=False), f"the parameters of step {name!r}"),
             "fitted": _encode(_fitted_attributes(step), f"the fitted attributes of step {name!r}")}
            for name, step in pipeline.steps
        ],
        "module": _encode(steps[1]._module_kwargs(), "the network's arguments"),
        "notes": _encode(dict(notes or {}), "notes"),
    }
    description["checksum"] = _checksum(description, tensors)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        save_file(tensors, str(tmp), metadata={_META_KEY: _canonical(description)})
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# ----------------------------------------------------------------------------- load
def _read(path):
    """``(description, tensors)`` of a model file, checked; never unpickles."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(os.fspath(path)).expanduser()
    if not path.exists():
        raise FileNotFoundError(2, "model file not found", str(path))
    if path.is_dir():
        raise IsADirectoryError(21, "model path is a directory", str(path))
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(
            f"{path} is not a sklearn-vpnn model file, or it is truncated or damaged "
            f"(safetensors: {str(exc).strip() or type(exc).__name__})"
        ) from None
    if _META_KEY not in meta:
        raise ModelFileError(f"{path} is a safetensors file but not a sklearn-vpnn model "
                             "(no description in its metadata)")
    try:
        description = json.loads(meta[_META_KEY])
    except ValueError as exc:
        raise ModelFileError(f"{path}: the model description is not valid JSON ({exc})") from None
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a sklearn-vpnn model file (format field missing or wrong)")
    version = description.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ModelFileError(f"{path} has model format version {version!r}; this sklearn-vpnn reads "
                             f"version {FORMAT_VERSION} (upgrade sklearn-vpnn to read newer files)")
    if description.get("checksum") != _checksum(description, tensors):
        raise ModelFileError(f"{path}: checksum mismatch: the file was modified or damaged after it "
                             "was saved; refusing to load it")
    return description, tensors


def read_model_info(path):
    """The JSON description of a model file (checked like :func:`load_model` does).

    Parameters
    ----------
    path : str or path-like
        A model file written by :func:`save_model`.

    Returns
    -------
    dict
        ``format``, ``format_version``, ``sklearn_vpnn_version``, ``steps`` (class,
        params and fitted attributes of each step), ``module``, ``notes`` and
        ``checksum``.
    """
    return _decode(_read(path)[0])


def _older_than(version, release):
    """Whether a file's ``sklearn_vpnn_version`` (``"0.1.0"``) predates ``release`` (``(0, 2)``)."""
    try:
        return tuple(int(part) for part in str(version).split(".")[:len(release)]) < release
    except ValueError:  # a development version string: as new as this release
        return False


def load_model(path, *, device="cpu"):
    """Load a model file written by :func:`save_model`; never runs code from the file.

    Only our own pipeline steps (``STFT``, ``VPNNSeparator``, ``DNNSeparator``,
    ``InverseSTFT``) are rebuilt, from their parameters; the weights are plain
    tensors. A truncated, modified or foreign file raises :class:`ModelFileError`;
    so does a file whose weights are not finite.

    Joblib/pickle files are *not* read here: ``joblib.load`` reads them, and runs
    whatever code they carry, so use it only on files you trust.

    Parameters
    ----------
    path : str or path-like
        The model file.
    device : str, default="cpu"
        Where the network runs: "cpu", "cuda", "cuda:N" or "auto".

    Returns
    -------
    sklearn.pipeline.Pipeline
        The fitted ``STFT -> separator -> InverseSTFT`` pipeline, ready for
        ``transform``, scoring, or further ``fit`` calls.

    See Also
    --------
    save_model : The inverse.
    """
    from sklearn.pipeline import Pipeline

    from .separator._checks import _upgrade_params
    from .spectral._stft import as_in_0_1

    description, tensors = _read(path)
    description = _decode(description)
    classes = _step_classes()
    legacy = _older_than(description.get("sklearn_vpnn_version"), (0, 2))
    steps = []
    for spec in description["steps"]:
        cls = classes.get(spec.get("class"))
        if cls is None:
            raise ModelFileError(f"{path}: unknown step class {spec.get('class')!r}; a model file "
                                 f"holds only {sorted(classes)}")
        known = cls().get_params(deep=False)  # parameters newer than the file: their old behaviour
        params = {k: v for k, v in _upgrade_params(spec["params"]).items()
                  if k in known or k in spec["params"]}
        unknown = set(params) - set(known)
        if unknown:
            raise ModelFileError(f"{path}: step {spec['name']!r} has unknown parameters {sorted(unknown)} "
                                 "(a file from another sklearn-vpnn version?)")
        if legacy and spec.get("class") in ("STFT", "InverseSTFT"):  # 0.1: hop_length=None meant n_fft // 2
            params = as_in_0_1(params)
        step = cls(**params)
        for k, v in spec["fitted"].items():
            setattr(step, k, v)
        steps.append((spec["name"], step))
    pipe = Pipeline(steps)
    try:
        separator = _split_pipeline(pipe, fitted=False)[1]
    except TypeError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    for name, arr in tensors.items():
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise ModelFileError(f"{path}: the weights {name!r} hold NaN or infinite values "
                                 "(the model diverged while training); refusing to load it")
    separator._restore_net(description["module"], tensors, device=device)
    return pipe
