"""Aggregation of per-seed records into mean +/- std tables."""
from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import numpy as np

#: Metrics stored as fractions in records and printed as percentages in tables.
_CLUSTER_METRICS = {"acc", "nmi", "ari", "f1"}
#: Metrics stored as fractions and printed as percentages (``q_*``: a method's own clusters).
PERCENT_METRICS = {"accuracy", "micro_f1", "macro_f1", "val_accuracy", *_CLUSTER_METRICS,
                   *(f"q_{m}" for m in _CLUSTER_METRICS),
                   *(f"{m}_{k}" for m in ("macro_f1", "micro_f1", "auc") for k in (20, 40, 60)),  # HeCo protocol
                   "recall_20", "ndcg_20", "recall_40", "ndcg_40", "val_recall_20",  # full ranking
                   "svm_accuracy", "logreg_accuracy", "svm_accuracy_std", "logreg_accuracy_std"}  # TU protocol


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population standard deviation (``ddof=0``, as papers report over seeds)."""
    arr = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if arr.size == 0:
        return math.nan, math.nan
    return float(arr.mean()), float(arr.std())


def summarize(records: Iterable[Mapping]) -> dict[str, tuple[float, float]]:
    """``{metric: (mean, std)}`` over records, for every metric plus train seconds and peak memory."""
    records = list(records)
    columns: dict[str, list[float]] = {}
    for r in records:
        for k, v in r.get("metrics", {}).items():
            if isinstance(v, (int, float)):
                columns.setdefault(k, []).append(float(v))
        for k in ("train_seconds", "peak_memory_mb"):
            if k in r:
                columns.setdefault(k, []).append(float(r[k]))
    return {k: mean_std(v) for k, v in columns.items()}


def format_cell(metric: str, mean: float, std: float) -> str:
    scale = 100.0 if metric in PERCENT_METRICS else 1.0
    digits = 2 if metric in PERCENT_METRICS else 1
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def results_table(rows: Sequence[tuple[str, Mapping[str, tuple[float, float]], int]],
                  metrics: Sequence[str]) -> str:
    """A markdown table: one row per ``(label, summary, num_seeds)``, one column per metric."""
    header = "| run | seeds | " + " | ".join(m for m in metrics) + " |"
    lines = [header, "|" + "---|" * (len(metrics) + 2)]
    for label, summary, n in rows:
        cells = [format_cell(m, *summary[m]) if m in summary else "–" for m in metrics]
        lines.append(f"| {label} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
