"""Benchmark suites behind ``graphcl bench``: grids of methods x datasets x seeds over the runner
(:func:`run_grid`), each suite writing its table with :class:`graphcl.records.Table`."""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from graphcl.errors import DatasetUnavailableError, InvalidArgumentError
from graphcl.records import Record

__all__ = ["GridEntry", "run_grid", "add_common_arguments", "parse_overrides", "skipped_note"]


@dataclass
class GridEntry:
    """One row group of a suite: a registered ``method`` under a table ``label``, with fixed run
    arguments (e.g. ``{"epochs": 0}`` for an untrained baseline), or a ``baseline`` callable
    ``(data, seed) -> Record`` that trains nothing."""

    label: str
    method: str | None = None
    fixed: dict[str, Any] = field(default_factory=dict)
    baseline: Callable[[Any, int], Record] | None = None

    @classmethod
    def of(cls, entry: str | GridEntry) -> GridEntry:
        return entry if isinstance(entry, GridEntry) else cls(label=entry, method=entry)


def run_grid(entries: Sequence[str | GridEntry], datasets: Sequence[str], seeds: Sequence[int], *,
             evals: Sequence[str] | None = None, epochs: int | None = None, overrides: dict[str, Any] | None = None,
             device: str = "cpu", progress: bool = True, prepare: Callable[[Any], Any] | None = None,
             on_records: Callable[[str, str, list[Record], list[str]], None] | None = None) -> list[Record]:
    """Run every entry x dataset x seed through :func:`graphcl.runner.run`.

    Datasets that cannot be loaded here are skipped with a printed reason (``on_records`` receives
    the list of skipped ones so far); ``prepare`` transforms each loaded dataset; each method gets
    the ``evals`` its task has (e.g. ``stopped`` only for deep clustering); ``overrides``
    reach each method only where it takes them (:func:`~graphcl.methods.applicable_overrides`).
    ``on_records(dataset, label, records, skipped)`` is called after each entry x dataset (so
    partial runs leave their tables). Records whose label differs from the method carry it in
    ``extra["label"]``.
    """
    from graphcl.data import load_dataset
    from graphcl.methods import applicable_overrides, get_method_class, method_names
    from graphcl.runner import run
    from graphcl.tasks import get_task

    entries = [GridEntry.of(e) for e in entries]
    unknown = [e.label for e in entries if e.baseline is None and e.method not in method_names()]
    if unknown:
        raise InvalidArgumentError(f"unknown methods {unknown}; choose from "
                                   f"{[*(e.label for e in entries if e.baseline is not None), *method_names()]}")
    everything: list[Record] = []
    skipped: list[str] = []
    for dataset in datasets:
        try:
            data = load_dataset(dataset)
        except DatasetUnavailableError as error:  # e.g. hhar / reut: no download source; go on with the rest
            reason = str(error).splitlines()[0]
            print(f"{dataset}: skipped, not available here ({reason})", flush=True)
            skipped.append(f"{dataset} ({reason})")
            continue
        if prepare is not None:
            data = prepare(data)
        for entry in entries:
            start = time.perf_counter()
            if entry.baseline is not None:
                records = [entry.baseline(data, seed) for seed in seeds]
            else:
                options = {"epochs": epochs, **entry.fixed}
                task = get_task(get_method_class(entry.method).task)
                own = None if evals is None else [e for e in evals if e in task.evaluations]
                records = run(entry.method, data, seeds=seeds, evals=own, device=device, progress=progress,
                              overrides=applicable_overrides(entry.method, overrides), **options)
            for record in records:
                if entry.label != record.method:
                    record.extra["label"] = entry.label
            everything += records
            if progress:
                print(f"{dataset} {entry.label}: {len(records)} seeds in {time.perf_counter() - start:.0f} s", flush=True)
            if on_records is not None:
                on_records(dataset, entry.label, records, skipped)
    if not everything:
        raise DatasetUnavailableError(f"none of the datasets could be loaded: {'; '.join(skipped)}")
    return everything


def skipped_note(skipped: Sequence[str]) -> str:
    return f"Skipped, not available on this machine: {'; '.join(skipped)}." if skipped else ""


def parse_overrides(texts: Sequence[str]) -> dict[str, Any]:
    from graphcl.configs import parse_override
    return dict(parse_override(text) for text in texts)


def add_common_arguments(parser: argparse.ArgumentParser, *, seeds: int, quick: str, combine: str,
                         methods: Sequence[str] | None = None, datasets: Sequence[str] | None = None) -> None:
    """The flags every suite shares: ``--methods``, ``--datasets``, ``--seeds``, ``--first-seed``,
    ``--epochs``, ``--set``, ``--quick``, ``--device``, ``--out``, ``--combine``, ``--note``."""
    if methods is not None:
        parser.add_argument("--methods", nargs="+", help=f"default: {' '.join(methods)}")
    if datasets is not None:
        parser.add_argument("--datasets", nargs="+", help=f"default: {' '.join(datasets)}")
    parser.add_argument("--seeds", type=int, help=f"number of seeds FIRST..FIRST+N-1 (default {seeds})")
    parser.add_argument("--first-seed", type=int, default=0, metavar="FIRST",
                        help="first seed (default 0), to split the seeds over processes; merge with --combine")
    parser.add_argument("--epochs", type=int, help="override every method's epochs (say so when reporting)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="override config entries of every method that takes them")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {quick} (not a result)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="runs/bench",
                        help="output folder (default runs/bench; the curated tables in benchmarks/results stay as they are)")
    parser.add_argument("--combine", nargs="+", metavar="PATH", help=f"train nothing: {combine}")
    parser.add_argument("--note", default="", help="a paragraph printed above the table")
