"""PamC vs the dense SCGC* loss: seconds per training step and peak memory as N grows.

Synthetic graphs with planted clusters (a planted-partition stochastic block model with
class-dependent features; average degree about 10, 10 blocks, 64 features). One training step
is the encoder's forward pass, the DEC KL plus the contrast, and the backward pass.

* ``pamc``: graphcl's PamC step (sparse IAC positives in CSR form, :class:`PositivePairs`; K meta-nodes).
* ``dense``: the SCGC* step as the official code computes it (dense ``A_hat`` built with
  ``to_dense()``, ``get_feature_dis`` and ``Ncontrast`` on ``N x N`` matrices), written here,
  not in the library.

Encoders: ``mlp256`` (two 256-unit layers, z = 256; the default), ``sdcn`` (the SDCN encoder
500-500-2000-10 of the official runs) or ``sdcn-checkpointed`` (the same encoder recomputing its
hidden layers in blocks of ``CHECKPOINT_ROWS`` rows in the backward pass, as
``SDCNAutoencoder(checkpoint_rows=...)`` / the methods' ``checkpoint_rows`` option do). Every
measurement runs in a fresh subprocess under an address-space limit (``--limit-gib``), so its
peak memory (``ru_maxrss`` growth over the process after the inputs were built) is its own and a
run that does not fit fails with an allocation error instead of swapping; that N is reported as
where the method stops fitting.

    python benchmarks/cluster_loss_scaling.py                       # N = 2k ... 1M
    python benchmarks/cluster_loss_scaling.py --sizes 2000 20000 --methods pamc dense
    python benchmarks/cluster_loss_scaling.py --encoder sdcn --sizes 80000 --methods pamc
    python benchmarks/cluster_loss_scaling.py --encoder sdcn-checkpointed --sizes 20000 80000 --methods pamc

Writes docs/experiments/cluster-loss-scaling[-ENCODER].{md,csv,png} (the PNG: log-log seconds and MiB).
"""
from __future__ import annotations

import argparse
import csv
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: The full report goes to the lab notebook; benchmarks/results holds the summary table.
RESULTS = Path(__file__).resolve().parents[1] / "docs" / "experiments"
SIZES = [2_000, 5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 1_000_000]
NUM_BLOCKS, AVG_DEGREE, NUM_FEATURES, TAU, ALPHA, BETA = 10, 10, 64, 1.0, 1.0, 0.1
CHECKPOINT_ROWS = 4096
ENCODERS = ("mlp256", "sdcn", "sdcn-checkpointed")


def planted_graph(n: int, seed: int = 0):
    """A planted-partition graph: ``n * AVG_DEGREE / 2`` edges, 80 % inside a block; Gaussian features."""
    import torch
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, NUM_BLOCKS, (n,), generator=g)
    order = torch.argsort(y)
    counts = torch.bincount(y, minlength=NUM_BLOCKS)
    starts = torch.cumsum(counts, 0) - counts
    m = n * AVG_DEGREE // 2
    src = torch.randint(0, n, (m,), generator=g)
    inside = torch.rand(m, generator=g) < 0.8
    block = y[src]
    offset = (torch.rand(m, generator=g) * counts[block]).long()
    dst = torch.where(inside, order[starts[block] + offset], torch.randint(0, n, (m,), generator=g))
    centres = torch.randn(NUM_BLOCKS, NUM_FEATURES, generator=g)
    x = centres[y] + 2.0 * torch.randn(n, NUM_FEATURES, generator=g)
    return x, torch.stack([src, dst]), y


def build_encoder(kind: str):
    """The encoder module and the function that embeds features with it."""
    from torch import nn

    from graphcl.encoders import SDCNAutoencoder
    if kind == "mlp256":
        mlp = nn.Sequential(nn.Linear(NUM_FEATURES, 256), nn.ReLU(), nn.Linear(256, 256))
        return mlp, mlp
    if kind in ("sdcn", "sdcn-checkpointed"):
        ae = SDCNAutoencoder(NUM_FEATURES, 10, (500, 500, 2000), decoder=False,
                             checkpoint_rows=CHECKPOINT_ROWS if kind == "sdcn-checkpointed" else None)
        return ae, ae.encode
    raise SystemExit(f"unknown encoder {kind!r}")


def dense_scgc_star_loss(z, adj_dense, tau):
    """The official SCGC* contrast: Graph-MLP's get_feature_dis + Ncontrast, dense N x N."""
    import torch
    x_dis = z @ z.T
    mask = torch.eye(x_dis.shape[0])
    x_sum = torch.sqrt(torch.sum(z ** 2, 1).reshape(-1, 1))
    x_dis = x_dis * (x_sum @ x_sum.T) ** (-1)
    x_dis = (1 - mask) * x_dis
    x_dis = torch.exp(x_dis / tau)  # the official code multiplies by its inverse temperature
    return -torch.log((x_dis * adj_dense).sum(1) * x_dis.sum(1) ** (-1) + 1e-8).mean()


def measure(method: str, n: int, encoder_kind: str, repeats: int) -> dict:
    """Runs inside the child process: ``repeats`` timed steps after one warm-up step."""
    import torch
    import torch.nn.functional as F

    from graphcl.augment import adjacency_power
    from graphcl.losses import ClusteringKL, MetaNodeContrast, PositivePairs, student_t_assignment, target_distribution

    torch.manual_seed(0)
    x, edge_index, _ = planted_graph(n)
    encoder, encode = build_encoder(encoder_kind)
    pos_index, pos_weight = adjacency_power(edge_index, n, order=1, cumulative=True)
    pairs = PositivePairs.from_coo(pos_index, pos_weight, n)
    with torch.no_grad():
        centers = torch.nn.Parameter(encode(x[:NUM_BLOCKS * 50])[:NUM_BLOCKS].clone())
    kl, pamc = ClusteringKL(), MetaNodeContrast(TAU)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # shared inputs built; the rest counts
    adj_dense = None
    if method == "dense":
        adj_dense = torch.sparse_coo_tensor(pos_index, pos_weight, (n, n)).to_dense()  # as the official code

    def step() -> float:
        encoder.zero_grad(set_to_none=True)
        centers.grad = None
        z = encode(x)
        q = student_t_assignment(z, centers)
        p = target_distribution(q.detach())
        if method == "pamc":
            a = F.one_hot(q.detach().argmax(1), NUM_BLOCKS).to(z.dtype)
            contrast = pamc(z, a, pairs)
        else:
            contrast = dense_scgc_star_loss(z, adj_dense, TAU)
        loss = BETA * kl(q, p) + ALPHA * contrast
        loss.backward()
        return float(loss.detach())

    step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"method": method, "n": n, "encoder": encoder_kind, "seconds": statistics.median(times),
            "peak_mb": peak, "growth_mb": peak - base, "positives": int(pos_index.size(1)), "status": "ok"}


def run_child(method: str, n: int, encoder: str, repeats: int, limit_gib: float, timeout: int) -> dict:
    cmd = [sys.executable, __file__, "--child", method, str(n), encoder, str(repeats), str(limit_gib)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"method": method, "n": n, "encoder": encoder, "status": f"timeout > {timeout} s"}
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    err = out.stderr.strip().splitlines()[-1:] or [f"exit {out.returncode}"]
    status = "out of memory" if ("alloc" in err[0].lower() or "memory" in err[0].lower() or out.returncode < 0) \
        else f"failed: {err[0][:80]}"
    return {"method": method, "n": n, "encoder": encoder, "status": status}


def write(rows: list[dict], encoder: str, limit_gib: float) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / ("cluster-loss-scaling" + ("" if encoder == "mlp256" else f"-{encoder}"))
    by = {(r["method"], r["n"]): r for r in rows}
    sizes = sorted({r["n"] for r in rows})
    lines = [f"# PamC vs dense SCGC* loss: one training step (encoder `{encoder}`)", "",
             f"Planted-partition graphs ({NUM_BLOCKS} blocks, average degree ~{AVG_DEGREE}, {NUM_FEATURES} "
             "features), IAC positives of order 1; a step is forward + KL + contrast + backward. Seconds: median "
             "of the timed steps; MiB: peak RSS growth of a fresh process over its state after building the "
             "shared inputs (features, graph, sparse positives; the dense method's N x N adjacency counts; "
             f"CPU, 2 cores, address space capped at {limit_gib:g} GiB).", "",
             "| N | positives | PamC s/step | dense s/step | dense/PamC time | PamC MiB | dense MiB | "
             "dense/PamC memory |", "|---|---|---|---|---|---|---|---|"]
    for n in sizes:
        p, d = by.get(("pamc", n), {}), by.get(("dense", n), {})

        def cell(r: dict, key: str, fmt: str) -> str:
            return format(r[key], fmt) if r.get("status") == "ok" else (r.get("status") or "–")
        ratio_t = f"{d['seconds'] / p['seconds']:.1f}x" if p.get("status") == d.get("status") == "ok" else "–"
        ratio_m = f"{d['growth_mb'] / p['growth_mb']:.1f}x" if p.get("status") == d.get("status") == "ok" else "–"
        positives = p.get("positives", d.get("positives", "–"))
        lines.append(f"| {n:,} | {positives:,} | {cell(p, 'seconds', '.3f')} | {cell(d, 'seconds', '.3f')} | "
                     f"{ratio_t} | {cell(p, 'growth_mb', ',.0f')} | {cell(d, 'growth_mb', ',.0f')} | {ratio_m} |"
                     if isinstance(positives, int) else
                     f"| {n:,} | – | {cell(p, 'seconds', '.3f')} | {cell(d, 'seconds', '.3f')} | {ratio_t} | "
                     f"{cell(p, 'growth_mb', ',.0f')} | {cell(d, 'growth_mb', ',.0f')} | {ratio_m} |")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    with stem.with_suffix(".csv").open("w", newline="") as f:
        w = csv.DictWriter(f, ["method", "n", "encoder", "seconds", "peak_mb", "growth_mb", "positives", "status"])
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k) for k in w.fieldnames})
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for method, style in (("pamc", "o-"), ("dense", "s--")):
        ok = [r for r in rows if r["method"] == method and r.get("status") == "ok"]
        if ok:
            axes[0].loglog([r["n"] for r in ok], [r["seconds"] for r in ok], style, label=method)
            axes[1].loglog([r["n"] for r in ok], [r["growth_mb"] for r in ok], style, label=method)
    for ax, label in zip(axes, ("seconds per step", "peak memory growth (MiB)")):
        ax.set_xlabel("nodes N")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(f"PamC vs dense SCGC* ({encoder} encoder, CPU)")
    fig.tight_layout()
    fig.savefig(stem.with_suffix(".png"), dpi=110)
    plt.close(fig)
    print(stem.with_suffix(".md").read_text())


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        method, n, encoder, repeats, limit_gib = sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), \
            float(sys.argv[6])
        limit = int(limit_gib * 2 ** 30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        print(json.dumps(measure(method, n, encoder, repeats)), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    parser.add_argument("--methods", nargs="+", default=["pamc", "dense"], choices=["pamc", "dense"])
    parser.add_argument("--encoder", default="mlp256", choices=ENCODERS)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--limit-gib", type=float, default=22.0, help="address-space cap of each measurement")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per measurement")
    args = parser.parse_args()
    rows, stopped = [], set()
    for n in sorted(args.sizes):
        for method in args.methods:
            if method in stopped:
                rows.append({"method": method, "n": n, "encoder": args.encoder, "status": "not run (smaller N failed)"})
                continue
            r = run_child(method, n, args.encoder, args.repeats, args.limit_gib, args.timeout)
            print(json.dumps(r), flush=True)
            rows.append(r)
            if r["status"] != "ok":
                stopped.add(method)
        write(rows, args.encoder, args.limit_gib)


if __name__ == "__main__":
    main()
