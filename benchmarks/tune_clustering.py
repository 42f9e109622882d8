"""Choose a deep clustering method's settings for a dataset on validation labels only.

Every candidate (a set of config overrides) is trained with the clustering suite's own runner
(:func:`graphcl.runner.run` with the clustering suite's evaluations) on a copy of the dataset whose labels outside the
validation nodes are hidden (``y = -1``), so every score it sees, including its per-epoch curve,
comes from validation labels: the public split's ``val_mask`` where the dataset has one, else a
fixed random 10 % of the nodes (seed 0). The candidate with the best mean validation ACC at its
best epoch (by validation ACC) wins; the DEC-stopped and final epochs are shown beside it.
Test-label numbers come afterwards from ``graphcl bench clustering`` with the chosen settings.

    python benchmarks/tune_clustering.py --method pamc --dataset cora
    python benchmarks/tune_clustering.py --method scgc-star --dataset cora --seeds 2
    python benchmarks/tune_clustering.py --method scgc-star --dataset cora --grid smooth_features=0,2,3

``--grid KEY=V1,V2,...`` crosses every candidate with those values of KEY (one more axis each);
``--base I J`` keeps only those of the method's candidates (e.g. ``--base 3 --grid order=3,5,8``).

Writes docs/experiments/tuning/<method>-<dataset>.md and .json.
"""
from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from pathlib import Path

import torch

#: Candidates per method: the official per-dataset settings of the SCGC / PamC READMEs (as
#: temperatures), which are the settings known to work on graphs of this kind, plus orders 2-3.
CANDIDATES = {
    "scgc-star": [
        {"alpha": 1.0, "beta": 0.1, "order": 1, "tau": 4.0, "lr": 0.001},   # acm / dblp
        {"alpha": 1.0, "beta": 0.1, "order": 1, "tau": 4.0, "lr": 0.0001},  # cite
        {"alpha": 1.0, "beta": 0.1, "order": 2, "tau": 4.0, "lr": 0.0001},
        {"alpha": 0.5, "beta": 0.1, "order": 3, "tau": 4.0, "lr": 0.001},   # reut
    ],
    "pamc": [
        {"alpha": 2.0, "beta": 2.5, "order": 3, "tau": 2.0, "lr": 0.001},   # cite
        {"alpha": 0.5, "beta": 0.5, "order": 1, "tau": 2.0, "lr": 0.001},   # acm
        {"alpha": 2.0, "beta": 2.0, "order": 1, "tau": 1.0, "lr": 0.001},   # dblp
        {"alpha": 2.0, "beta": 2.5, "order": 2, "tau": 2.0, "lr": 0.001},
    ],
}
CANDIDATES["scgc"] = CANDIDATES["scgc-star"]
RESULTS = Path(__file__).resolve().parents[1] / "docs" / "experiments" / "tuning"


def validation_only(data, seed: int = 0):
    """A copy of ``data`` whose labels outside the validation nodes are -1, and how they were chosen."""
    from graphcl.tasks import number_of_classes

    data = data.clone()
    if getattr(data, "val_mask", None) is not None:
        mask, how = data.val_mask.clone(), f"the public split's {int(data.val_mask.sum())} validation nodes"
    else:
        g = torch.Generator().manual_seed(seed)
        mask = torch.zeros(data.num_nodes, dtype=torch.bool)
        mask[torch.randperm(data.num_nodes, generator=g)[: max(1, data.num_nodes // 10)]] = True
        how = f"a fixed random 10 % of the nodes ({int(mask.sum())}, seed {seed})"
    data.num_classes = number_of_classes(data)  # before hiding labels: a class may be absent from validation
    data.y = torch.where(mask, data.y, torch.full_like(data.y, -1))
    return data, how


def main() -> None:
    from graphcl.bench.clustering import EVALS
    from graphcl.runner import run as run_method
    from graphcl.configs import parse_override
    from graphcl.data import load_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", required=True, choices=sorted(CANDIDATES))
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for every candidate")
    parser.add_argument("--grid", nargs="*", default=[], metavar="KEY=V1,V2",
                        help="cross every candidate with these values of KEY")
    parser.add_argument("--base", type=int, nargs="*", default=None, metavar="INDEX",
                        help="start from these of the method's candidates only (0-based; default: all)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    common = dict(parse_override(text) for text in args.set)
    axes = []
    for text in args.grid:
        key, _, values = text.partition("=")
        axes.append([parse_override(f"{key}={value}") for value in values.split(",")])
    bases = CANDIDATES[args.method] if args.base is None else [CANDIDATES[args.method][i] for i in args.base]
    candidates = [{**base, **dict(extra)} for base in bases for extra in itertools.product(*axes)]
    data, how = validation_only(load_dataset(args.dataset))
    rows = []
    for i, candidate in enumerate(candidates):
        candidate = {**candidate, **common}  # --set wins, and the tables show what ran
        runs = []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            (run,) = run_method(args.method, data, seeds=[seed], evals=EVALS, overrides=candidate, device=args.device,
                                progress=False)
            runs.append(run)
            print(f"candidate {i} {candidate} seed {seed}: val ACC best epoch {100 * run.metrics['oracle_acc']:.2f} "
                  f"(epoch {run.extra['oracle_epoch']}), stopped {100 * run.metrics['stopped_acc']:.2f}, final "
                  f"{100 * run.metrics['q_acc']:.2f} ({time.perf_counter() - t0:.0f} s)", flush=True)
        rows.append({"candidate": candidate, **{mode: statistics.mean(r.metrics[key] for r in runs)
                                                for mode, key in (("best", "oracle_acc"), ("stopped", "stopped_acc"),
                                                                  ("final", "q_acc"))},
                     "best_epochs": [r.extra["oracle_epoch"] for r in runs], "seeds": args.seeds})
    chosen = max(rows, key=lambda r: r["best"])
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{args.method}-{args.dataset}"
    lines = [f"# Tuning {args.method} on {args.dataset} (validation labels only)", "",
             f"Scores on {how}; every other label hidden during the runs. ACC in %, mean over {args.seeds} "
             "seed(s). `best epoch`: the epoch with the best *validation* ACC; `stopped`: DEC's rule "
             "(< 0.1 % of assignments changed); `final`: epoch 200.", "",
             "| candidate | val ACC, best epoch | val ACC, stopped | val ACC, final | best epochs |",
             "|---|---|---|---|---|"]
    for r in rows:
        mark = " **(chosen)**" if r is chosen else ""
        lines.append(f"| `{json.dumps(r['candidate'])}`{mark} | {100 * r['best']:.2f} | {100 * r['stopped']:.2f} | "
                     f"{100 * r['final']:.2f} | {r['best_epochs']} |")
    if common:
        lines += ["", f"Common overrides (included above): `{json.dumps(common)}`."]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    stem.with_suffix(".json").write_text(json.dumps({"validation": how, "rows": rows, "chosen": chosen}, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
