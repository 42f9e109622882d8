"""Node embeddings of a homogeneous graph: linear probe and k-means clustering of the frozen embeddings."""
from __future__ import annotations

import copy
import logging
from typing import Any, Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData
from torch_geometric.transforms import NormalizeFeatures

from graphcl.augment.spectral import LowPassFeatures
from graphcl.augment.structure import StructuralFeatures
from graphcl.checks import check_features, check_homogeneous, check_labels
from graphcl.clustering import kmeans, modularity
from graphcl.configs import RunSettings
from graphcl.errors import InvalidArgumentError, InvalidGraphError
from graphcl.eval.classification import node_classification
from graphcl.eval.clustering import score_clusters
from graphcl.eval.collapse import direction_concentration
from graphcl.methods.base import Method
from graphcl.tasks.base import Evaluation, Monitor, Task, register_task
from graphcl.train import TrainResult

__all__ = ["NodeTask", "number_of_classes", "kmeans_partition"]

log = logging.getLogger(__name__)

CLUSTER_METRICS = ("acc", "nmi", "ari", "f1")
#: ``(epoch, scores)`` of the flagged oracle mode's candidates.
_Curve = list[tuple[int, dict[str, float]]]


def number_of_classes(data: Data) -> int:
    """K for clustering: ``data.num_classes`` if set, else the number of distinct labels."""
    k = data.get("num_classes")
    if k is None:
        y = data.get("y")
        if y is None:
            raise InvalidArgumentError("the graph has no labels to take the number of clusters from; "
                                       "pass it with --set num_clusters=K")
        k = int(torch.unique(y[y >= 0]).numel())
    return int(k)


def kmeans_partition(embeddings: Tensor, data: Data, seed: int, n_init: int = 10) -> Tensor:
    """k-means clusters ``[N]`` of every node's embedding, one cluster per class."""
    return torch.as_tensor(kmeans(embeddings.cpu(), number_of_classes(data), n_init=n_init, seed=seed))


class _ClusteringCurve:
    """Epoch monitor of the ``oracle`` evaluation for embedding methods: every ``every`` epochs,
    k-means (3 restarts) on the current embeddings scored against the labels. The scores are only
    ever used by the flagged oracle mode."""

    def __init__(self, model: Method, data: Data, seed: int, every: int) -> None:
        self.model, self.data, self.seed, self.every = model, data, seed, every
        self.y = data.y.cpu().numpy()
        self.curve: _Curve = []

    def __call__(self, epoch: int, loss: float) -> bool:
        if epoch % self.every == 0:
            z = self.model.embed(self.data).cpu()
            self.curve.append((epoch, score_clusters(self.y, kmeans_partition(z, self.data, self.seed, n_init=3))))
        return False


def _oracle_scores(curve: _Curve, evaluation: Evaluation) -> None:
    """The flagged oracle: the scores of the epoch on ``curve`` with the best *test* ACC."""
    epoch, best = max(curve, key=lambda item: item[1]["acc"])
    evaluation.metrics.update({f"oracle_{m}": v for m, v in best.items()})
    evaluation.extra.update(oracle_epoch=epoch, acc_curve=[round(s["acc"], 5) for _, s in curve])


@register_task
class NodeTask(Task):
    """Homogeneous node embeddings (GRACE, GCA, ...).

    Evaluations: ``node``, the linear probe of :func:`~graphcl.eval.node_classification` on the
    ``split`` run setting (test accuracy, micro-/macro-F1 at the best validation accuracy);
    ``cluster``, k-means with one cluster per class on every node's embedding, scored on the
    labelled nodes (ACC, NMI, ARI, macro-F1); ``oracle`` (flagged), the k-means scores of the epoch
    with the best test ACC among every 10th epoch and the last, the protocol of published deep
    clustering numbers. Restarts (``train_restarts``) are kept by the modularity of the final
    partition, a label-free score.
    """

    name = "node"
    evaluations = {"node": ("accuracy", "micro_f1", "macro_f1"), "cluster": CLUSTER_METRICS,
                   "oracle": tuple(f"oracle_{m}" for m in CLUSTER_METRICS)}
    default_evals = ("node",)
    restartable = True
    #: The ``oracle`` evaluation's k-means interval (epochs).
    oracle_every = 10

    def check_data(self, method: str, data: Any) -> None:
        if not isinstance(data, (Data, HeteroData)):
            from graphcl.methods import method_names

            hint = f"; for a set of graphs use {method}-graph" if f"{method}-graph" in method_names() else ""
            raise InvalidGraphError(f"{method} trains on one graph (a PyG Data, e.g. --dataset cora), got "
                                    f"{type(data).__name__}{hint}")
        check_homogeneous(data)
        if data.get("x") is not None:  # without features: structural ones (prepare)
            check_features(data.x)  # before NormalizeFeatures spreads one NaN over every row

    def prepare(self, data: Data, settings: RunSettings) -> Data:
        if data.get("x") is not None and not data.x.is_floating_point():  # integer / boolean features
            data = copy.copy(data)
            data.x = data.x.float()
        if settings.normalize_features and data.get("x") is not None:
            data = NormalizeFeatures()(data)
        if settings.smooth_features and data.get("x") is not None:
            data = LowPassFeatures(settings.smooth_features)(data)
        if settings.structural_features != "none":
            data = StructuralFeatures(settings.structural_features)(data)
        return data

    def adapt_settings(self, method: str, settings: RunSettings, data: Data) -> RunSettings:
        """A graph without node features gets structural ones (``degree+lappe``) unless a kind is set."""
        if data.get("x") is None and settings.structural_features == "none":
            log.warning("%s has no node features: %s uses structural ones (degree+lappe; --set "
                        "structural_features=... to choose)", data.get("name", "the graph"), method)
            return settings.replace(structural_features="degree+lappe")
        return settings

    def monitor(self, model: Method, data: Data, settings: RunSettings, seed: int,
                evals: Sequence[str]) -> Monitor | None:
        if "oracle" not in evals:
            return None
        check_labels(data.get("y"), data.num_nodes)
        return _ClusteringCurve(model, data, seed, self.oracle_every)

    def partition(self, model: Method, data: Data, seed: int) -> Tensor:
        """The trained model's clusters ``[N]``: k-means on its embeddings."""
        return kmeans_partition(model.embed(data), data, seed)

    def restart_score(self, model: Method, data: Data, seed: int) -> float:
        return modularity(data.edge_index, self.partition(model, data, seed), data.num_nodes)

    def evaluate(self, model: Method, data: Data, settings: RunSettings, seed: int, evals: Sequence[str],
                 monitor: Monitor | None, result: TrainResult) -> Evaluation:
        embeddings = model.embed(data).cpu()
        evaluation = Evaluation(extra={"direction_concentration": direction_concentration(embeddings)})
        if "node" in evals:
            evaluation.metrics.update(node_classification(embeddings, data.cpu(), split=settings.split, seed=seed,
                                                          lr=settings.eval_lr,
                                                          weight_decay=settings.eval_weight_decay))
        if set(evals) - {"node", "none"}:
            self.evaluate_clusters(model, data, embeddings, seed, evals, monitor, result, evaluation)
        return evaluation

    def evaluate_clusters(self, model: Method, data: Data, embeddings: Tensor, seed: int, evals: Sequence[str],
                          monitor: Monitor | None, result: TrainResult, evaluation: Evaluation) -> None:
        """k-means on the final embeddings (and the oracle over the monitor's curve)."""
        predicted = kmeans_partition(embeddings, data, seed)
        scores = score_clusters(data.y.cpu().numpy(), predicted.numpy())
        evaluation.metrics.update(scores)
        evaluation.arrays.update(embeddings=embeddings.numpy(), predicted=predicted.numpy())
        if "oracle" in evals:
            _oracle_scores(monitor.curve + [(result.epochs, scores)], evaluation)

    def describe(self, method: str, dataset: str, config: dict[str, Any], evals: Sequence[str]) -> str:
        label = f"{method} on {dataset}"
        return label + (f" ({config['split']} split)" if "node" in evals and "split" in config else "")
