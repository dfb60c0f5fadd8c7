"""Output formats of ``sklearn-vpnn separate``: WAV, FLAC, MP3, OGG/Vorbis through libsndfile.

:func:`output_spec` checks a choice of format, bit depth, bitrate and clip mode and
returns an :class:`OutputSpec`; :func:`check_stream` refuses, before separating, a
channel count or sample rate the format cannot hold. Every stem is first written as
32-bit float (a ``.part`` file, :class:`sklearn_vpnn._streams._SourceWriter`), which
never clips and gives each stem's peak; :func:`convert` then writes the final file
in the chosen format, scaled, clamped or as it is (``clip_mode``). A rescale uses one
gain for all the stems of a file (:func:`rescale_gain`), so they keep their balance
and, with ``residual=True``, still add up to the (scaled) input.

MP3 bitrates go through libsndfile's ``compression_level`` in constant-bitrate mode
(``bitrate_mode="CONSTANT"``): libsndfile maps a level ``c`` in [0, 1] to
``top - c * (top - low)`` kbps, with ``[low, top]`` = [32, 320] at 32 kHz and above
(MPEG-1), [8, 160] at 16-24 kHz (MPEG-2) and [8, 64] below (MPEG-2.5); LAME rounds to
the nearest standard rate. Vorbis has no bitrate setting in libsndfile, only a
quality (``1 - compression_level``): ``--bitrate`` picks the quality whose nominal
bitrate (oggenc's table for 44.1 kHz stereo, :data:`VORBIS_NOMINAL_KBPS`) is nearest,
interpolating between the table's rows.
"""

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["FORMATS", "DEPTHS", "CLIP_MODES", "OutputSpec", "output_spec", "check_stream",
           "rescale_gain", "convert"]

#: format -> (libsndfile major format, depths it can hold, default depth); None: lossy
FORMATS = {"wav": ("WAV", ("int16", "int24", "float32"), "float32"),
           "flac": ("FLAC", ("int16", "int24"), "int24"),
           "mp3": ("MP3", None, None),
           "ogg": ("OGG", None, None)}
#: depth -> libsndfile subtype
DEPTHS = {"int16": "PCM_16", "int24": "PCM_24", "float32": "FLOAT"}
CLIP_MODES = ("rescale", "clamp", "none")
#: kbps used when --bitrate is not given
DEFAULT_KBPS = 320
#: Vorbis quality (oggenc -q, 0-10; libsndfile's quality is a tenth of it) -> nominal kbps
VORBIS_NOMINAL_KBPS = ((0, 64), (1, 80), (2, 96), (3, 112), (4, 128), (5, 160), (6, 192),
                       (7, 224), (8, 256), (9, 320), (10, 500))
#: sample rates an MP3 (MPEG-1/2/2.5 layer III) can have
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
FLAC_MAX_CHANNELS = 8
_CHANNEL_LIMITS = {"flac": FLAC_MAX_CHANNELS, "mp3": 2, "ogg": 255}
_BLOCK = 1 << 17


@dataclass(frozen=True)
class OutputSpec:
    """What an output file is: format, depth or bitrate, and how peaks above 1 are handled.

    Parameters
    ----------
    fmt : str
        ``"wav"``, ``"flac"``, ``"mp3"`` or ``"ogg"`` (also the extension).
    depth : str or None
        ``"int16"``, ``"int24"`` or ``"float32"``; None for the lossy formats.
    kbps : int or None
        Target bitrate of the lossy formats.
    clip_mode : str
        ``"rescale"``, ``"clamp"`` or ``"none"``; ``"none"`` is the default for float.
    """

    fmt: str
    depth: object
    kbps: object
    clip_mode: str

    @property
    def lossy(self):
        """Whether the format is MP3 or Vorbis."""
        return self.depth is None

    @property
    def bits(self):
        """16 or 24 for integer formats, else None."""
        return {"int16": 16, "int24": 24}.get(self.depth)

    @property
    def as_is(self):
        """Whether the float ``.part`` already is the final file (float WAV, nothing to do)."""
        return self.depth == "float32" and self.clip_mode == "none"

    def describe(self):
        """E.g. ``"FLAC 24-bit"``, ``"WAV 32-bit float"``, ``"MP3 320 kbps"``."""
        if self.lossy:
            return f"{self.fmt.upper()} {self.kbps} kbps"
        return f"{self.fmt.upper()} {'32-bit float' if self.depth == 'float32' else f'{self.bits}-bit'}"


def output_spec(fmt="wav", depth=None, bitrate=None, clip_mode=None):
    """Check an output choice; return its :class:`OutputSpec`.

    Parameters
    ----------
    fmt : {"wav", "flac", "mp3", "ogg"}, default="wav"
        The output format.
    depth : {"int16", "int24", "float32"} or None, default=None
        Bit depth of WAV/FLAC; None: float32 for WAV, int24 for FLAC. FLAC holds
        integers only; MP3/OGG have no bit depth.
    bitrate : int or None, default=None
        kbps of MP3/OGG (default 320); refused for WAV/FLAC.
    clip_mode : {"rescale", "clamp", "none"} or None, default=None
        None: ``"rescale"`` for integer and lossy outputs, ``"none"`` for float32.

    Returns
    -------
    OutputSpec
        The checked choice.
    """
    from ._validation import check_choice, check_number

    fmt = check_choice(fmt, "format", tuple(FORMATS))
    major, depths, default_depth = FORMATS[fmt]
    import soundfile as sf

    if major not in sf.available_formats():
        raise ValueError(f"this libsndfile ({sf.__libsndfile_version__}) cannot write {fmt.upper()}; "
                         "MP3 needs libsndfile >= 1.1: choose another --format")
    if depths is None:
        if depth is not None:
            raise ValueError(f"{fmt.upper()} is lossy and has no bit depth (--{depth}); set --bitrate")
        kbps = DEFAULT_KBPS if bitrate is None else check_number(
            bitrate, "--bitrate", integer=True, low=8, high=500, what="a bitrate in kbps (8 to 500)")
    else:
        if bitrate is not None:
            raise ValueError(f"--bitrate is for the lossy formats (mp3, ogg); {fmt.upper()} is lossless")
        depth = default_depth if depth is None else check_choice(depth, "depth", tuple(DEPTHS))
        if depth not in depths:
            raise ValueError(f"{fmt.upper()} holds integer samples only (--int16 or --int24); "
                             "use --format wav for 32-bit float")
        kbps = None
    if clip_mode is None:
        clip_mode = "none" if depth == "float32" else "rescale"
    clip_mode = check_choice(clip_mode, "clip_mode", CLIP_MODES)
    return OutputSpec(fmt, depth, kbps, clip_mode)


def check_stream(spec, n_channels, sample_rate, name):
    """Refuse, before separating, what ``spec``'s format cannot hold (ValueError naming ``name``)."""
    limit = _CHANNEL_LIMITS.get(spec.fmt)
    if limit is not None and n_channels > limit:
        raise ValueError(f"{name} has {n_channels} channels but {spec.fmt.upper()} holds at most "
                         f"{limit}; use --format wav (fmt='wav')")
    if spec.fmt == "mp3" and sample_rate not in MP3_RATES:
        raise ValueError(f"{name} is at {sample_rate} Hz, a rate MP3 cannot hold (only "
                         f"{', '.join(map(str, MP3_RATES))} Hz); use --format ogg or flac")


def _mp3_level(kbps, sample_rate):
    """libsndfile's compression level for ``kbps`` at ``sample_rate`` (its CBR mapping, inverted)."""
    low, top = (32, 320) if sample_rate >= 32000 else (8, 160) if sample_rate >= 16000 else (8, 64)
    kbps = min(max(kbps, low), top)
    # libsndfile truncates top - c * (top - low) to an int: aim a quarter kbps above
    return min(1.0, max(0.0, (top - kbps - 0.25) / (top - low)))


def _vorbis_level(kbps):
    """libsndfile's compression level (1 - quality/10) whose nominal Vorbis bitrate is ``kbps``."""
    q, rate = zip(*VORBIS_NOMINAL_KBPS)
    return float(1.0 - np.interp(kbps, rate, q) / 10.0)


def _writer_kwargs(spec, sample_rate):
    if spec.fmt == "mp3":
        return dict(format="MP3", subtype="MPEG_LAYER_III", bitrate_mode="CONSTANT",
                    compression_level=_mp3_level(spec.kbps, sample_rate))
    if spec.fmt == "ogg":
        return dict(format="OGG", subtype="VORBIS", compression_level=_vorbis_level(spec.kbps))
    return dict(format=FORMATS[spec.fmt][0], subtype=DEPTHS[spec.depth])


def _full_scale(spec):
    """Largest peak written as it is: just below 1 for integers (32767/32768), else 1."""
    return 1.0 if spec.bits is None else 1.0 - 0.5 / 2 ** (spec.bits - 1)


def rescale_gain(spec, peak):
    """The gain ``clip_mode="rescale"`` applies to every stem of a file whose loudest peak is ``peak``.

    1.0 when nothing would clip; else the largest gain that fits the peak into full
    scale, with two integer steps to spare so that residual stems computed in
    integers (``input - drums``) fit too.
    """
    if spec.clip_mode != "rescale" or peak <= _full_scale(spec):
        return 1.0
    target = 1.0 if spec.bits is None else 1.0 - 2.0 / 2 ** (spec.bits - 1)
    return target / peak


def _quantize(x, bits):
    """Float samples to integers at ``bits`` (libsndfile's own scale, 2**(bits-1)), int64, unclipped."""
    return np.rint(np.asarray(x, np.float64) * 2.0 ** (bits - 1)).astype(np.int64)


def _to_file_ints(q, bits):
    """Clipped int64 samples as the array soundfile writes exactly (int16, or int32 for 24 bits)."""
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    q = np.clip(q, lo, hi)
    return q.astype(np.int16) if bits == 16 else (q << 8).astype(np.int32)


def convert(spec, float_part, final_part, sample_rate, n_channels, gain=1.0, residual_of=None):
    """Write ``final_part`` in ``spec``'s format from the float WAV ``float_part``.

    Parameters
    ----------
    spec : OutputSpec
        The output format.
    float_part : path-like
        The stem as 32-bit float.
    final_part : path-like
        The file to write.
    sample_rate, n_channels : int
        Of the stem.
    gain : float, default=1.0
        From :func:`rescale_gain` (one per input file).
    residual_of : tuple or None, default=None
        ``(input_path, [float parts of the other stems])`` for a residual stem in
        an integer format: it is then written as ``q(input) - sum(q(other))`` in
        integers, so the integer stems add up to the input exactly.

    Returns
    -------
    int
        Samples clamped at full scale (integer formats, ``clamp`` and ``none``;
        ``clamp`` for float and lossy formats).
    """
    import contextlib

    import soundfile as sf

    clamped = 0
    with contextlib.ExitStack() as stack:
        src = stack.enter_context(sf.SoundFile(str(float_part)))
        dst = stack.enter_context(sf.SoundFile(str(final_part), "w", samplerate=sample_rate,
                                               channels=n_channels, **_writer_kwargs(spec, sample_rate)))
        extra = None
        if residual_of is not None and spec.bits is not None:
            inp, others = residual_of
            extra = [stack.enter_context(sf.SoundFile(str(inp)))] + \
                [stack.enter_context(sf.SoundFile(str(p))) for p in others]
        while True:
            block = src.read(frames=_BLOCK, dtype="float32", always_2d=True)
            if not len(block):
                break
            if spec.bits is not None:
                if extra is not None:  # input - others, in integers
                    n = len(block)
                    x = extra[0].read(frames=n, dtype="float64", always_2d=True)
                    q = _quantize(x * gain, spec.bits)
                    for f in extra[1:]:
                        q -= _quantize(f.read(frames=n, dtype="float32", always_2d=True) * gain, spec.bits)
                else:
                    q = _quantize(block * gain, spec.bits)
                lim = 2 ** (spec.bits - 1)
                clamped += int(np.count_nonzero((q < -lim) | (q > lim - 1)))
                dst.write(_to_file_ints(q, spec.bits))
                continue
            if gain != 1.0:
                block = block * np.float32(gain)
            if spec.clip_mode == "clamp":
                clamped += int(np.count_nonzero(np.abs(block) > 1.0))
                block = np.clip(block, -1.0, 1.0)
            dst.write(block)
    return clamped


def report_clipping(spec, name, gain, peak, clamped, stems):
    """Warn once per input file about a rescale (its gain) or clamped samples."""
    if gain != 1.0:
        warnings.warn(f"{name}: peak {peak:.4g} would clip in {spec.describe()}; all stems scaled by "
                      f"{gain:.4g} ({20 * np.log10(gain):+.2f} dB) (--clip-mode clamp clips instead; "
                      "--format wav keeps levels)", UserWarning, stacklevel=3)
    elif clamped and spec.clip_mode == "clamp":
        warnings.warn(f"{name}: {clamped} sample(s) clipped at full scale in {', '.join(stems)} "
                      "(--clip-mode clamp; rescale keeps the waveform)", UserWarning, stacklevel=3)
