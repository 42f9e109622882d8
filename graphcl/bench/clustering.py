"""The clustering benchmark suite: every method x dataset x seed, honest and oracle selection side by side.

``graphcl bench clustering [--methods ...] [--datasets ...] [--seeds N] [--quick] [--out DIR]``

Selection modes (both reported for every trained method):

* ``final`` (honest, the default): the model after the last epoch.
* ``stopped`` (honest, deep clustering methods): DEC's label-free stopping rule, the first epoch
  at which fewer than ``STOP_TOL`` (0.1 %) of the nodes change ``argmax q`` since the previous
  epoch (the final epoch when that never happens); ``--set stop_tol=0.001`` makes training itself
  stop there (one optimiser step later).
* ``oracle`` (flagged in every table): the epoch with the best *test* ACC, the protocol SCGC, PamC,
  SDCN, DCRN and HSAN report. Deep clustering methods are scored every epoch on their own
  clusters (``argmax q`` before that epoch's update, as the official code does); embedding methods
  (GRACE, GCA) by k-means every ``eval_every`` epochs.

Predictions: deep clustering methods give ``argmax q`` and k-means on ``z`` (and, as a reference
for the pretraining's quality, k-means on the pretrained autoencoder's ``z``); embedding methods
k-means on their embeddings; ``kmeans-raw`` is k-means on the input features (no training).
Outputs under ``--out``: ``clustering.md``, ``clustering.csv``, ``clustering_tsne.png`` (t-SNE of
one run's final embeddings coloured by predicted cluster) and ``records/clustering-*.json``.
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from torch_geometric import seed_everything
from torch_geometric.data import Data

from graphcl.errors import DatasetUnavailableError, InvalidArgumentError
from graphcl.eval.clustering import kmeans, modularity, score_clusters
from graphcl.eval.summary import format_cell, mean_std
from graphcl.experiment import number_of_classes, package_versions, resolve_run, restart_seeds
from graphcl.methods import applicable_overrides, build_method, method_names
from graphcl.profiling import PeakMemory
from graphcl.train import to_device, train


METRICS = ("acc", "nmi", "ari", "f1")
BASELINE = "kmeans-raw"
DEFAULT_METHODS = (BASELINE, "grace", "gca", "scgc", "scgc-star", "pamc")
DEFAULT_DATASETS = ("acm", "dblp", "cite", "cora", "usps", "hhar", "reut")
#: ``--quick``: one small dataset, 2 seeds, few epochs (a smoke run, not a result).
QUICK = {"datasets": ("dblp",), "seeds": 2, "epochs": 4, "pretrain_epochs": 2, "methods": DEFAULT_METHODS}
#: DEC's stopping tolerance: the fraction of nodes whose cluster changes between two epochs.
STOP_TOL = 0.001


@dataclass
class Run:
    """One method x dataset x seed: predictions scored in each selection mode."""

    method: str
    dataset: str
    seed: int
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # mode -> metrics
    oracle_epoch: int | None = None
    epochs: int = 0
    train_seconds: float = 0.0
    peak_memory_mb: float = 0.0
    curve: list[float] = field(default_factory=list)  # per-evaluation test ACC (oracle mode's candidates)
    stop_epoch: int | None = None  # DEC's stopping rule (deep clustering methods)
    device: str = "cpu"  # where it trained: seconds and peak memory are that device's
    config: dict[str, Any] = field(default_factory=dict)
    #: Deep clustering with ``pretrain_restarts > 1``: pretraining seed -> modularity of its k-means partition.
    pretrain_modularity: dict[str, float] = field(default_factory=dict)
    #: ``train_restarts > 1``: each restart's training seed -> modularity of its final partition, and the kept seed.
    restart_modularity: dict[str, float] = field(default_factory=dict)
    restart_seed: int | None = None
    #: Package versions of the process that trained it (kept through ``--combine``).
    versions: dict[str, str] = field(default_factory=package_versions)
    embeddings: np.ndarray | None = None
    predicted: np.ndarray | None = None


def run_baseline(data: Data, seed: int) -> Run:
    """k-means on the raw features."""
    y = data.y.numpy()
    k = number_of_classes(data)
    with PeakMemory("cpu") as mem:
        t0 = time.perf_counter()
        pred = kmeans(data.x, k, n_init=10, seed=seed)
        seconds = time.perf_counter() - t0
    run = Run(BASELINE, str(data.name), seed, train_seconds=seconds, peak_memory_mb=mem.peak_mb,
              config={"num_clusters": k, "n_init": 10}, embeddings=data.x.numpy(), predicted=pred)
    run.scores["final (k-means)"] = score_clusters(y, pred)
    return run


def run_method(method: str, data: Data, seed: int, *, epochs: int | None = None, eval_every: int = 10,
               overrides: dict[str, Any] | None = None, device: str = "cpu", progress: bool = False) -> Run:
    """Train ``method`` with its configuration for ``data`` and score it in every selection mode.

    With the run setting ``train_restarts = R > 1`` the method trains ``R`` times (seeds
    :func:`~graphcl.experiment.restart_seeds`) and the restart whose final partition has the
    highest graph modularity is kept (label-free), every mode scoring that restart; the run's
    ``train_seconds`` add up all restarts, its peak memory is their largest.
    """
    params, run_settings, data = resolve_run(method, data, overrides=overrides, epochs=epochs)
    restarts = [_train_and_score(method, data, params, run_settings, train_seed, eval_every=eval_every,
                                 device=device, progress=progress)
                for train_seed in restart_seeds(seed, run_settings["train_restarts"])]
    if len(restarts) == 1:
        return restarts[0]
    scores = {r.seed: modularity(data.edge_index, r.predicted, data.num_nodes) for r in restarts}
    kept = max(restarts, key=lambda r: scores[r.seed])
    if progress:  # every restart's test ACC, for the record only: the choice above saw no label
        for r in restarts:
            print(f"  restart seed {r.seed}: final-partition modularity {scores[r.seed]:.4f}, ACC "
                  + ", ".join(f"{m} {100 * s['acc']:.2f}" for m, s in r.scores.items())
                  + (" (kept)" if r is kept else ""), flush=True)
    kept.restart_seed, kept.seed = kept.seed, seed
    kept.restart_modularity = {str(s): round(q, 5) for s, q in scores.items()}
    kept.train_seconds = sum(r.train_seconds for r in restarts)
    kept.peak_memory_mb = max(r.peak_memory_mb for r in restarts)
    return kept


def _train_and_score(method: str, data: Data, params: dict[str, Any], run_settings: dict[str, Any], seed: int, *,
                     eval_every: int, device: str, progress: bool) -> Run:
    """One training of ``method`` on the resolved ``data``, scored in every selection mode."""
    dataset = str(data.get("name", "custom"))
    y = data.y.numpy()
    k = number_of_classes(data)
    seed_everything(seed)
    model = build_method(method, data.num_features, **params)
    own_clusters = hasattr(model, "predict")
    on_device = to_device(data, device)
    curve: list[tuple[int, dict[str, float]]] = []
    stopped: list[int] = []  # the epoch at which DEC's rule (the methods' stop_tol) would stop

    def on_epoch_end(epoch: int, loss: float) -> None:
        if own_clusters:  # Q of this epoch's forward pass, i.e. before its update (official protocol)
            curve.append((epoch - 1, score_clusters(y, model.last_assignment.argmax(1).cpu().numpy())))
            change = model.assignment_change
            if not stopped and change is not None and change < STOP_TOL:
                stopped.append(epoch - 1)
        elif epoch % eval_every == 0:
            z = model.embed(on_device).cpu()
            curve.append((epoch, score_clusters(y, kmeans(z, k, n_init=3, seed=seed))))

    result = train(model, on_device, epochs=run_settings["epochs"], lr=run_settings["lr"],
                   weight_decay=run_settings["weight_decay"], device=device, seed=seed, progress=progress,
                   on_epoch_end=on_epoch_end)
    z = model.embed(on_device).cpu()
    run = Run(method, dataset, seed, epochs=result.epochs, train_seconds=result.train_seconds,
              peak_memory_mb=result.peak_memory_mb, config={**params, **run_settings}, embeddings=z.numpy(),
              device=str(device))
    z_pred = kmeans(z, k, n_init=10, seed=seed)
    if own_clusters:
        q_pred = model.predict(on_device).cpu().numpy()
        run.scores["final (argmax q)"] = score_clusters(y, q_pred)
        curve.append((result.epochs, run.scores["final (argmax q)"]))
        run.predicted = q_pred
    else:
        curve.append((result.epochs, score_clusters(y, z_pred)))
        run.predicted = z_pred
    run.scores["final (k-means)"] = score_clusters(y, z_pred)
    if getattr(model, "initial_clusters", None) is not None:  # k-means on the pretrained autoencoder
        run.scores["pretrained (k-means)"] = score_clusters(y, model.initial_clusters.numpy())
        run.pretrain_modularity = {str(s): round(m, 5) for s, m in model.restart_modularity.items()}
    if own_clusters:
        run.stop_epoch = stopped[0] if stopped else result.epochs
        run.scores["stopped"] = next(score for epoch, score in curve if epoch == run.stop_epoch)
    best_epoch, best = max(curve, key=lambda item: item[1]["acc"])
    run.scores["oracle"] = best
    run.oracle_epoch = best_epoch
    run.curve = [round(s["acc"], 5) for _, s in curve]
    return run


MODES = ("pretrained (k-means)", "final (argmax q)", "final (k-means)", "stopped", "oracle")
ORACLE_FLAG = "oracle ⚠ best epoch by test ACC"
STOPPED_LABEL = f"stopped (argmax q, < {100 * STOP_TOL:g} % changed)"
LABELS = {"oracle": ORACLE_FLAG, "stopped": STOPPED_LABEL}


def _rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """Aggregate runs into one row per (dataset, method, device, mode)."""
    rows = []
    keys = sorted({(r.dataset, r.method, r.device) for r in runs},
                  key=lambda k: (k[0], DEFAULT_METHODS.index(k[1]) if k[1] in DEFAULT_METHODS else 99, k[2]))
    for dataset, method, device in keys:
        group = [r for r in runs if (r.dataset, r.method, r.device) == (dataset, method, device)]
        for mode in MODES:
            if mode not in group[0].scores:
                continue
            row: dict[str, Any] = {"dataset": dataset, "method": method, "device": device,
                                   "mode": LABELS.get(mode, mode), "seeds": len(group)}
            for m in METRICS:
                row[m] = mean_std([r.scores[mode][m] for r in group])
            row["epochs"] = group[0].epochs
            row["train_seconds"] = mean_std([r.train_seconds for r in group])
            row["peak_memory_mb"] = mean_std([r.peak_memory_mb for r in group])
            if mode == "oracle":
                row["oracle_epochs"] = [r.oracle_epoch for r in group]
            if mode == "stopped":
                row["stop_epochs"] = [r.stop_epoch for r in group]
            rows.append(row)
    return rows


def write_results(runs: Sequence[Run], out: Path, *, title_note: str = "") -> dict[str, Path]:
    """Write ``clustering.md``, ``clustering.csv`` and per-run records under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    rows = _rows(runs)
    columns = ("acc", "nmi", "ari", "f1", "train_seconds", "peak_memory_mb")
    lines = ["# Clustering benchmark", "",
             "ACC / NMI / ARI / macro-F1 in %, mean ± std over seeds; train seconds and peak memory (MiB, "
             "process RSS on CPU, allocations on CUDA) per run on the device named. `final`: the model after the last epoch (honest). "
             f"`{ORACLE_FLAG}`: the epoch chosen by test labels, the protocol of the SCGC / PamC / SDCN "
             "papers, shown only for comparison with published numbers.", ""]
    if title_note:
        lines += [title_note, ""]
    lines += ["| dataset | method | mode | seeds | epochs | ACC | NMI | ARI | F1 | seconds | peak MiB | device |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        cells = [format_cell(c, *row[c]) for c in columns] + [row["device"]]
        lines.append(f"| {row['dataset']} | {row['method']} | {row['mode']} | {row['seeds']} | {row['epochs']} | "
                     + " | ".join(cells) + " |")
    md = out / "clustering.md"
    md.write_text("\n".join(lines) + "\n")
    csv_path = out / "clustering.csv"
    with csv_path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "method", "mode", "seeds", "epochs"] + [f"{c}_{s}" for c in columns
                                                                      for s in ("mean", "std")] + ["device"])
        for row in rows:
            w.writerow([row["dataset"], row["method"], row["mode"], row["seeds"], row["epochs"]]
                       + [v for c in columns for v in row[c]] + [row["device"]])
    records = out / "records"
    records.mkdir(exist_ok=True)
    for dataset in sorted({r.dataset for r in runs}):
        payload = [{"method": r.method, "dataset": r.dataset, "seed": r.seed, "scores": r.scores,
                    "oracle_epoch": r.oracle_epoch, "stop_epoch": r.stop_epoch, "epochs": r.epochs,
                    "train_seconds": r.train_seconds, "peak_memory_mb": r.peak_memory_mb, "device": r.device,
                    "acc_curve": r.curve, "config": r.config, "pretrain_modularity": r.pretrain_modularity,
                    "restart_modularity": r.restart_modularity, "restart_seed": r.restart_seed,
                    "versions": r.versions} for r in runs if r.dataset == dataset]
        (records / f"clustering-{dataset}.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    return {"markdown": md, "csv": csv_path, "records": records}


def plot_embedding(run: Run, path: Path, max_points: int = 2000, seed: int = 0) -> Path:
    """A t-SNE map of ``run``'s final embeddings coloured by its predicted clusters (PNG)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    x, pred = run.embeddings, run.predicted
    rng = np.random.default_rng(seed)
    if x.shape[0] > max_points:
        keep = rng.choice(x.shape[0], max_points, replace=False)
        x, pred = x[keep], pred[keep]
    xy = TSNE(n_components=2, init="pca", random_state=seed, perplexity=min(30.0, (x.shape[0] - 1) / 3)).fit_transform(
        np.asarray(x, dtype=np.float32))
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(xy[:, 0], xy[:, 1], c=pred, cmap="tab10", s=4)
    acc = run.scores.get("final (argmax q)", run.scores["final (k-means)"])["acc"]
    ax.set_title(f"{run.method} on {run.dataset}, seed {run.seed}: final clusters (ACC {100 * acc:.1f}%)")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def load_runs(folder: Path) -> list[Run]:
    """The runs saved under ``folder/records`` by :func:`write_results` (scores, epochs, costs, config)."""
    paths = sorted((Path(folder) / "records").glob("clustering-*.json"))
    if not paths:
        raise InvalidArgumentError(f"no clustering records under {Path(folder) / 'records'}; run "
                                   "`graphcl bench clustering --out DIR` first")
    runs = []
    for path in paths:
        for r in json.loads(path.read_text()):
            runs.append(Run(r["method"], r["dataset"], r["seed"], scores=r["scores"], oracle_epoch=r["oracle_epoch"],
                            epochs=r["epochs"], train_seconds=r["train_seconds"],
                            peak_memory_mb=r["peak_memory_mb"], curve=r["acc_curve"], config=r["config"],
                            stop_epoch=r.get("stop_epoch"), device=r.get("device", "cpu"),
                            pretrain_modularity=r.get("pretrain_modularity", {}),
                            restart_modularity=r.get("restart_modularity", {}), restart_seed=r.get("restart_seed"),
                            versions=r.get("versions") or {}))
    return runs


def _skipped_note(note: str, skipped: Sequence[str]) -> str:
    return note + (f" Skipped, not available on this machine: {'; '.join(skipped)}." if skipped else "")


def run_suite(methods: Sequence[str], datasets: Sequence[str], seeds: Sequence[int], out: Path, *,
              epochs: int | None = None, overrides: dict[str, Any] | None = None, device: str = "cpu",
              progress: bool = True, title_note: str = "", tsne_points: int = 2000) -> list[Run]:
    """Run every method x dataset x seed, writing the tables after each dataset (so partial runs count)."""
    from graphcl.data import load_dataset

    unknown = [m for m in methods if m != BASELINE and m not in method_names()]
    if unknown:
        raise InvalidArgumentError(f"unknown methods {unknown}; choose from {[BASELINE, *method_names()]}")
    runs: list[Run] = []
    skipped: list[str] = []
    for dataset in datasets:
        try:
            data = load_dataset(dataset)
        except DatasetUnavailableError as error:  # e.g. hhar / reut: no download source; go on with the rest
            reason = str(error).splitlines()[0]
            print(f"{dataset}: skipped, not available here ({reason})", flush=True)
            skipped.append(f"{dataset} ({reason})")
        else:
            for method in methods:
                for seed in seeds:
                    t0 = time.perf_counter()
                    if method == BASELINE:
                        run = run_baseline(data, seed)
                    else:
                        run = run_method(method, data, seed, epochs=epochs,
                                         overrides=applicable_overrides(method, overrides), device=device,
                                         progress=progress)
                    runs.append(run)
                    if progress:
                        modes = ", ".join(f"{m} {100 * s['acc']:.2f}" for m, s in run.scores.items())
                        print(f"{dataset:10s} {method:10s} seed {seed}: ACC {modes} "
                              f"({time.perf_counter() - t0:.0f} s)", flush=True)
        if runs:  # after every dataset, so partial runs count
            write_results(runs, out, title_note=_skipped_note(title_note, skipped))
    if not runs:
        raise DatasetUnavailableError(f"none of the datasets could be loaded: {'; '.join(skipped)}")
    trained = [r for r in runs if r.method != BASELINE]
    if trained:
        best = max(trained, key=lambda r: r.scores["final (k-means)"]["acc"])
        plot_embedding(best, out / "clustering_tsne.png", max_points=tsne_points)
    return runs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--methods", nargs="+", help=f"default: {' '.join(DEFAULT_METHODS)}")
    parser.add_argument("--datasets", nargs="+", help=f"default: {' '.join(DEFAULT_DATASETS)}")
    parser.add_argument("--seeds", type=int, help="number of seeds (default 10): FIRST..FIRST+N-1")
    parser.add_argument("--first-seed", type=int, default=0, metavar="FIRST",
                        help="first seed (default 0), to split the seeds over processes; merge with --combine")
    parser.add_argument("--epochs", type=int, help="override every method's epochs (say so when reporting)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: one small dataset, 2 seeds, a few epochs (not a result)")
    parser.add_argument("--out", default="benchmarks/results", help="output folder (default benchmarks/results)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="override config entries of every method that takes them (e.g. center_init=spherical)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--combine", nargs="+", metavar="DIR",
                        help="train nothing: merge the records of earlier runs' --out folders into one table "
                             "under --out (e.g. datasets run on different machines)")


def main(args: argparse.Namespace) -> int:
    from graphcl.configs import parse_override

    if args.combine:
        runs = [run for folder in args.combine for run in load_runs(Path(folder))]
        write_results(runs, Path(args.out), title_note=f"Combined from {', '.join(args.combine)}.")
        print((Path(args.out) / "clustering.md").read_text())
        return 0
    overrides: dict[str, Any] = dict(parse_override(text) for text in args.set)
    note = f"Config overrides for every method that takes them: {overrides}." if overrides else ""
    if args.quick:
        methods = args.methods or QUICK["methods"]
        datasets = args.datasets or QUICK["datasets"]
        seeds = range(args.first_seed, args.first_seed + (args.seeds or QUICK["seeds"]))
        epochs = args.epochs or QUICK["epochs"]
        overrides["pretrain_epochs"] = QUICK["pretrain_epochs"]
        note = (f"**Quick smoke run** ({epochs} epochs, autoencoder pretrained {QUICK['pretrain_epochs']} "
                "epochs): checks the pipeline, not a result. " + note)
    else:
        methods, datasets = args.methods or DEFAULT_METHODS, args.datasets or DEFAULT_DATASETS
        seeds, epochs = range(args.first_seed, args.first_seed + (args.seeds or 10)), args.epochs
        if epochs is not None:
            note += f" Every method trained for {epochs} epochs (not the configs' numbers)."
    run_suite(list(methods), list(datasets), list(seeds), Path(args.out), epochs=epochs, overrides=overrides,
              device=args.device, title_note=note, tsne_points=500 if args.quick else 2000)
    print(f"\nwrote {Path(args.out) / 'clustering.md'}, clustering.csv, clustering_tsne.png, records/")
    print((Path(args.out) / "clustering.md").read_text())
    return 0
