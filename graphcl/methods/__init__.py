"""Methods: recipes composing augmenters, encoders and losses, registered by name."""
from graphcl.methods.base import (ClusteringMethod, Method, applicable_overrides, build_method, get_method_class,
                                 load_plugin, method_names, method_parameters, register_method)
from graphcl.methods.grace import GCA, GRACE
from graphcl.methods.decorrelation import BGRL, CCASSG, GraphBarlowTwins
from graphcl.methods.infomax import DGI, MVGRL
from graphcl.methods.masked import GraphMAE, GraphMAEGraphs
from graphcl.methods.graphcl_graph import GraphCL, InfoGraph
from graphcl.methods.lightgcl import BPRRecommender, LightGCL, LightGCN
from graphcl.methods.meow import MEOW, AdaMEOW, HeCoStyle, MetaPathContextContrast
from graphcl.methods.scgc import SCGC, DeepClustering, PamC, SCGCStar
from graphcl.methods.swav import SwAV

__all__ = ["Method", "ClusteringMethod", "load_plugin", "register_method", "build_method", "get_method_class", "method_names", "method_parameters",
           "applicable_overrides",
           "GRACE", "GCA", "DeepClustering", "SCGC", "SCGCStar", "PamC", "MetaPathContextContrast", "MEOW", "AdaMEOW", "HeCoStyle",
           "BPRRecommender", "LightGCN", "LightGCL", "GraphCL", "DGI", "CCASSG", "GraphBarlowTwins", "BGRL", "GraphMAE", "InfoGraph", "MVGRL", "SwAV", "GraphMAEGraphs"]
