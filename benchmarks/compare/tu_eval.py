"""The TU protocol's evaluation time: graphcl's against the official GraphCL ``evaluate_embedding``.

    python benchmarks/compare/tu_eval.py --datasets MUTAG NCI1 --repeats 1

Both score the same embeddings (an untrained GraphCL encoder: the evaluation's cost does not depend
on training) in fresh processes, interleaved: graphcl's SVM alone, the official ``svc_classify``
with its grid search (unsupervised_TU/evaluate_embedding.py, unpatched), graphcl's SVM and logistic
regression in one process (``eval_jobs`` 1) and with one process per core (``eval_jobs`` -1). graphcl runs two classifiers (RBF SVM
and logistic regression, each with an inner 5-fold search over C); the official code runs the SVM
search twice per fold (its test and "validation" variants). Writes
benchmarks/results/compare_tu_eval.md.
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
RESULTS = HERE.parent / "results"


def worker(side: str, dataset: str, code: Path, threads: int) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    from graphcl.data import load_dataset
    from graphcl.methods import build_method

    data = load_dataset(dataset)
    torch.manual_seed(0)
    model = build_method("graphcl", data.num_features)
    embeddings = model.embed(data).numpy()
    labels = torch.cat([g.y.view(-1) for g in data]).numpy()
    start = time.perf_counter()
    if side == "official":
        sys.path.insert(0, str(code / "unsupervised_TU"))
        from evaluate_embedding import evaluate_embedding  # the official evaluation, as its scripts call it

        np.random.seed(0)
        _, accuracy = evaluate_embedding(embeddings, labels)
        scores = {"svm_accuracy": float(accuracy)}
    else:
        from graphcl.eval.graph_classification import graph_classification

        classifiers = ("svm",) if side == "graphcl-svm" else ("svm", "logreg")
        scores = graph_classification(embeddings, labels, seed=0, classifiers=classifiers,
                                      n_jobs=-1 if side == "graphcl-all" else None)
    return {"side": side, "dataset": dataset, "seconds": time.perf_counter() - start, **scores}


def write_table(runs: list[dict]) -> Path:
    """benchmarks/results/compare_tu_eval.md from the runs (medians over repetitions)."""
    from graphcl.records import Table, write_report

    processes = f"graphcl SVM + LogReg, {os.cpu_count()} processes: s"
    table = Table(["dataset", "graphcl SVM, 1 process: s (acc.)", "official svc_classify: s (SVM acc.)",
                   "official / graphcl (SVM)", "graphcl SVM + LogReg, 1 process: s (LogReg acc.)", processes])
    for dataset in dict.fromkeys(r["dataset"] for r in runs):
        side = {name: [r for r in runs if r["dataset"] == dataset and r["side"] == name]
                for name in ("graphcl-svm", "graphcl-1", "official", "graphcl-all")}
        seconds = {name: statistics.median(r["seconds"] for r in rs) for name, rs in side.items()}
        table.add(**{"dataset": dataset,
                     "graphcl SVM, 1 process: s (acc.)":
                         f"{seconds['graphcl-svm']:.1f} ({100 * side['graphcl-svm'][0]['svm_accuracy']:.2f})",
                     "official svc_classify: s (SVM acc.)":
                         f"{seconds['official']:.1f} ({100 * side['official'][0]['svm_accuracy']:.2f})",
                     "official / graphcl (SVM)": f"{seconds['official'] / seconds['graphcl-svm']:.2f}x",
                     "graphcl SVM + LogReg, 1 process: s (LogReg acc.)":
                         f"{seconds['graphcl-1']:.1f} ({100 * side['graphcl-1'][0]['logreg_accuracy']:.2f})",
                     processes: f"{seconds['graphcl-all']:.1f}"})
    repeats = max(sum(1 for r in runs if r["dataset"] == d and r["side"] == "official") for d in {r["dataset"] for r in runs})
    intro = ("Same embeddings (an untrained GraphCL encoder), fresh processes, one BLAS thread each, interleaved; CPU,\n"
             f"median of {repeats} run(s). graphcl: RBF SVM and logistic regression, each with an inner 5-fold search "
             "over C;\nthe official `svc_classify` runs its SVM search twice per fold (test and \"validation\" "
             "variants). Harness: benchmarks/compare/tu_eval.py.")
    return write_report(RESULTS / "compare_tu_eval.md", "TU protocol evaluation time: graphcl vs official GraphCL",
                        table, intro=intro)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["MUTAG", "NCI1"])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--official-root")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--combine", type=Path, help="write the table from a run's JSON lines")
    args = parser.parse_args()
    if args.combine:
        print(write_table([json.loads(line) for line in args.combine.read_text().splitlines() if line]).read_text())
        return
    from official import prepare

    code = prepare("GraphCL", args.official_root)
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], code, 1)))
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    runs: list[dict] = []
    for dataset in args.datasets:
        for _ in range(args.repeats):
            for side in ("graphcl-svm", "official", "graphcl-1", "graphcl-all"):
                done = subprocess.run([sys.executable, __file__, "--worker", side, dataset], capture_output=True,
                                      text=True, env=env)
                if done.returncode:
                    raise SystemExit(done.stderr[-2000:])
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(runs[-1], flush=True)
    out = Path("runs/compare") / f"tu-eval-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r) + "\n" for r in runs))
    print(write_table(runs).read_text())


if __name__ == "__main__":
    main()
