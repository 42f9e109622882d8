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
"""
from graphcl.data.cache import atomic_save, cache_key, cache_root, cached_file, mirror_root
from graphcl.data.catalogue import DatasetInfo, RawFile, catalogue_dir
from graphcl.data.files import load_graph_files
from graphcl.data.graph_sets import GraphSet, graph_set, load_smiles_csv, load_tu_folder
from graphcl.data.hetero_files import load_hetero_folder
from graphcl.data.interactions import (
    bipartite_edge_index,
    first_users,
    interaction_graph,
    is_interaction_folder,
    load_interaction_folder,
    read_lightgcl_matrix,
    read_lightgcn_file,
    split_validation,
)
from graphcl.data.registry import (
    availability,
    dataset_stats,
    get_dataset_info,
    list_datasets,
    load_dataset,
    remove_cached,
)

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
    "read_lightgcl_matrix",
    "read_lightgcn_file",
    "remove_cached",
    "split_validation",
]
