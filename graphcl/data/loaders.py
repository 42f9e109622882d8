"""One loader per dataset family. Each takes the catalogue entry and the dataset's cache folder
(whose raw files are already in place) and returns a single :class:`~torch_geometric.data.Data`
(a :class:`~torch_geometric.data.HeteroData` for the heterogeneous HeCo family).

PyG's own dataset classes parse their formats; these functions only choose the ``root`` PyG
expects, and adapt OGB (flattened labels, time split as masks, undirected edges).
"""
from __future__ import annotations

import contextlib
import io
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import torch
import numpy as np
import scipy.sparse as sp
from torch_geometric.data import Data, HeteroData
from torch_geometric.utils import index_to_mask, to_undirected

from graphcl.data.catalogue import DatasetInfo
from graphcl.data.files import _pyg_safe_globals, _read_sdcn
from graphcl.data.interactions import load_interaction_folder
from graphcl.errors import DatasetIntegrityError

log = logging.getLogger(__name__)


def _load_planetoid(info: DatasetInfo, folder: Path) -> Data:
    """Planetoid (Cora, CiteSeer, PubMed) with the public split masks; ``folder`` is
    ``<root>/<Name>`` and PyG reads ``<root>/<Name>/raw``."""
    from torch_geometric.datasets import Planetoid

    return Planetoid(str(folder.parent), info.options["pyg_name"], split="public")[0]


def _load_citationfull(info: DatasetInfo, folder: Path) -> Data:
    """CitationFull (undirected); PyG reads ``<root>/<name.lower()>/raw/<name.lower()>.npz``."""
    from torch_geometric.datasets import CitationFull

    return CitationFull(str(folder.parent), info.options["pyg_name"])[0]


def _load_amazon(info: DatasetInfo, folder: Path) -> Data:
    """Amazon Photo / Computers; PyG reads ``<root>/<Name>/raw/amazon_electronics_<name>.npz``."""
    from torch_geometric.datasets import Amazon

    return Amazon(str(folder.parent), info.options["pyg_name"])[0]


def _load_coauthor(info: DatasetInfo, folder: Path) -> Data:
    """Coauthor CS / Physics; PyG reads ``<root>/<Name>/raw/ms_academic_{cs,phy}.npz``."""
    from torch_geometric.datasets import Coauthor

    return Coauthor(str(folder.parent), info.options["pyg_name"])[0]


def _load_wikics(info: DatasetInfo, folder: Path) -> Data:
    """WikiCS, undirected, with PyG's 20 train/val/stopping masks and the test mask."""
    from torch_geometric.datasets import WikiCS

    return WikiCS(str(folder), is_undirected=True)[0]


@contextlib.contextmanager
def _ogb_quiet_and_safe() -> Iterator[None]:
    """Keep OGB from prompting or chatting and let it load its processed file: ``decide_download``
    (which asks ``input()`` above 1 GB) always agrees, OGB's ``print`` output goes to the debug
    log, and its bare ``torch.load`` gets the PyG classes it needs allow-listed."""
    buffer = io.StringIO()
    with mock.patch("ogb.nodeproppred.dataset_pyg.decide_download", lambda url: True), \
            contextlib.redirect_stdout(buffer), _pyg_safe_globals():
        yield
    for line in buffer.getvalue().splitlines():
        log.debug("ogb: %s", line)


def _load_ogb_node(info: DatasetInfo, folder: Path) -> Data:
    """An OGB node-property dataset (ogbn-arxiv, ogbn-products) through ``ogb``'s ``PygNodePropPredDataset``.

    ``folder`` is ``<root>/ogbn_arxiv``. Labels are flattened to 1-D, the official split
    becomes ``train_mask`` / ``val_mask`` / ``test_mask``, ``node_year`` (if present) is
    flattened, and the edges are made undirected (the raw citation graph is directed; graph
    contrastive methods use it undirected).

    OGB asks ``input()`` when an existing folder lacks its ``RELEASE_v*.txt`` marker; this is
    caught beforehand and raised as :class:`~graphcl.errors.DatasetIntegrityError` instead.
    OGB reads its processed file with a bare ``torch.load``, which under torch >= 2.6 means
    ``weights_only=True`` and fails on PyG's ``DataEdgeAttr``/``GlobalStorage``; those classes are
    allow-listed for this call only (``torch.serialization.safe_globals``), never
    ``weights_only=False``.
    """
    from ogb.nodeproppred import PygNodePropPredDataset

    name = info.options.get("ogb_name", info.name)
    release = info.options.get("release_marker")
    if folder.is_dir() and release and not (folder / release).exists():
        if not any(p.is_file() for p in folder.rglob("*")):
            shutil.rmtree(folder)  # empty skeleton left by an interrupted download
    if folder.is_dir() and release and not (folder / release).exists():
        raise DatasetIntegrityError(
            f"{folder} exists but has no {release}: an incomplete or outdated OGB download. Delete the folder "
            f"{folder} and load the dataset again")
    with _ogb_quiet_and_safe():
        dataset = PygNodePropPredDataset(name=name, root=str(folder.parent))
        split = dataset.get_idx_split()
    data = dataset[0]
    num_nodes = data.num_nodes
    out = Data(x=data.x, edge_index=to_undirected(data.edge_index, num_nodes=num_nodes),
               y=data.y.view(-1), num_classes=int(dataset.num_classes))
    for mask_name, key in (("train_mask", "train"), ("val_mask", "valid"), ("test_mask", "test")):
        out[mask_name] = index_to_mask(torch.as_tensor(split[key]).long(), size=num_nodes)
    if getattr(data, "node_year", None) is not None:
        out.node_year = data.node_year.view(-1)
    return out


def _load_sdcn(info: DatasetInfo, folder: Path) -> Data:
    """SDCN-format deep-clustering set staged as ``<root>/SDCN/<name>/{<name>.txt,
    <name>_label.txt, <name>_graph.txt}``: undirected, coalesced, no self-loops, 0-based labels."""
    return _read_sdcn(folder, info.options.get("sdcn_name", info.name))


#: The labelled-nodes-per-class splits of the HeCo / MEOW protocol.
_HECO_SPLITS = (20, 40, 60)


def _heco_features(path: Path) -> torch.Tensor:
    """A HeCo feature file as a dense float32 ``[n, f]`` tensor: ``scipy.sparse.save_npz`` files,
    and (dblp's ``t_feat.npz``) a plain ``.npy`` under an ``.npz`` name."""
    loaded = np.load(path, allow_pickle=False)
    if isinstance(loaded, np.ndarray):
        matrix = loaded
    else:
        loaded.close()
        matrix = sp.load_npz(path).toarray()
    return torch.from_numpy(np.asarray(matrix, dtype=np.float32))


def _load_heco(info: DatasetInfo, folder: Path) -> HeteroData:
    """A HeCo-format folder as :class:`~torch_geometric.data.HeteroData`.

    Node types and their sizes come from the manifest (``options.node_types``); types with a
    feature file get ``x``, the others only ``num_nodes`` (HeCo gives them one-hot features). Each
    relation file ``<s><t>.txt`` (rows ``source target``) becomes the edge types
    ``(s, 'to', t)`` and ``(t, 'to', s)``. The target type (``options.target``) gets ``y`` and the
    boolean masks ``train_mask_K``, ``val_mask_K``, ``test_mask_K`` for K in 20, 40, 60 labelled
    nodes per class; ``data.target_node_type`` names it.
    """
    opts = info.options
    target = opts["target"]
    data = HeteroData()
    for node_type, spec in opts["node_types"].items():
        data[node_type].num_nodes = int(spec["count"])
        if spec.get("features"):
            x = _heco_features(folder / spec["features"])
            if x.size(0) != spec["count"]:
                raise DatasetIntegrityError(f"{info.name}: {spec['features']} has {x.size(0)} rows, expected "
                                            f"{spec['count']} {node_type} nodes; delete {folder} and load again")
            data[node_type].x = x
    for file, (source, dest) in opts["relations"].items():
        pairs = torch.from_numpy(np.loadtxt(folder / file, dtype=np.int64).reshape(-1, 2)).t().contiguous()
        for (s, t), index in (((source, dest), pairs), ((dest, source), pairs.flip(0))):
            if int(index[0].max()) >= data[s].num_nodes or int(index[1].max()) >= data[t].num_nodes:
                raise DatasetIntegrityError(f"{info.name}: {file} refers to nodes beyond the {s} / {t} counts "
                                            f"of the manifest; delete {folder} and load again")
            data[s, "to", t].edge_index = index
    y = np.load(folder / "labels.npy")
    data[target].y = torch.from_numpy(np.asarray(y, dtype=np.int64))
    n = data[target].num_nodes
    for k in _HECO_SPLITS:
        for part in ("train", "val", "test"):
            index = torch.from_numpy(np.load(folder / f"{part}_{k}.npy").astype(np.int64))
            data[target][f"{part}_mask_{k}"] = index_to_mask(index, n)
    data.target_node_type = target
    return data


def _load_lightgcn(info: DatasetInfo, folder: Path) -> Data:
    """LightGCN-format ``train.txt`` / ``test.txt`` as a bipartite interaction graph
    (:func:`graphcl.data.interactions.interaction_graph`)."""
    return load_interaction_folder(folder, name=info.name)


def _load_tu(info: DatasetInfo, folder: Path):
    """A TU graph-classification set as PyG's :class:`~torch_geometric.datasets.TUDataset` (node
    labels one-hot as features; ``folder`` is ``<root>/<Name>`` and PyG reads ``<root>/<Name>/raw``).
    With ``options.degree_features`` (sets without node features, e.g. IMDB-BINARY) every node
    gets its one-hot degree, up to the largest degree in the set (PyG's ``OneHotDegree``), as
    InfoGraph and GraphCL do."""
    from torch_geometric.datasets import TUDataset
    from torch_geometric.transforms import OneHotDegree
    from torch_geometric.utils import degree

    dataset = TUDataset(str(folder.parent), info.options["pyg_name"])
    if info.options.get("degree_features"):
        max_degree = max(int(degree(g.edge_index[0], g.num_nodes).max()) if g.num_edges else 0 for g in dataset)
        dataset.transform = OneHotDegree(max_degree)
    return dataset
