"""Encoders: ``forward(x, edge_index, edge_weight=None) -> [N, d]``, plus projection heads."""
from graphcl.encoders.gnn import CONVOLUTIONS, GNNEncoder, MLPEncoder, ProjectionHead

__all__ = ["GNNEncoder", "MLPEncoder", "ProjectionHead", "CONVOLUTIONS"]
