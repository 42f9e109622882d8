"""Encoders: ``forward(x, edge_index, edge_weight=None) -> [N, d]``, plus projection heads, SDCN's
autoencoder, graph-level, meta-path (heterogeneous) and LightGCN encoders."""
from graphcl.encoders.autoencoder import SDCNAutoencoder, pretrain_autoencoder, pretrained_autoencoder
from graphcl.encoders.gnn import CONVOLUTIONS, GATEncoder, GNNEncoder, MLPEncoder, ProjectionHead, gcn_propagation
from graphcl.encoders.graph import GINGraphEncoder, ShortcutMLP
from graphcl.encoders.hetero import OneHotLinear, SemanticAttention, StandardizedGCN
from graphcl.encoders.lightgcn import LightGCNPropagation, normalized_operator
from graphcl.encoders.propagation import SparseInput, SparseOperator

__all__ = ["GNNEncoder", "GATEncoder", "MLPEncoder", "ProjectionHead", "CONVOLUTIONS", "SDCNAutoencoder", "pretrain_autoencoder",
           "pretrained_autoencoder", "SemanticAttention", "StandardizedGCN", "OneHotLinear", "GINGraphEncoder", "ShortcutMLP",
           "LightGCNPropagation", "normalized_operator", "gcn_propagation", "SparseOperator", "SparseInput"]
