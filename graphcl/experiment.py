"""Train a method on a dataset over several seeds, evaluate, and produce one JSON record per seed."""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
import platform
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch
from torch import Tensor
from torch_geometric import seed_everything
from torch_geometric.data import Data, Dataset, HeteroData
from torch_geometric.transforms import NormalizeFeatures

from graphcl.augment.spectral import LowPassFeatures
from graphcl.checks import check_homogeneous
from graphcl.data.interactions import split_validation
from graphcl.configs import load_config, split_config
from graphcl.errors import InvalidArgumentError, InvalidGraphError
from graphcl.eval.classification import heco_protocol, node_classification
from graphcl.eval.clustering import evaluate_clustering, kmeans, modularity, score_clusters
from graphcl.eval.collapse import direction_concentration
from graphcl.eval.graph_classification import graph_classification
from graphcl.eval.recommendation import evaluate_ranking
from graphcl.methods import build_method, get_method_class, method_parameters
from graphcl.methods.base import Method
from graphcl.train import to_device, train

log = logging.getLogger(__name__)

#: Evaluation protocols by name -> the metric columns they produce.
EVALUATIONS = {"node": ("accuracy", "micro_f1", "macro_f1"), "cluster": ("acc", "nmi", "ari", "f1")}
#: The same on heterogeneous graphs (HeCo / MEOW protocol: 20 / 40 / 60 labelled nodes per class).
HETERO_SPLITS = (20, 40, 60)
#: Seed offset between full training restarts (run setting ``train_restarts``), see :func:`restart_seeds`.
TRAIN_RESTART_SEED_STRIDE = 1_000
HETERO_EVALUATIONS = {"node": tuple(f"{m}_{k}" for k in HETERO_SPLITS for m in ("macro_f1", "micro_f1", "auc")),
                      "cluster": ("nmi", "ari")}


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages that shape a result."""
    versions = {"python": platform.python_version()}
    for pkg in ("graphcl", "torch", "torch_geometric", "numpy", "scikit-learn", "scipy"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    return versions


def evaluate_hetero(embeddings: Tensor, data: HeteroData, evals: Iterable[str], seed: int, *, eval_lr: float = 0.01,
                    eval_weight_decay: float = 0.0, splits: Sequence[int] = HETERO_SPLITS) -> dict[str, float]:
    """The HeCo / MEOW protocol on the target node type's embeddings.

    ``'node'``: :func:`graphcl.eval.heco_protocol` on each split ``train/val/test_mask_K`` (K in
    ``splits``, default 20, 40, 60 labelled nodes per class) -> ``macro_f1_K``, ``micro_f1_K``,
    ``auc_K``. ``'cluster'``:
    k-means with as many clusters as classes over 10 seeds (``seed`` .. ``seed + 9``) -> mean
    ``nmi``, ``ari``.
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
        elif name != "none":
            raise InvalidArgumentError(f"unknown evaluation {name!r}; choose from {sorted(HETERO_EVALUATIONS)} or none")
    return metrics


def evaluate(embeddings, data: Data, evals: Iterable[str], split: str, seed: int,
             predicted_clusters: Tensor | None = None) -> dict[str, float]:
    """Run the named evaluation protocols on frozen embeddings and merge their metrics.

    ``'cluster'`` scores k-means on the embeddings (``acc, nmi, ari, f1``) and, for methods that
    predict clusters themselves (``argmax q`` of SCGC / PamC), those too (``q_acc, q_nmi, ...``).
    """
    metrics: dict[str, float] = {}
    for name in evals:
        if name == "node":
            metrics.update(node_classification(embeddings, data, split=split, seed=seed))
        elif name == "cluster":
            metrics.update(evaluate_clustering(embeddings, data.y, seed=seed))
            if predicted_clusters is not None:
                scores = score_clusters(data.y, predicted_clusters)
                metrics.update({f"q_{k}": v for k, v in scores.items()})
        elif name != "none":
            raise InvalidArgumentError(f"unknown evaluation {name!r}; choose from {sorted(EVALUATIONS)} or none")
    return metrics


def final_partition(model: Method, data: Data, seed: int) -> Tensor:
    """A trained model's clusters ``[N]``: its own (``predict``, e.g. ``argmax q``) or k-means on its embeddings
    with one cluster per class."""
    if hasattr(model, "predict"):
        return model.predict(data).cpu()
    return torch.as_tensor(kmeans(model.embed(data).cpu(), number_of_classes(data), n_init=10, seed=seed))


def number_of_classes(data: Data) -> int:
    """K for clustering methods: ``data.num_classes`` if set, else the number of distinct labels."""
    k = data.get("num_classes")
    if k is None:
        y = data.get("y")
        if y is None:
            raise InvalidArgumentError("the graph has no labels to take the number of clusters from; "
                                       "pass it with --set num_clusters=K")
        k = int(torch.unique(y[y >= 0]).numel())
    return int(k)


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
    (``$GRAPHCL_DATA/features/<dataset>-<hash>.pt``, the hash over the settings and every edge
    type's ``edge_index``): they depend only on the graph and the settings, and take minutes to
    train on a large graph."""
    from graphcl.augment import MetaPathWalkFeatures
    from graphcl.data.cache import cache_root

    try:
        transform = MetaPathWalkFeatures(**settings)
    except TypeError as error:
        raise InvalidArgumentError(f"walk_features: {error}; it takes MetaPathWalkFeatures' arguments "
                                   "(metapath, node_types, embedding_dim, walk_length, ...)") from None
    key = hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode())
    for edge_type in sorted(data.edge_types):
        key.update(str(edge_type).encode())
        key.update(data[edge_type].edge_index.cpu().numpy().tobytes())
    path = cache_root() / "features" / f"{dataset_name(data)}-{key.hexdigest()[:16]}.pt"
    if path.exists():
        out = copy.copy(data)
        for t, x in torch.load(path, weights_only=True).items():
            out[t].x = x
        return out
    start = time.perf_counter()
    out = transform(data)
    log.info("metapath2vec features for %s in %.0f s: %s", dataset_name(data), time.perf_counter() - start, transform)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({t: out[t].x for t in transform.target_types(data)}, tmp)
    tmp.replace(path)
    return out


def dataset_name(data: Data | HeteroData | Dataset) -> str:
    """The catalogue name of a loaded graph or dataset of graphs (``'custom'`` for a user's own)."""
    if isinstance(data, Dataset):
        return str(getattr(data, "catalogue_name", type(data).__name__))
    return str(data.get("name", "custom"))


def restart_seeds(seed: int, restarts: int) -> list[int]:
    """The seeds of one run's full training restarts: ``seed + j * 1000`` for ``j < restarts``.

    With the run setting ``train_restarts = R > 1`` a homogeneous clustering run trains its method
    ``R`` times from scratch, each restart reseeding everything (initialisation, autoencoder
    pretraining unless ``pretrain_seed`` fixes it, augmentations, k-means), and keeps the restart
    whose final partition (``argmax q`` for deep clustering methods, k-means on the embeddings
    otherwise) has the highest Newman :func:`~graphcl.eval.clustering.modularity` on the graph: a
    label-free choice. Training cost is ``R`` times one run's, and records report it so
    (``train_seconds`` summed over the restarts, ``peak_memory_mb`` their largest). On Cora (SCGC*,
    10 seeds x 5 restarts) modularity and final ACC have a Spearman correlation of 0.78 over the 50
    trainings, and ``R = 5`` lifts final ACC from 66.6 ± 3.1 % to 70.3 ± 1.1 %
    (``benchmarks/results/tuning/scgc-star-cora-train-restarts.md``). Seeds below 1000 never share a
    restart seed (nor, with fewer than 100 restarts, a pretraining seed, whose stride is 100000).
    """
    if restarts < 1:
        raise InvalidArgumentError(f"train_restarts must be >= 1, got {restarts}")
    return [seed + j * TRAIN_RESTART_SEED_STRIDE for j in range(restarts)]


def resolve_run(method: str, data: Data, *, overrides: dict[str, Any] | None = None, epochs: int | None = None,
                split: str | None = None) -> tuple[dict[str, Any], dict[str, Any], Data]:
    """The method parameters, the run settings and the (possibly feature-normalised) graph of one run.

    The configuration is the method's defaults, then the dataset's section of
    ``graphcl/configs/<method>.yaml``, then ``overrides``; ``epochs`` and ``split`` override those;
    clustering methods get ``num_clusters`` from the labels when it is unset. With the run settings
    ``walk_features`` (:func:`add_walk_features`), ``normalize_features`` or ``smooth_features``
    (:class:`~graphcl.augment.LowPassFeatures`, applied after the normalisation) the returned graph
    is a new object; the caller's is untouched.
    """
    heterogeneous = get_method_class(method).heterogeneous
    if heterogeneous and not isinstance(data, HeteroData):
        raise InvalidGraphError(f"{method} trains on heterogeneous graphs (HeteroData, e.g. --dataset heco-acm); "
                                f"{data.get('name', 'this graph')} is homogeneous")
    if not heterogeneous:
        check_homogeneous(data)
    config = load_config(method, dataset_name(data))
    config.update(overrides or {})
    if epochs is not None:
        config["epochs"] = epochs
    if split is not None:
        config["split"] = split
    if not heterogeneous and "num_clusters" in method_parameters(method) and "num_clusters" not in config:
        config["num_clusters"] = number_of_classes(data)
    params, run = split_config(config)
    restart_seeds(0, run["train_restarts"])  # checks the count
    cls = get_method_class(method)
    if run["train_restarts"] > 1 and (heterogeneous or getattr(cls, "graph_level", False)
                                      or getattr(cls, "recommender", False)):
        raise InvalidArgumentError(f"train_restarts (full trainings kept by the modularity of their final "
                                   f"partition) is for node-level methods on homogeneous graphs, not {method}")
    if run["walk_features"] is not None:
        if not heterogeneous:
            raise InvalidArgumentError("walk_features (metapath2vec features) is for heterogeneous graphs")
        data = add_walk_features(data, run["walk_features"])
    if run["normalize_features"] and not heterogeneous:
        data = NormalizeFeatures()(data)
    elif run["normalize_features"]:
        data = normalize_node_types(data, None if run["normalize_features"] is True else run["normalize_features"])
    if run["smooth_features"]:
        if heterogeneous:
            raise InvalidArgumentError("smooth_features (low-pass filtered features) is for homogeneous graphs")
        data = LowPassFeatures(run["smooth_features"])(data)
    return params, run, data


def run_experiment(method: str, data: Data, *, seeds: Sequence[int] = (0,), epochs: int | None = None,
                   evals: Sequence[str] = ("node",), split: str | None = None, device: str = "cpu",
                   overrides: dict[str, Any] | None = None, patience: int | None = None,
                   checkpoint_dir: str | Path | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Train and evaluate ``method`` on ``data`` once per seed.

    The configuration is the method's defaults, then the dataset's section of
    ``graphcl/configs/<method>.yaml``, then ``overrides``; ``epochs`` and ``split`` override those.
    Each seed seeds model initialisation, augmentations, the evaluation split (for
    ``split='random'``) and k-means.

    Returns:
        One record per seed: ``method, dataset, seed, config, metrics, epochs, final_loss,
        train_seconds, peak_memory_mb, stopped_early, direction_concentration, device, versions``
        (a warning is issued when the embeddings collapsed: concentration > 0.99, see
        :func:`graphcl.eval.direction_concentration`).
    """
    if getattr(get_method_class(method), "graph_level", False):
        return run_graph_experiment(method, data, seeds=seeds, epochs=epochs, device=device, overrides=overrides,
                                    checkpoint_dir=checkpoint_dir, progress=progress)
    dataset = dataset_name(data)
    if getattr(get_method_class(method), "recommender", False):
        return run_recommendation(method, data, seeds=seeds, epochs=epochs, device=device, overrides=overrides,
                                  checkpoint_dir=checkpoint_dir, progress=progress)
    config, run, data = resolve_run(method, data, overrides=overrides, epochs=epochs, split=split)
    if run["select_epoch"] not in ("last", "val"):
        raise InvalidArgumentError(f"select_epoch must be 'last' or 'val', got {run['select_epoch']!r}")
    if run["select_epoch"] == "val" and not isinstance(data, HeteroData):
        raise InvalidArgumentError("select_epoch=val (the encoder epoch by validation Macro-F1) is for the "
                                   "heterogeneous HeCo / MEOW protocol; homogeneous methods use the final epoch")
    records = []
    on_device = to_device(data, device)
    for seed in seeds:
        restart_modularity: dict[str, float] = {}
        restart_seconds, restart_peak = 0.0, 0.0  # with restarts, a run costs all its trainings
        best_score = -float("inf")
        for train_seed in restart_seeds(seed, run["train_restarts"]):
            seed_everything(train_seed)
            candidate = build_method(method, data.num_features, **config)
            checkpoint = (Path(checkpoint_dir) / f"{method}-{dataset}-seed{train_seed}.pt" if checkpoint_dir
                          else None)
            selector = (ValidationEpochSelector(candidate, on_device, run, seed) if run["select_epoch"] == "val"
                        else None)
            candidate_result = train(candidate, data, epochs=run["epochs"], lr=run["lr"],
                                     weight_decay=run["weight_decay"], device=device, seed=train_seed,
                                     patience=patience if patience is not None else run["patience"],
                                     checkpoint=checkpoint, progress=progress, on_epoch_end=selector)
            restart_seconds += candidate_result.train_seconds
            restart_peak = max(restart_peak, candidate_result.peak_memory_mb)
            if run["train_restarts"] > 1:
                score = modularity(data.edge_index, final_partition(candidate, on_device, train_seed), data.num_nodes)
                log.info("%s on %s, restart seed %d: final-partition modularity %.4f", method, dataset, train_seed,
                         score)
                restart_modularity[str(train_seed)] = round(score, 5)
                if score <= best_score:
                    continue
                best_score = score
            model, result, kept_seed = candidate, candidate_result, train_seed
        if selector is not None:
            selector.finish(result.epochs)
            probe = {"eval_lr": run["eval_lr"], "eval_weight_decay": run["eval_weight_decay"]}
            metrics = {}
            for k in reversed(selector.splits):  # the first split's epoch last: it stays loaded
                selector.restore(k)
                embeddings = model.embed(on_device).cpu()
                metrics.update(evaluate_hetero(embeddings, data.cpu(), [e for e in evals if e == "node"], seed,
                                               splits=[k], **probe))
            metrics.update(evaluate_hetero(embeddings, data.cpu(), [e for e in evals if e != "node"], seed, **probe))
        elif isinstance(data, HeteroData):
            embeddings = model.embed(on_device).cpu()
            metrics = evaluate_hetero(embeddings, data.cpu(), evals, seed, eval_lr=run["eval_lr"],
                                      eval_weight_decay=run["eval_weight_decay"])
        else:
            embeddings = model.embed(on_device).cpu()
            predicted = model.predict(on_device).cpu() if hasattr(model, "predict") else None
            metrics = evaluate(embeddings, data.cpu(), evals, run["split"], seed, predicted)
        concentration = direction_concentration(embeddings)
        if concentration > 0.99:
            warnings.warn(f"{method} on {dataset}, seed {seed}: the embeddings collapsed (mean direction "
                          f"concentration {concentration:.3f}; final loss {result.losses[-1] if result.losses else None}). "
                          f"Lower the learning rate (now {run['lr']}) with --set lr=..., or train longer.",
                          stacklevel=2)
        records.append({
            "method": method, "dataset": dataset, "seed": seed, "config": {**config, **run},
            "metrics": metrics, "epochs": result.epochs,
            "final_loss": result.losses[-1] if result.losses else None,
            "train_seconds": restart_seconds, "peak_memory_mb": restart_peak,
            "stopped_early": result.stopped_early, "direction_concentration": concentration, "device": str(device), "versions": package_versions(),
        })
        if restart_modularity:
            records[-1].update(restart_modularity=restart_modularity, restart_seed=kept_seed)
        if selector is not None:
            records[-1].update(best_epoch=selector.best_epoch[selector.splits[0]],
                               best_epochs={str(k): e for k, e in selector.best_epoch.items()}, val_curve=selector.curve)
        log.info("%s on %s, seed %d: %s", method, dataset, seed, metrics)
    return records


class ValidationEpochSelector:
    """The run setting ``select_epoch: val`` on a heterogeneous graph: every ``eval_every`` epochs
    (and at the last one, by :meth:`finish`) the HeCo probe (:func:`graphcl.eval.heco_protocol`, 10
    probes) is trained on each split's training nodes and scored on that split's *validation* nodes
    only, and the weights of each split's best epoch are kept. Each split is then evaluated with its
    own epoch (:meth:`restore`): the HeCo splits' validation sets overlap the *other* splits' test
    sets (on ACM a quarter of ``test_40`` lies in ``val_20``), so one epoch chosen on ``val_20``
    would have seen test labels of the 40 / 60 splits. Test labels choose nothing. Used as
    ``train(..., on_epoch_end=selector)``.
    """

    def __init__(self, model: Method, data: HeteroData, run: dict[str, Any], seed: int, probes: int = 10) -> None:
        target = data[data.target_node_type]
        self.splits = [k for k in HETERO_SPLITS if f"train_mask_{k}" in target and f"val_mask_{k}" in target]
        if "y" not in target or not self.splits:
            raise InvalidArgumentError("select_epoch=val needs labels (y) and train_mask_K / val_mask_K on the target "
                                       "node type")
        self.model, self.data, self.seed, self.probes = model, data, seed, probes
        self.y = target.y.cpu()
        self.masks = {k: (target[f"train_mask_{k}"].cpu(), target[f"val_mask_{k}"].cpu()) for k in self.splits}
        self.every = max(1, int(run["eval_every"]))
        self.lr, self.weight_decay = run["eval_lr"], run["eval_weight_decay"]
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


def run_graph_experiment(method: str, dataset: Dataset, *, seeds: Sequence[int] = (0,), epochs: int | None = None,
                         device: str = "cpu", overrides: dict[str, Any] | None = None,
                         checkpoint_dir: str | Path | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Train a graph-level method (``graphcl``) on a dataset of graphs once per seed and evaluate
    its frozen graph embeddings by the unsupervised TU protocol
    (:func:`graphcl.eval.graph_classification.graph_classification`: 10-fold CV of an SVM and of
    logistic regression, ``C`` chosen by inner CV on the training folds; the final epoch's model).

    Returns:
        One record per seed as :func:`run_experiment`'s, with ``metrics`` = ``svm_accuracy``,
        ``svm_accuracy_std``, ``logreg_accuracy``, ``logreg_accuracy_std`` (std over the folds) and
        ``eval_seconds``.
    """
    if not isinstance(dataset, Dataset):
        raise InvalidGraphError(f"{method} trains on a dataset of graphs (e.g. --dataset mutag), got "
                                f"{type(dataset).__name__}")
    name = dataset_name(dataset)
    params, run, dataset = resolve_run(method, dataset, overrides=overrides, epochs=epochs)
    labels = torch.cat([g.y.view(-1) for g in dataset])
    records = []
    for seed in seeds:
        seed_everything(seed)
        model = build_method(method, dataset.num_features, **params)
        checkpoint = Path(checkpoint_dir) / f"{method}-{name}-seed{seed}.pt" if checkpoint_dir else None
        result = train(model, dataset, epochs=run["epochs"], lr=run["lr"], weight_decay=run["weight_decay"],
                       device=device, seed=seed, checkpoint=checkpoint, progress=progress)
        start = time.perf_counter()
        metrics = graph_classification(model.embed(dataset), labels, seed=seed)
        records.append({
            "method": method, "dataset": name, "seed": seed, "config": {**params, **run}, "metrics": metrics,
            "epochs": result.epochs, "final_loss": result.losses[-1] if result.losses else None,
            "train_seconds": result.train_seconds, "eval_seconds": time.perf_counter() - start,
            "peak_memory_mb": result.peak_memory_mb, "stopped_early": result.stopped_early, "device": str(device),
            "versions": package_versions(),
        })
        log.info("%s on %s, seed %d: %s", method, name, seed, metrics)
    return records


def run_recommendation(method: str, data: Data, *, seeds: Sequence[int] = (0,), epochs: int | None = None,
                       device: str = "cpu", overrides: dict[str, Any] | None = None,
                       checkpoint_dir: str | Path | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Train a recommender (``lightgcn``, ``lightgcl``) on an interaction graph once per seed, with
    model selection on validation data, and test the selected model.

    The run settings ``val_fraction``, ``eval_every``, ``val_patience`` and ``time_budget`` (see
    :func:`graphcl.configs.split_config`) hold out ``val_fraction`` of every user's training
    interactions (:func:`~graphcl.data.interactions.split_validation`, seed 0: the same split for
    every seed and method), evaluate validation Recall@20 every ``eval_every`` epochs (and after
    the last), stop after ``val_patience`` evaluations without improvement or at the first epoch
    that ends ``time_budget`` seconds or more after the seed's start (setup and validation passes
    included; that epoch is validated too), and restore the best model. Test Recall / NDCG @20 /
    @40 rank every item except the user's training and validation interactions. The test split is
    never looked at before that.

    Returns:
        One record per seed as :func:`run_experiment`'s, with ``metrics`` = ``recall_20, ndcg_20,
        recall_40, ndcg_40, val_recall_20``, plus ``best_epoch``, ``val_curve`` (``[epoch, recall]``
        pairs), ``seconds_per_epoch`` (training only) and ``eval_seconds``.
    """
    dataset = dataset_name(data)
    config, run, data = resolve_run(method, data, overrides=overrides, epochs=epochs)
    if "val_pairs" not in data:
        data = split_validation(data, run["val_fraction"], seed=0)
    if data.val_pairs.size(1) == 0:
        raise InvalidGraphError(f"val_fraction {run['val_fraction']} holds out no interaction: floor(val_fraction "
                                "x n_u) is 0 for every user; raise val_fraction (--set val_fraction=0.3)")
    m = int(data.num_users)
    on_device = to_device(data, device)
    records = []
    for seed in seeds:
        seed_everything(seed)
        model = build_method(method, 0, **config)
        state = {"best": -1.0, "epoch": 0, "weights": None, "since": 0, "curve": [], "eval_seconds": 0.0,
                 "start": time.perf_counter(), "out_of_time": False}

        def validate(epoch: int, loss: float) -> bool:
            budget = run["time_budget"]
            state["out_of_time"] = budget is not None and time.perf_counter() - state["start"] >= budget
            if epoch % run["eval_every"] and epoch != run["epochs"] and not state["out_of_time"]:
                return False
            start = time.perf_counter()
            emb = model.embed(on_device)
            recall = evaluate_ranking(emb[:m], emb[m:], on_device.val_pairs, [on_device.train_pairs],
                                      ks=(20,))["recall_20"]
            state["eval_seconds"] += time.perf_counter() - start
            state["curve"].append([epoch, recall])
            log.info("%s epoch %d: loss %.4f, validation Recall@20 %.4f", method, epoch, loss, recall)
            if recall > state["best"]:
                state.update(best=recall, epoch=epoch, weights=copy.deepcopy(model.state_dict()), since=0)
            else:
                state["since"] += 1
            return state["since"] >= run["val_patience"] or state["out_of_time"]

        checkpoint = Path(checkpoint_dir) / f"{method}-{dataset}-seed{seed}.pt" if checkpoint_dir else None
        result = train(model, data, epochs=run["epochs"], lr=run["lr"], weight_decay=run["weight_decay"],
                       device=device, seed=seed, checkpoint=checkpoint, progress=progress, on_epoch_end=validate)
        if state["weights"] is None:  # fewer epochs than one evaluation: keep the final model
            validate(run["epochs"], result.losses[-1] if result.losses else float("nan"))
        model.load_state_dict(state["weights"])
        emb = model.embed(on_device)
        metrics = evaluate_ranking(emb[:m], emb[m:], on_device.test_pairs, [on_device.train_pairs, on_device.val_pairs])
        metrics["val_recall_20"] = state["best"]
        train_only = max(result.train_seconds - state["eval_seconds"], 0.0)
        records.append({
            "method": method, "dataset": dataset, "seed": seed, "config": {**config, **run}, "metrics": metrics,
            "epochs": result.epochs, "best_epoch": state["epoch"], "val_curve": state["curve"],
            "final_loss": result.losses[-1] if result.losses else None, "train_seconds": result.train_seconds,
            "seconds_per_epoch": train_only / max(result.epochs - result.resumed_from_epoch, 1),
            "eval_seconds": state["eval_seconds"], "peak_memory_mb": result.peak_memory_mb,
            "stopped_early": result.stopped_early, "stopped_by_time_budget": state["out_of_time"],
            "device": str(device), "versions": package_versions(),
        })
        log.info("%s on %s, seed %d: %s (best validation epoch %d)", method, dataset, seed, metrics, state["epoch"])
    return records


def write_records(records: list[dict[str, Any]], path: str | Path) -> None:
    """Write records as a JSON list (one object per seed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=2, default=float) + "\n")
