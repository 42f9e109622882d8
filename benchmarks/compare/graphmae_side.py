"""The official GraphMAE (THUDM/GraphMAE) trained here on a Planetoid set and scored by graphcl's node protocol.

    python benchmarks/compare/graphmae_side.py --dataset cora --seeds 0 1 2 [--epochs 1500] [--official-root DIR]

Runs in a Python environment with DGL (the official layers are DGL's): ``pip install dgl==2.1.0
torchdata==0.7.1 tensorboardX`` beside torch and torch_geometric; DGL 2.1 ships no graphbolt library
for recent torch releases, and this script stubs ``dgl.graphbolt`` (the official code does not use it).

The official package (``graphmae/``: ``build_model``'s ``PreModel`` with its GAT encoder / decoder,
masking, re-masking and SCE loss; ``create_optimizer``, ``set_random_seed``) unpatched, with the
settings of its ``configs.yml`` for the dataset, trained by the loop of its ``main_transductive.py``
(``pretrain``: Adam, the cosine ``LambdaLR`` when ``scheduler``, the final model). Its loader
downloads DGL's copy of the dataset, which this machine cannot, so the graph is graphcl's
(``load_dataset``, row-normalised features as DGL's citation sets, self-loops removed and added once
as its ``load_dataset``). The final model's ``embed`` is scored by graphcl's linear probe on the
public split (with the official probe's weight decay, as graphcl's config) and by the official
probe (``node_classification_evaluation``, 300 epochs, test at the best validation epoch). One JSON
line per seed, appended to ``runs/compare/graphmae-<dataset>.jsonl``.
"""
from __future__ import annotations

import sys
import time
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

#: configs.yml entries the official ``main_transductive.py`` reads with ``--use_cfg`` (its defaults otherwise).
DEFAULTS = {"num_out_heads": 1, "residual": False, "norm": None, "negative_slope": 0.2, "concat_hidden": False,
            "drop_edge_rate": 0.0, "optimizer": "adam"}


def run_official(code: Path, dataset: str, seed: int, epochs: int | None = None) -> dict:
    sys.modules.setdefault("dgl.graphbolt", types.ModuleType("dgl.graphbolt"))
    import dgl
    import numpy as np
    import torch
    import yaml

    from graphcl.configs import load_config
    from graphcl.data import load_dataset
    from graphcl.eval.classification import node_classification

    sys.path.insert(0, str(code))
    from graphmae.evaluation import node_classification_evaluation
    from graphmae.models import build_model
    from graphmae.utils import create_optimizer, set_random_seed

    configs = yaml.safe_load((code / "configs.yml").read_text())[dataset]
    # main_transductive.py's load_best_configs: YAML reads "2e-4" as a string; it converts these keys.
    settings = {**DEFAULTS, **{k: float(v) if "lr" in k or "weight_decay" in k else v for k, v in configs.items()}}
    epochs = int(epochs or settings["max_epoch"])
    data = load_dataset(dataset)
    x = data.x / data.x.sum(dim=1, keepdim=True).clamp(min=1)  # DGL's citation sets are row-normalised
    graph = dgl.add_self_loop(dgl.remove_self_loop(dgl.graph((data.edge_index[0], data.edge_index[1]),
                                                             num_nodes=data.num_nodes)))
    graph.ndata.update({"feat": x, "label": data.y, "train_mask": data.train_mask, "val_mask": data.val_mask,
                        "test_mask": data.test_mask})
    set_random_seed(seed)
    args = types.SimpleNamespace(**settings, num_features=x.size(1))
    model = build_model(args)
    optimizer = create_optimizer(settings["optimizer"], model, settings["lr"], settings["weight_decay"])
    scheduler = None
    if settings.get("scheduler"):
        schedule = lambda epoch: (1 + np.cos(epoch * np.pi / epochs)) * 0.5  # noqa: E731  (main_transductive.py)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=schedule)
    start = time.perf_counter()
    for _ in range(epochs):  # main_transductive.py's pretrain()
        model.train()
        loss, _ = model(graph, x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    train_seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        embeddings = model.embed(graph, x)
    config = load_config("graphmae", dataset)
    probe = node_classification(embeddings, data, split="public", seed=seed,
                                weight_decay=config.get("eval_weight_decay", 0.0))
    _, official_probe = node_classification_evaluation(model, graph, x, int(data.y.max()) + 1, settings["lr_f"],
                                                       settings["weight_decay_f"], settings["max_epoch_f"], "cpu",
                                                       mute=True)
    return {"dataset": dataset, "seed": seed, "epochs": epochs, "final_loss": float(loss.detach()),
            "train_seconds": round(train_seconds, 1), "accuracy": probe["accuracy"],
            "val_accuracy": probe["val_accuracy"], "official_probe_accuracy": official_probe}


if __name__ == "__main__":
    from official import seeds_main

    seeds_main("GraphMAE", __doc__.splitlines()[0], run_official, "default: the official configs.yml's max_epoch")
