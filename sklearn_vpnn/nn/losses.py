"""Training losses on masked magnitudes."""

import numbers

import torch
from torch import nn

__all__ = ["DiscriminativeMSELoss"]

#: frames quieter than this fraction of the batch's mean energy get no larger weight than it gives
_FRAME_FLOOR = 0.1


class DiscriminativeMSELoss(nn.Module):
    r"""Discriminative mean squared error of masked magnitudes (Huang et al., 2014).

    With estimates ``E_s = m_s * X`` (mask times mixture magnitude) and targets
    ``Y_s``, the per-element loss at batch item ``b`` and bin ``f`` is

    .. math::

        \ell_{bf} = \sum_s (E_{s,bf} - Y_{s,bf})^2
                    - \gamma \sum_s \sum_{k \ne s} (E_{s,bf} - Y_{k,bf})^2

    and the loss is its mean over all ``batch * bins`` elements (leading dimensions
    included), i.e. ``sum_{b,f} l_bf / (B * F)``. With ``gamma = 0`` it is the plain
    MSE summed over sources; the cross terms push each estimate away from the other
    sources. ``gamma >= 1`` makes the loss unbounded below (training diverges), hence
    the check.

    Parameters
    ----------
    gamma : float, default=0.05
        Weight of the discriminative (cross-source) terms, ``0 <= gamma < 1``.
    frame_weighting : {None, "mixture"}, default=None
        ``"mixture"`` weights each frame's loss by ``1 / (e_b + 0.1 * mean(e))``, with
        ``e_b`` the mean squared mixture magnitude of frame ``b`` and the mean over the
        batch (weights rescaled to average 1): quiet frames count about as much as
        loud ones, as in SDR's median over windows, which does not depend on level.
        None: every element counts the same (loud frames dominate).

    Examples
    --------
    >>> import torch
    >>> from sklearn_vpnn.nn import DiscriminativeMSELoss
    >>> masks = torch.tensor([[[1.0], [0.0]]])      # (B=1, S=2, F=1)
    >>> mixture = torch.tensor([[2.0]])             # (B=1, F=1)
    >>> targets = torch.tensor([[[1.0], [1.0]]])    # (B=1, S=2, F=1)
    >>> DiscriminativeMSELoss(gamma=0.5)(masks, mixture, targets)  # 2 - 0.5 * 2
    tensor(1.)
    """

    def __init__(self, gamma=0.05, frame_weighting=None):
        super().__init__()
        if (not isinstance(gamma, numbers.Real) or isinstance(gamma, bool)
                or not 0 <= gamma < 1):
            raise ValueError(f"gamma must be a real number with 0 <= gamma < 1, got {gamma!r}")
        if frame_weighting not in (None, "mixture"):
            raise ValueError(f'frame_weighting must be None or "mixture", got {frame_weighting!r}')
        self.gamma = float(gamma)
        self.frame_weighting = frame_weighting

    def forward(self, masks, mixture, targets):
        """Compute the loss.

        Parameters
        ----------
        masks : torch.Tensor
            ``(B, S, F)`` masks (any leading dimensions before ``S``).
        mixture : torch.Tensor
            ``(B, F)`` mixture magnitudes (or ``(B, 1, F)``).
        targets : torch.Tensor
            ``(B, S, F)`` target source magnitudes.

        Returns
        -------
        torch.Tensor
            Scalar.

        Examples
        --------
        >>> import torch
        >>> from sklearn_vpnn.nn import DiscriminativeMSELoss
        >>> m = torch.full((4, 2, 3), 0.5)
        >>> x = torch.ones(4, 3)
        >>> DiscriminativeMSELoss()(m, x, m * x[:, None])
        tensor(0.)
        """
        if masks.shape != targets.shape:
            raise ValueError(f"masks {tuple(masks.shape)} and targets {tuple(targets.shape)} differ")
        if mixture.dim() == masks.dim() - 1:
            mixture = mixture.unsqueeze(-2)
        est = masks * mixture  # (..., S, F)
        n_sources = masks.shape[-2]
        # all pairs (s, k): (..., S, S, F); S is small (2 for drums/rest)
        sq = (est.unsqueeze(-2) - targets.unsqueeze(-3)).square()
        eye = torch.eye(n_sources, dtype=torch.bool, device=masks.device)
        # weight +1 on own-source terms (s == k), -gamma on cross terms (s != k)
        weights = torch.where(eye, 1.0, -self.gamma).to(sq.dtype).unsqueeze(-1)
        per_element = (sq * weights).sum(dim=(-3, -2))  # (..., F)
        if self.frame_weighting is None:
            return per_element.mean()
        energy = mixture.squeeze(-2).detach().square().mean(-1)  # (...,) per frame
        w = 1.0 / (energy + _FRAME_FLOOR * energy.mean())
        return (per_element.mean(-1) * (w / w.mean())).mean()

    def extra_repr(self):
        return f"gamma={self.gamma}" + ("" if self.frame_weighting is None else
                                        f", frame_weighting={self.frame_weighting!r}")
