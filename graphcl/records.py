"""Run records and the one table writer every report uses.

A :class:`Record` is one trained seed: what ran (method, dataset, seed, config, device, package
versions), what it cost (epochs, seconds, peak memory) and what it scored (``metrics``, fractions in
[0, 1] for scores). :func:`write_records` / :func:`read_records` store them as JSON lists.
:class:`Table` turns groups of records into a markdown or CSV table of mean ± std over seeds;
:func:`write_report` writes a titled markdown report around one table.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from graphcl.errors import InvalidArgumentError

__all__ = ["Record", "write_records", "read_records", "package_versions", "mean_std", "summarize", "format_cell",
           "Table", "write_report", "ORACLE_FLAG", "PERCENT_METRICS"]

#: The label of every row chosen with test labels (the papers' "best epoch" protocol): never hidden.
ORACLE_FLAG = "oracle ⚠ best epoch by test ACC"

_CLUSTER_METRICS = ("acc", "nmi", "ari", "f1")
#: Metrics stored as fractions in records and printed as percentages in tables.
PERCENT_METRICS = frozenset({
    "accuracy", "micro_f1", "macro_f1", "val_accuracy",
    *_CLUSTER_METRICS, *(f"{mode}_{m}" for mode in ("q", "pretrained", "stopped", "oracle") for m in _CLUSTER_METRICS),
    *(f"{m}_{k}" for m in ("macro_f1", "micro_f1", "auc") for k in (20, 40, 60)),  # HeCo protocol
    "recall_20", "ndcg_20", "recall_40", "ndcg_40", "val_recall_20",  # full ranking
    "svm_accuracy", "logreg_accuracy", "svm_accuracy_std", "logreg_accuracy_std",  # TU protocol
})


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages that shape a result."""
    versions = {"python": platform.python_version()}
    for pkg in ("graphcl", "torch", "torch_geometric", "numpy", "scikit-learn", "scipy"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    return versions


@dataclass
class Record:
    """One method x dataset x seed.

    ``extra`` holds what only some tasks report (e.g. ``best_epoch``, ``val_curve``,
    ``restart_modularity``, ``oracle_epoch``); it is written at the top level of the JSON object.
    ``arrays`` holds in-memory results for plots (embeddings, predicted clusters) and is never written.
    """

    method: str
    dataset: str
    seed: int
    metrics: dict[str, float] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    epochs: int = 0
    final_loss: float | None = None
    train_seconds: float = 0.0
    peak_memory_mb: float = 0.0
    stopped_early: bool = False
    device: str = "cpu"
    versions: dict[str, str] = field(default_factory=package_versions)
    extra: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: the fields (without ``arrays``) and ``extra``'s entries beside them."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("extra", "arrays")}
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Record:
        """The inverse of :meth:`to_dict`; unknown keys go to ``extra``."""
        if not {"method", "dataset", "seed"} <= set(raw):
            raise InvalidArgumentError(f"not a graphcl run record (needs method, dataset, seed): keys {sorted(raw)}")
        names = {f.name for f in dataclasses.fields(cls)} - {"extra", "arrays"}
        known = {k: v for k, v in raw.items() if k in names}
        known.setdefault("versions", {})
        return cls(**known, extra={k: v for k, v in raw.items() if k not in names})


def write_records(records: Iterable[Record], path: str | Path) -> Path:
    """Write records as a JSON list (one object per seed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([r.to_dict() for r in records], indent=1, default=float) + "\n")
    return path


def read_records(*paths: str | Path) -> list[Record]:
    """The records of one or more JSON files written by :func:`write_records` (or ``graphcl train --out``)."""
    records = []
    for path in paths:
        try:
            payload = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise InvalidArgumentError(f"{path}: not a readable JSON record file ({error})") from None
        if not isinstance(payload, list):
            raise InvalidArgumentError(f"{path}: expected a JSON list of run records")
        records += [Record.from_dict(r) for r in payload]
    return records


def mean_std(values: Iterable[float | None]) -> tuple[float, float]:
    """Mean and population standard deviation (``ddof=0``, as papers report over seeds), NaNs and
    ``None`` left out; ``(nan, nan)`` when nothing is left."""
    arr = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if arr.size == 0:
        return math.nan, math.nan
    return float(arr.mean()), float(arr.std())


def summarize(records: Iterable[Record]) -> dict[str, tuple[float, float]]:
    """``{metric: (mean, std)}`` over records, for every metric plus train seconds and peak memory."""
    columns: dict[str, list[float]] = {}
    for r in records:
        for k, v in r.metrics.items():
            if isinstance(v, (int, float)):
                columns.setdefault(k, []).append(float(v))
        columns.setdefault("train_seconds", []).append(float(r.train_seconds))
        columns.setdefault("peak_memory_mb", []).append(float(r.peak_memory_mb))
    return {k: mean_std(v) for k, v in columns.items()}


def format_cell(metric: str, mean: float, std: float) -> str:
    """``mean ± std``: scores in % with two decimals, other quantities as they are with one."""
    scale = 100.0 if metric in PERCENT_METRICS else 1.0
    digits = 2 if metric in PERCENT_METRICS else 1
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


class Table:
    """Rows of cells under named columns, written as markdown or CSV.

    A cell is a string, a number, or ``(metric, records)``: the mean ± std of that metric over the
    records (``train_seconds`` and ``peak_memory_mb`` included), ``–`` where no record has it. In
    CSV such a cell becomes two columns, ``<header>_mean`` and ``<header>_std``, in the metric's
    stored unit.
    """

    def __init__(self, columns: Sequence[str], headers: Mapping[str, str] | None = None) -> None:
        self.columns = list(columns)
        #: Markdown header of a column where it differs from the column's name (CSV keeps the names).
        self.headers = dict(headers or {})
        self.rows: list[dict[str, Any]] = []

    def add(self, **cells: Any) -> None:
        unknown = set(cells) - set(self.columns)
        if unknown:
            raise InvalidArgumentError(f"table has no columns {sorted(unknown)}; its columns are {self.columns}")
        self.rows.append(cells)

    @staticmethod
    def _stat(cell: Any) -> tuple[str, tuple[float, float]] | None:
        if isinstance(cell, tuple) and len(cell) == 2 and isinstance(cell[0], str) and not isinstance(cell[1], str):
            metric, records = cell
            return metric, summarize(records).get(metric, (math.nan, math.nan))
        return None

    def _text(self, cell: Any) -> str:
        stat = self._stat(cell)
        if stat is not None:
            metric, (mean, std) = stat
            return "–" if math.isnan(mean) else format_cell(metric, mean, std)
        return "" if cell is None else str(cell)

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.headers.get(c, c) for c in self.columns) + " |",
                 "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(self._text(row.get(c)) for c in self.columns) + " |" for row in self.rows]
        return "\n".join(lines)

    def csv(self) -> str:
        stats = {c for row in self.rows for c in self.columns if self._stat(row.get(c)) is not None}
        header = [h for c in self.columns for h in ((f"{c}_mean", f"{c}_std") if c in stats else (c,))]
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for row in self.rows:
            cells: list[Any] = []
            for c in self.columns:
                stat = self._stat(row.get(c))
                cells += list(stat[1]) if stat is not None else ([""] * 2 if c in stats else [self._text(row.get(c))])
            writer.writerow(cells)
        return buffer.getvalue()


def write_report(path: str | Path, title: str, table: Table, *, intro: str = "", note: str = "",
                 csv_path: str | Path | None = None) -> Path:
    """A markdown file: ``# title``, the intro paragraph, the note, the table (and the table as CSV)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = [f"# {title}", intro, note, table.markdown()]
    path.write_text("\n\n".join(p for p in parts if p) + "\n")
    if csv_path is not None:
        Path(csv_path).write_text(table.csv())
    return path
