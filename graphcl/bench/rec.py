"""The recommendation benchmark: LightGCN and LightGCL on Gowalla (the LightGCN split).

``graphcl bench rec [--methods ...] [--dataset NAME] [--seeds N] [--epochs E] [--time-budget S] [--quick] [--device D] [--out DIR]``
``graphcl bench rec --combine RECORDS.json ... [--note TEXT] [--out DIR]``

Each method is trained with its config and selected on validation Recall@20 (a 10 % per-user
hold-out of the training interactions, :func:`graphcl.experiment.run_recommendation`); the
selected model is tested by full ranking over all items. Writes ``recommendation.md`` (Recall@20,
NDCG@20, Recall@40, NDCG@40, then epochs, seconds per epoch, peak memory), ``recommendation.png``
(validation Recall@20 per epoch) and ``records/rec-<method>-<dataset>.json`` under ``--out``.
``--quick`` trains on Gowalla's first 300 users for 2 epochs: a smoke run, not a result.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Sequence

from graphcl.eval.summary import format_cell, summarize

DEFAULT_METHODS = ("lightgcn", "lightgcl")
METRICS = ("recall_20", "ndcg_20", "recall_40", "ndcg_40")
QUICK_USERS, QUICK_EPOCHS = 300, 2
#: Reference numbers for the LightGCN split of Gowalla (fractions).
PUBLISHED = {"lightgcn": "LightGCN paper Table 3: Recall@20 0.1830, NDCG@20 0.1550",
             "lightgcl": "EASE^R (BARS): Recall@20 0.1765"}


def _fraction(summary: dict[str, tuple[float, float]], key: str) -> str:
    mean, std = summary[key]
    return f"{mean:.4f} ± {std:.4f}"


def write_results(results: list[tuple[str, str, list[dict[str, Any]]]], out: Path, note: str = "") -> Path:
    """``recommendation.md`` and ``recommendation.png`` from ``[(dataset, method, records)]``."""
    lines = ["# Recommendation (full ranking over all items)", "",
             "Recall@K / NDCG@K as fractions, mean ± std over seeds; the model is chosen by validation Recall@20 "
             "(10 % of each user's training interactions held out), then tested once; the training and validation "
             "interactions of a user are excluded from its ranking. Seconds per epoch exclude the validation passes; "
             "peak memory is the process RSS on CPU, device allocations on CUDA.", ""]
    if note:
        lines += [note, ""]
    lines += ["| dataset | method | seeds | Recall@20 | NDCG@20 | Recall@40 | NDCG@40 | epochs (best) | s / epoch | "
              "peak MiB | device | reference |", "|" + "---|" * 12]
    for dataset, method, records in results:
        s = summarize(records)
        epochs = "/".join(f"{r['epochs']} ({r['best_epoch']})" for r in records)
        per_epoch = [r["seconds_per_epoch"] for r in records]
        lines.append(f"| {dataset} | {method} | {len(records)} | " + " | ".join(_fraction(s, m) for m in METRICS)
                     + f" | {epochs} | {sum(per_epoch) / len(per_epoch):.1f} | "
                     + format_cell("peak_memory_mb", *s["peak_memory_mb"]) + f" | {records[0]['device']} | "
                     + PUBLISHED.get(method, "") + " |")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "recommendation.md"
    path.write_text("\n".join(lines) + "\n")
    _plot(results, out / "recommendation.png")
    return path


def _plot(results: list[tuple[str, str, list[dict[str, Any]]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for dataset, method, records in results:
        for r in records:
            if r.get("val_curve"):
                epochs, recall = zip(*r["val_curve"])
                ax.plot(epochs, recall, marker=".", label=f"{method} ({dataset}, seed {r['seed']})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation Recall@20")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_suite(methods: Sequence[str], dataset: str, seeds: Sequence[int], out: Path, *, epochs: int | None = None,
              time_budget: float | None = None, device: str = "cpu", quick: bool = False,
              note: str = "") -> list[tuple[str, str, list]]:
    from graphcl.data import load_dataset
    from graphcl.data.interactions import first_users
    from graphcl.experiment import run_experiment, write_records

    data = load_dataset(dataset)
    overrides: dict[str, Any] = {} if time_budget is None else {"time_budget": time_budget}
    if quick:
        data = first_users(data, QUICK_USERS)
        overrides["eval_every"] = 1
    results = []
    for method in methods:
        records = run_experiment(method, data, seeds=seeds, epochs=epochs, device=device, overrides=overrides,
                                 progress=False)
        write_records(records, out / "records" / f"rec-{method}-{dataset}.json")
        results.append((dataset, method, records))
        write_results(results, out, note)
        s = summarize(records)
        print(f"{dataset} {method}: " + ", ".join(f"{m} {_fraction(s, m)}" for m in METRICS), flush=True)
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS))
    parser.add_argument("--dataset", default="gowalla")
    parser.add_argument("--seeds", type=int, default=1, help="number of seeds 0..N-1 (default 1)")
    parser.add_argument("--epochs", type=int, help="override the configs' maximum number of epochs")
    parser.add_argument("--time-budget", type=float, metavar="SECONDS",
                        help="stop each seed's training after this many seconds (the same budget for every method)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: the first {QUICK_USERS} users, {QUICK_EPOCHS} epochs (not a result)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="benchmarks/results", help="output folder (default benchmarks/results)")
    parser.add_argument("--combine", nargs="+", metavar="RECORDS", help="write the table from record files instead")
    parser.add_argument("--note", default="", help="a paragraph printed above the table")


def main(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.combine:
        results = []
        for path in args.combine:
            records = json.loads(Path(path).read_text())
            results.append((records[0]["dataset"], records[0]["method"], records))
        write_results(results, out, args.note)
    else:
        note = args.note
        epochs = args.epochs
        if args.quick:
            epochs = epochs or QUICK_EPOCHS
            note = f"**Quick smoke run** (first {QUICK_USERS} users, {epochs} epochs): not a result. {note}".strip()
        if args.time_budget is not None:
            note = (f"Each seed's training stopped at the first epoch ending after {args.time_budget:g} s "
                    f"(the same budget for every method). {note}").strip()
        run_suite(args.methods, args.dataset, range(args.seeds), out, epochs=epochs, time_budget=args.time_budget,
                  device=args.device, quick=args.quick, note=note)
    print((out / "recommendation.md").read_text())
    return 0
