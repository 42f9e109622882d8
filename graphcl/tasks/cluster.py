"""Deep clustering: methods that predict clusters themselves (SCGC, SCGC*, PamC), scored honestly.

Selection modes of one training, each a group of metrics (ACC, NMI, ARI, macro-F1):

* ``acc`` ... (``cluster``): k-means on the final embeddings; ``q_acc`` ...: the method's own final
  clusters (:meth:`~graphcl.methods.ClusteringMethod.predict`, ``argmax q``); ``pretrained_acc`` ...:
  k-means on the pretrained encoder before training, where the method has one;
* ``stopped_acc`` ... (``stopped``): DEC's label-free stopping rule, the first epoch at which fewer
  than :data:`STOP_TOL` of the nodes change cluster (the final epoch when that never happens);
* ``oracle_acc`` ... (``oracle``, flagged wherever shown): the epoch with the best *test* ACC, the
  protocol SCGC, PamC, SDCN, DCRN and HSAN report; own clusters are scored every epoch (``argmax q``
  before that epoch's update, as the official code does).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data

from graphcl.checks import check_labels
from graphcl.eval.clustering import score_clusters
from graphcl.methods.base import ClusteringMethod, Method
from graphcl.tasks.base import Evaluation, Monitor, register_task
from graphcl.tasks.node import CLUSTER_METRICS, NodeTask, _Curve, _oracle_scores, number_of_classes
from graphcl.train import TrainResult

__all__ = ["ClusterTask", "STOP_TOL"]

#: DEC's stopping tolerance: the fraction of nodes whose cluster changes between two epochs.
STOP_TOL = 0.001


class _AssignmentCurve:
    """Epoch monitor of a clustering method: its own clusters of every epoch scored against the labels
    (for the flagged oracle) and the first epoch at which fewer than :data:`STOP_TOL` of the nodes
    changed cluster (DEC's label-free rule)."""

    def __init__(self, model: ClusteringMethod, data: Data) -> None:
        self.model = model
        self.y = data.y.cpu().numpy()
        self.curve: _Curve = []
        self.stop_epoch: int | None = None

    def __call__(self, epoch: int, loss: float) -> bool:
        # Q of this epoch's forward pass, i.e. before its update (the official protocol)
        self.curve.append((epoch - 1, score_clusters(self.y, self.model.last_assignment.argmax(1).cpu().numpy())))
        change = self.model.assignment_change
        if self.stop_epoch is None and change is not None and change < STOP_TOL:
            self.stop_epoch = epoch - 1
        return False


@register_task
class ClusterTask(NodeTask):
    """Deep clustering methods (:class:`~graphcl.methods.ClusteringMethod`): everything
    :class:`NodeTask` evaluates, plus the method's own clusters, DEC's stopping rule and the flagged
    oracle (see the module docstring). ``num_clusters`` defaults to the number of classes. Restarts
    are kept by the modularity of the method's own final partition."""

    name = "cluster"
    evaluations = {**NodeTask.evaluations,
                   "cluster": (*CLUSTER_METRICS, *(f"q_{m}" for m in CLUSTER_METRICS)),
                   "stopped": tuple(f"stopped_{m}" for m in CLUSTER_METRICS)}
    default_evals = ("cluster",)

    def fill_params(self, method: type[Method], params: dict[str, Any], data: Data) -> dict[str, Any]:
        if "num_clusters" not in params:
            params = {**params, "num_clusters": number_of_classes(data)}
        return params

    def monitor(self, model: ClusteringMethod, data: Data, settings, seed: int,
                evals: Sequence[str]) -> Monitor | None:
        if "oracle" not in evals and "stopped" not in evals:
            return None
        check_labels(data.get("y"), data.num_nodes)
        return _AssignmentCurve(model, data)

    def partition(self, model: ClusteringMethod, data: Data, seed: int) -> Tensor:
        """The method's own clusters ``[N]``."""
        return model.predict(data).cpu()

    def evaluate_clusters(self, model: ClusteringMethod, data: Data, embeddings: Tensor, seed: int,
                          evals: Sequence[str], monitor: _AssignmentCurve | None, result: TrainResult,
                          evaluation: Evaluation) -> None:
        super().evaluate_clusters(model, data, embeddings, seed, [e for e in evals if e != "oracle"], monitor,
                                  result, evaluation)
        y = data.y.cpu().numpy()
        own = self.partition(model, data, seed).numpy()
        scores = score_clusters(y, own)
        evaluation.metrics.update({f"q_{m}": v for m, v in scores.items()})
        evaluation.arrays["predicted"] = own
        if model.initial_clusters is not None:
            evaluation.metrics.update({f"pretrained_{m}": v for m, v in
                                       score_clusters(y, model.initial_clusters.cpu().numpy()).items()})
        if model.restart_modularity:
            evaluation.extra["pretrain_modularity"] = {str(s): round(q, 5) for s, q in model.restart_modularity.items()}
        if monitor is None:
            return
        curve = monitor.curve + [(result.epochs, scores)]
        if "stopped" in evals:
            stop = monitor.stop_epoch if monitor.stop_epoch is not None else result.epochs
            stopped = next(s for epoch, s in curve if epoch == stop)
            evaluation.metrics.update({f"stopped_{m}": v for m, v in stopped.items()})
            evaluation.extra["stop_epoch"] = stop
        if "oracle" in evals:
            _oracle_scores(curve, evaluation)
