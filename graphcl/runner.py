"""The one seed loop: configure, train (with restarts) and evaluate a method once per seed.

>>> from graphcl.data import load_dataset
>>> from graphcl.runner import run
>>> records = run("grace", load_dataset("cora"), seeds=[0, 1], evals=["node", "cluster"])  # doctest: +SKIP
"""
from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor
from torch_geometric import seed_everything
from torch_geometric.data import Dataset, InMemoryDataset

from graphcl.clustering import modularity
from graphcl.configs import RunSettings, auto_grid, configured_datasets, resolve_config
from graphcl.data.cache import cache_key
from graphcl.errors import InvalidArgumentError
from graphcl.methods.base import build_method, check_parameters, get_method_class
from graphcl.records import Record, package_versions
from graphcl.tasks import dataset_name, get_task
from graphcl.train import train

__all__ = ["run", "restart_seeds", "configure", "auto_configure", "data_fingerprint", "CollapseWarning",
           "AutoConfigWarning", "TRAIN_RESTART_SEED_STRIDE", "COLLAPSE_THRESHOLD"]

log = logging.getLogger(__name__)

#: Seed offset between full training restarts (run setting ``train_restarts``), see :func:`restart_seeds`.
TRAIN_RESTART_SEED_STRIDE = 1_000
#: Embeddings whose mean direction concentration exceeds this are reported as collapsed.
COLLAPSE_THRESHOLD = 0.99
#: Run settings that do not change the trained weights (a checkpoint made under other values is resumed).
_EVALUATION_SETTINGS = frozenset({"epochs", "patience", "split", "eval_lr", "eval_weight_decay", "eval_every",
                                  "select_epoch", "val_patience", "time_budget", "train_restarts",
                                  "eval_jobs"})


def optimization(settings: RunSettings) -> dict:
    """The optimizer arguments of :func:`graphcl.train.train` from the run settings."""
    return {"lr": settings.lr, "weight_decay": settings.weight_decay, "optimizer": settings.optimizer,
            "lr_schedule": settings.lr_schedule, "warmup_epochs": settings.warmup_epochs,
            "restore_best": settings.restore_best}


class CollapseWarning(UserWarning):
    """The embeddings of a run point in one direction (useless for any downstream task)."""


def data_fingerprint(data: Any) -> str:
    """A short hash of a graph's (or a dataset of graphs') tensors and sizes: what a checkpoint was trained on."""
    if isinstance(data, Dataset):
        graphs = [data._data] if isinstance(data, InMemoryDataset) else list(data)
        return cache_key(len(data), *[data_fingerprint(g) for g in graphs])
    parts: list[Any] = []
    for store in data.stores:
        for key, value in sorted(store.items(), key=lambda item: item[0]):
            if isinstance(value, Tensor):
                parts += [key, value]
            elif isinstance(value, (int, float, str)):
                parts += [key, str(value)]
    return cache_key(*parts)


def _identity(method: str, params: dict[str, Any], settings: RunSettings, seed: int, data_hash: str) -> dict[str, Any]:
    """What a training's weights depend on besides its number of epochs (stored in its checkpoint)."""
    training = {k: v for k, v in settings.as_dict().items() if k not in _EVALUATION_SETTINGS}
    described = {k: v if isinstance(v, (int, float, str, bool, list, dict, type(None))) else repr(v)
                 for k, v in params.items()}
    return {"method": method, "seed": seed, **described, **training, "data": data_hash}


def _progress_label(method: str, dataset: str, index: int, seeds: int, restart: int, restarts: int,
                    elapsed: float) -> str:
    """The progress bar's label: ``grace cora seed 2/5 (about 3 min left)``; the estimate is the
    mean time of the finished seeds (training and evaluation) times the seeds left."""
    label = f"{method} {dataset} seed {index + 1}/{seeds}"
    if restarts > 1:
        label += f" restart {restart + 1}/{restarts}"
    if index > 0 and restart == 0:
        left = elapsed / index * (seeds - index)
        label += f" (about {left / 60:.0f} min left)" if left >= 90 else f" (about {left:.0f} s left)"
    return label


def restart_seeds(seed: int, restarts: int) -> list[int]:
    """The seeds of one run's full training restarts: ``seed + j * 1000`` for ``j < restarts``.

    With the run setting ``train_restarts = R > 1`` a run trains its method ``R`` times from
    scratch, each restart reseeding everything (initialisation, autoencoder pretraining unless
    ``pretrain_seed`` fixes it, augmentations, k-means), and keeps the restart with the highest
    label-free score of its task (:meth:`graphcl.tasks.Task.restart_score`: the Newman modularity
    of the final partition for node-level methods). Training cost is ``R`` times one run's, and
    records report it so (``train_seconds`` summed over the restarts, ``peak_memory_mb`` their
    largest). Seeds below 1000 never share a restart seed.
    """
    if restarts < 1:
        raise InvalidArgumentError(f"train_restarts must be >= 1, got {restarts}")
    return [seed + j * TRAIN_RESTART_SEED_STRIDE for j in range(restarts)]


def configure(method: str, data: Any, *, overrides: dict[str, Any] | None = None, epochs: int | None = None,
              split: str | None = None, section: bool = True) -> tuple[dict[str, Any], RunSettings, Any]:
    """The constructor parameters, run settings and prepared data of ``method`` on ``data``.

    The configuration is the method's YAML ``defaults:``, the dataset's section (unless ``section``
    is false), then ``overrides``; ``epochs`` and ``split`` override those. The method's task checks the data and the settings,
    fills parameters taken from the data (e.g. ``num_clusters``) and prepares the data (feature
    preprocessing): the returned graph may be a new object; the caller's is untouched.
    """
    cls = get_method_class(method)
    task = get_task(cls.task)
    task.check_data(method, data)
    changes = {k: v for k, v in (("epochs", epochs), ("split", split)) if v is not None}
    params, settings = resolve_config(method, dataset_name(data) if section else None,
                                      {**(overrides or {}), **changes})
    task.check_settings(method, settings)
    settings = task.adapt_settings(method, settings, data)
    params = task.fill_params(cls, params, data)
    check_parameters(method, params)  # before the data is prepared (metapath2vec features may take minutes)
    return params, settings, task.prepare(data, settings)


def _hold_out_edges(data: Any, fraction: float, seed: int) -> tuple[Any, Tensor]:
    """``(graph without them, held-out edges [2, E_h])``: a random ``fraction`` of the undirected
    edges (both directions of each, self-loops never) leaves the graph; edge attributes follow."""
    if not hasattr(data, "edge_index") or data.edge_index is None:
        raise InvalidArgumentError("auto: holdout needs a graph with an edge_index; set holdout: 0 in the config")
    row, col = data.edge_index.cpu()
    pair = torch.minimum(row, col) * data.num_nodes + torch.maximum(row, col)
    pairs = pair[row != col].unique()
    generator = torch.Generator().manual_seed(seed)
    held = pairs[torch.randperm(pairs.numel(), generator=generator)[:int(round(fraction * pairs.numel()))]]
    if held.numel() == 0:
        raise InvalidArgumentError(f"auto: holdout {fraction} holds out no edge of a graph with {pairs.numel()}; "
                                   "raise it or set holdout: 0")
    keep = ~torch.isin(pair, held)
    held_edges = torch.stack([held // data.num_nodes, held % data.num_nodes])
    return data.edge_subgraph(keep.nonzero().view(-1)), held_edges


def auto_configure(method: str, data: Any, *, overrides: dict[str, Any] | None = None, seed: int = 0,
                   epochs: int | None = None, device: str = "cpu") -> tuple[dict[str, Any], dict[str, Any]]:
    """The settings ``method`` chooses for itself on a dataset without a config section.

    Each candidate of the method's ``auto:`` grid (:class:`~graphcl.configs.AutoGrid`; keys in
    ``overrides`` are not searched) is trained once with ``seed`` for ``epochs`` (default: the
    grid's ``epochs``, else the run's) and
    scored by the task's label-free :meth:`~graphcl.tasks.Task.restart_score` (the modularity of
    the final partition for node-level methods), or, where the grid has ``holdout > 0``, by the
    modularity of that partition on edges hidden from every candidate's training (the same hidden
    edges for all, drawn with ``seed``); no label is looked at. Where the grid lists node-feature
    candidates (the features as given, structural ones appended, low-pass smoothed ones), they are
    scored at the grid's best combination after the grid; another than the features as given (that
    combination itself) is kept only if it scores more than the grid's ``feature_margin`` above them;
    candidates that prepare the same features (e.g. on a graph without any) are trained once.

    Returns:
        ``(chosen entries, report)``: the report has every candidate's score (``features``: those of
        the feature stage), the chosen one and the search's seconds.
    """
    grid = auto_grid(method)
    task = get_task(get_method_class(method).task)
    if grid is None or not task.restartable:
        raise InvalidArgumentError(f"{method} has no auto: grid in its config or no label-free score to choose by")
    overrides = dict(overrides or {})
    candidates = grid.candidates(exclude=set(overrides))
    features = grid.feature_candidates(exclude=set(overrides))
    if len(candidates) == 1 and len(features) <= 1:  # every searched key is set by the caller
        chosen = {**candidates[0], **(features[0] if features else {})}
        return chosen, {"chosen": chosen, "scores": [], "seconds": 0.0, "seed": seed}
    search_data, held_edges = _hold_out_edges(data, grid.holdout, seed) if grid.holdout else (data, None)
    scored: dict[str, float] = {}  # by the parameters, settings and prepared data the candidate trains on
    seconds = 0.0

    def score(candidate: dict[str, Any]) -> float:
        nonlocal seconds
        params, settings, prepared = configure(method, search_data, overrides={**candidate, **overrides},
                                               epochs=epochs or grid.epochs, section=False)
        features_as_prepared = settings.replace(structural_features="none", smooth_features=0)
        key = repr((sorted(params.items()), features_as_prepared, data_fingerprint(prepared)))
        if key not in scored:
            seed_everything(seed)
            model = build_method(method, task.in_channels(prepared), **params)
            result = train(model, prepared, epochs=settings.epochs, **optimization(settings), device=device,
                           seed=seed, patience=settings.patience, progress=False)
            seconds += result.train_seconds
            prepared = task.to_device(prepared, device)
            scored[key] = (task.restart_score(model, prepared, seed) if held_edges is None else
                           modularity(held_edges, task.partition(model, prepared, seed), prepared.num_nodes))
            log.info("%s auto-configuration: %s -> label-free score %.4f", method, candidate, scored[key])
        return scored[key]

    scores = [[candidate, round(score(candidate), 5)] for candidate in candidates]
    chosen, best = max(scores, key=lambda item: item[1])
    feature_scores = [[feature, round(score({**chosen, **feature}), 5)] for feature in features]
    if feature_scores:  # the features as given ({}) at the chosen point score as that point did
        feature, feature_score = max(feature_scores, key=lambda item: item[1])
        if feature_score > best + grid.feature_margin:  # another one only where it is clearly better
            chosen, best = {**chosen, **feature}, feature_score
    others = sorted(s for _, s in scores + feature_scores)
    criterion = "modularity" if held_edges is None else "held-out modularity"
    warnings.warn(f"{method} on {dataset_name(data)}: no settings for this dataset in its config; chose "
                  f"{', '.join(f'{k}={v}' for k, v in chosen.items()) or 'the defaults'} by the label-free "
                  f"{criterion} {best:.4f} (the {len(scored)} candidates: {others[0]:.4f} .. {others[-1]:.4f}); "
                  "--set them to choose yourself", AutoConfigWarning, stacklevel=3)
    report = {"chosen": chosen, "scores": scores, "seconds": round(seconds, 1), "seed": seed, "score": criterion,
              "held_out_edges": 0 if held_edges is None else held_edges.size(1)}
    if feature_scores:
        report["features"] = feature_scores
    return chosen, report


class AutoConfigWarning(UserWarning):
    """A method chose its settings for a dataset without a config section (which, and by what score)."""


def run(method: str, data: Any, *, seeds: Sequence[int] = (0,), evals: Sequence[str] | None = None,
        epochs: int | None = None, split: str | None = None, device: str = "cpu",
        overrides: dict[str, Any] | None = None, patience: int | None = None,
        checkpoint_dir: str | Path | None = None, resume: str = "auto", auto: bool | None = None,
        progress: bool = True) -> list[Record]:
    """Train and evaluate the registered ``method`` on ``data`` once per seed.

    Each seed seeds model initialisation, augmentations, the evaluation split (for
    ``split='random'``) and k-means. ``evals`` names the task's evaluations (default: the task's
    own, e.g. ``node`` for node-level methods, ``cluster`` for deep clustering); ``'none'`` trains
    only. ``patience`` overrides the run setting of the same name; ``checkpoint_dir`` saves and
    resumes each training (``<method>-<dataset>-seed<seed>.pt``): a checkpoint resumes only under
    the same parameters, training settings, seed and data (``resume='force'`` loads it anyway,
    ``'fresh'`` retrains), and ``epochs`` beyond a finished checkpoint continue its training; the
    record then has ``resumed_from_epoch`` and the seconds of all its training.

    ``auto``: on a dataset without a section in the method's config (``None``, the default) or
    always (``True``, the dataset's section ignored), the settings are chosen label-free by
    :func:`auto_configure` first (seeded by the first seed; the record's ``auto_config`` says which
    and why); ``False`` uses the constructor defaults where the config is silent.

    Returns:
        One :class:`~graphcl.records.Record` per seed. One :class:`CollapseWarning` per run names the
        seeds whose trained embeddings collapsed (mean direction concentration > 0.99,
        :func:`graphcl.eval.direction_concentration`).
    """
    task = get_task(get_method_class(method).task)
    evals = tuple(evals) if evals is not None else task.default_evals
    task.check_evals(evals)
    dataset = dataset_name(data)
    if auto is None:
        auto = (dataset.lower() not in configured_datasets(method) and auto_grid(method) is not None
                and task.restartable)
    report = None
    if auto:
        chosen, report = auto_configure(method, data, overrides=overrides, seed=seeds[0], epochs=epochs, device=device)
        overrides = {**chosen, **(overrides or {})}
    params, settings, data = configure(method, data, overrides=overrides, epochs=epochs, split=split,
                                       section=not auto)
    on_device = task.to_device(data, device)
    fingerprint = data_fingerprint(data) if checkpoint_dir else None
    records, collapsed = [], {}
    started = time.perf_counter()
    for index, seed in enumerate(seeds):
        best_score, seconds, peak = -float("inf"), 0.0, 0.0
        restart_scores: dict[str, float] = {}
        for restart, train_seed in enumerate(restart_seeds(seed, settings.train_restarts)):
            description = _progress_label(method, dataset, index, len(seeds), restart, settings.train_restarts,
                                          time.perf_counter() - started)
            seed_everything(train_seed)
            candidate = build_method(method, task.in_channels(data), **params)
            checkpoint = Path(checkpoint_dir) / f"{method}-{dataset}-seed{train_seed}.pt" if checkpoint_dir else None
            candidate_monitor = task.monitor(candidate, on_device, settings, train_seed, evals)
            identity = _identity(method, params, settings, train_seed, fingerprint) if checkpoint else None
            candidate_result = train(candidate, data, epochs=settings.epochs, **optimization(settings),
                                     device=device, seed=train_seed,
                                     patience=patience if patience is not None else settings.patience,
                                     checkpoint=checkpoint, identity=identity, resume=resume, progress=progress,
                                     description=description, on_epoch_end=candidate_monitor)
            seconds += candidate_result.train_seconds
            peak = max(peak, candidate_result.peak_memory_mb)
            if settings.train_restarts > 1:
                score = task.restart_score(candidate, on_device, train_seed)
                log.info("%s on %s, restart seed %d: label-free score %.4f", method, dataset, train_seed, score)
                restart_scores[str(train_seed)] = round(score, 5)
                if score <= best_score:
                    continue
                best_score = score
            model, result, monitor, kept_seed = candidate, candidate_result, candidate_monitor, train_seed
        evaluation = task.evaluate(model, on_device, settings, seed, evals, monitor, result)
        concentration = evaluation.extra.get("direction_concentration")
        if concentration is not None and concentration > COLLAPSE_THRESHOLD and result.epochs > 0:
            collapsed[seed] = concentration
        extra = dict(evaluation.extra)
        if restart_scores:
            extra.update(restart_modularity=restart_scores, restart_seed=kept_seed)
        if result.resumed_from_epoch:
            extra["resumed_from_epoch"] = result.resumed_from_epoch
        if report is not None:
            extra["auto_config"] = report
        records.append(Record(
            method=method, dataset=dataset, seed=seed, metrics=evaluation.metrics,
            config={**params, **settings.as_dict()}, epochs=result.epochs,
            final_loss=result.losses[-1] if result.losses else None, train_seconds=seconds, peak_memory_mb=peak,
            stopped_early=result.stopped_early, device=str(device), versions=package_versions(), extra=extra,
            arrays=evaluation.arrays))
        log.info("%s on %s, seed %d: %s", method, dataset, seed, evaluation.metrics)
    if collapsed:
        seeds_text = ", ".join(f"{s} ({c:.3f})" for s, c in collapsed.items())
        warnings.warn(f"{method} on {dataset}: the embeddings collapsed (direction concentration > "
                      f"{COLLAPSE_THRESHOLD}) in seed {seeds_text}; lower the learning rate (now {settings.lr}) with "
                      "--set lr=..., or train longer", CollapseWarning, stacklevel=2)
    return records
