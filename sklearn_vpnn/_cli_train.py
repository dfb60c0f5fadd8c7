"""``sklearn-vpnn train`` and ``demo``, and their helpers: the separator from the options,
Ctrl-C (or SIGTERM) during training, and model files written safely."""

import os
import signal
import uuid
import warnings
from pathlib import Path

import numpy as np

from ._cli_common import PROG, CLIError, _check_new_file, _err, _signal_word
from ._cli_evaluate import _metrics
from .separate import Model, separate_array


def _is_pickle_path(path):
    return Path(path).suffix.lower() == ".joblib"


def _save(pipe, path, notes=None):
    """Save a fitted pipeline to ``path``, atomically (a temporary file, then a rename).

    The safe format of :func:`sklearn_vpnn.save_model` (safetensors weights and a
    JSON description; loading it never runs code) unless ``path`` ends in
    ``.joblib``: then a joblib pickle, for trusted use only (loading a pickle runs
    the code it carries; the command line loads it only with ``--allow-pickle``).
    """
    path = Path(path)
    if not _is_pickle_path(path):
        from .persistence import save_model

        return save_model(pipe, path, overwrite=True, notes=notes)
    import joblib

    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:10]}.part"
    try:
        joblib.dump(pipe, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


class _InterruptFlag:
    """Remember whether Ctrl-C (or SIGTERM) came while still raising KeyboardInterrupt.

    ``signum`` is the signal that came (None if none); skorch ends training on the
    KeyboardInterrupt and keeps the model trained so far.
    """

    def __init__(self):
        self.signum = None

    @property
    def hit(self):
        return self.signum is not None

    def __enter__(self):
        self.old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.old[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not in the main thread
                pass
        return self

    def _handler(self, signum, frame):
        self.signum = signum
        raise KeyboardInterrupt

    def __exit__(self, *exc):
        for sig, old in self.old.items():
            signal.signal(sig, old)
        return False


def _make_separator(args, sources, max_time, max_epochs, verbose=1, **extra):
    """The VPNNSeparator or DNNSeparator the model options of ``train``/``demo`` ask for."""
    from .separator import DNNSeparator, VPNNSeparator

    common = dict(sources=tuple(sources), max_time=max_time, random_state=args.seed,
                  verbose=verbose, device=args.device, **extra)
    # options left unset take the estimator's own defaults (the default recipe)
    for name, value in (("hidden_units", args.hidden_units), ("max_epochs", max_epochs)):
        if value is not None:
            common[name] = value
    if getattr(args, "model_kind", "vpnn") == "dnn":
        if args.mapping is not None:
            raise CLIError("--mapping applies to --model vpnn only")
        return DNNSeparator(**common)
    return VPNNSeparator(mapping=args.mapping or "window", **common)


def _fit(pipe, X, y):
    """Fit; return the signal (SIGINT, SIGTERM) that stopped training, or None.

    The model trained so far is kept.

    skorch ends ``fit`` early on KeyboardInterrupt and still runs the end-of-training
    callbacks, so the fitted model is then the moving average of the weights (the
    separators' default) or, with averaging off, the best epoch (the separator's
    checkpoint skips the restore when no epoch finished). A Ctrl-C outside the
    training loop (while the STFT or the frame cache is being computed) propagates
    as KeyboardInterrupt.
    """
    with _InterruptFlag() as flag:
        try:
            pipe.fit(X, y)
        except KeyboardInterrupt as exc:  # outside the training loop: nothing to keep
            raise KeyboardInterrupt(flag.signum or signal.SIGINT) from exc
    return flag.signum


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


def cmd_train(args):
    """``sklearn-vpnn train``: train a pipeline on MUSDB18 or synthetic songs, save it; return 0."""
    out = _check_new_file(args.output, args.force, "model file")
    if _is_pickle_path(out):
        warnings.warn(f"{out} will be a joblib pickle: loading it runs code, so only you (or whoever "
                      "trusts you) should load it, with --allow-pickle; any other name writes the safe "
                      "format (.safetensors)", UserWarning, stacklevel=2)
    from sklearn.pipeline import make_pipeline

    from .spectral import STFT, InverseSTFT

    if args.synthetic:
        from .datasets import make_drum_mixtures

        if args.targets != "drums":
            raise CLIError("--synthetic data only has the sources drums and accompaniment")
        data = make_drum_mixtures(n_tracks=args.synthetic, duration=args.duration or 6.0,
                                  sample_rate=args.sample_rate or 22050, random_state=args.seed)
        training_data = f"{args.synthetic} synthetic songs (make_drum_mixtures, seed {args.seed})"
    else:
        if not args.musdb_root:
            raise CLIError("give --musdb-root PATH (or --synthetic N to train on synthetic songs)")
        from .datasets import load_musdb

        targets = [t.strip() for t in args.targets.split(",") if t.strip()]
        data = load_musdb(args.musdb_root, subsets="train", split="train", targets=targets,
                          duration=args.duration, sample_rate=args.sample_rate)
        training_data = f"MUSDB18 train split ({len(data.X)} tracks)"
    max_time = args.max_minutes * 60 if args.max_minutes else None
    patience = {} if args.patience is None else {"patience": args.patience or None}
    sep = _make_separator(args, data.sources, max_time, args.epochs, verbose=1, **patience)
    pipe = make_pipeline(STFT(n_fft=args.n_fft, sample_rate=int(data.sample_rate)), sep, InverseSTFT())
    n = len(data.X)
    print(f"Training {type(sep).__name__} on {n} tracks ({', '.join(data.sources)}) at "
          f"{data.sample_rate} Hz; Ctrl-C stops and keeps the model trained so far.", flush=True)
    interrupted = _fit(pipe, data.X, data.y)  # KeyboardInterrupt outside training: exit 130/143
    fitted = pipe[1]
    if interrupted:
        done = sum("train_loss" in h for h in fitted.history_)
        if not done:
            raise KeyboardInterrupt(interrupted, "no epoch finished; no model saved")
        print(f"Interrupted after {done} epoch(s); saving the model trained so far.", flush=True)
    _save(pipe, out, notes={"training_data": training_data, "trained_by": f"{PROG} train"})
    best = _best_epoch(fitted)
    print(f"Saved {out} ({fitted.n_epochs_} epochs{best}).")
    if interrupted:
        _err(f"training was {_signal_word(interrupted)}; the model trained so far is saved")
        return 128 + int(interrupted)
    return 0


def cmd_demo(args):
    """``sklearn-vpnn demo``: train on synthetic songs and separate a held-out one; return 0."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from sklearn.pipeline import make_pipeline

    from .datasets import make_drum_mixtures
    from .io import save_audio
    from .plotting import plot_separation
    from .spectral import STFT, InverseSTFT

    outdir = Path(args.outdir)
    sources = ("drums", "accompaniment")
    files = {"mixture": outdir / "mixture.wav", **{s: outdir / f"{s}.wav" for s in sources},
             "figure": outdir / "separation.png", "model": outdir / "model.safetensors"}
    existing = [str(p) for p in files.values() if p.exists()]
    if existing and not args.force:
        raise CLIError(f"{', '.join(existing)} exist(s); use --force to overwrite or pick another -o")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create output folder {outdir}: {exc.strerror}") from exc
    if not os.access(outdir, os.W_OK):
        raise CLIError(f"output folder {outdir} is not writable")

    sr = 22050
    print(f"Generating {args.tracks} synthetic training songs of {args.duration:g} s and 1 held-out "
          f"song ({sr} Hz stereo)...", flush=True)
    data = make_drum_mixtures(n_tracks=args.tracks + 1, duration=args.duration, sample_rate=sr,
                              n_channels=2, random_state=args.seed)
    X, y = data.X[:-1], data.y[:-1]
    mix, truth = data.X[-1], data.y[-1]
    sep = _make_separator(args, sources, args.minutes * 60, 10_000, verbose=1)
    # the demo's small songs at 22 kHz: n_fft 1024 at 50% overlap, as measured for its budget
    pipe = make_pipeline(STFT(n_fft=args.n_fft, hop_length=max(1, args.n_fft // 2), sample_rate=sr), sep,
                         InverseSTFT())
    print(f"Training a VPNN (hidden_units={args.hidden_units}, n_fft={args.n_fft}) for at most "
          f"{args.minutes:g} min; Ctrl-C stops early and keeps the model so far.", flush=True)
    interrupted = _fit(pipe, X, y)
    if interrupted and not sum("train_loss" in h for h in pipe[1].history_):
        raise KeyboardInterrupt(interrupted, "no epoch finished; nothing saved")
    model = Model(pipe, pipe[1], pipe[0], sr, files["model"])
    est = separate_array(model, mix, sr)
    save_audio(files["mixture"], mix, sr, overwrite=True)
    for i, s in enumerate(sources):
        save_audio(files[s], est[i], sr, overwrite=True)
    _save(pipe, files["model"], notes={"training_data": f"{args.tracks} synthetic songs "
                                                        f"(make_drum_mixtures, seed {args.seed})",
                                        "trained_by": f"{PROG} demo"})

    m_est = _metrics(truth, est, sr, all_metrics=False)["SDR"]
    m_mix = _metrics(truth, np.stack([mix] * len(sources)), sr, all_metrics=False)["SDR"]
    print()
    print("SDR on the held-out song (dB, median over 1 s windows; higher is better):")
    print(f"{'source':<16}{'separated':>11}{'mixture':>11}{'gain':>9}")
    for i, s in enumerate(sources):
        print(f"{s:<16}{m_est[i]:>11.2f}{m_mix[i]:>11.2f}{m_est[i] - m_mix[i]:>+9.2f}")
    spec = pipe[0].transform(mix[None])
    masks = pipe[1].predict_masks(spec)[0]
    fig = plot_separation(mix, est, sr, sources=sources, masks=masks, references=truth, path=files["figure"])
    import matplotlib.pyplot as plt

    plt.close(fig)
    print()
    print(f"Wrote {outdir}/: mixture.wav, drums.wav, accompaniment.wav, separation.png, "
          "model.safetensors")
    print(f"Next: sklearn-vpnn separate YOUR_SONG.wav --model {files['model']}")
    if interrupted:
        _err(f"training was {_signal_word(interrupted)}; the demo went on with the model trained so far")
        return 128 + int(interrupted)
    return 0
