"""``sklearn-vpnn evaluate``: BSS Eval v4 scores of a model on MUSDB18 (and SDR for the demo)."""

import json
import math
from pathlib import Path

import numpy as np

from ._cli_common import CLIError, _check_new_file
from .separate import open_model, separate_array


def cmd_evaluate(args):
    """``sklearn-vpnn evaluate``: BSS Eval v4 scores of a model on MUSDB18 tracks; return 0."""
    model = open_model(args.model, allow_pickle=args.allow_pickle, device=args.device)
    if args.json:
        _check_new_file(args.json, True, "JSON file")
    from .datasets import load_musdb

    targets = [s for s in model.sources if s != "accompaniment"]
    split = None if args.split == "none" else args.split
    subsets = [s.strip() for s in args.subsets.split(",") if s.strip()]
    if split is not None and subsets != ["train"]:
        split = None
    data = load_musdb(args.musdb_root, subsets=subsets, split=split, targets=targets,
                      duration=args.duration)
    if tuple(data.sources) != tuple(model.sources):
        raise CLIError(f"the model's sources {model.sources} are not MUSDB18 stems + accompaniment "
                       f"(got {data.sources})")
    names = list(data.track_names)
    if args.max_tracks:
        names = names[: args.max_tracks]
    sr = int(data.sample_rate)
    keys = ("SDR", "SIR", "SAR", "ISR")
    results = {}
    for i, name in enumerate(names):
        est = separate_array(model, data.X[i], sr, args.chunk_seconds)
        m = _metrics(data.y[i], est, sr, all_metrics=True)
        results[name] = {s: {k: _num(m[k][j]) for k in keys} for j, s in enumerate(model.sources)}
        row = "  ".join(f"{s} SDR {_fmt(results[name][s]['SDR'])}" for s in model.sources)
        print(f"[{i + 1}/{len(names)}] {name}: {row}", flush=True)
    median = {s: {k: _num(np.nanmedian([np.nan if results[t][s][k] is None else results[t][s][k]
                                        for t in names]) if names else np.nan)
                  for k in keys} for s in model.sources}
    print()
    print(f"Median over {len(names)} tracks (each: median over 1 s windows), dB:")
    print(f"{'source':<16}" + "".join(f"{k:>9}" for k in keys))
    for s in model.sources:
        print(f"{s:<16}" + "".join(f"{_fmt(median[s][k]):>9}" for k in keys))
    if args.json:
        report = {"model": str(model.path), "musdb_root": str(args.musdb_root), "subsets": subsets,
                  "split": split, "duration": args.duration, "sample_rate": sr,
                  "sources": list(model.sources), "tracks": results, "median": median}
        Path(args.json).write_text(json.dumps(report, indent=2, allow_nan=False))
        print(f"Wrote {args.json}")
    return 0


def _num(v):
    v = float(v)
    return round(v, 4) if math.isfinite(v) else None


def _fmt(v):
    return "nan" if v is None or not math.isfinite(v) else f"{v:.2f}"


def _metrics(references, estimates, sample_rate, all_metrics=True):
    """Per-source scores of one track ``(n_sources, n_channels, n_samples)``, median over 1 s windows.

    ``{"SDR": ..., "SIR": ..., "SAR": ..., "ISR": ...}`` (museval BSS Eval v4), each
    ``(n_sources,)``; with ``all_metrics=False`` only ``{"SDR": ...}``, computed by
    :func:`sklearn_vpnn.sdr`'s ``"framewise"`` method (the same SDR, faster).
    """
    from .metrics import sdr

    refs = np.asarray(references, dtype=np.float64)[None]
    ests = np.asarray(estimates, dtype=np.float64)[None]
    if all_metrics:
        r = sdr(refs, ests, sample_rate=sample_rate, method="bss_eval_v4", return_all=True)
        return {k.upper(): np.asarray(r[k])[0] for k in ("sdr", "sir", "sar", "isr")}
    return {"SDR": np.asarray(sdr(refs, ests, sample_rate=sample_rate, method="framewise"))[0]}
