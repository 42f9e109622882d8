"""Masked feature reconstruction: GraphMAE (node level and graph level)."""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data, Dataset
from torch_geometric.loader import DataLoader
from torch_geometric.nn import MLP, GINConv, global_add_pool, global_max_pool, global_mean_pool
from torch_geometric.utils import add_self_loops, dropout_edge, remove_self_loops

from graphcl.checks import check_graph, float_features, parameter_dtype
from graphcl.encoders import GATEncoder
from graphcl.errors import InvalidArgumentError, InvalidGraphError
from graphcl.losses import ScaledCosineError
from graphcl.methods._parts import check_module, encoder_embeddings
from graphcl.methods.base import Method, register_method
from graphcl.methods.graphcl_graph import GraphBatchMethod


def mask_rows(x: Tensor, token: Tensor, mask_rate: float, replace_rate: float) -> tuple[Tensor, Tensor]:
    """GraphMAE's masking: ``int(mask_rate * N)`` random rows of ``x [N, F]`` are masked, ``int(replace_rate *``
    that many of them get the features of random rows, the rest the learnable ``token [1, F]``.
    Returns the masked copy and the masked rows' ids (``x`` is untouched)."""
    n = x.size(0)
    num_masked = int(mask_rate * n)
    masked = torch.randperm(n, device=x.device)[:num_masked]
    num_noise = int(replace_rate * num_masked)
    order = torch.randperm(num_masked, device=x.device)
    tokens, noise = masked[order[:num_masked - num_noise]], masked[order[num_masked - num_noise:]]
    out = x.clone()
    out[noise] = x[torch.randperm(n, device=x.device)[:num_noise]]
    out[tokens] = token.to(x.dtype).expand(tokens.numel(), -1)
    return out, masked


@register_method("graphmae")
class GraphMAE(Method):
    r"""GraphMAE: Hou et al., "GraphMAE: Self-Supervised Masked Graph Autoencoders", KDD 2022.

    Each step masks ``mask_rate`` of the nodes at random: most of them get a learnable [MASK]
    token as features, ``replace_rate`` of them the features of random nodes instead. The encoder
    (GAT, heads concatenated, PReLU after every layer) embeds the masked graph; a linear map
    without bias takes the embeddings to the decoder's input, where the masked nodes are set to 0
    again (re-masking); a one-layer GAT decoder reconstructs the features, and the loss is the
    scaled cosine error :class:`~graphcl.losses.ScaledCosineError` over the masked nodes. The
    embeddings are the encoder's on the unmasked graph.

    Args:
        in_channels: feature size (the decoder's output).
        out_channels: the encoder's width (every layer; ``heads`` heads of ``out_channels / heads``).
        num_layers, heads: the encoder's depth and heads per layer.
        decoder_heads: the decoder's heads (its output is their concatenation, ``in_channels`` in all).
        mask_rate: fraction of the nodes masked per step.
        replace_rate: fraction of the masked nodes given another node's features instead of [MASK].
        alpha: the loss's exponent :math:`\gamma`.
        feature_dropout, attention_dropout: GAT's input and attention dropout.
        drop_edge: fraction of edges dropped from the encoder's graph per step (the decoder sees all).
        init: the default encoder's and decoder's initialisation (:class:`~graphcl.encoders.GATEncoder`'s
            ``init``): ``'xavier_normal'``, the official code's DGL layers, or ``'glorot'``, PyG's.
        encoder, decoder: replace the GAT encoder (``forward(x, edge_index) -> [N, d]``) and decoder
            (``forward(h, edge_index) -> [N, in_channels]``).
    """

    def __init__(self, in_channels: int, out_channels: int = 512, num_layers: int = 2, heads: int = 4,
                 decoder_heads: int = 1, mask_rate: float = 0.5, replace_rate: float = 0.05, alpha: float = 3.0,
                 feature_dropout: float = 0.2, attention_dropout: float = 0.1, drop_edge: float = 0.0,
                 init: str = "xavier_normal", *, encoder: nn.Module | None = None,
                 decoder: nn.Module | None = None) -> None:
        super().__init__()
        check_module(self.name, "encoder", encoder, "GATEncoder(in_channels, 512, 512, heads=4)")
        check_module(self.name, "decoder", decoder, "GATEncoder(512, in_channels, in_channels, num_layers=1, heads=1)")
        if not 0 < mask_rate < 1:
            raise InvalidArgumentError(f"mask_rate must be in (0, 1), got {mask_rate}")
        if not 0 <= replace_rate < 1:
            raise InvalidArgumentError(f"replace_rate must be in [0, 1), got {replace_rate}")
        if encoder is None:
            encoder = GATEncoder(in_channels, out_channels, out_channels, num_layers, heads=heads,
                                 feature_dropout=feature_dropout, attention_dropout=attention_dropout, init=init)
        d = getattr(encoder, "out_channels", out_channels)
        if decoder is None:
            decoder = GATEncoder(d, in_channels, in_channels, 1, heads=decoder_heads, feature_dropout=feature_dropout,
                                 attention_dropout=attention_dropout, act_last=False, init=init)
        self.encoder, self.decoder = encoder, decoder
        self.encoder_to_decoder = nn.Linear(d, d, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, in_channels))
        self.criterion = ScaledCosineError(alpha)
        self.mask_rate, self.replace_rate, self.drop_edge = mask_rate, replace_rate, drop_edge

    def setup(self, data: Data) -> None:
        check_graph(data)
        if int(self.mask_rate * data.num_nodes) < 1:
            raise InvalidGraphError(f"graphmae masks {self.mask_rate} of the nodes: {data.num_nodes} nodes leave none "
                                    "to reconstruct; raise mask_rate or use a larger graph")

    def mask(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The features with a random ``mask_rate`` of the rows masked, and the masked rows' ids."""
        return mask_rows(x, self.mask_token, self.mask_rate, self.replace_rate)

    def loss(self, data: Data) -> Tensor:
        x = float_features(data.x, parameter_dtype(self))
        masked_x, masked = self.mask(x)
        edge_index = data.edge_index
        encoder_edges = dropout_edge(edge_index, p=self.drop_edge)[0] if self.drop_edge > 0 else edge_index
        h = self.encoder_to_decoder(self.encoder(masked_x, encoder_edges))
        h = h.index_fill(0, masked, 0.0)  # re-mask
        if isinstance(self.decoder, GATEncoder):  # only the masked rows, aggregated at the narrower width
            reconstructed = self.decoder(h, edge_index, rows=masked)
        else:
            reconstructed = self.decoder(h, edge_index)[masked]
        return self.criterion(reconstructed, x[masked])

    @torch.no_grad()
    def embed(self, data: Data) -> Tensor:
        return encoder_embeddings(self, self.encoder, data)


#: Readouts of :class:`GraphMAEGraphs` (``pooling``).
POOLINGS = {"sum": global_add_pool, "mean": global_mean_pool, "max": global_max_pool}


class _GraphMAEGIN(nn.Module):
    """GraphMAE's GIN (``graphmae/models/gin.py``): per layer, dropout on its input, then
    :math:`\mathrm{MLP}(h_i + \sum_{j \in N(i)} h_j)` with a two-layer MLP (linear, batch norm, PReLU,
    linear); in the encoder each layer's MLP is followed by batch norm and PReLU, the decoder's
    single layer ends linear. Shapes: ``x [N, F]`` -> ``[N, out_channels]``."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int,
                 dropout: float, encoding: bool) -> None:
        super().__init__()
        self.out_channels, self.dropout = out_channels, dropout
        self.convs = nn.ModuleList()
        for i in range(num_layers):
            last = i == num_layers - 1
            d_in, d_out = in_channels if i == 0 else hidden_channels, out_channels if last else hidden_channels
            mlp = MLP([d_in, hidden_channels, d_out], act="prelu", norm="batch_norm")
            apply = nn.Sequential(mlp, nn.BatchNorm1d(d_out), nn.PReLU()) if encoding or not last else mlp
            self.convs.append(GINConv(apply, eps=0.0, train_eps=False))

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        for conv in self.convs:
            x = conv(nn.functional.dropout(x, self.dropout, self.training), edge_index)
        return x


@register_method("graphmae-graph")
class GraphMAEGraphs(GraphBatchMethod):
    r"""GraphMAE on a dataset of graphs (Hou et al., KDD 2022; the official ``main_graph.py`` with
    ``--use_cfg``): :class:`GraphMAE`'s masked feature reconstruction on mini-batches of graphs,
    with GraphMAE's GIN as encoder and (one layer) decoder, and a graph's embedding the
    ``pooling`` readout (sum / mean / max) of its nodes' encoder outputs.

    Each step masks ``mask_rate`` of the batch's nodes (:func:`mask_rows`: [MASK] token, or
    ``replace_rate`` of them another node's features), encodes, maps the embeddings through a
    linear layer without bias, sets the masked nodes to 0 again, decodes, and minimises the scaled
    cosine error :math:`\frac{1}{|M|}\sum_{i \in M} (1 - \cos(x_i, \hat x_i))^{\alpha}` over the
    masked nodes :math:`M`. Every graph is given exactly one self-loop per node, as the official
    loader does.

    Args:
        in_channels: node feature size.
        hidden_channels, num_layers: GIN width and depth (graph embeddings of ``hidden_channels`` entries).
        mask_rate, replace_rate, alpha: as :class:`GraphMAE`.
        feature_dropout: dropout on every GIN layer's input.
        pooling: ``'sum'``, ``'mean'`` or ``'max'``.
        batch_size: graphs per step.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 32, num_layers: int = 5, mask_rate: float = 0.75,
                 replace_rate: float = 0.1, alpha: float = 2.0, feature_dropout: float = 0.2, pooling: str = "sum",
                 batch_size: int = 64) -> None:
        super().__init__()
        if not 0 < mask_rate < 1:
            raise InvalidArgumentError(f"mask_rate must be in (0, 1), got {mask_rate}")
        if not 0 <= replace_rate < 1:
            raise InvalidArgumentError(f"replace_rate must be in [0, 1), got {replace_rate}")
        if pooling not in POOLINGS:
            raise InvalidArgumentError(f"pooling must be one of {sorted(POOLINGS)}, got {pooling!r}")
        if num_layers < 1:
            raise InvalidArgumentError(f"num_layers must be >= 1, got {num_layers}")
        self.gin = _GraphMAEGIN(in_channels, hidden_channels, hidden_channels, num_layers, feature_dropout, True)
        self.decoder = _GraphMAEGIN(hidden_channels, hidden_channels, in_channels, 1, feature_dropout, False)
        self.encoder_to_decoder = nn.Linear(hidden_channels, hidden_channels, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, in_channels))
        self.criterion = ScaledCosineError(alpha)
        self.mask_rate, self.replace_rate, self.pooling, self.batch_size = mask_rate, replace_rate, pooling, batch_size
        self._loader: DataLoader | None = None

    def encoder(self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int) -> tuple[Tensor, Tensor]:
        """Node embeddings and their ``pooling`` readout per graph, on the graphs with one self-loop per node."""
        nodes = self.gin(x, _one_self_loop(edge_index, x.size(0)))
        return nodes, POOLINGS[self.pooling](nodes, batch, num_graphs)

    def loss(self, dataset: Dataset) -> Tensor:
        batch = self._next_batch()
        x = batch.x.float()
        if int(self.mask_rate * x.size(0)) < 1:
            raise InvalidGraphError(f"graphmae-graph masks {self.mask_rate} of a batch's nodes: {x.size(0)} nodes leave "
                                    "none to reconstruct; raise mask_rate or batch_size")
        edge_index = _one_self_loop(batch.edge_index, x.size(0))
        masked_x, masked = mask_rows(x, self.mask_token, self.mask_rate, self.replace_rate)
        h = self.encoder_to_decoder(self.gin(masked_x, edge_index)).index_fill(0, masked, 0.0)  # re-mask
        return self.criterion(self.decoder(h, edge_index)[masked], x[masked])


def _one_self_loop(edge_index: Tensor, num_nodes: int) -> Tensor:
    return add_self_loops(remove_self_loops(edge_index)[0], num_nodes=num_nodes)[0]
