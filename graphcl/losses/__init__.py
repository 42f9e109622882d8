"""Losses: one small ``nn.Module`` (or function) per loss, each with its formula in the docstring:
contrastive losses, deep clustering objectives, and BPR with its negative sampler for recommenders."""
from graphcl.losses.chunked import ChunkWorkspace, auto_chunk_size, chunked_logsumexp, two_view_logsumexp
from graphcl.losses.cluster import (ClusteringKL, MetaNodeContrast, NeighbourContrast, ProtoNCE, SwappedPrototypeLoss,
                                    meta_nodes, prototype_concentration, sinkhorn_knopp, student_t_assignment,
                                    target_distribution)
from graphcl.losses.compactness import NodeCompactness, leaky_relu_relaxation
from graphcl.losses.decorrelation import BarlowTwinsLoss, BootstrapCosine, CCASSGLoss
from graphcl.losses.graph import GraphNTXent, LocalGlobalJSD
from graphcl.losses.node import (DCL, DCLW, HardMixingInfoNCE, IndividualTemperatureInfoNCE, InfoNCE,
                               LearnedTemperatureInfoNCE, LearnedWeightInfoNCE,
                               MultiPositiveInfoNCE, von_mises_fisher_weights)
from graphcl.losses.positives import PositivePairs, log_positive_mass
from graphcl.losses.reconstruction import ScaledCosineError
from graphcl.losses.recommendation import NegativeSampler, bpr_loss
from graphcl.losses.weighting import ClusterDisagreement, LearnedPairWeights, NegativeWeights

__all__ = ["InfoNCE", "DCL", "DCLW", "von_mises_fisher_weights", "chunked_logsumexp", "two_view_logsumexp", "auto_chunk_size", "ChunkWorkspace",
           "ClusteringKL", "NeighbourContrast", "MetaNodeContrast", "student_t_assignment", "target_distribution",
           "PositivePairs", "log_positive_mass", "meta_nodes", "NegativeWeights", "ClusterDisagreement",
           "ProtoNCE", "prototype_concentration",
           "LearnedPairWeights", "LearnedWeightInfoNCE", "MultiPositiveInfoNCE", "GraphNTXent",
           "bpr_loss", "NegativeSampler", "CCASSGLoss", "BarlowTwinsLoss", "BootstrapCosine",
           "ScaledCosineError", "LocalGlobalJSD", "HardMixingInfoNCE",
           "SwappedPrototypeLoss", "sinkhorn_knopp", "IndividualTemperatureInfoNCE",
           "LearnedTemperatureInfoNCE", "NodeCompactness", "leaky_relu_relaxation"]
