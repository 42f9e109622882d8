"""The official InfoGraph (fanyun-sun/InfoGraph ``unsupervised/``) trained here and scored by graphcl's TU protocol.

    python benchmarks/compare/infograph_side.py --dataset MUTAG --seeds 0 1 2 3 4 [--official-root DIR]

Its own code (``patches/InfoGraph.diff``: ``losses.py``'s four ``.cuda()`` calls put on the data's
device, nothing else): ``main.py``'s ``InfoGraph`` model (the README's command: ``--lr 0.001
--num-gc-layers 3``, hidden 32, no prior), its ``TUDataset(...).shuffle()`` and loader (batch 128),
its 20 epochs of Adam, built from the module with the globals its ``__main__`` block would set
(``args``, ``dataset_num_features``); the TU raw files are copied from the mirror into a temporary
``data/<NAME>`` folder. Each seed seeds torch / NumPy / Python first. The final model's
``encoder.get_embeddings`` are then scored twice: by graphcl's protocol (``graphcl.eval``'s
10-fold SVM and logistic regression with an inner search over C: what ``graphcl bench graph``
reports) and by the official ``evaluate_embedding``'s ``svc_classify`` (its own 10-fold search)
at that same final epoch. Prints one JSON line per seed and writes them to
``runs/compare/infograph-<dataset>.jsonl``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))


def run_official(code: Path, dataset: str, seed: int, epochs: int = 20) -> dict:
    import numpy as np
    import torch

    sys.path.insert(0, str(code))
    sys.argv = ["main.py", "--DS", dataset, "--lr", "0.001", "--num-gc-layers", "3"]
    import evaluate_embedding as official_eval
    import main as official
    from torch_geometric.data import DataLoader
    from torch_geometric.datasets import TUDataset

    official.args = official.arg_parse()
    random.seed(seed), np.random.seed(seed), torch.manual_seed(seed)
    mirror = Path(os.environ["GRAPHCL_MIRROR"])
    raw = next(p for p in mirror.rglob(f"{dataset}_A.txt")).parent
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(raw, Path(tmp) / dataset / dataset / "raw")
        data = TUDataset(str(Path(tmp) / dataset), name=dataset).shuffle()
        official.dataset_num_features = max(data.num_features, 1)
        loader = DataLoader(data, batch_size=128)
        model = official.InfoGraph(official.args.hidden_dim, official.args.num_gc_layers)
        optimizer = torch.optim.Adam(model.parameters(), lr=official.args.lr)
        for _ in range(epochs):
            model.train()
            for batch in loader:
                optimizer.zero_grad()
                loss = model(batch.x, batch.edge_index, batch.batch, batch.num_graphs)
                loss.backward()
                optimizer.step()
        model.eval()
        emb, y = model.encoder.get_embeddings(loader)
    from graphcl.eval.graph_classification import graph_classification

    ours = graph_classification(emb, y, seed=seed)
    return {"dataset": dataset, "seed": seed, "epochs": epochs, "graphcl_protocol": ours,
            "official_svc_final_epoch": float(official_eval.svc_classify(np.array(emb), np.array(y), True))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="MUTAG")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--official-root", help="folder holding fanyun-sun+InfoGraph/repo (default: the fetch mirror)")
    args = parser.parse_args()
    from official import snapshot_root

    git_dir = snapshot_root(args.official_root) / "fanyun-sun+InfoGraph" / "repo"
    work = Path(tempfile.mkdtemp(prefix="infograph-official-"))
    os.system(f"git --git-dir {git_dir}/.git archive HEAD unsupervised | tar -x -C {work}")
    os.system(f"patch -s -d {work} -p1 < {HERE / 'patches' / 'InfoGraph.diff'}")  # .cuda() -> the data's device
    out = Path("runs/compare") / f"infograph-{args.dataset.lower()}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        row = run_official(work / "unsupervised", args.dataset, seed)
        print(json.dumps(row), flush=True)
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
