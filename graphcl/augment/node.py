r"""Node augmenters: node dropping and random-walk subgraphs (GraphCL).

Both return the subgraph induced by the kept nodes, relabelled to ``0..n-1`` with every node-
and edge-level attribute sliced consistently (:meth:`torch_geometric.data.Data.subgraph`), and
store in ``n_id`` the index of each kept node in the input graph. If the input already carries
``n_id`` (an earlier augmenter, or a PyG ``NeighborLoader`` batch) it is sliced instead, so
``n_id`` always points into the graph before the first augmentation. Two views of one graph are
aligned on the nodes they share through their ``n_id``.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import cumsum, degree, index_sort

from graphcl.augment import centrality as C
from graphcl.augment._utils import check_positive_int, check_probability, format_repr, require_data, \
    require_num_nodes
from graphcl.checks import check_edge_index
from graphcl.errors import InvalidArgumentError

__all__ = ["DropNode", "RandomWalkSubgraph", "random_walk"]

#: attribute holding, for every node of a view, its index in the original graph
_NODE_ID_KEY = "n_id"


def _device(data: Data) -> torch.device:
    """The device of ``edge_index`` (else of the first tensor attribute, else CPU)."""
    if isinstance(data.edge_index, Tensor):
        return data.edge_index.device
    for _, value in data:
        if isinstance(value, Tensor):
            return value.device
    return torch.device("cpu")


def _induced_subgraph(data: Data, keep: Tensor, num_nodes: int) -> Data:
    """Induced, relabelled subgraph on the boolean mask ``keep``, with ``n_id`` set or sliced."""
    if _NODE_ID_KEY not in data:
        data[_NODE_ID_KEY] = torch.arange(num_nodes, device=keep.device)
    return data.subgraph(keep)


class DropNode(BaseTransform):
    r"""Remove ``floor(p * N)`` nodes chosen uniformly at random, with their edges (GraphCL).

    .. math::
        \tilde{V} = V \setminus D, \quad D \sim \mathrm{Uniform}\{S \subset V : |S| = \lfloor pN \rfloor\},
        \qquad \tilde{E} = E \cap (\tilde{V} \times \tilde{V})

    A fixed count (as GraphCL's ``drop_nodes``) rather than one coin per node, so that with
    ``p < 1`` a view never loses all the nodes of a small graph (graph-level pooling would then
    silently lose a row). The kept nodes keep their relative order; see the module docstring for
    ``n_id``. Delegates to :meth:`torch_geometric.data.Data.subgraph`.

    You et al., "Graph Contrastive Learning with Augmentations" (GraphCL), NeurIPS 2020.

    Args:
        p: fraction of nodes to drop, in ``[0, 1)``.
    """

    def __init__(self, p: float = 0.2) -> None:
        self.p = check_probability("p", p, allow_one=False)

    def forward(self, data: Data) -> Data:
        data = require_data(data, "DropNode")
        num_nodes = require_num_nodes(data, "DropNode")
        device = _device(data)
        keep = torch.ones(num_nodes, dtype=torch.bool, device=device)
        num_drop = int(self.p * num_nodes)
        if num_drop > 0:
            keep[torch.randperm(num_nodes, device=device)[:num_drop]] = False
        return _induced_subgraph(data, keep, num_nodes)

    def __repr__(self) -> str:
        return format_repr(self, p=self.p)


def _to_csr(edge_index: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
    """``(rowptr [N+1], col [E])`` of ``edge_index`` sorted by source node."""
    row, perm = index_sort(edge_index[0], max_value=num_nodes)
    col = edge_index[1][perm]
    rowptr = cumsum(degree(row, num_nodes, dtype=torch.long))
    return rowptr, col


def random_walk(rowptr: Tensor, col: Tensor, start: Tensor, walk_length: int) -> Tensor:
    r"""Uniform random walks on a CSR graph, vectorised over the walkers.

    ``walks[:, 0] = start`` and ``walks[:, t+1]`` is a uniformly chosen out-neighbour of
    ``walks[:, t]`` (an edge stored twice is twice as likely), i.e.
    ``col[rowptr[v] + floor(u * deg(v))]`` with ``u ~ U[0, 1)``; a node without out-neighbours
    stays where it is. One ``torch.rand`` per step, no loop over nodes; no ``torch_cluster``.

    Returns:
        ``LongTensor [len(start), walk_length + 1]``.
    """
    walks = [start]
    cur = start
    num_edges = col.numel()
    deg = rowptr[1:] - rowptr[:-1]
    for _ in range(walk_length):
        if num_edges == 0:
            walks.append(cur)
            continue
        d = deg[cur]
        off = (torch.rand(cur.numel(), device=cur.device) * d).long()
        off = torch.minimum(off, (d - 1).clamp(min=0))  # guard float rounding at u -> 1
        idx = (rowptr[cur] + off).clamp(max=num_edges - 1)
        cur = torch.where(d > 0, col[idx], cur)
        walks.append(cur)
    return torch.stack(walks, dim=1)


class RandomWalkSubgraph(BaseTransform):
    r"""Keep the nodes visited by random walks from random roots; return their induced subgraph.

    ``k`` distinct roots are drawn uniformly (``num_roots``, or ``max(1, round(root_ratio * N))``;
    at most ``N``), a walk of ``walk_length`` steps follows the edges (source to target) from
    each root, and the subgraph induced by the visited set :math:`S` is returned:
    :math:`\tilde{V} = S,\ \tilde{E} = E \cap (S \times S)`, relabelled, with ``n_id`` as in
    :class:`DropNode`. A GPU-friendly form of GraphCL's subgraph view (which grows a connected
    subgraph from one seed); see :func:`random_walk`.

    You et al., "Graph Contrastive Learning with Augmentations" (GraphCL), NeurIPS 2020;
    Qiu et al., "GCC: Graph Contrastive Coding", KDD 2020 (random-walk subgraphs).

    Args:
        num_roots: number of walk roots (exclusive with ``root_ratio``).
        walk_length: steps per walk (``>= 0``; 0 keeps just the roots).
        root_ratio: fraction of nodes used as roots, in ``(0, 1]``.
    """

    def __init__(self, num_roots: int | None = None, walk_length: int = 10, *,
                 root_ratio: float | None = None) -> None:
        if (num_roots is None) == (root_ratio is None):
            raise InvalidArgumentError("RandomWalkSubgraph needs exactly one of num_roots and root_ratio, "
                                       f"got num_roots={num_roots!r}, root_ratio={root_ratio!r}")
        self.num_roots = None if num_roots is None else check_positive_int("num_roots", num_roots)
        if root_ratio is not None:
            root_ratio = check_probability("root_ratio", root_ratio)
            if root_ratio == 0.0:
                raise InvalidArgumentError("root_ratio must be in (0, 1], got 0")
        self.root_ratio = root_ratio
        self.walk_length = check_positive_int("walk_length", walk_length, minimum=0)
        self._cache = C._TensorKeyedCache()  # the CSR of the last graph

    def _num_roots(self, num_nodes: int) -> int:
        if self.num_roots is not None:
            return min(self.num_roots, num_nodes)
        return min(num_nodes, max(1, round(self.root_ratio * num_nodes)))

    def forward(self, data: Data) -> Data:
        data = require_data(data, "RandomWalkSubgraph")
        num_nodes = require_num_nodes(data, "RandomWalkSubgraph")
        if num_nodes == 0:
            return data
        device = _device(data)
        edge_index = data.edge_index
        if edge_index is None:
            edge_index = torch.empty((2, 0), dtype=torch.long, device=device)
        csr = self._cache.get([edge_index], num_nodes)
        if csr is None:
            check_edge_index(edge_index, num_nodes, allow_duplicates=True)
            csr = _to_csr(edge_index, num_nodes)
            self._cache.put([edge_index], csr, num_nodes)
        rowptr, col = csr
        roots = torch.randperm(num_nodes, device=device)[: self._num_roots(num_nodes)]
        walks = random_walk(rowptr, col, roots, self.walk_length)
        keep = torch.zeros(num_nodes, dtype=torch.bool, device=device)
        keep[walks.reshape(-1)] = True
        return _induced_subgraph(data, keep, num_nodes)

    def __repr__(self) -> str:
        if self.num_roots is not None:
            return format_repr(self, num_roots=self.num_roots, walk_length=self.walk_length)
        return format_repr(self, root_ratio=self.root_ratio, walk_length=self.walk_length)
