"""Synthetic graphs for scale tests: planted partitions with block-correlated features."""
from __future__ import annotations

import torch
from torch_geometric.data import Data

from graphcl.errors import InvalidArgumentError


def planted_partition(num_nodes: int, num_blocks: int = 10, avg_degree: float = 10.0, num_features: int = 64,
                      inside: float = 0.8, noise: float = 2.0, seed: int = 0) -> Data:
    r"""A planted-partition (stochastic block model) graph drawn in ``O(E)`` time and memory.

    Each node gets a block uniformly at random (``y``). ``num_nodes * avg_degree / 2`` edges are
    drawn: a uniform source, and with probability ``inside`` a uniform target in the source's
    block, else a uniform target anywhere (the edges are returned in both directions, duplicates
    and self-loops kept as drawn). Features are the block's Gaussian centre plus
    ``noise``-scaled Gaussian noise: :math:`x_i = \mu_{y_i} + \sigma \epsilon_i`.

    Shapes: ``x [N, num_features]``, ``edge_index [2, 2E]``, ``y [N]``.
    """
    if num_nodes < 1 or num_blocks < 1 or avg_degree <= 0 or num_features < 1 or not 0 <= inside <= 1:
        raise InvalidArgumentError("planted_partition needs num_nodes, num_blocks, num_features >= 1, avg_degree > 0 "
                                   "and inside in [0, 1]")
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, num_blocks, (num_nodes,), generator=g)
    order = torch.argsort(y)
    counts = torch.bincount(y, minlength=num_blocks)
    starts = torch.cumsum(counts, 0) - counts
    m = int(num_nodes * avg_degree // 2)
    src = torch.randint(0, num_nodes, (m,), generator=g)
    within = torch.rand(m, generator=g) < inside
    block = y[src]
    offset = (torch.rand(m, generator=g) * counts[block]).long()
    dst = torch.where(within, order[starts[block] + offset], torch.randint(0, num_nodes, (m,), generator=g))
    centres = torch.randn(num_blocks, num_features, generator=g)
    x = centres[y] + noise * torch.randn(num_nodes, num_features, generator=g)
    edge_index = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], dim=1)
    return Data(x=x, edge_index=edge_index, y=y, num_nodes=num_nodes, name=f"planted-{num_nodes}")
