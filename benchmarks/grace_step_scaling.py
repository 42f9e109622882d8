"""GRACE's training step on planted-partition graphs of growing size: time, memory, page faults.

    python benchmarks/grace_step_scaling.py --sizes 10000 50000 100000 --steps 2 --threads 1

Each size runs in a fresh process (graphcl.data.planted_partition: 10 blocks, average degree 10,
64 features; GRACE with its default 128 / 128 channels and the automatic chunk). Reports the median
step, the process's peak RSS, minor page faults and system time over the steps, and the ratio of
each step's CPU time to N^2 times the first size's (1.0 = the quadratic loss alone sets the time;
CPU time, user + system, because wall time on a shared machine also counts other jobs).
Writes benchmarks/results/grace_scaling.md; ``--from-log FILE`` rewrites it from a run's printed rows.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def one_size(n: int, steps: int, threads: int) -> dict:
    import torch

    from graphcl.data import planted_partition
    from graphcl.methods import build_method

    torch.set_num_threads(threads)
    data = planted_partition(n)
    torch.manual_seed(0)
    model = build_method("grace", data.num_features)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    seconds = []
    before = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(steps):
        start = time.perf_counter()
        optimizer.zero_grad()
        model.loss(data).backward()
        optimizer.step()
        seconds.append(time.perf_counter() - start)
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {"n": n, "threads": threads, "step_seconds": seconds, "peak_rss_mb": after.ru_maxrss / 1024,
            "minor_faults": after.ru_minflt - before.ru_minflt, "system_seconds": after.ru_stime - before.ru_stime,
            "user_seconds": after.ru_utime - before.ru_utime}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the worker
    parser.add_argument("--from-log", type=Path, help="rewrite the table from the rows a run printed")
    parser.add_argument("--note", default="", help="lines under the table")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one, args.steps, args.threads)))
        return
    from graphcl.records import Table, write_report

    rows = []
    if args.from_log:
        import ast

        rows = [ast.literal_eval(line) for line in args.from_log.read_text().splitlines() if line.startswith("{")]
    env = {**os.environ, **{k: str(args.threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
    for n in [] if args.from_log else args.sizes:
        done = subprocess.run([sys.executable, __file__, "--one", str(n), "--steps", str(args.steps),
                               "--threads", str(args.threads)], capture_output=True, text=True, env=env)
        if done.returncode:
            raise SystemExit(done.stderr[-2000:])
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    table = Table(["N", "threads", "wall s / step (median)", "CPU s / step", "CPU vs N² from the first size",
                   "peak RSS MiB", "minor page faults / step", "system s / CPU s"])

    def cpu_per_step(r: dict) -> float:
        return (r["system_seconds"] + r["user_seconds"]) / len(r["step_seconds"])

    base = cpu_per_step(rows[0]) / rows[0]["n"] ** 2
    for r in rows:
        cpu = cpu_per_step(r)
        table.add(**{"N": f"{r['n']:,}", "threads": r["threads"],
                     "wall s / step (median)": f"{statistics.median(r['step_seconds']):.2f}",
                     "CPU s / step": f"{cpu:.1f}", "CPU vs N² from the first size": f"{cpu / (base * r['n'] ** 2):.2f}",
                     "peak RSS MiB": f"{r['peak_rss_mb']:.0f}",
                     "minor page faults / step": f"{r['minor_faults'] / len(r['step_seconds']):,.0f}",
                     "system s / CPU s": f"{r['system_seconds']:.1f} / {r['system_seconds'] + r['user_seconds']:.1f}"})
    print(write_report(RESULTS / "grace_scaling.md", "GRACE's step on planted-partition graphs", table,
                       intro="Planted partitions (10 blocks, average degree 10, 64 features), GRACE with 128 / 128 channels "
                             "and the automatic chunk,\none fresh process per size. CPU s: user + system over the "
                             "steps; its ratio to N^2 times the first size's\n(1.0: the quadratic loss alone sets the "
                             "time). Harness: benchmarks/grace_step_scaling.py.", note=args.note).read_text())


if __name__ == "__main__":
    main()
