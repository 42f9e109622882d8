r"""LightGCN propagation: parameter-free graph convolution over a user-item graph.

He et al., "LightGCN: Simplifying and Powering Graph Convolution Network for Recommendation",
SIGIR 2020. With :math:`\hat A = D^{-1/2} A D^{-1/2}` the symmetrically normalised adjacency of
the bipartite graph (users and items as one node set, no self-loops),

.. math::
    E^{(l)} = \hat A\, E^{(l-1)}, \qquad
    E = \sum_{l=0}^{L} \alpha_l E^{(l)},

with :math:`\alpha_l = 1/(L+1)` (LightGCN, ``combine='mean'``) or :math:`\alpha_l = 1`
(LightGCL, ``combine='sum'``). This is PyG's :class:`~torch_geometric.nn.conv.LGConv` stacked as
in :class:`~torch_geometric.nn.models.LightGCN` (a test checks they agree); here :math:`\hat A`
is built once per graph as a :class:`~graphcl.encoders.propagation.SparseOperator` (CSR with its
transpose cached), which on CPU is several times faster than message passing over ``edge_index``.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter

from graphcl.encoders.propagation import SparseOperator
from graphcl.errors import InvalidArgumentError

__all__ = ["LightGCNPropagation", "normalized_operator"]


def normalized_operator(edge_index: Tensor, num_nodes: int, dropout: float = 0.0) -> SparseOperator:
    r""":math:`D^{-1/2} A D^{-1/2}` of a graph given by ``edge_index`` (both directions listed), as a
    :class:`SparseOperator`. ``dropout`` > 0 drops each entry independently after normalising and
    rescales the kept ones by :math:`1/(1-p)` (LightGCN's / LightGCL's edge dropout)."""
    row, col = edge_index
    deg = scatter(torch.ones(row.numel(), device=row.device), row, dim=0, dim_size=num_nodes)
    inv = deg.pow(-0.5).masked_fill_(deg == 0, 0.0)
    values = inv[row] * inv[col]
    if dropout > 0:
        keep = torch.rand(values.numel(), device=values.device) >= dropout
        edge_index, values = edge_index[:, keep], values[keep] / (1.0 - dropout)
    return SparseOperator(edge_index, values, (num_nodes, num_nodes))


class LightGCNPropagation(nn.Module):
    r"""``num_layers`` LightGCN propagations and their combination (see the module docstring).

    Args:
        num_layers: :math:`L`.
        combine: ``'mean'`` (LightGCN) or ``'sum'`` (LightGCL).

    Shapes: ``x [N, d]`` (the layer-0 embeddings), ``operator`` ``[N, N]`` -> ``([N, d], [E^{(0)}, ..., E^{(L)}])``.
    """

    def __init__(self, num_layers: int = 3, combine: str = "mean") -> None:
        super().__init__()
        if num_layers < 0:
            raise InvalidArgumentError(f"num_layers must be >= 0, got {num_layers}")
        if combine not in ("mean", "sum"):
            raise InvalidArgumentError(f"combine must be 'mean' or 'sum', got {combine!r}")
        self.num_layers, self.combine = num_layers, combine

    def forward(self, x: Tensor, operator: SparseOperator) -> tuple[Tensor, list[Tensor]]:
        layers = [x]
        for _ in range(self.num_layers):
            layers.append(operator @ layers[-1])
        total = torch.stack(layers).sum(0)
        return (total / len(layers) if self.combine == "mean" else total), layers

    def extra_repr(self) -> str:
        return f"num_layers={self.num_layers}, combine={self.combine!r}"
