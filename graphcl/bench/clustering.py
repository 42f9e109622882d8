"""The clustering benchmark suite: every method x dataset x seed, honest and oracle selection side by side.

``graphcl bench clustering [--methods ...] [--datasets ...] [--seeds N] [--quick] [--out DIR]``
``graphcl bench clustering --combine DIR ... [--out DIR]``

Each method trains through the runner with its config and the evaluations ``cluster``, ``stopped``
and ``oracle`` (:mod:`graphcl.tasks.cluster`): ``final`` (honest, the model after the last epoch:
k-means on the embeddings and, for deep clustering methods, their own clusters ``argmax q``, plus
k-means on the pretrained autoencoder as a reference), ``stopped`` (honest, deep clustering: DEC's
label-free stopping rule, the first epoch at which fewer than 0.1 % of the nodes change cluster)
and ``oracle`` (flagged in every table: the epoch with the best *test* ACC, the protocol SCGC,
PamC, SDCN, DCRN and HSAN report). ``kmeans-raw`` is k-means on the input features (no training).
Outputs under ``--out``: ``clustering.md``, ``clustering.csv``, ``clustering_tsne.png`` (t-SNE of
the best run's final embeddings coloured by predicted cluster) and ``records/clustering-*.json``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, Sequence

from typing import TYPE_CHECKING

import numpy as np

from graphcl.bench import GridEntry, add_common_arguments, parse_overrides, run_grid, skipped_note
from graphcl.errors import InvalidArgumentError
from graphcl.records import ORACLE_FLAG, Record, Table, read_records, write_records, write_report

if TYPE_CHECKING:  # torch and the tasks load only when a suite runs (`--help` starts fast)
    from torch_geometric.data import Data

BASELINE = "kmeans-raw"
DEFAULT_METHODS = (BASELINE, "grace", "gca", "scgc", "scgc-star", "pamc")
DEFAULT_DATASETS = ("acm", "dblp", "cite", "cora", "usps", "hhar", "reut")
#: ``--quick``: one small dataset, 2 seeds, few epochs (a smoke run, not a result).
QUICK = {"datasets": ("dblp",), "seeds": 2, "epochs": 4, "pretrain_epochs": 2}
EVALS = ("cluster", "stopped", "oracle")


def modes() -> dict[str, str]:
    """Selection mode row label -> metric prefix, in table order."""
    from graphcl.tasks.cluster import STOP_TOL

    return {"pretrained (k-means)": "pretrained_", "final (argmax q)": "q_", "final (k-means)": "",
            f"stopped (argmax q, < {100 * STOP_TOL:g} % changed)": "stopped_", ORACLE_FLAG: "oracle_"}

#: Records written before the runner named modes, not metric prefixes.
_OLD_MODES = {"pretrained (k-means)": "pretrained_", "final (argmax q)": "q_", "final (k-means)": "",
              "stopped": "stopped_", "oracle": "oracle_"}
METRICS = ("acc", "nmi", "ari", "f1")


def kmeans_raw(data: Data, seed: int) -> Record:
    """k-means on the raw features, as a record (no training)."""
    from graphcl.clustering import kmeans
    from graphcl.eval.clustering import score_clusters
    from graphcl.profiling import PeakMemory
    from graphcl.tasks.node import number_of_classes

    k = number_of_classes(data)
    with PeakMemory("cpu") as mem:
        start = time.perf_counter()
        predicted = kmeans(data.x, k, n_init=10, seed=seed)
        seconds = time.perf_counter() - start
    return Record(BASELINE, str(data.get("name", "custom")), seed, metrics=score_clusters(data.y.numpy(), predicted),
                  config={"num_clusters": k, "n_init": 10}, train_seconds=seconds, peak_memory_mb=mem.peak_mb,
                  arrays={"embeddings": data.x.numpy(), "predicted": predicted})


def _upgrade(record: Record) -> Record:
    """A record of the suite before the runner (``scores`` by mode) with its metrics by prefix."""
    scores = record.extra.pop("scores", None)
    if scores is not None:
        record.metrics = {f"{_OLD_MODES[mode]}{m}": v for mode, values in scores.items() for m, v in values.items()}
    return record


def table(records: Sequence[Record]) -> Table:
    """One row per dataset x method x device x selection mode, mean ± std over seeds."""
    order = {m: i for i, m in enumerate(DEFAULT_METHODS)}
    result = Table(["dataset", "method", "mode", "seeds", "epochs", "acc", "nmi", "ari", "f1", "train_seconds",
                    "peak_memory_mb", "device"],
                   headers={"acc": "ACC", "nmi": "NMI", "ari": "ARI", "f1": "F1", "train_seconds": "seconds",
                            "peak_memory_mb": "peak MiB"})
    keys = sorted({(r.dataset, r.method, r.device) for r in records}, key=lambda k: (k[0], order.get(k[1], 99), k[2]))
    for dataset, method, device in keys:
        group = [r for r in records if (r.dataset, r.method, r.device) == (dataset, method, device)]
        for mode, prefix in modes().items():
            if f"{prefix}acc" not in group[0].metrics:
                continue
            result.add(dataset=dataset, method=method, mode=mode, seeds=len(group), epochs=group[0].epochs,
                       device=device, train_seconds=("train_seconds", group), peak_memory_mb=("peak_memory_mb", group),
                       **{m: (f"{prefix}{m}", group) for m in METRICS})
    return result


INTRO = ("ACC / NMI / ARI / macro-F1 in %, mean ± std over seeds; train seconds and peak memory (MiB, process RSS on "
         "CPU, allocations on CUDA) per run on the device named. `final`: the model after the last epoch (honest). "
         f"`{ORACLE_FLAG}`: the epoch chosen by test labels, the protocol of the SCGC / PamC / SDCN papers, shown "
         "only for comparison with published numbers.")


def write_results(records: Sequence[Record], out: Path, *, note: str = "") -> dict[str, Path]:
    """Write ``clustering.md``, ``clustering.csv`` and the records (one file per dataset) under ``out``."""
    md = write_report(out / "clustering.md", "Clustering benchmark", table(records), intro=INTRO, note=note,
                      csv_path=out / "clustering.csv")
    for dataset in sorted({r.dataset for r in records}):
        write_records([r for r in records if r.dataset == dataset], out / "records" / f"clustering-{dataset}.json")
    return {"markdown": md, "csv": out / "clustering.csv", "records": out / "records"}


def plot_embedding(record: Record, path: Path, max_points: int = 2000, seed: int = 0) -> Path:
    """A t-SNE map of a record's final embeddings coloured by its predicted clusters (PNG)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    x, predicted = record.arrays["embeddings"], record.arrays["predicted"]
    rng = np.random.default_rng(seed)
    if x.shape[0] > max_points:
        keep = rng.choice(x.shape[0], max_points, replace=False)
        x, predicted = x[keep], predicted[keep]
    xy = TSNE(n_components=2, init="pca", random_state=seed, perplexity=min(30.0, (x.shape[0] - 1) / 3)).fit_transform(
        np.asarray(x, dtype=np.float32))
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(xy[:, 0], xy[:, 1], c=predicted, cmap="tab10", s=4)
    acc = record.metrics.get("q_acc", record.metrics["acc"])
    ax.set_title(f"{record.method} on {record.dataset}, seed {record.seed}: final clusters (ACC {100 * acc:.1f}%)")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def load_runs(folder: Path) -> list[Record]:
    """The records saved under ``folder/records`` by :func:`write_results` (older formats included)."""
    paths = sorted((Path(folder) / "records").glob("clustering-*.json"))
    if not paths:
        raise InvalidArgumentError(f"no clustering records under {Path(folder) / 'records'}; run "
                                   "`graphcl bench clustering --out DIR` first")
    return [_upgrade(r) for r in read_records(*paths)]


def run_suite(methods: Sequence[str], datasets: Sequence[str], seeds: Sequence[int], out: Path, *,
              epochs: int | None = None, overrides: dict[str, Any] | None = None, device: str = "cpu",
              progress: bool = True, title_note: str = "", tsne_points: int = 2000) -> list[Record]:
    """Run every method x dataset x seed, writing the tables after each method x dataset."""
    done: list[Record] = []

    def write(dataset: str, label: str, records: list[Record], skipped: list[str]) -> None:
        done.extend(records)
        write_results(done, out, note=" ".join(p for p in (title_note, skipped_note(skipped)) if p))

    entries = [GridEntry(BASELINE, baseline=kmeans_raw) if m == BASELINE else m for m in methods]
    records = run_grid(entries, datasets, seeds, evals=EVALS, epochs=epochs, overrides=overrides, device=device,
                       progress=progress, on_records=write)
    trained = [r for r in records if r.method != BASELINE]
    if trained:
        best = max(trained, key=lambda r: r.metrics["acc"])
        plot_embedding(best, out / "clustering_tsne.png", max_points=tsne_points)
    return records


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, seeds=10, quick="one small dataset, 2 seeds, a few epochs",
                         combine="merge the records of earlier runs' --out folders into one table under --out "
                                 "(e.g. datasets run on different machines)",
                         methods=DEFAULT_METHODS, datasets=DEFAULT_DATASETS)


def main(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.combine:
        records = [r for folder in args.combine for r in load_runs(Path(folder))]
        write_results(records, out, note=f"Combined from {', '.join(args.combine)}. {args.note}".strip())
        print((out / "clustering.md").read_text())
        return 0
    overrides = parse_overrides(args.set)
    note = f"Config overrides for every method that takes them: {overrides}." if overrides else ""
    methods, datasets = args.methods or DEFAULT_METHODS, args.datasets or DEFAULT_DATASETS
    seeds, epochs = args.seeds or 10, args.epochs
    if args.quick:
        datasets, seeds = args.datasets or QUICK["datasets"], args.seeds or QUICK["seeds"]
        epochs = args.epochs or QUICK["epochs"]
        overrides["pretrain_epochs"] = QUICK["pretrain_epochs"]
        note = (f"**Quick smoke run** ({epochs} epochs, autoencoder pretrained {QUICK['pretrain_epochs']} "
                "epochs): checks the pipeline, not a result. " + note)
    elif epochs is not None:
        note += f" Every method trained for {epochs} epochs (not the configs' numbers)."
    run_suite(list(methods), list(datasets), list(range(args.first_seed, args.first_seed + seeds)), out,
              epochs=epochs, overrides=overrides, device=args.device,
              title_note=f"{note} {args.note}".strip(), tsne_points=500 if args.quick else 2000)
    print(f"\nwrote {out / 'clustering.md'}, clustering.csv, clustering_tsne.png, records/")
    print((out / "clustering.md").read_text())
    return 0
