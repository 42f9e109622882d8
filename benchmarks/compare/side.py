"""One side of a side-by-side run, in a process of its own: train, time each epoch, report JSON.

    python benchmarks/compare/side.py --side ours --method grace --dataset cora --epochs 20 --threads 1

Prints one JSON line: ``epoch_seconds`` (every epoch's wall time), ``peak_rss_mb`` (the process's
lifetime peak resident set), and, with ``--evaluate``, the final linear-probe accuracy of the
embeddings under graphcl's protocol (the same probe for both sides).
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: The official config's keys -> graphcl's GRACE parameters / run settings.
GRACE_NAMES = {"num_hidden": "out_channels", "num_proj_hidden": "projection_channels", "learning_rate": "lr",
               "num_epochs": "epochs", "drop_edge_rate_1": "drop_edge_1", "drop_edge_rate_2": "drop_edge_2",
               "drop_feature_rate_1": "drop_feature_1", "drop_feature_rate_2": "drop_feature_2", "tau": "tau",
               "weight_decay": "weight_decay", "activation": "activation", "num_layers": "num_layers"}
#: graphcl dataset -> the entry of the official config.yaml both sides train with (Coauthor-CS has none:
#: the DBLP entry, a graph of similar size, stands in).
GRACE_ENTRY = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed", "coauthor-cs": "DBLP"}


def official_settings(code: Path, dataset: str) -> dict:
    """The official config.yaml entry for ``dataset``, in graphcl's names."""
    entry = yaml.safe_load((code / "config.yaml").read_text())[GRACE_ENTRY[dataset]]
    return {ours: entry[theirs] for theirs, ours in GRACE_NAMES.items()}


def load(dataset: str):
    """The graph with row-normalised features (both GRACE scripts load with T.NormalizeFeatures())."""
    import torch_geometric.transforms as T
    from graphcl.data import load_dataset

    return T.NormalizeFeatures()(load_dataset(dataset))


def run_ours(settings: dict, data, epochs: int, seed: int, stamps: list[float]):
    from graphcl.methods import build_method
    from graphcl.train import train

    params = {k: v for k, v in settings.items() if k not in ("lr", "weight_decay", "epochs")}
    model = build_method("grace", data.num_features, **params)
    train(model, data, epochs=epochs, lr=settings["lr"], weight_decay=settings["weight_decay"], seed=seed,
          progress=False, on_epoch_end=lambda epoch, loss: stamps.append(time.perf_counter()))
    return model.embed(data)


def run_official(code: Path, settings: dict, data, epochs: int, seed: int, stamps: list[float]):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch_geometric.nn import GCNConv

    sys.path.insert(0, str(code))
    import model as their_model  # noqa: E402  (the official model.py)
    import train as their_train  # noqa: E402  (the official train.py: its train() step, its globals set below)

    torch.manual_seed(seed)
    activation = {"relu": F.relu, "prelu": nn.PReLU()}[settings["activation"]]
    encoder = their_model.Encoder(data.num_features, settings["out_channels"], activation, base_model=GCNConv,
                                  k=settings["num_layers"])
    model = their_model.Model(encoder, settings["out_channels"], settings["projection_channels"], settings["tau"])
    their_train.optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"],
                                             weight_decay=settings["weight_decay"])
    for i in (1, 2):
        setattr(their_train, f"drop_edge_rate_{i}", settings[f"drop_edge_{i}"])
        setattr(their_train, f"drop_feature_rate_{i}", settings[f"drop_feature_{i}"])
    for _ in range(epochs):
        their_train.train(model, data.x, data.edge_index)
        stamps.append(time.perf_counter())
    model.eval()
    with torch.no_grad():
        return model(data.x, data.edge_index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", choices=["ours", "official"], required=True)
    parser.add_argument("--method", choices=["grace"], default="grace")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--epochs", type=int, help="default: the official config's")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--evaluate", action="store_true", help="linear probe on the final embeddings")
    parser.add_argument("--official-code", type=Path, required=True, help="the prepared official code (official.py)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    settings = official_settings(args.official_code, args.dataset)
    epochs = args.epochs or settings["epochs"]
    data = load(args.dataset)
    stamps = [time.perf_counter()]
    runner = run_ours if args.side == "ours" else run_official
    extra = (args.official_code,) if args.side == "official" else ()
    z = runner(*extra, settings, data, epochs, args.seed, stamps)
    result = {"side": args.side, "method": args.method, "dataset": args.dataset, "threads": args.threads,
              "epochs": epochs, "seed": args.seed,
              "epoch_seconds": [b - a for a, b in zip(stamps, stamps[1:])],
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if args.evaluate:
        from graphcl.eval import node_classification

        split = "public" if data.get("train_mask") is not None else "random"
        result["accuracy"] = node_classification(z.detach(), data, split=split, seed=args.seed)["accuracy"]
        result["split"] = split
    print(json.dumps(result))


if __name__ == "__main__":
    main()
