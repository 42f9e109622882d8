r"""Encoders for heterogeneous graphs seen through meta-paths (HAN, HeCo, MEOW): semantic attention
across meta-path views, MEOW's standardised GCN over a normalised meta-path operator, and a linear
layer on the implicit one-hot features of featureless node types.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter

from graphcl.encoders.propagation import SparseOperator
from graphcl.errors import InvalidArgumentError

__all__ = ["SemanticAttention", "StandardizedGCN", "OneHotLinear"]


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


class StandardizedGCN(nn.Module):
    r"""MEOW's encoder: two graph convolutions without bias over a pre-normalised adjacency ``M``,
    PReLU between them, dropout on each layer's transformed features (after the weight, before the
    propagation, as the official ``GraphConv``), and the output standardised over all its entries:

    .. math::
        H = \mathrm{PReLU}(M\,\mathrm{drop}(X W_1)), \qquad
        Z' = M\,\mathrm{drop}(H W_2), \qquad
        Z = (Z' - \mathrm{mean}(Z')) / \mathrm{std}(Z')

    (the official code's ``LayerNorm(Z.size())``). Weights start uniform in
    :math:`\pm 1/\sqrt{\text{fan-out}}`, as the official ``reset_parameters``. ``M`` is built by
    :meth:`propagation_matrix` from a meta-path adjacency.

    Yu & Li, "Heterogeneous Graph Contrastive Learning with Meta-path Contexts and Weighted
    Negative Samples" (MEOW), SDM 2023.

    Shapes: ``x [N, in]``, ``operator`` ``[N, N]`` -> ``[N, out]``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.lin1 = nn.Linear(in_channels, hidden_channels, bias=False)
        self.lin2 = nn.Linear(hidden_channels, out_channels, bias=False)
        for lin in (self.lin1, self.lin2):
            bound = lin.out_features ** -0.5
            nn.init.uniform_(lin.weight, -bound, bound)
        self.act = nn.PReLU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, operator: SparseOperator) -> Tensor:
        """``operator``: the normalised ``[N, N]`` propagation matrix (``out = operator @ x``)."""
        h = self.act(operator @ self.dropout(self.lin1(x)))
        h = operator @ self.dropout(self.lin2(h))
        return (h - h.mean()) / torch.sqrt(h.var(unbiased=False) + 1e-5)

    @staticmethod
    def propagation_matrix(edge_index: Tensor, weight: Tensor, num_nodes: int) -> SparseOperator:
        r"""MEOW's normalised meta-path operator :math:`M` (``out = M @ x``).

        The official ``normalize_adj`` returns :math:`D^{-1/2} A^\top D^{-1/2}` with :math:`D` the row
        sums of :math:`A`; after the per-node top-k :math:`A` is not symmetric, so the transpose and
        the row sums matter. ``edge_index`` ``[2, E]`` holds :math:`A`'s pairs ``(i, j)`` with
        ``weight`` ``[E]``; duplicate pairs are summed.
        """
        row, col = edge_index
        degree = scatter(weight, row, dim=0, dim_size=num_nodes, reduce="sum")
        inv_sqrt = degree.pow(-0.5).masked_fill_(degree == 0, 0)
        values = inv_sqrt[row] * weight * inv_sqrt[col]
        # M[j, i] = d_j^-1/2 A[i, j] d_i^-1/2
        return SparseOperator(torch.stack([col, row]), values, (num_nodes, num_nodes))


class OneHotLinear(nn.Module):
    r"""A linear layer on one-hot node features without building them: row :math:`i` is
    :math:`W^\top e_i + b`, i.e. a learned table plus a bias (what HeCo / MEOW feed featureless
    node types). ``forward(masked)`` zeroes the one-hot entry of the rows in the boolean ``masked``
    (their output is the bias), as feature masking does to a one-hot matrix.

    Shapes: -> ``[num_nodes, out_channels]``.
    """

    def __init__(self, num_nodes: int, out_channels: int) -> None:
        super().__init__()
        self.table = nn.Embedding(num_nodes, out_channels)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, masked: Tensor | None = None) -> Tensor:
        table = self.table.weight
        if masked is not None:
            table = table * (~masked).unsqueeze(1).to(table.dtype)
        return table + self.bias
