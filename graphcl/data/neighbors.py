r"""Uniform neighbour sampling for mini-batch training, vectorised over a CSC graph.

The same computation graphs as PyG's :class:`~torch_geometric.loader.NeighborLoader` with its
defaults (``replace=False``, directed sampling): around a batch of seed nodes, hop ``l`` draws for
every node reached at hop ``l - 1`` a uniformly random subset of ``num_neighbors[l]`` of its
incoming edges (all of them where it has fewer; ``-1``: all), without replacement. PyG's sampler
needs ``pyg-lib`` or ``torch-sparse`` (no wheels on PyPI for this platform); this one needs
neither and runs in ``O(sampled edges)`` per batch (no per-batch ``[N]`` allocation), so it is
the fallback wherever they are missing (:class:`NeighborBatches`).

A subset of ``k`` of a node's ``d > k`` edges is drawn by Floyd's algorithm (every ``k``-subset
equally likely), vectorised over the frontier: ``k`` rounds of one random integer per node.
"""
from __future__ import annotations

import importlib.util
from typing import Iterator, Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data

from graphcl.checks import check_edge_index
from graphcl.encoders.propagation import sparse_enough
from graphcl.errors import InvalidArgumentError

__all__ = ["NeighborSampler", "NeighborBatches", "SparseRows", "pyg_sampler_available", "check_sampling"]


def pyg_sampler_available() -> bool:
    """Whether PyG's own neighbour sampler can run here (it needs ``pyg-lib`` or ``torch-sparse``)."""
    return any(importlib.util.find_spec(name) is not None for name in ("pyg_lib", "torch_sparse"))


def check_sampling(num_neighbors: Sequence[int], batch_size: int, num_layers: int | None = None) -> list[int]:
    """``num_neighbors`` as a list of ints, with one-line errors for bad settings."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be a positive number of seed nodes, got {batch_size!r}")
    if isinstance(num_neighbors, int) or not num_neighbors:
        raise InvalidArgumentError(f"num_neighbors is one fan-out per layer, e.g. [10, 10]; got {num_neighbors!r}")
    fanouts = list(num_neighbors)
    if any(isinstance(k, bool) or not isinstance(k, int) or (k < 1 and k != -1) for k in fanouts):
        raise InvalidArgumentError(f"num_neighbors takes positive fan-outs (or -1 for all neighbours), got {fanouts}")
    if num_layers is not None and len(fanouts) != num_layers:
        raise InvalidArgumentError(f"num_neighbors has {len(fanouts)} fan-outs for an encoder of {num_layers} layers; "
                                   f"give one per layer, e.g. num_neighbors={[10] * num_layers}")
    return fanouts


class NeighborSampler:
    r"""Samples the computation graph of a batch of seed nodes (see the module docstring).

    Args:
        edge_index: ``[2, E]`` edges ``(source, target)``; a target samples among its sources.
        num_nodes: :math:`N`.
        num_neighbors: fan-out per hop (``-1``: every neighbour).

    Calling it with seeds ``[B]`` returns a :class:`~torch_geometric.data.Data` with ``n_id``
    (global ids, the ``B`` seeds first, then new nodes in the order they were reached),
    ``edge_index`` (local ids, ``(source, target)``), ``e_id`` (the sampled edges' positions in
    ``edge_index``) and ``batch_size = B``: the fields of a PyG ``NeighborLoader`` batch.
    """

    def __init__(self, edge_index: Tensor, num_nodes: int, num_neighbors: Sequence[int]) -> None:
        check_edge_index(edge_index, num_nodes, allow_duplicates=True)
        self.num_neighbors = check_sampling(num_neighbors, 1)
        self.num_nodes = num_nodes
        target = edge_index[1].cpu()
        order = torch.argsort(target, stable=True)
        self.sources = edge_index[0].cpu()[order]
        self.edge_ids = order
        self.rowptr = torch.zeros(num_nodes + 1, dtype=torch.long)
        self.rowptr[1:] = torch.cumsum(torch.bincount(target, minlength=num_nodes), 0)
        self._local = torch.full((num_nodes,), -1, dtype=torch.long)  # global -> local id, reset per batch

    def _sample_edges(self, nodes: Tensor, k: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """``(positions in the CSC arrays, index of the target in nodes)`` of the sampled edges."""
        start, degree = self.rowptr[nodes], self.rowptr[nodes + 1] - self.rowptr[nodes]
        whole = (degree <= k) | (k < 0)
        # nodes keeping every edge: a ragged arange
        keep = whole.nonzero().view(-1)
        counts = degree[keep]
        owner = torch.repeat_interleave(keep, counts)
        offsets = torch.arange(int(counts.sum())) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
        positions, owners = [start[owner] + offsets], [owner]
        partial = (~whole).nonzero().view(-1)
        if partial.numel():  # Floyd: for j = d - k .. d - 1, draw t in [0, j]; take j if t is taken
            d = degree[partial]
            chosen = torch.empty(partial.numel(), k, dtype=torch.long)
            for i in range(k):
                j = d - k + i
                t = (torch.rand(partial.numel(), generator=generator, dtype=torch.float64) * (j + 1)).long()
                t = torch.minimum(t, j)
                taken = (chosen[:, :i] == t[:, None]).any(dim=1)
                chosen[:, i] = torch.where(taken, j, t)
            positions.append((start[partial][:, None] + chosen).view(-1))
            owners.append(partial.repeat_interleave(k))
        return torch.cat(positions), torch.cat(owners)

    def __call__(self, seeds: Tensor, generator: torch.Generator | None = None) -> Data:
        seeds = torch.as_tensor(seeds, dtype=torch.long).cpu()
        if seeds.dim() != 1 or seeds.numel() == 0:
            raise InvalidArgumentError(f"seeds must be a non-empty 1-D tensor of node ids, got shape {tuple(seeds.shape)}")
        if int(seeds.min()) < 0 or int(seeds.max()) >= self.num_nodes:
            raise InvalidArgumentError(f"seed ids must lie in [0, {self.num_nodes}), got {int(seeds.min())}.."
                                       f"{int(seeds.max())}")
        if seeds.unique().numel() != seeds.numel():
            raise InvalidArgumentError("seeds must be distinct node ids")
        local = self._local
        local[seeds] = torch.arange(seeds.numel())
        n_id, frontier, expand = [seeds], torch.arange(seeds.numel()), seeds  # local / global ids to expand
        rows, cols, e_ids = [], [], []
        count = seeds.numel()
        try:
            for k in self.num_neighbors:
                if frontier.numel() == 0:
                    break
                positions, owner = self._sample_edges(expand, k, generator)
                sources = self.sources[positions]
                new = sources[local[sources] < 0]
                targets, frontier = frontier[owner], frontier[:0]
                if new.numel():
                    unique, inverse = torch.unique(new, return_inverse=True)
                    first = torch.full((unique.numel(),), new.numel(), dtype=torch.long)
                    first.scatter_reduce_(0, inverse, torch.arange(new.numel()), reduce="amin")
                    reached = unique[torch.argsort(first)]  # in the order they were reached
                    frontier = torch.arange(count, count + reached.numel())
                    local[reached] = frontier
                    count += reached.numel()
                    n_id.append(reached)
                    expand = reached
                rows.append(local[sources])
                cols.append(targets)
                e_ids.append(self.edge_ids[positions])
        finally:
            nodes = torch.cat(n_id)
            local[nodes] = -1  # O(batch) reset
        edge_index = torch.stack([torch.cat(rows), torch.cat(cols)]) if rows else torch.empty(2, 0, dtype=torch.long)
        e_id = torch.cat(e_ids) if e_ids else torch.empty(0, dtype=torch.long)
        return Data(n_id=nodes, edge_index=edge_index, e_id=e_id, batch_size=seeds.numel(), num_nodes=nodes.numel())

    def batches(self, batch_size: int, shuffle: bool = True, generator: torch.Generator | None = None,
                nodes: Tensor | None = None) -> Iterator[Data]:
        """Batches of ``batch_size`` seeds over ``nodes`` (default: every node), in a random order."""
        check_sampling(self.num_neighbors, batch_size)
        nodes = torch.arange(self.num_nodes) if nodes is None else torch.as_tensor(nodes).cpu()
        if shuffle:
            nodes = nodes[torch.randperm(nodes.numel(), generator=generator)]
        for seeds in nodes.split(batch_size):
            yield self(seeds, generator)


class SparseRows:
    r"""The rows of a feature matrix kept as CSR, gathered as sparse COO tensors: a batch's
    bag-of-words features cost ``O(its non-zeros)`` instead of a dense ``[n, F]`` copy (Coauthor-CS:
    0.9 % non-zeros, 6,805 columns).

    Shapes: ``x [N, F]`` (dense); ``rows[index]`` with ``index [n]`` -> coalesced sparse COO ``[n, F]``.
    """

    def __init__(self, x: Tensor) -> None:
        csr = x.to_sparse_csr()
        self.crow, self.col, self.values = csr.crow_indices(), csr.col_indices(), csr.values()
        self.num_columns = x.size(1)

    def __getitem__(self, index: Tensor) -> Tensor:
        index = index.to(self.crow.device)
        start = self.crow[index]
        counts = self.crow[index + 1] - start
        rows = torch.repeat_interleave(torch.arange(index.numel(), device=index.device), counts)
        first = torch.repeat_interleave(start - (counts.cumsum(0) - counts), counts)  # row start minus its offset
        position = first + torch.arange(rows.numel(), device=index.device)
        return torch.sparse_coo_tensor(torch.stack([rows, self.col[position]]), self.values[position],
                                       (index.numel(), self.num_columns), is_coalesced=True, check_invariants=False)


class NeighborBatches:
    """Mini-batches of sampled computation graphs with their node attributes (``x``, ``y`` where
    present), re-iterable (a new shuffle every pass): PyG's
    :class:`~torch_geometric.loader.NeighborLoader` where it can run, else :class:`NeighborSampler`.
    Each batch is a ``Data`` with ``n_id``, ``edge_index`` (local), ``batch_size`` and the node
    attributes of ``n_id``; the first ``batch_size`` nodes are the seeds.

    Args:
        data: the graph (on any device; sampling runs on the CPU).
        num_neighbors: fan-out per layer (``-1``: all neighbours).
        batch_size: seed nodes per batch.
        shuffle: a random order of the seeds every pass.
        num_workers: PyG loader worker processes (ours samples in the calling process).
        seed: seeds the shuffles and draws (the passes differ from each other).
        input_nodes: the seed nodes (default: every node).
        sparse_features: give each batch its ``x`` as a sparse COO tensor (:class:`SparseRows`) where
            the features are sparse enough (:func:`~graphcl.encoders.propagation.sparse_enough`), for
            consumers that take one (their encoder and augmenters declare ``accepts_sparse_features``).
    """

    def __init__(self, data: Data, num_neighbors: Sequence[int], batch_size: int, *, shuffle: bool = True,
                 num_workers: int = 0, seed: int = 0, input_nodes: Tensor | None = None,
                 sparse_features: bool = False) -> None:
        self.num_neighbors = check_sampling(num_neighbors, batch_size)
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise InvalidArgumentError(f"num_workers must be a number of processes >= 0, got {num_workers!r}")
        self.batch_size, self.shuffle, self.input_nodes = batch_size, shuffle, input_nodes
        self.generator = torch.Generator().manual_seed(seed)
        self.data = data
        count = data.num_nodes if input_nodes is None else int(torch.as_tensor(input_nodes).numel())
        self._length = -(-count // batch_size)
        x = data.get("x")
        self._sparse_rows = SparseRows(x) if sparse_features and x is not None and sparse_enough(x) else None
        if pyg_sampler_available():
            from torch_geometric.loader import NeighborLoader

            # every attribute but x, which is gathered here (sparse where asked, on x's own device)
            graph = Data(**{key: value for key, value in data.items() if key != "x"}).cpu()
            graph.num_nodes = data.num_nodes
            self._pyg = NeighborLoader(graph, num_neighbors=self.num_neighbors, batch_size=batch_size, shuffle=shuffle,
                                       num_workers=num_workers, input_nodes=input_nodes, generator=self.generator)
            self._sampler = None
        else:
            self._pyg, self._sampler = None, NeighborSampler(data.edge_index, data.num_nodes, self.num_neighbors)

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[Data]:
        batches = (iter(self._pyg) if self._pyg is not None else
                   self._sampler.batches(self.batch_size, self.shuffle, self.generator, self.input_nodes))
        for batch in batches:
            for key in ("x",) if self._pyg is not None else ("x", "y"):
                if self.data.get(key) is not None:
                    rows = self._sparse_rows if key == "x" and self._sparse_rows is not None else self.data[key]
                    batch[key] = rows[batch.n_id.to(self.data[key].device)]
            yield batch

