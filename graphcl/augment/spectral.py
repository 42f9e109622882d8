r"""Spectral views: LightGCL's truncated-SVD view of the normalised adjacency.

Cai et al., "LightGCL: Simple Yet Effective Graph Contrastive Learning for Recommendation",
ICLR 2023. The view replaces the normalised adjacency :math:`\hat A` by its rank-:math:`q`
approximation :math:`\hat A \approx U_q S_q V_q^\top` from a randomized SVD
(:func:`torch.svd_lowrank`, Halko et al. 2011), computed once per graph. Propagation through the
view is :math:`(U_q S_q)(V_q^\top E)`: two thin products, ``O((M + N) q d)``, never the dense
``[M, N]`` matrix.

* bipartite user-item graph (``R``: ``[M users, N items]``): :math:`\hat R = D_u^{-1/2} R D_i^{-1/2}`;
  users see :math:`\hat R E_{\text{items}}`, items :math:`\hat R^\top E_{\text{users}}`.
* homogeneous graph: :math:`\hat A = D^{-1/2} (A + I) D^{-1/2}` (GCN's), symmetric.

:class:`LowPassFeatures` uses the same :math:`\hat A` as a low-pass graph filter on the node
features, :math:`X \leftarrow \hat A^t X` (SGC's propagation, Wu et al. 2019; the Laplacian
smoothing filter :math:`(I - \tilde L)^t` of AGE, Cui et al. 2020, and of Liu et al.'s SCGC, 2023).
"""
from __future__ import annotations

import copy

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import add_remaining_self_loops, coalesce, scatter, to_undirected

from graphcl.augment._utils import (check_positive_int, format_repr, require_data, require_edge_index, require_features,
                                    require_num_nodes)
from graphcl.augment.centrality import _TensorKeyedCache
from graphcl.checks import check_edge_index
from graphcl.errors import InvalidArgumentError, InvalidGraphError

__all__ = ["LowRankOperator", "normalized_adjacency", "normalized_biadjacency", "ppr_diffusion", "svd_operator",
           "SVDView", "LowPassFeatures"]


class LowRankOperator:
    r"""A rank-:math:`q` matrix :math:`A = (U S) V^\top` of shape ``[M, N]``, applied as
    ``A @ x = us @ (v.T @ x)`` (``x``: ``[N, d]`` -> ``[M, d]``); ``A.T @ y`` as ``v @ (us.T @ y)``.

    Shapes: ``us [M, q]`` (left singular vectors scaled by the singular values), ``v [N, q]``.
    Autograd flows through the products to ``x`` (the factors are constants of the graph).
    """

    def __init__(self, us: Tensor, v: Tensor) -> None:
        if us.dim() != 2 or v.dim() != 2 or us.size(1) != v.size(1):
            raise InvalidArgumentError(f"factors must be [M, q] and [N, q], got {tuple(us.shape)} and {tuple(v.shape)}")
        self.us, self.v = us, v

    @property
    def shape(self) -> tuple[int, int]:
        return self.us.size(0), self.v.size(0)

    @property
    def rank(self) -> int:
        return self.us.size(1)

    @property
    def T(self) -> "LowRankOperator":  # noqa: N802 - mirrors Tensor.T
        return LowRankOperator(self.v, self.us)

    def __matmul__(self, x: Tensor) -> Tensor:
        if x.size(0) != self.v.size(0):
            raise InvalidArgumentError(f"operator of shape {self.shape} cannot multiply {x.size(0)} rows")
        return self.us @ (self.v.t() @ x)

    def to(self, device: torch.device | str) -> "LowRankOperator":
        return LowRankOperator(self.us.to(device), self.v.to(device))

    def to_dense(self) -> Tensor:
        """``[M, N]``: for tests on small graphs only."""
        return self.us @ self.v.t()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, rank={self.rank})"


def normalized_adjacency(edge_index: Tensor, num_nodes: int) -> Tensor:
    r""":math:`D^{-1/2} (A + I) D^{-1/2}` as a sparse COO ``[N, N]`` tensor (duplicate edges merged,
    existing self-loops kept once, every node given one)."""
    edge_index = coalesce(edge_index, num_nodes=num_nodes)
    edge_index, _ = add_remaining_self_loops(edge_index, num_nodes=num_nodes)
    row, col = edge_index
    deg = scatter(torch.ones(row.numel(), device=row.device), row, dim=0, dim_size=num_nodes)
    inv = deg.pow(-0.5)
    return torch.sparse_coo_tensor(edge_index, inv[row] * inv[col], (num_nodes, num_nodes),
                                   check_invariants=False).coalesce()


def ppr_diffusion(edge_index: Tensor, num_nodes: int, alpha: float = 0.2, eps: float = 1e-4,
                  max_steps: int = 100) -> Tensor:
    r"""Personalised-PageRank diffusion :math:`S = \alpha \big(I - (1 - \alpha) T\big)^{-1}` of
    :math:`T = D^{-1/2} (A + I) D^{-1/2}` (MVGRL's diffusion view; PyG's ``GDC`` with ``ppr``), as
    a sparse COO ``[N, N]`` tensor, never dense: the series :math:`\alpha \sum_k ((1 - \alpha)
    T)^k` term by term on sparse matrices, each term's entries below ``eps`` dropped (and those of
    the sum), until a term is empty or ``max_steps``. ``eps = 0`` and enough steps give the exact
    matrix (error :math:`(1 - \alpha)^{K}` after ``K`` steps)."""
    import numpy as np
    import scipy.sparse as sp

    if not 0 < alpha < 1:
        raise InvalidArgumentError(f"the teleport probability alpha must be in (0, 1), got {alpha}")
    if eps < 0:
        raise InvalidArgumentError(f"eps must be >= 0, got {eps}")
    t = normalized_adjacency(edge_index.cpu(), num_nodes)
    row, col = t.indices().numpy()
    transition = sp.csr_matrix((t.values().numpy().astype(np.float64), (row, col)), shape=(num_nodes, num_nodes))
    term = sp.identity(num_nodes, format="csr", dtype=np.float64) * alpha
    total = term.copy()
    for _ in range(max_steps):
        term = (transition @ term) * (1 - alpha)
        if eps > 0:
            term.data[np.abs(term.data) < eps] = 0.0
            term.eliminate_zeros()
        if term.nnz == 0:
            break
        total = total + term
    if eps > 0:
        total.data[np.abs(total.data) < eps] = 0.0
        total.eliminate_zeros()
    total = total.tocoo()
    index = torch.from_numpy(np.vstack([total.row, total.col]).astype(np.int64))
    return torch.sparse_coo_tensor(index, torch.from_numpy(total.data).float(), (num_nodes, num_nodes),
                                   check_invariants=False).coalesce()


def normalized_biadjacency(pairs: Tensor, num_users: int, num_items: int) -> Tensor:
    r""":math:`D_u^{-1/2} R D_i^{-1/2}` as a sparse COO ``[num_users, num_items]`` tensor, ``pairs``
    ``[2, E]`` the ``(user, item)`` interactions (duplicates counted once)."""
    pairs = torch.unique(pairs, dim=1)
    user, item = pairs
    ones = torch.ones(user.numel(), device=pairs.device)
    du = scatter(ones, user, dim=0, dim_size=num_users).clamp_min(1).pow(-0.5)
    di = scatter(ones, item, dim=0, dim_size=num_items).clamp_min(1).pow(-0.5)
    return torch.sparse_coo_tensor(pairs, du[user] * di[item], (num_users, num_items),
                                   check_invariants=False).coalesce()


def svd_operator(matrix: Tensor, rank: int, niter: int = 2, oversample: int = 10) -> LowRankOperator:
    r"""Rank-``rank`` randomized SVD of a sparse ``[M, N]`` matrix, :math:`U_q S_q V_q^\top`, as a
    :class:`LowRankOperator`.

    :func:`torch.svd_lowrank` runs with ``rank + oversample`` columns (capped at the smaller side)
    and ``niter`` subspace iterations, and the top ``rank`` triplets are kept: Halko et al.'s
    oversampling, which makes the result close to the exact truncated SVD (LightGCL's official
    code asks ``svd_lowrank`` for exactly ``q`` columns, ``oversample=0``). Random: seed torch for
    a reproducible view.
    """
    rank = check_positive_int("rank", rank)
    oversample = check_positive_int("oversample", oversample, minimum=0)
    if rank > min(matrix.shape):
        raise InvalidArgumentError(f"rank {rank} exceeds the matrix's smaller side {min(matrix.shape)}")
    u, s, v = torch.svd_lowrank(matrix, q=min(rank + oversample, min(matrix.shape)), niter=niter)
    return LowRankOperator(u[:, :rank] * s[:rank], v[:, :rank])


class SVDView(BaseTransform):
    r"""LightGCL's SVD view of a homogeneous graph: adds the rank-:math:`q` operator
    :math:`U_q S_q V_q^\top \approx D^{-1/2}(A + I)D^{-1/2}` as the node-level factors
    ``svd_us`` ``[N, q]`` and ``svd_v`` ``[N, q]`` (so they move and slice with the graph;
    :meth:`operator` rebuilds the :class:`LowRankOperator`). The input is not modified.

    The factors are computed once per graph: cached on the identity (and in-place version) of
    ``edge_index`` and the number of nodes.

    Args:
        rank: :math:`q` (LightGCL: 5).
        niter: power iterations of the randomized SVD.
        oversample: extra columns of the randomized SVD (see :func:`svd_operator`).
    """

    def __init__(self, rank: int = 5, niter: int = 2, oversample: int = 10) -> None:
        self.rank = check_positive_int("rank", rank)
        self.niter = check_positive_int("niter", niter, minimum=0)
        self.oversample = check_positive_int("oversample", oversample, minimum=0)
        self._cache = _TensorKeyedCache()

    def factors(self, edge_index: Tensor, num_nodes: int) -> LowRankOperator:
        op = self._cache.get([edge_index], num_nodes)
        if op is None:
            op = svd_operator(normalized_adjacency(edge_index, num_nodes), self.rank, self.niter, self.oversample)
            self._cache.put([edge_index], op, num_nodes)
        return op

    def forward(self, data: Data) -> Data:
        data = require_data(data, "SVDView")
        edge_index = require_edge_index(data, "SVDView")
        num_nodes = require_num_nodes(data, "SVDView")
        if num_nodes < 1:
            raise InvalidGraphError("SVDView needs a graph with at least one node")
        check_edge_index(edge_index, num_nodes)
        op = self.factors(edge_index, num_nodes)
        out = copy.copy(data)
        out.svd_us, out.svd_v = op.us, op.v
        return out

    @staticmethod
    def operator(data: Data) -> LowRankOperator:
        """The view's operator of a graph that went through :class:`SVDView`."""
        if "svd_us" not in data or "svd_v" not in data:
            raise InvalidGraphError("the graph has no SVD factors; apply graphcl.augment.SVDView first")
        return LowRankOperator(data.svd_us, data.svd_v)

    def __repr__(self) -> str:
        return format_repr(self, rank=self.rank, niter=self.niter, oversample=self.oversample)


class LowPassFeatures(BaseTransform):
    r"""Low-pass filtered node features: :math:`X \leftarrow \hat A^{t} X` with
    :math:`\hat A = D^{-1/2}(A + I)D^{-1/2}` on the symmetrised graph (:func:`normalized_adjacency`).

    :math:`\hat A = I - \tilde L` for the normalised Laplacian :math:`\tilde L` of the graph with
    self-loops, so this is the Laplacian smoothing filter :math:`(I - \tilde L)^t` of AGE (Cui et
    al., "Adaptive Graph Encoder for Attributed Graph Embedding", KDD 2020) and of SCGC (Liu et al.,
    "Simple Contrastive Graph Clustering", TNNLS 2023), and SGC's feature propagation (Wu et al.,
    ICML 2019). It keeps each feature's low graph frequencies: neighbours get similar features,
    which lets a graph-agnostic encoder (the SDCN autoencoder of SCGC / PamC) see the structure.
    ``t`` sparse products, ``O(t |E| F)``; ``x`` ``[N, F]`` -> ``[N, F]`` (float). The input is not
    modified.

    Args:
        steps: :math:`t`, the number of propagation steps (``0``: the features unchanged).
    """

    def __init__(self, steps: int = 2) -> None:
        self.steps = check_positive_int("steps", steps, minimum=0)

    def forward(self, data: Data) -> Data:
        data = require_data(data, "LowPassFeatures")
        x = require_features(data, "LowPassFeatures").float()
        edge_index = require_edge_index(data, "LowPassFeatures")
        num_nodes = require_num_nodes(data, "LowPassFeatures")
        check_edge_index(edge_index, num_nodes)
        if self.steps:
            adjacency = normalized_adjacency(to_undirected(edge_index, num_nodes=num_nodes), num_nodes)
            for _ in range(self.steps):
                x = torch.sparse.mm(adjacency, x)
        out = copy.copy(data)
        out.x = x
        return out

    def __repr__(self) -> str:
        return format_repr(self, steps=self.steps)
