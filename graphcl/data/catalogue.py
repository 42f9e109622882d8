"""The dataset catalogue: one YAML manifest per registered dataset.

A manifest (``datasets/<name>.yaml`` in a source checkout, ``graphcl.catalogue`` once installed)
records where a dataset comes from, under which licence, how to cite it, which raw files it needs
(their path in the read-only mirror, their name in the cache, their sha256 and canonical URL) and
the statistics a correct load must reproduce. See ``datasets/README.md`` for the field reference.
"""
from __future__ import annotations

import importlib.resources
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

import graphcl
from graphcl.errors import GraphclError

try:  # Python >= 3.11
    from importlib.resources.abc import Traversable
except ImportError:  # pragma: no cover - Python 3.10
    from importlib.abc import Traversable

#: The statistics every manifest records and every load is checked against.
_STAT_NAMES = ("num_nodes", "num_edges", "num_features", "num_classes")


@dataclass(frozen=True)
class RawFile:
    r"""One raw file a dataset needs.

    Args:
        name (str): Path of the file relative to the dataset's cache folder, as the loader
            (PyG, OGB or the SDCN reader) expects it.
        mirror (str, optional): Path of the source file relative to the mirror root
            (``GRAPHCL_MIRROR``), or :obj:`None` if the mirror does not hold it.
        member (str, optional): If the mirror file is a ``.zip``, the member to extract. A
            ``.npy`` member is written out as whitespace-separated text.
        sha256 (str, optional): Checksum of the mirror file, verified when staging from it.
        url (str, optional): Canonical download URL.
        url_member (str, optional): If :obj:`url` is a ``.zip``, the member to extract.
        url_sha256 (str, optional): Checksum of the file at :obj:`url`, when known.
        note (str, optional): Where else to get the file, shown when it cannot be found.
    """
    name: str
    mirror: str | None = None
    member: str | None = None
    sha256: str | None = None
    url: str | None = None
    url_member: str | None = None
    url_sha256: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class DatasetInfo:
    r"""A catalogue entry, as returned by :func:`graphcl.data.list_datasets`.

    Args:
        name (str): Canonical (lower-case) name.
        family (str): Loader family (``planetoid``, ``citationfull``, ``amazon``, ``coauthor``,
            ``wikics``, ``ogb``, ``sdcn``, ``heco``).
        description (str): One-line description.
        source (str): Canonical URL or repository.
        licence (str): Licence of the source.
        citation (str): Paper(s) to cite.
        cache_dir (str): The dataset's folder relative to the cache root; deleting it resets the
            dataset.
        files (tuple[RawFile, ...]): Raw files needed.
        aliases (tuple[str, ...]): Other accepted names.
        options (dict): Family-specific loader arguments (e.g. the PyG dataset name).
        num_nodes, num_edges, num_features, num_classes (int, optional): Expected statistics
            of the loaded :class:`~torch_geometric.data.Data` (``num_edges`` is the directed count
            ``edge_index.size(1)``).
        stats_verified (bool): :obj:`True` when the statistics were measured by loading the files,
            :obj:`False` when they are the published figures.
        available_locally (str): ``'cache'``, ``'mirror'``, ``'download only'`` or ``'missing'``;
            filled in by :func:`~graphcl.data.list_datasets`.
    """
    name: str
    family: str
    description: str = ""
    source: str = ""
    licence: str = ""
    citation: str = ""
    cache_dir: str = ""
    files: tuple[RawFile, ...] = ()
    aliases: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    num_nodes: int | None = None
    num_edges: int | None = None
    num_features: int | None = None
    num_classes: int | None = None
    stats_verified: bool = False
    available_locally: str = "missing"

    @property
    def stats(self) -> dict[str, int | None]:
        """The expected statistics as a dict keyed by ``num_nodes``, ``num_edges``, ``num_features``
        and ``num_classes``."""
        return {key: getattr(self, key) for key in _STAT_NAMES}


def _checkout_datasets_dir() -> Path | None:
    """The ``datasets/`` folder of the source checkout graphcl runs from, if it holds manifests."""
    folder = Path(graphcl.__file__).resolve().parents[1] / "datasets"
    if folder.is_dir() and any(folder.glob("*.yaml")):
        return folder
    return None


def catalogue_dir() -> Path | Traversable:
    """Where the manifests live.

    The ``datasets/`` folder of the source checkout when graphcl runs from one, else the installed
    package data ``graphcl.catalogue``.
    """
    checkout = _checkout_datasets_dir()
    if checkout is not None:
        return checkout
    try:
        return importlib.resources.files("graphcl.catalogue")
    except ModuleNotFoundError as err:
        raise GraphclError(
            "the dataset catalogue is missing: graphcl runs neither from a source checkout with datasets/*.yaml "
            "nor from an installation that ships the `graphcl.catalogue` package data; reinstall graphcl "
            "from its source tree (pip install .)") from err


def _parse_manifest(raw: dict[str, Any], origin: str) -> DatasetInfo:
    """Build a :class:`DatasetInfo` from a parsed manifest, raising on unknown or missing keys."""
    if not isinstance(raw, dict) or "name" not in raw or "family" not in raw:
        raise GraphclError(f"catalogue manifest {origin} must be a mapping with at least `name` and `family`")
    raw = dict(raw)
    files = tuple(RawFile(**entry) for entry in raw.pop("files", None) or ())
    stats = raw.pop("stats", None) or {}
    unknown_stats = set(stats) - set(_STAT_NAMES) - {"verified"}
    if unknown_stats:
        raise GraphclError(f"catalogue manifest {origin}: unknown stats {sorted(unknown_stats)}")
    raw.pop("notes", None)  # free-text notes for humans
    cache_dir = str(raw.get("cache_dir") or "")
    if not cache_dir or Path(cache_dir).is_absolute() or ".." in Path(cache_dir).parts:
        raise GraphclError(f"catalogue manifest {origin}: `cache_dir` must be a relative folder inside the cache")
    try:
        return DatasetInfo(
            files=files,
            aliases=tuple(a.lower() for a in raw.pop("aliases", None) or ()),
            options=dict(raw.pop("options", None) or {}),
            stats_verified=bool(stats.get("verified", False)),
            **{key: stats.get(key) for key in _STAT_NAMES},
            **raw,
        )
    except TypeError as err:
        raise GraphclError(f"catalogue manifest {origin} is malformed: {err}") from err


def _read_catalogue() -> dict[str, DatasetInfo]:
    """Read every manifest of the catalogue, keyed by canonical name."""
    folder = catalogue_dir()
    entries: dict[str, DatasetInfo] = {}
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".yaml"):
            continue
        info = _parse_manifest(yaml.safe_load(item.read_text(encoding="utf-8")), item.name)
        if item.name != f"{info.name}.yaml":
            raise GraphclError(f"catalogue manifest {item.name} declares name `{info.name}`; rename one of them")
        entries[info.name] = info
    return entries


# --------------------------------------------------------------------------------------------
# Availability (no torch: `graphcl datasets` starts in well under a second)
# --------------------------------------------------------------------------------------------

def _cache():
    from graphcl.data import cache  # imports this module at its top

    return cache


def _file_source(raw: RawFile, folder: Path, mirror: Path | None) -> str:
    """Where a raw file would come from now: ``cache``, ``mirror``, ``download`` or ``missing``."""
    if (folder / raw.name).exists():
        return "cache"
    if mirror is not None and raw.mirror and (mirror / raw.mirror).is_file():
        return "mirror"
    if raw.url:
        return "download"
    return "missing"


def availability(info: DatasetInfo, root: str | os.PathLike | None = None) -> str:
    """``'cache'``, ``'mirror'``, ``'download only'`` or ``'missing'`` for a catalogue entry."""
    cache = _cache()
    folder, mirror = cache.cache_root(root) / info.cache_dir, cache.mirror_root()
    sources = {_file_source(raw, folder, mirror) for raw in info.files}
    if "missing" in sources:
        return "missing"
    if "download" in sources:
        return "download only"
    if "mirror" in sources:
        return "mirror"
    return "cache"


def list_datasets(root: str | os.PathLike | None = None) -> list[DatasetInfo]:
    """Every registered dataset with its catalogue metadata and ``available_locally`` filled in
    for the current cache (``root`` or ``$GRAPHCL_DATA``) and mirror (``$GRAPHCL_MIRROR``)."""
    return [replace(info, available_locally=availability(info, root)) for info in _read_catalogue().values()]
