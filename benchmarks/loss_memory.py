"""Chunked vs dense InfoNCE: peak memory and time of one forward + backward pass.

``--loss grace`` (default): GRACE's two-view InfoNCE. ``--loss meow``: MEOW's weighted InfoNCE
(the coarse view as anchors, negatives weighted by :class:`graphcl.losses.ClusterDisagreement` of
two clusterings with 100 and 300 clusters, as on ACM) against the official dense form
``exp(u v^T / tau) * w`` with the ``[N, N]`` weight matrix; writes ``docs/experiments/loss-memory-meow.md``.

Each measurement runs in a fresh subprocess, so its peak resident memory (``ru_maxrss``) is its
own; the table reports the growth over the process's baseline after the inputs were allocated.
The dense reference is GRACE's ``semi_loss`` (full ``N x N`` similarity matrices), written here and
not in the library. A dense run that would not fit in ``--dense-limit-gib`` is not started; its
lower bound (the N x N float32 matrices it must hold at once) is printed instead.

    python benchmarks/loss_memory.py            # N = 5,000 and 50,000, d = 128
    python benchmarks/loss_memory.py --sizes 2000 --repeats 3
    python benchmarks/loss_memory.py --loss meow --sizes 4019 20000 --dim 64
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: The full report goes to the lab notebook; benchmarks/results holds the summary table.
RESULTS = Path(__file__).resolve().parents[1] / "docs" / "experiments"


def dense_infonce(z1, z2, tau):
    import torch
    import torch.nn.functional as F

    def semi(a, b):
        a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
        refl = torch.exp(a @ a.t() / tau)
        between = torch.exp(a @ b.t() / tau)
        return -torch.log(between.diag() / (refl.sum(1) + between.sum(1) - refl.diag()))
    return (0.5 * (semi(z1, z2) + semi(z2, z1))).mean()


def dense_meow(z1, z2, labels, tau):
    """The official MEOW loss: -mean log(exp(s_ii) / sum_j w_ij exp(s_ij)) with the dense weights."""
    import torch
    import torch.nn.functional as F
    a, b = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    weights = (labels[:, :, None] != labels[:, None, :]).sum(0).float()
    dots = torch.exp(a @ b.t() / tau)
    return -torch.log(dots.diag() / (dots * weights).sum(1)).mean()


def measure(impl: str, n: int, d: int, repeats: int, loss_name: str = "grace") -> dict:
    """Runs inside the child process."""
    import torch

    from graphcl.losses import ClusterDisagreement, InfoNCE, auto_chunk_size
    torch.manual_seed(0)
    z1 = torch.randn(n, d, requires_grad=True)
    z2 = torch.randn(n, d, requires_grad=True)
    if loss_name == "meow":
        labels = torch.stack([torch.randint(0, 100, (n,)), torch.randint(0, 300, (n,))])
        weighted = InfoNCE(0.4, intra_view_negatives=False, symmetric=False)
        loss_fn = ((lambda a, b: weighted(a, b, ClusterDisagreement(labels[:, :a.size(0)]))) if impl == "chunked"
                   else (lambda a, b: dense_meow(a, b, labels[:, :a.size(0)], 0.4)))
    else:
        loss_fn = InfoNCE(0.5) if impl == "chunked" else (lambda a, b: dense_infonce(a, b, 0.5))
    loss_fn(z1[:8], z2[:8]).backward()  # warm-up of kernels on a tiny input
    z1.grad = z2.grad = None
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = loss_fn(z1, z2)
        value.backward()
        times.append(time.perf_counter() - t0)
        z1.grad = z2.grad = None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    chunk = auto_chunk_size(n, 3 * n) if loss_name == "grace" else "auto"
    return {"impl": impl, "n": n, "d": d, "seconds": statistics.median(times), "peak_mb": peak - base,
            "chunk": chunk if impl == "chunked" else n, "loss": float(value.detach())}


def dense_lower_bound_gib(n: int) -> float:
    """GRACE's dense loss holds at least refl and between (two N x N float32) per direction; MEOW's
    the weights and the exponentials."""
    return 2 * n * n * 4 / 2 ** 30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 50000])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dense-limit-gib", type=float, default=12.0)
    parser.add_argument("--loss", choices=["grace", "meow"], default="grace")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        impl, n, d = args.child
        print(json.dumps(measure(impl, int(n), int(d), args.repeats, args.loss)))
        return
    rows = []
    for n in args.sizes:
        for impl in ("chunked", "dense"):
            if impl == "dense" and dense_lower_bound_gib(n) > args.dense_limit_gib:
                rows.append({"impl": impl, "n": n, "d": args.dim, "seconds": None, "peak_mb": None,
                             "note": f"not run: needs >= {dense_lower_bound_gib(n):.1f} GiB of N x N matrices"})
                continue
            out = subprocess.run([sys.executable, __file__, "--child", impl, str(n), str(args.dim),
                                  "--repeats", str(args.repeats), "--loss", args.loss],
                                 capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    lines = ["| N | d | loss | chunk | fwd+bwd s (median) | peak MiB | note |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        secs = f"{r['seconds']:.3f}" if r.get("seconds") is not None else "–"
        peak = f"{r['peak_mb']:.0f}" if r.get("peak_mb") is not None else "–"
        lines.append(f"| {r['n']:,} | {r['d']} | {r['impl']} | {r.get('chunk', '–')} | {secs} | {peak} | "
                     f"{r.get('note', '')} |")
    for n in args.sizes:
        c = next(r for r in rows if r["n"] == n and r["impl"] == "chunked")
        dn = next(r for r in rows if r["n"] == n and r["impl"] == "dense")
        if dn.get("peak_mb"):
            lines.append(f"\nN = {n:,}: dense / chunked peak memory = {dn['peak_mb'] / max(c['peak_mb'], 1):.1f}x, "
                         f"time = {dn['seconds'] / c['seconds']:.2f}x")
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name, title = (("loss-memory.md", "InfoNCE") if args.loss == "grace"
                   else ("loss-memory-meow.md", "MEOW's weighted InfoNCE"))
    (RESULTS / name).write_text(f"# Chunked vs dense {title} (forward + backward)\n\n"
                                "Peak MiB: growth of the process's peak RSS over its baseline "
                                "with the inputs allocated (CPU).\n\n" + table + "\n")


if __name__ == "__main__":
    main()
