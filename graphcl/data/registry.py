"""The dataset registry: names -> catalogue entries -> loaders.

Lookup order for a registered dataset:

1. the cache (``root`` argument, else ``$GRAPHCL_DATA``, else the checkout's ``datasets/``
   folder, else ``~/.cache/graphcl``);
2. the read-only mirror ``$GRAPHCL_MIRROR``: missing raw files are copied into the cache under
   the names the loader expects, after checking their sha256 against the catalogue;
3. the canonical source (PyG's ``download_url`` for PyG and SDCN files, ``ogb``'s own download
   for OGB), failing fast when offline.

If all three fail, :class:`~graphcl.errors.DatasetUnavailableError` names the missing files and
the folder to put them in.
"""
from __future__ import annotations

import difflib
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from torch_geometric.data import Data, Dataset, HeteroData

from graphcl.data import cache, loaders
from graphcl.data.catalogue import _STAT_NAMES, DatasetInfo, RawFile, _read_catalogue
from graphcl.data.files import _homogeneous_folder, load_graph_files, read_pt
from graphcl.data.graph_sets import graph_set, load_smiles_csv, load_tu_folder, tu_prefix
from graphcl.data.hetero_files import is_hetero_folder, load_hetero_folder
from graphcl.data.interactions import is_interaction_folder, load_interaction_folder
from graphcl.errors import DatasetIntegrityError, DatasetUnavailableError, InvalidGraphError, UnknownNameError

log = logging.getLogger(__name__)

#: Loader per catalogue ``family``: ``(entry, dataset cache folder) -> Data`` (``HeteroData`` for heco).
_LOADERS: dict[str, Callable[[DatasetInfo, Path], Data | HeteroData]] = {
    "planetoid": loaders._load_planetoid,
    "citationfull": loaders._load_citationfull,
    "amazon": loaders._load_amazon,
    "coauthor": loaders._load_coauthor,
    "wikics": loaders._load_wikics,
    "ogb": loaders._load_ogb_node,
    "sdcn": loaders._load_sdcn,
    "heco": loaders._load_heco,
    "lightgcn": loaders._load_lightgcn,
    "tu": loaders._load_tu,
}


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------

def get_dataset_info(name: str) -> DatasetInfo:
    """The catalogue entry of a dataset name or alias (case-insensitive).

    Raises:
        UnknownNameError: listing close matches.
    """
    key = name.strip().lower()
    catalogue = _read_catalogue()
    if key in catalogue:
        return catalogue[key]
    for info in catalogue.values():
        if key in info.aliases:
            return info
    choices = list(catalogue) + [a for info in catalogue.values() for a in info.aliases]
    close = difflib.get_close_matches(key, choices, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownNameError(
        f"unknown dataset {name!r}.{hint} Run `graphcl datasets` to list all registered names, or pass "
        "the path of a folder or file holding your own graph.")


def _looks_like_path(name_or_path: str) -> bool:
    """Whether to treat the argument as a user path rather than a registered name.

    An existing path wins when it is written like one (a separator, a suffix, ``.`` or ``~``);
    a bare word that is both a registered name and a folder in the current directory loads the
    registered dataset (write ``./name`` for the folder).
    """
    path = Path(name_or_path).expanduser()
    if not path.exists():
        return False
    separators = [s for s in (os.sep, os.altsep) if s]
    if any(s in name_or_path for s in separators) or path.suffix or name_or_path.startswith((".", "~")):
        return True
    try:
        get_dataset_info(name_or_path)
    except UnknownNameError:
        return True
    log.info("%r is both a registered dataset and a path here; loading the registered dataset "
             "(pass ./%s to load the folder)", name_or_path, name_or_path)
    return False


# --------------------------------------------------------------------------------------------
# Availability
# --------------------------------------------------------------------------------------------

# --------------------------------------------------------------------------------------------
# Obtaining raw files
# --------------------------------------------------------------------------------------------

def _missing(info: DatasetInfo, folder: Path) -> list[RawFile]:
    return [raw for raw in info.files if not (folder / raw.name).exists()]


def _unavailable(info: DatasetInfo, folder: Path, missing: list[RawFile], reason: str) -> DatasetUnavailableError:
    """The error that tells the user exactly which files to put where."""
    mirror = cache.mirror_root()
    count = f"{len(missing)} raw file{'s are' if len(missing) > 1 else ' is'}"
    lines = [f"dataset {info.name!r} is not available: {count} in neither the cache nor the mirror, and {reason}.",
             f"Missing files (put them into {folder}{os.sep}):"]
    by_url: dict[str | None, list[RawFile]] = {}
    for raw in missing:
        by_url.setdefault(raw.url if raw.url and not raw.url_member else None, []).append(raw)
    for url, group in by_url.items():
        if url is not None and len(group) > 1:  # one archive unpacks into several files
            lines.append(f"  - {', '.join(raw.name for raw in group)}  (unpacked from {url})")
            continue
        for raw in group:
            where = [f"source: {raw.url}" + (f", member {raw.url_member}" if raw.url_member else "")
                     if raw.url else "no download source known"]
            if raw.note:
                where.append(raw.note)
            lines.append(f"  - {raw.name}  ({'; '.join(where)})")
    in_mirror = [raw for raw in missing if raw.mirror]
    if in_mirror:
        state = f"currently {mirror}" if mirror else "currently unset"
        lines.append(f"Or set GRAPHCL_MIRROR ({state}) to a read-only mirror laid out like shared/datasets that holds "
                     + ", ".join(raw.mirror + (f" (member {raw.member})" if raw.member else "") for raw in in_mirror)
                     + ".")
    lines.append("The cache folder is chosen by the root= argument, else GRAPHCL_DATA.")
    return DatasetUnavailableError("\n".join(lines))


def _stage_from_mirror(info: DatasetInfo, folder: Path) -> None:
    """Copy what the mirror holds of the missing raw files into the cache (checksums verified)."""
    mirror = cache.mirror_root()
    if mirror is None:
        return
    if not mirror.is_dir():
        log.warning("GRAPHCL_MIRROR=%s is not a folder; ignoring it", mirror)
        return
    for raw in _missing(info, folder):
        if raw.mirror and (mirror / raw.mirror).is_file():
            cache._stage_from_mirror(raw, mirror, folder / raw.name)


def _download(info: DatasetInfo, folder: Path, missing: list[RawFile]) -> Data | None:
    """Download the missing files; for OGB (``options.download: library``) run the loader, which
    downloads through ``ogb``, and return its Data."""
    no_source = [raw for raw in missing if not raw.url]
    if no_source:
        raise _unavailable(info, folder, missing, "no download source is known for "
                           + ", ".join(raw.name for raw in no_source))
    try:
        with cache._network_guard({raw.url for raw in missing}):
            if info.options.get("download") == "library":
                return _LOADERS[info.family](info, folder)
            for raw in missing:
                cache._download_file(raw.url, folder / raw.name, raw.url_sha256, raw.url_member)
    except cache._DownloadError as err:
        # `from None`: the message says what failed; the urllib traceback would only bury it.
        raise _unavailable(info, folder, _missing(info, folder), f"the download failed ({err})") from None
    return None


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------

def dataset_stats(data: Data | HeteroData) -> dict[str, int]:
    """The statistics the catalogue records, measured on a loaded graph.

    For a :class:`~torch_geometric.data.HeteroData`: nodes, features and classes of its target
    node type (``data.target_node_type``), edges of all edge types together.
    """
    if isinstance(data, Dataset):  # a set of graphs: totals over its graphs
        return {
            "num_nodes": int(data._data.num_nodes if data._data.num_nodes is not None else 0),
            "num_edges": int(data._data.edge_index.size(1)),
            "num_features": int(data.num_features),
            "num_classes": int(data.num_classes),
        }
    if isinstance(data, HeteroData):
        target = data[data.target_node_type]
        return {
            "num_nodes": int(target.num_nodes),
            "num_edges": sum(int(store.edge_index.size(1)) for store in data.edge_stores),
            "num_features": int(target.x.size(1)) if "x" in target else 0,
            "num_classes": int(data.num_classes),
        }
    return {
        "num_nodes": int(data.num_nodes),
        "num_edges": int(data.edge_index.size(1)),
        "num_features": int(data.x.size(1)) if data.x is not None else 0,
        "num_classes": int(data.num_classes) if "num_classes" in data else 0,
    }


def _verify_stats(info: DatasetInfo, data: Data, folder: Path) -> None:
    """Compare a loaded graph with its catalogue entry.

    Raises:
        DatasetIntegrityError: naming each statistic that differs, expected vs found.
    """
    found = dataset_stats(data)
    diffs = [f"{key}: expected {getattr(info, key)}, found {found[key]}"
             for key in _STAT_NAMES if getattr(info, key) is not None and found[key] != getattr(info, key)]
    if diffs:
        raise DatasetIntegrityError(
            f"dataset {info.name!r} does not match its catalogue entry ({'; '.join(diffs)}). The cached files "
            f"are probably corrupt or from another version: delete {folder} and load again (or pass "
            "check_stats=False to skip this check).")


def _finalize(data: Data | HeteroData, name: str) -> Data | HeteroData:
    """Common dtypes and metadata: float32 ``x``, int64 1-D ``y``, ``num_classes``, ``name``
    (for a ``HeteroData``: ``x`` of every node type, ``y`` of the target type)."""
    if isinstance(data, Dataset):  # graph classification: PyG's dataset (its own `name` is the TU file prefix)
        data.catalogue_name = name
        return data
    if isinstance(data, HeteroData):
        for store in data.node_stores:
            if "x" in store and store.x.dtype != torch.float32:
                store.x = store.x.float()
        for store in data.edge_stores:
            store.edge_index = store.edge_index.long()
        target = data[data.target_node_type]
        data.num_classes = 0
        if "y" in target:
            target.y = target.y.long().view(-1)
            labelled = target.y[target.y >= 0]
            data.num_classes = int(labelled.max()) + 1 if labelled.numel() else 0
        data.name = name
        return data
    if data.x is not None and data.x.dtype != torch.float32:
        data.x = data.x.float()
    data.edge_index = data.edge_index.long()
    if data.y is not None:
        data.y = data.y.long().view(-1)
        if "num_classes" not in data:
            labelled = data.y[data.y >= 0]
            data.num_classes = int(labelled.max()) + 1 if labelled.numel() else 0
    data.name = name
    return data


def load_dataset(name_or_path: str | os.PathLike, root: str | os.PathLike | None = None, *,
                 check_stats: bool = True) -> Data | HeteroData | Dataset:
    r"""Load a registered dataset by name, or a user graph from a path.

    Args:
        name_or_path (str or PathLike): A registered name or alias (case-insensitive, see
            :func:`list_datasets`), or an existing folder or file of your own (``docs/own-data.md``):
            a single graph (:mod:`graphcl.data.files`), a set of graphs (a TU folder, a ``.pt``
            list of ``Data``, a ``.csv`` of SMILES; :mod:`graphcl.data.graph_sets`), a
            heterogeneous folder (:mod:`graphcl.data.hetero_files`), an interaction folder
            (:mod:`graphcl.data.interactions`), or a folder with a registered dataset's raw files
            (recognised by the catalogue's names and sha256, staged into the cache and loaded as
            that dataset).
        root (str or PathLike, optional): Cache root to use instead of ``$GRAPHCL_DATA`` (e.g. a
            folder already holding ``ogbn_arxiv/raw/...``). (default: :obj:`None`)
        check_stats (bool, optional): Compare nodes / edges / features / classes with the catalogue
            and raise on a mismatch. Turn off for hand-made or subsampled copies.
            (default: :obj:`True`)

    Returns:
        Data: ``x`` (float32), ``edge_index`` (int64), ``y`` (int64, 1-D, classes from 0),
        ``num_classes`` (int) and ``name`` (canonical name); Planetoid and OGB graphs keep their
        ``train_mask`` / ``val_mask`` / ``test_mask``. The heterogeneous ``heco-*`` datasets are
        :class:`~torch_geometric.data.HeteroData` (see :func:`graphcl.data.loaders._load_heco`),
        sets of graphs a PyG :class:`~torch_geometric.data.Dataset` with ``catalogue_name``.

    Raises:
        UnknownNameError: the name is not registered (close matches are suggested).
        DatasetUnavailableError: a path that does not exist (``no such file or folder: PATH``).
        DatasetUnavailableError: the files are in neither cache nor mirror and cannot be downloaded.
        DatasetIntegrityError: a checksum or a statistic differs from the catalogue.
        InvalidGraphError: a user graph is malformed.
    """
    text = os.fspath(name_or_path)
    if _looks_like_path(text):
        return _load_path(Path(text).expanduser(), root, check_stats)
    try:
        info = get_dataset_info(text)
    except UnknownNameError:
        if isinstance(name_or_path, os.PathLike) or _written_as_path(text):
            raise DatasetUnavailableError(f"no such file or folder: {text}") from None
        raise
    return _load_registered(info, root, check_stats)


def _load_registered(info: DatasetInfo, root: str | os.PathLike | None, check_stats: bool) -> Data | HeteroData:
    """Cache, else mirror, else download; load with the family's loader; check the statistics."""
    folder = cache.cache_root(root) / info.cache_dir
    data = None
    if _missing(info, folder):
        _stage_from_mirror(info, folder)
    missing = _missing(info, folder)
    if missing:
        data = _download(info, folder, missing)
        still = _missing(info, folder)
        if still and data is None:
            raise _unavailable(info, folder, still, "the download did not produce them")
    if data is None:
        data = _LOADERS[info.family](info, folder)
    data = _finalize(data, info.name)
    if check_stats:
        _verify_stats(info, data, folder)
    return data


# --------------------------------------------------------------------------------------------
# Paths: users' own data and registered datasets' raw folders
# --------------------------------------------------------------------------------------------

def _written_as_path(text: str) -> bool:
    """Whether a string that names nothing on disk was meant as a path (a separator, a suffix,
    a leading ``.`` or ``~``) rather than as a dataset name."""
    separators = [s for s in (os.sep, os.altsep) if s]
    return any(s in text for s in separators) or text.startswith((".", "~")) or bool(Path(text).suffix)


class _Sha256:
    """sha256 of files, each computed at most once."""

    def __init__(self) -> None:
        self._sums: dict[Path, str] = {}

    def __call__(self, path: Path) -> str:
        if path not in self._sums:
            self._sums[path] = cache._sha256sum(path)
        return self._sums[path]


def _raw_candidates(raw: RawFile, folder: Path) -> list[Path]:
    """Files in a user's folder that may be ``raw``: under its cache name (``raw/ind.cora.x``), its
    base name, or the mirror's base name (``amazon_cs.npz``), in ``folder`` or ``folder/raw``."""
    names = [raw.name, Path(raw.name).name] + ([Path(raw.mirror).name] if raw.mirror else [])
    found: list[Path] = []
    for name in names:
        for path in (folder / name, folder / "raw" / Path(name).name):
            if path not in found and path.is_file():
                found.append(path)
    return found


def _identify_raw_folder(folder: Path, sha: _Sha256) -> tuple[DatasetInfo | None, dict[str, Path], str | None]:
    """Which registered dataset's raw files ``folder`` holds: ``(entry, cache name -> file, None)``
    when every raw file of an entry is there with the catalogue's sha256 (mirror or canonical
    download), else ``(None, {}, problem)`` where ``problem`` describes a folder with all of an
    entry's file names but another checksum (or is :obj:`None`). Entries without any recorded
    checksum are never matched by name alone."""
    best: tuple[DatasetInfo, dict[str, Path]] | None = None
    problem = None
    for info in _read_catalogue().values():
        if not info.files or not any(raw.sha256 or raw.url_sha256 for raw in info.files):
            continue
        candidates = {raw.name: _raw_candidates(raw, folder) for raw in info.files}
        if not all(candidates.values()):
            continue
        found: dict[str, Path] = {}
        for raw in info.files:
            expected = {raw.sha256, raw.url_sha256} - {None}
            match = next((p for p in candidates[raw.name] if not expected or sha(p) in expected), None)
            if match is None:
                first = candidates[raw.name][0]
                problem = problem or (f"{folder} has the raw file names of the registered dataset {info.name!r} but "
                                      f"{first.name} differs from the catalogue (sha256 {sha(first)[:16]}..., "
                                      f"expected {sorted(expected)[0][:16]}...)")
                break
            found[raw.name] = match
        else:
            if best is None or len(info.files) > len(best[0].files):
                best = (info, found)
    if best is not None:
        return best[0], best[1], None
    return None, {}, problem


def _stage_raw_folder(info: DatasetInfo, found: dict[str, Path], root: str | os.PathLike | None,
                      sha: _Sha256) -> None:
    """Copy a user's raw files of a registered dataset into its cache folder (a zip member is
    extracted as from the mirror); files the cache already has are left alone."""
    folder = cache.cache_root(root) / info.cache_dir
    for raw in info.files:
        dest, source = folder / raw.name, found[raw.name]
        if dest.exists():
            continue
        with cache._atomic_target(dest) as tmp:
            if raw.member and raw.sha256 and sha(source) == raw.sha256:
                cache._write_member(source, raw.member, tmp, origin=str(source))
            else:
                shutil.copyfile(source, tmp)
        log.info("staged %s into %s", source, dest)


#: The layouts a path may have, for the error on an unrecognised one.
_LAYOUTS = ("folders: edges.txt + features.npy [+ labels.npy]; SDCN <name>.txt + <name>_graph.txt; <name>_feat.npy + "
            "<name>_adj.npy; TU <NAME>_A.txt + <NAME>_graph_indicator.txt; heterogeneous meta.json + nodes/ + "
            "edges/<src>__<dst>.txt; interactions train.txt + test.txt or trnMat.pkl + tstMat.pkl; a registered "
            "dataset's raw files. Files: .pt (Data, list of Data, HeteroData), .zip (<name>_feat.npy ...), .csv "
            "(smiles,label). See docs/own-data.md")


def _load_path(path: Path, root: str | os.PathLike | None, check_stats: bool) -> Data | HeteroData | Dataset:
    """Load a user's file or folder, recognising its layout (docs/own-data.md)."""
    if not path.exists():
        raise DatasetUnavailableError(f"no such file or folder: {path}")
    if path.is_dir():
        sha = _Sha256()
        info, found, problem = _identify_raw_folder(path, sha)
        if info is not None:
            log.info("%s holds the raw files of the registered dataset %r", path, info.name)
            _stage_raw_folder(info, found, root, sha)
            return _load_registered(info, root, check_stats)
        if is_hetero_folder(path):
            data = load_hetero_folder(path)
            return _finalize(data, data.name)
        tu = tu_prefix(path)
        if tu is not None:
            return _finalize(load_tu_folder(path, root), tu[0])
        if is_interaction_folder(path):
            return load_interaction_folder(path, name=path.name)
        if _homogeneous_folder(path):
            return load_graph_files(path)
        if problem is not None:
            raise DatasetIntegrityError(f"{problem}; replace it with the catalogued file, or load the dataset by name")
        raise InvalidGraphError(f"{path}: not a recognised graph layout. Accepted {_LAYOUTS}")
    suffix = path.suffix.lower()
    if suffix in (".pt", ".pth"):
        obj = read_pt(path)
        if isinstance(obj, list):
            return _finalize(graph_set(obj, path.stem, str(path)), path.stem)
        return _finalize(obj, str(obj.get("name") or path.stem) if isinstance(obj, HeteroData) else obj.name)
    if suffix == ".csv":
        return _finalize(load_smiles_csv(path), path.stem)
    if suffix == ".zip":
        return load_graph_files(path)
    raise InvalidGraphError(f"{path}: not a recognised graph file ({suffix or 'no suffix'}). Accepted {_LAYOUTS}")


def remove_cached(name: str, root: str | os.PathLike | None = None) -> Path:
    """Delete a dataset's cache folder (raw and processed files) and return its path."""
    info = get_dataset_info(name)
    folder = cache.cache_root(root) / info.cache_dir
    shutil.rmtree(folder, ignore_errors=True)
    return folder
