"""Evaluation harnesses: plain functions from embeddings and labels to metric dicts (node
classification, clustering, collapse, graph classification, full-ranking recommendation)."""
from graphcl.eval.classification import Split, heco_protocol, linear_probe, node_classification, public_split, random_split
from graphcl.eval.collapse import direction_concentration, is_collapsed
from graphcl.eval.clustering import (best_label_mapping, cluster_accuracy, clustering_metrics, evaluate_clustering,
                                     kmeans, modularity, score_clusters)
from graphcl.eval.graph_classification import graph_classification
from graphcl.eval.recommendation import PairIndex, evaluate_ranking, ranking_metrics, top_k_items

__all__ = ["heco_protocol", "linear_probe", "node_classification", "public_split", "random_split", "best_label_mapping",
           "cluster_accuracy", "clustering_metrics", "evaluate_clustering", "kmeans", "modularity", "score_clusters",
           "direction_concentration", "is_collapsed", "Split", "graph_classification", "PairIndex", "top_k_items",
           "ranking_metrics", "evaluate_ranking"]
