r"""Cluster-level objectives: Student-t soft assignment, DEC's KL, SCGC's neighbour contrast, PamC,
prototypical contrast (ProtoNCE).

Conventions shared by :class:`NeighbourContrast` and :class:`MetaNodeContrast`: similarities are
cosines, :math:`s_{ij} = \cos(z_i, z_j)`, and a pair of an item with itself enters every sum with
its similarity masked to 0 (so it contributes :math:`e^0 = 1`, weighted by :math:`\hat A_{ii}` in the
positive sum), as the official SCGC and PamC code (after Graph-MLP) does. This keeps every
logarithm finite, including for isolated nodes, whose only positive is themselves.
``tau`` is a temperature (logits are :math:`s / \tau`); the official code's ``--tau`` multiplies
the similarities instead, so its ``tau = t`` is our ``tau = 1 / t``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.utils import scatter

from graphcl.errors import InvalidArgumentError
from graphcl.losses.chunked import chunked_logsumexp
from graphcl.losses.positives import PositivePairs, log_positive_mass


def _check_tau(tau: float) -> float:
    if not tau > 0:
        raise InvalidArgumentError(f"tau must be > 0, got {tau}")
    return float(tau)


def student_t_assignment(z: Tensor, centers: Tensor, nu: float = 1.0) -> Tensor:
    r"""DEC's soft assignment :math:`q_{ik} \propto (1 + \lVert z_i - \mu_k \rVert^2 / \nu)^{-(\nu + 1)/2}`.

    Rows sum to 1. The squared distances use :math:`\lVert z\rVert^2 + \lVert\mu\rVert^2 - 2 z^\top\mu`,
    so memory is ``O(N K)``, never ``O(N K d)``. Shapes: ``z [N, d]``, ``centers [K, d]`` -> ``[N, K]``.
    (Xie et al., "Unsupervised Deep Embedding for Clustering Analysis", ICML 2016.)
    """
    dist2 = (z.pow(2).sum(1, keepdim=True) + centers.pow(2).sum(1) - 2.0 * z @ centers.T).clamp_min(0.0)
    q = (1.0 + dist2 / nu).pow(-(nu + 1.0) / 2.0)
    return q / q.sum(1, keepdim=True)


@torch.no_grad()
def target_distribution(q: Tensor) -> Tensor:
    r"""DEC's sharpened target :math:`p_{ik} = \frac{q_{ik}^2 / f_k}{\sum_{k'} q_{ik'}^2 / f_{k'}}`, :math:`f_k = \sum_i q_{ik}`.

    Detached (a fixed target for the epoch). Shapes: ``[N, K] -> [N, K]``.
    """
    weight = q.pow(2) / q.sum(0).clamp_min(torch.finfo(q.dtype).tiny)
    return weight / weight.sum(1, keepdim=True)


class ClusteringKL(nn.Module):
    r"""DEC's clustering loss :math:`\mathrm{KL}(P \Vert Q) = \frac1N \sum_i \sum_k p_{ik} \log\frac{p_{ik}}{q_{ik}}`.

    ``forward(q, p)`` with ``q, p: [N, K]`` (``p`` from :func:`target_distribution`) -> scalar.
    """

    def forward(self, q: Tensor, p: Tensor) -> Tensor:
        if q.shape != p.shape:
            raise InvalidArgumentError(f"q and p must have the same shape, got {tuple(q.shape)} and {tuple(p.shape)}")
        log_q = q.clamp_min(torch.finfo(q.dtype).tiny).log()
        return F.kl_div(log_q, p, reduction="batchmean")


def _check_anchors(anchors: int | None, num_rows: int) -> int:
    """The number of anchor rows (all ``num_rows`` when ``None``)."""
    if anchors is None:
        return num_rows
    if isinstance(anchors, bool) or not isinstance(anchors, int) or not 1 <= anchors <= num_rows:
        raise InvalidArgumentError(f"anchors must be a number of rows in [1, {num_rows}], got {anchors!r}")
    return anchors


class NeighbourContrast(nn.Module):
    r"""SCGC's neighbour contrast (SCGC: :math:`\hat A^r`; SCGC*'s IAC: :math:`\sum_{k \le r}\hat A^k`).

    .. math::
        \mathcal L = -\frac1N \sum_i \log
            \frac{\sum_j \hat A_{ij}\, e^{s_{ij}/\tau}}{\sum_j e^{s_{ij}/\tau}},
        \qquad s_{ij} = \cos(z_i, z_j),\ s_{ii} := 0.

    The numerator runs over the sparse positives only (:func:`log_positive_mass`); the
    denominator over all nodes runs in row chunks with recomputation in backward
    (:func:`graphcl.losses.chunked_logsumexp`), so peak memory is ``O(chunk x N)``.
    (Kulatilleke et al., "SCGC: Self-Supervised Contrastive Graph Clustering", 2022.)

    ``forward(z [N, d], pairs: PositivePairs)`` -> scalar. ``anchors=B``: only the first ``B``
    rows are anchors (the mean runs over them); every row is in their denominators (e.g. a
    mini-batch followed by its positives' other ends).
    """

    def __init__(self, tau: float = 1.0, chunk_size: int | None = None) -> None:
        super().__init__()
        self.tau = _check_tau(tau)
        self.chunk_size = chunk_size

    def forward(self, z: Tensor, pairs: PositivePairs, anchors: int | None = None) -> Tensor:
        if z.size(0) < 2:  # the denominator would be empty: a NaN gradient
            raise InvalidArgumentError(f"the neighbour contrast needs at least 2 nodes (negatives), got {z.size(0)}")
        anchors = _check_anchors(anchors, z.size(0))
        zn = F.normalize(z, dim=1)
        log_num = log_positive_mass(zn, pairs, self.tau)[:anchors]
        off_diagonal = chunked_logsumexp(zn[:anchors], [zn], [True], self.tau, self.chunk_size)
        log_den = torch.logaddexp(torch.zeros_like(off_diagonal), off_diagonal)  # + e^{s_ii} = 1
        return (log_den - log_num).mean()


def meta_nodes(z: Tensor, assignment: Tensor) -> Tensor:
    r"""PamC's meta-nodes :math:`c_k = \sum_i a_{ik} z_i` (cluster sums). Shapes: ``[N, d], [N, K] -> [K, d]``."""
    return assignment.to(z.dtype).T @ z


class MetaNodeContrast(nn.Module):
    r"""PamC: positives over the sparse neighbourhood, negatives through K meta-nodes.

    .. math::
        \mathcal L = -\frac1N \sum_i \log \sum_j \hat A_{ij}\, e^{s_{ij}/\tau}
            + \frac1{K'} \sum_{k} \log \sum_{k'} e^{\cos(c_k, c_{k'})/\tau},
        \qquad c_k = \sum_i a_{ik} z_i,

    with the self-pairs' similarities masked to 0 (:math:`s_{ii} := 0`, :math:`\cos(c_k, c_k) := 0`)
    and the sums over meta-nodes restricted to the :math:`K'` non-empty ones (an emptied hard
    cluster has no summary; it is left out instead of producing a NaN). ``O(P d + N K d + K^2 d)``.
    Assignments ``a`` are hard (one-hot of the detached :math:`\arg\max_k q_{ik}`, as the official
    code) or soft (:math:`q` itself, as the paper describes); pass whichever ``[N, K]`` matrix.
    (Kulatilleke et al., "Efficient block contrastive learning via parameter-free meta-node
    approximation", 2022.)

    ``forward(z [N, d], assignment [N, K], pairs: PositivePairs)`` -> scalar. ``anchors=B``: only
    the first ``B`` rows are anchors and make the meta-nodes (``assignment [B, K]``); the other
    rows only complete the anchors' positive sums (e.g. a mini-batch and its positives' other ends).
    """

    def __init__(self, tau: float = 1.0) -> None:
        super().__init__()
        self.tau = _check_tau(tau)

    def forward(self, z: Tensor, assignment: Tensor, pairs: PositivePairs, anchors: int | None = None) -> Tensor:
        anchors = _check_anchors(anchors, z.size(0))
        if assignment.dim() != 2 or assignment.size(0) != anchors:
            raise InvalidArgumentError(
                f"assignment must be [N, K] with N = {anchors}, got {tuple(assignment.shape)}")
        positive = log_positive_mass(F.normalize(z, dim=1), pairs, self.tau)[:anchors].mean()
        return self.negative(z[:anchors], assignment) - positive

    def negative(self, z: Tensor, assignment: Tensor) -> Tensor:
        r"""The meta-node term :math:`\frac1{K'} \sum_k \log \sum_{k'} e^{\cos(c_k, c_{k'})/\tau}`."""
        centers = meta_nodes(z, assignment)
        nonempty = assignment.detach().sum(0) > 0
        cn = F.normalize(centers[nonempty], dim=1)
        self_pairs = torch.eye(cn.size(0), dtype=torch.bool, device=cn.device)
        logits = (cn @ cn.T / self.tau).masked_fill(self_pairs, 0.0)
        return torch.logsumexp(logits, dim=1).mean()


def prototype_concentration(z: Tensor, labels: Tensor, centroids: Tensor, temperature: float,
                            alpha: float = 10.0, clip: tuple[float, float] = (0.1, 0.9),
                            form: str = "pcl") -> Tensor:
    r"""PCL's per-cluster concentration :math:`\phi_k`, the temperature of prototype ``k``.

    .. math:: \phi_k = \frac{\sum_{i \in k} \lVert z_i - c_k \rVert_2}{n_k \log(n_k + \alpha)}

    clusters with at most one member take the largest :math:`\phi`; then the values are clipped to
    the ``clip`` quantiles and scaled so that their mean is ``temperature``. Loose clusters get a
    higher temperature (softer pull).

    ``form="meow"`` is the official MEOW code's variant: its faiss search returns inner products,
    not distances, so :math:`\phi_k = \sum_{i \in k} \sqrt{z_i^\top c_k} / (n_k \log(n_k + \alpha))`
    with :math:`\alpha = 5` there (negative products count as 0): *tight* clusters get the higher
    temperature, the reverse of PCL. Offered to reproduce the published runs.

    Li et al., "Prototypical Contrastive Learning of Unsupervised Representations" (PCL), ICLR 2021.

    Shapes: ``z [N, d]``, ``labels [N]``, ``centroids [K, d]`` (not normalised) -> ``[K]``.
    """
    temperature = _check_tau(temperature)
    if form not in ("pcl", "meow"):
        raise InvalidArgumentError(f"form must be 'pcl' or 'meow', got {form!r}")
    k = centroids.size(0)
    with torch.no_grad():
        if form == "pcl":
            spread = (z - centroids[labels]).norm(dim=1)
        else:
            spread = (z * centroids[labels]).sum(dim=1).clamp_min(0).sqrt()
        counts = torch.bincount(labels, minlength=k).to(z.dtype)
        phi = scatter(spread, labels, dim=0, dim_size=k, reduce="sum") / (counts * torch.log(counts + alpha))
        small = counts <= 1
        phi = torch.where(small, phi[~small].max() if (~small).any() else torch.ones((), dtype=z.dtype,
                                                                                   device=z.device), phi)
        low, high = torch.quantile(phi, torch.tensor(clip, dtype=phi.dtype, device=phi.device))
        phi = phi.clamp(low, high)
        return temperature * phi / phi.mean().clamp_min(1e-12)


class ProtoNCE(nn.Module):
    r"""Prototypical contrast over one or several clusterings (PCL's ProtoNCE, as MEOW uses it).

    For clusterings :math:`r = 1..R` with normalised prototypes :math:`c^r_k`, concentrations
    :math:`\phi^r_k` and assignments :math:`s_r(i)`, and :math:`u_i = z_i / \lVert z_i \rVert`:

    .. math::
        \mathcal L = -\frac{1}{R} \sum_{r} \frac{1}{N} \sum_i
        \log \frac{\exp(u_i^\top c^r_{s_r(i)} / \phi^r_{s_r(i)})}{\sum_k \exp(u_i^\top c^r_k / \phi^r_k)}

    Memory ``O(N K)`` per clustering. Li et al., ICLR 2021; Yu & Li (MEOW), SDM 2023.

    Shapes: ``z [N, d]`` and, per clustering, ``labels [N]``, ``centroids [K, d]``, ``phi [K]``
    -> scalar. Gradients flow into ``z`` only (prototypes are constants of the step).
    """

    def forward(self, z: Tensor, clusterings: list[tuple[Tensor, Tensor, Tensor]]) -> Tensor:
        if not clusterings:
            raise InvalidArgumentError("ProtoNCE needs at least one clustering (labels, centroids, phi)")
        u = F.normalize(z, dim=1)
        total = z.new_zeros(())
        for labels, centroids, phi in clusterings:
            if labels.numel() != z.size(0) or centroids.size(0) != phi.numel():
                raise InvalidArgumentError(f"a clustering must give labels for all {z.size(0)} nodes and one phi per "
                                           f"centroid; got {labels.numel()} labels, {centroids.size(0)} centroids, "
                                           f"{phi.numel()} phi")
            logits = u @ F.normalize(centroids.detach(), dim=1).t() / phi.detach()[None, :]
            total = total + F.cross_entropy(logits, labels)
        return total / len(clusterings)


def sinkhorn_knopp(scores: Tensor, epsilon: float = 0.05, iterations: int = 3) -> Tensor:
    r"""SwAV's equipartitioned soft codes: :math:`Q \propto \exp(S / \epsilon)` rescaled
    ``iterations`` times so that every prototype gets :math:`1/K` of the mass and every row
    :math:`1/N`, then each row scaled to sum to 1 (Caron et al., 2020; Cuturi, 2013). Computed in
    the log domain (no overflow for small :math:`\epsilon`), without gradient.

    Shapes: ``scores [N, K]`` -> ``[N, K]``, rows summing to 1.
    """
    with torch.no_grad():
        n, k = scores.shape
        log_q = (scores.float() if scores.dtype in (torch.float16, torch.bfloat16) else scores) / epsilon
        log_q = log_q - torch.logsumexp(log_q.flatten(), 0)
        for _ in range(iterations):
            log_q = log_q - torch.logsumexp(log_q, dim=0, keepdim=True) - math.log(k)  # columns: 1 / K each
            log_q = log_q - torch.logsumexp(log_q, dim=1, keepdim=True) - math.log(n)  # rows: 1 / N each
        return (log_q + math.log(n)).exp().to(scores.dtype)


class SwappedPrototypeLoss(nn.Module):
    r"""SwAV's swapped prediction over learned prototypes: Caron et al., "Unsupervised Learning of
    Visual Features by Contrasting Cluster Assignments", NeurIPS 2020.

    With the prototypes :math:`C` (``[K, d]``, rows normalised in the forward), the scores
    :math:`S_v = \mathrm{norm}(z_v) C^\top`, the predictions :math:`P_v = \mathrm{softmax}(S_v / \tau)`
    and the codes :math:`Q_v = \mathrm{sinkhorn}(S_v)` (:func:`sinkhorn_knopp`, no gradient), each
    view predicts the other's codes:

    .. math::
        \mathcal L = -\frac{1}{2N} \sum_i \big( q^{(2)}_i \cdot \log p^{(1)}_i + q^{(1)}_i \cdot \log p^{(2)}_i \big)

    ``O(N K d)``. The nodes' clusters are :meth:`assign` (the prototype of the highest score).

    Shapes: ``z1, z2: [N, d]`` -> scalar.
    """

    def __init__(self, in_channels: int, num_prototypes: int, tau: float = 0.1, epsilon: float = 0.05,
                 sinkhorn_iterations: int = 3) -> None:
        super().__init__()
        if num_prototypes < 2:
            raise InvalidArgumentError(f"num_prototypes must be >= 2, got {num_prototypes}")
        if not epsilon > 0 or sinkhorn_iterations < 1:
            raise InvalidArgumentError(f"epsilon must be > 0 and sinkhorn_iterations >= 1, got {epsilon}, "
                                       f"{sinkhorn_iterations}")
        self.tau, self.epsilon, self.sinkhorn_iterations = _check_tau(tau), epsilon, sinkhorn_iterations
        self.prototypes = nn.Linear(in_channels, num_prototypes, bias=False)

    def reset_parameters(self) -> None:
        self.prototypes.reset_parameters()

    def scores(self, z: Tensor) -> Tensor:
        """Cosine scores ``[N, K]`` of embeddings against the normalised prototypes."""
        return F.normalize(z, dim=1) @ F.normalize(self.prototypes.weight, dim=1).t()

    @torch.no_grad()
    def assign(self, z: Tensor) -> Tensor:
        """The prototype of each row, ``[N]``."""
        return self.scores(z).argmax(1)

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        if z1.shape != z2.shape or z1.dim() != 2:
            raise InvalidArgumentError(f"the two views must both be [N, d], got {tuple(z1.shape)} and {tuple(z2.shape)}")
        s1, s2 = self.scores(z1), self.scores(z2)
        q1 = sinkhorn_knopp(s1, self.epsilon, self.sinkhorn_iterations)
        q2 = sinkhorn_knopp(s2, self.epsilon, self.sinkhorn_iterations)
        log_p1, log_p2 = F.log_softmax(s1 / self.tau, dim=1), F.log_softmax(s2 / self.tau, dim=1)
        return -0.5 * ((q2 * log_p1).sum(1) + (q1 * log_p2).sum(1)).mean()

    def extra_repr(self) -> str:
        return f"tau={self.tau}, epsilon={self.epsilon}, sinkhorn_iterations={self.sinkhorn_iterations}"
