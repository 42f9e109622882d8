"""One side of a side-by-side run, in a process of its own: train, time each epoch, report JSON.

    python benchmarks/compare/side.py --side ours --method grace --dataset cora --epochs 20 --threads 1

Prints one JSON line: ``epoch_seconds`` (every epoch's wall time), ``peak_rss_mb`` (the process's
lifetime peak resident set), and, with ``--evaluate``, the final linear-probe accuracy of the
embeddings under graphcl's protocol (the same probe for both sides).

LightGCL (``--method lightgcl --dataset gowalla``) is timed per training batch instead (``--epochs``
counts batches): graphcl's configured model against the official model.py (HKUDS/LightGCL) built on
the same training graph (after graphcl's 10 % validation hold-out) with the same settings, each
fed batches of 4,096 training interactions with uniformly drawn negative items. The official
per-epoch negative sampling (a Python loop over every interaction) is not in its batch time.
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

#: The official configs' keys -> graphcl's parameters / run settings (GRACE's config.yaml, GCA's param/*.json).
NAMES = {"num_hidden": "out_channels", "num_proj_hidden": "projection_channels", "learning_rate": "lr",
         "num_epochs": "epochs", "drop_edge_rate_1": "drop_edge_1", "drop_edge_rate_2": "drop_edge_2",
         "drop_feature_rate_1": "drop_feature_1", "drop_feature_rate_2": "drop_feature_2", "tau": "tau",
         "weight_decay": "weight_decay", "activation": "activation", "num_layers": "num_layers"}
#: graphcl dataset -> the entry of GRACE's config.yaml both sides train with (Coauthor-CS has none:
#: the DBLP entry, a graph of similar size, stands in).
GRACE_ENTRY = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed", "coauthor-cs": "DBLP"}
#: graphcl dataset -> GCA's param file and its dataset name (for its train.py).
GCA_ENTRY = {"amazon-photo": ("amazon_photo.json", "Amazon-Photo"), "coauthor-cs": ("coauthor_cs.json", "Coauthor-CS"),
             "amazon-computers": ("amazon_computers.json", "Amazon-Computers")}
#: GCA's train.py defaults under its param files (2 GCN layers, weight decay 1e-5, the degree scheme).
GCA_DEFAULTS = {"learning_rate": 0.01, "num_hidden": 256, "num_proj_hidden": 32, "activation": "prelu",
                "num_layers": 2, "drop_edge_rate_1": 0.3, "drop_edge_rate_2": 0.4, "drop_feature_rate_1": 0.1,
                "drop_feature_rate_2": 0.0, "tau": 0.4, "num_epochs": 3000, "weight_decay": 1e-5}


def official_settings(method: str, code: Path, dataset: str) -> dict:
    """The official config of ``method`` for ``dataset``, in graphcl's names."""
    if method == "grace":
        entry = yaml.safe_load((code / "config.yaml").read_text())[GRACE_ENTRY[dataset]]
    else:
        entry = {**GCA_DEFAULTS, **json.loads((code / "param" / GCA_ENTRY[dataset][0]).read_text())}
    return {ours: entry[theirs] for theirs, ours in NAMES.items()}


def load(dataset: str):
    """The graph with row-normalised features (GRACE and GCA load every dataset with T.NormalizeFeatures())."""
    import torch_geometric.transforms as T
    from graphcl.data import load_dataset

    return T.NormalizeFeatures()(load_dataset(dataset))


def run_ours(method: str, settings: dict, data, epochs: int, seed: int, stamps: list[float]):
    from graphcl.methods import build_method
    from graphcl.train import train

    params = {k: v for k, v in settings.items() if k not in ("lr", "weight_decay", "epochs")}
    model = build_method(method, data.num_features, **params)
    train(model, data, epochs=epochs, lr=settings["lr"], weight_decay=settings["weight_decay"], seed=seed,
          device=data.x.device, progress=False, on_epoch_end=lambda epoch, loss: stamps.append(_stamp(data)))
    return model.embed(data)


def _stamp(data) -> float:
    """The time after the epoch's work on ``data``'s device has finished (CUDA runs asynchronously)."""
    import torch

    if data.x.is_cuda:
        torch.cuda.synchronize(data.x.device)
    return time.perf_counter()


def _official_grace(code: Path, settings: dict, data, epochs: int, stamps: list[float]):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch_geometric.nn import GCNConv

    import model as their_model  # noqa: E402  (the official model.py)
    import train as their_train  # noqa: E402  (the official train.py: its train() step, its globals set below)

    activation = {"relu": F.relu, "prelu": nn.PReLU()}[settings["activation"]]
    encoder = their_model.Encoder(data.num_features, settings["out_channels"], activation, base_model=GCNConv,
                                  k=settings["num_layers"])
    model = their_model.Model(encoder, settings["out_channels"], settings["projection_channels"], settings["tau"])
    model = model.to(data.x.device)
    their_train.optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"],
                                             weight_decay=settings["weight_decay"])
    for i in (1, 2):
        setattr(their_train, f"drop_edge_rate_{i}", settings[f"drop_edge_{i}"])
        setattr(their_train, f"drop_feature_rate_{i}", settings[f"drop_feature_{i}"])
    for _ in range(epochs):
        their_train.train(model, data.x, data.edge_index)
        stamps.append(_stamp(data))
    return model


def _official_gca(code: Path, settings: dict, data, epochs: int, stamps: list[float], dataset: str):
    """GCA-DE as the official train.py sets it up (degree drop weights for edges and features)."""
    import argparse as _argparse

    import torch
    from torch_geometric.utils import degree, to_undirected

    import train as their_train  # noqa: E402  (the official train.py, patched: nni optional)
    from pGRACE.functional import degree_drop_weights, feature_drop_weights
    from pGRACE.model import GRACE, Encoder
    from pGRACE.utils import get_activation, get_base_model

    param = {theirs: settings[ours] for theirs, ours in NAMES.items()}
    param.update(base_model="GCNConv", drop_scheme="degree")
    encoder = Encoder(data.num_features, param["num_hidden"], get_activation(param["activation"]),
                      base_model=get_base_model(param["base_model"]), k=param["num_layers"])
    model = GRACE(encoder, param["num_hidden"], param["num_proj_hidden"], param["tau"]).to(data.x.device)
    their_train.model, their_train.data, their_train.param = model, data, param
    their_train.args = _argparse.Namespace(dataset=GCA_ENTRY[dataset][1])
    their_train.optimizer = torch.optim.Adam(model.parameters(), lr=param["learning_rate"],
                                             weight_decay=param["weight_decay"])
    their_train.drop_weights = degree_drop_weights(data.edge_index)
    their_train.feature_weights = feature_drop_weights(data.x, node_c=degree(to_undirected(data.edge_index)[1]))
    for _ in range(epochs):
        their_train.train()
        stamps.append(_stamp(data))
    return model


def rec_data(dataset: str):
    """The interaction graph both LightGCL sides train on: graphcl's split minus its validation pairs."""
    from graphcl.configs import resolve_config
    from graphcl.data import load_dataset
    from graphcl.data.interactions import split_validation

    import inspect

    from graphcl.methods.lightgcl import BPRRecommender, LightGCL

    params, run = resolve_config("lightgcl", dataset)
    defaults = {name: p.default for cls in (BPRRecommender, LightGCL)
                for name, p in inspect.signature(cls.__init__).parameters.items()
                if p.default is not p.empty and name != "in_channels"}
    return {**defaults, **params}, run, split_validation(load_dataset(dataset), run.val_fraction, seed=0)


def run_ours_lightgcl(params: dict, lr: float, data, steps: int, seed: int, stamps: list[float]) -> None:
    import torch

    from graphcl.methods import build_method

    torch.manual_seed(seed)
    model = build_method("lightgcl", 0, **params)
    model.setup(data)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.start_epoch(data)
    stamps[0] = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad()
        model.loss(data).backward()
        optimizer.step()
        stamps.append(time.perf_counter())


def run_official_lightgcl(code: Path, params: dict, lr: float, data, steps: int, seed: int,
                          stamps: list[float]) -> None:
    """The official LightGCL module (model.py) as its main.py builds it: the normalised user x item
    matrix (its per-entry loop, vectorised), torch.svd_lowrank of it, Adam; one batch per step."""
    import numpy as np
    import scipy.sparse as sp
    import torch

    sys.path.insert(0, str(code))
    from model import LightGCL  # noqa: E402  (the official model.py)

    torch.manual_seed(seed)
    m, n = int(data.num_users), int(data.num_items)
    users, items = data.train_pairs.numpy()
    train = sp.coo_matrix((np.ones(users.size, dtype=np.float32), (users, items)), shape=(m, n))
    train_csr = (train != 0).astype(np.float32)
    row_degree, col_degree = np.asarray(train.sum(1)).ravel(), np.asarray(train.sum(0)).ravel()
    train.data = (train.data / np.sqrt(row_degree[train.row] * col_degree[train.col])).astype(np.float32)
    adj_norm = torch.sparse_coo_tensor(np.vstack([train.row, train.col]).astype(np.int64), train.data,
                                       (m, n)).coalesce()
    svd_u, s, svd_v = torch.svd_lowrank(adj_norm, q=params["svd_rank"])
    model = LightGCL(m, n, params["out_channels"], svd_u @ torch.diag(s), svd_v @ torch.diag(s), svd_u.T, svd_v.T,
                     train_csr, adj_norm, params["num_layers"], params["tau"], params["lambda1"], params["lambda2"],
                     params["edge_dropout"], 256, "cpu")
    optimizer = torch.optim.Adam(model.parameters(), weight_decay=0, lr=lr)
    pairs = data.train_pairs
    order = torch.randperm(pairs.size(1))
    stamps[0] = time.perf_counter()
    for step in range(steps):
        batch = pairs[:, order[step * params["batch_size"]:(step + 1) * params["batch_size"]]]
        uids, pos = batch[0], batch[1]
        neg = torch.randint(0, n, (uids.numel(),))
        optimizer.zero_grad()
        loss, _, _ = model(uids, torch.cat([pos, neg]), pos, neg)
        loss.backward()
        optimizer.step()
        stamps.append(time.perf_counter())


def run_official(method: str, code: Path, settings: dict, data, epochs: int, seed: int, stamps: list[float],
                 dataset: str):
    import torch

    sys.path.insert(0, str(code))
    torch.manual_seed(seed)
    if method == "grace":
        model = _official_grace(code, settings, data, epochs, stamps)
    else:
        model = _official_gca(code, settings, data, epochs, stamps, dataset)
    model.eval()
    with torch.no_grad():
        return model(data.x, data.edge_index)


def run_pygcl(settings: dict, data, epochs: int, seed: int, stamps: list[float]):
    """GRACE composed from PyGCL's parts (pip package ``pygcl``, imported as ``GCL``): its augmentors
    (EdgeRemoving, FeatureMasking), its InfoNCE in a DualBranchContrast with intra-view negatives,
    and the official GRACE encoder / projection shapes, as PyGCL's GRACE example builds them (without
    the example's third, unaugmented forward pass per step)."""
    import types

    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch_geometric.nn import GCNConv

    dgl = types.ModuleType("dgl")  # imported by GCL.utils, used only to build DGL graphs (never here)
    dgl.DGLGraph = object
    sys.modules.setdefault("dgl", dgl)
    import GCL.augmentors as A
    import GCL.losses as L
    from GCL.models import DualBranchContrast

    torch.manual_seed(seed)
    hidden, projection = settings["out_channels"], settings["projection_channels"]
    activation = {"relu": nn.ReLU(), "prelu": nn.PReLU()}[settings["activation"]]
    convs = nn.ModuleList([GCNConv(data.num_features, 2 * hidden), GCNConv(2 * hidden, hidden)])
    head = nn.ModuleList([nn.Linear(hidden, projection), nn.Linear(projection, hidden)])
    views = [A.Compose([A.EdgeRemoving(pe=settings[f"drop_edge_{i}"]), A.FeatureMasking(pf=settings[f"drop_feature_{i}"])])
             for i in (1, 2)]
    contrast = DualBranchContrast(loss=L.InfoNCE(tau=settings["tau"]), mode="L2L", intraview_negs=True)
    model = nn.ModuleList([convs, head, activation])
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"])

    def encode(x, edge_index):
        for conv in convs:
            x = activation(conv(x, edge_index))
        return x

    for _ in range(epochs):
        optimizer.zero_grad()
        embedded = []
        for view in views:
            x, edge_index, _ = view(data.x, data.edge_index)
            embedded.append(head[1](F.elu(head[0](encode(x, edge_index)))))
        contrast(embedded[0], embedded[1]).backward()
        optimizer.step()
        stamps.append(time.perf_counter())
    with torch.no_grad():
        return encode(data.x, data.edge_index)


def timed_side(args: argparse.Namespace) -> dict:
    """The epoch (for LightGCL: batch) stamps of one side of the methods with a side module of
    their own, as the JSON object main prints."""
    stamps, counts = [time.perf_counter()], {}
    ours = args.side == "ours"
    if args.method in ("pamc", "scgc-star"):
        import cluster_side

        data, settings = cluster_side.load_graph(args.dataset)
        settings = settings or cluster_side.ACM_COMMAND[args.method]
        epochs = args.epochs or 5
        if ours:
            cluster_side.run_ours(args.method, data, settings, epochs, args.seed, stamps)
        else:
            cluster_side.run_official(args.method, args.official_code, data, settings, epochs, args.seed, stamps)
    elif args.method == "meow":
        import meow_side

        epochs = args.epochs or 5
        if ours:
            meow_side.run_ours(args.dataset, epochs, args.seed, stamps)
        else:
            meow_side.run_official(args.official_code, args.dataset, epochs, args.seed, stamps)
    elif args.method == "graphcl":
        import graph_side

        epochs = args.epochs or 20
        counts = (graph_side.run_ours(args.dataset, epochs, args.seed, stamps) if ours else
                  graph_side.run_official(args.official_code, args.dataset, epochs, args.seed, stamps))
    else:  # lightgcl: seconds per batch
        params, run, data = rec_data(args.dataset)
        epochs = args.epochs or 5
        if ours:
            run_ours_lightgcl(params, run.lr, data, epochs, args.seed, stamps)
        else:
            run_official_lightgcl(args.official_code, params, run.lr, data, epochs, args.seed, stamps)
    return {"side": args.side, "method": args.method, "dataset": args.dataset, "threads": args.threads,
            "epochs": epochs, "seed": args.seed, "epoch_seconds": [b - a for a, b in zip(stamps, stamps[1:])],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", choices=["ours", "official", "pygcl"], required=True)
    parser.add_argument("--method", choices=["grace", "gca", "lightgcl", "pamc", "scgc-star", "meow",
                                             "graphcl"], default="grace")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--epochs", type=int, help="default: the official config's")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--evaluate", action="store_true", help="linear probe on the final embeddings")
    parser.add_argument("--official-code", type=Path, required=True, help="the prepared official code (official.py)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (GRACE and GCA; the other methods run on the CPU)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.method in ("pamc", "scgc-star", "meow", "graphcl", "lightgcl"):
        print(json.dumps(timed_side(args)))
        return
    settings = official_settings(args.method, args.official_code, args.dataset)
    epochs = args.epochs or settings["epochs"]
    data = load(args.dataset).to(args.device)
    stamps = [time.perf_counter()]
    if args.side == "ours":
        z = run_ours(args.method, settings, data, epochs, args.seed, stamps)
    elif args.side == "pygcl":
        z = run_pygcl(settings, data, epochs, args.seed, stamps)
    else:
        z = run_official(args.method, args.official_code, settings, data, epochs, args.seed, stamps, args.dataset)
    result = {"side": args.side, "method": args.method, "dataset": args.dataset, "threads": args.threads,
              "epochs": epochs, "seed": args.seed, "device": args.device,
              "epoch_seconds": [b - a for a, b in zip(stamps, stamps[1:])],
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if args.evaluate:
        from graphcl.eval import node_classification

        split = "public" if data.get("train_mask") is not None else "random"
        result["accuracy"] = node_classification(z.detach().cpu(), data.cpu(), split=split, seed=args.seed)["accuracy"]
        result["split"] = split
    print(json.dumps(result))


if __name__ == "__main__":
    main()
