"""The deep clustering sides of a side-by-side run: graphcl's PamC / SCGC* against the official
gayanku/PAMC (``--model SCGC_TRIMPOSCCSP --influence``) and gayanku/SCGC (``--model SCGC_TRIM
--influence``) training loops, on ACM or a planted-partition graph (``planted-20000``: 20,000 nodes,
10 blocks, average degree 10, 64 block-correlated features), with the SDCN encoder on both sides.

The official loop is the unmodified ``train_scgc_trimPOS_CCSP`` / ``train_scgc_trim`` of its
train.py, run on files in its own layout (``data/<name>.txt``, ``_label.txt``,
``graph/<name>_graph.txt``, ``<name>.pkl``) with its globals set; its per-epoch evaluation
(``eva``: Munkres ACC, NMI, ARI and F1 three times per epoch) is replaced by a time stamp, as
graphcl's epoch has no evaluation either. Both autoencoders start from random weights (timing
does not depend on pretraining; graphcl pretrains one epoch).
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

#: method -> (official snapshot name, its training function); README commands for ACM.
OFFICIAL_LOOP = {"pamc": ("PAMC", "train_scgc_trimPOS_CCSP"), "scgc-star": ("SCGC", "train_scgc_trim")}
#: method -> the official README's ACM command (tau is the official inverse temperature).
ACM_COMMAND = {"pamc": {"alpha": 0.5, "beta": 0.5, "order": 1, "tau": 0.5, "lr": 1e-3},
               "scgc-star": {"alpha": 1.0, "beta": 0.1, "order": 1, "tau": 0.25, "lr": 1e-3}}
SYNTHETIC_COMMAND = {"alpha": 1.0, "beta": 0.1, "order": 1, "tau": 1.0, "lr": 1e-3}


def load_graph(dataset: str):
    """``(graph, official settings)``: ACM from the mirror or a planted partition ``planted-<N>``."""
    from graphcl.data import load_dataset, planted_partition

    if dataset.startswith("planted-"):
        from torch_geometric.utils import remove_self_loops, to_undirected

        data = planted_partition(int(dataset.split("-")[1]), num_blocks=10, avg_degree=10.0, num_features=64, seed=0)
        data.edge_index = to_undirected(remove_self_loops(data.edge_index)[0], num_nodes=data.num_nodes)  # merged
        data.name = dataset
        return data, SYNTHETIC_COMMAND
    return load_dataset(dataset), None


def run_ours(method: str, data, settings: dict, epochs: int, seed: int, stamps: list[float]) -> None:
    from graphcl.methods import build_method
    from graphcl.train import train

    clusters = int(data.y.max()) + 1
    model = build_method(method, data.num_features, num_clusters=clusters, order=settings["order"],
                         tau=1.0 / settings["tau"], alpha=settings["alpha"], beta=settings["beta"], pretrain_epochs=1,
                         kmeans_init=20)
    train(model, data, epochs=epochs, lr=settings["lr"], seed=seed, progress=False,
          on_epoch_end=lambda epoch, loss: stamps.append(time.perf_counter()))


def run_official(method: str, code: Path, data, settings: dict, epochs: int, seed: int, stamps: list[float]) -> None:
    import numpy as np
    import torch

    sys.path.insert(0, str(code))
    import train as their_train  # noqa: E402  (the official train.py)
    from models import MLP  # noqa: E402

    torch.manual_seed(seed)
    np.random.seed(seed)
    folder = Path(tempfile.mkdtemp(prefix="graphcl-official-"))
    (folder / "data").mkdir()
    (folder / "graph").mkdir()
    name = "graph"
    np.savetxt(folder / "data" / f"{name}.txt", data.x.numpy(), fmt="%.6g")
    np.savetxt(folder / "data" / f"{name}_label.txt", data.y.numpy(), fmt="%d")
    np.savetxt(folder / "graph" / f"{name}_graph.txt", data.edge_index.t().numpy(), fmt="%d")
    clusters, n_z = int(data.y.max()) + 1, 10
    ae = MLP(n_enc_1=500, n_enc_2=500, n_enc_3=2000, n_dec_1=2000, n_dec_2=500, n_dec_3=500,
             n_input=data.num_features, n_z=n_z)
    torch.save(ae.state_dict(), folder / "data" / f"{name}.pkl")
    their_train.args = argparse.Namespace(name=name, k=None, data_path=str(folder), n_input=data.num_features,
                                          n_z=n_z, n_clusters=clusters, model="SCGC_TRIM", mode="full",
                                          influence=True, epochs=epochs, verbosity=0, cuda=False, **settings)
    their_train.device = torch.device("cpu")
    their_train.record_function = lambda label: contextlib.nullcontext()

    def stamp(y_true, y_pred, tag=0, ACC=None, NMI=None, ARI=None, F1=None, verbosity=5):
        if str(tag).endswith("Q") and str(tag)[:-1].isdigit():
            stamps.append(time.perf_counter())
        for values in (ACC, NMI, ARI, F1):
            if values is not None:
                values.append(0.0)
        return 0.0, 0.0, 0.0, 0.0

    their_train.eva = stamp
    dataset = their_train.load_data(str(folder), name)
    getattr(their_train, OFFICIAL_LOOP[method][1])(dataset)
    stamps.append(time.perf_counter())
    del stamps[0]  # the official epochs are stamped at their start: setup is not an epoch
