"""Fixed-seed runs whose metrics must not change when the code is reorganised.

``python benchmarks/behaviour_check.py record OUT.json``: run the five commands below through the
``graphcl`` command line (one thread, fresh cache) and write their metrics;
``python benchmarks/behaviour_check.py check REFERENCE.json``: run them again and compare every
metric with the reference (absolute difference at most ``--tol``, default 1e-6); exit 1 on a
difference or a metric that appeared or vanished.

The runs: GRACE on Cora (20 epochs, seed 0, linear probe and k-means), PamC on ACM (the
clustering suite's ``--quick``), GraphCL on MUTAG (1 seed), MEOW on heco-acm (20 epochs) and
LightGCN on a small interaction folder this script writes (seeded; through the Python API, as the
command line takes interaction data only by registered name). Needs ``GRAPHCL_MIRROR``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def write_interactions(folder: Path, num_users: int = 120, num_items: int = 400, seed: int = 0) -> Path:
    """A LightGCN-format folder (``train.txt`` / ``test.txt``): each user likes items of its group."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    train, test = [], []
    for user in range(num_users):
        group = user % 4
        pool = np.arange(group * num_items // 4, (group + 1) * num_items // 4)
        liked = rng.choice(pool, size=12, replace=False)
        train.append([user, *liked[:10].tolist()])
        test.append([user, *liked[10:].tolist()])
    for name, rows in (("train.txt", train), ("test.txt", test)):
        (folder / name).write_text("\n".join(" ".join(map(str, r)) for r in rows) + "\n")
    return folder


def _train(method: str, dataset: str, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "graphcl", "train", method, "--dataset", dataset, "--quiet", "--out", str(out),
            *extra]


#: LightGCN on the small folder through the Python API: the command line takes interaction data only
#: by registered name (gowalla) before issue 24. Runs with whichever runner the checkout has.
_LIGHTGCN = """
import json, sys
from graphcl.data.interactions import load_interaction_folder
data = load_interaction_folder(sys.argv[1], name="small")
options = dict(seeds=[0], epochs=10, overrides={"eval_every": 2, "val_fraction": 0.2}, progress=False)
try:
    from graphcl.runner import run
    records = [r.to_dict() for r in run("lightgcn", data, **options)]
except ImportError:
    from graphcl.experiment import run_experiment
    records = run_experiment("lightgcn", data, **options)
open(sys.argv[2], "w").write(json.dumps(records, default=float))
"""


def commands(work: Path) -> dict[str, list[str]]:
    interactions = write_interactions(work / "interactions")
    return {
        "grace-cora": _train("grace", "cora", work / "grace.json", "--epochs", "20", "--seeds", "0",
                             "--eval", "node", "cluster"),
        "pamc-acm-quick": [sys.executable, "-m", "graphcl", "bench", "clustering", "--methods", "pamc",
                           "--datasets", "acm", "--quick", "--out", str(work / "pamc")],
        "graphcl-mutag": _train("graphcl", "mutag", work / "graphcl.json", "--seeds", "0"),
        "meow-heco-acm": _train("meow", "heco-acm", work / "meow.json", "--epochs", "20", "--seeds", "0",
                                "--eval", "node", "cluster"),
        "lightgcn-small": [sys.executable, "-c", _LIGHTGCN, str(interactions), str(work / "lightgcn.json")],
    }


def _flatten(prefix: str, value: Any, out: dict[str, float]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}/{key}" if prefix else str(key), inner, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix] = float(value)


#: The clustering suite's records before the runner kept ``scores`` by selection mode; after it,
#: ``metrics`` by prefix. Both are compared as prefixes.
_MODE_PREFIX = {"pretrained (k-means)": "pretrained_", "final (argmax q)": "q_", "final (k-means)": "",
                "stopped": "stopped_", "oracle": "oracle_"}


def normalize(metrics: dict[str, float]) -> dict[str, float]:
    """``seed0/final (argmax q)/acc`` -> ``seed0/q_acc`` (other keys unchanged)."""
    out = {}
    for key, value in metrics.items():
        parts = key.split("/")
        if len(parts) == 3 and parts[1] in _MODE_PREFIX:
            key = f"{parts[0]}/{_MODE_PREFIX[parts[1]]}{parts[2]}"
        out[key] = value
    return out


def read_metrics(name: str, work: Path) -> dict[str, float]:
    """Every metric a run wrote, flattened to ``{seed/metric: value}``."""
    metrics: dict[str, float] = {}
    if name == "pamc-acm-quick":
        for record in json.loads((work / "pamc" / "records" / "clustering-acm.json").read_text()):
            # before the runner: ``scores`` {mode: {metric}}; after: ``metrics`` {"mode/metric": value}
            scores = record.get("scores") or record["metrics"]
            _flatten(f"seed{record['seed']}", scores, metrics)
        return normalize(metrics)
    file = {"grace-cora": "grace.json", "graphcl-mutag": "graphcl.json", "meow-heco-acm": "meow.json",
            "lightgcn-small": "lightgcn.json"}[name]
    for record in json.loads((work / file).read_text()):
        _flatten(f"seed{record['seed']}", record["metrics"], metrics)
    return metrics


def run_all(names: list[str] | None = None) -> dict[str, dict[str, float]]:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {**os.environ, "GRAPHCL_DATA": str(work / "cache"), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        for name, command in commands(work).items():
            if names and name not in names:
                continue
            print(f"== {name}: {' '.join(command[1:])}", flush=True)
            subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
            results[name] = read_metrics(name, work)
            print(json.dumps(results[name], indent=1), flush=True)
    return results


def compare(reference: dict[str, dict[str, float]], current: dict[str, dict[str, float]],
            tol: float) -> list[str]:
    problems = []
    for name, ref in reference.items():
        ref = normalize(ref)
        now = current.get(name)
        if now is None:
            continue
        for key in sorted(set(ref) | set(now)):
            if key not in now or key not in ref:
                problems.append(f"{name}: {key} only in the {'reference' if key in ref else 'current run'}")
            elif abs(ref[key] - now[key]) > tol:
                problems.append(f"{name}: {key} {ref[key]:.9f} -> {now[key]:.9f}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["record", "check"])
    parser.add_argument("path", help="record: where to write; check: the reference to compare with")
    parser.add_argument("--runs", nargs="+", help="only these runs (default: all five)")
    parser.add_argument("--tol", type=float, default=1e-6)
    args = parser.parse_args()
    current = run_all(args.runs)
    if args.mode == "record":
        Path(args.path).write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
        return 0
    problems = compare(json.loads(Path(args.path).read_text()), current, args.tol)
    checked = sum(len(v) for v in current.values())
    print("\n".join(problems) if problems else f"all {checked} metrics of {len(current)} runs within {args.tol:g}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
