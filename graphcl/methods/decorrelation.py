"""Two augmented views without negative pairs: CCA-SSG, Graph Barlow Twins (G-BT) and BGRL.

Each is GRACE's two-view recipe (:class:`~graphcl.methods.GRACE`: edge dropping and feature
masking per view, a shared encoder, mini-batches of sampled subgraphs with ``batch_size``) with
another loss and head, so they accept the same ``encoder=`` / ``augmenters=`` objects.
"""
from __future__ import annotations

import copy
import math
from typing import Sequence

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from graphcl.checks import float_features, parameter_dtype
from graphcl.encoders import GNNEncoder
from graphcl.errors import InvalidArgumentError
from graphcl.losses import BarlowTwinsLoss, BootstrapCosine, CCASSGLoss
from graphcl.methods.base import register_method
from graphcl.methods.grace import GRACE


@register_method("cca-ssg")
class CCASSG(GRACE):
    r"""CCA-SSG: Zhang et al., "From Canonical Correlation Analysis to Self-supervised Graph Neural
    Networks", NeurIPS 2021.

    Two views with the same drop rates (``drop_edge``, ``drop_feature``), a GCN encoder
    ``in -> hidden_channels -> ... -> out_channels`` with ReLU between layers and none after the
    last, no projection head, and :class:`~graphcl.losses.CCASSGLoss` (invariance plus ``lambd``
    times each view's feature decorrelation). The embeddings are the encoder's output.

    ``encoder=`` / ``augmenters=`` objects replace the parts built from the settings (as GRACE).
    """

    def __init__(self, in_channels: int, out_channels: int = 512, hidden_channels: int = 512, num_layers: int = 2,
                 conv: str = "gcn", drop_edge: float = 0.2, drop_feature: float = 0.2, lambd: float = 1e-3,
                 batch_size: int | None = None, num_neighbors: Sequence[int] | None = None, num_workers: int = 0, *,
                 encoder: nn.Module | None = None,
                 augmenters: tuple[BaseTransform, BaseTransform] | None = None) -> None:
        if encoder is None:
            encoder = GNNEncoder(in_channels, hidden_channels, out_channels, num_layers, conv=conv, act="relu",
                                 act_last=False)
        super().__init__(in_channels, out_channels, num_layers=num_layers, drop_edge_1=drop_edge,
                         drop_edge_2=drop_edge, drop_feature_1=drop_feature, drop_feature_2=drop_feature,
                         batch_size=batch_size, num_neighbors=num_neighbors, num_workers=num_workers, encoder=encoder,
                         augmenters=augmenters, projector=nn.Identity(), loss=CCASSGLoss(lambd))


@register_method("g-bt")
class GraphBarlowTwins(GRACE):
    r"""G-BT: Bielak et al., "Graph Barlow Twins: A self-supervised representation learning
    framework for graphs", Knowledge-Based Systems 2022.

    Two views (edge dropping ``drop_edge``, feature masking ``drop_feature``, the same rates for
    both), the official encoder: GCN ``in -> 2 * out_channels`` with batch norm (momentum 0.01)
    and PReLU, then GCN ``-> out_channels``; no projection head; the Barlow Twins loss on the
    cross-correlation of the two views (:class:`~graphcl.losses.BarlowTwinsLoss`, ``lambd = 1 /
    d`` by default). The paper trains with AdamW and a warm-up plus cosine learning-rate schedule
    (the run settings ``optimizer: adamw``, ``lr_schedule: cosine``, ``warmup_epochs``).
    """

    def __init__(self, in_channels: int, out_channels: int = 256, num_layers: int = 2, conv: str = "gcn",
                 drop_edge: float = 0.2, drop_feature: float = 0.2, lambd: float | None = None,
                 batch_size: int | None = None, num_neighbors: Sequence[int] | None = None, num_workers: int = 0, *,
                 encoder: nn.Module | None = None,
                 augmenters: tuple[BaseTransform, BaseTransform] | None = None) -> None:
        if encoder is None:
            encoder = GNNEncoder(in_channels, 2 * out_channels, out_channels, num_layers, conv=conv, act="prelu",
                                 act_last=False, norm="batch_norm", norm_kwargs={"momentum": 0.01})
        super().__init__(in_channels, out_channels, num_layers=num_layers, drop_edge_1=drop_edge,
                         drop_edge_2=drop_edge, drop_feature_1=drop_feature, drop_feature_2=drop_feature,
                         batch_size=batch_size, num_neighbors=num_neighbors, num_workers=num_workers, encoder=encoder,
                         augmenters=augmenters, projector=nn.Identity(), loss=BarlowTwinsLoss(lambd))


class PredictorMLP(nn.Module):
    r"""BGRL's predictor :math:`q(h) = W_2\, \mathrm{PReLU}(W_1 h + b_1) + b_2`. ``[N, d] -> [N, d]``."""

    def __init__(self, in_channels: int, hidden_channels: int = 512, out_channels: int | None = None) -> None:
        super().__init__()
        self.lin1 = nn.Linear(in_channels, hidden_channels)
        self.act = nn.PReLU()
        self.lin2 = nn.Linear(hidden_channels, out_channels or in_channels)

    def reset_parameters(self) -> None:
        self.lin1.reset_parameters()
        self.act.reset_parameters()
        self.lin2.reset_parameters()

    def forward(self, h: Tensor) -> Tensor:
        return self.lin2(self.act(self.lin1(h)))


@register_method("bgrl")
class BGRL(GRACE):
    r"""BGRL: Thakoor et al., "Large-Scale Representation Learning on Graphs via Bootstrapping",
    ICLR 2022.

    An online encoder with a predictor (:class:`PredictorMLP`) regresses, across the two views, the
    embeddings of a target encoder (no gradient) that follows the online weights by an exponential
    moving average, :math:`\xi \leftarrow m\, \xi + (1 - m)\, \theta` after every step, with the
    momentum rising from ``momentum`` to 1 on a cosine over the training:
    :math:`m_k = 1 - (1 - m_0) \frac{1 + \cos(\pi k / K)}{2}`; the loss is
    :class:`~graphcl.losses.BootstrapCosine` (no negatives: memory linear in N). The encoder is the
    official one: GCN layers ``in -> hidden_channels -> ... -> out_channels``, each followed by
    batch norm (momentum 0.99, PyG's convention) and PReLU. The target starts from its own random
    initialisation (the training loop re-initialises every submodule). The paper trains with AdamW and a warm-up plus cosine learning-rate schedule
    (the run settings ``optimizer: adamw``, ``lr_schedule: cosine``, ``warmup_epochs``).

    The embeddings are the online encoder's.
    """

    def __init__(self, in_channels: int, out_channels: int = 128, hidden_channels: int = 256, num_layers: int = 2,
                 conv: str = "gcn", predictor_channels: int = 512, drop_edge_1: float = 0.4,
                 drop_edge_2: float = 0.1, drop_feature_1: float = 0.1, drop_feature_2: float = 0.2,
                 momentum: float = 0.99, batch_size: int | None = None, num_neighbors: Sequence[int] | None = None,
                 num_workers: int = 0, *, encoder: nn.Module | None = None,
                 augmenters: tuple[BaseTransform, BaseTransform] | None = None,
                 predictor: nn.Module | None = None) -> None:
        if not 0.0 <= momentum <= 1.0:
            raise InvalidArgumentError(f"momentum must be in [0, 1], got {momentum}")
        if encoder is None:
            encoder = GNNEncoder(in_channels, hidden_channels, out_channels, num_layers, conv=conv, act="prelu",
                                 norm="batch_norm", norm_kwargs={"momentum": 0.99})
        if predictor is None:
            d = getattr(encoder, "out_channels", out_channels)
            predictor = PredictorMLP(d, predictor_channels, d)
        super().__init__(in_channels, out_channels, num_layers=num_layers, drop_edge_1=drop_edge_1,
                         drop_edge_2=drop_edge_2, drop_feature_1=drop_feature_1, drop_feature_2=drop_feature_2,
                         batch_size=batch_size, num_neighbors=num_neighbors, num_workers=num_workers, encoder=encoder,
                         augmenters=augmenters, projector=predictor, loss=BootstrapCosine())
        self.momentum = momentum
        self.target_encoder = copy.deepcopy(self.encoder)
        self.target_encoder.requires_grad_(False)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))  # in checkpoints, for the schedule
        self._total_epochs, self._steps_per_epoch = 1, 1

    @property
    def predictor(self) -> nn.Module:
        return self.projector

    def plan_training(self, epochs: int) -> None:
        self._total_epochs = max(epochs, 1)

    def start_epoch(self, data: Data) -> int:
        self._steps_per_epoch = super().start_epoch(data)
        return self._steps_per_epoch

    def target_momentum(self, step: int) -> float:
        """:math:`m_k` after step ``k`` (0-based) of ``K = epochs x steps per epoch``."""
        total = self._total_epochs * self._steps_per_epoch
        return 1.0 - (1.0 - self.momentum) * (1.0 + math.cos(math.pi * min(step, total) / total)) / 2.0

    @torch.no_grad()
    def update_target(self, momentum: float) -> None:
        """:math:`\\xi \\leftarrow m\\, \\xi + (1 - m)\\, \\theta` over the encoders' parameters."""
        for online, target in zip(self.encoder.parameters(), self.target_encoder.parameters()):
            target.mul_(momentum).add_(online, alpha=1.0 - momentum)

    def loss(self, data: Data) -> Tensor:
        if self.training and int(self.steps_done) > 0:  # the update after the previous optimiser step
            self.update_target(self.target_momentum(int(self.steps_done) - 1))
        if self.training:
            self.steps_done += 1
        graph = self._next_batch(data) if self.batch_size is not None else self.view_input(data)
        rows = slice(0, graph.batch_size) if self.batch_size is not None else slice(None)
        view_1, view_2 = self.view_1(graph), self.view_2(graph)
        h1, h2 = self.encode(view_1)[rows], self.encode(view_2)[rows]
        with torch.no_grad():
            t1, t2 = self._target_encode(view_1)[rows], self._target_encode(view_2)[rows]
        return self.criterion(self.projector(h1), self.projector(h2), t1, t2)

    def _target_encode(self, graph: Data) -> Tensor:
        x = float_features(graph.x, parameter_dtype(self))
        return self.target_encoder(x, graph.edge_index, graph.get("edge_weight"))
