"""Peak memory of one full-batch training step per method on a planted-partition graph (BGRL vs GRACE).

    python benchmarks/method_memory.py --sizes 10000 100000 --methods bgrl grace

BGRL's paper argues that it needs less memory than GRACE because it has no negatives. Here both run
with the same encoder (2 GCN layers, 256 -> 128, their defaults) on the same graph
(graphcl.data.planted_partition: 10 blocks, average degree 10, 64 features), each (size, method) in
a fresh process capped in address space, for ``--steps`` full-batch steps (default 2). Reported: the
process's peak RSS, its growth over the loaded graph (the training's own memory), and the seconds of
the last step. GRACE's loss is graphcl's chunked InfoNCE (automatic chunk): O(chunk x N), never N x N.
Writes runs/method_memory/<timestamp>.jsonl and benchmarks/results/bgrl_vs_grace_memory.md.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def one_run(n: int, method: str, steps: int, threads: int) -> dict:
    import torch

    from graphcl.data import planted_partition
    from graphcl.methods import build_method
    from graphcl.train import train

    torch.set_num_threads(threads)
    from torch_geometric.utils import coalesce, remove_self_loops

    data = planted_partition(n, avg_degree=10.0, seed=0)
    data.edge_index = coalesce(remove_self_loops(data.edge_index)[0], num_nodes=n)
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    torch.manual_seed(0)
    model = build_method(method, data.num_features)
    stamps = [time.perf_counter()]
    train(model, data, epochs=steps, lr=1e-3, seed=0, progress=False,
          on_epoch_end=lambda epoch, loss: stamps.append(time.perf_counter()))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"n": n, "method": method, "edges": int(data.edge_index.size(1)), "steps": steps, "threads": threads,
            "peak_rss_mb": peak, "graph_rss_mb": loaded, "step_seconds": stamps[-1] - stamps[-2]}


def launch(n: int, method: str, args: argparse.Namespace) -> dict:
    limit = int(args.memory_gib * 2 ** 30)
    done = subprocess.run([sys.executable, __file__, "--one", str(n), "--method-one", method, "--steps", str(args.steps),
                           "--threads", str(args.threads)], capture_output=True, text=True,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    if done.returncode:
        lines = done.stderr.strip().splitlines()
        memory = done.returncode < 0 or any(sign in done.stderr for sign in ("MemoryError", "out of memory",
                                                                                  "Cannot allocate", "bad_alloc"))
        return {"n": n, "method": method, "error": "out of memory" if memory else (lines[-1] if lines else "failed"),
                "stderr_tail": lines[-12:], "memory_cap_gib": args.memory_gib}
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_table(rows: list[dict]) -> Path:
    sys.path.insert(0, str(HERE.parent))
    from graphcl.records import Table, write_report

    table = Table(["N", "edges", "method", "peak MiB", "training MiB", "s / step", "threads", "device"])
    for r in sorted(rows, key=lambda r: (r["n"], r["method"])):
        if "error" in r:
            table.add(**{"N": f"{r['n']:,}", "edges": "–", "method": r["method"], "peak MiB": r["error"],
                         "training MiB": "–", "s / step": "–", "threads": "–", "device": "CPU"})
            continue
        table.add(**{"N": f"{r['n']:,}", "edges": f"{r['edges']:,}", "method": r["method"],
                     "peak MiB": f"{r['peak_rss_mb']:,.0f}", "training MiB": f"{r['peak_rss_mb'] - r['graph_rss_mb']:,.0f}",
                     "s / step": f"{r['step_seconds']:.2f}", "threads": r["threads"], "device": "CPU"})
    intro = ("One full-batch training step (the last of each run's steps), the same 2-layer GCN encoder (256 -> 128) and graph "
             "for both; training MiB = peak RSS minus the RSS with the graph loaded. GRACE's InfoNCE is graphcl's chunked "
             "kernel (automatic chunk, O(chunk x N)); BGRL has no negatives (encoders, predictor, EMA target).")
    return write_report(HERE / "results" / "bgrl_vs_grace_memory.md", "BGRL vs GRACE: memory of one training step",
                        table, intro=intro)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--methods", nargs="+", default=["bgrl", "grace"])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--memory-gib", type=float, default=22.0)
    parser.add_argument("--combine", nargs="+", type=Path, help="write the table from these JSON-lines files")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--method-one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one, args.method_one, args.steps, args.threads)))
        return
    if args.combine:
        rows = [json.loads(line) for path in args.combine for line in path.read_text().splitlines() if line.strip()]
        print(write_table(rows).read_text())
        return
    out = Path("runs/method_memory") / f"{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.sizes:
        for method in args.methods:
            rows.append(launch(n, method, args))
            with out.open("a") as f:
                f.write(json.dumps(rows[-1]) + "\n")
            print(rows[-1], flush=True)
    print(write_table(rows).read_text())


if __name__ == "__main__":
    main()
