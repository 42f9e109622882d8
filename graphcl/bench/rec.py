"""The recommendation benchmark: LightGCN and LightGCL on Gowalla (the LightGCN split).

``graphcl bench rec [--methods ...] [--datasets NAME] [--seeds N] [--epochs E] [--time-budget S] [--quick] [--device D] [--out DIR]``
``graphcl bench rec --combine RECORDS.json ... [--note TEXT] [--out DIR]``

Each method is trained with its config and selected on validation Recall@20 (a 10 % per-user
hold-out of the training interactions, :mod:`graphcl.tasks.rec`); the selected model is tested by
full ranking over all items. Writes ``recommendation.md`` (Recall@20, NDCG@20, Recall@40, NDCG@40,
then epochs, seconds per epoch, peak memory), ``recommendation.png`` (validation Recall@20 per
epoch) and ``records/rec-<method>-<dataset>.json`` under ``--out``. ``--quick`` trains on
Gowalla's first 300 users for 2 epochs: a smoke run, not a result.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

from graphcl.bench import add_common_arguments, parse_overrides, run_grid
from graphcl.records import Record, Table, mean_std, read_records, write_records, write_report

DEFAULT_METHODS = ("lightgcn", "lightgcl")
METRICS = ("recall_20", "ndcg_20", "recall_40", "ndcg_40")
QUICK_USERS, QUICK_EPOCHS = 300, 2
#: Reference numbers for the LightGCN split of Gowalla (fractions).
PUBLISHED = {"lightgcn": "LightGCN paper Table 3: Recall@20 0.1830, NDCG@20 0.1550",
             "lightgcl": "EASE^R (BARS): Recall@20 0.1765"}
INTRO = ("Recall@K / NDCG@K as fractions, mean ± std over seeds; the model is chosen by validation Recall@20 (10 % "
         "of each user's training interactions held out), then tested once; the training and validation "
         "interactions of a user are excluded from its ranking. Seconds per epoch exclude the validation passes; "
         "peak memory is the process RSS on CPU, device allocations on CUDA.")


def _fraction(records: Sequence[Record], key: str) -> str:
    mean, std = mean_std(r.metrics.get(key) for r in records)
    return f"{mean:.4f} ± {std:.4f}"


def write_results(results: Sequence[tuple[str, str, list[Record]]], out: Path, note: str = "") -> Path:
    """``recommendation.md`` and ``recommendation.png`` from ``[(dataset, method, records)]``."""
    table = Table(["dataset", "method", "seeds", *METRICS, "epochs (best)", "s / epoch", "peak_memory_mb", "device",
                   "reference"],
                  headers={"recall_20": "Recall@20", "ndcg_20": "NDCG@20", "recall_40": "Recall@40",
                           "ndcg_40": "NDCG@40", "peak_memory_mb": "peak MiB"})
    for dataset, method, records in results:
        per_epoch = [r.extra["seconds_per_epoch"] for r in records]
        table.add(**{"dataset": dataset, "method": method, "seeds": len(records), "device": records[0].device,
                     "epochs (best)": "/".join(f"{r.epochs} ({r.extra['best_epoch']})" for r in records),
                     "s / epoch": f"{sum(per_epoch) / len(per_epoch):.1f}", "reference": PUBLISHED.get(method, ""),
                     "peak_memory_mb": ("peak_memory_mb", records), **{m: _fraction(records, m) for m in METRICS}})
    path = write_report(out / "recommendation.md", "Recommendation (full ranking over all items)", table,
                        intro=INTRO, note=note)
    _plot(results, out / "recommendation.png")
    return path


def _plot(results: Sequence[tuple[str, str, list[Record]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for dataset, method, records in results:
        for r in records:
            if r.extra.get("val_curve"):
                epochs, recall = zip(*r.extra["val_curve"])
                ax.plot(epochs, recall, marker=".", label=f"{method} ({dataset}, seed {r.seed})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation Recall@20")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_suite(methods: Sequence[str], dataset: str, seeds: Sequence[int], out: Path, *, epochs: int | None = None,
              time_budget: float | None = None, device: str = "cpu", quick: bool = False,
              note: str = "", overrides: dict[str, Any] | None = None) -> list[tuple[str, str, list[Record]]]:
    from graphcl.data.interactions import first_users

    overrides = dict(overrides or {})
    if time_budget is not None:
        overrides["time_budget"] = time_budget
    if quick:
        overrides["eval_every"] = 1
    results: list[tuple[str, str, list[Record]]] = []

    def write(name: str, method: str, records: list[Record], skipped: list[str]) -> None:
        write_records(records, out / "records" / f"rec-{method}-{name}.json")
        results.append((name, method, records))
        write_results(results, out, note)

    run_grid(methods, [dataset], seeds, epochs=epochs, overrides=overrides, device=device, progress=False,
             prepare=(lambda data: first_users(data, QUICK_USERS)) if quick else None, on_records=write)
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, seeds=1, quick=f"the first {QUICK_USERS} users, {QUICK_EPOCHS} epochs",
                         combine="write the table from these record files", methods=DEFAULT_METHODS)
    parser.add_argument("--dataset", default="gowalla")
    parser.add_argument("--time-budget", type=float, metavar="SECONDS",
                        help="stop each seed's training after this many seconds (the same budget for every method)")


def main(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.combine:
        results = []
        for path in args.combine:
            records = read_records(path)
            results.append((records[0].dataset, records[0].method, records))
        write_results(results, out, args.note)
    else:
        note, epochs = args.note, args.epochs
        if args.quick:
            epochs = epochs or QUICK_EPOCHS
            note = f"**Quick smoke run** (first {QUICK_USERS} users, {epochs} epochs): not a result. {note}".strip()
        if args.time_budget is not None:
            note = (f"Each seed's training stopped at the first epoch ending after {args.time_budget:g} s "
                    f"(the same budget for every method). {note}").strip()
        seeds = range(args.first_seed, args.first_seed + (args.seeds or 1))
        run_suite(args.methods or DEFAULT_METHODS, args.dataset, list(seeds), out, epochs=epochs,
                  time_budget=args.time_budget, device=args.device, quick=args.quick, note=note,
                  overrides=parse_overrides(args.set))
    print((out / "recommendation.md").read_text())
    return 0
