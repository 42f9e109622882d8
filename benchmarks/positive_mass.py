"""The sparse positive term: graphcl's CSR kernel against an edge-wise gather reference.

:func:`graphcl.losses.log_positive_mass` computes :math:`\\log \\sum_j w_{ij} e^{s_{ij}/\\tau}` per node
over a fixed set of weighted pairs. The reference here does it the direct way, with autograd: gather
both ends of every pair (two ``[P, d]`` tensors), dot, scatter a log-sum-exp onto the source node.
Both run forward + backward on real positives:

* ``photo-iac3``: PamC's positives on Amazon Photo, :math:`\\hat A + \\hat A^2 + \\hat A^3` (19.3 M pairs;
  the shipped ``pamc.yaml`` setting), one view, ``d = 10`` (the SDCN embedding);
* ``cora-iac3``: the same on Cora;
* ``heco-dblp``: HeCo's meta-path positives on DBLP (``num_positives`` 1,000, the shipped
  ``heco-style.yaml`` setting), two views, ``d = 64``.

Seconds: median of ``--repeats`` steps after one warm-up; MiB: peak RSS of the steps over the RSS
after building the inputs (the pairs structure counts as input; Linux ``VmHWM``, reset through
``/proc/self/clear_refs`` once the inputs are built), one fresh process per measurement.
Values and gradients of the two are compared on every case.

    python benchmarks/positive_mass.py                   # all cases, 5 repeats
    python benchmarks/positive_mass.py --cases cora-iac3 --repeats 3

Writes docs/experiments/positive-mass.md.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

#: The full report goes to the lab notebook; benchmarks/results holds the summary table.
RESULTS = Path(__file__).resolve().parents[1] / "docs" / "experiments"
SCRATCH = Path(tempfile.gettempdir())
CASES = {"photo-iac3": ("amazon-photo", 10), "cora-iac3": ("cora", 10), "heco-dblp": ("heco-dblp", 64)}
TAU = 0.5


def gather_reference(anchors, others, index, weight, tau: float, mask_self: bool):
    """Edge-wise with autograd: ``[P, d]`` gathers of both ends, scatter log-sum-exp onto the source."""
    import torch
    from torch_geometric.utils import scatter

    src, dst = index
    sim = (anchors[src] * others[dst]).sum(1)
    if mask_self:
        sim = torch.where(src == dst, torch.zeros_like(sim), sim)
    logits = sim / tau + weight.log()
    n = anchors.size(0)
    peak = scatter(logits.detach(), src, dim=0, dim_size=n, reduce="max")
    return scatter((logits - peak[src]).exp(), src, dim=0, dim_size=n, reduce="sum").log() + peak


def build(case: str):
    import torch

    from graphcl.augment import adjacency_power
    from graphcl.configs import load_config
    from graphcl.data import load_dataset

    dataset, dim = CASES[case]
    data = load_dataset(dataset)
    if case == "heco-dblp":
        from graphcl.augment import metapath_positives
        config = load_config("heco-style", dataset)
        index = metapath_positives(data, config["metapaths"], config["num_positives"])
        n = data[data.target_node_type].num_nodes
        weight = torch.ones(index.size(1))
    else:
        n = data.num_nodes
        index, weight = adjacency_power(data.edge_index, n, order=3, cumulative=True)
    return n, dim, index, weight, case != "heco-dblp"


def _status_mib(field: str) -> float:
    """A memory field of /proc/self/status (Linux) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def measure(case: str, method: str, repeats: int) -> dict:
    """Runs inside the child process."""
    import gc
    import statistics
    import time

    import torch
    import torch.nn.functional as F

    from graphcl.losses import PositivePairs, log_positive_mass

    n, dim, index, weight, one_view = build(case)
    pairs = PositivePairs.from_coo(index, weight, n) if method == "csr" else None
    gen = torch.Generator().manual_seed(0)
    z1 = torch.randn(n, dim, generator=gen, requires_grad=True)
    z2 = torch.randn(n, dim, generator=gen, requires_grad=True)
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS: inputs built
    base = _status_mib("VmRSS")

    def step() -> tuple:
        z1.grad = z2.grad = None
        a = F.normalize(z1, dim=1)
        b = a if one_view else F.normalize(z2, dim=1)
        if method == "csr":
            out = log_positive_mass(a, pairs, TAU, others=None if one_view else b)
        else:
            out = gather_reference(a, b, index, weight, TAU, mask_self=one_view)
        out.mean().backward()
        return float(out.mean()), z1.grad.clone(), (None if one_view else z2.grad.clone())

    value, g1, g2 = step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    peak = _status_mib("VmHWM")
    grads = [g1] + ([] if g2 is None else [g2])
    torch.save(grads, SCRATCH / f"positive_mass_{case}_{method}.pt")
    return {"case": case, "method": method, "n": n, "pairs": int(index.size(1)), "d": dim,
            "seconds": statistics.median(times), "growth_mb": peak - base, "value": value}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(measure(sys.argv[2], sys.argv[3], int(sys.argv[4]))), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import torch

    rows = []
    for case in args.cases:
        for method in ("csr", "gather"):
            out = subprocess.run([sys.executable, __file__, "--child", case, method, str(args.repeats)],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(f"{case} / {method} failed:\n{out.stderr[-2000:]}")
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
        csr, ref = (torch.load(SCRATCH / f"positive_mass_{case}_{m}.pt") for m in ("csr", "gather"))
        rows[-2]["max_grad_diff"] = max(float((a - b).abs().max()) for a, b in zip(csr, ref))
        rows[-2]["value_diff"] = abs(rows[-2]["value"] - rows[-1]["value"])
    lines = ["# Sparse positive term: CSR kernel vs edge-wise gather (forward + backward)", "",
             "`graphcl.losses.log_positive_mass` on `PositivePairs` against the edge-wise reference written in "
             "`benchmarks/positive_mass.py` (autograd through `[P, d]` gathers and scatters). Seconds: median of "
             f"{args.repeats} steps; MiB: peak RSS of the steps over the RSS once the inputs (pairs included) are built, "
             "a fresh process each. CPU, 2 cores.", "",
             "| case | N | pairs | d | CSR s | gather s | speed-up | CSR MiB | gather MiB | mean value diff | "
             "max grad diff |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for csr, ref in zip(rows[::2], rows[1::2]):
        lines.append(f"| {csr['case']} | {csr['n']:,} | {csr['pairs']:,} | {csr['d']} | {csr['seconds']:.3f} | "
                     f"{ref['seconds']:.3f} | {ref['seconds'] / csr['seconds']:.1f}x | {csr['growth_mb']:,.0f} | "
                     f"{ref['growth_mb']:,.0f} | {csr['value_diff']:.1e} | {csr['max_grad_diff']:.1e} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "positive-mass.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
