"""graphcl against the official implementations, side by side on this machine.

    python benchmarks/compare/compare.py --datasets cora citeseer --epochs 20 --repeats 3 --threads 1 2
    python benchmarks/compare/compare.py --datasets cora --evaluate          # + final accuracy, full epochs
    python benchmarks/compare/compare.py --method gca --datasets amazon-photo --epochs 5
    python benchmarks/compare/compare.py --method gca --datasets amazon-photo --eval-only --evaluate --eval-epochs 200
    python benchmarks/compare/compare.py --method lightgcl --epochs 4 --repeats 3   # seconds per batch, Gowalla

Each repetition runs graphcl, the official code and (for GRACE, where the ``pygcl`` package is
installed) PyGCL in turn (A B C A B C ...), each in a fresh process (benchmarks/compare/side.py)
with the same data, settings (the official config) and seed, so that the load of other jobs on the
machine hits all alike. Seconds per epoch: min / median over every
epoch but each run's first; peak memory: the process's peak resident set (imports included).
Writes runs/compare/<timestamp>.json and benchmarks/results/compare.md.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

from official import METHOD, prepare  # noqa: E402

from graphcl.records import Table, write_report  # noqa: E402

RESULTS = HERE.parent / "results"


def side(method: str, name: str, code: Path, dataset: str, threads: int, epochs: int | None, seed: int,
         evaluate: bool, device: str = "cpu") -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "OPENBLAS_NUM_THREADS": str(threads)}
    command = [sys.executable, str(HERE / "side.py"), "--method", method, "--side", name, "--dataset", dataset,
               "--threads", str(threads),
               "--seed", str(seed), "--official-code", str(code), "--device", device]
    command += ["--epochs", str(epochs)] if epochs else []
    command += ["--evaluate"] if evaluate else []
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"{name} on {dataset} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(runs: list[dict]) -> dict:
    seconds = [s for run in runs for s in run["epoch_seconds"][1:]]
    out = {"min": min(seconds), "median": statistics.median(seconds),
           "peak_rss_mb": statistics.median(run["peak_rss_mb"] for run in runs)}
    accuracies = [run["accuracy"] for run in runs if "accuracy" in run]
    if accuracies:
        out["accuracy"] = statistics.mean(accuracies)
    return out


def merge(results: list[dict]) -> list[dict]:
    """One row per (method, dataset, threads): timing from the timing runs, accuracy from every
    ``--evaluate`` run (rows of several invocations, e.g. a later ``--eval-only`` with more seeds)."""
    merged: dict[tuple, dict] = {}
    for r in results:
        row = merged.setdefault((r["method"], r["dataset"], r["threads"]),
                                {**r, "runs": {name: [] for name in r["runs"]}})
        for name, runs in r["runs"].items():
            row["runs"].setdefault(name, []).extend(runs)
        if r.get("eval_epochs"):
            row["eval_epochs"] = r["eval_epochs"]
        if r.get("repeats") and any("accuracy" not in run for runs in r["runs"].values() for run in runs):
            row["epochs"], row["repeats"] = r["epochs"], r["repeats"]
    pooled: dict[tuple, list[float]] = {}  # accuracy does not depend on threads: pooled per method x dataset
    for row in merged.values():
        for name, runs in row["runs"].items():
            pooled.setdefault((row["method"], row["dataset"], name), []).extend(
                run["accuracy"] for run in runs if "accuracy" in run)
    for row in merged.values():
        for name, runs in row["runs"].items():
            if not runs:
                continue
            timing = [run for run in runs if "accuracy" not in run] or runs
            row[name] = summary(timing)
            accuracy = pooled[(row["method"], row["dataset"], name)]
            if accuracy:
                row[name].update(accuracy=statistics.mean(accuracy), accuracy_std=statistics.pstdev(accuracy),
                                 accuracy_seeds=len(accuracy))
    return list(merged.values())


def write_table(results: list[dict], note: str = "") -> Path:
    table = Table(["method", "dataset", "threads", "epochs x runs", "graphcl s/epoch (min / median)",
                   "official s/epoch (min / median)", "speed-up (median)", "PyGCL s/epoch (median, speed-up)",
                   "peak MiB graphcl / official / PyGCL", "accuracy graphcl / official", "device"])
    for r in results:
        ours, theirs, pygcl = r["ours"], r["official"], r.get("pygcl")
        accuracy = (f"{100 * ours['accuracy']:.2f} ± {100 * ours.get('accuracy_std', 0):.2f} / "
                    f"{100 * theirs['accuracy']:.2f} ± {100 * theirs.get('accuracy_std', 0):.2f} "
                    f"({ours.get('accuracy_seeds', 1)} seeds"
                    + (f", {r['eval_epochs']} epochs" if r.get("eval_epochs") else "") + ")"
                    if "accuracy" in ours and "accuracy" in theirs else "–")
        per = " (s per batch)" if r["method"] == "lightgcl" else ""
        table.add(**{"method": r["method"] + per, "dataset": r["dataset"], "threads": r["threads"],
                     "epochs x runs": f"{r['epochs']} x {r['repeats']}",
                     "graphcl s/epoch (min / median)": f"{ours['min']:.3f} / {ours['median']:.3f}",
                     "official s/epoch (min / median)": f"{theirs['min']:.3f} / {theirs['median']:.3f}",
                     "speed-up (median)": f"{theirs['median'] / ours['median']:.2f}x",
                     "PyGCL s/epoch (median, speed-up)":
                         f"{pygcl['median']:.3f} ({pygcl['median'] / ours['median']:.2f}x)" if pygcl else "–",
                     "peak MiB graphcl / official / PyGCL": f"{ours['peak_rss_mb']:.0f} / {theirs['peak_rss_mb']:.0f} / "
                                                             + (f"{pygcl['peak_rss_mb']:.0f}" if pygcl else "–"),
                     "accuracy graphcl / official": accuracy, "device": r["device"]})
    intro = ("graphcl against the official code (and PyGCL's parts, for GRACE) on this machine, interleaved, each run "
             "a fresh process with the official config and the same seed.\nSeconds per epoch over every epoch but each "
             "run's first; speed-up = other median / graphcl median; peak MiB: the process's peak RSS (imports "
             "included).\nAccuracy: graphcl's linear probe (public split) on both sides' final embeddings after the "
             "official number of epochs. Harness: benchmarks/compare/.")
    return write_report(RESULTS / "compare.md", "graphcl vs the official implementations", table, intro=intro, note=note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=sorted(METHOD), default="grace")
    parser.add_argument("--datasets", nargs="+", help="default: cora citeseer coauthor-cs (GRACE), amazon-photo (GCA)")
    parser.add_argument("--no-pygcl", action="store_true", help="leave PyGCL out (GRACE)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per timing run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--evaluate", action="store_true", help="also one run per side and seed with the official "
                        "epochs, scored by the linear probe")
    parser.add_argument("--eval-seeds", type=int, nargs="+", default=[0], help="seeds of the --evaluate runs")
    parser.add_argument("--eval-epochs", type=int, help="epochs of the --evaluate runs (default: the official "
                        "config's), the same on both sides")
    parser.add_argument("--eval-only", action="store_true", help="only the --evaluate runs (no timing runs)")
    parser.add_argument("--official-root", help="folder of fetched snapshots (default: ../.mirror)")
    parser.add_argument("--official-work", help="folder of the prepared (exported, patched) official code, reused "
                        "as it is where present (default: ~/.cache/graphcl/official)")
    parser.add_argument("--combine", nargs="+", type=Path, help="write the table from these runs/compare JSON files")
    parser.add_argument("--note", default="")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]: GRACE and GCA only (both sides)")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/compare"), help="where the run's JSON goes")
    args = parser.parse_args()
    if args.device != "cpu" and args.method not in ("grace", "gca"):
        raise SystemExit(f"--device {args.device}: only GRACE and GCA run on a GPU here; leave --device out")
    if args.combine:
        print(write_table(merge([r for path in args.combine for r in json.loads(path.read_text())]), args.note).read_text())
        return
    code = prepare(METHOD[args.method], args.official_root, args.official_work and Path(args.official_work) / METHOD[args.method])
    datasets = args.datasets or {"grace": ["cora", "citeseer", "coauthor-cs"], "gca": ["amazon-photo"],
                                 "lightgcl": ["gowalla"], "meow": ["heco-acm"],
                                 "graphcl": ["mutag", "nci1"]}[args.method]
    names = ["ours", "official"]
    if args.method == "grace" and not args.no_pygcl:
        try:
            import importlib.util

            if importlib.util.find_spec("GCL") and importlib.util.find_spec("torch_sparse"):
                names.append("pygcl")
        except ImportError:
            pass
    results = []
    out = args.runs_dir / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    for dataset in datasets:
        for threads in args.threads:
            runs: dict[str, list[dict]] = {name: [] for name in names}
            for repeat in range(0 if args.eval_only else args.repeats):
                for name in names:
                    runs[name].append(side(args.method, name, code, dataset, threads, args.epochs, 0, False,
                                                args.device))
                    print(f"{dataset} threads {threads} repeat {repeat} {name}: "
                          f"{statistics.median(runs[name][-1]['epoch_seconds'][1:]):.3f} s/epoch", flush=True)
            if args.evaluate and threads == max(args.threads):
                for seed in args.eval_seeds:
                    for name in ("ours", "official"):  # the final metric of graphcl and the official code
                        runs[name].append(side(args.method, name, code, dataset, threads, args.eval_epochs, seed, True,
                                                args.device))
                        print(f"{dataset} {name} seed {seed} accuracy {runs[name][-1]['accuracy']:.4f}", flush=True)
            results.append({"method": args.method, "dataset": dataset, "threads": threads, "epochs": args.epochs,
                            "repeats": args.repeats, "device": args.device, "runs": runs, "eval_epochs": args.eval_epochs,
                            **{name: summary([r for r in runs[name] if "accuracy" not in r] or runs[name])
                               for name in names if runs[name]}})
            for name in (n for n in names if runs[n]):
                accuracy = [r["accuracy"] for r in runs[name] if "accuracy" in r]
                if accuracy:
                    results[-1][name]["accuracy"] = statistics.mean(accuracy)
                    results[-1][name]["accuracy_std"] = statistics.pstdev(accuracy)
                    results[-1][name]["accuracy_seeds"] = len(accuracy)
            out.write_text(json.dumps(results))
            print(write_table(results, args.note).read_text(), flush=True)


if __name__ == "__main__":
    main()
