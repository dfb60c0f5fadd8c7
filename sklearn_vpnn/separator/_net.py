"""The skorch net of the separators: :class:`SeparatorNet` and how a fit builds it.

skorch receives the module *class*, :class:`~sklearn_vpnn.nn.MaskNet`, with every
argument (hyperparameters and normalisation statistics) as ``module__*``
parameters, and builds the module itself when training starts. The net's
``module`` is then a class, never a second reference to the trained module, so
pickling stores the weights once, and skorch alone maps them to the CPU when a
GPU-trained model is loaded without CUDA.
"""

from contextlib import contextmanager

import numpy as np
import torch
from skorch import NeuralNet
from skorch.helper import predefined_split

from ..nn import DiscriminativeMSELoss, MaskNet
from ._frames import _collate

__all__ = ["SeparatorNet", "mask_loss", "make_net", "restore_net", "lighten", "seeded"]


@contextmanager
def seeded(seed, device="cpu"):
    """torch's global generators seeded with ``seed`` inside, the caller's restored after.

    Seeds the CPU generator and, for a CUDA ``device``, that device's generator,
    inside :func:`torch.random.fork_rng`: what happens inside is reproducible and
    the caller's random stream (``torch.rand``, ``torch.initial_seed()``) is untouched.

    Parameters
    ----------
    seed : int
        The seed.
    device : str or torch.device, default="cpu"
        The device whose generator is seeded besides the CPU's.
    """
    device = torch.device(device)
    cuda = []
    if device.type == "cuda":
        cuda = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=cuda):
        torch.default_generator.manual_seed(seed)
        for index in cuda:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        yield


class SeparatorNet(NeuralNet):
    """skorch net whose target packs the mixture and the source magnitudes.

    ``y_true[:, 0]`` is the mixture magnitude of the current frame and
    ``y_true[:, 1:]`` the source magnitudes, as the loss wants them; when a band
    network's training pass gave the masks of some bins only, the targets of those
    bins. Masks of two networks trained together (a ``MaskNet`` with
    ``dense_join="masks"``) are scored each on its own, the loss their mean.
    Parameters are skorch's ``NeuralNet``'s.
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return mask_loss(self.criterion_, self.module_, y_pred, y_true)


def mask_loss(criterion, module, y_pred, y_true):
    """The loss of a :class:`~sklearn_vpnn.nn.MaskNet`'s masks ``y_pred`` (see :class:`SeparatorNet`).

    Parameters
    ----------
    criterion : callable
        ``criterion(masks, mixture, sources)``, a
        :class:`~sklearn_vpnn.nn.DiscriminativeMSELoss`.
    module : MaskNet
        The network that gave ``y_pred`` (its band network's ``bins``, if any).
    y_pred : torch.Tensor or tuple of torch.Tensor
        Its masks, or the pair of a band and a dense network trained together.
    y_true : torch.Tensor
        ``(batch, 1 + n_sources, n_bins)``: mixture, then source magnitudes.

    Returns
    -------
    torch.Tensor
        The scalar loss.
    """
    if isinstance(y_pred, tuple):  # an ensemble trained together: each network's own loss
        return sum(mask_loss(criterion, module, p, y_true) for p in y_pred) / len(y_pred)
    y_true = y_true.to(y_pred.device)
    bins = getattr(module.model, "bins", None)
    if bins is not None and y_pred.shape[-1] != y_true.shape[-1]:
        y_true = y_true[..., bins]  # a band network's training pass on some bins (BandVPNN)
    return criterion(y_pred, y_true[:, 0], y_true[:, 1:])


def make_net(module_kwargs, *, gamma, lr, max_epochs, batch_size, seed, valid_ds=None,
             callbacks=None, device="cpu", verbose=0, frame_weighting=None):
    """An unfitted :class:`SeparatorNet` that trains a :class:`~sklearn_vpnn.nn.MaskNet`.

    Parameters
    ----------
    module_kwargs : dict
        Arguments of ``MaskNet``, statistics included; each becomes ``module__<name>``.
    gamma : float
        Weight of the discriminative term of the loss.
    lr : float
        Adam learning rate.
    max_epochs : int
        Maximum number of epochs.
    batch_size : int
        Frames per step.
    seed : int
        Seeds the shuffling of the training frames.
    valid_ds : torch.utils.data.Dataset or None, default=None
        The validation frames (None: no validation).
    callbacks : list of (str, Callback) or None, default=None
        skorch callbacks.
    device : str, default="cpu"
        Where the module trains.
    verbose : int, default=0
        skorch's verbosity.
    frame_weighting : {None, "mixture"}, default=None
        The loss's frame weighting (:class:`~sklearn_vpnn.nn.DiscriminativeMSELoss`).

    Returns
    -------
    SeparatorNet
        The net; ``net.fit(train_ds, y=None)`` trains it.
    """
    return SeparatorNet(
        module=MaskNet,
        **{f"module__{k}": v for k, v in module_kwargs.items()},
        criterion=DiscriminativeMSELoss,
        criterion__gamma=gamma,
        criterion__frame_weighting=frame_weighting,
        optimizer=torch.optim.Adam,
        # one fused kernel for all parameters instead of a loop of small ops per tensor
        # (bench_training.py: the Adam stage of a step 11.9 -> 1.9 ms on a loaded machine)
        optimizer__fused=True,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        iterator_train__collate_fn=_collate,
        iterator_train__shuffle=True,
        iterator_train__generator=torch.Generator().manual_seed(seed),
        iterator_valid__collate_fn=_collate,
        train_split=predefined_split(valid_ds) if valid_ds is not None else None,
        callbacks=callbacks,
        device=device,
        verbose=verbose,
    )


def restore_net(module_kwargs, state_dict, *, gamma, lr, max_epochs, batch_size, device="cpu"):
    """An initialised :class:`SeparatorNet` whose module holds ``state_dict``.

    Parameters
    ----------
    module_kwargs : dict
        Hyperparameters of ``MaskNet`` (no statistics: they are in ``state_dict``).
    state_dict : dict of str to array-like
        The module's parameters and buffers (``mean``, ``scale``, ``lo``, ``hi``).
    gamma, lr, max_epochs, batch_size : float, float, int, int
        As for :func:`make_net` (kept on the net, as after a fit).
    device : str, default="cpu"
        Where the module lives.

    Returns
    -------
    SeparatorNet
        Initialised, with the given weights, light like a fitted net (see :func:`lighten`).
    """
    state = {k: v.detach().clone() if torch.is_tensor(v) else torch.from_numpy(np.array(v))
             for k, v in state_dict.items()}
    stats = {k: state[k].float() for k in ("mean", "scale", "lo", "hi")}
    net = make_net({**module_kwargs, **stats}, gamma=gamma, lr=lr, max_epochs=max_epochs,
                   batch_size=batch_size, seed=0, device=device)
    # A fitted net keeps no optimizer (a fit makes a new net), and creating a torch
    # optimizer imports torch._dynamo: seconds of start-up for nothing. skorch's
    # initialize() gets a stand-in that lighten() drops again.
    net.optimizer = _NoOptimizer
    with seeded(0, device):  # the initial weights, overwritten below, draw from a private stream
        net.initialize()
    net.optimizer = torch.optim.Adam
    net.module_.load_state_dict(state)
    return lighten(net)


class _NoOptimizer(torch.optim.Optimizer):
    """Stands in for the optimizer while a net is rebuilt for inference only.

    A subclass (so that skorch registers it and accepts the ``optimizer__*``
    arguments) whose ``__init__`` skips ``Optimizer.__init__``, which imports
    ``torch._dynamo``.
    """

    def __init__(self, params, **kwargs):  # noqa: D107 -- nothing to set up
        self.param_groups = []
        self.state = {}


def lighten(net):
    """Drop what only training needs: the validation data, the callbacks (temp paths), the optimizer.

    Keeps a fitted net light and self-contained to pickle: a separator's ``fit``
    always trains a new net, so Adam's moment buffers (twice the weights) are never
    used again. Returns ``net``.
    """
    net.train_split = None
    net.callbacks = None
    net.callbacks_ = []
    net.__dict__.pop("optimizer_", None)
    return net
