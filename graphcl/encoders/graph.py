r"""Graph-level encoders: node embeddings pooled into one vector per graph."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GINConv, global_add_pool

from graphcl.errors import InvalidArgumentError

__all__ = ["GINGraphEncoder", "ShortcutMLP"]


class GINGraphEncoder(nn.Module):
    r"""GIN with every layer's sum-pooled readout concatenated (InfoGraph / GraphCL's encoder).

    .. math::
        H^{(l)} = \mathrm{BN}\big(\mathrm{ReLU}(\mathrm{GIN}^{(l)}(H^{(l-1)}))\big), \qquad
        h_G = \big\Vert_{l=1}^{L} \sum_{v \in G} H^{(l)}_v

    with :math:`\mathrm{GIN}^{(l)}` PyG's :class:`~torch_geometric.nn.conv.GINConv` over the MLP
    ``Linear - ReLU - Linear`` (:math:`\epsilon = 0`). Xu et al., "How Powerful are Graph Neural
    Networks?", ICLR 2019; Sun et al., InfoGraph, ICLR 2020; You et al., GraphCL, NeurIPS 2020.

    Shapes: ``x [N, F], edge_index [2, E], batch [N]`` -> ``(node embeddings [N, L d],
    graph embeddings [num_graphs, L d])``.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 32, num_layers: int = 3) -> None:
        super().__init__()
        if num_layers < 1:
            raise InvalidArgumentError(f"num_layers must be >= 1, got {num_layers}")
        self.convs, self.norms = nn.ModuleList(), nn.ModuleList()
        for layer in range(num_layers):
            mlp = nn.Sequential(nn.Linear(in_channels if layer == 0 else hidden_channels, hidden_channels), nn.ReLU(),
                                nn.Linear(hidden_channels, hidden_channels))
            self.convs.append(GINConv(mlp))
            self.norms.append(nn.BatchNorm1d(hidden_channels))
        self.out_channels = hidden_channels * num_layers

    def reset_parameters(self) -> None:
        for conv, norm in zip(self.convs, self.norms):
            conv.reset_parameters()
            norm.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int | None = None
                ) -> tuple[Tensor, Tensor]:
        layers = []
        for conv, norm in zip(self.convs, self.norms):
            x = norm(F.relu(conv(x, edge_index)))
            layers.append(x)
        pooled = [global_add_pool(h, batch, size=num_graphs) for h in layers]
        return torch.cat(layers, dim=1), torch.cat(pooled, dim=1)


class ShortcutMLP(nn.Module):
    r"""Three ``Linear - ReLU`` layers plus a linear shortcut, :math:`f(x) = \mathrm{MLP}(x) + W x`
    (InfoGraph's local and global discriminator heads, ``FF``). ``[*, d] -> [*, d]``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Linear(channels, channels), nn.ReLU(), nn.Linear(channels, channels), nn.ReLU(),
                                   nn.Linear(channels, channels), nn.ReLU())
        self.shortcut = nn.Linear(channels, channels)

    def reset_parameters(self) -> None:
        for module in (*self.block, self.shortcut):
            if isinstance(module, nn.Linear):
                module.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x) + self.shortcut(x)
