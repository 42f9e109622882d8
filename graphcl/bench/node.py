"""The node benchmark: self-supervised node embeddings scored by a linear probe and by k-means.

``graphcl bench node [--methods ...] [--datasets ...] [--seeds N] [--quick] [--out DIR]``
``graphcl bench node --combine RECORDS.json ... [--note TEXT] [--out DIR]``

For every method x dataset x seed: the method with its config's settings for that dataset (the
final epoch's encoder, or the early-stopped one where the config sets ``patience``), then the
same embeddings scored twice: node classification by the linear probe (Planetoid: the public
split; Amazon / Coauthor: random 10/10/80 per seed) and clustering by k-means with K = the number
of classes (ACC / NMI). Writes ``node.md`` (mean ± std over seeds, the published number, the
official code measured here where it was run, seconds and peak memory) and
``records/node-<method>-<dataset>.json``. ``--quick``: Cora, 1 seed, 2 epochs.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from graphcl.bench import add_common_arguments, parse_overrides, run_grid
from graphcl.records import Record, Table, read_records, write_records, write_report

DEFAULT_METHODS = ("grace", "gca", "dgi", "mvgrl", "bgrl", "cca-ssg", "g-bt", "graphmae")
DEFAULT_DATASETS = ("cora", "citeseer", "pubmed", "amazon-photo", "amazon-computers", "coauthor-cs", "coauthor-physics")
#: (method, dataset) -> the published linear-probe accuracy and where it comes from. Planetoid: the
#: public split, from GraphMAE's Table 1 (Hou et al., KDD 2022); Amazon / Coauthor: random splits,
#: from each method's own paper (DGI's from GCA's table).
PUBLISHED = {
    ("grace", "cora"): "81.9", ("grace", "citeseer"): "71.2", ("grace", "pubmed"): "80.6",
    ("dgi", "cora"): "82.3", ("dgi", "citeseer"): "71.8", ("dgi", "pubmed"): "76.8",
    ("bgrl", "cora"): "82.7", ("bgrl", "citeseer"): "71.1", ("bgrl", "pubmed"): "79.6",
    ("cca-ssg", "cora"): "84.0", ("cca-ssg", "citeseer"): "73.1", ("cca-ssg", "pubmed"): "81.0",
    ("gca", "amazon-photo"): "92.53", ("gca", "amazon-computers"): "87.85", ("gca", "coauthor-cs"): "93.10",
    ("gca", "coauthor-physics"): "95.68",
    ("bgrl", "amazon-photo"): "93.17", ("bgrl", "amazon-computers"): "90.34", ("bgrl", "coauthor-cs"): "93.31",
    ("bgrl", "coauthor-physics"): "95.73",
    ("dgi", "amazon-photo"): "91.61", ("dgi", "amazon-computers"): "83.95", ("dgi", "coauthor-cs"): "92.15",
    ("dgi", "coauthor-physics"): "94.51",
    ("cca-ssg", "amazon-photo"): "93.14", ("cca-ssg", "amazon-computers"): "88.74", ("cca-ssg", "coauthor-cs"): "93.31",
    ("cca-ssg", "coauthor-physics"): "95.38",
    ("mvgrl", "cora"): "83.5", ("mvgrl", "citeseer"): "73.3", ("mvgrl", "pubmed"): "80.1",
    ("graphmae", "cora"): "84.2", ("graphmae", "citeseer"): "73.4", ("graphmae", "pubmed"): "81.1",
}
#: (method, dataset) -> the official code's accuracy measured on this machine under the same probe.
OFFICIAL_HERE: dict[tuple[str, str], str] = {
    # nerdslab/bgrl's package on graphcl's data and probe (benchmarks/compare/bgrl_side.py), seeds 0-2, with the
    # Planetoid settings before session 20's choice of 1,000 epochs
    ("bgrl", "cora"): "75.10 ± 1.53 (3 seeds, 2,000 epochs; ours 75.37 there)",
    # THUDM/GraphMAE with its configs.yml on graphcl's Cora and probe (benchmarks/compare/graphmae_side.py), seeds 0-1
    ("graphmae", "cora"): "83.85 ± 0.35 (2 seeds; ours 84.00 there)",
}
INTRO = ("Accuracy: linear probe on the frozen embeddings (Planetoid: public split; Amazon / Coauthor: random "
         "10/10/80 per seed), test accuracy at the probe's best validation accuracy. k-means ACC / NMI: the same "
         "embeddings clustered with K = the number of classes. Mean ± std over encoder seeds, in %. Settings: each "
         "method's config for the dataset (graphcl/configs/), the final (or early-stopped) encoder.")


def table(results: Sequence[tuple[str, str, list[Record]]]) -> Table:
    out = Table(["dataset", "method", "split", "seeds", "epochs", "accuracy", "acc", "nmi", "published",
                 "official here", "train_seconds", "peak_memory_mb", "device"],
                headers={"accuracy": "probe accuracy", "acc": "k-means ACC", "nmi": "k-means NMI",
                         "train_seconds": "train s", "peak_memory_mb": "peak MiB"})
    for dataset, method, records in results:
        first = records[0]
        out.add(dataset=dataset, method=method, split=first.config.get("split", ""), seeds=len(records),
                epochs=round(sum(r.epochs for r in records) / len(records)), device=first.device,
                published=PUBLISHED.get((method, dataset), ""), **{"official here": OFFICIAL_HERE.get((method, dataset), "")},
                **{m: (m, records) for m in ("accuracy", "acc", "nmi", "train_seconds", "peak_memory_mb")})
    return out


def write_table(results: Sequence[tuple[str, str, list[Record]]], out: Path, note: str = "") -> Path:
    return write_report(out / "node.md", "Node classification and clustering of self-supervised embeddings",
                        table(results), intro=INTRO, note=note)


def run_suite(methods: Sequence[str], datasets: Sequence[str], seeds: Sequence[int], out: Path, *,
              epochs: int | None = None, device: str = "cpu", note: str = "",
              overrides: dict | None = None) -> list[tuple[str, str, list[Record]]]:
    results: list[tuple[str, str, list[Record]]] = []

    def write(dataset: str, method: str, records: list[Record], skipped: list[str]) -> None:
        write_records(records, out / "records" / f"node-{method}-{dataset}.json")
        results.append((dataset, method, records))
        write_table(results, out, note)

    run_grid(list(methods), datasets, seeds, evals=["node", "cluster"], epochs=epochs, overrides=overrides,
             device=device, progress=False, on_records=write)
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, seeds=5, quick="Cora, 1 seed, 2 epochs", combine="write the table from these "
                         "record files", methods=DEFAULT_METHODS, datasets=DEFAULT_DATASETS)


def main(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.combine:
        groups: dict[tuple[str, str], list[Record]] = {}
        for record in read_records(*args.combine):
            groups.setdefault((record.dataset, record.method), []).append(record)
        order = {d: i for i, d in enumerate(DEFAULT_DATASETS)}
        results = [(d, m, sorted(rs, key=lambda r: r.seed))
                   for (d, m), rs in sorted(groups.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1]))]
        write_table(results, out, args.note)
    else:
        methods, datasets, epochs, note = args.methods or DEFAULT_METHODS, args.datasets or DEFAULT_DATASETS, \
            args.epochs, args.note
        seeds = range(args.first_seed, args.first_seed + (args.seeds or 5))
        if args.quick:
            datasets, seeds, epochs = ["cora"], range(args.seeds or 1), args.epochs or 2
            note = f"**Quick smoke run** (Cora, 1 seed, {epochs} epochs): not a result. {note}".strip()
        run_suite(list(methods), list(datasets), list(seeds), out, epochs=epochs, device=args.device, note=note,
                  overrides=parse_overrides(args.set))
    print((out / "node.md").read_text())
    return 0
