"""Masked feature reconstruction: GraphMAE (node level)."""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.utils import dropout_edge

from graphcl.checks import check_graph, float_features, parameter_dtype
from graphcl.encoders import GATEncoder
from graphcl.errors import InvalidArgumentError, InvalidGraphError
from graphcl.losses import ScaledCosineError
from graphcl.methods._parts import check_module, encoder_embeddings
from graphcl.methods.base import Method, register_method


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
        encoder, decoder: replace the GAT encoder (``forward(x, edge_index) -> [N, d]``) and decoder
            (``forward(h, edge_index) -> [N, in_channels]``).
    """

    def __init__(self, in_channels: int, out_channels: int = 512, num_layers: int = 2, heads: int = 4,
                 decoder_heads: int = 1, mask_rate: float = 0.5, replace_rate: float = 0.05, alpha: float = 3.0,
                 feature_dropout: float = 0.2, attention_dropout: float = 0.1, drop_edge: float = 0.0, *,
                 encoder: nn.Module | None = None, decoder: nn.Module | None = None) -> None:
        super().__init__()
        check_module(self.name, "encoder", encoder, "GATEncoder(in_channels, 512, 512, heads=4)")
        check_module(self.name, "decoder", decoder, "GATEncoder(512, in_channels, in_channels, num_layers=1, heads=1)")
        if not 0 < mask_rate < 1:
            raise InvalidArgumentError(f"mask_rate must be in (0, 1), got {mask_rate}")
        if not 0 <= replace_rate < 1:
            raise InvalidArgumentError(f"replace_rate must be in [0, 1), got {replace_rate}")
        if encoder is None:
            encoder = GATEncoder(in_channels, out_channels, out_channels, num_layers, heads=heads,
                                 feature_dropout=feature_dropout, attention_dropout=attention_dropout)
        d = getattr(encoder, "out_channels", out_channels)
        if decoder is None:
            decoder = GATEncoder(d, in_channels, in_channels, 1, heads=decoder_heads, feature_dropout=feature_dropout,
                                 attention_dropout=attention_dropout, act_last=False)
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
        n = x.size(0)
        num_masked = int(self.mask_rate * n)
        masked = torch.randperm(n, device=x.device)[:num_masked]
        num_noise = int(self.replace_rate * num_masked)
        order = torch.randperm(num_masked, device=x.device)
        token, noise = masked[order[:num_masked - num_noise]], masked[order[num_masked - num_noise:]]
        out = x.clone()
        out[noise] = x[torch.randperm(n, device=x.device)[:num_noise]]
        out[token] = self.mask_token.to(x.dtype).expand(token.numel(), -1)
        return out, masked

    def loss(self, data: Data) -> Tensor:
        x = float_features(data.x, parameter_dtype(self))
        masked_x, masked = self.mask(x)
        edge_index = data.edge_index
        encoder_edges = dropout_edge(edge_index, p=self.drop_edge)[0] if self.drop_edge > 0 else edge_index
        h = self.encoder_to_decoder(self.encoder(masked_x, encoder_edges))
        h = h.index_fill(0, masked, 0.0)  # re-mask
        reconstructed = self.decoder(h, edge_index)
        return self.criterion(reconstructed[masked], x[masked])

    @torch.no_grad()
    def embed(self, data: Data) -> Tensor:
        return encoder_embeddings(self, self.encoder, data)
