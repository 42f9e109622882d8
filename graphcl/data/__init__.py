"""Datasets: a registry by name backed by a catalogue of manifests, a local cache, an optional
read-only mirror, canonical downloads, and readers for users' own graph files; user-item interaction
graphs for recommenders (:func:`load_interaction_folder`, :func:`interaction_graph`,
:func:`split_validation`, ... from :mod:`graphcl.data.interactions`).

>>> from graphcl.data import load_dataset, list_datasets
>>> data = load_dataset("cora")                  # doctest: +SKIP
>>> data = load_dataset("path/to/my_graph/")      # doctest: +SKIP

Own data of every kind (docs/own-data.md): single graphs (:mod:`graphcl.data.files`), sets of
graphs (:mod:`graphcl.data.graph_sets`: TU folders, ``.pt`` lists of ``Data``, SMILES CSVs),
heterogeneous folders (:mod:`graphcl.data.hetero_files`), interaction folders and the raw
folders of registered datasets, each given to :func:`load_dataset` as a path.

Importing this package is cheap: each name below is imported from its module on first use (so that
``graphcl datasets`` and ``--help`` start without torch).
"""
from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module of this package that defines it.
_EXPORTS = {
    "DatasetInfo": "catalogue",
    "GraphSet": "graph_sets",
    "RawFile": "catalogue",
    "atomic_save": "cache",
    "availability": "catalogue",
    "bipartite_edge_index": "interactions",
    "cache_key": "cache",
    "cache_root": "cache",
    "cached_file": "cache",
    "catalogue_dir": "catalogue",
    "dataset_stats": "registry",
    "first_users": "interactions",
    "get_dataset_info": "registry",
    "graph_set": "graph_sets",
    "interaction_graph": "interactions",
    "is_interaction_folder": "interactions",
    "list_datasets": "catalogue",
    "load_dataset": "registry",
    "load_graph_files": "files",
    "load_hetero_folder": "hetero_files",
    "load_interaction_folder": "interactions",
    "load_smiles_csv": "graph_sets",
    "load_tu_folder": "graph_sets",
    "mirror_root": "cache",
    "planted_partition": "synthetic",
    "read_lightgcl_matrix": "interactions",
    "read_lightgcn_file": "interactions",
    "remove_cached": "registry",
    "split_validation": "interactions",
}

__all__ = [
    "DatasetInfo",
    "GraphSet",
    "RawFile",
    "atomic_save",
    "availability",
    "bipartite_edge_index",
    "cache_key",
    "cache_root",
    "cached_file",
    "catalogue_dir",
    "dataset_stats",
    "first_users",
    "get_dataset_info",
    "graph_set",
    "interaction_graph",
    "is_interaction_folder",
    "list_datasets",
    "load_dataset",
    "load_graph_files",
    "load_hetero_folder",
    "load_interaction_folder",
    "load_smiles_csv",
    "load_tu_folder",
    "mirror_root",
    "planted_partition",
    "read_lightgcl_matrix",
    "read_lightgcn_file",
    "remove_cached",
    "split_validation",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'graphcl.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"graphcl.data.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
