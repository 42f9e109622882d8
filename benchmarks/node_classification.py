"""Node classification suite: GRACE / GCA with their papers' settings, linear-probe accuracy.

    python benchmarks/node_classification.py                       # the whole suite
    python benchmarks/node_classification.py --only grace:cora     # one entry
    python benchmarks/node_classification.py --only gca:amazon-photo --epochs 200

Each entry is ``method:dataset`` with its split protocol and number of seeds, trained through the
runner (:func:`graphcl.runner.run`). After every entry the table of everything run so far (mean ±
std over seeds, train seconds, peak memory) is written to ``--out``/node_classification.{md,csv}``
and the raw records to ``--out``/records/<method>-<dataset>.json``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from graphcl.data import load_dataset
from graphcl.records import Table, write_records, write_report
from graphcl.runner import run

#: (method, dataset, split, seeds, published reference)
SUITE = [
    ("grace", "cora", "public", [0, 1, 2, 3, 4], "GRACE 83.3 ± 0.4 (random 1:9); DGI 82.3 / BGRL 82.7 (public)"),
    ("grace", "citeseer", "public", [0, 1, 2, 3, 4], "GRACE 72.1 ± 0.5 (random 1:9); DGI 71.8 (public)"),
    ("gca", "amazon-photo", "random", [0, 1, 2], "GCA-DE 92.53 ± 0.16 (random 10/10/80)"),
]
COLUMNS = ["accuracy", "micro_f1", "macro_f1", "train_seconds", "peak_memory_mb"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="entries as method:dataset")
    parser.add_argument("--epochs", type=int, help="override the configs' epochs (say so when reporting)")
    parser.add_argument("--seeds", type=int, nargs="+", help="override the suite's seeds")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="runs/bench", help="output folder (default runs/bench)")
    args = parser.parse_args()
    out = Path(args.out)
    table = Table(["method", "dataset", "split", "seeds", "epochs", *COLUMNS, "device", "published"])
    for method, dataset, split, seeds, reference in SUITE:
        if args.only and f"{method}:{dataset}" not in args.only:
            continue
        records = run(method, load_dataset(dataset), seeds=args.seeds or seeds, epochs=args.epochs, split=split,
                      device=args.device, progress=False)
        write_records(records, out / "records" / f"{method}-{dataset}.json")
        table.add(method=method, dataset=dataset, split=split, seeds=len(records), epochs=records[0].epochs,
                  device=records[0].device, published=reference, **{c: (c, records) for c in COLUMNS})
        write_report(out / "node_classification.md", "Node classification (linear probe on frozen embeddings)", table,
                     intro="Test accuracy / F1 at the best validation accuracy of the probe; mean ± std over seeds.",
                     csv_path=out / "node_classification.csv")
        print(table.markdown().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
