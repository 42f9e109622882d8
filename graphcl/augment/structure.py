r"""Structural positives: sparse powers of the row-normalised adjacency (SCGC, SCGC*, PamC).

SCGC (Kulatilleke et al., "SCGC: Self-Supervised Contrastive Graph Clustering", 2022) treats the
``r``-hop neighbourhood as positives with weights :math:`\hat A^r`, where
:math:`\hat A = D^{-1}(A + I)` on the symmetrised graph; SCGC*'s influence-augmented contrast (IAC)
uses :math:`\sum_{k=1}^{r} \hat A^k`. The official code forms these as dense ``N x N`` matrices; here
they stay sparse (SciPy CSR sparse-sparse products), with an optional per-row top-k after every
product to bound the fill-in on large graphs.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from graphcl.checks import check_edge_index
from graphcl.errors import InvalidArgumentError, InvalidGraphError


def row_normalized_adjacency(edge_index: Tensor, num_nodes: int) -> sp.csr_matrix:
    r""":math:`\hat A = D^{-1}(A + I)` of the symmetrised, unweighted graph, as a SciPy CSR matrix.

    Duplicate edges and existing self-loops count once; ``D`` is the degree of :math:`A + I`, so
    every row sums to 1 and an isolated node keeps only its self-loop. Shapes: ``[2, E] -> [N, N]``.
    """
    if num_nodes <= 0:
        raise InvalidGraphError("the graph has no nodes; structural positives need at least one node")
    check_edge_index(edge_index, num_nodes, allow_duplicates=True)
    row, col = edge_index.cpu().numpy()
    ones = np.ones(row.size, dtype=np.float64)
    a = sp.coo_matrix((ones, (row, col)), shape=(num_nodes, num_nodes)).tocsr()
    a = a + a.T + sp.identity(num_nodes, format="csr")
    a.data[:] = 1.0  # binarise: duplicates, both directions and existing self-loops count once
    degree = np.asarray(a.sum(axis=1)).ravel()
    return sp.diags(1.0 / degree) @ a


def _keep_top_k_per_row(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """The ``k`` largest entries of every row of a CSR matrix (ties broken by column order)."""
    if k < 1:
        raise InvalidArgumentError(f"top_k must be >= 1, got {k}")
    m = matrix.tocsr()
    m.sort_indices()
    counts = np.diff(m.indptr)
    if counts.max(initial=0) <= k:
        return m
    rows = np.repeat(np.arange(m.shape[0]), counts)
    order = np.lexsort((-m.data, rows))  # by row, then by value descending
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size) - np.repeat(m.indptr[:-1], counts)
    keep = rank < k
    return sp.csr_matrix((m.data[keep], (rows[keep], m.indices[keep])), shape=m.shape)


def adjacency_power(edge_index: Tensor, num_nodes: int, order: int = 1, cumulative: bool = False,
                    top_k: int | None = None) -> tuple[Tensor, Tensor]:
    r"""Weighted positives :math:`\hat A^r` (``cumulative=False``) or :math:`\sum_{k=1}^r \hat A^k` (IAC).

    Computed with sparse-sparse products; with ``top_k`` each power keeps only its ``top_k``
    largest entries per row before the next product (an approximation that bounds memory on
    large graphs; ``None`` is exact).

    Returns:
        ``(pos_index [2, P], pos_weight [P])``: coalesced, rows sorted, float32 weights.
    """
    if order < 1:
        raise InvalidArgumentError(f"order must be >= 1, got {order}")
    a_hat = row_normalized_adjacency(edge_index, num_nodes)
    if top_k is not None:
        a_hat = _keep_top_k_per_row(a_hat, top_k)
    power = a_hat
    total = a_hat.copy()
    for _ in range(order - 1):
        power = power @ a_hat
        if top_k is not None:
            power = _keep_top_k_per_row(power, top_k)
        if cumulative:
            total = total + power
    result = (total if cumulative else power).tocoo()
    result.sum_duplicates()
    index = torch.from_numpy(np.vstack([result.row, result.col]).astype(np.int64))
    return index, torch.from_numpy(result.data.astype(np.float32))


class StructuralPositives(BaseTransform):
    r"""Attach SCGC's positives to a graph: ``data.pos_index`` ``[2, P]`` and ``data.pos_weight`` ``[P]``.

    ``order`` r, ``cumulative`` (IAC, :math:`\sum_{k \le r} \hat A^k`) and ``top_k`` as in
    :func:`adjacency_power`. Returns a new ``Data``; the input is untouched.
    """

    def __init__(self, order: int = 1, cumulative: bool = False, top_k: int | None = None) -> None:
        if order < 1:
            raise InvalidArgumentError(f"order must be >= 1, got {order}")
        if top_k is not None and top_k < 1:
            raise InvalidArgumentError(f"top_k must be >= 1, got {top_k}")
        self.order, self.cumulative, self.top_k = order, cumulative, top_k

    def forward(self, data: Data) -> Data:
        out = data.clone()
        index, weight = adjacency_power(data.edge_index, data.num_nodes, self.order, self.cumulative, self.top_k)
        out.pos_index, out.pos_weight = index.to(data.edge_index.device), weight.to(data.edge_index.device)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(order={self.order}, cumulative={self.cumulative}, top_k={self.top_k})"
