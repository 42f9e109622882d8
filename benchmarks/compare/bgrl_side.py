"""The official BGRL (nerdslab/bgrl) trained here on a Planetoid set and scored by graphcl's node protocol.

    python benchmarks/compare/bgrl_side.py --dataset cora --seeds 0 1 2 [--epochs 2000] [--official-root DIR]

The official package (``bgrl/``: ``GCN`` with batch norm 0.99 and PReLU, ``MLP_Predictor``, ``BGRL``
with its re-initialised target, ``get_graph_drop_transform``, ``CosineDecayScheduler``) unpatched,
driven by the step of its ``train_transductive.py`` copied below line for line (AdamW on the online
encoder and predictor, the learning rate and the momentum from its two cosine schedules, the
symmetric cosine loss, the target update after each step). Its ``train_transductive.py`` loads only
Amazon / Coauthor / WikiCS, so the data is graphcl's (``load_dataset``, row-normalised features as the
official ``get_dataset``). The settings are graphcl's config for the dataset (``graphcl/configs/bgrl.yaml``:
on Planetoid, Amazon Photo's sizes and drop rates, 2,000 epochs, 200 of warm-up, lr 0.001), so both
sides train the same model the same way. The final online encoder (``eval()``, as its ``eval``) embeds
the graph; the embeddings are scored by graphcl's linear probe on the public split (what
``graphcl bench node`` reports) and by k-means. One JSON line per seed, appended to
``runs/compare/bgrl-<dataset>.jsonl``.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))


def run_official(code: Path, dataset: str, seed: int, epochs: int | None = None) -> dict:
    import torch
    import torch_geometric.transforms as T
    from torch.nn.functional import cosine_similarity

    from graphcl.configs import load_config
    from graphcl.data import load_dataset
    from graphcl.eval.classification import node_classification
    from graphcl.eval.clustering import evaluate_clustering

    sys.path.insert(0, str(code))
    from bgrl import BGRL, GCN, CosineDecayScheduler, MLP_Predictor, get_graph_drop_transform, set_random_seeds

    config = load_config("bgrl", dataset)
    epochs = int(epochs or config["epochs"])
    set_random_seeds(seed)
    data = T.NormalizeFeatures()(load_dataset(dataset).clone())
    transform_1 = get_graph_drop_transform(drop_edge_p=config["drop_edge_1"], drop_feat_p=config["drop_feature_1"])
    transform_2 = get_graph_drop_transform(drop_edge_p=config["drop_edge_2"], drop_feat_p=config["drop_feature_2"])
    encoder = GCN([data.num_features, config["hidden_channels"], config["out_channels"]], batchnorm=True)
    predictor = MLP_Predictor(config["out_channels"], config["out_channels"], hidden_size=512)
    model = BGRL(encoder, predictor)
    optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    lr_scheduler = CosineDecayScheduler(config["lr"], config["warmup_epochs"], epochs)
    mm_scheduler = CosineDecayScheduler(1 - 0.99, 0, epochs)
    start = time.perf_counter()
    for step in range(epochs):  # train_transductive.py's train(step)
        model.train()
        for group in optimizer.param_groups:
            group["lr"] = lr_scheduler.get(step)
        mm = 1 - mm_scheduler.get(step)
        optimizer.zero_grad()
        x1, x2 = transform_1(data), transform_2(data)
        q1, y2 = model(x1, x2)
        q2, y1 = model(x2, x1)
        loss = 2 - cosine_similarity(q1, y2.detach(), dim=-1).mean() - cosine_similarity(q2, y1.detach(), dim=-1).mean()
        loss.backward()
        optimizer.step()
        model.update_target_network(mm)
    train_seconds = time.perf_counter() - start
    encoder = model.online_encoder.eval()
    with torch.no_grad():
        embeddings = encoder(data)
    probe = node_classification(embeddings, data, split=config.get("split", "public"), seed=seed)
    clusters = evaluate_clustering(embeddings.numpy(), data.y.numpy(), seed=seed)
    return {"dataset": dataset, "seed": seed, "epochs": epochs, "final_loss": float(loss.detach()),
            "train_seconds": round(train_seconds, 1), "accuracy": probe["accuracy"],
            "val_accuracy": probe["val_accuracy"], "kmeans_acc": clusters["acc"], "kmeans_nmi": clusters["nmi"]}


if __name__ == "__main__":
    from official import seeds_main

    seeds_main("BGRL", __doc__.splitlines()[0], run_official, "default: graphcl's config for the dataset")
