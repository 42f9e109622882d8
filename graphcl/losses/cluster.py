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

import warnings
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.utils import coalesce, scatter, segment
from torch_geometric.utils.sparse import index2ptr

from graphcl.errors import InvalidArgumentError
from graphcl.losses.chunked import chunked_logsumexp


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


@dataclass(frozen=True)
class PositivePairs:
    r"""Weighted positive pairs :math:`(i, j, w_{ij})` in CSR form, with the permutation to the transpose.

    Built once per graph (:meth:`from_coo`) and reused every epoch by :func:`log_positive_mass`:
    the row pointer lets the forward pass take all pair similarities in one sampled product and
    reduce them per row without atomics; the transpose lets the backward pass send the gradient
    to both ends of every pair with two sparse-dense products instead of index adds.

    Fields: ``index [2, P]`` (sorted by row, then column), ``weight [P]`` (> 0), ``ptr [N + 1]``
    (row ``i``'s pairs are ``ptr[i]:ptr[i + 1]``), ``self_pairs [S]`` (positions of the pairs
    ``(i, i)``), ``transpose_order [P]`` (the pairs sorted by column), ``transpose_ptr [N + 1]``
    and ``transpose_col [P]`` (the rows in that order).
    """

    index: Tensor
    weight: Tensor
    ptr: Tensor
    self_pairs: Tensor
    transpose_order: Tensor
    transpose_ptr: Tensor
    transpose_col: Tensor

    @classmethod
    def from_coo(cls, index: Tensor, weight: Tensor, num_nodes: int) -> PositivePairs:
        """Coalesce ``index [2, P]`` / ``weight [P]`` (duplicates summed, non-positive weights dropped).

        Raises :class:`InvalidArgumentError` for out-of-range indices or a node without any positive.
        """
        if index.dim() != 2 or index.size(0) != 2 or weight.shape != (index.size(1),):
            raise InvalidArgumentError(
                f"positives must be index [2, P] and weight [P], got {tuple(index.shape)} and {tuple(weight.shape)}")
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= num_nodes):
            raise InvalidArgumentError(
                f"positive pairs index nodes outside 0..{num_nodes - 1}; build them for this graph's num_nodes")
        keep = weight > 0
        index, weight = coalesce(index[:, keep], weight[keep], num_nodes, reduce="sum")
        has_positive = torch.zeros(num_nodes, dtype=torch.bool, device=index.device)
        has_positive[index[0]] = True
        if not bool(has_positive.all()):
            missing = (~has_positive).nonzero().flatten()
            raise InvalidArgumentError(
                f"{missing.numel()} nodes have no positive pair (first: {missing[:5].tolist()}); build the positives "
                "with graphcl.augment.adjacency_power, which gives every node at least its self-loop")
        row, col = index
        order = torch.argsort(col, stable=True)
        return cls(index, weight, index2ptr(row, num_nodes), (row == col).nonzero().flatten(), order,
                   index2ptr(col[order], num_nodes), row[order])

    @property
    def num_nodes(self) -> int:
        return self.ptr.numel() - 1

    def to(self, device: torch.device | str) -> PositivePairs:
        return PositivePairs(*(getattr(self, f.name).to(device) for f in fields(self)))


def _csr(ptr: Tensor, col: Tensor, values: Tensor, n: int) -> Tensor:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(ptr, col, values, (n, n), check_invariants=False)


class _LogPositiveMass(torch.autograd.Function):
    """See :func:`log_positive_mass`; forward and backward written out to stay sparse."""

    @staticmethod
    def forward(ctx, zn: Tensor, pairs: PositivePairs, tau: float) -> Tensor:
        n, (row, col) = pairs.num_nodes, pairs.index
        pattern = _csr(pairs.ptr, col, zn.new_zeros(col.numel()), n)
        sim = torch.sparse.sampled_addmm(pattern, zn, zn.T, beta=0.0).values()
        sim[pairs.self_pairs] = 0.0
        logits = sim.div_(tau).add_(pairs.weight.to(zn.dtype).log())
        peak = segment(logits, pairs.ptr, reduce="max")
        terms = logits.sub_(peak[row]).exp_()
        total = segment(terms, pairs.ptr, reduce="sum")
        share = terms.div_(total[row])                          # pi_ij = softmax over row i's positives
        share[pairs.self_pairs] = 0.0                           # s_ii is held at 0: no gradient
        ctx.save_for_backward(zn, share)
        ctx.pairs, ctx.tau = pairs, tau
        return total.log_() + peak

    @staticmethod
    def backward(ctx, grad: Tensor):
        zn, share = ctx.saved_tensors
        pairs, n = ctx.pairs, ctx.pairs.num_nodes
        scale = (grad / ctx.tau).unsqueeze(1)                   # d out_i / d s_ij = grad_i pi_ij / tau
        own = scale * (_csr(pairs.ptr, pairs.index[1], share, n) @ zn)
        other = _csr(pairs.transpose_ptr, pairs.transpose_col, share[pairs.transpose_order], n) @ (scale * zn)
        return own + other, None, None


def log_positive_mass(z_normalized: Tensor, pairs: PositivePairs, tau: float) -> Tensor:
    r"""Per node :math:`\log \sum_j w_{ij}\, e^{s_{ij}/\tau}` over the sparse positives, :math:`s_{ii} := 0`.

    The similarities of all ``P`` pairs come from one sampled product
    (:func:`torch.sparse.sampled_addmm` on the pairs' CSR pattern), the log-sum-exp runs per row
    segment; the gradient, :math:`\sum_j g_{ij} z_j + \sum_j g_{ji} z_j` for :math:`z_i` with
    :math:`g_{ij} = \partial\, \mathrm{out}_i / \partial s_{ij}`, is two CSR-dense products
    (the second over the transpose, :attr:`PositivePairs.transpose_order`).
    ``O(P d)`` time, ``O(P + N d)`` memory; no ``[P, d]`` gather.

    Shapes: ``z_normalized [N, d]`` (unit rows), ``pairs`` over ``N`` nodes -> ``[N]``.
    """
    if z_normalized.size(0) != pairs.num_nodes:
        raise InvalidArgumentError(
            f"the positives are built for {pairs.num_nodes} nodes, the embeddings have {z_normalized.size(0)} rows")
    if pairs.index.device != z_normalized.device:
        raise InvalidArgumentError(
            f"the positives are on {pairs.index.device}, the embeddings on {z_normalized.device}; move them with "
            "pairs.to(device)")
    return _LogPositiveMass.apply(z_normalized, pairs, float(tau))


class NeighbourContrast(nn.Module):
    r"""SCGC's neighbour contrast (SCGC: :math:`\hat A^r`; SCGC*'s IAC: :math:`\sum_{k \le r}\hat A^k`).

    .. math::
        \mathcal L = -\frac1N \sum_i \log
            \frac{\sum_j \hat A_{ij}\, e^{s_{ij}/\tau}}{\sum_j e^{s_{ij}/\tau}},
        \qquad s_{ij} = \cos(z_i, z_j),\ s_{ii} := 0.

    The numerator runs edge-wise over the sparse positives (:func:`log_positive_mass`); the
    denominator over all nodes runs in row chunks with recomputation in backward
    (:func:`graphcl.losses.chunked_logsumexp`), so peak memory is ``O(chunk x N)``.
    (Kulatilleke et al., "SCGC: Self-Supervised Contrastive Graph Clustering", 2022.)

    ``forward(z [N, d], pairs: PositivePairs)`` -> scalar.
    """

    def __init__(self, tau: float = 1.0, chunk_size: int | None = None) -> None:
        super().__init__()
        self.tau = _check_tau(tau)
        self.chunk_size = chunk_size

    def forward(self, z: Tensor, pairs: PositivePairs) -> Tensor:
        zn = F.normalize(z, dim=1)
        log_num = log_positive_mass(zn, pairs, self.tau)
        off_diagonal = chunked_logsumexp(zn, [zn], [True], self.tau, self.chunk_size)
        log_den = torch.logaddexp(torch.zeros_like(off_diagonal), off_diagonal)  # + e^{s_ii} = 1
        return (log_den - log_num).mean()


def meta_nodes(z: Tensor, assignment: Tensor) -> Tensor:
    r"""PamC's meta-nodes :math:`c_k = \sum_i a_{ik} z_i` (cluster sums). Shapes: ``[N, d], [N, K] -> [K, d]``."""
    return assignment.to(z.dtype).T @ z


class MetaNodeContrast(nn.Module):
    r"""PamC: positives edge-wise over the sparse neighbourhood, negatives through K meta-nodes.

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

    ``forward(z [N, d], assignment [N, K], pairs: PositivePairs)`` -> scalar.
    """

    def __init__(self, tau: float = 1.0) -> None:
        super().__init__()
        self.tau = _check_tau(tau)

    def forward(self, z: Tensor, assignment: Tensor, pairs: PositivePairs) -> Tensor:
        if assignment.dim() != 2 or assignment.size(0) != z.size(0):
            raise InvalidArgumentError(
                f"assignment must be [N, K] with N = {z.size(0)}, got {tuple(assignment.shape)}")
        zn = F.normalize(z, dim=1)
        positive = log_positive_mass(zn, pairs, self.tau).mean()
        centers = meta_nodes(z, assignment)
        nonempty = assignment.detach().sum(0) > 0
        cn = F.normalize(centers[nonempty], dim=1)
        self_pairs = torch.eye(cn.size(0), dtype=torch.bool, device=cn.device)
        logits = (cn @ cn.T / self.tau).masked_fill(self_pairs, 0.0)
        negative = torch.logsumexp(logits, dim=1).mean()
        return negative - positive


def prototype_concentration(z: Tensor, labels: Tensor, centroids: Tensor, temperature: float,
                            alpha: float = 10.0, clip: tuple[float, float] = (0.1, 0.9)) -> Tensor:
    r"""PCL's per-cluster concentration :math:`\phi_k`, the temperature of prototype ``k``.

    .. math:: \phi_k = \frac{\sum_{i \in k} \lVert z_i - c_k \rVert_2}{n_k \log(n_k + \alpha)}

    clusters with at most one member take the largest :math:`\phi`; then the values are clipped to
    the ``clip`` quantiles and scaled so that their mean is ``temperature``. Loose clusters get a
    higher temperature (softer pull). MEOW adds 5 instead of :math:`\alpha = 10` and takes square
    roots of inner products from its faiss search; this is PCL's Euclidean form.

    Li et al., "Prototypical Contrastive Learning of Unsupervised Representations" (PCL), ICLR 2021.

    Shapes: ``z [N, d]``, ``labels [N]``, ``centroids [K, d]`` -> ``[K]``.
    """
    temperature = _check_tau(temperature)
    k = centroids.size(0)
    with torch.no_grad():
        distance = (z - centroids[labels]).norm(dim=1)
        counts = torch.bincount(labels, minlength=k).to(z.dtype)
        phi = scatter(distance, labels, dim=0, dim_size=k, reduce="sum") / (counts * torch.log(counts + alpha))
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
