"""What the models share: activation names, mappings, and the checks and reshapes of their inputs."""

import math

from torch import nn

from .._validation import check_choice, check_number

__all__ = []

#: Supported activation names -> (module factory, initialisation gain).
ACTIVATIONS = {
    "relu": (nn.ReLU, math.sqrt(2.0)),
    "leaky_relu": (lambda: nn.LeakyReLU(0.01), nn.init.calculate_gain("leaky_relu", 0.01)),
    # E[elu(z)^2] ~ 0.6 for z ~ N(0, 1) (ReLU: 0.5), so gain^2 ~ 1 / 0.6
    "elu": (nn.ELU, math.sqrt(5.0 / 3.0)),
    "tanh": (nn.Tanh, 5.0 / 3.0),
    "sigmoid": (nn.Sigmoid, 1.0),
    "identity": (nn.Identity, 1.0),
}

#: Supported real -> 3-D mappings of :class:`VPNN`.
MAPPINGS = ("window", "color")


def _check_sizes(n_bins, n_sources, hidden_units, n_layers):
    """The four sizes every model takes, as Python ints."""
    return (check_number(n_bins, "n_bins", integer=True, low=1),
            check_number(n_sources, "n_sources", integer=True, low=2),
            check_number(hidden_units, "hidden_units", integer=True, low=1),
            check_number(n_layers, "n_layers", integer=True, low=1))


def _activation(name):
    factory, gain = ACTIVATIONS[check_choice(name, "activation", sorted(ACTIVATIONS))]
    return factory(), gain


def _check_input(x, n_bins, n_scales=1):
    if x.dim() < 2 or x.shape[-2:] != (3 * n_scales, n_bins):
        what = "prev, cur, next frames" + (f" at each of {n_scales} strides" if n_scales > 1 else "")
        raise ValueError(f"expected input of shape (batch, {3 * n_scales}, {n_bins}) [{what}], "
                         f"got {tuple(x.shape)}")


def _check_scales(n_scales, mapping="window"):
    n_scales = check_number(n_scales, "n_scales", integer=True, low=1)
    if n_scales > 1 and mapping != "window":
        raise ValueError(f"n_scales > 1 needs mapping='window' (the colour map reads one frame); "
                         f"got n_scales={n_scales} with mapping={mapping!r}")
    return n_scales


def _scales_to_vectors(x, n_scales):
    """``(..., 3 * K, F)`` context rows -> ``(..., 3, K * F)``: K vectors per bin, component-major.

    Row ``3 k + c`` holds component ``c`` (prev, cur, next) of the ``k``-th stride; the
    vectors of stride ``k`` become input units ``k * F ... (k + 1) * F - 1``.
    """
    if n_scales == 1:
        return x
    *lead, _, F = x.shape
    x = x.reshape(*lead, n_scales, 3, F).transpose(-3, -2)
    return x.reshape(*lead, 3, n_scales * F)


#: in-place forms of the activations, for inference into reused buffers
_INPLACE = {
    nn.ReLU: lambda act, x: x.relu_(),
    nn.Identity: lambda act, x: x,
    nn.Tanh: lambda act, x: x.tanh_(),
    nn.Sigmoid: lambda act, x: x.sigmoid_(),
    nn.LeakyReLU: lambda act, x: nn.functional.leaky_relu_(x, act.negative_slope),
    nn.ELU: lambda act, x: nn.functional.elu_(x, act.alpha),
}


def _activate_(act, x):
    """``act(x)`` written into ``x`` (the activation's in-place form where it has one)."""
    inplace = _INPLACE.get(type(act))
    return inplace(act, x) if inplace is not None else x.copy_(act(x))
