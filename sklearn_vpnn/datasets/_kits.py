"""Real sampled drum kits in Hydrogen's format: find them, read them, pick a sample.

A Hydrogen kit is a folder with a ``drumkit.xml`` and its sample files (WAV, FLAC,
AIFF). Each ``<instrument>`` has a name and either one ``<filename>`` or velocity
``<layer>`` elements (``<filename>``, ``<min>``, ``<max>``, ``<gain>``). Debian's
``hydrogen-drumkits`` package installs a dozen such kits (acoustic and electronic)
in :data:`HYDROGEN_KITS`.

:func:`find_kits` lists the kit folders under a path; :func:`_read_kit` maps a kit's
instruments onto the voices of the project's groove generator
(:func:`._synth_instruments._drum_grid`: kick, snare, hat, open_hat, ride, crash,
toms) by their names; :class:`_Kit` loads the samples of the voices it plays, at one
sample rate, once, and chooses a velocity layer per hit.
"""

import os
import re
import xml.etree.ElementTree as ET

import numpy as np

#: where Debian's ``hydrogen-drumkits`` package puts its kits
HYDROGEN_KITS = "/usr/share/hydrogen/data/drumkits"

VOICES = ("kick", "snare", "hat", "open_hat", "ride", "crash", "toms")
_MAX_SECONDS = 2.5  # cymbal tails beyond this are faded out
_FADE_SECONDS = 0.05

_HAT = re.compile(r"\bh\.?\s*h\b|hh|hi[- ]?hat|\bhat\b|hihat")
_OPEN = re.compile(r"open|\bop\b|semi")
_SKIP = re.compile(r"roll|stick|swish|choke|bell|cup|splash|china|fx|zap")


def _voice_of(name):
    """The groove voice an instrument name plays, or None (claps, sticks, cowbells, ...)."""
    n = name.lower()
    if _SKIP.search(n):
        return None
    if _HAT.search(n):
        return "open_hat" if _OPEN.search(n) else "hat"
    if "ride" in n:
        return "ride"
    if "crash" in n or "cymbal" in n:
        return "crash"
    if "kick" in n or re.search(r"bass\s*drum|\bbd\b|bassdrum", n):
        return "kick"
    if "snare" in n or "rimshot" in n:
        return "snare"
    if "tom" in n:
        return "toms"
    return None


def _local(tag):
    """An XML tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def _child_text(elem, name, default=None):
    for child in elem:
        if _local(child.tag) == name and child.text is not None:
            return child.text.strip()
    return default


def _float(text, default):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return default
    return value if np.isfinite(value) else default


def find_kits(path=HYDROGEN_KITS):
    """Kit folders (holding a ``drumkit.xml``) at or directly under ``path``, sorted."""
    path = os.fspath(path)
    if os.path.isfile(os.path.join(path, "drumkit.xml")):
        return [path]
    if not os.path.isdir(path):
        return []
    found = []
    for entry in sorted(os.listdir(path)):
        folder = os.path.join(path, entry)
        if os.path.isfile(os.path.join(folder, "drumkit.xml")):
            found.append(folder)
    return found


def _read_kit(folder):
    """``(kit name, {voice: [instrument, ...]})``; an instrument is a list of layers.

    A layer is ``(v_min, v_max, gain, path)``. Instruments whose names match no voice,
    or whose files are missing, are left out.
    """
    xml_path = os.path.join(folder, "drumkit.xml")
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"{xml_path}: not a readable Hydrogen drumkit.xml ({exc}).") from None
    kit_name = _child_text(root, "name", os.path.basename(folder))
    voices = {}
    for inst in root.iter():
        if _local(inst.tag) != "instrument":
            continue
        voice = _voice_of(_child_text(inst, "name", ""))
        if voice is None:
            continue
        volume = _float(_child_text(inst, "volume"), 1.0)
        layers = []
        for layer in inst.iter():
            if _local(layer.tag) == "layer":
                fname = _child_text(layer, "filename")
                if fname:
                    layers.append((_float(_child_text(layer, "min"), 0.0), _float(_child_text(layer, "max"), 1.0),
                                   volume * _float(_child_text(layer, "gain"), 1.0), fname))
        if not layers and _child_text(inst, "filename"):
            layers.append((0.0, 1.0, volume, _child_text(inst, "filename")))
        layers = [(lo, hi, g, os.path.join(folder, f)) for lo, hi, g, f in layers
                  if os.path.isfile(os.path.join(folder, f)) and g > 0]
        if layers:
            voices.setdefault(voice, []).append(layers)
    return kit_name, voices


def _playable(voices):
    """A kit can play a groove with a kick, a snare and a hat or ride."""
    return "kick" in voices and "snare" in voices and ("hat" in voices or "ride" in voices)


class _Kit:
    """One kit's samples at ``sample_rate``: ``(n_channels<=2, n)`` float32 arrays.

    Every instrument's layers are scaled together so that its loudest layer peaks at
    1 (velocity layers keep their relative levels); samples are cut at 2.5 s with a
    50 ms fade. Voices the kit lacks borrow a neighbour (open hat -> hat, ride <-> hat,
    crash -> ride); toms may be absent.
    """

    def __init__(self, folder, sample_rate):
        self.folder = folder
        self.name, voices = _read_kit(folder)
        if not _playable(voices):
            raise ValueError(f"Drum kit {folder!r} has no kick, snare and hat or ride that its instrument "
                             f"names show (found voices: {sorted(voices)}).")
        self.sample_rate = sample_rate
        self.voices = {v: [self._load(layers) for layers in insts] for v, insts in voices.items()}
        for voice, fallbacks in (("hat", ("ride",)), ("ride", ("hat",)), ("open_hat", ("hat", "ride")),
                                 ("crash", ("ride", "open_hat", "hat"))):
            if voice not in self.voices:
                self.voices[voice] = next(self.voices[f] for f in fallbacks if f in self.voices)

    def _load(self, layers):
        import soundfile as sf

        from ..io import _resample

        loaded = []
        for lo, hi, gain, path in layers:
            try:
                audio, sr = sf.read(path, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise ValueError(f"Drum kit sample {path!r} could not be read: {exc}") from None
            audio = _resample(audio.T[:2], sr, self.sample_rate)
            n_max = int(_MAX_SECONDS * self.sample_rate)
            if audio.shape[-1] > n_max:
                audio = audio[:, :n_max].copy()
                n_fade = int(_FADE_SECONDS * self.sample_rate)
                audio[:, -n_fade:] *= np.linspace(1.0, 0.0, n_fade, dtype=np.float32)
            loaded.append([lo, hi, gain * audio])
        peak = max(float(np.max(np.abs(a))) for _, _, a in loaded) + 1e-12
        return [(lo, hi, a / peak) for lo, hi, a in loaded if a.shape[-1] > 0]

    def sample(self, instrument, velocity, rng):
        """A layer of ``instrument`` for ``velocity`` in [0, 1] (random among ties)."""
        hits = [a for lo, hi, a in instrument if lo <= velocity <= hi]
        if not hits:  # gaps between layers: the nearest one
            dist = [min(abs(velocity - lo), abs(velocity - hi)) for lo, hi, _ in instrument]
            hits = [instrument[int(np.argmin(dist))][2]]
        return hits[rng.randint(len(hits))]
