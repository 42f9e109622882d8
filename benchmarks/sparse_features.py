"""GRACE steps with bag-of-words features kept sparse (the default) or dense, mini-batch or full batch.

    python benchmarks/sparse_features.py --dataset coauthor-cs --steps 6 --repeats 2            # batches of 1,024
    python benchmarks/sparse_features.py --dataset coauthor-cs --steps 3 --batch-size 0          # full batch

Each run is a fresh process (peak RSS is the process's), one thread, interleaved (sparse, dense,
sparse, dense, ...): seconds per step (median over the steps after the first) and peak resident
memory. The dense run is the same model with ``takes_sparse_features`` answering False. Prints
one JSON line per run.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


def one_run(dataset: str, steps: int, sparse: bool, batch_size: int) -> dict:
    import torch
    import torch_geometric.transforms as T

    from graphcl.data import load_dataset
    from graphcl.methods import build_method

    torch.set_num_threads(1)
    torch.manual_seed(0)
    data = T.NormalizeFeatures()(load_dataset(dataset))
    sampling = {"batch_size": batch_size, "num_neighbors": [10, 10]} if batch_size else {}
    model = build_method("grace", data.num_features, **sampling)
    if not sparse:
        model.takes_sparse_features = lambda: False
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    model.setup(data)
    model.start_epoch(data)
    seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        optimizer.zero_grad()
        model.loss(data).backward()
        optimizer.step()
        seconds.append(time.perf_counter() - start)
    return {"dataset": dataset, "batch_size": batch_size or "full", "features": "sparse" if sparse else "dense",
            "steps": steps,
            "s_per_step": statistics.median(seconds[1:]), "peak_rss_mib": resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="coauthor-cs")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1024, help="seeds per batch; 0: full batch")
    parser.add_argument("--one", choices=["sparse", "dense"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.dataset, args.steps, args.one == "sparse", args.batch_size)))
        return
    for _ in range(args.repeats):
        for mode in ("sparse", "dense"):
            done = subprocess.run([sys.executable, __file__, "--dataset", args.dataset, "--steps", str(args.steps),
                                   "--batch-size", str(args.batch_size), "--one", mode], capture_output=True,
                                  text=True, check=True)
            print(done.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
