"""SwAV on graphs: clusters from prototype assignments balanced by Sinkhorn-Knopp."""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.nn import MLP
from torch_geometric.transforms import BaseTransform, Compose

from graphcl.augment import DropEdge, MaskFeature
from graphcl.checks import check_graph, check_num_clusters, float_features, parameter_dtype
from graphcl.encoders import GNNEncoder
from graphcl.errors import InvalidArgumentError, InvalidGraphError
from graphcl.losses import SwappedPrototypeLoss
from graphcl.methods._parts import check_module, check_transforms, encoder_embeddings, eval_mode
from graphcl.methods.base import ClusteringMethod, register_method


@register_method("swav")
class SwAV(ClusteringMethod):
    r"""SwAV's swapped prediction (Caron et al., "Unsupervised Learning of Visual Features by
    Contrasting Cluster Assignments", NeurIPS 2020) on two augmented views of a graph, as a
    cluster-level method: ``num_clusters`` prototypes, and each node's cluster is its prototype.

    Two views by edge dropping and feature masking (GRACE's augmenters), a shared GCN encoder
    ``in -> 2 * out_channels -> out_channels``, SwAV's projection head (linear, batch norm, ReLU,
    linear), and
    :class:`~graphcl.losses.SwappedPrototypeLoss` over ``K = num_clusters`` prototypes:

    .. math::
        \mathcal L = -\frac{1}{2N} \sum_i \big( q^{(2)}_i \cdot \log p^{(1)}_i
        + q^{(1)}_i \cdot \log p^{(2)}_i \big), \quad
        p^{(v)}_i = \mathrm{softmax}(\bar z^{(v)}_i C^\top / \tau)

    with the codes :math:`q^{(v)} = \mathrm{sinkhorn}(\bar z^{(v)} C^\top)` balancing the nodes over
    the prototypes (every node of the graph is one batch). :meth:`predict` is
    :math:`\arg\max_k \bar z_i \cdot \bar c_k` on the unaugmented graph; :meth:`embed` the encoder's
    output.

    Args:
        in_channels: feature size.
        num_clusters: K, the number of prototypes (the runner fills the number of classes).
        out_channels, projection_channels, num_layers, activation: encoder and projection head.
        drop_edge_1, drop_edge_2, drop_feature_1, drop_feature_2: the views' rates.
        tau, epsilon, sinkhorn_iterations: SwAV's temperature, Sinkhorn entropy and iterations.
        encoder, augmenters, projector: parts given as objects, as in :class:`~graphcl.methods.GRACE`.
    """

    def __init__(self, in_channels: int, num_clusters: int = 2, out_channels: int = 128,
                 projection_channels: int = 128, num_layers: int = 2, activation: str = "prelu",
                 drop_edge_1: float = 0.2, drop_edge_2: float = 0.4, drop_feature_1: float = 0.3,
                 drop_feature_2: float = 0.4, tau: float = 0.1, epsilon: float = 0.05, sinkhorn_iterations: int = 3,
                 *, encoder: nn.Module | None = None, augmenters: tuple[BaseTransform, BaseTransform] | None = None,
                 projector: nn.Module | None = None) -> None:
        super().__init__()
        check_module(self.name, "encoder", encoder, "GNNEncoder(in_channels, 256, 128)")
        check_module(self.name, "projector", projector, "ProjectionHead(128, 128)")
        check_transforms(self.name, "augmenters", augmenters, 2,
                         "(Compose([DropEdge(0.2), MaskFeature(0.3)]), Compose([DropEdge(0.4), MaskFeature(0.4)]))")
        if num_clusters < 2:
            raise InvalidArgumentError(f"swav needs num_clusters >= 2 prototypes, got {num_clusters}")
        self.num_clusters = num_clusters
        self.encoder = encoder if encoder is not None else GNNEncoder(in_channels, 2 * out_channels, out_channels,
                                                                      num_layers, act=activation)
        d = getattr(self.encoder, "out_channels", out_channels)
        # SwAV's head: Linear - BatchNorm - ReLU - Linear (the batch norm spreads the first views' codes)
        self.projector = projector if projector is not None else MLP([d, projection_channels, d], act="relu",
                                                                     norm="batch_norm")
        self.criterion = SwappedPrototypeLoss(d, num_clusters, tau, epsilon, sinkhorn_iterations)
        if augmenters is None:
            augmenters = (Compose([DropEdge(drop_edge_1), MaskFeature(drop_feature_1)]),
                          Compose([DropEdge(drop_edge_2), MaskFeature(drop_feature_2)]))
        self.view_1, self.view_2 = augmenters

    def setup(self, data: Data) -> None:
        check_graph(data)
        if data.num_nodes < 2:
            raise InvalidGraphError(f"swav balances nodes over prototypes: it needs at least 2 nodes, got "
                                    f"{data.num_nodes}")
        check_num_clusters(self.num_clusters, data.num_nodes)
        self.last_assignment, self.assignment_change = None, None

    def _project(self, data: Data) -> Tensor:
        x = float_features(data.x, parameter_dtype(self))
        return self.projector(self.encoder(x, data.edge_index, data.get("edge_weight")))

    def loss(self, data: Data) -> Tensor:
        z1, z2 = self._project(self.view_1(data)), self._project(self.view_2(data))
        with torch.no_grad():  # the first view's soft assignment, for the training loop's observers
            q = torch.softmax(self.criterion.scores(z1) / self.criterion.tau, dim=1)
        if self.last_assignment is not None:
            self.assignment_change = float((q.argmax(1) != self.last_assignment.argmax(1)).float().mean())
        self.last_assignment = q
        return self.criterion(z1, z2)

    @torch.no_grad()
    def embed(self, data: Data) -> Tensor:
        return encoder_embeddings(self, self.encoder, data)

    @torch.no_grad()
    def predict(self, data: Data) -> Tensor:
        """The prototype of every node on the unaugmented graph, ``[N]``."""
        with eval_mode(self):
            return self.criterion.assign(self._project(data))
