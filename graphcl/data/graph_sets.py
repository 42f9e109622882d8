r"""Users' own sets of graphs (for graph-level methods such as GraphCL) as PyG datasets.

* :func:`load_tu_folder`: a folder in the TU format (``<NAME>_A.txt``,
  ``<NAME>_graph_indicator.txt``, optional ``<NAME>_graph_labels.txt``, ``<NAME>_node_labels.txt``,
  ``<NAME>_node_attributes.txt``, ...; in the folder or in its ``raw/``), copied into the cache
  (``<cache root>/own/<NAME>-<key>/<NAME>/raw/``, the key a digest of the files) and read by PyG's
  :class:`~torch_geometric.datasets.TUDataset` with node attributes and one-hot node labels as
  features. The user's folder is never written.
* :func:`graph_set`: a list of :class:`~torch_geometric.data.Data` (e.g. from a ``.pt`` file) as a
  :class:`GraphSet`, an in-memory dataset.
* :func:`load_smiles_csv`: a CSV with a ``smiles`` column and an optional label column, one
  molecule per row, through :func:`torch_geometric.utils.from_smiles` (needs ``rdkit``:
  ``pip install "graphcl[smiles]"``).

Every set's graph labels ``y`` (one per graph) are renumbered to ``0..C-1``; a set without node
features gets the one-hot node degree (PyG's :class:`~torch_geometric.transforms.OneHotDegree`), as
the registered IMDB-BINARY does. Each dataset's ``catalogue_name`` is the name runs are recorded
under.
"""
from __future__ import annotations

import csv
import importlib.util
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data, Dataset, InMemoryDataset

from graphcl.data import cache
from graphcl.errors import DatasetUnavailableError, InvalidGraphError

__all__ = ["GraphSet", "graph_set", "tu_prefix", "load_tu_folder", "load_smiles_csv"]

log = logging.getLogger(__name__)


class GraphSet(InMemoryDataset):
    r"""An in-memory dataset of graphs built from a list of :class:`~torch_geometric.data.Data`.

    Args:
        graphs (Sequence[Data]): The graphs (collated once, as PyG's ``InMemoryDataset`` does).
        name (str): Stored as ``catalogue_name`` (the name runs are recorded under).
        transform (callable, optional): Applied to each graph on access. (default: :obj:`None`)
    """

    def __init__(self, graphs: Sequence[Data], name: str, transform=None) -> None:
        super().__init__(None, transform)
        self._data, self.slices = self.collate(list(graphs))
        self.catalogue_name = name

    def __repr__(self) -> str:
        return f"GraphSet({self.catalogue_name!r}, {len(self)} graphs)"


def _max_degree(dataset: Dataset) -> int:
    from torch_geometric.utils import degree

    return max((int(degree(g.edge_index[0], g.num_nodes).max()) if g.num_edges else 0 for g in dataset), default=0)


def _degree_features(dataset: Dataset) -> Dataset:
    """Give a set without node features the one-hot degree (up to the set's largest degree)."""
    from torch_geometric.transforms import OneHotDegree

    log.info("%s has no node features; using the one-hot node degree", getattr(dataset, "catalogue_name", dataset))
    dataset.transform = OneHotDegree(_max_degree(dataset))
    return dataset


def _graph_label(y: Tensor | None, index: int, origin: str) -> Tensor | None:
    if y is None:
        return None
    y = torch.as_tensor(y)
    if y.numel() != 1:
        raise InvalidGraphError(f"{origin}: graph {index} has {y.numel()} labels in y; a set of graphs needs one "
                                "label per graph (graph classification)")
    if y.is_floating_point() and float(y) != int(y):
        raise InvalidGraphError(f"{origin}: graph {index} has the label {float(y)}; graph labels must be class "
                                "ids (integers)")
    return y.long().view(1)


def graph_set(graphs: Sequence[Data], name: str, origin: str | None = None) -> GraphSet:
    r"""Check a list of graphs and make it a :class:`GraphSet`.

    Each graph keeps ``x`` (as float32), ``edge_index``, ``edge_attr`` and ``y`` (one class label
    per graph, renumbered to ``0..C-1`` over the set). Graphs without ``x`` everywhere get the
    one-hot degree as features.

    Args:
        graphs: the graphs.
        name: ``catalogue_name`` of the set.
        origin: the file they came from, for messages (default: ``name``).

    Raises:
        InvalidGraphError: an empty list, a non-``Data`` item, features on some graphs only or of
            different widths, edges outside a graph's nodes, labels on some graphs only or more
            than one label per graph.
    """
    origin = origin or name
    graphs = list(graphs)
    if not graphs:
        raise InvalidGraphError(f"{origin}: the list of graphs is empty")
    bad = next((i for i, g in enumerate(graphs) if not isinstance(g, Data)), None)
    if bad is not None:
        raise InvalidGraphError(f"{origin}: item {bad} is a {type(graphs[bad]).__name__}, not a torch_geometric Data")
    has_x = [g.x is not None for g in graphs]
    has_y = [g.y is not None for g in graphs]
    has_attr = all(g.edge_attr is not None for g in graphs)
    for present, what in ((has_x, "node features x"), (has_y, "a label y")):
        if any(present) and not all(present):
            raise InvalidGraphError(f"{origin}: graph {present.index(False)} has no {what} but graph "
                                    f"{present.index(True)} has; give every graph one or none")
    widths = {g.x.view(g.x.size(0), -1).size(1) for g in graphs if g.x is not None}
    if len(widths) > 1:
        raise InvalidGraphError(f"{origin}: the graphs' node features have different widths {sorted(widths)}")
    out = []
    for i, g in enumerate(graphs):
        if g.edge_index is None or g.edge_index.dim() != 2 or g.edge_index.size(0) != 2:
            shape = None if g.edge_index is None else tuple(g.edge_index.shape)
            raise InvalidGraphError(f"{origin}: graph {i} needs an edge_index of shape [2, E], got {shape}")
        num_nodes = int(g.num_nodes or 0)
        edge_index = g.edge_index.long()
        if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= num_nodes):
            raise InvalidGraphError(f"{origin}: graph {i} has an edge to node {int(edge_index.max())} but only "
                                    f"{num_nodes} nodes")
        clean = Data(edge_index=edge_index, num_nodes=num_nodes)
        if g.x is not None:
            clean.x = g.x.view(num_nodes, -1).float()
        if has_attr:
            clean.edge_attr = g.edge_attr
        label = _graph_label(g.y, i, origin) if has_y[i] else None
        if label is not None:
            clean.y = label
        out.append(clean)
    if all(has_y):
        classes, inverse = torch.unique(torch.cat([g.y for g in out]), return_inverse=True)
        for g, label in zip(out, inverse):
            g.y = label.view(1)
    dataset = GraphSet(out, name)
    if not any(has_x):
        _degree_features(dataset)
    return dataset


# --------------------------------------------------------------------------------------------
# TU format
# --------------------------------------------------------------------------------------------

def tu_prefix(folder: str | os.PathLike) -> tuple[str, Path] | None:
    """``(NAME, folder holding the files)`` of a TU-format folder (``<NAME>_A.txt`` and
    ``<NAME>_graph_indicator.txt`` in ``folder`` or ``folder/raw``), or :obj:`None`.

    Raises:
        InvalidGraphError: several data sets in one folder.
    """
    folder = Path(folder)
    for where in (folder, folder / "raw"):
        if not where.is_dir():
            continue
        names = sorted(p.name[: -len("_A.txt")] for p in where.glob("*_A.txt")
                       if (where / f"{p.name[: -len('_A.txt')]}_graph_indicator.txt").is_file())
        if len(names) > 1:
            raise InvalidGraphError(f"{where}: holds several TU data sets ({', '.join(names)}); put each in its own "
                                    "folder")
        if names:
            return names[0], where
    return None


def _check_tu_files(name: str, where: Path) -> None:
    """What PyG's reader takes on trust: node ids within the set, nodes grouped by graph, edges
    within one graph, one label per graph."""
    from graphcl.data.files import _as_int, _read_table

    indicator = _as_int(_read_table(where / f"{name}_graph_indicator.txt", np.float64).reshape(-1),
                        where / f"{name}_graph_indicator.txt", "graph ids")
    edges = _as_int(_read_table(where / f"{name}_A.txt", np.float64, max_cols=2), where / f"{name}_A.txt", "node ids")
    if indicator.size == 0:
        raise InvalidGraphError(f"{where / f'{name}_graph_indicator.txt'}: no nodes")
    if indicator.min() != 1 or (np.diff(indicator) < 0).any():
        raise InvalidGraphError(f"{where / f'{name}_graph_indicator.txt'}: graph ids must start at 1 and not decrease "
                                "(nodes listed graph by graph)")
    if edges.size and (edges.min() < 1 or edges.max() > indicator.size):
        bad = int(edges.min() if edges.min() < 1 else edges.max())
        raise InvalidGraphError(f"{where / f'{name}_A.txt'}: node {bad} is outside 1..{indicator.size} (the nodes of "
                                f"{name}_graph_indicator.txt; TU ids are 1-based)")
    crossing = np.flatnonzero(indicator[edges[:, 0] - 1] != indicator[edges[:, 1] - 1]) if edges.size else []
    if len(crossing):
        a, b = edges[crossing[0]]
        raise InvalidGraphError(f"{where / f'{name}_A.txt'}, line {crossing[0] + 1}: the edge {a}, {b} joins two "
                                "graphs")
    labels = where / f"{name}_graph_labels.txt"
    if labels.is_file():
        count = _read_table(labels, np.float64).shape[0]
        if count != int(indicator.max()):
            raise InvalidGraphError(f"{labels}: {count} labels for {int(indicator.max())} graphs")


def load_tu_folder(folder: str | os.PathLike, root: str | os.PathLike | None = None) -> Dataset:
    r"""A TU-format folder (see the module doc) as PyG's :class:`~torch_geometric.datasets.TUDataset`,
    staged into ``<cache root>/own/<NAME>-<key>/<NAME>/raw/`` (``catalogue_name`` = ``NAME``;
    ``root``: the cache root instead of ``$GRAPHCL_DATA``).

    Raises:
        InvalidGraphError: not a TU folder, or PyG cannot parse the files.
    """
    from torch_geometric.datasets import TUDataset

    found = tu_prefix(folder)
    if found is None:
        raise InvalidGraphError(f"{folder}: no <NAME>_A.txt with <NAME>_graph_indicator.txt (TU format) here or "
                                "in raw/")
    name, where = found
    files = sorted(p for p in where.glob(f"{name}_*.txt") if p.is_file())
    key = cache.cache_key([[p.name, cache._sha256sum(p)] for p in files])
    root = cache.cache_root(root) / "own" / f"{name}-{key}"
    raw = root / name / "raw"
    if not (root / name / "processed").is_dir():
        _check_tu_files(name, where)
    for path in files:
        if not (raw / path.name).is_file():
            with cache._atomic_target(raw / path.name) as tmp:
                shutil.copyfile(path, tmp)
    try:
        dataset = TUDataset(str(root), name, use_node_attr=True)
    except Exception as err:
        shutil.rmtree(root / name / "processed", ignore_errors=True)
        reason = (str(err).strip().splitlines() or [type(err).__name__])[-1]
        raise InvalidGraphError(f"{where}: PyG's TUDataset cannot read the {name}_*.txt files "
                                f"({type(err).__name__}: {reason})") from err
    dataset.catalogue_name = name
    if dataset.num_node_features == 0:
        _degree_features(dataset)
    return dataset


# --------------------------------------------------------------------------------------------
# SMILES
# --------------------------------------------------------------------------------------------

def _atom_one_hot(x: Tensor) -> Tensor:
    """PyG's nine categorical atom features (:data:`torch_geometric.utils.smiles.x_map`) as one
    float one-hot block per feature (177 columns)."""
    from torch_geometric.utils.smiles import x_map

    sizes = [len(values) for values in x_map.values()]
    blocks = [torch.nn.functional.one_hot(x[:, i], size).float() for i, size in enumerate(sizes)]
    return torch.cat(blocks, dim=1) if x.numel() else torch.zeros(0, sum(sizes))


def _label_column(path: Path, header: list[str], smiles: int) -> int | None:
    lowered = [h.strip().lower() for h in header]
    for name in ("label", "y"):
        if name in lowered:
            return lowered.index(name)
    others = [i for i in range(len(header)) if i != smiles]
    if len(others) == 1:
        return others[0]
    if not others:
        return None
    raise InvalidGraphError(f"{path}: which column holds the labels? Name it `label` or `y`; found columns "
                            f"{header}")


def _class_ids(path: Path, labels: list[str], lines: list[int]) -> Tensor:
    """Integer labels as given, other strings as class names in sorted order -> ``0..C-1``."""
    numbers = []
    for label, line in zip(labels, lines):
        if not label:
            raise InvalidGraphError(f"{path}, line {line}: the label is empty")
        try:
            numbers.append(float(label))
        except ValueError:
            numbers = None
            break
    if numbers is not None:
        fractional = next((n for n in numbers if n != int(n)), None)
        if fractional is not None:
            raise InvalidGraphError(f"{path}: label {fractional} is not a class id; graph-level evaluation needs "
                                    "integer classes or class names")
        values = torch.tensor([int(n) for n in numbers])
    else:
        names = sorted(set(labels))
        values = torch.tensor([names.index(label) for label in labels])
    return torch.unique(values, return_inverse=True)[1]


def load_smiles_csv(path: str | os.PathLike) -> GraphSet:
    r"""Molecules from a CSV file: a header row with a ``smiles`` column (any case) and optionally a
    label column (``label`` or ``y``, or the only other column), one molecule per row.

    Each molecule is :func:`torch_geometric.utils.from_smiles` (hydrogens implicit) with its nine
    categorical atom features one-hot encoded as ``x`` (177 columns), the bond features as
    ``edge_attr`` and the label as ``y``; ``catalogue_name`` is the file's stem.

    Raises:
        DatasetUnavailableError: ``rdkit`` is not installed.
        InvalidGraphError: no ``smiles`` column, an invalid SMILES (naming its line), an empty or
            fractional label.
    """
    path = Path(path)
    if importlib.util.find_spec("rdkit") is None:
        raise DatasetUnavailableError(f"{path}: reading SMILES needs RDKit, which is not installed; "
                                      'pip install "graphcl[smiles]" (or pip install rdkit)')
    from rdkit import Chem, RDLogger
    from torch_geometric.utils import from_smiles

    RDLogger.DisableLog("rdApp.*")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = [(number, row) for number, row in enumerate(csv.reader(handle), 1) if any(f.strip() for f in row)]
    if not rows:
        raise InvalidGraphError(f"{path}: the file is empty")
    header = [h.strip() for h in rows[0][1]]
    lowered = [h.lower() for h in header]
    if "smiles" not in lowered:
        raise InvalidGraphError(f"{path}: a .csv is read as molecules and needs a header with a `smiles` column "
                                f"(and a `label` column); found columns {header}")
    col = lowered.index("smiles")
    label_col = _label_column(path, header, col)
    graphs, labels, lines = [], [], []
    for number, row in rows[1:]:
        if len(row) != len(header):
            raise InvalidGraphError(f"{path}, line {number}: {len(row)} fields, but the header has {len(header)}")
        smiles = row[col].strip()
        if not smiles or Chem.MolFromSmiles(smiles) is None:
            raise InvalidGraphError(f"{path}, line {number}: invalid SMILES {smiles!r} (RDKit cannot parse it)")
        mol = from_smiles(smiles)
        graphs.append(Data(x=_atom_one_hot(mol.x), edge_index=mol.edge_index, edge_attr=mol.edge_attr,
                           num_nodes=mol.num_nodes))
        if label_col is not None:
            labels.append(row[label_col].strip())
            lines.append(number)
    if not graphs:
        raise InvalidGraphError(f"{path}: the header has no molecule rows below it")
    if label_col is not None:
        for graph, label in zip(graphs, _class_ids(path, labels, lines)):
            graph.y = label.view(1)
    return graph_set(graphs, path.stem, str(path))
