r"""Encoders for heterogeneous graphs seen through meta-paths: a GCN per meta-path view, then
semantic attention across the views (HAN, HeCo's meta-path view, MEOW).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from graphcl.encoders.gnn import GNNEncoder
from graphcl.errors import InvalidArgumentError


class SemanticAttention(nn.Module):
    r"""Attention over ``P`` meta-path embeddings of the same nodes.

    .. math::
        w_p = a^\top \frac{1}{N} \sum_i \tanh(W z^{(p)}_i + b), \qquad
        \beta = \mathrm{softmax}(w), \qquad z_i = \sum_p \beta_p z^{(p)}_i

    Wang et al., "Heterogeneous Graph Attention Network" (HAN), WWW 2019; HeCo and MEOW use it
    as is (``attention_dropout`` drops entries of :math:`a`, as their code does).

    Shapes: ``embeddings [P, N, d]`` -> ``(z [N, d], beta [P])``.
    """

    def __init__(self, channels: int, attention_dropout: float = 0.0) -> None:
        super().__init__()
        self.project = nn.Linear(channels, channels)
        self.att = nn.Parameter(torch.empty(1, channels))
        self.dropout = nn.Dropout(attention_dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_normal_(self.project.weight, gain=1.414)
        nn.init.zeros_(self.project.bias)
        nn.init.xavier_normal_(self.att, gain=1.414)

    def forward(self, embeddings: Tensor) -> tuple[Tensor, Tensor]:
        if embeddings.dim() != 3:
            raise InvalidArgumentError(f"expected meta-path embeddings [P, N, d], got {tuple(embeddings.shape)}")
        scores = torch.tanh(self.project(embeddings)).mean(dim=1) @ self.dropout(self.att).t()  # [P, 1]
        beta = torch.softmax(scores.squeeze(1), dim=0)
        return (beta[:, None, None] * embeddings).sum(dim=0), beta


class MetaPathEncoder(nn.Module):
    r"""A GCN over each meta-path adjacency of the target nodes, combined by :class:`SemanticAttention`.

    .. math:: z^{(p)} = \mathrm{GCN}_p(x, A_p), \qquad z = \sum_p \beta_p z^{(p)}

    Args:
        in_channels: feature size of the target nodes.
        out_channels: embedding size ``d``.
        num_metapaths: ``P``.
        shared: one GCN for every meta-path (MEOW) instead of one each (HeCo).
        num_layers: GCN layers per meta-path (HeCo and MEOW: 1).
        act: activation (HeCo: PReLU).
        attention_dropout: see :class:`SemanticAttention`.

    Shapes: ``x [N, F]``, ``edge_indices`` ``P`` tensors ``[2, E_p]`` (and optional
    ``edge_weights``) -> ``[N, d]``; :meth:`per_metapath` gives ``[P, N, d]``.
    """

    def __init__(self, in_channels: int, out_channels: int, num_metapaths: int, shared: bool = False,
                 num_layers: int = 1, act: str = "prelu", attention_dropout: float = 0.0) -> None:
        super().__init__()
        if num_metapaths < 1:
            raise InvalidArgumentError(f"num_metapaths must be >= 1, got {num_metapaths}")
        count = 1 if shared else num_metapaths
        self.convs = nn.ModuleList(GNNEncoder(in_channels, out_channels, out_channels, num_layers, conv="gcn", act=act)
                                   for _ in range(count))
        self.attention = SemanticAttention(out_channels, attention_dropout)
        self.num_metapaths, self.out_channels = num_metapaths, out_channels
        #: ``[P]`` attention of the last forward pass (detached), for inspection.
        self.last_beta: Tensor | None = None

    def per_metapath(self, x: Tensor, edge_indices: Sequence[Tensor],
                     edge_weights: Sequence[Tensor | None] | None = None) -> Tensor:
        if len(edge_indices) != self.num_metapaths:
            raise InvalidArgumentError(f"expected {self.num_metapaths} meta-path adjacencies, got {len(edge_indices)}")
        weights = edge_weights if edge_weights is not None else [None] * len(edge_indices)
        return torch.stack([self.convs[p % len(self.convs)](x, index, weight)
                            for p, (index, weight) in enumerate(zip(edge_indices, weights))])

    def forward(self, x: Tensor, edge_indices: Sequence[Tensor],
                edge_weights: Sequence[Tensor | None] | None = None) -> Tensor:
        z, beta = self.attention(self.per_metapath(x, edge_indices, edge_weights))
        self.last_beta = beta.detach()
        return z
