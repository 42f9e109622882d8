"""Evaluation harnesses: plain functions from embeddings and labels to metric dicts."""
from graphcl.eval.classification import heco_protocol, linear_probe, node_classification, public_split, random_split
from graphcl.eval.collapse import direction_concentration, is_collapsed
from graphcl.eval.clustering import (best_label_mapping, cluster_accuracy, clustering_metrics, evaluate_clustering,
                                     kmeans, modularity, score_clusters)

__all__ = ["heco_protocol", "linear_probe", "node_classification", "public_split", "random_split", "best_label_mapping",
           "cluster_accuracy", "clustering_metrics", "evaluate_clustering", "kmeans", "modularity", "score_clusters",
           "direction_concentration", "is_collapsed"]
