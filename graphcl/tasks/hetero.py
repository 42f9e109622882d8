"""Heterogeneous graphs: the HeCo / MEOW protocol on the target node type's embeddings."""
from __future__ import annotations

import copy
import logging
import time
from typing import Any, Sequence

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphcl.configs import RunSettings
from graphcl.data.cache import atomic_save, cache_key, cached_file
from graphcl.errors import InvalidArgumentError, InvalidGraphError
from graphcl.eval.classification import heco_protocol
from graphcl.eval.clustering import evaluate_clustering
from graphcl.eval.collapse import direction_concentration
from graphcl.methods.base import Method, method_parameters
from graphcl.tasks.base import Evaluation, Monitor, Task, dataset_name, register_task
from graphcl.train import TrainResult

__all__ = ["HeteroTask", "HETERO_SPLITS", "evaluate_hetero", "normalize_node_types", "add_walk_features",
           "ValidationEpochSelector", "schema_metapaths"]

log = logging.getLogger(__name__)

#: The HeCo / MEOW protocol's splits: 20 / 40 / 60 labelled nodes per class.
HETERO_SPLITS = (20, 40, 60)


def evaluate_hetero(embeddings: Tensor, data: HeteroData, evals: Sequence[str], seed: int, *, eval_lr: float = 0.01,
                    eval_weight_decay: float = 0.0, splits: Sequence[int] = HETERO_SPLITS) -> dict[str, float]:
    """The HeCo / MEOW protocol on the target node type's embeddings.

    ``'node'``: :func:`graphcl.eval.heco_protocol` on each split ``train/val/test_mask_K`` (K in
    ``splits``) -> ``macro_f1_K``, ``micro_f1_K``, ``auc_K``. ``'cluster'``: k-means with as many
    clusters as classes over 10 seeds (``seed`` .. ``seed + 9``) -> mean ``nmi``, ``ari``.
    """
    target = data[data.target_node_type]
    if "y" not in target and any(e != "none" for e in evals):
        raise InvalidArgumentError(f"the target node type {data.target_node_type!r} has no labels (y) to evaluate "
                                   "on; add them or use --eval none")
    metrics: dict[str, float] = {}
    for name in evals:
        if name == "node":
            present = [k for k in splits if f"train_mask_{k}" in target]
            if not present:
                raise InvalidArgumentError(f"the target type has no train_mask_K / val_mask_K / test_mask_K splits "
                                           f"(K in {tuple(splits)}); use --eval cluster or add them")
            for k in present:
                scores = heco_protocol(embeddings, target.y, target[f"train_mask_{k}"], target[f"val_mask_{k}"],
                                       target[f"test_mask_{k}"], lr=eval_lr, weight_decay=eval_weight_decay,
                                       seed=seed)
                metrics.update({f"{m}_{k}": scores[m] for m in ("macro_f1", "micro_f1", "auc")})
        elif name == "cluster":
            runs = [evaluate_clustering(embeddings, target.y, seed=seed + r) for r in range(10)]
            metrics.update({m: sum(r[m] for r in runs) / len(runs) for m in ("nmi", "ari")})
    return metrics


def schema_metapaths(data: HeteroData) -> list[list[str]]:
    """The meta-paths ``[target, t, target]`` the schema allows: one per node type ``t`` the target type
    has relations both to and from (HeCo's and MEOW's meta-paths on ACM, DBLP and AMiner are of this
    form: paper-author-paper, paper-subject-paper, ...)."""
    target = data.target_node_type
    back = {(src, dst) for src, _, dst in data.edge_types}
    paths: list[list[str]] = []
    for src, _, dst in data.edge_types:
        if src == target and dst != target and (dst, target) in back and [target, dst, target] not in paths:
            paths.append([target, dst, target])
    return paths


def normalize_node_types(data: HeteroData, node_types: Sequence[str] | None = None) -> HeteroData:
    r"""A copy of ``data`` whose node types ``node_types`` (default: every type with ``x``) have
    row-normalised features, :math:`x_i / \sum_j x_{ij}` (all-zero rows stay zero), exactly HeCo's
    and MEOW's ``preprocess_features`` (PyG's ``NormalizeFeatures`` would first shift the features
    to a minimum of 0). The input is not modified."""
    types = [t for t in data.node_types if "x" in data[t]] if node_types is None else list(node_types)
    out = copy.copy(data)
    for t in types:
        if t not in data.node_types or "x" not in data[t]:
            raise InvalidArgumentError(f"normalize_features names node type {t!r}, which has no features here "
                                       f"(types with features: {[n for n in data.node_types if 'x' in data[n]]})")
        x = data[t].x
        total = x.sum(dim=1, keepdim=True)
        out[t].x = x / total.masked_fill(total == 0, 1.0)
    return out


def add_walk_features(data: HeteroData, settings: dict[str, Any]) -> HeteroData:
    """``data`` with :class:`~graphcl.augment.MetaPathWalkFeatures` ``(**settings)`` applied (the run
    setting ``walk_features``). The embeddings are cached under the cache root
    (``features/<dataset>-<key>.pt``, the key over the settings and every edge type's
    ``edge_index``): they depend only on the graph and the settings, and take minutes to train on a
    large graph."""
    from graphcl.augment import MetaPathWalkFeatures

    try:
        transform = MetaPathWalkFeatures(**settings)
    except TypeError as error:
        raise InvalidArgumentError(f"walk_features: {error}; it takes MetaPathWalkFeatures' arguments "
                                   "(metapath, node_types, embedding_dim, walk_length, ...)") from None
    key = cache_key(settings, *[part for edge_type in sorted(data.edge_types)
                                for part in (str(edge_type), data[edge_type].edge_index)])
    path = cached_file("features", f"{dataset_name(data)}-{key}.pt")
    if path.exists():
        out = copy.copy(data)
        for t, x in torch.load(path, weights_only=True).items():
            out[t].x = x
        return out
    start = time.perf_counter()
    out = transform(data)
    log.info("metapath2vec features for %s in %.0f s: %s", dataset_name(data), time.perf_counter() - start, transform)
    atomic_save({t: out[t].x for t in transform.target_types(data)}, path)
    return out


class ValidationEpochSelector:
    """The run setting ``select_epoch: val``: every ``eval_every`` epochs (and at the last one, by
    :meth:`finish`) the HeCo probe (:func:`graphcl.eval.heco_protocol`, 10 probes) is trained on each
    split's training nodes and scored on that split's *validation* nodes only, and the weights of
    each split's best epoch are kept. Each split is then evaluated with its own epoch
    (:meth:`restore`): the HeCo splits' validation sets overlap the *other* splits' test sets (on
    ACM a quarter of ``test_40`` lies in ``val_20``), so one epoch chosen on ``val_20`` would have
    seen test labels of the 40 / 60 splits. Test labels choose nothing.
    """

    def __init__(self, model: Method, data: HeteroData, settings: RunSettings, seed: int, probes: int = 10) -> None:
        target = data[data.target_node_type]
        self.splits = [k for k in HETERO_SPLITS if f"train_mask_{k}" in target and f"val_mask_{k}" in target]
        if "y" not in target or not self.splits:
            raise InvalidArgumentError("select_epoch=val needs labels (y) and train_mask_K / val_mask_K on the target "
                                       "node type")
        self.model, self.data, self.seed, self.probes = model, data, seed, probes
        self.y = target.y.cpu()
        self.masks = {k: (target[f"train_mask_{k}"].cpu(), target[f"val_mask_{k}"].cpu()) for k in self.splits}
        self.every = settings.eval_every
        self.lr, self.weight_decay = settings.eval_lr, settings.eval_weight_decay
        self.best_score = {k: -1.0 for k in self.splits}
        self.best_epoch = {k: 0 for k in self.splits}
        self.best_state: dict[int, dict[str, Tensor]] = {}
        #: ``[epoch, validation Macro-F1 of each split in order]`` per check.
        self.curve: list[list[float]] = []

    def scores(self) -> dict[int, float]:
        """Validation Macro-F1 of the current encoder, per split."""
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            embeddings = self.model.embed(self.data).cpu()
        self.model.train(was_training)
        return {k: heco_protocol(embeddings, self.y, train, val, val, lr=self.lr, weight_decay=self.weight_decay,
                                 runs=self.probes, seed=self.seed)["macro_f1"]
                for k, (train, val) in self.masks.items()}

    def __call__(self, epoch: int, loss: float) -> bool:
        if epoch % self.every == 0:
            self._evaluate(epoch)
        return False

    def _evaluate(self, epoch: int) -> None:
        scores = self.scores()
        self.curve.append([epoch, *scores.values()])
        for k, value in scores.items():
            if value > self.best_score[k]:
                self.best_score[k], self.best_epoch[k] = value, epoch
                self.best_state[k] = copy.deepcopy(self.model.state_dict())

    def finish(self, last_epoch: int) -> None:
        """Score the last epoch if it was not yet."""
        if not self.curve or self.curve[-1][0] != last_epoch:
            self._evaluate(last_epoch)
        log.info("select_epoch=val: %s of %d (validation Macro-F1 %s)",
                 ", ".join(f"split {k}: epoch {e}" for k, e in self.best_epoch.items()), last_epoch,
                 ", ".join(f"{v:.4f}" for v in self.best_score.values()))

    def restore(self, split: int) -> None:
        """Load the weights of the split's best validation epoch."""
        self.model.load_state_dict(self.best_state[split])


@register_task
class HeteroTask(Task):
    """Heterogeneous graphs (``HeteroData`` with a ``target_node_type``): MEOW, AdaMEOW, HeCo-style.

    Evaluations: ``node``, the HeCo / MEOW protocol (:func:`evaluate_hetero`: logistic-regression
    probes on the 20 / 40 / 60 labels-per-class splits, Macro-F1, Micro-F1, AUC); ``cluster``,
    k-means NMI / ARI over 10 seeds. With ``select_epoch=val`` each split is evaluated at the
    encoder epoch with its best validation Macro-F1 (:class:`ValidationEpochSelector`). Run
    settings ``walk_features`` (metapath2vec features, cached) and ``normalize_features`` (true or
    a list of node types, HeCo's row normalisation) prepare the graph.
    """

    name = "hetero"
    evaluations = {"node": tuple(f"{m}_{k}" for k in HETERO_SPLITS for m in ("macro_f1", "micro_f1", "auc")),
                   "cluster": ("nmi", "ari")}
    default_evals = ("node",)

    def check_data(self, method: str, data: Any) -> None:
        if not isinstance(data, HeteroData):
            raise InvalidGraphError(f"{method} trains on heterogeneous graphs (HeteroData, e.g. --dataset heco-acm); "
                                    f"{dataset_name(data)} is a {type(data).__name__}")
        if data.get("target_node_type") not in data.node_types:
            raise InvalidGraphError(f"{dataset_name(data)} does not name its target node type: set "
                                    f"data.target_node_type to one of {data.node_types}")

    def fill_params(self, method: type[Method], params: dict[str, Any], data: HeteroData) -> dict[str, Any]:
        """Meta-paths from the schema (:func:`schema_metapaths`) where the config names none."""
        if "metapaths" in params or "metapaths" not in method_parameters(method.name):
            return params
        paths = schema_metapaths(data)
        if not paths:
            raise InvalidArgumentError(f"no meta-paths configured for {dataset_name(data)} and its schema has no "
                                       f"{data.target_node_type}-X-{data.target_node_type} pair of relations; set "
                                       "them with --set 'metapaths=[[a, b, a], ...]'")
        log.warning("%s on %s: no meta-paths configured, using the schema's %s (--set metapaths=... to choose)",
                    method.name, dataset_name(data), ", ".join("-".join(p) for p in paths))
        return {**params, "metapaths": paths}

    def check_settings(self, method: str, settings: RunSettings) -> None:
        if settings.train_restarts > 1:
            raise InvalidArgumentError(f"train_restarts (full trainings kept by the modularity of their final "
                                       f"partition) is for node-level methods on homogeneous graphs, not {method}")
        if settings.smooth_features:
            raise InvalidArgumentError("smooth_features (low-pass filtered features) is for homogeneous graphs")

    def prepare(self, data: HeteroData, settings: RunSettings) -> HeteroData:
        if settings.walk_features is not None:
            data = add_walk_features(data, settings.walk_features)
        if settings.normalize_features:
            types = None if settings.normalize_features is True else settings.normalize_features
            data = normalize_node_types(data, types)
        return data

    def monitor(self, model: Method, data: HeteroData, settings: RunSettings, seed: int,
                evals: Sequence[str]) -> Monitor | None:
        return ValidationEpochSelector(model, data, settings, seed) if settings.select_epoch == "val" else None

    def evaluate(self, model: Method, data: HeteroData, settings: RunSettings, seed: int, evals: Sequence[str],
                 monitor: ValidationEpochSelector | None, result: TrainResult) -> Evaluation:
        probe = {"eval_lr": settings.eval_lr, "eval_weight_decay": settings.eval_weight_decay}
        cpu = data.cpu()
        evaluation = Evaluation()
        if monitor is not None:
            monitor.finish(result.epochs)
            for k in reversed(monitor.splits):  # the first split's epoch last: it stays loaded
                monitor.restore(k)
                embeddings = model.embed(data).cpu()
                evaluation.metrics.update(evaluate_hetero(embeddings, cpu, [e for e in evals if e == "node"], seed,
                                                          splits=[k], **probe))
            evaluation.metrics.update(evaluate_hetero(embeddings, cpu, [e for e in evals if e != "node"], seed,
                                                      **probe))
            evaluation.extra.update(best_epoch=monitor.best_epoch[monitor.splits[0]],
                                    best_epochs={str(k): e for k, e in monitor.best_epoch.items()},
                                    val_curve=monitor.curve)
        else:
            embeddings = model.embed(data).cpu()
            evaluation.metrics.update(evaluate_hetero(embeddings, cpu, evals, seed, **probe))
        evaluation.extra["direction_concentration"] = direction_concentration(embeddings)
        return evaluation
