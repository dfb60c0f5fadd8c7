"""What every loader shares: the stem names, argument checks and the Bunch they build.

Every loader returns a :class:`~sklearn.utils.Bunch` with ``X``, ``y``, ``sources``,
``track_names``, ``sample_rate`` and ``DESCR`` (see :mod:`sklearn_vpnn.datasets`);
:func:`_make_track` turns one track's stems into its ``(x, y)`` pair and
:func:`_stack_or_list` the tracks into ``X`` and ``y``.
"""

import numpy as np

from .._validation import check_choice, check_seconds
from ..io import _resample

#: the four stems of MUSDB18 / DSD100
STEMS = ("drums", "bass", "other", "vocals")
_ACCOMPANIMENT = "accompaniment"


def _stack_or_list(arrays):
    """Stack equally shaped arrays into one float32 ndarray, else return a list."""
    arrays = [np.asarray(a, dtype=np.float32) for a in arrays]
    if arrays and all(a.shape == arrays[0].shape for a in arrays):
        return np.stack(arrays)
    return arrays


def _check_targets(targets):
    """Validate ``targets``; return ``(targets, sources, rest)`` tuples of names."""
    if isinstance(targets, str):
        targets = (targets,)
    try:
        targets = tuple(targets)
    except TypeError:
        raise ValueError(f"targets must be a stem name or a sequence of them, got {targets!r}.") from None
    if not targets:
        raise ValueError(f"targets must name at least one of {STEMS}.")
    for name in targets:
        if name not in STEMS:
            hint = ""
            if name == _ACCOMPANIMENT:
                hint = " ('accompaniment' is added automatically as the sum of the other stems)"
            raise ValueError(f"Unknown target {name!r}; choose from {STEMS}{hint}.")
    if len(set(targets)) != len(targets):
        raise ValueError(f"targets must not repeat a stem, got {targets}.")
    rest = tuple(s for s in STEMS if s not in targets)
    sources = targets + ((_ACCOMPANIMENT,) if rest else ())
    return targets, sources, rest


def _check_crop(duration, offset):
    """Validated ``(duration, offset)`` in seconds: duration > 0 or None, offset >= 0."""
    return (check_seconds(duration, "duration", allow_none=True),
            check_seconds(offset, "offset", allow_zero=True))


def _check_mixture(mixture):
    """``"sum"`` (X is the sum of the sources) or ``"stored"`` (the mixture file)."""
    return check_choice(mixture, "mixture", ("sum", "stored"))


def _check_subsets(subsets, valid, name="subsets"):
    """``subsets`` (one name or a sequence of them, all in ``valid``) as a list."""
    if isinstance(subsets, str):
        subsets = [subsets]
    try:
        subsets = list(subsets)
    except TypeError:
        raise ValueError(f"{name} must be one of {valid} or a list of them, got {subsets!r}.") from None
    if not subsets or any(s not in valid for s in subsets):
        raise ValueError(f"{name} must be one of {valid} or a list of them, got {subsets!r}.")
    return subsets


def _make_track(stems, stored, targets, rest, mixture, mono, orig_sr, sample_rate, name):
    """Combine one track's stems into ``(x, y)``.

    ``stems`` maps stem name -> ``(n_channels, n_samples)`` array; ``stored`` is the
    stored mixture (or None when ``mixture == "sum"``).
    """
    shapes = {k: np.shape(v) for k, v in stems.items()}
    if stored is not None:
        shapes["mixture"] = np.shape(stored)
    if len(set(shapes.values())) != 1:
        raise ValueError(f"Track {name!r}: stems differ in shape {shapes}.")
    n_samples = next(iter(shapes.values()))[-1]
    if n_samples == 0:
        raise ValueError(f"Track {name!r}: no audio left (is offset beyond the end of the track?).")
    ys = [np.asarray(stems[t], dtype=np.float32) for t in targets]
    if rest:
        acc = np.zeros_like(ys[0])
        for s in rest:
            acc += np.asarray(stems[s], dtype=np.float32)
        ys.append(acc)
    y = np.stack(ys)
    if mono:
        y = y.mean(axis=1, keepdims=True, dtype=np.float32)
    if stored is not None:
        x = np.asarray(stored, dtype=np.float32)
        if mono:
            x = x.mean(axis=0, keepdims=True, dtype=np.float32)
    if sample_rate is not None and sample_rate != orig_sr:
        y = _resample(y, orig_sr, sample_rate)
        if stored is not None:
            x = _resample(x, orig_sr, sample_rate)
    if mixture == "sum":
        x = y.sum(axis=0, dtype=np.float32)
    return x, y


def _descr(title, n_tracks, sources, sample_rate, details):
    """The ``DESCR`` text of a loader's Bunch."""
    return (
        f"{title}\n{'=' * len(title)}\n\n"
        f"{n_tracks} tracks, sources {sources} at {sample_rate} Hz.\n"
        f"{details}\n"
        "X: mixtures (n_tracks, n_channels, n_samples), or a list when lengths differ.\n"
        "y: sources (n_tracks, n_sources, n_channels, n_samples), in the order of "
        "`sources`; 'accompaniment' is the sum of every stem that is not a target.\n"
    )
