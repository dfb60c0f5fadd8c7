"""Figures of a separation: mixture spectrogram, drum mask, separated drums."""

import numpy as np

__all__ = ["plot_separation"]

_DB_FLOOR = -100.0


def _mono(x, name):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=0)
    if x.ndim != 1 or x.shape[0] == 0:
        raise ValueError(f"{name} must be (n_channels, n_samples) or 1-D; got shape {np.shape(x)}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite samples")
    return x


def _spec(x, n_fft):
    from scipy.signal import stft

    n_fft = min(n_fft, max(16, len(x)))
    _, _, z = stft(x, nperseg=n_fft, noverlap=n_fft - n_fft // 4, boundary="zeros")
    return np.abs(z)


def _db(mag, ref):
    return np.maximum(20 * np.log10(np.maximum(mag, 1e-12) / ref), _DB_FLOOR)


def plot_separation(mixture, estimates, sample_rate, sources=("drums", "accompaniment"),
                    masks=None, references=None, n_fft=2048, ax=None, path=None,
                    top_db=80.0):
    """Plot a separation: mixture, mask and separated source spectrograms.

    Panels, top to bottom: the mixture spectrogram (dB), the mask of the first
    source (``masks`` if given, else the ratio of the estimate's magnitude to
    the mixture's, clipped to [0, 1]), the separated first source (dB) and,
    if ``references`` is given, the true first source (dB). Channels are
    averaged. Works with any matplotlib backend, including ``Agg``.

    Parameters
    ----------
    mixture : array-like of shape (n_channels, n_samples) or (n_samples,)
        The mixture waveform.
    estimates : array-like of shape (n_sources, n_channels, n_samples) or (n_sources, n_samples)
        Separated waveforms, in the order of ``sources``.
    sample_rate : int
        Sample rate in Hz (axis labels).
    sources : sequence of str, default=("drums", "accompaniment")
        Source names; the first one is plotted.
    masks : array-like, default=None
        Masks of the first source, ``(n_bins, n_frames)``, or of every source
        ``(n_sources, [n_channels,] n_bins, n_frames)`` (the first source is
        taken, channels averaged), e.g. from ``separator.predict_masks``; on
        any time-frequency grid (drawn over the track's duration).
    references : array-like, default=None
        True sources, shaped like ``estimates``; adds a panel.
    n_fft : int, default=2048
        FFT size of the plotted spectrograms.
    ax : sequence of matplotlib Axes, default=None
        One axes per panel (3, or 4 with ``references``); a new figure when None.
    path : str or path-like, default=None
        Save the figure there (PNG, 120 dpi) as well.
    top_db : float, default=80.0
        Dynamic range of the dB panels.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (mixture spectrogram, masks and separated spectrograms).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_vpnn import make_drum_mixtures, plot_separation
    >>> data = make_drum_mixtures(n_tracks=1, duration=2.0, random_state=0)
    >>> fig = plot_separation(data.X[0], data.y[0], data.sample_rate,
    ...                       references=data.y[0])
    >>> len(fig.axes)  # 4 panels + the colour bars
    8
    """
    import matplotlib.pyplot as plt

    if isinstance(sources, str):
        sources = (sources,)
    mix = _mono(mixture, "mixture")
    est = np.asarray(estimates, dtype=np.float64)
    if est.ndim == 2:
        est = est[:, np.newaxis]
    if est.ndim != 3 or est.shape[-1] != len(mix):
        raise ValueError(
            f"estimates must be (n_sources, n_channels, {len(mix)}) to match the mixture; "
            f"got shape {np.shape(estimates)}"
        )
    name = str(sources[0]) if len(sources) else "source 0"
    first = _mono(est[0], "estimates")
    ref = None
    if references is not None:
        r = np.asarray(references, dtype=np.float64)
        if r.ndim == 2:
            r = r[:, np.newaxis]
        if r.shape[0] < 1 or r.shape[-1] != len(mix):
            raise ValueError(f"references must be shaped like estimates; got {np.shape(references)}")
        ref = _mono(r[0], "references")

    S_mix = _spec(mix, n_fft)
    S_est = _spec(first, n_fft)
    peak = max(float(S_mix.max()), 1e-12)
    if masks is None:
        mask = np.clip(S_est / np.maximum(S_mix, 1e-12), 0.0, 1.0)
        mask_title = f"{name} mask (|estimate| / |mixture|)"
    else:
        mask = np.asarray(masks, dtype=np.float64)
        if mask.ndim >= 3:
            mask = mask[0]
        while mask.ndim > 2:
            mask = mask.mean(axis=0)
        if mask.ndim != 2:
            raise ValueError(f"masks must be 2-D (n_bins, n_frames) or per source; got {np.shape(masks)}")
        mask_title = f"{name} mask"

    panels = [("mixture (dB)", _db(S_mix, peak), "magma", (-top_db, 0)),
              (mask_title, mask, "viridis", (0, 1)),
              (f"separated {name} (dB)", _db(S_est, peak), "magma", (-top_db, 0))]
    if ref is not None:
        panels.append((f"true {name} (dB)", _db(_spec(ref, n_fft), peak), "magma", (-top_db, 0)))

    if ax is None:
        fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.4 * len(panels)), sharex=True,
                                 constrained_layout=True)
    else:
        axes = np.ravel(np.asarray(ax, dtype=object))
        if len(axes) != len(panels):
            raise ValueError(f"ax must hold {len(panels)} axes (one per panel); got {len(axes)}")
        fig = axes[0].figure
    duration = len(mix) / float(sample_rate)
    extent = [0.0, duration, 0.0, sample_rate / 2000.0]
    for a, (title, img, cmap, (vmin, vmax)) in zip(axes, panels):
        im = a.imshow(img, origin="lower", aspect="auto", extent=extent, cmap=cmap, vmin=vmin,
                      vmax=vmax, interpolation="nearest")
        a.set_title(title)
        a.set_ylabel("kHz")
        fig.colorbar(im, ax=a, pad=0.01)
    axes[-1].set_xlabel("time (s)")
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
