r"""Per-graph augmenters for mini-batches of small graphs (GraphCL).

Each augmenter maps a PyG :class:`~torch_geometric.data.Batch` to a new ``Batch`` in which every
graph got its own random draw, computed for the whole batch at once (no Python loop over graphs).
The graphs keep their order and their graph-level attributes (``y``, ...); nodes never move to
another graph; ``batch`` and ``ptr`` are rebuilt (the result is for batch-level use: encoders and
pooling; its ``to_data_list()`` is not meaningful). The input batch is never modified. The graphs
are taken as undirected (both directions of an edge stored), as PyG's TU datasets are. Counts are
per graph, as in GraphCL: a graph with :math:`n_g` nodes loses :math:`\lfloor p\, n_g \rfloor` of
them, so no graph is ever emptied (``p < 1``).

You et al., "Graph Contrastive Learning with Augmentations" (GraphCL), NeurIPS 2020.

* :class:`DropNodes` — remove nodes and their edges.
* :class:`PerturbEdges` — remove edges *and* add as many random ones within the graph (the
  official code only removes).
* :class:`MaskNodeFeatures` — replace the features of some nodes by Gaussian noise N(0.5, 0.5²)
  (the official ``mask_nodes``) or zeros.
* :class:`GrowSubgraph` — a connected subgraph grown from a random node by repeatedly adding a
  random neighbour of the current set, until it holds :math:`\lceil (1 - p) n_g \rceil` nodes or
  the component is exhausted (the official ``subgraph`` never enlarges its neighbour set:
  GraphCL issue 24).
* :class:`PerGraphChoice` — one of several augmenters, chosen per graph.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import Tensor
from torch_geometric.data import Batch
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import coalesce, cumsum, to_undirected

from graphcl.augment._utils import check_probability, format_repr
from graphcl.errors import InvalidArgumentError, InvalidGraphError

__all__ = ["DropNodes", "PerturbEdges", "MaskNodeFeatures", "GrowSubgraph", "PerGraphChoice"]


def _check_batch(batch: Batch, who: str) -> Batch:
    """Raise unless ``batch`` is a non-empty PyG ``Batch`` of graphs that all have nodes."""
    if not isinstance(batch, Batch):
        raise InvalidGraphError(f"{who} works on a torch_geometric.data.Batch of graphs (Batch.from_data_list or a "
                                f"DataLoader batch), got {type(batch).__name__}")
    counts = _node_counts(batch)
    if (counts == 0).any():
        raise InvalidGraphError(f"graph {int((counts == 0).nonzero()[0])} of the batch has no nodes; remove empty "
                                "graphs from the dataset (e.g. with a pre_filter) before augmenting")
    return batch


def _node_counts(batch: Batch) -> Tensor:
    return batch.ptr[1:] - batch.ptr[:-1]


def _random_rank(group: Tensor, num_groups: int) -> Tensor:
    """For items labelled by ``group`` (sorted or not), a uniformly random rank ``0..n_g-1`` within
    each group."""
    order = torch.argsort(torch.rand(group.numel(), device=group.device))
    order = order[torch.argsort(group[order], stable=True)]
    counts = torch.bincount(group, minlength=num_groups)
    starts = cumsum(counts)[:-1]
    rank = torch.empty_like(group)
    rank[order] = torch.arange(group.numel(), device=group.device) - starts[group[order]]
    return rank


def _keep_nodes(batch: Batch, keep: Tensor) -> Batch:
    """The batch restricted to the nodes in the boolean ``keep`` (edges between kept nodes,
    node- and edge-level attributes sliced, nodes renumbered, ``batch`` / ``ptr`` rebuilt)."""
    out = copy.copy(batch)
    num_nodes = keep.numel()
    new_id = torch.cumsum(keep.long(), 0) - 1
    row, col = batch.edge_index
    edge_keep = keep[row] & keep[col]
    for key, value in batch.items():
        if key in ("edge_index", "ptr", "batch") or not isinstance(value, Tensor):
            continue
        if value.dim() > 0 and value.size(0) == num_nodes and batch.is_node_attr(key):
            out[key] = value[keep]
        elif batch.is_edge_attr(key):
            out[key] = value[edge_keep]
    out.edge_index = new_id[batch.edge_index[:, edge_keep]]
    out.batch = batch.batch[keep]
    out.ptr = cumsum(torch.bincount(out.batch, minlength=batch.num_graphs))
    if "num_nodes" in batch:  # graphs without x store their node count: keep it true
        out.num_nodes = int(keep.sum())
    return out


class _PerGraph(BaseTransform):
    """Shared plumbing: checks, and ``selected`` graphs (a ``[num_graphs]`` mask; the others pass
    unchanged) so that :class:`PerGraphChoice` can give each graph its own augmenter."""

    def forward(self, batch: Batch) -> Batch:
        batch = _check_batch(batch, type(self).__name__)
        return self.augment(batch, torch.ones(batch.num_graphs, dtype=torch.bool, device=batch.batch.device))

    def augment(self, batch: Batch, selected: Tensor) -> Batch:
        raise NotImplementedError


class DropNodes(_PerGraph):
    r"""Remove :math:`\lfloor p\, n_g \rfloor` uniformly chosen nodes of every graph, with their edges.

    Args:
        p: fraction of each graph's nodes to drop, in ``[0, 1)``.
    """

    def __init__(self, p: float = 0.2) -> None:
        self.p = check_probability("p", p, allow_one=False)

    def augment(self, batch: Batch, selected: Tensor) -> Batch:
        counts = _node_counts(batch)
        drop = torch.where(selected, torch.floor(self.p * counts.double()).long(), 0)
        rank = _random_rank(batch.batch, batch.num_graphs)
        return _keep_nodes(batch, rank >= drop[batch.batch])

    def __repr__(self) -> str:
        return format_repr(self, p=self.p)


class PerturbEdges(_PerGraph):
    r"""In every graph, remove :math:`\lfloor p\, m_g \rfloor` of its :math:`m_g` undirected edges
    and add as many uniformly drawn node pairs of the same graph (self-pairs and pairs already
    present are discarded, so slightly fewer may be added). The result is undirected (both
    directions stored) and coalesced. Edge attributes are not kept (added edges would have none).

    Args:
        p: fraction of each graph's edges to replace, in ``[0, 1]``.
    """

    def __init__(self, p: float = 0.2) -> None:
        self.p = check_probability("p", p)

    def augment(self, batch: Batch, selected: Tensor) -> Batch:
        row, col = batch.edge_index
        pairs = batch.edge_index[:, row < col]  # each undirected edge once
        graph_of_pair = batch.batch[pairs[0]]
        m = torch.bincount(graph_of_pair, minlength=batch.num_graphs)
        k = torch.where(selected, torch.floor(self.p * m.double()).long(), 0)
        kept = pairs[:, _random_rank(graph_of_pair, batch.num_graphs) >= k[graph_of_pair]]
        graph = torch.repeat_interleave(torch.arange(batch.num_graphs, device=k.device), k)
        n = _node_counts(batch)[graph]
        start = batch.ptr[:-1][graph]
        u = start + (torch.rand(graph.numel(), device=k.device) * n).long()
        v = start + (torch.rand(graph.numel(), device=k.device) * n).long()
        added = torch.stack([u, v])[:, u != v]
        loops = batch.edge_index[:, row == col]  # self-loops stay as they are
        edge_index = torch.cat([to_undirected(torch.cat([kept, added], 1), num_nodes=batch.num_nodes), loops], 1)
        out = copy.copy(batch)
        for key in list(batch.keys()):
            if key != "edge_index" and batch.is_edge_attr(key):
                del out[key]
        out.edge_index = coalesce(edge_index, num_nodes=batch.num_nodes)
        return out

    def __repr__(self) -> str:
        return format_repr(self, p=self.p)


class MaskNodeFeatures(_PerGraph):
    r"""Replace the features of :math:`\lfloor p\, n_g \rfloor` uniformly chosen nodes of every
    graph: by Gaussian noise :math:`\mathcal N(0.5, 0.5^2)` per entry (``fill='noise'``, the official
    ``mask_nodes``) or by zeros (``fill='zero'``).

    Args:
        p: fraction of each graph's nodes to mask, in ``[0, 1]``.
        fill: ``'noise'`` or ``'zero'``.
    """

    def __init__(self, p: float = 0.2, fill: str = "noise") -> None:
        self.p = check_probability("p", p)
        if fill not in ("noise", "zero"):
            raise InvalidArgumentError(f"fill must be 'noise' or 'zero', got {fill!r}")
        self.fill = fill

    def augment(self, batch: Batch, selected: Tensor) -> Batch:
        if batch.x is None:
            raise InvalidGraphError("MaskNodeFeatures needs node features x; give featureless graphs degree features "
                                    "(torch_geometric.transforms.OneHotDegree) first")
        counts = _node_counts(batch)
        k = torch.where(selected, torch.floor(self.p * counts.double()).long(), 0)
        mask = _random_rank(batch.batch, batch.num_graphs) < k[batch.batch]
        x = batch.x.clone() if batch.x.is_floating_point() else batch.x.float()  # integer features: noise is real
        if self.fill == "noise":
            x[mask] = 0.5 + 0.5 * torch.randn(int(mask.sum()), x.size(1), device=x.device, dtype=x.dtype)
        else:
            x[mask] = 0
        out = copy.copy(batch)
        out.x = x
        return out

    def __repr__(self) -> str:
        return format_repr(self, p=self.p, fill=self.fill)


class GrowSubgraph(_PerGraph):
    r"""Keep, in every graph, a connected subgraph grown from a uniformly chosen node: at each
    round every graph that has not reached its target size :math:`\lceil (1 - p)\, n_g \rceil` adds
    one neighbour of its current set, the endpoint of a uniformly chosen edge leaving the set (a
    neighbour with more links into the set is likelier, as in a random walk); a graph whose component is
    exhausted stops early (its subgraph is then that component). The rounds run for all graphs at
    once (one vectorised step per added node, so the number of rounds is the largest target).

    Args:
        p: fraction of each graph's nodes to leave out, in ``[0, 1)``.
    """

    def __init__(self, p: float = 0.2) -> None:
        self.p = check_probability("p", p, allow_one=False)

    def augment(self, batch: Batch, selected: Tensor) -> Batch:
        device = batch.batch.device
        counts = _node_counts(batch)
        target = torch.where(selected, torch.ceil((1 - self.p) * counts.double()).long(), counts)
        inside = torch.zeros(batch.num_nodes, dtype=torch.bool, device=device)
        inside[~selected[batch.batch]] = True  # unselected graphs keep every node
        start = batch.ptr[:-1] + (torch.rand(batch.num_graphs, device=device) * counts).long()
        inside[start[selected]] = True
        size = torch.where(selected, torch.ones_like(counts), counts)
        row, col = batch.edge_index
        while True:
            growing = size < target
            if not growing.any():
                break
            # frontier edges: from a node inside to a node outside, in a graph still growing
            frontier = inside[row] & ~inside[col] & growing[batch.batch[row]]
            if not frontier.any():
                break
            candidates = col[frontier]
            graph = batch.batch[candidates]
            pick = _random_rank(graph, batch.num_graphs) == 0  # one uniformly chosen frontier edge per graph
            inside[candidates[pick]] = True
            size = size + torch.bincount(graph[pick], minlength=batch.num_graphs)
        return _keep_nodes(batch, inside)

    def __repr__(self) -> str:
        return format_repr(self, p=self.p)


class PerGraphChoice(_PerGraph):
    r"""Apply one of ``augmenters`` to each graph, chosen uniformly and independently per graph.

    Args:
        augmenters: the per-graph augmenters to choose from (e.g. the four above).
    """

    def __init__(self, augmenters: Sequence[_PerGraph]) -> None:
        if not augmenters or not all(isinstance(a, _PerGraph) for a in augmenters):
            raise InvalidArgumentError("PerGraphChoice needs one or more per-graph augmenters (DropNodes, PerturbEdges, "
                                       "MaskNodeFeatures, GrowSubgraph)")
        self.augmenters = list(augmenters)

    def augment(self, batch: Batch, selected: Tensor) -> Batch:
        choice = torch.randint(len(self.augmenters), (batch.num_graphs,), device=selected.device)
        for index, augmenter in enumerate(self.augmenters):
            batch = augmenter.augment(batch, selected & (choice == index))
        return batch

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.augmenters})"
