"""Message-passing encoders: thin wrappers over ``torch_geometric.nn`` models."""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.nn import GATConv
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.models import GAT, GCN, GIN, MLP, GraphSAGE
from torch_geometric.nn.resolver import activation_resolver, normalization_resolver

from graphcl.encoders.propagation import SparseInput, SparseOperator
from graphcl.errors import InvalidArgumentError, UnknownNameError

#: Encoder name -> PyG ``BasicGNN`` class.
CONVOLUTIONS = {"gcn": GCN, "gat": GAT, "gin": GIN, "sage": GraphSAGE}


def gcn_propagation(edge_index: Tensor, num_nodes: int, edge_weight: Tensor | None = None,
                    transpose: bool = True) -> SparseOperator:
    r"""GCN's propagation matrix :math:`\hat D^{-1/2} (A + I) \hat D^{-1/2}` as a
    :class:`~graphcl.encoders.SparseOperator` whose row ``i`` holds node ``i``'s incoming edges
    (PyG's ``gcn_norm``, so that ``adj @ h`` equals ``GCNConv``'s propagation; duplicate edges add
    up as its scatter does). No gradient flows to ``edge_weight``.

    Self-loops are PyG's ``add_remaining_self_loops``: a node's existing self-loop keeps its weight,
    every other node gets one of weight 1. Built in CSR directly
    (:meth:`~graphcl.encoders.SparseOperator.with_diagonal`, no ``[2, E + N]`` copy, no coalesce).

    Shapes: ``edge_index [2, E]``, ``edge_weight [E]`` -> ``[N, N]`` with at most ``E + N`` entries.
    """
    source, target = edge_index[0], edge_index[1]
    weight = None if edge_weight is None else edge_weight.detach()
    loop_weight = torch.ones(num_nodes, device=edge_index.device,
                             dtype=weight.dtype if weight is not None else torch.get_default_dtype())
    loop = source == target
    if bool(loop.any()):
        if weight is not None:
            loop_weight[source[loop]] = weight[loop]
        keep = ~loop
        source, target = source[keep], target[keep]
        weight = None if weight is None else weight[keep]
    degree = torch.bincount(target, weights=weight, minlength=num_nodes).to(loop_weight.dtype) + loop_weight
    inverse_sqrt = degree.pow_(-0.5).masked_fill_(torch.isinf(degree), 0.0)
    values = inverse_sqrt[source] * inverse_sqrt[target]
    if weight is not None:
        values *= weight
    # row i holds node i's incoming edges: rows = targets, columns = sources
    return SparseOperator.with_diagonal(target, source, values, loop_weight * inverse_sqrt.square(),
                                        transpose=transpose)


class GNNEncoder(nn.Module):
    r"""A stack of GCN / GAT / GIN / GraphSAGE layers with an activation after every layer.

    ``in_channels -> hidden_channels -> ... -> out_channels`` over ``num_layers`` layers;
    unlike PyG's ``BasicGNN`` the activation is also applied after the last layer when
    ``act_last`` (as in GRACE / GCA, whose encoder is
    :math:`H^{(l+1)} = \sigma(\hat D^{-1/2} \hat A \hat D^{-1/2} H^{(l)} W^{(l)})` for every layer).

    Args:
        in_channels: input feature size.
        hidden_channels: size of the intermediate layers.
        out_channels: embedding size ``d``.
        num_layers: number of message-passing layers (>= 1).
        conv: ``'gcn'``, ``'gat'``, ``'gin'`` or ``'sage'``.
        act: activation name understood by PyG's resolver (``'relu'``, ``'prelu'``, ...) or a module.
        act_last: apply the activation after the last layer too.
        dropout: dropout between layers.
        norm: a normalisation after every layer, before its activation (``'batch_norm'``,
            ``'layer_norm'``, ...: PyG's resolver), the last layer's too when ``act_last``
            (BGRL's and G-BT's encoders: GCN, batch norm, PReLU per layer).
        **conv_kwargs: passed to the PyG model (e.g. ``heads=4`` for GAT).

    With ``conv='gcn'`` (PyG's default normalisation), each forward builds the normalised
    adjacency once as a sparse CSR matrix (:func:`gcn_propagation`) and propagates every layer
    by sparse-dense products: the same values as ``GCNConv``'s gather / scatter, without its
    ``[E, C]`` messages (5.7x faster forward + backward and a fraction of the memory on Amazon Photo);
    input features with at most :data:`~graphcl.encoders.propagation.SPARSE_INPUT_DENSITY` non-zeros
    are multiplied by the first layer as a sparse matrix (:class:`~graphcl.encoders.propagation.SparseInput`).

    Shapes: ``x: [N, F]``, ``edge_index: [2, E]``, ``edge_weight: [E]`` (GCN only) -> ``[N, d]``.
    """

    #: ``x`` may be a sparse COO tensor (mini-batches of bag-of-words features): GCN multiplies it
    #: as a sparse matrix, the other convolutions densify it first.
    accepts_sparse_features = True

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 2,
                 conv: str = "gcn", act: str | nn.Module = "relu", act_last: bool = True, dropout: float = 0.0,
                 norm: str | None = None, **conv_kwargs) -> None:
        super().__init__()
        self._sparse_input = SparseInput()
        if conv not in CONVOLUTIONS:
            raise UnknownNameError(f"unknown convolution {conv!r}; choose one of {sorted(CONVOLUTIONS)}")
        if num_layers < 1:
            raise InvalidArgumentError(f"num_layers must be >= 1, got {num_layers}")
        self.gnn = CONVOLUTIONS[conv](in_channels, hidden_channels, num_layers, out_channels,
                                      dropout=dropout, act=act, norm=norm, **conv_kwargs)
        # One activation module for every layer (a PReLU's slope is shared, as in GRACE / GCA).
        self.act = self.gnn.act if act_last else None
        self.norm_last = (normalization_resolver(norm, out_channels, **(conv_kwargs.get("norm_kwargs") or {}))
                          if norm is not None and act_last else None)
        self.out_channels, self.num_layers = out_channels, num_layers
        first = self.gnn.convs[0]
        self._sparse_gcn = isinstance(self.gnn, GCN) and all(
            getattr(first, key, None) == value for key, value in
            (("normalize", True), ("add_self_loops", True), ("improved", False), ("cached", False)))

    def reset_parameters(self) -> None:
        self.gnn.reset_parameters()
        if self.norm_last is not None:
            self.norm_last.reset_parameters()
        if hasattr(self.gnn.act, "reset_parameters"):
            self.gnn.act.reset_parameters()

    def forward_operator(self, x: Tensor, operator: Any) -> Tensor:
        r"""The GCN layers with the normalised adjacency replaced by ``operator`` (anything with
        ``operator @ h``, e.g. the low-rank :class:`~graphcl.augment.LowRankOperator` of LightGCL's
        SVD view): :math:`H^{(l+1)} = \sigma(\mathcal{O} H^{(l)} W^{(l)} + b^{(l)})`, the same weights
        as :meth:`forward`. GCN only."""
        if not isinstance(self.gnn, GCN):
            raise InvalidArgumentError("forward_operator needs conv='gcn' (a linear map, then propagation)")
        last = len(self.gnn.convs) - 1
        for i, conv in enumerate(self.gnn.convs):
            x = operator @ (self._sparse_input.linear(conv.lin, x) if i == 0 else conv.lin(x))
            if conv.bias is not None:
                x = x + conv.bias
            if i < last:
                x = self.gnn.dropout(self.gnn.act(self.gnn.norms[i](x)))
        return self._last_activation(x)

    def _last_activation(self, h: Tensor) -> Tensor:
        if self.act is None:
            return h
        return self.act(self.norm_last(h) if self.norm_last is not None else h)

    @torch.no_grad()
    def inference(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None,
                  batch_size: int = 65536) -> Tensor:
        r"""Embeddings of every node, layer by layer (PyG's layer-wise inference), without gradients:
        the values of :meth:`forward` in eval mode. For GCN, :math:`\hat A (H W) = (\hat A H) W`
        lets each propagation (CSR, no transpose) run at the narrower of a layer's two widths; the
        row-wise work between two propagations (bias, activation, the next layer's :math:`W`) runs
        in row blocks of ``batch_size`` nodes, so a wide hidden layer is never held for every node:
        at most one ``[N, width]`` input, one ``[N, width']`` output and one block. Other
        convolutions run :meth:`forward`.

        Shapes: ``x [N, F]`` -> ``[N, out_channels]``.
        """
        if not (self._sparse_gcn and isinstance(edge_index, Tensor) and not edge_index.is_sparse) or (
                self.training and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.modules())):
            return self.forward(x, edge_index, edge_weight)  # (batch statistics are not row-wise)
        if batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be >= 1, got {batch_size}")
        operator = gcn_propagation(edge_index, x.size(0), edge_weight, transpose=False)
        last = len(self.gnn.convs) - 1
        h, width, pending = x, x.size(1), []  # pending: row-wise steps not yet applied to h
        for i, conv in enumerate(self.gnn.convs):
            weight = conv.lin.weight  # [out, in]
            if i == 0 and self._sparse_input.sparse_form(x) is not None:
                h = operator @ self._sparse_input.linear(conv.lin, x)  # sparse X times W first
            else:
                widening = weight.size(0) > width  # then propagate first; the W waits for the next row pass
                steps = pending if widening else pending + [lambda b, w=weight: b @ w.t()]
                rows = self._rows(h, steps, weight.size(0) if steps and not widening else width, batch_size)
                del h  # the previous [N, width] goes before the propagation allocates the next
                h = operator @ rows
                del rows
                pending = [lambda b, w=weight: b @ w.t()] if widening else []
            width = weight.size(0)
            activate = i < last or self.act is not None
            norm = self.gnn.norms[i] if i < last else self.norm_last
            pending.append(lambda b, bias=conv.bias, norm=norm, activate=activate: self._bias_act(b, bias, norm,
                                                                                                  activate))
        if len(pending) == 1:  # bias and activation only: in place, h is this method's own tensor
            return self._rows(h, pending, width, batch_size, out=h)
        return self._rows(h, pending, width, batch_size)

    def _bias_act(self, block: Tensor, bias: Tensor | None, norm: nn.Module | None, activate: bool) -> Tensor:
        if bias is not None:
            block = block + bias
        if not activate:
            return block
        if norm is not None and not isinstance(norm, nn.Identity):
            block = norm(block)
        return block.relu_() if isinstance(self.gnn.act, nn.ReLU) else self.gnn.act(block)

    @staticmethod
    def _rows(h: Tensor, steps: list, width: int, batch_size: int, out: Tensor | None = None) -> Tensor:
        """``steps`` applied to ``h`` in row blocks, into ``out`` (default a new ``[N, width]``; ``h``
        itself without steps)."""
        if not steps:
            return h
        out = h.new_empty(h.size(0), width) if out is None else out
        for start in range(0, h.size(0), batch_size):
            block = h[start:start + batch_size]
            for step in steps:
                block = step(block)
            out[start:start + batch_size] = block
        return out

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        if self._sparse_gcn and isinstance(edge_index, Tensor) and not edge_index.is_sparse and (
                edge_weight is None or not edge_weight.requires_grad):
            return self.forward_operator(x, gcn_propagation(edge_index, x.size(0), edge_weight))
        x = x.to_dense() if x.layout != torch.strided else x
        if edge_weight is not None and self.gnn.supports_edge_weight:
            h = self.gnn(x, edge_index, edge_weight=edge_weight)
        else:
            h = self.gnn(x, edge_index)
        return self._last_activation(h)


class GATEncoder(nn.Module):
    r"""Graph attention layers as GAT (Veličković et al., ICLR 2018) and GraphMAE stack them: dropout
    on each layer's input, multi-head attention with its own dropout on the attention
    coefficients, the heads concatenated, an activation after every layer (after the last one only
    when ``act_last``). PyG's ``GATConv`` (self-loops added).

    ``in_channels -> hidden_channels -> ... -> out_channels`` (totals over the heads: each hidden
    layer has ``heads`` heads of ``hidden_channels / heads``, the last ``out_heads`` heads of
    ``out_channels / out_heads``). Unlike PyG's ``GAT`` model, the last layer concatenates its
    heads too and the input dropout applies before the first layer as well.

    ``init``: ``'glorot'`` (PyG's: Glorot-uniform weights and attention vectors) or
    ``'xavier_normal'`` (DGL's ``GATConv``, as GraphMAE's official code: Xavier-normal with the
    ReLU gain :math:`\sqrt 2`), biases 0 either way.

    Shapes: ``x: [N, F]``, ``edge_index: [2, E]`` -> ``[N, out_channels]``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 2,
                 heads: int = 4, out_heads: int | None = None, feature_dropout: float = 0.2,
                 attention_dropout: float = 0.1, negative_slope: float = 0.2, act: str | nn.Module = "prelu",
                 act_last: bool = True, init: str = "glorot") -> None:
        super().__init__()
        out_heads = heads if out_heads is None else out_heads
        if num_layers < 1:
            raise InvalidArgumentError(f"num_layers must be >= 1, got {num_layers}")
        if init not in ("glorot", "xavier_normal"):
            raise InvalidArgumentError(f"init must be 'glorot' or 'xavier_normal', got {init!r}")
        layer = GATConv if init == "glorot" else _XavierNormalGATConv
        for total, count, what in ((hidden_channels, heads, "hidden_channels"), (out_channels, out_heads, "out_channels")):
            if count < 1 or total % count:
                raise InvalidArgumentError(f"{what} ({total}) must be a multiple of its number of heads ({count})")
        self.convs = nn.ModuleList()
        for i in range(num_layers):
            last = i == num_layers - 1
            width, count = (out_channels, out_heads) if last else (hidden_channels, heads)
            self.convs.append(layer(in_channels if i == 0 else hidden_channels, width // count, heads=count,
                                    concat=True, negative_slope=negative_slope, dropout=attention_dropout))
        self.acts = nn.ModuleList(activation_resolver(act) if isinstance(act, str) else copy.deepcopy(act)
                                  for _ in range(num_layers if act_last else num_layers - 1))
        self.dropout = nn.Dropout(feature_dropout)
        self.out_channels, self.num_layers = out_channels, num_layers

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()
        for act in self.acts:
            if hasattr(act, "reset_parameters"):
                act.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None,
                rows: Tensor | None = None) -> Tensor:
        """``rows`` (distinct node ids, ``[R]``): return only these nodes' outputs, ``[R, out_channels]``,
        equal to ``forward(x, edge_index)[rows]`` (the last layer computed by :func:`gat_rows`)."""
        for i, conv in enumerate(self.convs):
            last = i == len(self.convs) - 1
            x = self.dropout(x)
            x = gat_rows(conv, x, edge_index, rows) if last and rows is not None else conv(x, edge_index)
            if i < len(self.acts):
                x = self.acts[i](x)
        return x


class _XavierNormalLinear(Linear):
    """PyG's ``Linear`` re-initialised Xavier-normal with the ReLU gain (DGL's ``GATConv``)."""

    def reset_parameters(self) -> None:
        super().reset_parameters()
        nn.init.xavier_normal_(self.weight, gain=nn.init.calculate_gain("relu"))


class _XavierNormalGATConv(GATConv):
    """PyG's ``GATConv`` initialised as DGL's (GraphMAE's official layers): weights and attention
    vectors Xavier-normal with the ReLU gain, bias 0. Its linear map re-initialises itself the same
    way when ``reset_parameters`` reaches it directly (``train`` resets every submodule per seed)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lin = _XavierNormalLinear(self.lin.in_channels, self.lin.out_channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        nn.init.xavier_normal_(self.att_src, gain=nn.init.calculate_gain("relu"))
        nn.init.xavier_normal_(self.att_dst, gain=nn.init.calculate_gain("relu"))


def gat_rows(conv: Any, x: Tensor, edge_index: Tensor, rows: Tensor) -> Tensor:
    r"""``conv(x, edge_index)[rows]`` for a PyG ``GATConv`` (one shared linear map, heads
    concatenated, self-loops added, no edge features or residual), computed in ``x``'s width.

    Head :math:`h`'s output is :math:`W_h \sum_j \alpha^h_{ij} x_j + b` and its attention logits
    :math:`a_s^\top W_h x_j + a_d^\top W_h x_i = (W_h^\top a_s)^\top x_j + (W_h^\top a_d)^\top x_i`,
    so the messages are summed at the input width ``F`` and :math:`W` is applied to the ``R`` rows
    only: cheaper than the layer whenever ``F`` is below the per-head width ``C`` (GraphMAE's
    decoder: 512 -> 1,433 on Cora, half the nodes masked). The attention dropout draws the same
    random numbers as ``conv``. Other layers: ``conv(x, edge_index)[rows]``.

    Shapes: ``x [N, F]``, ``edge_index [2, E]``, ``rows [R]`` (distinct) -> ``[R, H * C]``.
    """
    from torch_geometric.utils import add_self_loops, remove_self_loops, scatter, softmax

    heads, width = conv.heads, conv.out_channels
    plain = (conv.lin is not None and conv.concat and conv.res is None and conv.lin_edge is None
             and conv.add_self_loops and isinstance(edge_index, Tensor) and not edge_index.is_sparse)
    if not plain or x.size(1) >= width:
        return conv(x, edge_index)[rows]
    n = x.size(0)
    weight = conv.lin.weight.view(heads, width, -1)  # [H, C, F]
    att_source = (weight * conv.att_src.view(heads, width, 1)).sum(1)  # [H, F]
    att_target = (weight * conv.att_dst.view(heads, width, 1)).sum(1)
    loops, _ = add_self_loops(remove_self_loops(edge_index)[0], num_nodes=n)
    source, target = loops[0], loops[1]
    alpha = nn.functional.leaky_relu((x @ att_source.t())[source] + (x @ att_target.t())[target], conv.negative_slope)
    alpha = softmax(alpha, target, num_nodes=n)
    alpha = nn.functional.dropout(alpha, p=conv.dropout, training=conv.training)  # [E + N, H], as conv draws it
    position = torch.full((n,), -1, dtype=torch.long, device=x.device)
    position[rows] = torch.arange(rows.numel(), device=x.device)
    keep = position[target] >= 0
    messages = alpha[keep].unsqueeze(-1) * x[source[keep]].unsqueeze(1)  # [E_R, H, F]
    summed = scatter(messages, position[target[keep]], dim=0, dim_size=rows.numel(), reduce="sum")
    out = torch.einsum("rhf,hcf->rhc", summed, weight).reshape(rows.numel(), heads * width)
    return out if conv.bias is None else out + conv.bias


class MLPEncoder(nn.Module):
    """A multi-layer perceptron that ignores the graph (PyG's ``MLP``); a structure-free baseline.

    Shapes: ``x: [N, F]`` -> ``[N, d]``; ``edge_index`` / ``edge_weight`` are accepted and unused.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 2,
                 act: str = "relu", dropout: float = 0.0) -> None:
        super().__init__()
        self.mlp = MLP(in_channels=in_channels, hidden_channels=hidden_channels, out_channels=out_channels,
                       num_layers=num_layers, act=act, dropout=dropout, norm=None)
        self.out_channels = out_channels

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor | None = None, edge_weight: Tensor | None = None) -> Tensor:
        return self.mlp(x)


class ProjectionHead(nn.Module):
    r"""Two-layer projection :math:`g(z) = W_2\, \mathrm{ELU}(W_1 z + b_1) + b_2` (GRACE / SimCLR).

    Shapes: ``[N, in_channels] -> [N, out_channels]``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int | None = None,
                 act: str = "elu") -> None:
        super().__init__()
        self.lin1 = nn.Linear(in_channels, hidden_channels)
        self.act = activation_resolver(act)
        self.lin2 = nn.Linear(hidden_channels, out_channels or in_channels)

    def reset_parameters(self) -> None:
        self.lin1.reset_parameters()
        self.lin2.reset_parameters()

    def forward(self, z: Tensor) -> Tensor:
        return self.lin2(self.act(self.lin1(z)))
