r"""Edge augmenters: uniform edge dropping (GRACE), random edge addition, GCA's adaptive dropping.

Every augmenter is a :class:`~torch_geometric.transforms.BaseTransform` mapping a
:class:`~torch_geometric.data.Data` to a new ``Data`` without touching its input; all edge-level
attributes (``edge_attr``, ``edge_weight``, ``edge_type``, ...) stay aligned with the kept edges
(:meth:`torch_geometric.data.Data.edge_subgraph`). Randomness comes from torch's generator of the
graph's device, so ``torch.manual_seed`` reproduces a view.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import dropout_edge

from graphcl.augment import centrality as C
from graphcl.augment._utils import (check_positive_int, check_probability, format_repr, require_data,
                                    require_edge_index, require_num_nodes)
from graphcl.checks import check_edge_index
from graphcl.errors import InvalidGraphError

__all__ = ["DropEdge", "AddEdge", "AdaptiveDropEdge"]


def _edge_subgraph(data: Data, keep: Tensor) -> Data:
    """``data.edge_subgraph`` with an index rather than a mask: PyG masks ``edge_index`` (a
    ``[2, E]`` tensor, cat dim 1) through a transposed boolean index, which costs milliseconds
    even on small graphs; ``index_select`` does not."""
    if keep.dtype == torch.bool:
        keep = keep.nonzero().view(-1)
    return data.edge_subgraph(keep)


class DropEdge(BaseTransform):
    r"""Drop every edge independently with probability ``p`` (GRACE's edge removal).

    .. math:: \tilde{E} = \{ e \in E : r_e = 1 \}, \quad r_e \sim \mathrm{Bernoulli}(1 - p)

    With ``force_undirected=True`` the graph is treated as undirected (each edge stored in both
    directions): one coin is flipped per pair :math:`u < v` (and per self-loop), and a kept pair
    keeps both directions, so an undirected graph stays undirected. Edges stored with
    ``row > col`` only are then rebuilt from their ``row < col`` twin (and carry its attributes).
    Delegates to :func:`torch_geometric.utils.dropout_edge`.

    Zhu et al., "Deep Graph Contrastive Representation Learning" (GRACE), ICML GRL+ 2020;
    Rong et al., "DropEdge", ICLR 2020.

    Args:
        p: drop probability in ``[0, 1]``.
        force_undirected: drop both directions of an undirected edge together.
    """

    accepts_sparse_features = True  # x is left as it is

    def __init__(self, p: float = 0.2, force_undirected: bool = False) -> None:
        self.p = check_probability("p", p)
        self.force_undirected = bool(force_undirected)

    def forward(self, data: Data) -> Data:
        data = require_data(data, "DropEdge")
        edge_index = require_edge_index(data, "DropEdge")
        if edge_index.size(1) == 0 or self.p == 0.0:
            return data
        new_index, kept = dropout_edge(edge_index, p=self.p, force_undirected=self.force_undirected)
        if self.force_undirected:
            # dropout_edge keeps the pairs row <= col and appends their flips: a kept self-loop
            # would appear twice, so drop the flipped copies of self-loops.
            half = new_index.size(1) // 2
            flipped = new_index[:, half:]
            sel = torch.cat([torch.ones(half, dtype=torch.bool, device=new_index.device),
                             flipped[0] != flipped[1]])
            new_index, kept = new_index[:, sel], kept.view(-1)[sel]
        out = _edge_subgraph(data, kept)
        out.edge_index = new_index
        return out

    def __repr__(self) -> str:
        return format_repr(self, p=self.p, force_undirected=self.force_undirected)


def _unique_in_order(t: Tensor, exclude: Tensor | None = None) -> Tensor:
    """Distinct values of 1-D ``t`` in order of first appearance (no sort bias), leaving out the
    values found in the sorted tensor ``exclude``."""
    if t.numel() == 0:
        return t
    uniq, inv = torch.unique(t, return_inverse=True)  # sorted, so the look-up below is cache-friendly
    pos = torch.arange(t.numel(), device=t.device)
    first = torch.full((uniq.numel(),), t.numel(), dtype=torch.long, device=t.device)
    first.scatter_reduce_(0, inv, pos, reduce="amin")
    if exclude is not None:
        first = first[~_contains(exclude, uniq)]
    return t[first.sort().values]


def _pair_keys(edge_index: Tensor, num_nodes: int, undirected: bool = False) -> Tensor:
    """Sorted distinct keys ``u * N + v`` of the non-loop edges (``u < v`` pairs when ``undirected``)."""
    row, col = edge_index[0], edge_index[1]
    no_loop = row != col
    row, col = row[no_loop], col[no_loop]
    if undirected:
        row, col = torch.minimum(row, col), torch.maximum(row, col)
    return torch.unique(row * num_nodes + col)


def _contains(sorted_keys: Tensor, query: Tensor) -> Tensor:
    if sorted_keys.numel() == 0:
        return torch.zeros_like(query, dtype=torch.bool)
    pos = torch.searchsorted(sorted_keys, query).clamp(max=sorted_keys.numel() - 1)
    return sorted_keys[pos] == query


def _sample_non_edges(edge_index: Tensor, num_nodes: int, num_samples: int, force_undirected: bool = False,
                      max_rounds: int = 10, existing: Tensor | None = None) -> Tensor:
    r"""Sample ``num_samples`` distinct node pairs that are not edges of the graph and not self-loops.

    Uniform over the non-edges, drawn with torch's generator on ``edge_index``'s device by
    vectorised rejection sampling (a few rounds; on a nearly complete graph fewer pairs may come
    back, and never more than there are non-edges). With ``force_undirected`` it draws
    ``num_samples // 2`` unordered pairs absent in both directions and returns both directions
    (the first half ``u -> v``, the second ``v -> u``). Same contract as
    :func:`torch_geometric.utils.negative_sampling`, which draws from Python's ``random`` module
    instead and so is not reproduced by ``torch.manual_seed``. ``existing`` may pass
    :func:`_pair_keys` precomputed (it is the expensive part on large graphs).
    """
    device = edge_index.device
    n = int(num_nodes)
    target = num_samples // 2 if force_undirected else num_samples
    if n < 2 or target <= 0:
        return torch.empty((2, 0), dtype=torch.long, device=device)
    if existing is None:
        existing = _pair_keys(edge_index, n, force_undirected)
    population = n * (n - 1) // 2 if force_undirected else n * (n - 1)
    available = population - existing.numel()
    target = min(target, available)
    accepted = torch.empty(0, dtype=torch.long, device=device)
    for _ in range(max_rounds):
        need = target - accepted.numel()
        if need <= 0:
            break
        free_rate = max((available - accepted.numel()) / population, 1e-3)
        n_draw = int(1.2 * need / free_rate) + 16
        r = torch.randint(n, (n_draw,), device=device)
        c = torch.randint(n - 1, (n_draw,), device=device)
        c = c + (c >= r).long()  # uniform over the ordered pairs r != c
        if force_undirected:
            r, c = torch.minimum(r, c), torch.maximum(r, c)
        # earlier acceptances come first, so they survive the de-duplication unchanged
        accepted = _unique_in_order(torch.cat([accepted, r * n + c]), exclude=existing)[:target]
    pairs = torch.stack([accepted // n, accepted % n])
    if force_undirected:
        pairs = torch.cat([pairs, pairs.flip(0)], dim=1)
    return pairs


class AddEdge(BaseTransform):
    r"""Add ``round(p * |E|)`` random edges that are not in the graph (no self-loops, no duplicates).

    .. math::
        \tilde{E} = E \cup E_{+}, \quad E_{+} \subset (V \times V) \setminus (E \cup \{(v, v)\}),
        \quad |E_{+}| = \mathrm{round}(p |E|)

    with :math:`E_{+}` uniform among the non-edges. With ``force_undirected=True``,
    ``round(p|E|) // 2`` new pairs are added in both directions. The original edges come first,
    unchanged and in order. New edges get ``edge_weight = 1`` and zeros for every other
    edge-level attribute (``edge_attr``, ``edge_type``, ...). Same semantics as
    :func:`torch_geometric.utils.add_random_edge`, but sampled with torch's generator (PyG's
    sampler uses Python's ``random``, so a torch seed would not reproduce the view) and on the
    graph's device; see :func:`_sample_non_edges`.

    You et al., "Graph Contrastive Learning with Augmentations" (GraphCL), NeurIPS 2020 (edge
    perturbation).

    Args:
        p: ratio of edges to add, in ``[0, 1]``.
        force_undirected: add each new edge in both directions.
    """

    accepts_sparse_features = True  # x is left as it is

    def __init__(self, p: float = 0.2, force_undirected: bool = False) -> None:
        self.p = check_probability("p", p)
        self.force_undirected = bool(force_undirected)
        self._cache = C._TensorKeyedCache()  # the sorted keys of the existing edges, per graph

    def forward(self, data: Data) -> Data:
        data = require_data(data, "AddEdge")
        edge_index = require_edge_index(data, "AddEdge")
        num_nodes = require_num_nodes(data, "AddEdge")
        num_new = round(edge_index.size(1) * self.p)
        if num_new == 0:
            return data
        extra = (num_nodes, self.force_undirected)
        existing = self._cache.get([edge_index], extra)
        if existing is None:
            check_edge_index(edge_index, num_nodes, allow_duplicates=True)
            existing = _pair_keys(edge_index, num_nodes, self.force_undirected)
            self._cache.put([edge_index], existing, extra)
        new = _sample_non_edges(edge_index, num_nodes, num_new, self.force_undirected, existing=existing)
        if new.size(1) == 0:
            return data
        edge_keys = [k for k in data.keys() if k != "edge_index" and data.is_edge_attr(k)]
        for key in edge_keys:
            value = data[key]
            if not isinstance(value, Tensor):
                raise InvalidGraphError(
                    f"AddEdge can only extend tensor edge attributes, but `{key}` is a {type(value).__name__}")
            dim = data.__cat_dim__(key, value)
            shape = list(value.shape)
            shape[dim] = new.size(1)
            fill = 1 if key == "edge_weight" else 0
            data[key] = torch.cat([value, value.new_full(shape, fill)], dim=dim)
        data.edge_index = torch.cat([edge_index, new.to(edge_index.dtype)], dim=1)
        return data

    def __repr__(self) -> str:
        return format_repr(self, p=self.p, force_undirected=self.force_undirected)


class AdaptiveDropEdge(BaseTransform):
    r"""GCA's centrality-aware edge dropping: edges into weakly central nodes are dropped more often.

    For an edge :math:`e = (u, v)` with node centrality :math:`\varphi_c` of its target ``v``:

    .. math::
        s_e = \log(\varphi_c(v) + 1), \qquad
        w_e = \frac{s_{\max} - s_e}{s_{\max} - \mu_s}, \qquad
        p_e = \min\!\left(\frac{w_e}{\bar{w}}\, p,\ p_\tau\right)

    and edge :math:`e` is kept with probability :math:`1 - p_e`. The centralities
    (``centrality``) are GCA's: ``'degree'`` -- degree on the undirected graph; ``'pagerank'`` --
    GCA's un-normalised PageRank recurrence with ``pagerank_iterations`` steps (200 in GCA's
    training script); ``'evc'`` -- eigenvector centrality clamped at 0, plus ``1e-8``. See
    :mod:`graphcl.augment.centrality`. (The ``+ 1`` inside the log is GCA's code: it keeps
    isolated / zero-centrality nodes finite.) If every :math:`s_e` is equal the scheme reduces to
    uniform dropping with probability :math:`\min(p, p_\tau)`.

    The probabilities are computed once per graph and cached, keyed on the identity (and
    in-place version) of the input's ``edge_index``: repeated calls on the same graph (the
    training loop) cost one Bernoulli draw per edge. :meth:`drop_probability` exposes them.

    Zhu et al., "Graph Contrastive Learning with Adaptive Augmentation" (GCA), WWW 2021.

    Args:
        p: overall drop rate :math:`p` in ``[0, 1]`` (the mean drop probability before clipping).
        centrality: ``'degree'``, ``'pagerank'`` (alias ``'pr'``) or ``'evc'`` (alias ``'eigenvector'``).
        threshold: cut-off :math:`p_\tau` in ``[0, 1]`` (GCA uses 0.7).
        pagerank_iterations: power-iteration steps for ``'pagerank'``.
    """

    accepts_sparse_features = True  # x is left as it is

    def __init__(self, p: float = 0.3, centrality: str = "degree", threshold: float = 0.7,
                 pagerank_iterations: int = 200) -> None:
        self.p = check_probability("p", p)
        self.centrality = C._resolve_centrality(centrality)
        self.threshold = check_probability("threshold", threshold)
        self.pagerank_iterations = check_positive_int("pagerank_iterations", pagerank_iterations)
        self._cache = C._TensorKeyedCache()
        self._fitted: Tensor | None = None  # the whole graph's probabilities (fit), for mini-batches

    def drop_probability(self, data: Data) -> Tensor:
        """Per-edge drop probabilities :math:`p_e` (``[E]``, float32), cached per graph."""
        data = require_data(data, "AdaptiveDropEdge")
        edge_index = require_edge_index(data, "AdaptiveDropEdge")
        num_nodes = require_num_nodes(data, "AdaptiveDropEdge")
        extra = (num_nodes, self.p, self.threshold, self.centrality, self.pagerank_iterations)
        prob = self._cache.get([edge_index], extra)
        if prob is None:
            check_edge_index(edge_index, num_nodes, allow_duplicates=True)
            if edge_index.size(1) == 0:
                prob = torch.zeros(0, device=edge_index.device)
            else:
                c = C._node_centrality(self.centrality, edge_index, num_nodes,
                                       pagerank_iterations=self.pagerank_iterations)
                s = torch.log(c[edge_index[1]].float() + 1.0)
                prob = C._gca_drop_probability(C._gca_weights(s), self.p, self.threshold)
            self._cache.put([edge_index], prob, extra)
        return prob

    def fit(self, data: Data) -> "AdaptiveDropEdge":
        """Keep the whole graph's probabilities for mini-batches: a sampled subgraph with ``e_id``
        (its edges' positions in that graph) then drops by those, not by its own centralities."""
        self._fitted = self.drop_probability(data)
        return self

    def forward(self, data: Data) -> Data:
        fitted = self._fitted
        if fitted is not None and data.get("e_id") is not None:
            prob = fitted.to(data.e_id.device)[data.e_id]
        else:
            prob = self.drop_probability(data)
        if prob.numel() == 0:
            return data
        keep = torch.bernoulli(1.0 - prob).to(torch.bool)
        return _edge_subgraph(data, keep)

    def __repr__(self) -> str:
        return format_repr(self, p=self.p, centrality=self.centrality, threshold=self.threshold,
                           pagerank_iterations=self.pagerank_iterations)
