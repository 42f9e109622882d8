"""The graph-classification benchmark: GraphCL and an untrained-GIN baseline on TU datasets.

``graphcl bench graph [--datasets ...] [--seeds N] [--quick] [--out DIR]``
``graphcl bench graph --combine RECORDS.json ... [--note TEXT] [--out DIR]``

For every dataset and seed: GraphCL with its published settings (``graphcl/configs/graphcl.yaml``,
20 epochs, the final model) and the same GIN encoder untrained (0 epochs: what the architecture
alone gives), each scored by the unsupervised TU protocol (10-fold SVM and logistic regression on
the frozen graph embeddings, ``C`` by inner CV). Writes ``graph_classification.md`` (mean ± std
over seeds of the 10-fold mean accuracy; train and evaluation seconds; peak memory) and
``records/graph-<method>-<dataset>.json``. ``--quick``: MUTAG, 1 seed, 2 epochs.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Sequence

from graphcl.eval.summary import format_cell, summarize

DEFAULT_DATASETS = ("mutag", "proteins", "nci1", "imdb-binary")
#: label -> (method, epochs override)
RUNS = {"graphcl": ("graphcl", None), "gin-untrained": ("graphcl", 0)}
PUBLISHED = {"mutag": "GraphCL 86.80 ± 1.34; GraphMAE 88.19", "proteins": "GraphCL 74.39 ± 0.45; GraphMAE 75.30",
             "nci1": "GraphCL 77.87 ± 0.41; GraphMAE 80.40", "imdb-binary": "GraphCL 71.14 ± 0.44; GraphMAE 75.52"}


def write_table(results: list[tuple[str, str, list[dict[str, Any]]]], out: Path, note: str = "") -> Path:
    lines = ["# Graph classification (unsupervised TU protocol)", "",
             "Accuracy in %: for each encoder seed, the mean over 10 stratified folds of an RBF SVM and of logistic "
             "regression on the frozen graph embeddings (C in 1e-3 ... 1e3 chosen by 5-fold CV inside the training "
             "folds); mean ± std over seeds. `gin-untrained`: the same GIN encoder with random weights (0 epochs). "
             "GraphCL's model is the final epoch's.", ""]
    if note:
        lines += [note, ""]
    lines += ["| dataset | method | seeds | SVM acc | LogReg acc | epochs | train s | eval s | peak MiB | device | "
              "published (SVM) |", "|" + "---|" * 11]
    for dataset, label, records in results:
        s = summarize(records)
        eval_s = sum(r["eval_seconds"] for r in records) / len(records)
        lines.append(f"| {dataset} | {label} | {len(records)} | " + format_cell("svm_accuracy", *s["svm_accuracy"])
                     + " | " + format_cell("logreg_accuracy", *s["logreg_accuracy"]) + f" | {records[0]['epochs']} | "
                     + format_cell("train_seconds", *s["train_seconds"]) + f" | {eval_s:.1f} | "
                     + format_cell("peak_memory_mb", *s["peak_memory_mb"]) + f" | {records[0]['device']} | "
                     + (PUBLISHED.get(dataset, "") if label == "graphcl" else "") + " |")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "graph_classification.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_suite(datasets: Sequence[str], seeds: Sequence[int], out: Path, *, epochs: int | None = None,
              device: str = "cpu", note: str = "", labels: Sequence[str] = tuple(RUNS)) -> list:
    from graphcl.data import load_dataset
    from graphcl.experiment import run_experiment, write_records

    results = []
    for dataset in datasets:
        data = load_dataset(dataset)
        for label in labels:
            method, fixed_epochs = RUNS[label]
            records = run_experiment(method, data, seeds=seeds, epochs=fixed_epochs if fixed_epochs is not None else epochs,
                                     device=device, progress=False)
            for r in records:
                r["label"] = label
            write_records(records, out / "records" / f"graph-{label}-{dataset}.json")
            results.append((dataset, label, records))
            write_table(results, out, note)
            s = summarize(records)
            print(f"{dataset} {label}: SVM {format_cell('svm_accuracy', *s['svm_accuracy'])}, LogReg "
                  f"{format_cell('logreg_accuracy', *s['logreg_accuracy'])}", flush=True)
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS))
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS), help="rows to run")
    parser.add_argument("--seeds", type=int, default=5, help="number of encoder seeds 0..N-1 (default 5)")
    parser.add_argument("--first-seed", type=int, default=0, help="first seed (to split seeds over processes)")
    parser.add_argument("--epochs", type=int, help="override GraphCL's 20 epochs")
    parser.add_argument("--quick", action="store_true", help="smoke run: MUTAG, 1 seed, 2 epochs (not a result)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="benchmarks/results", help="output folder (default benchmarks/results)")
    parser.add_argument("--combine", nargs="+", metavar="RECORDS", help="write the table from record files instead")
    parser.add_argument("--note", default="", help="a paragraph printed above the table")


def main(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.combine:
        groups: dict[tuple[str, str], list] = {}
        for path in args.combine:
            for r in json.loads(Path(path).read_text()):
                groups.setdefault((r["dataset"], r.get("label", r["method"])), []).append(r)
        order = {d: i for i, d in enumerate(DEFAULT_DATASETS)}
        results = [(d, label, sorted(rs, key=lambda r: r["seed"]))
                   for (d, label), rs in sorted(groups.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1]))]
        write_table(results, out, args.note)
    else:
        datasets, seeds, epochs, note = args.datasets, range(args.first_seed, args.first_seed + args.seeds), args.epochs, args.note
        if args.quick:
            datasets, seeds, epochs = ["mutag"], range(1), args.epochs or 2
            note = f"**Quick smoke run** (MUTAG, 1 seed, {epochs} epochs): not a result. {note}".strip()
        run_suite(datasets, list(seeds), out, epochs=epochs, device=args.device, note=note, labels=args.runs)
    print((out / "graph_classification.md").read_text())
    return 0
