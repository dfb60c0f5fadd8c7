"""The arithmetic of the vector product layer, for training and for inference.

:func:`~sklearn_vpnn.nn.vector_product_linear` trains with
:class:`_VectorProductComponentsFunction` (the weight's three components as
contiguous matrices, six GEMMs of inner dimension ``in``) and infers, without
autograd, with :func:`_vector_product_rows` on stacked ``[-W | W]`` blocks that a
layer caches while its weights are unchanged (four GEMMs, two of them of inner
dimension ``2 * in``). Both do ``6 * in * out`` multiply-adds per row on strided views
of component-major rows, with no copy of the activations. (Every output component is
a matrix product of *views*: ``z_x`` and ``z_z`` read the contiguous row slices
``[a_y | a_z]`` and ``[a_x | a_y]``; ``z_y`` needs ``[a_z | a_x]``, which is not
contiguous, so it is two accumulating GEMMs.)
"""

import torch
from torch.autograd.function import once_differentiable


def _pair_weights(weight):
    """Stack the weight blocks used by the three output components.

    ``weight`` has shape ``(out, in, 3)``. Returns ``B`` of shape ``(3, out, 2 * in)``::

        B[0] = [-W_z | W_y]   so that z_x = [a_y | a_z] @ B[0].T
        B[1] = [-W_x | W_z]   so that z_y = [a_z | a_x] @ B[1].T
        B[2] = [-W_y | W_x]   so that z_z = [a_x | a_y] @ B[2].T

    which is ``(W x a)_x = W_y a_z - W_z a_y`` and its cyclic permutations.
    """
    wx, wy, wz = weight.unbind(-1)
    return torch.stack(
        [torch.cat([-wz, wy], dim=1), torch.cat([-wx, wz], dim=1), torch.cat([-wy, wx], dim=1)]
    )


def _vector_product_rows(a, pairs, bias, out):
    """The inference products (no autograd), written into ``out``.

    ``a`` is ``(N, 3 * in)`` component-major rows, ``pairs`` the stacked blocks of
    :func:`_pair_weights`, ``bias`` ``(3, out)`` or None and ``out`` an ``(N, 3 * out)``
    buffer (inference reuses one; no autograd). Returns ``out``.
    """
    n, three_in = a.shape
    n_in = three_in // 3
    n_out = pairs.shape[1]
    ox, oy, oz = out[:, :n_out], out[:, n_out : 2 * n_out], out[:, 2 * n_out :]
    if bias is None:
        beta = 0.0
    else:
        # bias: (3, out) component-major; broadcast into the three output blocks
        out.view(n, 3, n_out).copy_(bias.unsqueeze(0).expand(n, 3, n_out))
        beta = 1.0
    a_x, a_z = a[:, :n_in], a[:, 2 * n_in :]
    ox.addmm_(a[:, n_in:], pairs[0].t(), beta=beta)  # [a_y | a_z]
    oy.addmm_(a_z, pairs[1, :, :n_in].t(), beta=beta)  # a_z * (-W_x)
    oy.addmm_(a_x, pairs[1, :, n_in:].t())  # + a_x * W_z
    oz.addmm_(a[:, : 2 * n_in], pairs[2].t(), beta=beta)  # [a_x | a_y]
    return out


class _VectorProductComponentsFunction(torch.autograd.Function):
    """Training form of the layer: weights as three contiguous ``(out, in)`` matrices.

    ``a`` is ``(N, 3 * in)`` component-major rows and ``w`` is ``(3, out, in)``
    (``W_x, W_y, W_z``; a free view of a layer's component-major weight). Each
    output component is two GEMMs of inner dimension ``in``::

        z_x = a_z W_y^T - a_y W_z^T,  z_y = a_x W_z^T - a_z W_x^T,  z_z = a_y W_x^T - a_x W_y^T

    so no stacked ``[-W | W]`` blocks are built and differentiated at every step
    (for the window VPNN's first layer that copy cost as much as its forward GEMMs).
    The weight gradient is written straight into a ``(3, out, in)`` buffer, the
    layout of the weight itself. ``6 * in * out`` multiply-adds per row forward, the
    same as inference; first-order differentiable only.
    """

    @staticmethod
    def forward(ctx, a, w, bias):
        n_in = w.shape[2]
        n_out = w.shape[1]
        ac = [a[:, c * n_in : (c + 1) * n_in] for c in range(3)]
        out = torch.empty(a.shape[0], 3 * n_out, dtype=a.dtype, device=a.device)
        if bias is not None:
            out.view(-1, 3, n_out).copy_(bias.unsqueeze(0).expand(a.shape[0], 3, n_out))
        for c in range(3):  # z_c = a_{c+2} W_{c+1}^T - a_{c+1} W_{c+2}^T
            o = out[:, c * n_out : (c + 1) * n_out]
            o.addmm_(ac[(c + 2) % 3], w[(c + 1) % 3].t(), beta=0.0 if bias is None else 1.0)
            o.addmm_(ac[(c + 1) % 3], w[(c + 2) % 3].t(), alpha=-1.0)
        ctx.save_for_backward(a, w)
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        a, w = ctx.saved_tensors
        n_in, n_out = w.shape[2], w.shape[1]
        grad = grad.contiguous()
        g = [grad[:, c * n_out : (c + 1) * n_out] for c in range(3)]
        ac = [a[:, c * n_in : (c + 1) * n_in] for c in range(3)]
        grad_a = grad_w = grad_bias = None
        if ctx.needs_input_grad[0]:
            # a_c feeds z_{c+1} (times -W_{c+2}... see forward) and z_{c+2}:
            # d a_c = g_{c+1} W_{c+2} - g_{c+2} W_{c+1}
            grad_a = torch.empty_like(a)
            for c in range(3):
                d = grad_a[:, c * n_in : (c + 1) * n_in]
                d.addmm_(g[(c + 1) % 3], w[(c + 2) % 3], beta=0.0)
                d.addmm_(g[(c + 2) % 3], w[(c + 1) % 3], alpha=-1.0)
        if ctx.needs_input_grad[1]:
            # W_c multiplies a_{c+1} in z_{c+2} (+) and a_{c+2} in z_{c+1} (-)
            grad_w = torch.empty_like(w, memory_format=torch.contiguous_format)
            for c in range(3):
                grad_w[c].addmm_(g[(c + 2) % 3].t(), ac[(c + 1) % 3], beta=0.0)
                grad_w[c].addmm_(g[(c + 1) % 3].t(), ac[(c + 2) % 3], alpha=-1.0)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.view(-1, 3, n_out).sum(0)
        return grad_a, grad_w, grad_bias


def _component_weights(weight):
    """``weight`` ``(out, in, 3)`` as ``(3, out, in)``: a view for a layer's component-major weight."""
    w = weight.permute(2, 0, 1)
    return w if w.is_contiguous() else w.contiguous()
