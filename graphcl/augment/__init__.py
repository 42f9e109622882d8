"""Graph augmenters (views): PyG ``BaseTransform`` subclasses mapping ``Data -> Data``.

None of them mutates its input; randomness comes from torch's generator, so ``torch.manual_seed``
reproduces a view.

* edges: :class:`DropEdge`, :class:`AddEdge`, :class:`AdaptiveDropEdge` (GCA)
* features: :class:`MaskFeature`, :class:`DropoutFeature`, :class:`GaussianNoise`,
  :class:`AdaptiveMaskFeature` (GCA)
* nodes: :class:`DropNode`, :class:`RandomWalkSubgraph` (GraphCL)
* structure: :class:`StructuralPositives`, :func:`adjacency_power` (SCGC / PamC positives)
* heterogeneous graphs (a meta-path is a :data:`MetaPath`): :class:`MetaPathAdjacency`,
  :func:`metapath_adjacency`, :func:`pathsim`, :func:`top_k_per_node`, :func:`metapath_contexts`,
  :class:`MetaPathWalkFeatures` (metapath2vec features) (:mod:`graphcl.augment.metapath`);
  :class:`DropHeteroEdge`, :class:`MaskHeteroFeature` (:mod:`graphcl.augment.hetero`)
* spectral: :class:`SVDView`, :func:`svd_operator`, :class:`LowRankOperator` (LightGCL),
  :class:`LowPassFeatures` (Laplacian smoothing of the features, AGE / SGC)
* graph batches (per-graph draws, GraphCL): :class:`DropNodes`, :class:`PerturbEdges`,
  :class:`MaskNodeFeatures`, :class:`GrowSubgraph`, :class:`PerGraphChoice`
* composition: :class:`Compose` (PyG's), :class:`RandomChoice`
* centralities for the adaptive augmenters: :func:`degree_centrality`, :func:`pagerank`,
  :func:`eigenvector_centrality`, the accepted names :data:`CENTRALITIES`
  (:mod:`graphcl.augment.centrality`)
"""
from __future__ import annotations

from graphcl.augment.centrality import CENTRALITIES, degree_centrality, eigenvector_centrality, pagerank
from graphcl.augment.compose import Compose, RandomChoice
from graphcl.augment.edge import AdaptiveDropEdge, AddEdge, DropEdge
from graphcl.augment.feature import AdaptiveMaskFeature, DropoutFeature, GaussianNoise, MaskFeature
from graphcl.augment.graph import DropNodes, GrowSubgraph, MaskNodeFeatures, PerGraphChoice, PerturbEdges
from graphcl.augment.hetero import DropHeteroEdge, MaskHeteroFeature, drop_edge_mask
from graphcl.augment.metapath import (MetaPath, MetaPathAdjacency, MetaPathWalkFeatures, metapath_adjacency,
                                      metapath_contexts, metapath_positives, pathsim, resolve_metapath, top_k_per_node)
from graphcl.augment.node import DropNode, RandomWalkSubgraph, random_walk
from graphcl.augment.spectral import (LowPassFeatures, LowRankOperator, SVDView, normalized_adjacency,
                                      normalized_biadjacency, ppr_diffusion, svd_operator)
from graphcl.augment.structure import (StructuralFeatures, StructuralPositives, adjacency_power,
                                       row_normalized_adjacency)

__all__ = [
    "ppr_diffusion",
    "DropEdge",
    "AddEdge",
    "AdaptiveDropEdge",
    "MaskFeature",
    "DropoutFeature",
    "GaussianNoise",
    "AdaptiveMaskFeature",
    "DropNode",
    "RandomWalkSubgraph",
    "Compose",
    "RandomChoice",
    "degree_centrality",
    "pagerank",
    "eigenvector_centrality",
    "CENTRALITIES",
    "random_walk",
    "StructuralPositives",
    "adjacency_power",
    "row_normalized_adjacency",
    "DropHeteroEdge",
    "MaskHeteroFeature",
    "drop_edge_mask",
    "MetaPath",
    "MetaPathAdjacency",
    "MetaPathWalkFeatures",
    "metapath_adjacency",
    "metapath_contexts",
    "metapath_positives",
    "pathsim",
    "resolve_metapath",
    "top_k_per_node",
    "SVDView",
    "LowPassFeatures",
    "StructuralFeatures",
    "svd_operator",
    "LowRankOperator",
    "normalized_adjacency",
    "normalized_biadjacency",
    "DropNodes",
    "PerturbEdges",
    "MaskNodeFeatures",
    "GrowSubgraph",
    "PerGraphChoice",
]
