r"""MEOW: heterogeneous graph contrast between a coarse view and meta-path-context views, with
negatives weighted by how often several k-means clusterings separate them.

Yu & Li, "Heterogeneous Graph Contrastive Learning with Meta-path Contexts and Weighted Negative
Samples" (MEOW), SDM 2023; Yu et al., TKDE 2024 (AdaMEOW). One training step:

1. Type-wise projections :math:`h_t = \mathrm{ELU}(\mathrm{drop}(W_t x_t))` (a learned table for
   node types without features, i.e. a linear layer on one-hot inputs, as HeCo and MEOW use).
2. Fine-grained views, per meta-path :math:`p` with contexts :math:`j` (its intermediate positions,
   :func:`graphcl.augment.metapath_contexts`):
   :math:`v_p = \mathrm{ELU}(h_{\mathrm{target}} + \sum_j \mathrm{drop}(U_{pj}\, \mathrm{mean}_{c \in C_j(i)} h_c))`,
   and the same on the target's masked features; a shared two-layer GCN embeds each over the
   meta-path adjacency (PathSim top-k neighbours, path counts, symmetric normalisation) and over
   an edge-masked copy; :class:`~graphcl.encoders.SemanticAttention` combines the ``2P`` normalised
   embeddings into :math:`z`, projected to :math:`u = \mathrm{norm}(\tanh(P z))`.
3. The coarse view: the same GCN on :math:`h_{\mathrm{target}}` over the mean of the normalised
   meta-path adjacencies, projected to :math:`a`.
4. k-means on :math:`u` at each granularity in ``cluster_counts`` gives the weights
   :math:`w_{ij}` (:class:`~graphcl.losses.ClusterDisagreement`) and prototypes, and

.. math::
    \mathcal L = -\frac1N \sum_i \log \frac{e^{a_i^\top u_i / \tau}}{\sum_j w_{ij} e^{a_i^\top u_j / \tau}}
    + \lambda_{\mathrm{proto}}\, \mathrm{ProtoNCE}(a; \text{prototypes of } u)

The embedding used for evaluation is :math:`z` of the target nodes, computed in eval mode.

AdaMEOW (:class:`AdaMEOW`) keeps the views and replaces step 4 and the loss by learned weights,
:math:`\mathcal L = -\frac1N \sum_i \log \big( e^{u_i^\top a_i/\tau} / \sum_j \sigma(\mathrm{MLP}(u_i + a_j))\,
e^{u_i^\top a_j/\tau} \big)`.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.utils import add_self_loops, mask_feature

from graphcl.augment import (drop_edge_mask, metapath_adjacency, metapath_contexts, metapath_positives, pathsim,
                             top_k_per_node)
from graphcl.checks import check_features, float_features, parameter_dtype
from graphcl.clustering import fit_kmeans
from graphcl.encoders import OneHotLinear, SemanticAttention, SparseOperator, StandardizedGCN
from graphcl.errors import InvalidArgumentError, InvalidGraphError
from graphcl.losses import (ClusterDisagreement, InfoNCE, LearnedWeightInfoNCE, MultiPositiveInfoNCE, PositivePairs,
                            ProtoNCE, prototype_concentration)
from graphcl.methods._parts import check_module
from graphcl.methods.base import Method, register_method


class MetaPathContextContrast(Method):
    r"""What MEOW and AdaMEOW share: type projections, meta-path-context views and their edge- and
    feature-masked copies, the shared GCN, semantic attention, the coarse view and the projection
    head (see the module docstring). Subclasses define :meth:`loss` on ``(z, anchor)``.

    Args:
        in_channels: unused (the node types' feature sizes are read from the graph in ``setup``).
        metapaths: meta-paths from the target type back to it, as node-type lists.
        hidden_channels: size of the type projections (64).
        out_channels: size of the embeddings (64).
        projection_channels: output size of the projection head (default ``out_channels``).
        feat_mask: fraction of the target features' non-zero entries zeroed for the masked views.
        adj_mask: per meta-path (or one for all), fraction of non-self edges dropped for its
            masked view.
        nei_max: per meta-path (or one for all), PathSim top-k neighbours kept (``None``: all).
        dropout: dropout of the projections, aggregations, GCN layers and the semantic attention
            vector (the official code uses the one rate for all four).
        encoder: the shared meta-path GCN as an object, ``encoder(h [N, hidden_channels], operator)
            -> [N, out_channels]`` with ``operator`` a normalised meta-path
            :class:`~graphcl.encoders.SparseOperator`, instead of the
            :class:`~graphcl.encoders.StandardizedGCN` built from the sizes and ``dropout``.
    """

    task = "hetero"

    def __init__(self, in_channels: int | dict | None = None, metapaths: Sequence[Sequence[str]] = (),
                 hidden_channels: int = 64, out_channels: int = 64, projection_channels: int | None = None,
                 feat_mask: float = 0.3, adj_mask: Sequence[float] | float = 0.3,
                 nei_max: Sequence[int] | int | None = None, dropout: float = 0.2, *,
                 encoder: nn.Module | None = None) -> None:
        super().__init__()
        check_module(self.name, "encoder", encoder, "StandardizedGCN(64, 64, 64)")
        if not metapaths:
            raise InvalidArgumentError(f"{self.name or 'this method'} needs `metapaths` (node-type lists from the target "
                                       "type back to it), e.g. --set 'metapaths=[[paper, author, paper]]'")
        self.metapaths = [list(p) for p in metapaths]
        count = len(self.metapaths)
        self.adj_mask = [float(adj_mask)] * count if isinstance(adj_mask, (int, float)) else list(adj_mask)
        self.nei_max = ([nei_max] * count if nei_max is None or isinstance(nei_max, int) else list(nei_max))
        if len(self.adj_mask) != count or len(self.nei_max) != count:
            raise InvalidArgumentError(f"adj_mask and nei_max need one value per meta-path ({count})")
        if not all(0 <= m < 1 for m in [*self.adj_mask, feat_mask]):
            raise InvalidArgumentError("feat_mask and adj_mask must be fractions in [0, 1)")
        self.hidden_channels, self.out_channels, self.feat_mask = hidden_channels, out_channels, feat_mask
        self.projection_channels = projection_channels or out_channels
        self.encoder = encoder if encoder is not None else StandardizedGCN(hidden_channels, out_channels,
                                                                           out_channels, dropout)
        self.attention = SemanticAttention(out_channels, dropout)
        self.project = nn.Linear(out_channels, self.projection_channels)
        self.dropout = nn.Dropout(dropout)
        self.type_projection = nn.ModuleDict()  # built in setup: one per node type
        self.context_projection = nn.ModuleList()
        self._graph: dict | None = None

    def _check_target(self, num_nodes: int, target: str) -> None:
        """Subclass hook: size checks against the number of target nodes."""

    # ------------------------------------------------------------------ preparation
    def setup(self, data: HeteroData) -> None:
        """Meta-path adjacencies (top-k by PathSim, normalised), their edge-masked copies, contexts,
        the masked target features and the type projections, all fixed for the run."""
        if not isinstance(data, HeteroData):
            raise InvalidGraphError(f"{self.name} needs a heterogeneous graph (HeteroData), e.g. --dataset heco-acm")
        target = data.get("target_node_type")
        if target is None:
            raise InvalidGraphError("the graph does not name its target node type (data.target_node_type)")
        n = data[target].num_nodes
        if not n:
            raise InvalidGraphError(f"the target node type {target!r} has no nodes, or their number cannot be told "
                                    f"without features: set data[{target!r}].num_nodes")
        self._check_target(n, target)
        device = next((store.edge_index.device for store in data.edge_stores if "edge_index" in store), None)
        if device is None:
            raise InvalidGraphError("the graph has no relations (no edge type with an edge_index); meta-paths need "
                                    "them")
        views, masked, contexts = [], [], []
        for p, path in enumerate(self.metapaths):
            if path[0] != target or path[-1] != target:
                raise InvalidArgumentError(f"meta-path {'-'.join(path)} must start and end at the target type {target!r}")
            index, count = metapath_adjacency(data, path)
            if self.nei_max[p] is not None:
                keep = top_k_per_node(index, pathsim(index, count, n), n, self.nei_max[p])
                index, count = index[:, keep], count[keep]
            views.append(StandardizedGCN.propagation_matrix(index, count.float(), n))
            kept = index[:, drop_edge_mask(index, self.adj_mask[p]) & (index[0] != index[1])]
            m_index = add_self_loops(kept, num_nodes=n)[0]  # every node keeps its own loop, weight 1
            masked.append(StandardizedGCN.propagation_matrix(m_index, torch.ones(m_index.size(1), device=device), n))
            contexts.append([(t, SparseOperator.row_mean(incidence, (n, data[t].num_nodes)))
                             for t, incidence in metapath_contexts(data, path)])
        coarse = SparseOperator.average(views)
        types = {target} | {t for ctx in contexts for t, _ in ctx}
        for t in sorted(types):
            if "x" in data[t]:
                check_features(data[t].x, f"data[{t!r}].x")
                if data[t].x.size(0) != data[t].num_nodes:
                    raise InvalidGraphError(f"data[{t!r}].x has {data[t].x.size(0)} rows for {data[t].num_nodes} "
                                            f"{t} nodes")
        if "x" in data[target]:  # MaskHeteroFeature's entry-wise masking
            x_masked, _ = mask_feature(self._features(data, target), p=self.feat_mask, mode="all")
        else:  # one-hot features: the one non-zero entry of a fraction of the rows
            x_masked = torch.rand(n, device=device) < self.feat_mask
        self._graph = {"target": target, "views": views, "masked": masked, "contexts": contexts,
                       "coarse": coarse, "x_masked": x_masked}
        if not self.type_projection:
            for t in sorted(types):
                self.type_projection[t] = (nn.Linear(data[t].x.size(1), self.hidden_channels) if "x" in data[t]
                                           else OneHotLinear(data[t].num_nodes, self.hidden_channels))
            self.context_projection.extend(nn.Linear(self.hidden_channels, self.hidden_channels, bias=False)
                                           for ctx in contexts for _ in ctx)
            self.type_projection.to(device)
            self.context_projection.to(device)

    def _project(self, data: HeteroData, node_type: str, masked: Tensor | None = None) -> Tensor:
        r""":math:`\mathrm{ELU}(\mathrm{drop}(W_t x_t))`; ``masked``: the masked features (a row mask
        for one-hot types)."""
        layer = self.type_projection[node_type]
        if isinstance(layer, OneHotLinear):
            h = layer(masked)
        else:
            h = layer(self._features(data, node_type) if masked is None else masked)
        return F.elu(self.dropout(h))

    def _features(self, data: HeteroData, node_type: str) -> Tensor:
        """The features of ``node_type`` as the model's dtype (integer / float64 features converted)."""
        return float_features(data[node_type].x, parameter_dtype(self))

    def _views(self, data: HeteroData) -> tuple[Tensor, Tensor]:
        """``(z [N, d], coarse anchor a [N, d])`` of the current parameters."""
        if self._graph is None:
            raise InvalidArgumentError(f"{self.name}: call setup(data) (the training loop does) before loss() or embed()")
        g = self._graph
        h_target = self._project(data, g["target"])
        h_masked = self._project(data, g["target"], g["x_masked"])
        cache: dict[str, Tensor] = {}
        embeddings, position = [], 0
        for operator, masked_operator, context in zip(g["views"], g["masked"], g["contexts"]):
            aggregated = 0
            for node_type, mean_operator in context:
                if node_type not in cache:
                    cache[node_type] = self._project(data, node_type)
                mean = mean_operator @ cache[node_type]
                aggregated = aggregated + self.dropout(self.context_projection[position](mean))
                position += 1
            embeddings.append(F.normalize(self.encoder(F.elu(h_target + aggregated), operator), dim=1))
            embeddings.append(F.normalize(self.encoder(F.elu(h_masked + aggregated), masked_operator), dim=1))
        z, _ = self.attention(torch.stack(embeddings))
        anchor = self.encoder(h_target, g["coarse"])
        return z, anchor

    def _head(self, z: Tensor) -> Tensor:
        return F.normalize(torch.tanh(self.project(z)), dim=1)

    # ------------------------------------------------------------------ interface
    @torch.no_grad()
    def embed(self, data: HeteroData) -> Tensor:
        was_training = self.training
        self.eval()
        z, _ = self._views(data)
        self.train(was_training)
        return z.detach()


@register_method("meow")
class MEOW(MetaPathContextContrast):
    r"""MEOW: the coarse view's projection :math:`a` against the fine view's :math:`u`, negatives
    weighted by :class:`~graphcl.losses.ClusterDisagreement` of k-means on :math:`u` at every
    granularity in ``cluster_counts``, plus ``lam_proto`` times ProtoNCE on those clusterings.

    Args:
        tau: temperature of the weighted InfoNCE (also the mean prototype concentration).
        cluster_counts: k-means granularities, the number of clusters of each clustering (one
            clustering each, re-run every step).
        lam_proto: weight of ProtoNCE.
        kmeans_init: k-means restarts per clustering (official: faiss ``nredo`` 5).
        kmeans_iter: Lloyd iterations per restart (official: faiss ``niter`` 20); seeding by
            random data points, as faiss.
        kmeans_metric: ``"euclidean"`` (k-means proper) or ``"inner_product"`` (assignment by
            largest inner product with unnormalised centroids: the official faiss ``IndexFlatIP``).
        concentration: ``"pcl"`` (PCL's distance-based prototype temperatures) or ``"meow"`` (the
            official code's similarity-based ones, see :func:`~graphcl.losses.prototype_concentration`).
        loss: the weighted contrast as an object, called as ``loss(a, u, weights)`` with the
            cluster-disagreement :class:`~graphcl.losses.NegativeWeights` (e.g.
            ``InfoNCE(0.5, intra_view_negatives=False, symmetric=False)``), instead of the one built
            from ``tau``; ``tau`` still sets the prototypes' concentration.
        **kwargs: see :class:`MetaPathContextContrast`.
    """

    def __init__(self, in_channels: int | dict | None = None, tau: float = 0.4,
                 cluster_counts: Sequence[int] = (100, 300), lam_proto: float = 1.0, kmeans_init: int = 5,
                 kmeans_iter: int = 20, kmeans_metric: str = "euclidean", concentration: str = "pcl", *,
                 loss: nn.Module | None = None, **kwargs) -> None:
        super().__init__(in_channels, **kwargs)
        check_module(self.name, "loss", loss, "InfoNCE(0.5, intra_view_negatives=False, symmetric=False)")
        if kmeans_metric not in ("euclidean", "inner_product") or concentration not in ("pcl", "meow"):
            raise InvalidArgumentError("kmeans_metric must be 'euclidean' or 'inner_product' and concentration 'pcl' "
                                       f"or 'meow', got {kmeans_metric!r} and {concentration!r}")
        self.tau = float(tau)
        self.cluster_counts, self.lam_proto = [int(k) for k in cluster_counts], lam_proto
        self.kmeans_init, self.kmeans_iter = kmeans_init, kmeans_iter
        self.kmeans_metric, self.concentration = kmeans_metric, concentration
        self.contrast = loss if loss is not None else InfoNCE(tau, intra_view_negatives=False, symmetric=False)
        self.proto = ProtoNCE()

    def _check_target(self, num_nodes: int, target: str) -> None:
        if max(self.cluster_counts) > num_nodes:
            raise InvalidArgumentError(f"cluster_counts {self.cluster_counts} exceeds the {num_nodes} {target} nodes")

    def loss(self, data: HeteroData) -> Tensor:
        z, anchor = self._views(data)
        u, a = self._head(z), self._head(anchor)
        clusterings, labels = [], []
        for seed, k in enumerate(self.cluster_counts):
            result = fit_kmeans(u.detach(), k, n_init=self.kmeans_init, seed=seed, init="random",
                                max_iter=self.kmeans_iter, metric=self.kmeans_metric)
            phi = prototype_concentration(u.detach(), result.labels, result.centroids, self.tau,
                                          alpha=5.0 if self.concentration == "meow" else 10.0, form=self.concentration)
            clusterings.append((result.labels, F.normalize(result.centroids, dim=1), phi))
            labels.append(result.labels)
        weights = ClusterDisagreement(torch.stack(labels))
        return self.contrast(a, u, weights) + self.lam_proto * self.proto(a, clusterings)


@register_method("adameow")
class AdaMEOW(MetaPathContextContrast):
    r"""AdaMEOW: the fine view's projection :math:`u` (anchors) against the coarse view's
    :math:`a`, every denominator term weighted by a learned
    :math:`w_{ij} = \sigma(\mathrm{MLP}(u_i + a_j))` (:class:`~graphcl.losses.LearnedWeightInfoNCE`,
    chunked: no ``[N^2, d]`` tensor). No k-means, no prototypes.

    Args:
        tau: temperature.
        weight_hidden: width of the weight MLP (official: 16).
        loss: the contrast as an object, called as ``loss(u, a)`` (e.g.
            ``LearnedWeightInfoNCE(projection_channels, tau=0.5)``), instead of the one built from
            ``tau`` and ``weight_hidden``.
        **kwargs: see :class:`MetaPathContextContrast` (official aminer: ``projection_channels`` 16).
    """

    def __init__(self, in_channels: int | dict | None = None, tau: float = 0.9, weight_hidden: int = 16, *,
                 loss: nn.Module | None = None, **kwargs) -> None:
        super().__init__(in_channels, **kwargs)
        check_module(self.name, "loss", loss, "LearnedWeightInfoNCE(64, tau=0.5)")
        self.contrast = (loss if loss is not None
                         else LearnedWeightInfoNCE(self.projection_channels, tau=tau, hidden=weight_hidden))

    def loss(self, data: HeteroData) -> Tensor:
        z, anchor = self._views(data)
        return self.contrast(self._head(z), self._head(anchor))


@register_method("heco-style")
class HeCoStyle(MetaPathContextContrast):
    r"""The HeCo baseline in MEOW's framework: the same coarse and fine views, contrasted with HeCo's
    multi-positive loss (:class:`~graphcl.losses.MultiPositiveInfoNCE`, positives: each node and its
    strongest meta-path neighbours, :func:`graphcl.augment.metapath_positives`) instead of weighted
    negatives. Not HeCo's own network-schema encoder.

    Args:
        tau: temperature.
        lam: weight of the coarse-to-fine direction (HeCo's :math:`\lambda`).
        num_positives: positives per node (HeCo's ``pos_num``).
        dropout: as in :class:`MetaPathContextContrast` (HeCo's acm setting: 0.3).
        loss: the contrast as an object, called as ``loss(a, u, positives)`` with the
            :class:`~graphcl.losses.PositivePairs` (e.g. ``MultiPositiveInfoNCE(0.5, 0.5)``), instead
            of the one built from ``tau`` and ``lam``.
        **kwargs: see :class:`MetaPathContextContrast`.
    """

    def __init__(self, in_channels: int | dict | None = None, tau: float = 0.8, lam: float = 0.5,
                 num_positives: int = 5, dropout: float = 0.3, *, loss: nn.Module | None = None,
                 **kwargs) -> None:
        super().__init__(in_channels, dropout=dropout, **kwargs)
        check_module(self.name, "loss", loss, "MultiPositiveInfoNCE(0.5, 0.5)")
        self.contrast = loss if loss is not None else MultiPositiveInfoNCE(tau, lam)
        self.num_positives = num_positives
        #: Each target node's positives (:class:`~graphcl.losses.PositivePairs`), built by :meth:`setup`.
        self.positives: PositivePairs | None = None

    def setup(self, data: HeteroData) -> None:
        super().setup(data)
        index = metapath_positives(data, self.metapaths, self.num_positives)
        self.positives = PositivePairs.from_coo(index, torch.ones(index.size(1), device=index.device),
                                                data[data.target_node_type].num_nodes)

    def loss(self, data: HeteroData) -> Tensor:
        z, anchor = self._views(data)
        return self.contrast(self._head(anchor), self._head(z), self.positives)
