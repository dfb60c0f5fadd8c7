"""skorch callbacks of the separators' training, and the list a fit uses.

:class:`TimeBudget` stops training after ``max_time`` seconds, :class:`WeightAveraging`
keeps an exponential moving average of the weights, :class:`BestCheckpoint` keeps the
best epoch, :class:`FiniteLoss` stops a diverging training with an error;
:func:`make_callbacks` puts together the callbacks of one fit.
"""

import math
import time
import warnings

import torch
from skorch.callbacks import Callback, Checkpoint, EarlyStopping, LRScheduler, ProgressBar
from skorch.utils import noop

__all__ = ["TimeBudget", "WeightAveraging", "BestCheckpoint", "FiniteLoss", "TrainingDivergedError",
           "make_callbacks"]

# the learning rate is multiplied by _LR_FACTOR when the monitored loss has not
# improved for _LR_PATIENCE epochs (ReduceLROnPlateau)
_LR_PATIENCE = 2
_LR_FACTOR = 0.5


class TimeBudget(Callback):
    """Stop training once ``max_time`` seconds have passed.

    It raises ``KeyboardInterrupt``, skorch's own way to end ``fit`` early (its
    ``EarlyStopping`` does the same), so the end-of-training callbacks still run:
    the model keeps the weight average (or the best epoch when averaging is off).

    Parameters
    ----------
    max_time : float
        Training time budget in seconds; training stops after the first batch
        past it, but never before one whole epoch is done.
    """

    def __init__(self, max_time):
        self.max_time = max_time

    def on_train_begin(self, net, **kwargs):
        self.start_ = time.monotonic()

    def on_batch_end(self, net, training=True, **kwargs):
        # stop only once an epoch has been completed (and checkpointed)
        if training and len(net.history) > 1 and time.monotonic() - self.start_ > self.max_time:
            if net.verbose:
                print(f"Stopping: training time budget of {self.max_time:.0f} s used up.")
            raise KeyboardInterrupt


class WeightAveraging(Callback):
    """Exponential moving average of the weights over training steps, kept at the end.

    After every training step ``avg = d * avg + (1 - d) * w`` with
    ``d = min(decay, (1 + t) / (10 + t))`` at step ``t`` (the warm-up keeps the
    random initial weights from lingering in the average). Training, validation,
    the learning-rate schedule and early stopping run on the raw weights; when
    training ends, for whatever reason (last epoch, early stopping, time budget,
    Ctrl-C), the module takes the averaged weights.

    Parameters
    ----------
    decay : float
        The decay ``d`` after the warm-up, in [0, 1).
    """

    def __init__(self, decay):
        self.decay = decay

    @staticmethod
    def _params(net):
        return list(net.module_.parameters())  # buffers (normalisation) do not change in training

    def on_train_begin(self, net, **kwargs):
        self.average_ = [t.detach().clone() for t in self._params(net)]
        self.steps_ = 0

    def on_batch_end(self, net, training=True, **kwargs):
        if training:
            self.steps_ += 1
            d = min(float(self.decay), (1.0 + self.steps_) / (10.0 + self.steps_))
            with torch.no_grad():
                for a, t in zip(self.average_, self._params(net)):
                    a.lerp_(t.detach(), 1.0 - d)

    def on_train_end(self, net, **kwargs):
        if self.steps_:
            with torch.no_grad():
                for t, a in zip(self._params(net), self.average_):
                    t.copy_(a)
        self.average_ = None


class BestCheckpoint(Checkpoint):
    """skorch's ``Checkpoint`` that restores the best epoch at the end of training.

    It does nothing (instead of failing) when training stopped before any epoch
    was checkpointed, e.g. Ctrl-C during the first epoch, and warns that the model
    is barely trained. Parameters are skorch's ``Checkpoint``'s.
    """

    def on_train_end(self, net, **kwargs):
        if any(row.get(self.event_name) for row in net.history):
            super().on_train_end(net, **kwargs)
        else:
            warnings.warn(
                "training stopped before its first epoch ended; the model keeps the "
                "weights it had at that moment, which are barely trained",
                UserWarning,
                stacklevel=2,
            )


class TrainingDivergedError(FloatingPointError):
    """Training produced a NaN or infinite loss or weights (a :class:`FloatingPointError`)."""


class FiniteLoss(Callback):
    """Stop training with :class:`TrainingDivergedError` once a loss or the weights stop being finite.

    Checks the loss of every training batch, the validation loss of every epoch
    and, when training ends, the weights the model keeps (after the weight average
    or the best epoch is restored). The message names the epoch and the learning
    rate, the usual cause: a diverged model never reaches ``transform``, where its
    NaN masks would look like bad input.
    """

    @staticmethod
    def _fail(net, what):
        raise TrainingDivergedError(
            f"training diverged: {what} in epoch {len(net.history)} (learning rate lr={net.lr:g}); "
            "a smaller lr (the default is 1e-3) usually fixes it"
        )

    def on_batch_end(self, net, batch=None, training=True, loss=None, **kwargs):
        if training and loss is not None:
            value = loss.item() if torch.is_tensor(loss) else float(loss)
            if not math.isfinite(value):
                self._fail(net, f"the training loss became {value}")

    def on_epoch_end(self, net, **kwargs):
        valid = net.history[-1].get("valid_loss") if len(net.history) else None
        if valid is not None and not math.isfinite(valid):
            self._fail(net, f"the validation loss became {valid}")

    def on_train_end(self, net, **kwargs):
        with torch.no_grad():
            bad = [n for n, t in net.module_.named_parameters() if not bool(torch.isfinite(t).all())]
        if bad:
            self._fail(net, f"the weights {', '.join(bad[:3])} hold NaN or infinite values")


def make_callbacks(*, validation, average, patience, max_time, verbose, dirname):
    """The skorch callbacks of one fit, as ``(name, callback)`` pairs.

    Parameters
    ----------
    validation : bool
        Whether there is a validation set: the monitored loss is then
        ``valid_loss``, else ``train_loss``.
    average : float or None
        Decay of the weight average kept at the end; None or 0 keeps the best
        epoch instead (checkpointed in ``dirname``).
    patience : int or None
        Early stopping patience in epochs (None: no early stopping).
    max_time : float or None
        Training time budget in seconds (None: none).
    verbose : bool
        Whether early stopping speaks and a progress bar shows.
    dirname : str
        Folder of the best-epoch checkpoint.

    Returns
    -------
    list of (str, skorch.callbacks.Callback)
        The callbacks, in the order skorch runs them.
    """
    monitor = "valid_loss" if validation else "train_loss"
    callbacks = []
    if average:
        # the moving average of the weights is what is kept at the end
        callbacks.append(("weight_averaging", WeightAveraging(float(average))))
    else:
        # the best epoch (by the monitored loss) is what is kept at the end
        checkpoint = BestCheckpoint(monitor=f"{monitor}_best", dirname=dirname, f_params="params.pt",
                                    f_optimizer=None, f_criterion=None, f_history=None,
                                    load_best=True, sink=noop)
        callbacks.append(("checkpoint", checkpoint))
    callbacks.append(("lr_plateau", LRScheduler(policy="ReduceLROnPlateau", monitor=monitor,
                                                patience=_LR_PATIENCE, factor=_LR_FACTOR)))
    if patience is not None:
        callbacks.append(("early_stopping", EarlyStopping(monitor=monitor, patience=patience,
                                                          sink=print if verbose else noop)))
    if max_time is not None:
        callbacks.append(("time_budget", TimeBudget(float(max_time))))
    if verbose:
        callbacks.append(("progress", ProgressBar()))
    # last, so that at train end it checks the weights the model keeps
    callbacks.append(("finite_loss", FiniteLoss()))
    return callbacks
