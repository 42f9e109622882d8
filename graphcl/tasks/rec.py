"""User-item graphs: recommenders selected on validation Recall@20, tested by full ranking."""
from __future__ import annotations

import copy
import logging
import time
from typing import Any, Sequence

from torch_geometric.data import Data

from graphcl.configs import RunSettings
from graphcl.data.interactions import split_validation
from graphcl.errors import InvalidArgumentError, InvalidGraphError
from graphcl.eval.recommendation import evaluate_ranking
from graphcl.methods.base import Method
from graphcl.tasks.base import Evaluation, Task, register_task
from graphcl.train import TrainResult

__all__ = ["RecTask", "RankingValidator"]

log = logging.getLogger(__name__)


class RankingValidator:
    """Epoch monitor of a recommender: validation Recall@20 every ``eval_every`` epochs (and at the
    last, and at the first epoch past the ``time_budget``), the best weights kept; asks the training
    loop to stop after ``val_patience`` validations without improvement or when out of time."""

    def __init__(self, model: Method, data: Data, settings: RunSettings) -> None:
        self.model, self.data, self.settings = model, data, settings
        self.num_users = int(data.num_users)
        self.best, self.best_epoch, self.weights, self.since = -1.0, 0, None, 0
        self.curve: list[list[float]] = []
        self.eval_seconds, self.out_of_time = 0.0, False
        self.start = time.perf_counter()

    def __call__(self, epoch: int, loss: float) -> bool:
        budget = self.settings.time_budget
        self.out_of_time = budget is not None and time.perf_counter() - self.start >= budget
        if epoch % self.settings.eval_every and epoch != self.settings.epochs and not self.out_of_time:
            return False
        start = time.perf_counter()
        emb = self.model.embed(self.data)
        m = self.num_users
        recall = evaluate_ranking(emb[:m], emb[m:], self.data.val_pairs, [self.data.train_pairs], ks=(20,))["recall_20"]
        self.eval_seconds += time.perf_counter() - start
        self.curve.append([epoch, recall])
        log.info("%s epoch %d: loss %.4f, validation Recall@20 %.4f", self.model.name, epoch, loss, recall)
        if recall > self.best:
            self.best, self.best_epoch, self.weights, self.since = recall, epoch, copy.deepcopy(
                self.model.state_dict()), 0
        else:
            self.since += 1
        return self.since >= self.settings.val_patience or self.out_of_time


@register_task
class RecTask(Task):
    """Recommenders (LightGCN, LightGCL) on a bipartite interaction graph (:mod:`graphcl.data.interactions`).

    Run settings ``val_fraction``, ``eval_every``, ``val_patience`` and ``time_budget``: hold out
    ``val_fraction`` of every user's training interactions (seed 0: the same split for every seed
    and method), validate Recall@20 every ``eval_every`` epochs, stop after ``val_patience``
    validations without improvement or at the first epoch ending ``time_budget`` seconds after the
    seed's start, and restore the best model. Evaluation ``rank`` (``node`` is a synonym so that
    ``graphcl train``'s default works): test Recall / NDCG @20 / @40 ranking every item except the
    user's training and validation interactions; the test split is looked at only then.
    """

    name = "rec"
    evaluations = {"rank": ("recall_20", "ndcg_20", "recall_40", "ndcg_40", "val_recall_20"),
                   "node": ("recall_20", "ndcg_20", "recall_40", "ndcg_40", "val_recall_20")}
    default_evals = ("rank",)

    def check_data(self, method: str, data: Any) -> None:
        if not isinstance(data, Data) or "train_pairs" not in data:
            raise InvalidGraphError(f"{method} needs a user-item interaction graph (graphcl.data.interactions; "
                                    "e.g. --dataset gowalla or a folder with train.txt / test.txt)")

    def prepare(self, data: Data, settings: RunSettings) -> Data:
        if "val_pairs" not in data:
            data = split_validation(data, settings.val_fraction, seed=0)
        if data.val_pairs.size(1) == 0:
            raise InvalidGraphError(f"val_fraction {settings.val_fraction} holds out no interaction: floor("
                                    "val_fraction x n_u) is 0 for every user; raise val_fraction (--set "
                                    "val_fraction=0.3)")
        return data

    def check_settings(self, method: str, settings: RunSettings) -> None:
        super().check_settings(method, settings)
        if settings.normalize_features or settings.smooth_features:
            raise InvalidArgumentError("normalize_features / smooth_features need node features; recommenders "
                                       "learn their embeddings")

    def in_channels(self, data: Data) -> int:
        return 0

    def monitor(self, model: Method, data: Data, settings: RunSettings, seed: int,
                evals: Sequence[str]) -> RankingValidator:
        return RankingValidator(model, data, settings)

    def evaluate(self, model: Method, data: Data, settings: RunSettings, seed: int, evals: Sequence[str],
                 monitor: RankingValidator, result: TrainResult) -> Evaluation:
        if monitor.weights is None:  # fewer epochs than one validation: keep the final model
            monitor(settings.epochs, result.losses[-1] if result.losses else float("nan"))
        model.load_state_dict(monitor.weights)
        emb = model.embed(data)
        m = monitor.num_users
        metrics = evaluate_ranking(emb[:m], emb[m:], data.test_pairs, [data.train_pairs, data.val_pairs])
        metrics["val_recall_20"] = monitor.best
        train_only = max(result.train_seconds - monitor.eval_seconds, 0.0)
        extra = {"best_epoch": monitor.best_epoch, "val_curve": monitor.curve,
                 "seconds_per_epoch": train_only / max(result.epochs - result.resumed_from_epoch, 1),
                 "eval_seconds": monitor.eval_seconds, "stopped_by_time_budget": monitor.out_of_time}
        return Evaluation(metrics=metrics, extra=extra)

    def table_metrics(self, evals: Sequence[str], metrics: dict[str, float]) -> list[str]:
        return list(self.evaluations["rank"])
