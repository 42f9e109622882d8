"""AdaMEOW's learned-weight InfoNCE: ours (row chunks with a hand-written backward) vs the official dense form.

The official ``weight_InfoNce`` builds every pair sum ``a_i + v_j`` as an ``[N^2, d]`` tensor and
runs the weight MLP on it; the dense reference below does exactly that (written here, not in the
library). Each measurement is one forward + backward pass in a fresh subprocess; peak memory is
the growth of the process's peak RSS over its baseline after the inputs were allocated. A dense
run whose pair tensors would not fit in ``--dense-limit-gib`` is not started; its lower bound is
printed instead.

    python benchmarks/adameow_loss_memory.py                 # N = 2,000 and 6,564 (AMiner), d = 16
    python benchmarks/adameow_loss_memory.py --sizes 4019 --dim 64
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

#: The full report goes to the lab notebook; benchmarks/results holds the summary table.
RESULTS = Path(__file__).resolve().parents[1] / "docs" / "experiments"


def dense_loss(a, v, weights, tau):
    import torch
    n = a.size(0)
    dots = torch.exp(a @ v.t() / tau)
    pairs = (a[:, None, :] + v[None, :, :]).reshape(n * n, -1)
    w = torch.sigmoid(weights.second(torch.tanh(weights.first(pairs)))).reshape(n, n)
    return -torch.log(dots.diagonal() / (dots * w).sum(1)).mean()


def measure(impl: str, n: int, d: int) -> dict:
    """Runs inside the child process."""
    import torch
    import torch.nn.functional as F

    from graphcl.losses import LearnedWeightInfoNCE

    torch.manual_seed(0)
    loss_fn = LearnedWeightInfoNCE(d, tau=0.9, hidden=16)
    z1, z2 = torch.randn(n, d, requires_grad=True), torch.randn(n, d, requires_grad=True)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    if impl == "chunked":
        loss = loss_fn(z1, z2)
    else:
        loss = dense_loss(F.normalize(z1, dim=1), F.normalize(z2, dim=1), loss_fn.weights, 0.9)
    loss.backward()
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"impl": impl, "n": n, "d": d, "seconds": seconds, "peak_mb": peak - base, "loss": float(loss)}


def dense_lower_bound_gib(n: int, d: int, hidden: int = 16) -> float:
    """The pair-sum tensor and the MLP's hidden activations it must hold at once (float32)."""
    return n * n * (d + 2 * hidden) * 4 / 2 ** 30


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(measure(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 6564])
    parser.add_argument("--dim", type=int, default=16, help="projection size (official AMiner: 16)")
    parser.add_argument("--dense-limit-gib", type=float, default=16.0)
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        for impl in ("chunked", "dense"):
            bound = dense_lower_bound_gib(n, args.dim)
            if impl == "dense" and bound > args.dense_limit_gib:
                rows.append({"impl": impl, "n": n, "d": args.dim, "note": f"not run: needs >= {bound:.1f} GiB"})
                continue
            out = subprocess.run([sys.executable, __file__, "--child", impl, str(n), str(args.dim)],
                                 capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    lines = ["# AdaMEOW loss: chunked (ours) vs the official dense pair tensor", "",
             "One forward + backward pass on the CPU; peak MiB: growth of the process's peak RSS over its "
             "baseline. Dense lower bound: the [N^2, d] pair sums plus two [N^2, 16] MLP activations.", "",
             "| N | d | loss | s | peak MiB | loss value | note |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "note" in r:
            lines.append(f"| {r['n']:,} | {r['d']} | {r['impl']} | – | – | – | {r['note']} |")
        else:
            lines.append(f"| {r['n']:,} | {r['d']} | {r['impl']} | {r['seconds']:.2f} | {r['peak_mb']:.0f} | "
                         f"{r['loss']:.6f} | dense lower bound {dense_lower_bound_gib(r['n'], r['d']):.2f} GiB |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "adameow-loss-memory.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
