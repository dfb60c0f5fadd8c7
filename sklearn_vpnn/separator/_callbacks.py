"""skorch callbacks of the separators' training, and the list a fit uses.

:class:`TimeBudget` stops training after ``max_time`` seconds, :class:`WeightAveraging`
keeps an exponential moving average of the weights, :class:`BestCheckpoint` keeps the
best epoch; :func:`make_callbacks` puts together the callbacks of one fit.
"""

import time
import warnings

import torch
from skorch.callbacks import Callback, Checkpoint, EarlyStopping, LRScheduler, ProgressBar
from skorch.utils import noop

__all__ = ["TimeBudget", "WeightAveraging", "BestCheckpoint", "make_callbacks"]

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
    return callbacks
