"""Sets of small graphs: the unsupervised TU protocol on frozen graph embeddings."""
from __future__ import annotations

import time
from typing import Any, Sequence

import torch
from torch_geometric.data import Dataset

from graphcl.configs import RunSettings
from graphcl.errors import InvalidArgumentError, InvalidGraphError
from graphcl.eval.graph_classification import graph_classification
from graphcl.methods.base import Method
from graphcl.tasks.base import Evaluation, Monitor, Task, register_task
from graphcl.train import TrainResult

__all__ = ["GraphTask"]


@register_task
class GraphTask(Task):
    """Graph-level methods (GraphCL) on a dataset of graphs.

    Evaluation ``graph`` (the default; ``node`` is accepted as a synonym so that ``graphcl train``'s
    default works): :func:`~graphcl.eval.graph_classification.graph_classification`, 10-fold
    cross-validation of an SVM and of logistic regression on the final model's graph embeddings,
    ``C`` chosen by inner CV on the training folds -> ``svm_accuracy``, ``logreg_accuracy`` and
    their std over the folds; the record adds ``eval_seconds``.
    """

    name = "graph"
    evaluations = {"graph": ("svm_accuracy", "logreg_accuracy"), "node": ("svm_accuracy", "logreg_accuracy")}
    default_evals = ("graph",)

    def check_data(self, method: str, data: Any) -> None:
        if not isinstance(data, Dataset):
            raise InvalidGraphError(f"{method} trains on a dataset of graphs (e.g. --dataset mutag), got "
                                    f"{type(data).__name__}")

    def check_settings(self, method: str, settings: RunSettings) -> None:
        super().check_settings(method, settings)
        if settings.normalize_features or settings.smooth_features:
            raise InvalidArgumentError("normalize_features / smooth_features are for single graphs; transform the "
                                       "dataset (e.g. dataset.transform = NormalizeFeatures()) instead")

    def evaluate(self, model: Method, data: Dataset, settings: RunSettings, seed: int, evals: Sequence[str],
                 monitor: Monitor | None, result: TrainResult) -> Evaluation:
        if "none" in evals and len(evals) == 1:
            return Evaluation()
        start = time.perf_counter()
        labels = torch.cat([g.y.view(-1) for g in data])
        metrics = graph_classification(model.embed(data), labels, seed=seed, n_jobs=settings.eval_jobs)
        return Evaluation(metrics=metrics, extra={"eval_seconds": time.perf_counter() - start})

    def table_metrics(self, evals: Sequence[str], metrics: dict[str, float]) -> list[str]:
        return [m for m in self.evaluations["graph"] if m in metrics]
