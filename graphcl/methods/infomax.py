"""Local-global mutual information at node level: DGI and MVGRL."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.nn import DeepGraphInfomax

from graphcl.augment import normalized_adjacency, ppr_diffusion
from graphcl.checks import check_graph, float_features, parameter_dtype
from graphcl.encoders import GNNEncoder, SparseOperator
from graphcl.errors import InvalidArgumentError, InvalidGraphError
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


def _window(index: Tensor, weight: Tensor, start: int, size: int) -> SparseOperator:
    """The ``[size, size]`` block of a sparse matrix at rows and columns ``start .. start + size - 1``."""
    keep = (index >= start).all(0) & (index < start + size).all(0)
    return SparseOperator(index[:, keep] - start, weight[keep], (size, size))


@register_method("mvgrl")
class MVGRL(Method):
    r"""MVGRL: Hassani & Khasahmadi, "Contrastive Multi-View Representation Learning on Graphs",
    ICML 2020 (node level).

    Two views of the graph: its normalised adjacency :math:`T = D^{-1/2}(A + I)D^{-1/2}` and the
    personalised-PageRank diffusion :math:`S = \alpha (I - (1 - \alpha) T)^{-1}`
    (:func:`~graphcl.augment.ppr_diffusion`, sparse: entries below ``eps`` dropped), each with
    its own one-layer GCN (PReLU). Node embeddings of one view are contrasted with the summary
    :math:`\sigma(\mathrm{mean}_i\, h_i)` of the other by a shared bilinear discriminator, against
    the nodes of a copy with shuffled feature rows, by binary cross-entropy (DGI's objective across
    views):

    .. math::
        \mathcal L = \mathrm{BCE}\big(D(h^{\alpha}_i, s^{\beta}), 1\big) + \mathrm{BCE}\big(D(h^{\beta}_i,
        s^{\alpha}), 1\big) + \mathrm{BCE}\big(D(\tilde h^{\alpha}_i, s^{\beta}), 0\big)
        + \mathrm{BCE}\big(D(\tilde h^{\beta}_i, s^{\alpha}), 0\big)

    As the paper (and its official code) each step trains on ``num_samples`` subgraphs of
    ``sample_size`` consecutive node ids (both matrices restricted to them, one shuffle of their
    rows); the embeddings are :math:`h^{\alpha} + h^{\beta}` of the whole graph.

    Args:
        in_channels: feature size.
        out_channels: embedding size (both encoders).
        alpha, eps: the diffusion's teleport probability and sparsification threshold.
        sample_size, num_samples: the subgraphs of a step (the whole graph when it is smaller).
        encoders: the two views' encoders, each with ``forward_operator(x, operator) -> [N, d]``
            (e.g. one-layer GCN :class:`~graphcl.encoders.GNNEncoder` s), instead of the default.
    """

    def __init__(self, in_channels: int, out_channels: int = 512, alpha: float = 0.2, eps: float = 1e-4,
                 sample_size: int = 2000, num_samples: int = 4, *,
                 encoders: tuple[nn.Module, nn.Module] | None = None) -> None:
        super().__init__()
        if encoders is None:
            encoders = tuple(GNNEncoder(in_channels, out_channels, out_channels, 1, act="prelu") for _ in range(2))
        if len(encoders) != 2 or not all(hasattr(e, "forward_operator") for e in encoders):
            raise InvalidArgumentError("mvgrl: encoders must be two modules with forward_operator(x, operator), such "
                                       "as GNNEncoder(in_channels, 512, 512, 1, act='prelu')")
        if sample_size < 2 or num_samples < 1:
            raise InvalidArgumentError(f"sample_size must be >= 2 and num_samples >= 1, got {sample_size} and "
                                       f"{num_samples}")
        self.adjacency_encoder, self.diffusion_encoder = encoders
        d = getattr(encoders[0], "out_channels", out_channels)
        self.discriminator = nn.Bilinear(d, d, 1)
        self.alpha, self.eps, self.sample_size, self.num_samples = alpha, eps, sample_size, num_samples
        self._views: tuple[Tensor, Tensor, Tensor, Tensor] | None = None

    def setup(self, data: Data) -> None:
        check_graph(data)
        if data.num_nodes < 2:
            raise InvalidGraphError(f"mvgrl contrasts nodes with shuffled ones: it needs at least 2 nodes, got "
                                    f"{data.num_nodes}")
        adjacency = normalized_adjacency(data.edge_index, data.num_nodes)
        diffusion = ppr_diffusion(data.edge_index, data.num_nodes, self.alpha, self.eps)
        device = data.edge_index.device
        self._views = (adjacency.indices().to(device), adjacency.values().to(device),
                       diffusion.indices().to(device), diffusion.values().to(device))

    def _encode(self, x: Tensor, start: int, size: int) -> tuple[Tensor, Tensor]:
        a_index, a_weight, d_index, d_weight = self._views
        adjacency, diffusion = _window(a_index, a_weight, start, size), _window(d_index, d_weight, start, size)
        return (self.adjacency_encoder.forward_operator(x, adjacency),
                self.diffusion_encoder.forward_operator(x, diffusion))

    def loss(self, data: Data) -> Tensor:
        if self._views is None:
            raise InvalidArgumentError("mvgrl: call setup(data) (the training loop does) before loss()")
        x = float_features(data.x, parameter_dtype(self))
        size = min(self.sample_size, data.num_nodes)
        starts = torch.randint(0, data.num_nodes - size + 1, (self.num_samples,)).tolist()
        shuffle = torch.randperm(size, device=x.device)
        logits = []
        for start in starts:
            rows = x[start:start + size]
            h_a, h_d = self._encode(rows, start, size)
            s_a, s_d = torch.sigmoid(h_a.mean(0)), torch.sigmoid(h_d.mean(0))
            f_a, f_d = self._encode(rows[shuffle], start, size)
            logits.append(torch.cat([self._score(h_d, s_a), self._score(h_a, s_d),
                                     self._score(f_d, s_a), self._score(f_a, s_d)]))
        logits = torch.stack(logits)
        labels = torch.cat([torch.ones(2 * size), torch.zeros(2 * size)]).to(logits)
        return F.binary_cross_entropy_with_logits(logits, labels.expand_as(logits))

    def _score(self, h: Tensor, summary: Tensor) -> Tensor:
        # nn.Bilinear's h_i^T W s + b for one summary s, as h (W s) + b: a matrix-vector product per
        # view instead of torch.bilinear's [N, d, d] expansion in the backward (40 s -> 0.5 s per step on Cora)
        return h @ (self.discriminator.weight[0] @ summary) + self.discriminator.bias

    @torch.no_grad()
    def embed(self, data: Data) -> Tensor:
        was_training = self.training
        self.eval()
        if self._views is None:
            self.setup(data)
        x = float_features(data.x, parameter_dtype(self))
        h_a, h_d = self._encode(x, 0, data.num_nodes)
        self.train(was_training)
        return (h_a + h_d).detach()
