r"""Sparse weighted positive pairs and the log of their exponentiated similarity mass.

Shared by SCGC's and PamC's structural positives (:math:`\hat A^r`, one view) and HeCo's
meta-path positives (two views): :class:`PositivePairs` holds the pairs in CSR form, built once
per graph, and :func:`log_positive_mass` computes :math:`\log \sum_j w_{ij} e^{s_{ij}/\tau}` per
node with sparse products only.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, fields

import torch
from torch import Tensor
from torch_geometric.utils import coalesce, segment
from torch_geometric.utils.sparse import index2ptr

from graphcl.errors import InvalidArgumentError


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

        Raises :class:`InvalidArgumentError` for out-of-range indices, non-finite weights or a node
        without any positive.
        """
        if index.dim() != 2 or index.size(0) != 2 or weight.shape != (index.size(1),):
            raise InvalidArgumentError(
                f"positives must be index [2, P] and weight [P], got {tuple(index.shape)} and {tuple(weight.shape)}")
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= num_nodes):
            raise InvalidArgumentError(
                f"positive pairs index nodes outside 0..{num_nodes - 1}; build them for this graph's num_nodes")
        if not bool(torch.isfinite(weight).all()):
            raise InvalidArgumentError("positive pair weights contain NaN or infinite values; check the graph's "
                                       "edge weights")
        keep = weight > 0
        index, weight = coalesce(index[:, keep], weight[keep], num_nodes, reduce="sum")
        has_positive = torch.zeros(num_nodes, dtype=torch.bool, device=index.device)
        has_positive[index[0]] = True
        if not bool(has_positive.all()):
            missing = (~has_positive).nonzero().flatten()
            raise InvalidArgumentError(
                f"{missing.numel()} nodes have no positive pair (first: {missing[:5].tolist()}); give every node one "
                "(graphcl.augment.adjacency_power keeps each node's self-loop, metapath_positives the node itself)")
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
    def forward(ctx, anchors: Tensor, others: Tensor, pairs: PositivePairs, tau: float, mask_self: bool) -> Tensor:
        n, (row, col) = pairs.num_nodes, pairs.index
        pattern = _csr(pairs.ptr, col, anchors.new_zeros(col.numel()), n)
        sim = torch.sparse.sampled_addmm(pattern, anchors, others.T, beta=0.0).values()
        if mask_self:
            sim[pairs.self_pairs] = 0.0
        logits = sim.div_(tau).add_(pairs.weight.to(anchors.dtype).log())
        peak = segment(logits, pairs.ptr, reduce="max")
        terms = logits.sub_(peak[row]).exp_()
        total = segment(terms, pairs.ptr, reduce="sum")
        share = terms.div_(total[row])                          # pi_ij = softmax over row i's positives
        if mask_self:
            share[pairs.self_pairs] = 0.0                       # s_ii is held at 0: no gradient
        ctx.save_for_backward(anchors, others, share)
        ctx.pairs, ctx.tau = pairs, tau
        return total.log_() + peak

    @staticmethod
    def backward(ctx, grad: Tensor):
        anchors, others, share = ctx.saved_tensors
        pairs, n = ctx.pairs, ctx.pairs.num_nodes
        scale = (grad / ctx.tau).unsqueeze(1)                   # d out_i / d s_ij = grad_i pi_ij / tau
        grad_anchors = scale * (_csr(pairs.ptr, pairs.index[1], share, n) @ others)
        transposed = _csr(pairs.transpose_ptr, pairs.transpose_col, share[pairs.transpose_order], n)
        grad_others = transposed @ (scale * anchors)
        return grad_anchors, grad_others, None, None, None


def log_positive_mass(anchors: Tensor, pairs: PositivePairs, tau: float, others: Tensor | None = None) -> Tensor:
    r"""Per node :math:`\log \sum_j w_{ij}\, e^{s_{ij}/\tau}` over the sparse positives.

    One view (``others`` ``None``): :math:`s_{ij} = a_i^\top a_j` with :math:`s_{ii} := 0` (SCGC,
    PamC). Two views: :math:`s_{ij} = a_i^\top b_j` between ``anchors`` and ``others``, the pair
    ``(i, i)`` an ordinary positive (HeCo). The similarities of all ``P`` pairs come from one
    sampled product (:func:`torch.sparse.sampled_addmm` on the pairs' CSR pattern), the
    log-sum-exp runs per row segment; with :math:`g_{ij} = \partial\, \mathrm{out}_i / \partial s_{ij}`
    the gradients :math:`\sum_j g_{ij} b_j` (anchors) and :math:`\sum_i g_{ij} a_i` (others) are
    two CSR-dense products, the second over the transpose (:attr:`PositivePairs.transpose_order`).
    ``O(P d)`` time, ``O(P + N d)`` memory; no ``[P, d]`` gather.

    Shapes: ``anchors [N, d]``, ``others [N, d]`` (both unit rows for cosines), ``pairs`` over
    ``N`` nodes -> ``[N]`` (float32 for float16 / bfloat16 inputs).
    """
    single_view = others is None
    others = anchors if single_view else others
    if anchors.size(0) != pairs.num_nodes or others.shape != anchors.shape:
        raise InvalidArgumentError(
            f"the positives are built for {pairs.num_nodes} nodes, the embeddings are {tuple(anchors.shape)} and "
            f"{tuple(others.shape)}")
    if pairs.index.device != anchors.device:
        raise InvalidArgumentError(
            f"the positives are on {pairs.index.device}, the embeddings on {anchors.device}; move them with "
            "pairs.to(device)")
    if anchors.dtype in (torch.float16, torch.bfloat16):  # the sparse kernels want float32; accumulate in it
        anchors, others = anchors.float(), others.float()
    return _LogPositiveMass.apply(anchors, others, pairs, float(tau), single_view)
