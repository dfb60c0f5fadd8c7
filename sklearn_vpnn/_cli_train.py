"""Helpers of ``sklearn-vpnn train`` and ``demo``: the separator from the options,
Ctrl-C during training, and model files written safely."""

import os
import signal
import uuid
from pathlib import Path

import numpy as np

from .separate import CLIError


def _check_new_file(path, force, what="output file"):
    """``path`` as a Path, if a new file may be written there (CLIError otherwise)."""
    path = Path(path)
    if path.is_dir():
        raise CLIError(f"{what} {path} is a directory")
    if path.exists() and not force:
        raise CLIError(f"{what} {path} exists; use --force to overwrite it")
    parent = path.parent
    if not parent.is_dir():
        raise CLIError(f"directory {parent} of {what} {path} does not exist")
    if not os.access(parent, os.W_OK):
        raise CLIError(f"directory {parent} of {what} {path} is not writable")
    return path


def _dump(obj, path):
    """joblib-dump ``obj`` to ``path`` atomically (a temporary file, then a rename)."""
    import joblib

    path = Path(path)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:10]}.part"
    try:
        joblib.dump(obj, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class _InterruptFlag:
    """Remember whether Ctrl-C was pressed while still raising KeyboardInterrupt."""

    def __init__(self):
        self.hit = False

    def __enter__(self):
        self.old = None
        try:
            self.old = signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not in the main thread
            pass
        return self

    def _handler(self, signum, frame):
        self.hit = True
        raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)
        return False


def _make_separator(args, sources, max_time, max_epochs, verbose=1, **extra):
    """The VPNNSeparator or DNNSeparator the model options of ``train``/``demo`` ask for."""
    from .separator import DNNSeparator, VPNNSeparator

    common = dict(hidden_units=args.hidden_units, sources=tuple(sources), max_epochs=max_epochs,
                  max_time=max_time, random_state=args.seed, verbose=verbose, device=args.device,
                  **extra)
    if getattr(args, "model_kind", "vpnn") == "dnn":
        if args.mapping is not None:
            raise CLIError("--mapping applies to --model vpnn only")
        return DNNSeparator(**common)
    return VPNNSeparator(mapping=args.mapping or "window", **common)


def _fit(pipe, X, y):
    """Fit; return whether Ctrl-C stopped training (the model trained so far is kept).

    skorch ends ``fit`` early on KeyboardInterrupt and still runs the end-of-training
    callbacks, so the fitted model is then the moving average of the weights (the
    separators' default) or, with averaging off, the best epoch (the separator's
    checkpoint skips the restore when no epoch finished). A Ctrl-C outside the
    training loop (while the STFT or the frame cache is being computed) propagates
    as KeyboardInterrupt.
    """
    with _InterruptFlag() as flag:
        pipe.fit(X, y)
    return flag.hit


def _best_epoch(sep):
    """What training kept, for the "Saved ..." line."""
    hist = getattr(sep, "history_", [])
    key = "valid_loss" if hist and "valid_loss" in hist[0] else "train_loss"
    vals = [(h.get(key, np.inf), h.get("epoch")) for h in hist if h.get(key) is not None]
    if not vals:
        return ""
    if getattr(sep, "average", None):
        return f", final {key} {vals[-1][0]:.4f}; kept: the moving average of the weights"
    v, e = min(vals)
    return f", best epoch {e} with {key} {v:.4f}"
