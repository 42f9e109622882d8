r"""Node centralities for GCA-style adaptive augmentation, and GCA's weight normalisation.

All functions take ``edge_index`` (``[2, E]``, messages flow from ``edge_index[0]`` to
``edge_index[1]``) and ``num_nodes``, run on ``edge_index``'s device with sparse scatter
operations (no ``N x N`` matrix), and return a float tensor of shape ``[num_nodes]``.

* :func:`degree_centrality` -- degree on the symmetrised, coalesced graph (GCA's ``degree``).
* :func:`pagerank` -- GCA's ``compute_pr`` recurrence (not the textbook normalised PageRank).
* :func:`eigenvector_centrality` -- a vectorised torch power iteration of the exact recurrence
  networkx's :func:`networkx.eigenvector_centrality` runs. GCA itself called
  :func:`networkx.eigenvector_centrality_numpy`; since networkx 3.2 that function refuses
  disconnected graphs (``AmbiguousSolution``) and almost every benchmark graph (Cora, Amazon,
  Coauthor, WikiCS) is disconnected, and building a Python networkx graph costs seconds to
  minutes on large graphs. The power iteration gives the same vector as networkx on connected
  graphs (see the tests), works on disconnected ones (mass concentrates on the component with the
  largest spectral radius, as in networkx's power iteration) and stays on the GPU.

Zhu et al., "Graph Contrastive Learning with Adaptive Augmentation" (GCA), WWW 2021.
"""
from __future__ import annotations

import warnings
import weakref
from typing import Any, Hashable, Sequence

import torch
from torch import Tensor
from torch_geometric.utils import coalesce, degree, scatter, to_undirected

from graphcl.errors import InvalidArgumentError

__all__ = [
    "CENTRALITIES",
    "degree_centrality",
    "pagerank",
    "eigenvector_centrality",
]

#: Canonical centrality names accepted by the adaptive augmenters (``'pr'`` and
#: ``'eigenvector'`` are accepted as aliases, ``'pr'`` being GCA's own ``drop_scheme`` name).
CENTRALITIES = ("degree", "pagerank", "evc")
_ALIASES = {"degree": "degree", "pagerank": "pagerank", "pr": "pagerank", "evc": "evc", "eigenvector": "evc"}


def _resolve_centrality(name: Any) -> str:
    """Return the canonical centrality name for ``name``, raising on unknown names."""
    if not isinstance(name, str) or name.lower() not in _ALIASES:
        raise InvalidArgumentError(
            f"centrality must be one of {list(CENTRALITIES)} (aliases: 'pr', 'eigenvector'), got {name!r}")
    return _ALIASES[name.lower()]


def degree_centrality(edge_index: Tensor, num_nodes: int) -> Tensor:
    r"""Node degree on the undirected version of the graph.

    The graph is symmetrised and coalesced first (:func:`torch_geometric.utils.to_undirected`),
    so an edge stored in both directions counts once per endpoint and duplicates count once;
    a self-loop counts once. This is GCA's ``degree(to_undirected(edge_index)[1])``.
    """
    if edge_index.numel() == 0:
        return torch.zeros(num_nodes, device=edge_index.device)
    und = to_undirected(edge_index, num_nodes=num_nodes)
    return degree(und[1], num_nodes, dtype=torch.float32)


def pagerank(edge_index: Tensor, num_nodes: int, damping: float = 0.85, num_iterations: int = 10) -> Tensor:
    r"""GCA's PageRank: ``num_iterations`` steps of an un-normalised power iteration.

    Starting from :math:`x^{(0)} = \mathbf{1}`,

    .. math::
        x^{(t+1)}_v = (1 - d)\, x^{(t)}_v + d \sum_{(u, v) \in E} \frac{x^{(t)}_u}{\deg^{+}(u)}

    with damping :math:`d` and out-degree :math:`\deg^{+}` (duplicate edges counted). Unlike the
    textbook PageRank the teleport term is :math:`(1-d)x_v`, not :math:`(1-d)/N`, and the result is
    not normalised; this is exactly ``pGRACE.utils.compute_pr`` (GCA uses ``k=200`` for edge
    weights and the default ``k=10`` for feature weights), except that the number of nodes comes
    from ``num_nodes`` rather than ``edge_index.max() + 1``.
    """
    if not 0.0 <= damping <= 1.0:
        raise InvalidArgumentError(f"damping must be in [0, 1], got {damping}")
    if num_iterations < 0:
        raise InvalidArgumentError(f"num_iterations must be >= 0, got {num_iterations}")
    row, col = edge_index[0], edge_index[1]
    deg_out = degree(row, num_nodes, dtype=torch.float32)
    norm = deg_out[row].reciprocal()  # every source of an edge has out-degree >= 1
    x = torch.ones(num_nodes, dtype=torch.float32, device=edge_index.device)
    for _ in range(num_iterations):
        agg = scatter(x[row] * norm, col, dim=0, dim_size=num_nodes, reduce="sum")
        x = (1.0 - damping) * x + damping * agg
    return x


def eigenvector_centrality(edge_index: Tensor, num_nodes: int, max_iter: int = 1000,
                           tol: float = 1e-6) -> Tensor:
    r"""Eigenvector centrality by power iteration on :math:`A^\top + I` (networkx's recurrence).

    Duplicate edges are merged (as in a networkx ``DiGraph``); :math:`x^{(0)} = \mathbf{1}/N`,

    .. math::
        y = x^{(t)} + A^\top x^{(t)}, \qquad x^{(t+1)} = y / \lVert y \rVert_2,

    i.e. :math:`x_v` collects from the sources of the edges into :math:`v`, stopping when
    :math:`\lVert x^{(t+1)} - x^{(t)} \rVert_1 < N \cdot \mathrm{tol}`. The identity shift keeps
    the iteration from oscillating on bipartite graphs and does not change the eigenvector.
    Computed in float64, returned as float32. If it has not converged after ``max_iter`` steps
    a :class:`RuntimeWarning` is issued and the current estimate is returned (networkx raises).
    """
    if num_nodes == 0:
        return torch.zeros(0, device=edge_index.device)
    ei = coalesce(edge_index, num_nodes=num_nodes) if edge_index.numel() else edge_index
    row, col = ei[0], ei[1]
    x = torch.full((num_nodes,), 1.0 / num_nodes, dtype=torch.float64, device=edge_index.device)
    for _ in range(max_iter):
        y = x + scatter(x[row], col, dim=0, dim_size=num_nodes, reduce="sum")
        norm = torch.linalg.vector_norm(y)
        y = y / norm if norm > 0 else y
        converged = bool((y - x).abs().sum() < num_nodes * tol)
        x = y
        if converged:
            break
    else:
        warnings.warn(f"eigenvector_centrality did not converge in {max_iter} iterations (tol={tol}); "
                      "returning the current estimate", RuntimeWarning, stacklevel=2)
    return x.to(torch.float32)


def _node_centrality(name: str, edge_index: Tensor, num_nodes: int, *, pagerank_iterations: int = 10) -> Tensor:
    """Dispatch to :func:`degree_centrality`, :func:`pagerank` or :func:`eigenvector_centrality`.

    For ``'evc'`` the result is GCA's clamped version ``max(evc, 0) + 1e-8``.
    """
    name = _resolve_centrality(name)
    # looked up at call time (module globals) so that tests can count calls with monkeypatch
    if name == "degree":
        return degree_centrality(edge_index, num_nodes)
    if name == "pagerank":
        return pagerank(edge_index, num_nodes, num_iterations=pagerank_iterations)
    evc = eigenvector_centrality(edge_index, num_nodes)
    return evc.clamp(min=0) + 1e-8


def _gca_weights(s: Tensor) -> Tensor:
    r"""GCA's normalisation of log-centralities into relative drop weights.

    .. math:: w = \frac{s_{\max} - s}{s_{\max} - \bar{s}}

    so that :math:`\mathbb{E}[w] = 1`, the most central item gets weight 0 and weakly central
    ones get more. When all :math:`s` are equal (GCA would divide 0 by 0) every weight is 1,
    the limit in which the adaptive scheme becomes the uniform one.
    """
    if s.numel() == 0:
        return s.clone()
    s_max = s.max()
    if bool(s_max == s.min()):
        return torch.ones_like(s)
    return (s_max - s) / (s_max - s.mean())


def _gca_drop_probability(w: Tensor, p: float, threshold: float) -> Tensor:
    r""":math:`p_i = \min(w_i / \bar{w} \cdot p,\ p_\tau)` -- GCA's ``drop_edge_weighted`` /
    ``drop_feature_weighted_2`` probabilities (all equal to ``min(p, threshold)`` if ``w`` is
    constant)."""
    if w.numel() == 0:
        return w.clone()
    mean = w.mean()
    if not bool(mean > 0):
        return torch.full_like(w, min(p, threshold))
    return (w / mean * p).clamp(max=threshold)


class _TensorKeyedCache:
    """A one-entry cache keyed on the identity of tensors (and their in-place version counters).

    It holds weak references only, so it never keeps a graph alive, and a tensor modified in
    place (``tensor._version`` changes) or replaced by a new tensor is a miss. ``extra`` holds
    hashable values that must also match (e.g. ``num_nodes``). Not pickled: an augmenter
    copied to a DataLoader worker starts with an empty cache.
    """

    def __init__(self) -> None:
        self._refs: tuple[weakref.ref, ...] = ()
        self._versions: tuple[int, ...] = ()
        self._extra: Hashable = None
        self._value: Any = None

    def get(self, tensors: Sequence[Tensor], extra: Hashable = None) -> Any:
        if len(tensors) != len(self._refs) or extra != self._extra:
            return None
        for ref, version, t in zip(self._refs, self._versions, tensors):
            if ref() is not t or t._version != version:
                return None
        return self._value

    def put(self, tensors: Sequence[Tensor], value: Any, extra: Hashable = None) -> None:
        self._refs = tuple(weakref.ref(t) for t in tensors)
        self._versions = tuple(t._version for t in tensors)
        self._extra = extra
        self._value = value

    def clear(self) -> None:
        self.__init__()

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    def __deepcopy__(self, memo: dict) -> "_TensorKeyedCache":
        return _TensorKeyedCache()
