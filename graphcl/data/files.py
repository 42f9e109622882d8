r"""Read a graph from plain files, so users can bring their own data without writing a loader.

:func:`load_graph_files` accepts:

(a) a folder with an edge list (``edges.txt``, ``edges.csv`` or ``edge_list.txt``: two integer
    columns, whitespace- or comma-separated, an optional header line is skipped, further columns
    are ignored), features (``features.npy``, or ``features.txt`` / ``features.csv`` with one dense
    row per node) and optional labels (``labels.npy`` or ``labels.txt`` / ``labels.csv``: one label
    per line in node order, or ``node label`` pairs, unlisted nodes getting ``-1``);
(b) a folder in SDCN format: ``<name>.txt`` (features), ``<name>_label.txt``, ``<name>_graph.txt``
    (a kNN graph ``<name><k>_graph.txt`` is used if it is the only graph file);
(c) the ``.npy`` format of deep-graph-clustering repositories: ``<name>_feat.npy``,
    ``<name>_adj.npy`` (dense adjacency, a pickled SciPy sparse matrix, or an edge array; or
    ``<name>_adj.npz`` saved by :func:`scipy.sparse.save_npz`) and optional ``<name>_label.npy``,
    in a folder or a ``.zip`` file;
(d) a ``.pt`` file holding a saved :class:`~torch_geometric.data.Data` (or its ``to_dict()``).

:func:`graphcl.data.load_dataset` accepts these and, besides, sets of graphs
(:mod:`graphcl.data.graph_sets`: TU folders, ``.pt`` lists of ``Data``, SMILES CSVs),
heterogeneous folders (:mod:`graphcl.data.hetero_files`), interaction folders
(:mod:`graphcl.data.interactions`) and registered datasets' raw folders; see ``docs/own-data.md``.

Every user graph is made undirected (both directions of each edge), coalesced (duplicates
merged), stripped of self-loops (the number removed is logged), and then validated with
:func:`graphcl.checks.check_graph`. Non-negative labels are renumbered to ``0..C-1`` in sorted
order (so 1-based labels become 0-based); negative labels mark unlabelled nodes and become ``-1``.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData
from torch_geometric.utils import coalesce, remove_self_loops, to_undirected

from graphcl.checks import check_graph
from graphcl.errors import InvalidGraphError

log = logging.getLogger(__name__)

_EDGE_FILES = ("edges.txt", "edges.csv", "edge_list.txt")
_FEATURE_FILES = ("features.npy", "features.txt", "features.csv")
_LABEL_FILES = ("labels.npy", "labels.txt", "labels.csv")

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_COMMENTS = ("#", "%")


# --------------------------------------------------------------------------------------------
# Text parsing
# --------------------------------------------------------------------------------------------

def _text_layout(path: Path) -> tuple[str | None, int, bool]:
    """Delimiter (``','`` or :obj:`None` for whitespace), the number of leading lines to skip
    (blank lines, comments and at most one header line) of a numeric text table, and whether the
    file has any data line at all."""
    skip = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            stripped = line.strip()
            if not stripped or stripped.startswith(_COMMENTS):
                skip += 1
                continue
            delimiter = "," if "," in stripped else None
            tokens = [t for t in re.split(r"[,\s]+", stripped) if t]
            if all(_NUMBER.match(t) for t in tokens):
                return delimiter, skip, True
            skip += 1  # header line: only the first non-comment line may be one
            has_data = any(l.strip() and not l.strip().startswith(_COMMENTS) for l in f)
            return delimiter, skip, has_data
    return None, skip, False


def _read_table(path: Path, dtype: Any = np.float32, max_cols: int | None = None) -> np.ndarray:
    """Read a numeric text table (whitespace or comma separated, optional header) as a 2-D array.

    Uses pandas' C parser when available (several times faster than :func:`numpy.loadtxt` on
    large dense feature files).

    Raises:
        InvalidGraphError: naming the file if a row cannot be parsed.
    """
    delimiter, skip, has_data = _text_layout(path)
    if not has_data:
        return np.empty((0, max_cols or 0), dtype=dtype)
    usecols = list(range(max_cols)) if max_cols else None
    try:
        import pandas as pd

        frame = pd.read_csv(path, sep=delimiter or r"\s+", header=None, skiprows=skip, comment="#",
                            usecols=usecols, dtype=np.float64 if dtype != np.float32 else np.float32,
                            skip_blank_lines=True, engine="c")
        table = frame.to_numpy()
    except ImportError:  # pragma: no cover - pandas ships with ogb
        table = np.loadtxt(path, delimiter=delimiter, skiprows=skip, usecols=usecols, ndmin=2,
                           comments=_COMMENTS)
    except ValueError as err:
        raise InvalidGraphError(f"{path}: cannot parse as a numeric table ({err})") from err
    except Exception as err:  # pandas.errors.ParserError / EmptyDataError
        if type(err).__module__.startswith("pandas"):
            raise InvalidGraphError(f"{path}: cannot parse as a numeric table ({err})") from err
        raise
    table = np.atleast_2d(table) if table.size else table.reshape(0, max_cols or 0)
    if np.isnan(table).any():
        row = int(np.argwhere(np.isnan(table))[0, 0])
        raise InvalidGraphError(f"{path}: row {row + 1 + skip} has missing values or fewer columns than the others")
    return table.astype(dtype, copy=False)


def _as_int(array: np.ndarray, path: Path, what: str) -> np.ndarray:
    """Cast a float array holding integers to int64, raising if any value is fractional."""
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64, copy=False)
    if not np.all(np.isfinite(array)) or not np.all(np.mod(array, 1) == 0):
        raise InvalidGraphError(f"{path}: {what} must be integers")
    return array.astype(np.int64)


def _read_edge_list(path: Path) -> np.ndarray:
    """Read a two-column integer edge list as an ``(E, 2)`` int64 array (extra columns ignored)."""
    table = _read_table(path, dtype=np.float64, max_cols=2)
    if table.ndim != 2 or table.shape[1] < 2:
        raise InvalidGraphError(f"{path}: an edge list needs two integer columns (source target) per line")
    return _as_int(table, path, "node ids")


def _read_features(path: Path) -> np.ndarray:
    """Read a dense ``[num_nodes, num_features]`` matrix from ``.npy`` or text."""
    if path.suffix == ".npy":
        array = _load_npy(path.read_bytes(), path)
    else:
        array = _read_table(path, dtype=np.float32)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise InvalidGraphError(f"{path}: features must be a 2-D [num_nodes, num_features] array, got shape {array.shape}")
    return np.asarray(array, dtype=np.float32)


def _read_labels(path: Path, num_nodes: int | None = None) -> np.ndarray:
    """Read labels: one per node in order, one-hot rows, or ``node label`` pairs (nodes not
    listed get ``-1``)."""
    if path.suffix == ".npy":
        labels = np.asarray(_load_npy(path.read_bytes(), path))
    else:
        labels = _read_table(path, dtype=np.float64)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim == 2:
        if np.isin(labels, (0, 1)).all() and (labels.sum(1) == 1).all():
            return labels.argmax(1).astype(np.int64)  # one-hot rows
        if labels.shape[1] == 2 and num_nodes is not None:
            pairs = _as_int(labels, path, "node ids and labels")
            if pairs[:, 0].min() < 0 or pairs[:, 0].max() >= num_nodes:
                bad = int(pairs[:, 0].min() if pairs[:, 0].min() < 0 else pairs[:, 0].max())
                raise InvalidGraphError(f"{path}: a `node label` pair refers to node {bad}, outside [0, {num_nodes - 1}]")
            out = np.full(num_nodes, -1, dtype=np.int64)
            out[pairs[:, 0]] = pairs[:, 1]
            return out
        raise InvalidGraphError(f"{path}: labels must be one integer per line, `node label` pairs or one-hot rows, "
                                f"got {labels.shape[1]} columns")
    return _as_int(labels.reshape(-1), path, "labels")


def _load_npy(payload: bytes, origin: Path | str) -> Any:
    """Load a ``.npy`` payload; an object array (e.g. a pickled SciPy matrix) is allowed only
    because the user passed the file explicitly."""
    try:
        return np.load(io.BytesIO(payload), allow_pickle=False)
    except ValueError:
        log.debug("%s holds Python objects; loading it with allow_pickle=True", origin)
        return np.load(io.BytesIO(payload), allow_pickle=True)
    except Exception as err:
        raise InvalidGraphError(f"{origin}: not a readable .npy file ({err})") from err


# --------------------------------------------------------------------------------------------
# Building the Data object
# --------------------------------------------------------------------------------------------

def _relabel(y: np.ndarray | Tensor) -> tuple[Tensor, int]:
    """Renumber non-negative labels to ``0..C-1`` (sorted order); negative labels become ``-1``.

    Returns:
        (Tensor, int): the int64 labels and the number of classes ``C``.
    """
    y = torch.as_tensor(np.asarray(y)).long().flatten()
    known = y >= 0
    classes, inverse = torch.unique(y[known], return_inverse=True)
    out = torch.full_like(y, -1)
    out[known] = inverse
    return out, int(classes.numel())


def _clean_edges(edge_index: Tensor, num_nodes: int) -> tuple[Tensor, int]:
    """Symmetrise, coalesce and drop self-loops. Returns the new ``edge_index`` and the number of
    self-loops removed (counted once per node)."""
    edge_index = coalesce(edge_index, num_nodes=num_nodes)
    n_loops = int((edge_index[0] == edge_index[1]).sum())
    edge_index, _ = remove_self_loops(edge_index)
    edge_index = to_undirected(edge_index, num_nodes=num_nodes)
    return edge_index, n_loops


def _build_graph(x: np.ndarray | Tensor, edges: np.ndarray | Tensor, y: np.ndarray | Tensor | None,
                 sources: dict[str, str], name: str) -> Data:
    r"""Assemble and validate a user graph.

    Args:
        x: ``[N, F]`` features.
        edges: ``(E, 2)`` or ``(2, E)`` integer node ids.
        y: ``N`` labels or :obj:`None`.
        sources (dict): Which file each part came from (keys ``'x'``, ``'edges'``, ``'y'``), for
            error messages.
        name (str): Stored as ``data.name``.

    Raises:
        InvalidGraphError: on an empty edge list, an edge outside ``[0, N)``, or a label count
            that differs from the feature row count.
    """
    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    num_nodes = x.size(0)
    edges = torch.as_tensor(np.asarray(edges)).long()
    if edges.dim() == 2 and edges.size(1) == 2 and edges.size(0) != 2:
        edges = edges.t()
    if edges.dim() != 2 or edges.size(0) != 2:
        raise InvalidGraphError(f"{sources['edges']}: expected pairs of node ids, got an array of shape {tuple(edges.shape)}")
    if edges.size(1) == 0:
        raise InvalidGraphError(f"{sources['edges']}: the edge list is empty; a graph contrastive method needs edges")
    lo, hi = int(edges.min()), int(edges.max())
    if lo < 0 or hi >= num_nodes:
        bad = lo if lo < 0 else hi
        raise InvalidGraphError(
            f"{sources['edges']}: an edge refers to node {bad} but {sources['x']} has {num_nodes} rows "
            f"(valid node ids are 0..{num_nodes - 1}); fix the ids (0-based) or the feature file")
    edge_index, n_loops = _clean_edges(edges.contiguous(), num_nodes)
    if n_loops:
        log.info("%s: removed %d self-loops from %s", name, n_loops, sources["edges"])
    data = Data(x=x, edge_index=edge_index)
    if y is not None:
        y = np.asarray(y).reshape(-1)
        if y.shape[0] != num_nodes:
            raise InvalidGraphError(
                f"{sources['y']} has {y.shape[0]} labels but {sources['x']} has {num_nodes} feature rows; "
                "there must be one label per node")
        data.y, data.num_classes = _relabel(y)
    data.name = name
    check_graph(data, allow_self_loops=False)
    return data


# --------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------

def _first_existing(folder: Path, names: tuple[str, ...]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_file()), None)


def _read_edge_list_folder(folder: Path) -> Data:
    """Format (a): ``edges.*`` + ``features.*`` + optional ``labels.*``."""
    edge_path = _first_existing(folder, _EDGE_FILES)
    feat_path = _first_existing(folder, _FEATURE_FILES)
    if feat_path is None:
        raise InvalidGraphError(
            f"{folder}: found {edge_path.name} but no node features; add one of {', '.join(_FEATURE_FILES)} "
            "(one row per node)")
    x = _read_features(feat_path)
    label_path = _first_existing(folder, _LABEL_FILES)
    y = _read_labels(label_path, x.shape[0]) if label_path else None
    return _build_graph(x, _read_edge_list(edge_path), y,
                        {"x": str(feat_path), "edges": str(edge_path), "y": str(label_path)}, folder.name)


def _sdcn_name(folder: Path) -> tuple[str, Path]:
    """Dataset name and graph file of an SDCN folder."""
    graphs = sorted(folder.glob("*_graph.txt"))
    for graph in graphs:
        stem = graph.name[: -len("_graph.txt")]
        if (folder / f"{stem}.txt").is_file():
            return stem, graph
    for graph in graphs:  # kNN graphs: <name><k>_graph.txt
        stem = re.sub(r"\d+$", "", graph.name[: -len("_graph.txt")])
        if (folder / f"{stem}.txt").is_file():
            knn = sorted(folder.glob(f"{stem}*_graph.txt"))
            if len(knn) > 1:
                raise InvalidGraphError(
                    f"{folder}: several graphs for `{stem}` ({', '.join(p.name for p in knn)}); rename the one to use "
                    f"to {stem}_graph.txt")
            return stem, graph
    raise InvalidGraphError(f"{folder}: SDCN format needs <name>.txt next to <name>_graph.txt; found "
                            f"{', '.join(p.name for p in graphs)}")


def _read_sdcn(folder: Path, name: str | None = None) -> Data:
    """Format (b), SDCN: ``<name>.txt`` features, ``<name>_label.txt``, ``<name>_graph.txt``.

    The same reader serves the cache (registered SDCN sets are staged in this layout), the mirror
    and user folders.
    """
    if name is None:
        name, graph_path = _sdcn_name(folder)
    else:
        graph_path = folder / f"{name}_graph.txt"
    feat_path, label_path = folder / f"{name}.txt", folder / f"{name}_label.txt"
    x = _read_features(feat_path)
    y = _read_labels(label_path, x.shape[0]) if label_path.is_file() else None
    return _build_graph(x, _read_edge_list(graph_path), y,
                        {"x": str(feat_path), "edges": str(graph_path), "y": str(label_path)}, name)


def _adjacency_edges(adj: Any, origin: str) -> np.ndarray:
    """Edges of an adjacency given as dense square array, SciPy sparse matrix or edge array."""
    import scipy.sparse as sp

    if isinstance(adj, np.ndarray) and adj.dtype == object and adj.shape == ():
        adj = adj.item()
    if sp.issparse(adj):
        coo = sp.coo_matrix(adj)
        return np.stack([coo.row, coo.col])[:, coo.data != 0]
    adj = np.asarray(adj)
    if adj.ndim == 2 and adj.shape[0] == adj.shape[1] and adj.shape[0] > 2:
        return np.stack(np.nonzero(adj))
    if adj.ndim == 2 and 2 in adj.shape:
        return adj if adj.shape[0] == 2 else adj.T
    raise InvalidGraphError(f"{origin}: adjacency must be a square matrix, a SciPy sparse matrix or an edge "
                            f"array, got shape {adj.shape}")


def _read_npy_bundle(members: dict[str, Callable[[], bytes]], origin: str) -> Data:
    """Format (c): ``<name>_feat.npy``, ``<name>_adj.npy|.npz``, optional ``<name>_label.npy``.

    Args:
        members: file name -> function returning its bytes (a folder listing or a zip).
        origin: the folder or zip, for messages.
    """
    feats = sorted(m for m in members if m.endswith("_feat.npy"))
    if len(feats) != 1:
        raise InvalidGraphError(f"{origin}: expected exactly one <name>_feat.npy, found {feats or 'none'}")
    prefix = feats[0][: -len("_feat.npy")]
    name = Path(prefix).name
    src = {"x": f"{origin}:{feats[0]}", "y": f"{origin}:{prefix}_label.npy"}
    x = _load_npy(members[feats[0]](), src["x"])
    if f"{prefix}_adj.npy" in members:
        src["edges"] = f"{origin}:{prefix}_adj.npy"
        adj = _load_npy(members[f"{prefix}_adj.npy"](), src["edges"])
    elif f"{prefix}_adj.npz" in members:
        import scipy.sparse as sp

        src["edges"] = f"{origin}:{prefix}_adj.npz"
        try:
            adj = sp.load_npz(io.BytesIO(members[f"{prefix}_adj.npz"]()))
        except Exception as err:
            raise InvalidGraphError(f"{src['edges']}: not a scipy.sparse.save_npz file ({err})") from err
    else:
        raise InvalidGraphError(f"{origin}: found {feats[0]} but no {prefix}_adj.npy or {prefix}_adj.npz")
    y = None
    if f"{prefix}_label.npy" in members:
        y = np.asarray(_load_npy(members[f"{prefix}_label.npy"](), src["y"]))
        if y.ndim == 2 and y.shape[1] > 1:
            y = y.argmax(1)
    if np.ndim(x) != 2:
        raise InvalidGraphError(f"{src['x']}: features must be 2-D, got shape {np.shape(x)}")
    return _build_graph(x, _adjacency_edges(adj, src["edges"]), y, src, name)


def _folder_members(folder: Path) -> dict[str, Callable[[], bytes]]:
    return {p.name: p.read_bytes for p in folder.iterdir() if p.is_file()}


def _zip_members(path: Path) -> dict[str, Callable[[], bytes]]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        raise InvalidGraphError(f"{path}: not a valid zip file ({err})") from err
    return {n: (lambda n=n: archive.read(n)) for n in archive.namelist() if not n.endswith("/")}


def _pyg_safe_globals() -> contextlib.AbstractContextManager:
    """Allow-list, for the duration of a block, the PyG classes that a pickled ``Data`` or
    ``HeteroData`` refers to, so ``torch.load(weights_only=True)`` (the default since torch 2.6)
    can read processed files written by libraries that save whole ``Data`` objects (OGB) and
    users' ``torch.save(data)``. No other class is allowed, so the load stays free of arbitrary
    code execution."""
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import BaseStorage, EdgeStorage, GlobalStorage, NodeStorage

    safe_globals = getattr(torch.serialization, "safe_globals", None)
    if safe_globals is None:  # torch < 2.5: weights_only defaults to False there
        return contextlib.nullcontext()
    return safe_globals([DataEdgeAttr, DataTensorAttr, BaseStorage, GlobalStorage, NodeStorage, EdgeStorage])


#: What a ``.pt`` file may hold, for error messages.
PT_ACCEPTED = ("a torch_geometric Data (or its to_dict()), a list of Data (a set of graphs) or a HeteroData with "
               "target_node_type, written with torch.save")


def _pt_load_failure(path: Path, err: Exception) -> str:
    """What a ``.pt`` file that ``torch.load(weights_only=True)`` refused holds, in a few words."""
    text = str(err)
    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if found:
        return f"holds a {found.group(1)} object (reading it would run code from the file)"
    with open(path, "rb") as handle:
        head = handle.read(2)
    if not head:
        return "is empty"
    if not zipfile.is_zipfile(path) and head[:1] != b"\x80":
        return "is not a file written by torch.save"
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [type(err).__name__]
    return f"cannot be read by torch.load ({lines[-1][:160]})"


def load_pt_object(path: str | os.PathLike) -> Any:
    """The object in a ``.pt`` file, loaded with ``weights_only=True`` (no pickled code runs) and
    PyG's data classes allowed.

    Raises:
        InvalidGraphError: one line saying what the file holds instead and what is accepted.
    """
    path = Path(path)
    try:
        with _pyg_safe_globals():
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise InvalidGraphError(f"{path} {_pt_load_failure(path, err)}; accepted: {PT_ACCEPTED}") from None


def _pt_type_error(path: Path, obj: Any) -> InvalidGraphError:
    """The one-line error for a ``.pt`` that loaded but holds something else."""
    if isinstance(obj, dict):
        keys = sorted(map(str, obj))
        what = f"a dict with keys {keys[:6]}{' ...' if len(keys) > 6 else ''}"
    elif isinstance(obj, (list, tuple)):
        kinds = sorted({type(item).__name__ for item in obj})
        what = f"a {type(obj).__name__} of {len(obj)} items ({', '.join(kinds) or 'empty'})"
    else:
        what = f"a {type(obj).__module__}.{type(obj).__name__}".replace("builtins.", "")
    return InvalidGraphError(f"{path} holds {what}, not a graph; accepted: {PT_ACCEPTED}")


def _collated_graphs(obj: Any) -> list[Data] | None:
    """The graphs of an :meth:`InMemoryDataset.save` tuple ``(data dict, slices[, class])`` (or
    the ``(Data, slices)`` of older PyG versions), or :obj:`None` if ``obj`` is not one."""
    if not (isinstance(obj, (tuple, list)) and len(obj) in (2, 3) and isinstance(obj[1], dict)
            and (isinstance(obj[0], Data) or (isinstance(obj[0], dict) and "edge_index" in obj[0]))):
        return None
    from torch_geometric.data import InMemoryDataset

    holder = InMemoryDataset()
    holder._data = obj[0] if isinstance(obj[0], Data) else Data.from_dict(obj[0])
    holder.slices = obj[1]
    return [holder.get(i) for i in range(len(holder))] if obj[1] else [holder._data]


def read_pt(path: str | os.PathLike) -> Data | HeteroData | list[Data]:
    """Format (d) and its relatives: the graph(s) in a ``.pt`` file.

    Returns:
        a :class:`~torch_geometric.data.Data` (from a saved ``Data``, its ``to_dict()``, or a
        one-graph :meth:`InMemoryDataset.save` file) cleaned like every user graph; the list of
        ``Data`` of a saved list / tuple of graphs or of a many-graph ``InMemoryDataset`` file
        (a set of graphs, for :func:`graphcl.data.graph_set`); or a ``HeteroData`` that names its
        ``target_node_type``, as saved.

    Raises:
        InvalidGraphError: naming what the file holds when it is none of these.
    """
    path = Path(path)
    obj = load_pt_object(path)
    graphs = _collated_graphs(obj)
    if graphs is not None:
        obj = graphs[0] if len(graphs) == 1 else graphs
    if isinstance(obj, (list, tuple)) and obj and all(isinstance(g, Data) for g in obj):
        return list(obj)
    if isinstance(obj, dict) and "edge_index" in obj:
        obj = Data.from_dict(obj)
    if isinstance(obj, HeteroData):
        if "target_node_type" not in obj or obj.target_node_type not in obj.node_types:
            raise InvalidGraphError(f"{path} holds a HeteroData without a valid target_node_type; set "
                                    f"data.target_node_type to one of {obj.node_types} before saving")
        return obj
    if not isinstance(obj, Data):
        raise _pt_type_error(path, obj)
    return _finish_pt(obj, path)


def _read_pt(path: Path) -> Data:
    """A ``.pt`` file that must hold one homogeneous graph (:func:`load_graph_files`)."""
    obj = read_pt(path)
    if not isinstance(obj, Data):
        what = f"a set of {len(obj)} graphs" if isinstance(obj, list) else "a HeteroData"
        raise InvalidGraphError(f"{path} holds {what}, not one homogeneous graph; load it with "
                                "graphcl.data.load_dataset(path)")
    return obj


def _finish_pt(data: Data, path: Path) -> Data:
    """Apply the user-graph rules (undirected, coalesced, no self-loops, 0-based labels) to a Data."""
    if data.x is None or data.edge_index is None:
        raise InvalidGraphError(f"{path}: the saved Data needs both `x` and `edge_index`")
    data = data.clone()
    src = {"x": f"{path}:x", "edges": f"{path}:edge_index", "y": f"{path}:y"}
    clean = _build_graph(data.x, data.edge_index, data.y if data.y is not None else None, src, path.stem)
    for key, value in data.items():
        if key not in ("x", "edge_index", "y", "edge_attr", "edge_weight", "num_nodes"):
            clean[key] = value
    for key in ("edge_attr", "edge_weight"):
        if data.get(key) is not None:
            log.warning("%s: dropped `%s` (edges were symmetrised and coalesced)", path, key)
    check_graph(clean, allow_self_loops=False)
    return clean


def _homogeneous_folder(path: Path) -> bool:
    """Whether a folder has one of the layouts (a), (b), (c) of :func:`load_graph_files`."""
    if _first_existing(path, _EDGE_FILES):
        return True
    names = [p.name for p in path.iterdir() if p.is_file()]
    return any(n.endswith("_feat.npy") for n in names) or any(n.endswith("_graph.txt") for n in names)


def load_graph_files(path: str | os.PathLike) -> Data:
    r"""Load a user graph from a folder, a ``.zip`` or a ``.pt`` file (formats in the module doc).

    Raises:
        InvalidGraphError: naming the file and the problem.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        if _first_existing(path, _EDGE_FILES):
            return _read_edge_list_folder(path)
        members = _folder_members(path)
        if any(m.endswith("_feat.npy") for m in members):
            return _read_npy_bundle(members, str(path))
        if any(m.endswith("_graph.txt") for m in members):
            return _read_sdcn(path)
    elif path.suffix == ".zip":
        return _read_npy_bundle(_zip_members(path), str(path))
    elif path.suffix in (".pt", ".pth"):
        return _read_pt(path)
    raise InvalidGraphError(
        f"{path}: not a recognised graph layout. Accepted: a folder with {'/'.join(_EDGE_FILES)} + "
        f"{'/'.join(_FEATURE_FILES)} [+ {'/'.join(_LABEL_FILES)}]; an SDCN folder (<name>.txt, <name>_label.txt, "
        "<name>_graph.txt); a folder or .zip with <name>_feat.npy, <name>_adj.npy and <name>_label.npy; or a .pt "
        "file with a saved torch_geometric Data")
