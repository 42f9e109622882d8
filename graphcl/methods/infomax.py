"""Local-global mutual information: DGI (node level)."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.nn import DeepGraphInfomax

from graphcl.checks import check_graph, float_features, parameter_dtype
from graphcl.encoders import GNNEncoder
from graphcl.methods._parts import check_module, encoder_embeddings
from graphcl.methods.base import Method, register_method


def shuffle_rows(x: Tensor, edge_index: Tensor) -> tuple[Tensor, Tensor]:
    """DGI's corruption: the feature rows permuted at random, the graph kept. ``[N, F] -> [N, F]``."""
    return x[torch.randperm(x.size(0), device=x.device)], edge_index


def mean_readout(z: Tensor, *args, **kwargs) -> Tensor:
    r"""DGI's readout :math:`s = \sigma(\frac1N \sum_i h_i)`. ``[N, d] -> [d]``."""
    return torch.sigmoid(z.mean(dim=0))


@register_method("dgi")
class DGI(Method):
    r"""DGI: Veličković et al., "Deep Graph Infomax", ICLR 2019.

    A GCN encoder embeds the graph (:math:`H`) and a corrupted copy whose feature rows are shuffled
    (:math:`\tilde H`); the readout :math:`s = \sigma(\mathrm{mean}_i\, h_i)` summarises the graph,
    and a bilinear discriminator :math:`D(h, s) = \sigma(h^\top W s)` tells real nodes from corrupted
    ones by binary cross-entropy:

    .. math::
        \mathcal L = -\frac1N \sum_i \log D(h_i, s) - \frac1N \sum_i \log\big(1 - D(\tilde h_i, s)\big)

    PyG's :class:`~torch_geometric.nn.models.DeepGraphInfomax` computes it (no bias in the
    bilinear form, unlike the official ``nn.Bilinear``). The paper's transductive encoder is one
    GCN layer with PReLU, 512 channels (256 on PubMed).

    Args:
        in_channels: feature size.
        out_channels: embedding size.
        num_layers, conv, activation: the default encoder (:class:`~graphcl.encoders.GNNEncoder`,
            the activation after every layer).
        encoder: replaces the default encoder (``forward(x, edge_index) -> [N, out]``; its
            ``out_channels`` attribute, where present, sizes the discriminator).
        corruption: ``corruption(x, edge_index) -> (x', edge_index')``; default :func:`shuffle_rows`.
        readout: ``readout(z) -> [d]``; default :func:`mean_readout`.
    """

    def __init__(self, in_channels: int, out_channels: int = 512, num_layers: int = 1, conv: str = "gcn",
                 activation: str = "prelu", *, encoder: nn.Module | None = None,
                 corruption: Callable | None = None, readout: Callable | None = None) -> None:
        super().__init__()
        check_module(self.name, "encoder", encoder, "GNNEncoder(in_channels, 512, 512, num_layers=1, act='prelu')")
        if encoder is None:
            encoder = GNNEncoder(in_channels, out_channels, out_channels, num_layers, conv=conv, act=activation)
        self.infomax = DeepGraphInfomax(getattr(encoder, "out_channels", out_channels), encoder=encoder,
                                        summary=readout or mean_readout, corruption=corruption or shuffle_rows)

    def _features(self, data: Data) -> Tensor:
        return float_features(data.x, parameter_dtype(self))

    def setup(self, data: Data) -> None:
        check_graph(data)

    def loss(self, data: Data) -> Tensor:
        positive, negative, summary = self.infomax(self._features(data), data.edge_index)
        return self.infomax.loss(positive, negative, summary)

    @property
    def encoder(self) -> nn.Module:
        return self.infomax.encoder

    @torch.no_grad()
    def embed(self, data: Data) -> Tensor:
        return encoder_embeddings(self, self.encoder, data)
