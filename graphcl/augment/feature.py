r"""Feature augmenters: column masking (GRACE), element-wise dropout, Gaussian noise, GCA's adaptive masking.

Each returns a new ``Data`` whose ``x`` is a new tensor (the input's ``x`` is never written to);
randomness comes from torch's generator on ``x``'s device. Each also takes a sparse COO ``x`` (the
mini-batches of bag-of-words features, :class:`~graphcl.data.neighbors.SparseRows`): the masks keep
it sparse (column masks draw the same numbers as on the dense matrix), the noise makes it dense.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import mask_feature

from graphcl.augment import centrality as C
from graphcl.augment._utils import (check_nonnegative, check_positive_int, check_probability, format_repr,
                                    require_data, require_edge_index, require_features, require_num_nodes)
from graphcl.checks import check_edge_index
from graphcl.errors import InvalidGraphError

__all__ = ["MaskFeature", "DropoutFeature", "GaussianNoise", "AdaptiveMaskFeature"]


def _mask_columns(x: Tensor, keep: Tensor) -> Tensor:
    """``x`` with the columns where ``keep [F]`` is False zeroed, dense or sparse COO (kept sparse)."""
    if x.layout == torch.sparse_coo:
        return _sparse_entries(x, keep[x.indices()[1]])
    return x.masked_fill(~keep.view(1, -1), 0)


def _sparse_entries(x: Tensor, keep: Tensor) -> Tensor:
    """The coalesced sparse COO ``x`` with only the stored entries where ``keep [nnz]``."""
    x = x.coalesce()
    return torch.sparse_coo_tensor(x.indices()[:, keep], x.values()[keep], x.shape, is_coalesced=True,
                                   check_invariants=False)


class MaskFeature(BaseTransform):
    r"""Zero a random subset of feature dimensions, the same dimensions for every node (GRACE).

    .. math:: \tilde{X} = X \odot (\mathbf{1} m^\top), \quad m_j \sim \mathrm{Bernoulli}(1 - p)

    This is GRACE's ``drop_feature``; delegates to
    :func:`torch_geometric.utils.mask_feature` with ``mode='col'``. No rescaling.

    Zhu et al., "Deep Graph Contrastive Representation Learning" (GRACE), ICML GRL+ 2020.

    Args:
        p: probability that a feature dimension is masked, in ``[0, 1]``.
    """

    accepts_sparse_features = True

    def __init__(self, p: float = 0.2) -> None:
        self.p = check_probability("p", p)

    def forward(self, data: Data) -> Data:
        data = require_data(data, "MaskFeature")
        x = require_features(data, "MaskFeature")
        if x.layout == torch.sparse_coo:  # the numbers mask_feature draws, applied to the stored entries
            data.x = _mask_columns(x, torch.rand(x.size(1), device=x.device) >= self.p)
        else:
            data.x, _ = mask_feature(x, p=self.p, mode="col")
        return data

    def __repr__(self) -> str:
        return format_repr(self, p=self.p)


class DropoutFeature(BaseTransform):
    r"""Zero every feature entry independently with probability ``p``.

    .. math:: \tilde{X}_{ij} = X_{ij}\, m_{ij}, \quad m_{ij} \sim \mathrm{Bernoulli}(1 - p)

    Unlike :func:`torch.nn.functional.dropout` the kept entries are **not** rescaled by
    :math:`1/(1-p)`: a view keeps the original feature scale, as the contrastive augmentation
    literature does. Delegates to :func:`torch_geometric.utils.mask_feature` with ``mode='all'``.

    You et al., "Graph Contrastive Learning with Augmentations" (GraphCL), NeurIPS 2020 (attribute
    masking); Zhu et al., GRACE, 2020.

    Args:
        p: probability that an entry is zeroed, in ``[0, 1]``.
    """

    accepts_sparse_features = True

    def __init__(self, p: float = 0.2) -> None:
        self.p = check_probability("p", p)

    def forward(self, data: Data) -> Data:
        data = require_data(data, "DropoutFeature")
        x = require_features(data, "DropoutFeature")
        if x.layout == torch.sparse_coo:  # zeroing a zero changes nothing: draws for the stored entries only
            x = x.coalesce()
            data.x = _sparse_entries(x, torch.rand(x.values().numel(), device=x.device) >= self.p)
        else:
            data.x, _ = mask_feature(x, p=self.p, mode="all")
        return data

    def __repr__(self) -> str:
        return format_repr(self, p=self.p)


class GaussianNoise(BaseTransform):
    r"""Add i.i.d. Gaussian noise to the node features.

    .. math:: \tilde{X} = X + \sigma\, \varepsilon, \quad \varepsilon_{ij} \sim \mathcal{N}(0, 1)

    Needs floating-point features. You et al., GraphCL, NeurIPS 2020 (attribute perturbation).

    Args:
        std: noise standard deviation :math:`\sigma \ge 0`.
    """

    accepts_sparse_features = True

    def __init__(self, std: float = 0.1) -> None:
        self.std = check_nonnegative("std", std)

    def forward(self, data: Data) -> Data:
        data = require_data(data, "GaussianNoise")
        x = require_features(data, "GaussianNoise", floating=True)
        if self.std == 0.0:
            return data
        x = x.to_dense() if x.layout == torch.sparse_coo else x  # noise on every entry: dense
        data.x = x + self.std * torch.randn_like(x)
        return data

    def __repr__(self) -> str:
        return format_repr(self, std=self.std)


class AdaptiveMaskFeature(BaseTransform):
    r"""GCA's centrality-aware feature masking: dimensions rarely used by central nodes are masked more.

    With node centralities :math:`\varphi_c` (``'degree'``, ``'pagerank'``, ``'evc'``; see
    :mod:`graphcl.augment.centrality`) and :math:`X' = \mathbb{1}[X \ne 0]` (sparse / binary
    features, the default) or :math:`X' = |X|` (``dense=True``, GCA's WikiCS variant):

    .. math::
        w_j = \log\!\Big(\sum_i X'_{ij}\, \varphi_c(i) + 1\Big), \qquad
        s_j = \frac{w_{\max} - w_j}{w_{\max} - \mu_w}, \qquad
        p_j = \min\!\left(\frac{s_j}{\bar{s}}\, p,\ p_\tau\right)

    and dimension :math:`j` is zeroed for every node with probability :math:`p_j` (GCA's
    ``drop_feature_weighted_2``). If every :math:`w_j` is equal the scheme reduces to uniform
    column masking with probability :math:`\min(p, p_\tau)`.

    The node centralities are computed once per graph, cached on the identity (and in-place
    version) of the input's ``edge_index``; the probabilities additionally on ``x``'s.
    :meth:`drop_probability` exposes them.

    Zhu et al., "Graph Contrastive Learning with Adaptive Augmentation" (GCA), WWW 2021.

    Args:
        p: overall masking rate :math:`p` in ``[0, 1]``.
        centrality: ``'degree'``, ``'pagerank'`` (alias ``'pr'``) or ``'evc'`` (alias ``'eigenvector'``).
        threshold: cut-off :math:`p_\tau` in ``[0, 1]`` (GCA uses 0.7).
        dense: use :math:`|X|` instead of the non-zero pattern (continuous features).
        pagerank_iterations: power-iteration steps for ``'pagerank'`` (GCA's feature weights use
            the default 10 of its ``compute_pr``).
    """

    accepts_sparse_features = True

    def __init__(self, p: float = 0.3, centrality: str = "degree", threshold: float = 0.7, dense: bool = False,
                 pagerank_iterations: int = 10) -> None:
        self.p = check_probability("p", p)
        self.centrality = C._resolve_centrality(centrality)
        self.threshold = check_probability("threshold", threshold)
        self.dense = bool(dense)
        self.pagerank_iterations = check_positive_int("pagerank_iterations", pagerank_iterations)
        self._centrality_cache = C._TensorKeyedCache()
        self._prob_cache = C._TensorKeyedCache()
        self._fitted: Tensor | None = None  # the whole graph's probabilities (fit), for mini-batches

    def node_centrality(self, data: Data) -> Tensor:
        """Node centralities :math:`\\varphi_c` (``[N]``, float32), cached per ``edge_index``."""
        edge_index = require_edge_index(data, "AdaptiveMaskFeature")
        num_nodes = require_num_nodes(data, "AdaptiveMaskFeature")
        extra = (num_nodes, self.centrality, self.pagerank_iterations)
        c = self._centrality_cache.get([edge_index], extra)
        if c is None:
            check_edge_index(edge_index, num_nodes, allow_duplicates=True)
            c = C._node_centrality(self.centrality, edge_index, num_nodes,
                                   pagerank_iterations=self.pagerank_iterations).float()
            self._centrality_cache.put([edge_index], c, extra)
        return c

    def drop_probability(self, data: Data) -> Tensor:
        """Per-dimension drop probabilities :math:`p_j` (``[F]``, float32), cached per graph."""
        data = require_data(data, "AdaptiveMaskFeature")
        x = require_features(data, "AdaptiveMaskFeature")
        edge_index = require_edge_index(data, "AdaptiveMaskFeature")
        if x.size(0) != require_num_nodes(data, "AdaptiveMaskFeature"):
            raise InvalidGraphError(f"x has {x.size(0)} rows but the graph has {data.num_nodes} nodes")
        extra = (self.p, self.threshold, self.dense, self.centrality, self.pagerank_iterations)
        prob = self._prob_cache.get([edge_index, x], extra)
        if prob is None:
            c = self.node_centrality(data).to(x.device)
            x = x.to_dense() if x.layout == torch.sparse_coo else x
            xw = x.abs().float() if self.dense else (x != 0).float()
            w = torch.log(xw.t() @ c + 1.0)
            prob = C._gca_drop_probability(C._gca_weights(w), self.p, self.threshold)
            self._prob_cache.put([edge_index, x], prob, extra)
        return prob

    def fit(self, data: Data) -> "AdaptiveMaskFeature":
        """Keep the whole graph's per-dimension probabilities for mini-batches: a sampled subgraph
        (with ``n_id``) is then masked by those, not by its own centralities."""
        self._fitted = self.drop_probability(data)
        return self

    def forward(self, data: Data) -> Data:
        fitted = self._fitted
        prob = fitted if fitted is not None and data.get("n_id") is not None else self.drop_probability(data)
        if prob.numel() == 0:
            return data
        drop = torch.bernoulli(prob.to(data.x.device)).to(torch.bool)
        data.x = _mask_columns(data.x, ~drop)
        return data

    def __repr__(self) -> str:
        return format_repr(self, p=self.p, centrality=self.centrality, threshold=self.threshold,
                           dense=self.dense, pagerank_iterations=self.pagerank_iterations)
