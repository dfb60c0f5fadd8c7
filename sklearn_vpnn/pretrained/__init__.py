"""Models that ship inside the package: ``load_pretrained("drums")`` works offline.

Each bundled model is one model file of :mod:`sklearn_vpnn.persistence`
(``<name>.safetensors``: weights plus a JSON description, no code) beside a plain-text
licence note for its weights (``<name>.LICENSE.txt``). The weights were trained on
non-commercial research data and carry that data's terms, distinct from the code's
BSD licence; :func:`list_pretrained` and ``sklearn-vpnn models`` show them.
"""

from importlib import resources

__all__ = ["load_pretrained", "list_pretrained", "pretrained_path"]


def _available():
    files = resources.files(__name__)
    return sorted(p.name[: -len(".safetensors")] for p in files.iterdir()
                  if p.name.endswith(".safetensors"))


def pretrained_path(name="drums"):
    """Path of a bundled model file.

    Parameters
    ----------
    name : str, default="drums"
        A name from :func:`list_pretrained`.

    Returns
    -------
    pathlib.Path
        The ``.safetensors`` file inside the installed package.
    """
    names = _available()
    if name not in names:
        raise ValueError(f"no bundled model named {name!r}; bundled models: {names or 'none'}")
    with resources.as_file(resources.files(__name__) / f"{name}.safetensors") as path:
        return path


def list_pretrained():
    """Describe every bundled model.

    Returns
    -------
    list of dict
        One per model: ``name``, ``path``, ``sources``, ``sample_rate``, the
        ``notes`` saved with it (training data, measured SDR, the retraining
        command) and its weights' ``licence`` text.

    Examples
    --------
    >>> from sklearn_vpnn.pretrained import list_pretrained
    >>> [m["name"] for m in list_pretrained()]
    ['drums']
    """
    from ..persistence import read_model_info

    out = []
    for name in _available():
        path = pretrained_path(name)
        info = read_model_info(path)
        steps = {s["class"]: s for s in info["steps"]}
        sep = next(s for k, s in steps.items() if k.endswith("Separator"))
        licence = path.with_name(f"{name}.LICENSE.txt")
        out.append({
            "name": name,
            "path": path,
            "separator": sep["class"],
            "sources": tuple(sep["fitted"]["sources_"]),
            "sample_rate": steps["STFT"]["params"]["sample_rate"],
            "notes": info["notes"],
            "licence": licence.read_text(encoding="utf-8") if licence.exists() else "",
        })
    return out


def load_pretrained(name="drums", device="cpu"):
    """A fitted separation pipeline bundled with the package; needs no network.

    Parameters
    ----------
    name : str, default="drums"
        Which model (see :func:`list_pretrained`): ``"drums"`` separates drums
        from everything else.
    device : str, default="cpu"
        "cpu", "cuda", "cuda:N" or "auto".

    Returns
    -------
    sklearn.pipeline.Pipeline
        ``STFT -> VPNNSeparator -> InverseSTFT``, fitted: call ``transform`` on
        ``(n_tracks, n_channels, n_samples)`` waveforms at the model's sample
        rate (``pipe[0].sample_rate``), score it, or ``fit`` it further.

    Notes
    -----
    The weights were trained on MUSDB18 and MDB Drums clips, research data for
    non-commercial use only: see ``list_pretrained()[0]["licence"]``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_vpnn import load_pretrained
    >>> pipe = load_pretrained("drums")
    >>> pipe.transform(np.zeros((1, 2, 44100), np.float32)).shape
    (1, 2, 2, 44100)
    """
    from ..persistence import load_model

    return load_model(pretrained_path(name), device=device)
