"""GRACE from 10^4 nodes up: full-batch (chunked loss) against mini-batch (neighbour sampling), and PyGCL.

    python benchmarks/scale.py --sizes 10000 100000 1000000 --epochs 1 --threads 2
    python benchmarks/scale.py --sizes 10000 30000 --modes full minibatch pygcl --probe-epochs 20

Each (size, mode) runs in a fresh process with its address space capped (``--memory-gib``, default
22), on a planted-partition graph (graphcl.data.planted_partition: 10 blocks, average degree 10, 64
block-correlated features). Reported per run: seconds per epoch (the median of ``--epochs`` epochs;
a mini-batch epoch is a pass over every node as a seed), the process's peak RSS, the seconds to embed
every node (layer-wise for GCN), and with ``--probe-epochs`` the linear-probe accuracy on the planted
blocks after that many epochs (random 10 / 10 / 80 split). A run that exceeds the cap is recorded as
``out of memory``. The table ends with the log-log slope of time and memory against N per mode.
``pygcl`` is PyGCL's GRACE parts (benchmarks/compare/side.py), full-batch, as far as it fits.
Writes runs/scale/<timestamp>.jsonl and benchmarks/results/scale.md.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
MODES = ("full", "minibatch", "pygcl")


def one_run(n: int, mode: str, epochs: int, probe_epochs: int, batch_size: int, fanouts: list[int],
            threads: int, avg_degree: float) -> dict:
    import torch

    from graphcl.data import planted_partition
    from graphcl.eval import node_classification
    from graphcl.methods import build_method
    from graphcl.train import train

    torch.set_num_threads(threads)
    from torch_geometric.utils import coalesce, remove_self_loops

    data = planted_partition(n, avg_degree=avg_degree, seed=0)
    data.edge_index = coalesce(remove_self_loops(data.edge_index)[0], num_nodes=n)
    out: dict = {"n": n, "mode": mode, "edges": data.edge_index.size(1), "threads": threads, "avg_degree": avg_degree}
    if mode == "minibatch":
        from graphcl.data.neighbors import pyg_sampler_available

        out.update(batch_size=batch_size, num_neighbors=fanouts,
                   sampler="PyG NeighborLoader" if pyg_sampler_available() else "graphcl NeighborSampler")
    total = max(epochs, probe_epochs)
    stamps = [time.perf_counter()]
    if mode == "pygcl":
        sys.path.insert(0, str(HERE / "compare"))
        from side import run_pygcl

        settings = {"out_channels": 128, "projection_channels": 128, "activation": "relu", "tau": 0.4, "lr": 5e-4,
                    "weight_decay": 1e-5, "drop_edge_1": 0.2, "drop_edge_2": 0.4, "drop_feature_1": 0.3,
                    "drop_feature_2": 0.4}
        z = run_pygcl(settings, data, total, 0, stamps)
        embed_seconds = None
    else:
        torch.manual_seed(0)
        extra = {"batch_size": batch_size, "num_neighbors": fanouts} if mode == "minibatch" else {}
        model = build_method("grace", data.num_features, **extra)
        train(model, data, epochs=total, lr=5e-4, weight_decay=1e-5, seed=0, progress=False,
              on_epoch_end=lambda epoch, loss: stamps.append(time.perf_counter()))
        model._loader = model._batches = None  # the sampler's copy of the graph is not needed to embed
        gc.collect()
        start = time.perf_counter()
        z = model.embed(data)
        embed_seconds = time.perf_counter() - start
    epoch_seconds = [b - a for a, b in zip(stamps, stamps[1:])]
    out.update(epoch_seconds=epoch_seconds, embed_seconds=embed_seconds,
               peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if probe_epochs:
        out["probe_epochs"] = probe_epochs
        out["accuracy"] = node_classification(z.detach(), data, split="random", seed=0)["accuracy"]
    return out


def launch(n: int, mode: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--one", str(n), "--mode-one", mode, "--epochs", str(args.epochs),
               "--probe-epochs", str(args.probe_epochs), "--batch-size", str(args.batch_size),
               "--threads", str(args.threads), "--avg-degree", str(args.avg_degree),
               "--num-neighbors", *map(str, args.num_neighbors)]
    limit = int(args.memory_gib * 2 ** 30)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    done = subprocess.run(command, capture_output=True, text=True, preexec_fn=cap)
    if done.returncode:
        lines = done.stderr.strip().splitlines()
        tail = lines[-1] if lines else f"exit {done.returncode}"
        memory = done.returncode < 0 or any(sign in done.stderr for sign in ("MemoryError", "out of memory",
                                                                                  "Cannot allocate", "bad_alloc"))
        settings = {"threads": args.threads, "avg_degree": args.avg_degree}
        if mode == "minibatch":
            settings.update(batch_size=args.batch_size, num_neighbors=args.num_neighbors)
        return {"n": n, "mode": mode, "error": "out of memory" if memory else tail, "stderr_tail": lines[-12:],
                "memory_cap_gib": args.memory_gib, **settings}
    return json.loads(done.stdout.strip().splitlines()[-1])


def slope(rows: list[dict], key) -> float | None:
    """Least-squares slope of log(value) against log(N) (2 or more sizes)."""
    points = [(math.log(r["n"]), math.log(key(r))) for r in rows if "error" not in r and key(r)]
    if len(points) < 2:
        return None
    mx, my = statistics.mean(p[0] for p in points), statistics.mean(p[1] for p in points)
    return sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)


def write_table(rows: list[dict], note: str = "") -> Path:
    sys.path.insert(0, str(HERE.parent))
    from graphcl.records import Table, write_report

    def label(r: dict) -> str:  # session-17 rows predate the recorded fan-out: 1,024 seeds, [10, 10]
        if r["mode"] != "minibatch":
            return r["mode"]
        return f"minibatch {r.get('batch_size', 1024)} x {r.get('num_neighbors', [10, 10])}"

    table = Table(["N", "edges", "mode", "s / epoch", "peak MiB", "embed s", "accuracy (epochs)", "threads"])
    for r in sorted(rows, key=lambda r: (r["n"], MODES.index(r["mode"]), label(r))):
        if "error" in r:
            table.add(**{"N": f"{r['n']:,}", "edges": "–", "mode": label(r), "s / epoch": r["error"], "peak MiB": "–",
                         "embed s": "–", "accuracy (epochs)": "–", "threads": "–"})
            continue
        timed = r["epoch_seconds"][1:] or r["epoch_seconds"]
        accuracy = f"{100 * r['accuracy']:.1f} ({r['probe_epochs']})" if "accuracy" in r else "–"
        table.add(**{"N": f"{r['n']:,}", "edges": f"{r['edges']:,}", "mode": label(r),
                     "s / epoch": f"{statistics.median(timed):.2f}", "peak MiB": f"{r['peak_rss_mb']:.0f}",
                     "embed s": "–" if r["embed_seconds"] is None else f"{r['embed_seconds']:.1f}",
                     "accuracy (epochs)": accuracy, "threads": r["threads"]})
    slopes = []
    for name in sorted({label(r) for r in rows}):
        group = [r for r in rows if label(r) == name]
        t = slope(group, lambda r: statistics.median(r["epoch_seconds"][1:] or r["epoch_seconds"]))
        m = slope(group, lambda r: r["peak_rss_mb"])
        if t is not None:
            sizes = sorted(r["n"] for r in group if "error" not in r)
            slopes.append(f"{name} ({sizes[0]:,}..{sizes[-1]:,}): time ~ N^{t:.2f}, peak memory ~ N^{m:.2f}")
    samplers = sorted({r["sampler"] for r in rows if r.get("sampler")})
    intro = ("GRACE (128 / 128 channels, the automatic loss chunk) on planted-partition graphs (10 blocks, average degree "
             "~10, 64 features), each run a fresh process capped in address space.\nminibatch B x [f1, f2]: B seeds per "
             "step, f neighbours per node and layer, an epoch is a pass over every node (sampler: "
             + (", ".join(samplers) or "–") + "); pygcl: PyGCL's GRACE parts, full-batch.\n"
             "Log-log slopes: " + ("; ".join(slopes) or "–") + ".")
    return write_report(RESULTS / "scale.md", "GRACE at scale: full-batch, mini-batch, PyGCL", table, intro=intro,
                        note=note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs (the first is excluded where 2+)")
    parser.add_argument("--probe-epochs", type=int, default=0, help="train this many epochs, then a linear probe")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--num-neighbors", type=int, nargs="+", default=[10, 10])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--avg-degree", type=float, default=10.0)
    parser.add_argument("--memory-gib", type=float, default=22.0)
    parser.add_argument("--combine", nargs="+", type=Path, help="write the table from these JSON-lines files")
    parser.add_argument("--note", default="")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode-one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one, args.mode_one, args.epochs, args.probe_epochs, args.batch_size,
                                 args.num_neighbors, args.threads, args.avg_degree)))
        return
    if args.combine:
        rows = [json.loads(line) for path in args.combine for line in path.read_text().splitlines() if line.strip()]
        print(write_table(rows, args.note).read_text())
        return
    out = Path("runs/scale") / f"{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.sizes:
        for mode in args.modes:
            if mode == "pygcl" and any(r["mode"] == "pygcl" and "error" in r for r in rows):
                continue  # it ran out of memory at a smaller size
            rows.append(launch(n, mode, args))
            with out.open("a") as f:
                f.write(json.dumps(rows[-1]) + "\n")
            print(rows[-1] if "error" in rows[-1] else
                  f"N {n:,} {mode}: {statistics.median(rows[-1]['epoch_seconds']):.2f} s/epoch, "
                  f"{rows[-1]['peak_rss_mb']:.0f} MiB", flush=True)
    print(write_table(rows, args.note).read_text())


if __name__ == "__main__":
    main()
