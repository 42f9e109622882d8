"""The graph-classification benchmark: GraphCL, InfoGraph, GraphMAE and an untrained-GIN baseline on TU datasets.

``graphcl bench graph [--datasets ...] [--seeds N] [--quick] [--out DIR]``
``graphcl bench graph --combine RECORDS.json ... [--note TEXT] [--out DIR]``

For every dataset and seed: GraphCL, InfoGraph and GraphMAE with their published settings
(``graphcl/configs/graphcl.yaml``, ``infograph.yaml``, ``graphmae-graph.yaml``; the final model) and GraphCL's GIN encoder untrained (0 epochs: what the architecture
alone gives), each scored by the unsupervised TU protocol (:mod:`graphcl.tasks.graph`: 10-fold SVM
and logistic regression on the frozen graph embeddings, ``C`` by inner CV). Writes
``graph_classification.md`` (mean ± std over seeds of the 10-fold mean accuracy; train and
evaluation seconds; peak memory) and ``records/graph-<label>-<dataset>.json``. ``--quick``: MUTAG,
1 seed, 2 epochs.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from graphcl.bench import GridEntry, add_common_arguments, parse_overrides, run_grid
from graphcl.records import Record, Table, read_records, write_records, write_report

DEFAULT_DATASETS = ("mutag", "proteins", "nci1", "imdb-binary")
#: The suite's rows: label -> grid entry (the untrained GIN is GraphCL's encoder after 0 epochs).
RUNS = {"graphcl": GridEntry("graphcl", "graphcl"), "infograph": GridEntry("infograph", "infograph"),
        "graphmae-graph": GridEntry("graphmae-graph", "graphmae-graph"),
        "gin-untrained": GridEntry("gin-untrained", "graphcl", {"epochs": 0})}
#: label -> dataset -> the published SVM accuracy (GraphCL's Table 4; InfoGraph's Table 2; GraphMAE's Table 3).
PUBLISHED = {"graphcl": {"mutag": "86.80 ± 1.34", "proteins": "74.39 ± 0.45", "nci1": "77.87 ± 0.41",
                         "imdb-binary": "71.14 ± 0.44"},
             "infograph": {"mutag": "89.01 ± 1.13", "proteins": "74.44 ± 0.31", "nci1": "76.20 ± 1.06",
                           "imdb-binary": "73.03 ± 0.87"},
             "graphmae-graph": {"mutag": "88.19 ± 1.26", "proteins": "75.30 ± 0.39", "nci1": "80.40 ± 0.30",
                                "imdb-binary": "75.52 ± 0.66"}}
INTRO = ("Accuracy in %: for each encoder seed, the mean over 10 stratified folds of an RBF SVM and of logistic "
         "regression on the frozen graph embeddings (C in 1e-3 ... 1e3 chosen by 5-fold CV inside the training "
         "folds); mean ± std over seeds. `gin-untrained`: the same GIN encoder with random weights (0 epochs). "
         "GraphCL's, InfoGraph's and GraphMAE's models are the final epoch's.")


def label(record: Record) -> str:
    return record.extra.get("label", record.method)


def table(results: Sequence[tuple[str, str, list[Record]]]) -> Table:
    out = Table(["dataset", "method", "seeds", "svm_accuracy", "logreg_accuracy", "epochs", "train_seconds",
                 "eval_seconds", "peak_memory_mb", "device", "published (SVM)"],
                headers={"svm_accuracy": "SVM acc", "logreg_accuracy": "LogReg acc", "train_seconds": "train s",
                         "eval_seconds": "eval s", "peak_memory_mb": "peak MiB"})
    for dataset, name, records in results:
        eval_seconds = sum(r.extra.get("eval_seconds", 0.0) for r in records) / len(records)
        out.add(dataset=dataset, method=name, seeds=len(records), epochs=records[0].epochs,
                eval_seconds=f"{eval_seconds:.1f}", device=records[0].device,
                **{m: (m, records) for m in ("svm_accuracy", "logreg_accuracy", "train_seconds", "peak_memory_mb")},
                **{"published (SVM)": PUBLISHED.get(name, {}).get(dataset, "")})
    return out


def write_table(results: Sequence[tuple[str, str, list[Record]]], out: Path, note: str = "") -> Path:
    return write_report(out / "graph_classification.md", "Graph classification (unsupervised TU protocol)",
                        table(results), intro=INTRO, note=note)


def run_suite(datasets: Sequence[str], seeds: Sequence[int], out: Path, *, epochs: int | None = None,
              device: str = "cpu", note: str = "", labels: Sequence[str] = tuple(RUNS),
              overrides: dict | None = None) -> list[tuple[str, str, list[Record]]]:
    results: list[tuple[str, str, list[Record]]] = []

    def write(dataset: str, name: str, records: list[Record], skipped: list[str]) -> None:
        write_records(records, out / "records" / f"graph-{name}-{dataset}.json")
        results.append((dataset, name, records))
        write_table(results, out, note)

    run_grid([RUNS[name] for name in labels], datasets, seeds, epochs=epochs, overrides=overrides, device=device,
             progress=False, on_records=write)
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, seeds=5, quick="MUTAG, 1 seed, 2 epochs", combine="write the table from these "
                         "record files", datasets=DEFAULT_DATASETS)
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS), help="rows to run")


def main(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.combine:
        groups: dict[tuple[str, str], list[Record]] = {}
        for record in read_records(*args.combine):
            groups.setdefault((record.dataset, label(record)), []).append(record)
        order = {d: i for i, d in enumerate(DEFAULT_DATASETS)}
        results = [(d, name, sorted(rs, key=lambda r: r.seed))
                   for (d, name), rs in sorted(groups.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1]))]
        write_table(results, out, args.note)
    else:
        datasets, epochs, note = args.datasets or DEFAULT_DATASETS, args.epochs, args.note
        seeds = range(args.first_seed, args.first_seed + (args.seeds or 5))
        if args.quick:
            datasets, seeds, epochs = ["mutag"], range(args.seeds or 1), args.epochs or 2
            note = f"**Quick smoke run** (MUTAG, 1 seed, {epochs} epochs): not a result. {note}".strip()
        run_suite(list(datasets), list(seeds), out, epochs=epochs, device=args.device, note=note, labels=args.runs,
                  overrides=parse_overrides(args.set))
    print((out / "graph_classification.md").read_text())
    return 0
