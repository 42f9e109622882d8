r"""A user's heterogeneous graph from plain files, as :class:`~torch_geometric.data.HeteroData`.

Layout (ids are 0-based within each node type)::

    my_graph/
      meta.json                  {"target": "movie"}; optional "num_nodes": {"director": 40}, "name"
      nodes/<type>.npy|.txt|.csv features of a node type, one row per node (types without a file
                                 are featureless: methods give them one-hot ids)
      edges/<src>__<dst>.txt     one file per relation: two integer columns, source id, destination id
                                 (.txt, .csv, or an (E, 2) .npy)
      edges/<src>__<rel>__<dst>.txt    the same with a relation name (default name: "to")
      labels.npy|.txt|.csv       optional: one label per target node (-1: unlabelled), or `node label` pairs
      splits/train_20.txt ...    optional: target node ids, one per line (.txt) or a .npy array:
                                 train_K / val_K / test_K for K in 20, 40, 60 (the HeCo protocol),
                                 or one split train / val / test (stored as K = 20)

The number of nodes of a type is its feature rows, else ``meta.json``'s ``num_nodes``, else (for
the target) the number of labels, else one more than the largest id in its edge files.

Every relation whose reverse is missing gets it: ``(s, r, d)`` adds ``(d, 'rev_' + r, s)``
(``(d, 'to', s)`` for the default name), since meta-paths such as movie-actor-movie walk both
directions. A relation within one node type is kept as given (list both directions for an
undirected one). Duplicate edges are merged. Labels are renumbered to ``0..C-1``.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import HeteroData
from torch_geometric.utils import coalesce, index_to_mask

from graphcl.data.files import _as_int, _read_edge_list, _read_features, _read_labels, _read_table, _relabel
from graphcl.errors import InvalidGraphError

__all__ = ["is_hetero_folder", "load_hetero_folder"]

log = logging.getLogger(__name__)

_TABLES = (".npy", ".txt", ".csv")
_SPLITS = (20, 40, 60)


def is_hetero_folder(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` has the heterogeneous layout: an ``edges/`` folder with
    ``<src>__<dst>`` files."""
    edges = Path(folder) / "edges"
    return edges.is_dir() and any("__" in p.stem and p.suffix in _TABLES for p in edges.iterdir())


def _first(folder: Path, stem: str) -> Path | None:
    return next((folder / f"{stem}{s}" for s in _TABLES if (folder / f"{stem}{s}").is_file()), None)


def _edges(path: Path) -> np.ndarray:
    """``(E, 2)`` int64 pairs of an edge file: a text table or an ``(E, 2)`` / ``(2, E)`` ``.npy``."""
    if path.suffix != ".npy":
        return _read_edge_list(path)
    pairs = np.asarray(np.load(path, allow_pickle=False))
    if pairs.ndim == 2 and pairs.shape[0] == 2 and pairs.shape[1] != 2:
        pairs = pairs.T
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise InvalidGraphError(f"{path}: expected an (E, 2) array of node id pairs, got shape {pairs.shape}")
    return _as_int(pairs, path, "node ids")


def _index_list(path: Path, num_nodes: int) -> torch.Tensor:
    if path.suffix == ".npy":
        index = np.asarray(np.load(path, allow_pickle=False)).reshape(-1)
        index = _as_int(index.astype(np.float64) if index.dtype.kind == "f" else index, path, "node ids")
    else:
        index = _as_int(_read_table(path, dtype=np.float64).reshape(-1), path, "node ids")
    if index.size and (index.min() < 0 or index.max() >= num_nodes):
        raise InvalidGraphError(f"{path}: node id {int(index.max() if index.max() >= num_nodes else index.min())} "
                                f"is outside the {num_nodes} target nodes")
    return torch.from_numpy(index)


def _read_meta(folder: Path) -> dict:
    path = folder / "meta.json"
    if not path.is_file():
        raise InvalidGraphError(f"{folder}: a heterogeneous graph folder needs meta.json naming the target node type, "
                                'e.g. {"target": "movie"}')
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InvalidGraphError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("target"), str):
        raise InvalidGraphError(f'{path}: needs a "target" entry naming the target node type, e.g. {{"target": '
                                '"movie"}')
    unknown = set(meta) - {"target", "num_nodes", "name"}
    if unknown:
        raise InvalidGraphError(f"{path}: unknown entries {sorted(unknown)}; meta.json takes target, num_nodes, name")
    return meta


def load_hetero_folder(folder: str | os.PathLike) -> HeteroData:
    r"""Read the layout of the module doc.

    Returns:
        HeteroData: ``x`` for node types with a feature file, ``num_nodes`` for all,
        ``edge_index`` per relation and its reverse, on the target type ``y`` and the masks
        ``train_mask_K`` / ``val_mask_K`` / ``test_mask_K``; ``target_node_type`` and ``name``.

    Raises:
        InvalidGraphError: a missing or malformed ``meta.json``, a badly named edge file, an id
            outside its node type, counts that disagree, an incomplete split.
    """
    folder = Path(folder)
    meta = _read_meta(folder)
    target = meta["target"]
    counts: dict[str, int] = {}
    data = HeteroData()
    nodes = folder / "nodes"
    for path in sorted(nodes.iterdir()) if nodes.is_dir() else ():
        if path.suffix in _TABLES and path.is_file():
            if path.stem in counts:
                raise InvalidGraphError(f"{nodes}: several feature files for node type {path.stem!r}")
            x = _read_features(path)
            data[path.stem].x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
            counts[path.stem] = x.shape[0]
    for node_type, count in (meta.get("num_nodes") or {}).items():
        if node_type in counts and counts[node_type] != int(count):
            raise InvalidGraphError(f"{folder / 'meta.json'}: num_nodes gives {count} {node_type} nodes but "
                                    f"nodes/{node_type} has {counts[node_type]} rows")
        counts[node_type] = int(count)
    label_path = _first(folder, "labels")
    if target not in counts and label_path is not None:
        try:
            counts[target] = len(_read_labels(label_path, None))
        except InvalidGraphError:  # `node label` pairs: the count comes from the edges
            pass

    relations: dict[tuple[str, str, str], tuple[np.ndarray, Path]] = {}
    for path in sorted((folder / "edges").iterdir()):
        if path.suffix not in _TABLES or not path.is_file():
            continue
        parts = path.stem.split("__")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidGraphError(f"{path}: name edge files <source type>__<destination type>{path.suffix} or "
                                    f"<source type>__<relation>__<destination type>{path.suffix}")
        src, rel, dst = (parts[0], "to", parts[1]) if len(parts) == 2 else parts
        relations[(src, rel, dst)] = (_edges(path), path)
    for (src, _, dst), (pairs, _) in relations.items():
        for node_type, ids in ((src, pairs[:, 0]), (dst, pairs[:, 1])):
            if node_type not in counts:
                counts[node_type] = int(ids.max()) + 1 if ids.size else 0
                log.info("%s: %d %s nodes (one more than the largest id in the edge files)", folder,
                         counts[node_type], node_type)
    if target not in counts:
        raise InvalidGraphError(f"{folder}: the target node type {target!r} has no features, no labels and no "
                                f"edges; node types found: {sorted(counts)}")
    for node_type, count in counts.items():
        data[node_type].num_nodes = count
    for (src, rel, dst), (pairs, path) in relations.items():
        for node_type, ids in ((src, pairs[:, 0]), (dst, pairs[:, 1])):
            if ids.size and (ids.min() < 0 or ids.max() >= counts[node_type]):
                bad = int(ids.min() if ids.min() < 0 else ids.max())
                raise InvalidGraphError(f"{path}: {node_type} id {bad} is outside 0..{counts[node_type] - 1}")
        index = torch.from_numpy(pairs.T.copy())
        data[src, rel, dst].edge_index = coalesce(index)
        reverse = (dst, "to" if rel == "to" else f"rev_{rel}", src)
        if src != dst and not any(e[0] == dst and e[2] == src for e in relations):
            data[reverse].edge_index = coalesce(index.flip(0))
    if not relations:
        raise InvalidGraphError(f"{folder / 'edges'}: no edge files")

    n = counts[target]
    if label_path is not None:
        y, _ = _relabel(_read_labels(label_path, n))
        if y.numel() != n:
            raise InvalidGraphError(f"{label_path} has {y.numel()} labels but there are {n} {target} nodes")
        data[target].y = y
    splits = folder / "splits"
    if splits.is_dir():
        names = {(part, k): _first(splits, f"{part}_{k}") for part in ("train", "val", "test") for k in _SPLITS}
        plain = {part: _first(splits, part) for part in ("train", "val", "test")}
        if any(plain.values()):
            if not all(plain.values()) or names[("train", 20)]:
                raise InvalidGraphError(f"{splits}: give train, val and test together, and not beside train_20")
            names.update({(part, 20): path for part, path in plain.items()})
        for k in _SPLITS:
            present = [part for part in ("train", "val", "test") if names[(part, k)]]
            if present and len(present) < 3:
                raise InvalidGraphError(f"{splits}: split {k} has {', '.join(present)} but not all of train, val, test")
            for part in present:
                data[target][f"{part}_mask_{k}"] = index_to_mask(_index_list(names[(part, k)], n), n)
    data.target_node_type = target
    data.name = str(meta.get("name") or folder.name)
    return data
