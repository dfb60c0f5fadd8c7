"""Short-time Fourier transform steps for scikit-learn pipelines.

:class:`STFT` turns waveforms into a :class:`Spectrogram`, a complex array that
remembers the transform that made it and each track's length, so that
:class:`InverseSTFT` can restore waveforms of exactly the original lengths, and a
separator can derive its training targets with the very same transform.

Modules: ``_checks`` (waveform validation, :func:`as_waveforms`), ``_stft`` (STFT
parameters, frame geometry, :func:`n_frames`, the PyTorch kernels), ``_spectrogram``
(:class:`Spectrogram`, :class:`LazySpectrogram` and :class:`STFT`, which makes them)
and ``_inverse`` (:class:`InverseSTFT`). The lazy containers recognise
:class:`~sklearn_vpnn.datasets.LazyTracks` by type: this package imports
``sklearn_vpnn.datasets._lazy``, and nothing in datasets imports this package at
import time.

Notes
-----
Frame ``t`` of a track covers the samples ``[t * hop_length - p, t * hop_length - p
+ n_fft)`` with ``p = n_fft // 2`` when ``center=True`` and ``p = 0`` otherwise;
samples outside the track are zeros. This is ``librosa.stft(..., pad_mode="constant")``
and, for ``center=False``, ``scipy.signal.stft(..., boundary=None, padded=True,
scaling="spectrum")`` up to the factor ``sum(window)``. The frame count
(:func:`n_frames`) is librosa's, raised where needed so that every sample lies under
some frame: with ``center=False`` (librosa drops the tail that does not fill a whole
frame; we keep it, zero-padded, like scipy's ``padded=True``) and with
``hop_length > n_fft // 2`` and ``center=True``. The first frames are identical.
"""

from ._checks import as_waveforms
from ._inverse import InverseSTFT
from ._spectrogram import STFT, LazySpectrogram, Spectrogram
from ._stft import n_frames

__all__ = ["STFT", "InverseSTFT", "Spectrogram", "LazySpectrogram", "as_waveforms", "n_frames"]
