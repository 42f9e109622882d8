"""Losses without negative pairs: feature decorrelation (CCA-SSG, Barlow Twins) and BGRL's bootstrap.

All of them are ``O(N d^2)`` (a ``[d, d]`` correlation matrix) or ``O(N d)``: nothing ``N x N``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphcl.checks import check_features
from graphcl.errors import InvalidArgumentError


def _check_views(z1: Tensor, z2: Tensor, minimum: int = 2) -> None:
    check_features(z1, "z1")
    check_features(z2, "z2")
    if z1.shape != z2.shape or z1.dim() != 2:
        raise InvalidArgumentError(f"the two views must both be [N, d], got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if z1.size(0) < minimum:
        raise InvalidArgumentError(f"the loss standardises each dimension over the nodes: it needs at least {minimum} "
                                   f"nodes, got {z1.size(0)}")


def _standardize(z: Tensor, eps: float) -> Tensor:
    """Columns to zero mean over the unbiased standard deviation, :math:`\sqrt{\mathrm{var} + \epsilon}`
    (a constant column becomes 0 with a finite gradient instead of 0 / 0)."""
    return (z - z.mean(0)) / (z.var(0) + eps).sqrt()


class CCASSGLoss(nn.Module):
    r"""CCA-SSG: Zhang et al., "From Canonical Correlation Analysis to Self-supervised Graph Neural
    Networks", NeurIPS 2021.

    With :math:`\tilde Z_v` the views with each column standardised (unbiased variance, as the
    official code; :math:`\sqrt{\mathrm{var} + \epsilon}` so that a constant column gives no NaN) and :math:`C_{uv} = \tilde Z_u^\top \tilde Z_v / N` (``[d, d]``):

    .. math::
        \mathcal L = -\mathrm{tr}(C_{12}) + \lambda \left( \lVert I - C_{11} \rVert_F^2
        + \lVert I - C_{22} \rVert_F^2 \right)

    The invariance term is the official code's :math:`-\mathrm{tr}(C_{12})`, which is the paper's
    :math:`\lVert \tilde Z_1 - \tilde Z_2 \rVert_F^2 / N` halved minus a constant (the columns'
    norms are fixed), so the published per-dataset :math:`\lambda` keep their meaning.

    Shapes: ``z1, z2: [N, d]`` -> scalar. ``O(N d^2)``.
    """

    def __init__(self, lambd: float = 1e-3, eps: float = 1e-12) -> None:
        super().__init__()
        if not lambd >= 0:
            raise InvalidArgumentError(f"lambd must be >= 0, got {lambd}")
        self.lambd, self.eps = float(lambd), eps

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        _check_views(z1, z2)
        n = z1.size(0)
        h1, h2 = _standardize(z1, self.eps), _standardize(z2, self.eps)
        eye = torch.eye(h1.size(1), dtype=h1.dtype, device=h1.device)
        invariance = -(h1 * h2).sum() / n  # -tr(h1^T h2) / N
        decorrelation = (eye - h1.t() @ h1 / n).pow(2).sum() + (eye - h2.t() @ h2 / n).pow(2).sum()
        return invariance + self.lambd * decorrelation

    def extra_repr(self) -> str:
        return f"lambd={self.lambd}"


class BarlowTwinsLoss(nn.Module):
    r"""Barlow Twins on graphs (G-BT): Bielak et al., "Graph Barlow Twins: A self-supervised
    representation learning framework for graphs", Knowledge-Based Systems 2022; Zbontar et al.,
    "Barlow Twins", ICML 2021.

    The cross-correlation of the views with standardised columns,
    :math:`\tilde Z_v = (Z_v - \mu_v) / \sqrt{\sigma_v^2 + \epsilon}` (unbiased :math:`\sigma^2`; the
    official code divides by :math:`\sigma_v + 10^{-15}`, NaN on a constant column), :math:`C = \tilde Z_1^\top \tilde Z_2 / N` (``[d, d]``), pushed to the identity:

    .. math::
        \mathcal L = \sum_i (1 - C_{ii})^2 + \lambda \sum_{i \ne j} C_{ij}^2,
        \qquad \lambda = 1 / d \text{ by default (G-BT)}.

    Shapes: ``z1, z2: [N, d]`` -> scalar. ``O(N d^2)``.
    """

    def __init__(self, lambd: float | None = None, eps: float = 1e-12) -> None:
        super().__init__()
        if lambd is not None and not lambd >= 0:
            raise InvalidArgumentError(f"lambd must be >= 0 (or None for 1 / d), got {lambd}")
        self.lambd, self.eps = lambd, eps

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        _check_views(z1, z2)
        n, d = z1.shape
        c = _standardize(z1, self.eps).t() @ _standardize(z2, self.eps) / n
        lambd = 1.0 / d if self.lambd is None else self.lambd
        on_diagonal = (1 - c.diagonal()).pow(2).sum()
        off_diagonal = c.pow(2).sum() - c.diagonal().pow(2).sum()
        return on_diagonal + lambd * off_diagonal

    def extra_repr(self) -> str:
        return f"lambd={'1/d' if self.lambd is None else self.lambd}"


class BootstrapCosine(nn.Module):
    r"""BGRL's loss: Thakoor et al., "Large-Scale Representation Learning on Graphs via
    Bootstrapping", ICLR 2022 (BYOL: Grill et al., NeurIPS 2020).

    The online predictions :math:`p` of one view regress the target embeddings :math:`t` of the
    other (no gradient to the target), symmetrised over the two views:

    .. math::
        \mathcal L = 2 - \frac1N \sum_i \left[ \cos(p^{(1)}_i, t^{(2)}_i) + \cos(p^{(2)}_i, t^{(1)}_i) \right]

    (the paper's :math:`-\frac2N \sum_i \cos` per direction, shifted by a constant so that a perfect
    fit is 0). ``forward(p1, p2, t1, t2)``, all ``[N, d]`` -> scalar; ``t1, t2`` are detached.
    """

    def forward(self, p1: Tensor, p2: Tensor, t1: Tensor, t2: Tensor) -> Tensor:
        _check_views(p1, p2, minimum=1)
        _check_views(t1, t2, minimum=1)
        if p1.shape != t1.shape:
            raise InvalidArgumentError(f"predictions {tuple(p1.shape)} and targets {tuple(t1.shape)} must have one shape")
        similarity = F.cosine_similarity(p1, t2.detach(), dim=1) + F.cosine_similarity(p2, t1.detach(), dim=1)
        return 2 - similarity.mean()
