"""Encoders: ``forward(x, edge_index, edge_weight=None) -> [N, d]``, plus projection heads."""
from graphcl.encoders.autoencoder import SDCNAutoencoder, pretrain_autoencoder, pretrained_autoencoder
from graphcl.encoders.gnn import CONVOLUTIONS, GNNEncoder, MLPEncoder, ProjectionHead
from graphcl.encoders.graph import GINGraphEncoder
from graphcl.encoders.hetero import MetaPathEncoder, SemanticAttention

__all__ = ["GNNEncoder", "MLPEncoder", "ProjectionHead", "CONVOLUTIONS", "SDCNAutoencoder", "pretrain_autoencoder",
           "pretrained_autoencoder", "MetaPathEncoder", "SemanticAttention", "GINGraphEncoder"]
