"""GRACE and GCA: node-level contrast between two stochastically augmented views."""
from __future__ import annotations

import copy
import inspect
from typing import Iterator, Sequence

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform, Compose
from torch_geometric.utils import scatter

from graphcl.augment import AdaptiveDropEdge, AdaptiveMaskFeature, DropEdge, MaskFeature, SVDView
from graphcl.augment.compose import accepts_sparse_features
from graphcl.checks import check_graph, float_features, parameter_dtype
from graphcl.data.neighbors import NeighborBatches, check_sampling
from graphcl.distributed import is_distributed, rank, world_size
from graphcl.encoders import GNNEncoder, ProjectionHead
from graphcl.encoders.propagation import SparseFeatures
from graphcl.errors import InvalidArgumentError, InvalidGraphError
from graphcl.losses import (HardMixingInfoNCE, IndividualTemperatureInfoNCE, InfoNCE, LearnedTemperatureInfoNCE,
                             NodeCompactness)
from graphcl.losses.compactness import distinct_degree
from graphcl.methods._parts import check_module, check_transforms, encoder_embeddings
from graphcl.methods.base import Method, register_method


#: GCA's ``'rrelu'`` is ``F.rrelu`` called with its default ``training=False``: a leaky ReLU whose
#: negative slope is the mean of RReLU's bounds, (1/8 + 1/3) / 2, not a randomised one.
_RRELU_EVAL_SLOPE = (1 / 8 + 1 / 3) / 2


def _resolve_activation(name: str) -> str | nn.Module:
    """The encoder activation for a config name, with ``'rrelu'`` as GRACE / GCA evaluate it."""
    return nn.LeakyReLU(_RRELU_EVAL_SLOPE) if name == "rrelu" else name


def expected_edge_drops(view: BaseTransform, data: Data) -> Tensor:
    r"""The expected number of edges a view's edge augmenter drops at each node, ``[N]``: ``p``
    times the node's distinct neighbours for :class:`~graphcl.augment.DropEdge` (POT's GRACE),
    the sum of the drop probabilities of its edges for :class:`~graphcl.augment.AdaptiveDropEdge`
    (POT's GCA), zeros for a view that drops no edges."""
    drops = torch.zeros(data.num_nodes, device=data.edge_index.device)
    for part in getattr(view, "transforms", [view]):
        if isinstance(part, AdaptiveDropEdge):
            drops += scatter(part.drop_probability(data).to(drops), data.edge_index[1], 0, dim_size=data.num_nodes,
                             reduce="sum")
        elif isinstance(part, DropEdge):
            drops += part.p * distinct_degree(data.edge_index, data.num_nodes)
    return drops


def _infonce(tau: float, chunk_size: int | None, batch_size: int | None, hard_negatives: int, mixed_negatives: int,
             query_mixed_negatives: int, temperature_rho: float | None, learn_tau: bool) -> nn.Module:
    """GRACE's InfoNCE with at most one of its plugins (mini-batches of a torch.distributed group
    contrast every rank's seeds: graphcl.distributed)."""
    if hard_negatives < 0:
        raise InvalidArgumentError(f"hard_negatives must be >= 0 (0: no hard negative mixing), got {hard_negatives}")
    chosen = [name for name, on in (("hard_negatives", hard_negatives > 0), ("temperature_rho", temperature_rho is not None),
                                    ("learn_tau", learn_tau)) if on]
    if len(chosen) > 1:
        raise InvalidArgumentError(f"{' and '.join(chosen)} are alternatives: set one of them")
    if temperature_rho is not None:
        if batch_size is not None:
            raise InvalidArgumentError("temperature_rho (per-node temperatures) needs the whole graph every step: it "
                                       "does not combine with batch_size")
        return IndividualTemperatureInfoNCE(tau, rho=temperature_rho, chunk_size=chunk_size)
    if hard_negatives > 0:
        loss = HardMixingInfoNCE(tau, hard_negatives, mixed_negatives, query_mixed_negatives, chunk_size=chunk_size)
    elif learn_tau:
        loss = LearnedTemperatureInfoNCE(tau, chunk_size=chunk_size)
    else:
        loss = InfoNCE(tau, chunk_size=chunk_size)
    loss.gather_distributed = batch_size is not None
    return loss


@register_method("grace")
class GRACE(Method):
    r"""GRACE: Zhu et al., "Deep Graph Contrastive Representation Learning", ICML GRL+ 2020.

    Two views :math:`\tilde G_1, \tilde G_2` by edge dropping (rates ``drop_edge_1/2``) and feature
    column masking (``drop_feature_1/2``); a shared GCN encoder
    ``in -> 2 * out_channels -> out_channels`` with the activation after every layer; a projection
    head ``out_channels -> projection_channels -> out_channels`` (ELU); the symmetric InfoNCE of
    :class:`graphcl.losses.InfoNCE` with inter- and intra-view negatives at temperature ``tau``.
    Embeddings for evaluation are the encoder's outputs on the original graph.

    ``svd_rank`` = :math:`q` replaces the second view's graph by LightGCL's SVD view
    (:class:`graphcl.augment.SVDView`): the encoder propagates with the rank-:math:`q`
    approximation :math:`U_q S_q V_q^\top` of :math:`D^{-1/2}(A + I)D^{-1/2}` (computed once,
    applied as two thin products) instead of the edge-dropped graph, the features still masked
    with ``drop_feature_2`` (Cai et al., ICLR 2023, used here as a general view). GCN only.

    The parts can be given as objects instead of by their settings; each one given replaces the
    part built from the scalar settings, and those settings are then ignored:

    * ``encoder``: any ``encoder(x, edge_index, edge_weight) -> [N, d]`` module (e.g. a
      :class:`~graphcl.encoders.GNNEncoder` with GAT, an :class:`~graphcl.encoders.MLPEncoder`);
      replaces ``num_layers``, ``conv``, ``activation``; its ``out_channels`` attribute (else the
      ``out_channels`` argument) sizes the default projection head.
    * ``augmenters``: the pair of transforms ``(view 1, view 2)`` applied to the graph; replaces
      ``drop_edge_1/2`` and ``drop_feature_1/2`` (with ``svd_rank`` only the first is used).
    * ``projector``: the projection head, ``[N, d] -> [N, d']``; replaces ``projection_channels``.
    * ``loss``: the contrast of the two projected views, called as ``loss(z1, z2)`` (e.g.
      :class:`~graphcl.losses.DCL`, :class:`~graphcl.losses.DCLW`); replaces ``tau`` and ``chunk_size``.

    ``hard_negatives`` > 0 adds MoCHi's synthetic hard negatives to the InfoNCE denominator
    (:class:`~graphcl.losses.HardMixingInfoNCE`: ``mixed_negatives`` mixtures of two of the
    ``hard_negatives`` hardest negatives and ``query_mixed_negatives`` mixtures with the anchor,
    per anchor); ``--set hard_negatives=64`` from the command line. ``temperature_rho`` learns one
    temperature per node from ``tau`` by iSogCLR's rule with that :math:`\rho`
    (:class:`~graphcl.losses.IndividualTemperatureInfoNCE`; full-batch); ``learn_tau`` trains one
    temperature with the model (:class:`~graphcl.losses.LearnedTemperatureInfoNCE`). ``pot_kappa``
    = :math:`\kappa` > 0 adds POT's node compactness (:class:`~graphcl.losses.NodeCompactness`):
    :math:`(1 - \kappa) \mathcal L + \kappa \frac12 (\mathcal L_{POT}(\tilde G_1, h_2) +
    \mathcal L_{POT}(\tilde G_2, h_1))`, each view's graph bounded by its expected edge drops per
    node (full-batch, two-layer GCN; Yu et al., NeurIPS 2023).

    With ``batch_size`` set, an epoch is a pass over mini-batches instead of one full-graph step:
    each batch is the sampled computation graph of ``batch_size`` seed nodes (``num_neighbors``
    fan-outs per layer, default 10 per layer; :class:`~graphcl.data.neighbors.NeighborBatches`,
    PyG's ``NeighborLoader`` where it can run), both views augment that subgraph, and the contrast
    runs over the seeds' projections (in-batch negatives). ``num_negatives``: also draw that many
    nodes uniformly from the whole graph every step (a second sampled subgraph, encoded the same
    way) as extra negatives of every seed (``InfoNCE(..., anchors=batch_size)``); a drawn node may
    be one of the seeds. ``num_workers``: sampling processes (PyG's loader only).

    >>> from graphcl.losses import DCL
    >>> from graphcl.encoders import GNNEncoder
    >>> model = GRACE(16, encoder=GNNEncoder(16, 64, 32, conv="gat"), loss=DCL(tau=0.5))
    """

    def __init__(self, in_channels: int, out_channels: int = 128, projection_channels: int = 128,
                 num_layers: int = 2, conv: str = "gcn", activation: str = "relu", drop_edge_1: float = 0.2,
                 drop_edge_2: float = 0.4, drop_feature_1: float = 0.3, drop_feature_2: float = 0.4,
                 tau: float = 0.4, chunk_size: int | None = None, svd_rank: int | None = None,
                 batch_size: int | None = None, num_neighbors: Sequence[int] | None = None, num_workers: int = 0,
                 num_negatives: int | None = None, hard_negatives: int = 0, mixed_negatives: int = 16,
                 query_mixed_negatives: int = 8, temperature_rho: float | None = None, learn_tau: bool = False,
                 pot_kappa: float = 0.0, *,
                 encoder: nn.Module | None = None, augmenters: tuple[BaseTransform, BaseTransform] | None = None,
                 projector: nn.Module | None = None, loss: nn.Module | None = None) -> None:
        super().__init__()
        check_module(self.name, "encoder", encoder, "GNNEncoder(in_channels, 256, 128, conv='gat')")
        check_module(self.name, "projector", projector, "ProjectionHead(128, 128)")
        check_module(self.name, "loss", loss, "DCL(tau=0.5)")
        check_transforms(self.name, "augmenters", augmenters, 2,
                         "(Compose([DropEdge(0.2), MaskFeature(0.3)]), Compose([DropEdge(0.4), MaskFeature(0.4)]))")
        if svd_rank is not None:
            if encoder is None and conv != "gcn":
                raise InvalidArgumentError("svd_rank (the SVD view) needs conv='gcn'")
            if encoder is not None and not hasattr(encoder, "forward_operator"):
                raise InvalidArgumentError("svd_rank (the SVD view) needs an encoder with forward_operator "
                                           "(a GCN GNNEncoder)")
        self.svd_view = SVDView(svd_rank) if svd_rank is not None else None
        self.svd_features = MaskFeature(drop_feature_2)
        if encoder is None:
            encoder = GNNEncoder(in_channels, 2 * out_channels, out_channels, num_layers, conv=conv,
                                 act=_resolve_activation(activation))
        self.encoder = encoder
        if projector is None:
            d = getattr(encoder, "out_channels", out_channels)
            projector = ProjectionHead(d, projection_channels, d)
        self.projector = projector
        self.criterion = loss if loss is not None else _infonce(tau, chunk_size, batch_size, hard_negatives,
                                                                mixed_negatives, query_mixed_negatives,
                                                                temperature_rho, learn_tau)
        if loss is not None and (hard_negatives or temperature_rho is not None or learn_tau):
            raise InvalidArgumentError("hard_negatives, temperature_rho and learn_tau build the loss; with loss= pass "
                                       "that object instead")
        if augmenters is None:
            augmenters = self.make_views(drop_edge_1, drop_edge_2, drop_feature_1, drop_feature_2)
        self.view_1, self.view_2 = augmenters
        self.batch_size, self.num_workers, self.num_neighbors = batch_size, num_workers, None
        self._view_features = SparseFeatures()
        self._loader: NeighborBatches | None = None
        self._batches: Iterator[Data] | None = None
        if batch_size is not None:
            if svd_rank is not None:
                raise InvalidArgumentError("svd_rank (the SVD view of the whole graph) does not combine with "
                                           "batch_size (mini-batches of sampled subgraphs); drop one of them")
            layers = getattr(self.encoder, "num_layers", None)
            fanouts = list(num_neighbors) if num_neighbors is not None else [10] * (layers or num_layers)
            self.num_neighbors = check_sampling(fanouts, batch_size, layers)
        elif num_neighbors is not None:
            raise InvalidArgumentError("num_neighbors is the fan-out of mini-batch training: set batch_size too "
                                       "(e.g. --set batch_size=1024 num_neighbors=[10,10])")
        if not 0.0 <= pot_kappa < 1.0:
            raise InvalidArgumentError(f"pot_kappa is POT's weight in [0, 1) (0: off), got {pot_kappa}")
        self.pot_kappa = float(pot_kappa)
        self.compactness = NodeCompactness() if pot_kappa else None
        if self.compactness is not None:
            if batch_size is not None or svd_rank is not None:
                raise InvalidArgumentError("pot_kappa (POT's node compactness) bounds the whole graph's two edge-dropped "
                                           "views: it does not combine with batch_size or svd_rank")
            NodeCompactness.check_encoder(self.encoder)
        self.num_negatives = num_negatives
        self._negative_loader: NeighborBatches | None = None
        self._negative_batches: Iterator[Data] | None = None
        if num_negatives is not None:
            if batch_size is None:
                raise InvalidArgumentError("num_negatives (negatives from the whole graph) is an option of mini-batch "
                                           "training: set batch_size too (e.g. --set batch_size=1024 num_negatives=4096)")
            if isinstance(num_negatives, bool) or not isinstance(num_negatives, int) or num_negatives < 1:
                raise InvalidArgumentError(f"num_negatives must be a number of nodes >= 1, got {num_negatives!r}")
            if "anchors" not in inspect.signature(self.criterion.forward).parameters:
                raise InvalidArgumentError(f"num_negatives needs a loss that takes anchors= (InfoNCE); "
                                           f"{type(self.criterion).__name__} does not")

    def make_views(self, pe1: float, pe2: float, pf1: float, pf2: float) -> tuple[BaseTransform, BaseTransform]:
        """The two augmentation pipelines (edge dropping then feature masking)."""
        return (Compose([DropEdge(pe1), MaskFeature(pf1)]), Compose([DropEdge(pe2), MaskFeature(pf2)]))

    def setup(self, data: Data) -> None:
        check_graph(data)
        if data.num_nodes < 2 and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.modules()):
            raise InvalidGraphError(f"{self.name}'s encoder normalises every layer over the nodes (batch norm): it "
                                    f"needs at least 2 nodes, got {data.num_nodes}")
        if self.batch_size is not None:
            seed = int(torch.randint(0, 2 ** 31, (1,)))  # from the run's seeded stream
            seeds = None
            if is_distributed():  # an equal share of the nodes per rank (the remainder is left out)
                share = data.num_nodes // world_size()
                seeds = torch.arange(rank(), data.num_nodes, world_size())[:share]
            sparse = self.takes_sparse_features()
            self._loader = NeighborBatches(data, self.num_neighbors, self.batch_size, num_workers=self.num_workers,
                                           seed=seed, input_nodes=seeds, sparse_features=sparse)
            if self.num_negatives is not None:
                if self.num_negatives > data.num_nodes:
                    raise InvalidArgumentError(f"num_negatives {self.num_negatives} exceeds the graph's "
                                               f"{data.num_nodes} nodes")
                self._negative_loader = NeighborBatches(data, self.num_neighbors, self.num_negatives, seed=seed + 1,
                                                        sparse_features=sparse)
                self._negative_batches = iter(self._negative_loader)

    def takes_sparse_features(self) -> bool:
        """Whether the mini-batches may carry bag-of-words features as sparse COO tensors: the encoder
        and every augmenter of both views say they take them (``accepts_sparse_features``)."""
        return (bool(getattr(self.encoder, "accepts_sparse_features", False))
                and accepts_sparse_features(self.view_1) and accepts_sparse_features(self.view_2))

    def view_input(self, data: Data) -> Data:
        """The graph the full-batch views are drawn from: ``data`` itself, or a shallow copy whose ``x``
        is its sparse COO form where :meth:`takes_sparse_features` and the features are sparse enough
        (bag-of-words): the views' masks then touch only the stored entries and no view is a dense
        ``[N, F]`` copy. The sparse form is kept while the same ``x`` comes back unchanged."""
        x = data.get("x")
        if x is None or x.layout != torch.strided or not self.takes_sparse_features():
            return data
        sparse = self._view_features(x)
        if sparse is None:
            return data
        view = copy.copy(data)
        view.x = sparse
        return view

    def start_epoch(self, data: Data) -> int:
        if self._loader is None:
            return 1
        self._batches = iter(self._loader)
        return len(self._loader)

    def _next_batch(self, data: Data) -> Data:
        """The next sampled subgraph, on the model's device."""
        if self._batches is None:
            raise InvalidArgumentError(f"{self.name}: call setup(data) and start_epoch(data) (the training loop "
                                       "does) before a mini-batch loss()")
        batch = next(self._batches, None)
        if batch is None:  # more steps than batches: a new pass
            self._batches = iter(self._loader)
            batch = next(self._batches)
        return batch.to(data.edge_index.device)

    def _next_negatives(self, data: Data) -> Data:
        """The next sampled subgraph around ``num_negatives`` nodes of the whole graph (cycled)."""
        batch = next(self._negative_batches, None)
        if batch is None or batch.batch_size < self.num_negatives:  # a new pass, never a short draw
            self._negative_batches = iter(self._negative_loader)
            batch = next(self._negative_batches)
        return batch.to(data.edge_index.device)

    def _project_seeds(self, view: BaseTransform, batches: Sequence[Data]) -> Tensor:
        return self.projector(torch.cat([self.encode(view(b))[: b.batch_size] for b in batches]))

    def encode(self, data: Data) -> Tensor:
        x = float_features(data.x, parameter_dtype(self))  # integer / float64 features as the model's dtype
        return self.encoder(x, data.edge_index, data.get("edge_weight"))

    def loss(self, data: Data) -> Tensor:
        if self.batch_size is not None:  # the seeds come first in a sampled subgraph
            batches = [self._next_batch(data)]
            if self.num_negatives is not None:
                batches.append(self._next_negatives(data))
            z1, z2 = self._project_seeds(self.view_1, batches), self._project_seeds(self.view_2, batches)
            if self.num_negatives is None:
                return self.criterion(z1, z2)
            return self.criterion(z1, z2, anchors=batches[0].batch_size)
        if self.compactness is not None:
            return self._loss_with_compactness(data)
        data = self.view_input(data)
        z1 = self.projector(self.encode(self.view_1(data)))
        if self.svd_view is not None:
            operator = self.svd_view.factors(data.edge_index, data.num_nodes)
            x = float_features(self.svd_features(data).x, parameter_dtype(self))
            z2 = self.projector(self.encoder.forward_operator(x, operator))
        else:
            z2 = self.projector(self.encode(self.view_2(data)))
        return self.criterion(z1, z2)

    def _loss_with_compactness(self, data: Data) -> Tensor:
        views = self.view_1(data), self.view_2(data)
        h1, h2 = self.encode(views[0]), self.encode(views[1])
        contrast = self.criterion(self.projector(h1), self.projector(h2))
        x = float_features(data.x, parameter_dtype(self))
        compactness = self.compactness(self.encoder, x, data.edge_index,
                                       [(view.edge_index, other, expected_edge_drops(augmenter, data))
                                        for view, other, augmenter in zip(views, (h2, h1), (self.view_1, self.view_2))])
        return (1 - self.pot_kappa) * contrast + self.pot_kappa * compactness

    @torch.no_grad()
    def embed(self, data: Data) -> Tensor:
        """The encoder's embeddings of the whole graph ``[N, d]``, layer by layer where the encoder
        has a layer-wise ``inference`` (:meth:`graphcl.encoders.GNNEncoder.inference`)."""
        return encoder_embeddings(self, self.encoder, data)


@register_method("gca")
class GCA(GRACE):
    r"""GCA: Zhu et al., "Graph Contrastive Learning with Adaptive Augmentation", WWW 2021.

    GRACE with adaptive views: edges of low-centrality targets and features that are rare among
    central nodes are dropped more often (:class:`graphcl.augment.AdaptiveDropEdge`,
    :class:`graphcl.augment.AdaptiveMaskFeature`, probabilities capped at ``threshold``).
    ``drop_scheme`` is ``'degree'``, ``'pagerank'``, ``'evc'`` or ``'uniform'`` (plain GRACE views);
    ``dense_features`` uses :math:`|x|` instead of :math:`x \ne 0` for feature weights (WikiCS).

    ``encoder``, ``augmenters``, ``projector`` and ``loss`` objects replace the parts built from the
    settings, as in :class:`GRACE`; given ``augmenters`` (e.g. a pair of
    ``Compose([AdaptiveMaskFeature(...), AdaptiveDropEdge(...)])``), ``drop_scheme``, ``threshold``,
    ``dense_features`` and the drop rates are ignored.
    """

    def __init__(self, in_channels: int, out_channels: int = 256, projection_channels: int = 32,
                 num_layers: int = 2, conv: str = "gcn", activation: str = "prelu", drop_edge_1: float = 0.3,
                 drop_edge_2: float = 0.4, drop_feature_1: float = 0.1, drop_feature_2: float = 0.0,
                 tau: float = 0.4, drop_scheme: str = "degree", threshold: float = 0.7,
                 dense_features: bool = False, chunk_size: int | None = None, batch_size: int | None = None,
                 num_neighbors: Sequence[int] | None = None, num_workers: int = 0, num_negatives: int | None = None,
                 hard_negatives: int = 0, mixed_negatives: int = 16, query_mixed_negatives: int = 8,
                 temperature_rho: float | None = None, learn_tau: bool = False, pot_kappa: float = 0.0, *,
                 encoder: nn.Module | None = None, augmenters: tuple[BaseTransform, BaseTransform] | None = None,
                 projector: nn.Module | None = None, loss: nn.Module | None = None) -> None:
        if drop_scheme not in ("degree", "pagerank", "evc", "uniform"):
            raise InvalidArgumentError(f"drop_scheme must be degree, pagerank, evc or uniform, got {drop_scheme!r}")
        self.drop_scheme, self.threshold, self.dense_features = drop_scheme, threshold, dense_features
        super().__init__(in_channels, out_channels, projection_channels, num_layers, conv, activation,
                         drop_edge_1, drop_edge_2, drop_feature_1, drop_feature_2, tau, chunk_size,
                         batch_size=batch_size, num_neighbors=num_neighbors, num_workers=num_workers,
                         num_negatives=num_negatives, hard_negatives=hard_negatives, mixed_negatives=mixed_negatives,
                         query_mixed_negatives=query_mixed_negatives, temperature_rho=temperature_rho, learn_tau=learn_tau,
                         pot_kappa=pot_kappa, encoder=encoder, augmenters=augmenters, projector=projector, loss=loss)

    def setup(self, data: Data) -> None:
        """With mini-batches, the adaptive augmenters keep the whole graph's drop probabilities: a
        sampled subgraph is augmented by its edges' and features' probabilities in the whole graph."""
        super().setup(data)
        if self.batch_size is not None:
            for view in (self.view_1, self.view_2):
                for part in getattr(view, "transforms", [view]):
                    if hasattr(part, "fit"):
                        part.fit(data)

    def make_views(self, pe1: float, pe2: float, pf1: float, pf2: float) -> tuple[BaseTransform, BaseTransform]:
        if self.drop_scheme == "uniform":
            return super().make_views(pe1, pe2, pf1, pf2)

        def view(pe: float, pf: float) -> BaseTransform:
            # Features first: both augmenters score centrality on the original graph's edges.
            return Compose([
                AdaptiveMaskFeature(pf, centrality=self.drop_scheme, threshold=self.threshold,
                                    dense=self.dense_features),
                AdaptiveDropEdge(pe, centrality=self.drop_scheme, threshold=self.threshold),
            ])
        return view(pe1, pf1), view(pe2, pf2)
