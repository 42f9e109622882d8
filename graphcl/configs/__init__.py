"""Per-method YAML configs: ``defaults`` plus per-dataset overrides with the papers' settings.

Keys are a method's constructor arguments, plus the training keys ``epochs``, ``lr``,
``weight_decay``, the preprocessing key ``normalize_features`` (row-normalise the features with
PyG's ``NormalizeFeatures`` before training, as GRACE and GCA load their datasets; on a
heterogeneous graph ``true`` means every node type with features, and a list names the types, as
HeCo / MEOW preprocess some of their feature files and not others) and the evaluation key ``split``.
"""
from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from graphcl.errors import InvalidArgumentError, UnknownNameError

#: Config keys consumed by the training loop and the evaluation, not by the method constructor.
RUN_KEYS = {"epochs": int, "lr": float, "weight_decay": float, "split": str,
            "normalize_features": lambda v: [str(t) for t in v] if isinstance(v, (list, tuple)) else bool(v),
            "patience": lambda v: None if v is None else int(v), "eval_lr": float, "eval_weight_decay": float,
            "val_fraction": float, "eval_every": int, "val_patience": int,
            "time_budget": lambda v: None if v is None else float(v),
            "walk_features": lambda v: None if v is None else dict(v),
            "smooth_features": int, "select_epoch": str, "train_restarts": int}


def _read(method: str) -> dict[str, Any]:
    path = resources.files(__name__) / f"{method.lower()}.yaml"
    if not path.is_file():
        raise UnknownNameError(f"no config file for method {method!r} (looked for {path})")
    return yaml.safe_load(path.read_text()) or {}


def load_config(method: str, dataset: str | None = None) -> dict[str, Any]:
    """The method's defaults overridden by the dataset's section (dataset names are case-insensitive)."""
    raw = _read(method)
    config = dict(raw.get("defaults", {}))
    if dataset is not None:
        config.update(raw.get("datasets", {}).get(dataset.lower(), {}) or {})
    return config


def configured_datasets(method: str) -> list[str]:
    """Datasets with a dedicated section in the method's config."""
    return sorted((_read(method).get("datasets") or {}).keys())


def split_config(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a config into ``(method_parameters, run_settings)``; run settings get their defaults
    (``epochs`` 200, ``lr`` 1e-3, ``weight_decay`` 0, ``split`` 'random', ``normalize_features``
    false, ``patience`` none: early stopping on the training loss, ``eval_lr`` 0.01 and
    ``eval_weight_decay`` 0 for the HeCo-protocol probes; for recommenders ``val_fraction`` 0.1 of
    each user's training interactions held out, validation every ``eval_every`` 5 epochs, early
    stopping after ``val_patience`` 10 evaluations, no ``time_budget`` in seconds; no
    ``walk_features``, the metapath2vec feature settings of heterogeneous graphs; ``smooth_features``
    0: no low-pass filtering of the features, :class:`graphcl.augment.LowPassFeatures`;
    ``select_epoch`` 'last': the encoder after the last epoch, or 'val' on heterogeneous graphs: for
    each split the epoch with the best validation Macro-F1 of its probe, scored every ``eval_every``
    epochs; ``train_restarts`` 1: one training per seed, or R full trainings of a homogeneous
    clustering run kept by the modularity of their final partition, see
    :func:`graphcl.experiment.restart_seeds`) where the config is silent."""
    params = {k: v for k, v in config.items() if k not in RUN_KEYS}
    run: dict[str, Any] = {"epochs": 200, "lr": 1e-3, "weight_decay": 0.0, "split": "random",
                           "normalize_features": False, "patience": None, "eval_lr": 0.01, "eval_weight_decay": 0.0,
                           "val_fraction": 0.1, "eval_every": 5, "val_patience": 10, "time_budget": None,
                           "walk_features": None, "smooth_features": 0,
                           "select_epoch": "last", "train_restarts": 1}
    run.update({k: RUN_KEYS[k](v) for k, v in config.items() if k in RUN_KEYS})
    return params, run


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` (value in YAML syntax: ``tau=0.5``, ``conv=gat``, ``dense_features=true``)."""
    if "=" not in text:
        raise InvalidArgumentError(f"--set expects key=value, got {text!r}")
    key, value = text.split("=", 1)
    if not key.strip():
        raise InvalidArgumentError(f"--set expects key=value, got {text!r}")
    return key.strip(), yaml.safe_load(value)
