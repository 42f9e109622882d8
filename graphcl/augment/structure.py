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


class StructuralFeatures(BaseTransform):
    r"""Node features from the graph's structure, for graphs whose features are missing or weak.

    * ``'degree'``: one-hot of the degree of the symmetrised graph, the last of ``dim`` bins holding
      every degree ``>= dim - 1``;
    * ``'lappe'``: the ``dim`` eigenvectors of the normalised Laplacian
      :math:`I - D^{-1/2} A D^{-1/2}` with the smallest non-zero eigenvalues (Dwivedi et al., "Benchmarking
      GNNs", 2020), from SciPy's sparse ``eigsh`` (never a dense matrix), signs fixed so that each
      vector's largest entry in magnitude is positive (deterministic where the eigenvalues are distinct;
      within a repeated eigenvalue's space any orthonormal basis is valid); zeros beyond ``N - 2``;
    * ``'degree+lappe'``: both, concatenated.

    ``append`` (default) puts them after the existing features; without features they become ``x``.
    The input is not modified. Shapes: ``x [N, F]`` -> ``[N, F + dim]`` (``F + 2 dim`` for both).
    """

    KINDS = ("degree", "lappe", "degree+lappe")

    def __init__(self, kind: str = "degree+lappe", dim: int = 16, append: bool = True) -> None:
        if kind not in self.KINDS:
            raise InvalidArgumentError(f"structural features must be one of {self.KINDS}, got {kind!r}")
        if dim < 1:
            raise InvalidArgumentError(f"dim must be >= 1, got {dim}")
        self.kind, self.dim, self.append = kind, dim, append

    def _adjacency(self, data: Data) -> sp.csr_matrix:
        n = data.num_nodes
        check_edge_index(data.edge_index, n, allow_duplicates=True)
        row, col = data.edge_index.cpu().numpy()
        a = sp.coo_matrix((np.ones(row.size), (row, col)), shape=(n, n)).tocsr()
        a = a + a.T
        a.setdiag(0)
        a.eliminate_zeros()
        a.data[:] = 1.0
        return a

    def _degree(self, a: sp.csr_matrix) -> Tensor:
        degree = torch.as_tensor(np.asarray(a.sum(axis=1)).ravel(), dtype=torch.long)
        return torch.nn.functional.one_hot(degree.clamp(max=self.dim - 1), self.dim).float()

    def _laplacian_pe(self, a: sp.csr_matrix) -> Tensor:
        from scipy.sparse.linalg import eigsh

        n = a.shape[0]
        out = np.zeros((n, self.dim), dtype=np.float32)
        k = min(self.dim + 1, n - 1)  # eigsh needs k < n
        if k < 2:
            return torch.from_numpy(out)
        degree = np.asarray(a.sum(axis=1)).ravel()
        inv_sqrt = np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1e-12)), 0.0)
        laplacian = sp.identity(n, format="csr") - sp.diags(inv_sqrt) @ a @ sp.diags(inv_sqrt)
        # A fixed random start vector: the same vectors every run. Not the constant vector: on a regular
        # graph that is an exact null vector of L and ARPACK stops ("starting vector is zero").
        v0 = np.random.default_rng(0).uniform(-1.0, 1.0, n)
        values, vectors = eigsh(laplacian, k=k, which="SA", v0=v0, tol=1e-6)
        order = np.argsort(values)[1:]  # drop the smallest (the trivial one of a connected graph)
        vectors = vectors[:, order][:, : self.dim]
        signs = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(vectors.shape[1])])
        out[:, : vectors.shape[1]] = vectors * np.where(signs == 0, 1.0, signs)
        return torch.from_numpy(out)

    def features(self, data: Data) -> Tensor:
        """The structural features alone, ``[N, dim]`` (``[N, 2 dim]`` for both kinds)."""
        a = self._adjacency(data)
        parts = []
        if "degree" in self.kind:
            parts.append(self._degree(a))
        if "lappe" in self.kind:
            parts.append(self._laplacian_pe(a))
        return torch.cat(parts, dim=1)

    def forward(self, data: Data) -> Data:
        if data.num_nodes is None or data.num_nodes < 1:
            raise InvalidGraphError("the graph has no nodes: no structural features to compute")
        structural = self.features(data)
        x = data.get("x")
        if x is not None and self.append:
            structural = torch.cat([x.float(), structural.to(x.device)], dim=1)
        data.x = structural  # BaseTransform.__call__ hands over a shallow copy: the caller's graph keeps its x
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.kind!r}, dim={self.dim})"
