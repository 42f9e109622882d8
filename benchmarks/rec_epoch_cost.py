"""Cost of one training epoch of LightGCN and LightGCL on Gowalla (the LightGCN split).

Each method runs ``--steps`` optimisation steps of its configured batch on the full training graph
(after the 10 % validation hold-out) in a fresh subprocess; reported are the median seconds per
step, the epoch time it implies (steps per epoch x median), and the process's peak RSS (CPU) or
peak CUDA allocations. Peak memory does not grow with the number of steps (every step has the
same shapes), so a few steps measure an epoch's peak.

    python benchmarks/rec_epoch_cost.py                     # both methods, 3 steps, CPU
    python benchmarks/rec_epoch_cost.py --device cuda --steps 20
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def measure(method: str, steps: int, device: str) -> dict:
    """Runs inside the child process."""
    import resource
    import time

    import torch

    from graphcl.configs import resolve_config
    from graphcl.data import load_dataset
    from graphcl.data.interactions import split_validation
    from graphcl.methods import build_method
    from graphcl.train import to_device

    params, run = resolve_config(method, "gowalla")
    data = to_device(split_validation(load_dataset("gowalla"), run.val_fraction, seed=0), device)
    torch.manual_seed(0)
    model = build_method(method, 0, **params).to(device)
    setup_start = time.perf_counter()
    model.setup(data)
    setup_seconds = time.perf_counter() - setup_start
    optimizer = torch.optim.Adam(model.parameters(), lr=run.lr)
    per_epoch = model.start_epoch(data)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        optimizer.zero_grad()
        model.loss(data).backward()
        optimizer.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    median = sorted(times)[len(times) // 2]
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda")
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"method": method, "device": device, "steps": steps, "steps_per_epoch": per_epoch,
            "batch_size": model.batch_size, "seconds_per_step": median,
            "epoch_seconds": median * per_epoch, "setup_seconds": setup_seconds, "peak_mib": peak,
            "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["lightgcn", "lightgcl"])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=str(RESULTS / "rec_epoch_cost.json"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.steps, args.device)))
        return
    rows = []
    for method in args.methods:
        out = subprocess.run([sys.executable, __file__, "--child", method, "--steps", str(args.steps),
                              "--device", args.device], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"{method}: {r['seconds_per_step']:.2f} s/step x {r['steps_per_epoch']} steps = "
              f"{r['epoch_seconds'] / 60:.1f} min/epoch, peak {r['peak_mib']:.0f} MiB ({args.device}, "
              f"{r['threads']} threads)", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
