"""Node classification suite: GRACE / GCA with their papers' settings, linear-probe accuracy.

    python benchmarks/node_classification.py                       # the whole suite
    python benchmarks/node_classification.py --only grace:cora     # one entry
    python benchmarks/node_classification.py --only gca:amazon-photo --epochs 200

Each entry is ``method:dataset`` with its split protocol and number of seeds. Results (mean ± std
over seeds, train seconds, peak memory) are appended entry by entry to
``benchmarks/results/node_classification.{md,csv}`` and the raw records to
``benchmarks/results/records/<method>-<dataset>.json``.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

from graphcl.data import load_dataset
from graphcl.eval.summary import format_cell, summarize
from graphcl.experiment import run_experiment, write_records

RESULTS = Path(__file__).resolve().parent / "results"

#: (method, dataset, split, seeds, published reference)
SUITE = [
    ("grace", "cora", "public", [0, 1, 2, 3, 4], "GRACE 83.3 ± 0.4 (random 1:9); DGI 82.3 / BGRL 82.7 (public)"),
    ("grace", "citeseer", "public", [0, 1, 2, 3, 4], "GRACE 72.1 ± 0.5 (random 1:9); DGI 71.8 (public)"),
    ("gca", "amazon-photo", "random", [0, 1, 2], "GCA-DE 92.53 ± 0.16 (random 10/10/80)"),
]
COLUMNS = ["accuracy", "micro_f1", "macro_f1", "train_seconds", "peak_memory_mb"]


def append_result(method: str, dataset: str, split: str, records: list[dict], reference: str) -> None:
    s = summarize(records)
    epochs = records[0]["epochs"]
    md = RESULTS / "node_classification.md"
    if not md.exists():
        md.write_text("# Node classification (linear probe on frozen embeddings)\n\n"
                      "Test accuracy / F1 at the best validation accuracy of the probe; mean ± std over "
                      "seeds; CPU (2 cores) unless stated.\n\n"
                      "| method | dataset | split | seeds | epochs | " + " | ".join(COLUMNS) + " | published |\n"
                      "|" + "---|" * (len(COLUMNS) + 6) + "\n")
    cells = [format_cell(c, *s[c]) for c in COLUMNS]
    with md.open("a") as f:
        f.write(f"| {method} | {dataset} | {split} | {len(records)} | {epochs} | " + " | ".join(cells)
                + f" | {reference} |\n")
    path = RESULTS / "node_classification.csv"
    new = not path.exists()
    with path.open("a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["method", "dataset", "split", "seeds", "epochs"]
                       + [f"{c}_{k}" for c in COLUMNS for k in ("mean", "std")] + ["device"])
        w.writerow([method, dataset, split, len(records), epochs] + [v for c in COLUMNS for v in s[c]]
                   + [records[0]["device"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="entries as method:dataset")
    parser.add_argument("--epochs", type=int, help="override the configs' epochs (say so when reporting)")
    parser.add_argument("--seeds", type=int, nargs="+", help="override the suite's seeds")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    (RESULTS / "records").mkdir(parents=True, exist_ok=True)
    for method, dataset, split, seeds, reference in SUITE:
        if args.only and f"{method}:{dataset}" not in args.only:
            continue
        data = load_dataset(dataset)
        records = run_experiment(method, data, seeds=args.seeds or seeds, epochs=args.epochs, split=split,
                                 device=args.device, progress=False)
        write_records(records, RESULTS / "records" / f"{method}-{dataset}.json")
        append_result(method, dataset, split, records, reference)
        print(f"{method} on {dataset}: " + ", ".join(
            f"{c} {format_cell(c, *summarize(records)[c])}" for c in COLUMNS), flush=True)


if __name__ == "__main__":
    main()
