"""Datasets: a registry by name backed by a catalogue of manifests, a local cache, an optional
read-only mirror, canonical downloads, and readers for users' own graph files.

>>> from graphcl.data import load_dataset, list_datasets
>>> data = load_dataset("cora")                  # doctest: +SKIP
>>> data = load_dataset("path/to/my_graph/")      # doctest: +SKIP
"""
from graphcl.data.cache import atomic_save, cache_key, cache_root, cached_file, mirror_root
from graphcl.data.catalogue import DatasetInfo, RawFile, catalogue_dir
from graphcl.data.files import load_graph_files
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
    "RawFile",
    "atomic_save",
    "availability",
    "cache_key",
    "cache_root",
    "cached_file",
    "catalogue_dir",
    "dataset_stats",
    "get_dataset_info",
    "list_datasets",
    "load_dataset",
    "load_graph_files",
    "mirror_root",
    "remove_cached",
]
