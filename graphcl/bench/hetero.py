"""The heterogeneous benchmark suite: MEOW, AdaMEOW and the HeCo-style baseline on the HeCo datasets.

``graphcl bench hetero [--methods ...] [--datasets ...] [--seeds N] [--epochs E] [--set KEY=VALUE ...]
[--quick] [--out DIR]``
``graphcl bench hetero --combine RECORDS.json ... [--note TEXT] [--out DIR]``

Every method x dataset x seed is trained with its config (early stopping on the training loss,
no test labels) and scored by :func:`graphcl.tasks.hetero.evaluate_hetero`: logistic-regression
probes on the 20 / 40 / 60 labels-per-class splits (Macro-F1, Micro-F1, AUC at the best
validation step, 50 probes) and k-means NMI / ARI over 10 seeds. Writes ``hetero.md`` (mean ± std
over seeds, train seconds, peak memory, the published numbers beside) and
``records/hetero-<method>-<dataset>.json`` under ``--out``, after every method x dataset.
``--set`` overrides config entries of every method that takes them, e.g. ``--set select_epoch=val
eval_every=10``: each split's encoder epoch by its own validation Macro-F1 (rows ``val``) instead of
the training loss.
``--combine`` rebuilds the table from record files instead (the suite's, or ``graphcl train
--out``'s), grouping them by dataset, method and how the encoder epoch was chosen (the training
loss's early stopping, ``select_epoch=val``: validation Macro-F1 per split, or ``val20``: older runs
with one epoch chosen on the 20-split for all), so runs made apart (seeds in
parallel, other machines, resumed runs) land in one table.
"""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from graphcl.bench import add_common_arguments, parse_overrides, run_grid, skipped_note
from graphcl.errors import InvalidArgumentError
from graphcl.records import Record, Table, read_records, write_records, write_report

DEFAULT_METHODS = ("meow", "adameow", "heco-style")
DEFAULT_DATASETS = ("heco-acm", "heco-dblp", "heco-aminer")
QUICK = {"datasets": ("heco-acm",), "seeds": 1, "epochs": 2}
#: Published numbers (%) for the reference column, as the issue quotes them: HeCo's paper (± over
#: runs) and AdaMEOW's own logs in its repository (``code_adameow/result_*.txt``: one trained encoder
#: each, scored at the first evaluation after ``start_eval``; ± over the 50 probes of that encoder,
#: not over training seeds). Macro-F1 unless named.
PUBLISHED = {
    ("heco-acm", 20): ("Macro-F1: HeCo 88.56 ± 0.8; AdaMEOW logs 91.69 ± 0.2 (one encoder, epoch 500, ± over probes; "
                       "Micro-F1 91.69, AUC 98.57)"),
    ("heco-dblp", 20): "Macro-F1: HeCo 91.28 ± 0.2",
    ("heco-aminer", 20): ("Macro-F1: HeCo 71.38 ± 1.1; AdaMEOW logs 71.57 ± 0.71 "
                          "(one encoder, epoch 2600, ± over probes)"),
}


def epoch_selection(record: Record) -> str:
    """How a run's encoder epochs were chosen: ``val`` (``select_epoch=val``: each split's epoch by
    its own validation Macro-F1, the record's ``best_epochs``), ``val20`` (records before that rule:
    one ``best_epoch`` chosen on the 20-split's validation nodes for every split) or ``loss`` (the
    last epoch: early stopping on the training loss or the cap)."""
    if "best_epochs" in record.extra:
        return "val"
    return "val20" if "best_epoch" in record.extra else "loss"


def chosen_epochs(record: Record, split: int) -> int:
    """The encoder epoch a record's ``split`` was evaluated at."""
    selection = epoch_selection(record)
    if selection == "val":
        return record.extra["best_epochs"][str(split)]
    return record.extra["best_epoch"] if selection == "val20" else record.epochs


def devices(records: Sequence[Record]) -> str:
    """The device the runs used, or each device with its number of runs where they differ (``cuda ×5, cpu ×5``:
    the seconds and memory columns then mix them)."""
    counts = Counter(str(r.device) for r in records)
    return next(iter(counts)) if len(counts) == 1 else ", ".join(f"{d} ×{n}" for d, n in counts.items())


INTRO = ("Macro-F1 / Micro-F1 / AUC in % (logistic-regression probes on the fixed 20 / 40 / 60 labels-per-class "
         "splits, test scores at the best validation step, 50 probes), k-means NMI / ARI over 10 seeds; mean ± std "
         "over encoder seeds. The encoder epoch is chosen without test labels: `loss`, the last epoch (early "
         "stopping on the training loss, or the epoch cap); `val`, for each split the epoch with the best "
         "validation Macro-F1 of that split's probe (`select_epoch=val`; `epochs` then lists the chosen epochs); "
         "`val20` (runs before this rule), one epoch chosen on the 20-split's validation nodes for all three "
         "splits, its 40 / 60 rows flagged ⚠: those splits' test nodes overlap the 20-split's validation nodes.")


def table(results: Sequence[tuple[str, str, list[Record]]]) -> Table:
    """One row per dataset x method x encoder-epoch rule x split, then the clustering columns."""
    from graphcl.tasks.hetero import HETERO_SPLITS

    out = Table(["dataset", "method", "epoch by", "split", "seeds", "epochs", "macro_f1", "micro_f1", "auc", "nmi",
                 "ari", "train_seconds", "peak_memory_mb", "device", "published"],
                headers={"macro_f1": "Macro-F1", "micro_f1": "Micro-F1", "auc": "AUC", "nmi": "NMI", "ari": "ARI",
                         "train_seconds": "seconds", "peak_memory_mb": "peak MiB"})
    for dataset, method, records in results:
        selection = epoch_selection(records[0])
        for k in HETERO_SPLITS:
            if f"macro_f1_{k}" not in records[0].metrics:
                continue
            out.add(**{"dataset": dataset, "method": method, "split": k, "seeds": len(records),
                       "epoch by": f"{selection} ⚠" if selection == "val20" and k != HETERO_SPLITS[0] else selection,
                       "epochs": "/".join(str(chosen_epochs(r, k)) for r in records), "device": devices(records),
                       "published": PUBLISHED.get((dataset, k), ""), "train_seconds": ("train_seconds", records),
                       "peak_memory_mb": ("peak_memory_mb", records), "nmi": ("nmi", records), "ari": ("ari", records),
                       **{m: (f"{m}_{k}", records) for m in ("macro_f1", "micro_f1", "auc")}})
    return out


def write_table(results: Sequence[tuple[str, str, list[Record]]], out: Path, note: str = "") -> Path:
    """``hetero.md`` under ``out``."""
    return write_report(out / "hetero.md", "Heterogeneous node classification and clustering (HeCo / MEOW protocol)",
                        table(results), intro=INTRO, note=note)


def combine_records(paths: Sequence[str | Path]) -> list[tuple[str, str, list[Record]]]:
    """Record files -> ``[(dataset, method, records)]``, sorted, one record per seed and encoder-epoch
    rule (:func:`epoch_selection`; a seed that appears twice is an error: say which run to keep)."""
    groups: dict[tuple[str, str, str], dict[int, Record]] = {}
    for path in paths:
        for record in read_records(path):
            seeds = groups.setdefault((record.dataset, record.method, epoch_selection(record)), {})
            if record.seed in seeds:
                raise InvalidArgumentError(f"{path}: {record.method} on {record.dataset} seed {record.seed} appears "
                                           "twice among the combined files; pass only one run per seed")
            seeds[record.seed] = record
    if not groups:
        raise InvalidArgumentError("no records in the combined files")
    return [(dataset, method, [seeds[k] for k in sorted(seeds)])
            for (dataset, method, _), seeds in sorted(groups.items())]


def run_suite(methods: Sequence[str], datasets: Sequence[str], seeds: Sequence[int], out: Path, *,
              epochs: int | None = None, overrides: dict[str, Any] | None = None, device: str = "cpu",
              note: str = "", progress: bool = True) -> list[tuple[str, str, list[Record]]]:
    results: list[tuple[str, str, list[Record]]] = []

    def write(dataset: str, method: str, records: list[Record], skipped: list[str]) -> None:
        write_records(records, out / "records" / f"hetero-{method}-{dataset}.json")
        results.append((dataset, method, records))
        write_table(results, out, f"{note} {skipped_note(skipped)}".strip())

    run_grid(methods, datasets, seeds, evals=("node", "cluster"), epochs=epochs, overrides=overrides, device=device,
             progress=progress, on_records=write)
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, seeds=5, quick="heco-acm, 1 seed, 2 epochs",
                         combine="write the table from these record files (JSON lists from the suite or "
                                 "`graphcl train --out`)", methods=DEFAULT_METHODS, datasets=DEFAULT_DATASETS)


def main(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.combine:
        path = write_table(combine_records(args.combine), out, args.note)
        print(path.read_text())
        return 0
    overrides = parse_overrides(args.set)
    note = args.note
    if overrides:
        note = f"Config overrides for every method that takes them: {overrides}. {note}".strip()
    methods, datasets = args.methods or DEFAULT_METHODS, args.datasets or DEFAULT_DATASETS
    seeds, epochs = args.seeds or 5, args.epochs
    if args.quick:
        datasets, seeds, epochs = args.datasets or QUICK["datasets"], args.seeds or QUICK["seeds"], epochs or QUICK["epochs"]
        note = f"**Quick smoke run** ({epochs} epochs): checks the pipeline, not a result. {note}".strip()
    elif epochs is not None:
        note = f"Every method trained for {epochs} epochs (not the configs' early stopping). {note}".strip()
    run_suite(list(methods), list(datasets), list(range(args.first_seed, args.first_seed + seeds)), out,
              epochs=epochs, overrides=overrides, device=args.device, note=note)
    print((out / "hetero.md").read_text())
    return 0
