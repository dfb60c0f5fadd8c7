"""The band network's training pass as one autograd function, with a hand-written backward.

Autograd, layer by layer, spends more of a band network's training step outside
its matrix products than in them: ``addmm`` first copies the bias into its output,
the activation makes another pass, the per-bin bias added in place to a view of the
first layer's output makes autograd copy that whole gradient twice (``CopySlices``),
and every gradient of the backward pass is a fresh tensor. :class:`_BandStack` runs
the same products with the bias and the activation in one pass over each output
(``torch.ops.aten._add_relu_`` for ReLU), and its backward writes each activation's
derivative into the gradient it owns instead of a new one. The model is the same
(``tests/test_band.py`` checks values and gradients against autograd's).
"""

import weakref

import torch
from torch import nn

from ._common import _activate_

__all__ = []


def _threshold(act, g, a):
    return torch.ops.aten.threshold_backward.grad_input(g, a, 0, grad_input=g)


def _leaky(act, g, a):
    return torch.ops.aten.leaky_relu_backward.grad_input(g, a, act.negative_slope, True, grad_input=g)


def _elu(act, g, a):
    return torch.ops.aten.elu_backward.grad_input(g, act.alpha, 1, 1, True, a, grad_input=g)


#: the activation's derivative from its *output* ``a``, times the gradient ``g``, written into ``g``
_BACKWARD = {
    nn.ReLU: _threshold,
    nn.Identity: lambda act, g, a: g,
    nn.Tanh: lambda act, g, a: torch.ops.aten.tanh_backward.grad_input(g, a, grad_input=g),
    nn.Sigmoid: lambda act, g, a: torch.ops.aten.sigmoid_backward.grad_input(g, a, grad_input=g),
    nn.LeakyReLU: _leaky,
    nn.ELU: _elu,
}


def _add_activate_(act, z, bias):
    """``act(z + bias)`` written into ``z``; ``bias`` broadcasts over ``z`` (one fused pass for ReLU)."""
    if bias is None:
        return _activate_(act, z)
    view = z.view(-1, *bias.shape)  # (rows, out) or (frames, bins, out) for a per-bin bias
    if type(act) is nn.ReLU and z.device.type == "cpu":  # ATen's fused kernel is a CPU one
        torch.ops.aten._add_relu_(view, bias)
        return z
    view.add_(bias)
    return _activate_(act, z)


class _Workspace:
    """Buffers that a band network's training passes reuse, step after step.

    A fresh tensor as large as a band network's activations (tens of MB) is fresh
    pages for the kernel to map and zero on every step; a set of buffers taken here
    is given back when the autograd graph that saved it is freed (and not before, so
    that no live graph, ``retain_graph=True`` included, ever sees them overwritten).
    Two free sets are kept: skorch holds the last step's graph while it runs the next.
    """

    keep = 2

    def __init__(self):
        self._free = []

    def take(self, key, make):
        """A free set of buffers made for ``key``, or ``make()``."""
        for i, (k, _) in enumerate(self._free):
            if k == key:
                return self._free.pop(i)[1]
        return make()

    def give(self, key, buffers):
        """Back to the free sets (the oldest beyond :attr:`keep` is dropped)."""
        self._free.append((key, buffers))
        del self._free[:-self.keep]

    def clear(self):
        """Drop every free set (their memory goes back to the allocator)."""
        self._free.clear()


class _BandStack(torch.autograd.Function):
    """The bands of ``padded`` around some bins through the band network: the head's ``(N, 3 out)``.

    ``padded`` is ``(batch, bins + 2 r, K, 3)`` (see ``BandVPNN._padded``) and
    ``index`` ``(n, 2 r + 1)`` the padded bins of each of the ``n`` bands, so that
    the rows, ``batch x n`` of them, are gathered in one pass. ``weights`` alternate
    each layer's ``(3 in, 3 out)`` cross matrix (the first one's rows in the rows'
    order) and its bias (None, ``(3 out,)``, or ``(n, 3 out)`` for a bias per bin);
    every layer but the last is followed by ``act``. The rows, the activations and
    the backward's gradients live in buffers of ``workspace`` (None: fresh tensors).
    """

    @staticmethod
    def forward(ctx, act, workspace, padded, index, *weights):
        mats, biases = weights[0::2], weights[1::2]
        B, P, K, _ = padded.shape
        N, H = B * index.shape[0], mats[0].shape[1]

        def make():
            new = padded.new_empty
            return [new(N, mats[0].shape[0]), *(new(N, H) for _ in range(len(mats) + 1))]

        key = (N, mats[0].shape[0], H, len(mats), padded.dtype, padded.device)
        buffers = make() if workspace is None else workspace.take(key, make)
        if workspace is not None:  # back to the workspace once autograd frees this graph
            weakref.finalize(ctx, workspace.give, key, buffers)
        rows = buffers[0]
        torch.index_select(padded.view(B, P, 3 * K), 1, index.flatten(), out=rows.view(B, -1, 3 * K))
        hidden = []
        a = rows
        for j, (m, bias) in enumerate(zip(mats, biases)):
            if j < len(mats) - 1:
                z = torch.mm(a, m, out=buffers[1 + j])
                a = _add_activate_(act, z, bias)
                hidden.append(a)
            else:
                z = torch.mm(a, m)
                a = z if bias is None else z.view(-1, *bias.shape).add_(bias).view(z.shape)
        ctx.act, ctx.buffers = act, buffers
        ctx.bias_shapes = [None if b is None else b.shape for b in biases]
        ctx.padded_shape = padded.shape
        ctx.save_for_backward(index, rows, *hidden, *mats)
        return a

    @staticmethod
    def backward(ctx, g):
        index, *saved = ctx.saved_tensors
        n = len(ctx.bias_shapes)
        inputs, mats = saved[:n], saved[n:]
        spare = ctx.buffers[-2:]  # the backward's gradients, in turn
        grads = [None] * (2 * n)
        g = g.contiguous()
        derivative = _BACKWARD[type(ctx.act)]
        for j in reversed(range(n)):
            if j < n - 1:  # g is our buffer: the activation's derivative is written into it
                g = derivative(ctx.act, g, inputs[j + 1])
            if ctx.needs_input_grad[4 + 2 * j]:
                grads[2 * j] = torch.mm(inputs[j].t(), g)
            shape = ctx.bias_shapes[j]
            if shape is not None and ctx.needs_input_grad[5 + 2 * j]:
                grads[2 * j + 1] = g.view(-1, *shape).sum(0)
            if j > 0:
                g = torch.mm(g, mats[j].t(), out=spare[j % 2])
            elif ctx.needs_input_grad[2]:  # the input's gradient (tests; a fit's inputs need none)
                B, P, K, _ = ctx.padded_shape
                g_rows = torch.mm(g, mats[0].t()).view(B, -1, 3 * K)
                g_padded = g_rows.new_zeros(B, P, 3 * K).index_add_(1, index.flatten(), g_rows)
                return (None, None, g_padded.view(ctx.padded_shape), None, *grads)
        return (None, None, None, None, *grads)
