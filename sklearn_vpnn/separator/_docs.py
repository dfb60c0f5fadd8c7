"""Docstring pieces shared by :class:`VPNNSeparator` and :class:`DNNSeparator`."""

_COMMON_PARAMS_DOC = """
    context_strides : sequence of int, default={strides}
        What the network sees of the music around each frame: one (previous,
        current, next) vector per bin for each stride ``s``, the frames
        ``(t - s, t, t + s)``. ``(1,)`` is the paper's context window (three
        frames, 23 ms either side at the default hop of 1024 samples at 44.1
        kHz); ``(1, 4, 16)`` adds vectors reaching 0.37 s either side, at the
        cost of a first layer with ``K`` times the inputs. The colour mapping
        reads the current frame only and ignores it.
        {strides_note}
    hidden_units : {hidden_type}, default={hidden}
        Units in each hidden layer (vector units for the VPNN){hidden_note}.
    n_layers : int, default=3
        Number of hidden layers.
    activation : {"relu", "leaky_relu", "elu", "tanh", "sigmoid", "identity"}, default="relu"
        Hidden-layer activation (applied per component in a VPNN).
    gamma : float, default=0.05
        Weight of the discriminative term of the loss, in [0, 1).
    frame_weighting : {None, "mixture"}, default=None
        ``"mixture"`` divides each training frame's loss by its mixture energy
        (floored at a tenth of the batch mean), so that quiet passages count about
        as much as loud ones, as in SDR's median over 1 s windows; None weights
        every frame alike.
    loss_target : {"magnitude", "phase_sensitive"}, default="{loss_target}"
        What the loss compares each masked mixture magnitude with: the source's
        magnitude (the paper), or its phase-sensitive magnitude
        ``|S| cos(angle(S) - angle(X))`` clipped to ``[0, |X|]`` (Erdogan et al.,
        2015), the part of the source in phase with the mixture: a mask on the
        mixture can give back no more, and the waveform's error (hence SDR)
        counts the rest.
    stereo : bool, default=False
        Stereo cues: the network separating one channel also reads the same
        context of the track's other channel (a mono track's own channel), so
        panning and the difference between channels can tell the sources apart.
        The first layer gets twice the inputs. Not for the colour mapping.
    sources : sequence of str, default=("drums", "accompaniment")
        Names of the sources, in the order of ``y``'s second axis.
    max_epochs : int, default=30
        Maximum number of passes over the training frames (about 5 minutes for
        the 80 MUSDB18-7 training clips on a 2-core CPU).
    lr : float, default=1e-3
        Initial Adam learning rate; it is halved whenever the validation loss
        (training loss without validation) has not improved for two epochs.
    batch_size : int, default=256
        Frames per optimisation step.
    remix : float, default=0.5
        Probability that a source of a training frame is drawn from a random
        frame of a random training track (random remixing augmentation); 0
        trains on the given mixtures only.
    gain_db : float, default=3.0
        Random gain per source and frame, uniform in ``[-gain_db, gain_db]`` dB.
    eq_db : float, default=0.0
        Random equaliser per source and frame (mixing-style augmentation): a
        smooth gain curve over frequency, uniform in ``[-eq_db, eq_db]`` dB at
        six log-spaced frequencies and interpolated in log-frequency between
        them, the same on the frame's context. 0 disables it.
    pitch_shift : float, default=0.0
        Random pitch shift per source and frame, uniform in ``[-pitch_shift,
        pitch_shift]`` semitones (at most 12), made by stretching the frequency
        axis (nearest bin; what leaves the top bin is dropped). 0 disables it.
    validation_fraction : float, default=0.1
        Fraction of the training *tracks* held out to monitor training: the
        validation loss drives the learning-rate schedule and early stopping
        (and picks the best epoch when ``average`` is off). 0 disables
        validation.
    patience : int or None, default=None
        Early stopping: epochs without improvement of the validation loss
        before training stops. None (the default) trains all ``max_epochs``: the
        weight average is what is kept, and the validation loss of a few held-out
        tracks proved a poor guide to when to stop (see the results page).
    average : float or None, default=0.999
        Decay of an exponential moving average of the weights over training
        steps (Polyak averaging; 0.999 averages roughly the last 1000 steps,
        about three epochs on MUSDB18-7). When training ends (last epoch, early
        stopping, ``max_time`` or Ctrl-C) the model keeps the averaged weights.
        ``None`` or 0 keeps instead the epoch with the best monitored loss
        (validation loss, or training loss without validation).
    max_time : float or None, default=None
        Training time budget in seconds; training stops after the first batch
        past it (but never before one whole epoch is done) and keeps the model
        so far (the weight average, or the best epoch when ``average`` is off).
    wiener_iterations : int, default=0
        Multichannel Wiener filter iterations applied to the separated
        spectrograms (0 = plain masking).
    shifts : int, default=1
        Frame grids to separate on: ``transform`` separates the mixture again
        on grids moved by ``hop_length / shifts`` samples and averages the
        separated waveforms (an ensemble of the model on other frames; the
        output is the STFT of that average, on the input's grid). ``shifts``
        times the separation work; 1 separates once. Training is unchanged, so
        it can be set after ``fit``. On MUSDB18 a second grid gained 0.16 dB
        drums SDR at 50% overlap (``hop_length = n_fft // 2``) and nothing at
        the default STFT's 75%. :meth:`predict_masks` gives the masks of
        the input's own grid. Model files and pickles from before this
        parameter separate as they did (1).
    device : str, default="auto"
        "auto" uses CUDA when available, else the CPU; or "cpu", "cuda", "cuda:N".
    cache : {"auto", "memory", "disk"}, default="auto"
        Where the training targets (source STFTs) live during ``fit``.
        ``"memory"``: one array for all tracks. ``"disk"``: computed one track
        at a time into raw files in the fit's temporary folder (``$TMPDIR``) and
        read back batch by batch, so memory stays bounded by one track whatever
        the dataset size; same seed, same model as ``"memory"``. ``"auto"``:
        ``"disk"`` for lazily loaded data (``load_musdb(..., lazy=True)``),
        else ``"memory"``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, data shuffling, remixing and the
        validation split. An int makes two fits identical.
    verbose : int, default=0
        0 is silent; 1 prints the per-epoch table and a progress bar.
"""

_COMMON_ATTRS_DOC = """
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the PyTorch model.
    sources_ : tuple of str
        Source names, in output order.
    n_bins_ : int
        Frequency bins the model was trained on.
    n_channels_ : int
        Channels of the training mixtures.
    stft_params_ : dict
        Parameters of the STFT that made the training spectrograms.
    history_ : list of dict
        Per-epoch ``train_loss``, ``valid_loss`` and duration.
    n_epochs_ : int
        Epochs actually run.
"""


#: the band network's parameters of VPNNSeparator
_BAND_PARAMS_DOC = """\
    band_radius : int or None, default=4
        A :class:`~sklearn_vpnn.nn.BandVPNN` beside the dense network: one small
        vector product network of ``band_units`` units shared by every bin, reading
        the context vectors of the ``2 r + 1`` bins around it. None: no band
        network, the paper's dense network alone, every hidden unit reading every
        bin. The colour mapping reads the current frame only and ignores it (the
        colour VPNN trains alone), as it ignores ``context_strides``.
    band_units : int, default=32
        Vector units in each hidden layer of the band network.
    band_bins : int, default=128
        The bins of each training batch whose band-network masks are computed and
        scored (random, the same for the batch's frames); a bin's masks depend on
        its band alone, so this samples the loss at a fraction of the cost.
        Separation always computes every bin.
    band_join : {"masks", "outputs"}, default="masks"
        How the band network and the dense one (``hidden_units``) are joined.
        ``"masks"``: an ensemble trained in one fit, each network masking on its
        own and scored on its own loss (the training loss is their mean), the
        separator's masks the average of the two. ``"outputs"``: one network,
        their outputs added before one masking layer, trained on one loss.
"""


#: what the VPNN's default context says about itself
_VPNN_DEFAULT_NOTE = (
    "The default, with ``hidden_units=256`` and a band network beside it, is the\n"
    "        recipe that scored best on MUSDB18-7 valid (see the results page);\n"
    "        ``band_radius=None, context_strides=(1,), hidden_units=512,\n"
    "        loss_target=\"magnitude\"`` is the paper's WVPNN exactly.")

#: the VPNN's dense network may be left out
_VPNN_HIDDEN_NOTE = (" of the dense network (the paper's: every unit reads every bin); None:\n"
                     "        no dense network, the band network alone")


def params_doc(strides, hidden, strides_note="", loss_target="magnitude", hidden_type="int", hidden_note=""):
    """:data:`_COMMON_PARAMS_DOC` with one estimator's defaults filled in."""
    return (_COMMON_PARAMS_DOC.replace("{strides}", strides).replace("{hidden_type}", hidden_type)
            .replace("{hidden_note}", hidden_note).replace("{hidden}", hidden)
            .replace("{strides_note}", strides_note).replace("{loss_target}", loss_target))
