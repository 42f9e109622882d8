r"""GraphCL: graph-level contrast between augmented views of small graphs.

You et al., "Graph Contrastive Learning with Augmentations", NeurIPS 2020 (official code:
Shen-Lab/GraphCL, ``unsupervised_TU``). Each step takes a mini-batch of graphs, makes two views
(by default the graphs themselves and, per graph, one of node dropping, edge perturbation,
subgraph and attribute masking at ratio ``aug_ratio``, as the official ``random4``; with
``augment_both`` both views are augmented), embeds them with :class:`~graphcl.encoders.GINGraphEncoder`
and a projection head, and minimises :class:`~graphcl.losses.GraphNTXent`. The embedding of a
graph for evaluation is the encoder's pooled output (no head), in eval mode.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Dataset
from torch_geometric.loader import DataLoader
from torch_geometric.transforms import BaseTransform

from graphcl.augment.graph import DropNodes, GrowSubgraph, MaskNodeFeatures, PerGraphChoice, PerturbEdges, _check_batch
from graphcl.encoders import GINGraphEncoder, ShortcutMLP
from graphcl.errors import InvalidArgumentError, InvalidGraphError
from graphcl.losses import GraphNTXent, LocalGlobalJSD
from graphcl.methods._parts import check_module, check_transforms
from graphcl.methods.base import Method, register_method

__all__ = ["GraphBatchMethod", "GraphCL", "InfoGraph"]

#: Names of the per-graph augmentations (GraphCL's).
_AUGMENTATIONS = {"drop_nodes": DropNodes, "perturb_edges": PerturbEdges, "subgraph": GrowSubgraph,
                  "mask_features": MaskNodeFeatures}


def _finite_features(batch: Batch) -> Batch:
    """``batch`` (checked where the loader made it, before any move to the GPU), or raise if a
    graph's node features hold NaN or Inf."""
    x = batch.x
    if x is not None and x.is_floating_point() and not bool(torch.isfinite(x).all()):
        graphs = batch.batch[~torch.isfinite(x).all(1)].unique().numel()
        raise InvalidGraphError(f"the node features x of {graphs} graph(s) of a mini-batch hold NaN or Inf; impute or "
                                "drop those values (e.g. torch.nan_to_num) before training")
    return batch


class GraphBatchMethod(Method):
    """Shared machinery of the graph-level methods: mini-batches of whole graphs from a dataset
    (``batch_size`` per step, shuffled each epoch, every graph every epoch; a last batch of a single
    graph is dropped), and graph embeddings ``[num_graphs, d]`` from ``self.encoder``
    (``encoder(x, edge_index, batch, num_graphs) -> (node embeddings, graph embeddings)``)."""

    task = "graph"
    encoder: nn.Module
    batch_size: int

    def setup(self, dataset: Dataset) -> None:
        if len(dataset) < 2:
            raise InvalidGraphError(f"{self.name} contrasts graphs within a batch: it needs at least 2 graphs, got "
                                    f"{len(dataset)}")
        first = dataset[0]
        if first.x is None:
            raise InvalidGraphError("the graphs have no node features x; add degree features "
                                    "(torch_geometric.transforms.OneHotDegree) or a constant (Constant) first")
        if first.x.dim() != 2 or first.x.size(1) == 0:
            raise InvalidGraphError(f"the graphs' node features x have shape {tuple(first.x.shape)}: they need "
                                    "[num_nodes, F] with F >= 1; add degree features "
                                    "(torch_geometric.transforms.OneHotDegree) or a constant (Constant)")
        # every graph in every epoch, as the official codes; a last batch of one graph is dropped (a
        # contrast within the batch and batch norm need two)
        self._loader = DataLoader(dataset, batch_size=self.batch_size, shuffle=True,
                                  drop_last=len(dataset) % self.batch_size == 1)

    def start_epoch(self, dataset: Dataset) -> int:
        if getattr(self, "_loader", None) is None:
            raise InvalidArgumentError(f"{self.name}: call setup(dataset) (the training loop does) before training")
        self._batches = iter(self._loader)
        return len(self._loader)

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def _next_batch(self) -> Batch:
        return _check_batch(_finite_features(next(self._batches)).to(self._device()), self.name)

    def _graph_embeddings(self, batch: Batch) -> Tensor:
        _, graphs = self.encoder(batch.x.float(), batch.edge_index, batch.batch, batch.num_graphs)
        return graphs

    @torch.no_grad()
    def embed(self, dataset: Dataset) -> Tensor:
        """Graph embeddings ``[num_graphs, d]`` in the dataset's order (the encoder's pooled output, eval mode)."""
        was_training = self.training
        self.eval()
        out = [self._graph_embeddings(_finite_features(b).to(self._device())).cpu()
               for b in DataLoader(dataset, batch_size=max(self.batch_size, 256), shuffle=False)]
        self.train(was_training)
        return torch.cat(out)


@register_method("graphcl")
class GraphCL(GraphBatchMethod):
    r"""GraphCL on a dataset of graphs (see the module docstring).

    Args:
        in_channels: node feature size.
        hidden_channels: GIN width (32).
        num_layers: GIN layers (3); graph embeddings have ``hidden_channels * num_layers`` entries.
        aug_ratio: fraction of nodes / edges each augmentation touches (0.2).
        augmentations: names among ``drop_nodes``, ``perturb_edges``, ``subgraph`` and ``mask_features``, one
            drawn per graph.
        augment_both: augment both views (else the first view is the graph itself, as the official code).
        tau: temperature (0.2).
        batch_size: graphs per step (128).
        encoder: a graph encoder ``encoder(x, edge_index, batch, num_graphs) -> (node embeddings,
            graph embeddings [num_graphs, d])`` with an ``out_channels`` attribute ``d`` (e.g.
            :class:`~graphcl.encoders.GINGraphEncoder`), instead of the one built from
            ``hidden_channels`` and ``num_layers``.
        augmenters: the per-graph augmentations as objects instead of ``augmentations`` and
            ``aug_ratio``: a sequence of them (e.g. ``[DropNodes(0.1), GrowSubgraph(0.3)]``), one
            drawn per graph (:class:`~graphcl.augment.PerGraphChoice`), or a single transform
            applied to every mini-batch as it is.
        projector: the projection head ``[B, d] -> [B, d']`` instead of the default
            ``Linear - ReLU - Linear`` of width ``d``.
        loss: the contrast of the two views' projections, ``loss(z1, z2)``, instead of
            :class:`~graphcl.losses.GraphNTXent` at ``tau``.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 32, num_layers: int = 3, aug_ratio: float = 0.2,
                 augmentations: Sequence[str] = ("drop_nodes", "perturb_edges", "subgraph", "mask_features"),
                 augment_both: bool = False, tau: float = 0.2, batch_size: int = 128, *,
                 encoder: nn.Module | None = None, augmenters: BaseTransform | Sequence[BaseTransform] | None = None,
                 projector: nn.Module | None = None, loss: nn.Module | None = None) -> None:
        super().__init__()
        check_module(self.name, "encoder", encoder, "GINGraphEncoder(in_channels, 32, 3)")
        check_module(self.name, "projector", projector, "nn.Linear(96, 96)")
        check_module(self.name, "loss", loss, "GraphNTXent(0.5)")
        if augmenters is None:
            unknown = [a for a in augmentations if a not in _AUGMENTATIONS]
            if unknown or not augmentations:
                raise InvalidArgumentError(f"augmentations must be a non-empty list from {sorted(_AUGMENTATIONS)}, "
                                           f"got {list(augmentations)}")
        elif not isinstance(augmenters, BaseTransform):
            check_transforms(self.name, "augmenters", augmenters, None, "[DropNodes(0.2), GrowSubgraph(0.2)]")
        if encoder is None:
            encoder = GINGraphEncoder(in_channels, hidden_channels, num_layers)
        self.encoder = encoder
        if projector is None:
            d = self.encoder.out_channels
            projector = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d))
        self.head = projector
        if augmenters is None:
            augmenters = [_AUGMENTATIONS[a](aug_ratio) for a in augmentations]
        self.augment = augmenters if isinstance(augmenters, BaseTransform) else PerGraphChoice(augmenters)
        self.augment_both, self.batch_size = augment_both, batch_size
        self.criterion = loss if loss is not None else GraphNTXent(tau)
        self._loader: DataLoader | None = None
        self._batches = None

    def loss(self, dataset: Dataset) -> Tensor:
        batch = self._next_batch()
        first = self.augment(batch) if self.augment_both else batch
        z1 = self.head(self._graph_embeddings(first))
        z2 = self.head(self._graph_embeddings(self.augment(batch)))
        return self.criterion(z1, z2)


@register_method("infograph")
class InfoGraph(GraphBatchMethod):
    r"""InfoGraph: Sun et al., "InfoGraph: Unsupervised and Semi-supervised Graph-Level
    Representation Learning via Mutual Information Maximization", ICLR 2020.

    A GIN encoder (:class:`~graphcl.encoders.GINGraphEncoder`: every layer's node embeddings
    concatenated, sum-pooled per graph) gives node ("local") and graph ("global") embeddings; a
    discriminator head for each (:class:`~graphcl.encoders.ShortcutMLP`) maps them to scores whose
    Jensen-Shannon estimate of the local-global mutual information is maximised, each node's own
    graph the positive and the batch's other graphs the negatives
    (:class:`~graphcl.losses.LocalGlobalJSD`). The official unsupervised code's settings: 32
    channels, 20 epochs, batch 128, lr 0.001, no prior term. The graph embedding for evaluation is
    the encoder's pooled output.

    Args:
        in_channels: node feature size.
        hidden_channels, num_layers: GIN width and depth (graph embeddings of ``hidden_channels *
            num_layers`` entries; the official README's command uses 3 layers).
        batch_size: graphs per step.
        encoder: replaces the GIN encoder (as :class:`GraphCL`'s ``encoder``).
        loss: ``loss(local, global, batch)`` instead of :class:`~graphcl.losses.LocalGlobalJSD`.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 32, num_layers: int = 3, batch_size: int = 128, *,
                 encoder: nn.Module | None = None, loss: nn.Module | None = None) -> None:
        super().__init__()
        check_module(self.name, "encoder", encoder, "GINGraphEncoder(in_channels, 32, 3)")
        check_module(self.name, "loss", loss, "LocalGlobalJSD()")
        self.encoder = encoder if encoder is not None else GINGraphEncoder(in_channels, hidden_channels, num_layers)
        d = self.encoder.out_channels
        self.local_head, self.global_head = ShortcutMLP(d), ShortcutMLP(d)
        self.criterion = loss if loss is not None else LocalGlobalJSD()
        self.batch_size = batch_size
        self._loader: DataLoader | None = None

    def loss(self, dataset: Dataset) -> Tensor:
        batch = self._next_batch()
        nodes, graphs = self.encoder(batch.x.float(), batch.edge_index, batch.batch, batch.num_graphs)
        return self.criterion(self.local_head(nodes), self.global_head(graphs), batch.batch)
