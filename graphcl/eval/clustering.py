"""Clustering evaluation: k-means on embeddings; ACC (Hungarian), NMI, ARI and macro-F1.

k-means and modularity live in :mod:`graphcl.clustering` (training uses them too); they are
re-exported here for the evaluation's users.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, f1_score, normalized_mutual_info_score

from graphcl.clustering import kmeans, modularity
from graphcl.errors import InvalidArgumentError

__all__ = ["best_label_mapping", "cluster_accuracy", "clustering_metrics", "score_clusters", "evaluate_clustering",
           "kmeans", "modularity"]


def _as_labels(a, name: str) -> np.ndarray:
    arr = np.asarray(a.detach().cpu() if hasattr(a, "detach") else a)
    if arr.ndim != 1:
        raise InvalidArgumentError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise InvalidArgumentError(f"{name} must hold integer cluster / class ids")
    return arr.astype(np.int64)  # always a copy: callers' arrays are never modified


def best_label_mapping(y_true, y_pred) -> dict[int, int]:
    """The one-to-one map from predicted clusters to classes maximising agreement (Hungarian)."""
    y_true, y_pred = _as_labels(y_true, "y_true"), _as_labels(y_pred, "y_pred")
    classes, clusters = np.unique(y_true), np.unique(y_pred)
    # contingency[c, k] = number of nodes of cluster c with class k
    contingency = np.zeros((clusters.size, classes.size), dtype=np.int64)
    np.add.at(contingency, (np.searchsorted(clusters, y_pred), np.searchsorted(classes, y_true)), 1)
    rows, cols = linear_sum_assignment(contingency, maximize=True)
    return {int(clusters[r]): int(classes[c]) for r, c in zip(rows, cols)}


def _matched_predictions(y_true, y_pred) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(y_true, y_pred, mapped)`` with ``mapped`` the predictions translated to classes by
    :func:`best_label_mapping` (-1 for clusters left without a class)."""
    y_true, y_pred = _as_labels(y_true, "y_true"), _as_labels(y_pred, "y_pred")
    if y_true.size != y_pred.size:
        raise InvalidArgumentError(f"y_true has {y_true.size} entries, y_pred {y_pred.size}")
    if y_true.size == 0:
        raise InvalidArgumentError("cannot score an empty clustering")
    mapping = best_label_mapping(y_true, y_pred)
    return y_true, y_pred, np.array([mapping.get(int(c), -1) for c in y_pred])


def cluster_accuracy(y_true, y_pred) -> float:
    """ACC: the fraction of nodes whose cluster, mapped to a class by the best one-to-one map, is right.

    .. math:: \\mathrm{ACC} = \\max_{m} \\frac{1}{N} \\sum_i \\mathbb{1}[y_i = m(c_i)]

    over one-to-one maps ``m`` (found with ``scipy.optimize.linear_sum_assignment``). Clusters
    left without a class (more clusters than classes) count as wrong.
    """
    y_true, _, mapped = _matched_predictions(y_true, y_pred)
    return float((mapped == y_true).mean())


def clustering_metrics(y_true, y_pred) -> dict[str, float]:
    """ACC, NMI (arithmetic), ARI and macro-F1 after the ACC matching; fractions in [0, 1]."""
    y_true, y_pred, mapped = _matched_predictions(y_true, y_pred)
    return {
        "acc": float((mapped == y_true).mean()),
        "nmi": float(normalized_mutual_info_score(y_true, y_pred)),
        "ari": float(adjusted_rand_score(y_true, y_pred)),
        "f1": float(f1_score(y_true, mapped, labels=np.unique(y_true), average="macro", zero_division=0)),
    }


def score_clusters(y, y_pred) -> dict[str, float]:
    """:func:`clustering_metrics` of predicted clusters on the labelled nodes (``y >= 0``) only."""
    y, y_pred = _as_labels(y, "y"), _as_labels(y_pred, "y_pred")
    labelled = y >= 0
    return clustering_metrics(y[labelled], y_pred[labelled])


def evaluate_clustering(embeddings, y, num_clusters: int | None = None, n_init: int = 10,
                        seed: int = 0) -> dict[str, float]:
    """k-means on ``embeddings`` with as many clusters as classes (unless given), scored against ``y``.

    Nodes with a negative label (unlabelled) are left out of clustering and scoring.
    """
    y = _as_labels(y, "y")
    labelled = y >= 0
    if not labelled.any():
        raise InvalidArgumentError("no labelled nodes to score the clustering against")
    x = np.asarray(embeddings.detach().cpu().float() if hasattr(embeddings, "detach") else embeddings)[labelled]
    k = num_clusters or int(np.unique(y[labelled]).size)
    return clustering_metrics(y[labelled], kmeans(x, k, n_init=n_init, seed=seed))
