"""Configuration: a method's parameters and the run settings of one training and evaluation.

Three layers, each in one place:

* a method's general defaults (the paper's) are its constructor's defaults;
* ``graphcl/configs/<method>.yaml`` holds the papers' settings per dataset (``datasets:``, one
  section per dataset with a source comment) and, under ``defaults:``, the method's own run
  settings (``epochs``, ``lr``, ...) and any constructor value every dataset shares;
* :class:`RunSettings` holds the run settings' general defaults, their types and their meaning.

:func:`resolve_config` merges them for one method, dataset and set of overrides.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Callable

import yaml

from graphcl.errors import InvalidArgumentError, UnknownNameError

__all__ = ["RunSettings", "AutoGrid", "load_config", "configured_datasets", "auto_grid", "split_config",
           "resolve_config", "parse_override"]


def _optional(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: None if v is None else convert(v)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _feature_types(value: Any) -> bool | list[str]:
    return [str(t) for t in value] if isinstance(value, (list, tuple)) else bool(value)


def _setting(default: Any, convert: Callable[[Any], Any], doc: str) -> Any:
    return field(default=default, metadata={"convert": convert, "doc": doc})


@dataclass
class RunSettings:
    """How one run trains and is evaluated: every config entry that is not a constructor argument.

    The defaults below apply where neither the method's YAML file nor an override sets a value.
    """

    epochs: int = _setting(200, int, "training epochs (the most, with early stopping)")
    lr: float = _setting(1e-3, float, "learning rate (the peak one under a schedule)")
    weight_decay: float = _setting(0.0, float, "weight decay (Adam: L2 in the gradient; AdamW: decoupled)")
    optimizer: str = _setting("adam", str, "'adam' or 'adamw' (BGRL, G-BT)")
    lr_schedule: str = _setting("constant", str, "'constant', or 'cosine': linear warm-up from 0 over "
                                                  "warmup_epochs, then cosine decay to 0 at the last epoch "
                                                  "(BGRL, G-BT)")
    warmup_epochs: int = _setting(0, int, "epochs of linear learning-rate warm-up (lr_schedule=cosine)")
    split: str = _setting("random", str, "node classification split: 'public' (the dataset's) or 'random' "
                                          "(10 / 10 / 80 per seed)")
    normalize_features: bool | list[str] = _setting(
        False, _feature_types, "row-normalise the features first (PyG's NormalizeFeatures; on a heterogeneous "
                               "graph true means every node type with features, a list names the types)")
    patience: int | None = _setting(None, _optional(int), "early stopping on the training loss after this many "
                                                          "epochs without improvement (none: off)")
    restore_best: bool = _setting(False, _boolean, "reload the weights of the lowest training loss at the end (DGI's "
                                               "and MVGRL's official codes)")
    eval_lr: float = _setting(0.01, float, "learning rate of the linear probes (node task, HeCo protocol)")
    eval_weight_decay: float = _setting(0.0, float, "weight decay of the linear probes (node task, HeCo "
                                                    "protocol)")
    val_fraction: float = _setting(0.1, float, "recommenders: fraction of each user's training interactions "
                                               "held out for validation")
    eval_every: int = _setting(5, int, "validation every this many epochs (recommenders; select_epoch=val)")
    val_patience: int = _setting(10, int, "recommenders: stop after this many validations without improvement")
    time_budget: float | None = _setting(None, _optional(float), "recommenders: stop at the first epoch ending "
                                                                 "this many seconds after the seed's start")
    walk_features: dict | None = _setting(None, _optional(dict), "heterogeneous graphs: metapath2vec features "
                                                                 "for featureless node types (MetaPathWalkFeatures' "
                                                                 "arguments)")
    smooth_features: int = _setting(0, int, "low-pass filter the features this many times first "
                                            "(graphcl.augment.LowPassFeatures)")
    structural_features: str = _setting("none", str, "append structural node features first: 'degree' (one-hot), "
                                                      "'lappe' (Laplacian eigenvectors) or 'degree+lappe', 16 "
                                                      "columns each (graphcl.augment.StructuralFeatures); graphs "
                                                      "without features get 'degree+lappe'")
    select_epoch: str = _setting("last", str, "'last': the encoder after the last epoch; 'val' (heterogeneous "
                                              "graphs): per split the epoch with the best validation Macro-F1")
    eval_jobs: int = _setting(-1, int, "processes of the TU protocol's cross-validation (-1: one per core; "
                                       "the scores do not depend on it)")
    train_restarts: int = _setting(1, int, "full trainings per seed, the one whose final partition has the "
                                           "highest modularity kept (homogeneous node-level methods)")

    def __post_init__(self) -> None:
        if self.epochs < 0:
            raise InvalidArgumentError(f"epochs must be >= 0, got {self.epochs}")
        if self.split not in ("public", "random"):
            raise InvalidArgumentError(f"split must be 'public' or 'random', got {self.split!r}")
        if self.structural_features not in ("none", "degree", "lappe", "degree+lappe"):
            raise InvalidArgumentError("structural_features must be none, degree, lappe or degree+lappe, got "
                                       f"{self.structural_features!r}")
        if self.optimizer not in ("adam", "adamw"):
            raise InvalidArgumentError(f"optimizer must be 'adam' or 'adamw', got {self.optimizer!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise InvalidArgumentError(f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        if self.warmup_epochs < 0:
            raise InvalidArgumentError(f"warmup_epochs must be >= 0, got {self.warmup_epochs}")
        if self.select_epoch not in ("last", "val"):
            raise InvalidArgumentError(f"select_epoch must be 'last' or 'val', got {self.select_epoch!r}")
        if self.train_restarts < 1:
            raise InvalidArgumentError(f"train_restarts must be >= 1, got {self.train_restarts}")
        if self.eval_jobs == 0 or self.eval_jobs < -1:
            raise InvalidArgumentError(f"eval_jobs must be -1 (one per core) or >= 1, got {self.eval_jobs}")
        for key in ("lr", "weight_decay", "eval_lr", "eval_weight_decay", "smooth_features", "patience",
                    "time_budget"):
            value = getattr(self, key)
            if value is not None and value < 0:
                raise InvalidArgumentError(f"{key} must be >= 0, got {value}")
        for key in ("eval_every", "val_patience"):
            if getattr(self, key) < 1:
                raise InvalidArgumentError(f"{key} must be >= 1, got {getattr(self, key)}")
        if not 0 < self.val_fraction < 1:
            raise InvalidArgumentError(f"val_fraction must be in (0, 1), got {self.val_fraction}")

    @classmethod
    def keys(cls) -> set[str]:
        """The names of the run settings."""
        return {f.name for f in dataclasses.fields(cls)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RunSettings:
        """The run settings among ``config``'s entries (others are ignored), converted to their types;
        a value of the wrong kind raises one line naming the setting."""
        values = {}
        for f in dataclasses.fields(cls):
            if f.name not in config:
                continue
            try:
                values[f.name] = f.metadata["convert"](config[f.name])
            except (TypeError, ValueError):
                raise InvalidArgumentError(f"run setting {f.name} ({f.metadata['doc']}) cannot be "
                                           f"{config[f.name]!r}; default {f.default!r}") from None
        return cls(**values)

    def replace(self, **changes: Any) -> RunSettings:
        """A copy with ``changes`` (converted and checked like :meth:`from_config`)."""
        return RunSettings.from_config({**self.as_dict(), **changes})

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _read(method: str) -> dict[str, Any]:
    path = resources.files(__name__) / f"{method.lower()}.yaml"
    if not path.is_file():
        raise UnknownNameError(f"no config file for method {method!r} (looked for {path})")
    return yaml.safe_load(path.read_text()) or {}


def load_config(method: str, dataset: str | None = None) -> dict[str, Any]:
    """The YAML ``defaults:`` of ``method`` overridden by the dataset's section (names are
    case-insensitive); an empty dict for a method without a config file."""
    try:
        raw = _read(method)
    except UnknownNameError:
        return {}
    config = dict(raw.get("defaults", {}) or {})
    if dataset is not None:
        config.update(raw.get("datasets", {}).get(dataset.lower(), {}) or {})
    return config


def config_names() -> list[str]:
    """The methods that ship a YAML config here: every built-in method (read without importing torch)."""
    return sorted(p.name[:-len(".yaml")] for p in resources.files(__name__).iterdir() if p.name.endswith(".yaml"))


def configured_datasets(method: str) -> list[str]:
    """Datasets with a dedicated section in the method's config (none for a method without a file)."""
    try:
        return sorted((_read(method).get("datasets") or {}).keys())
    except UnknownNameError:
        return []


@dataclass
class AutoGrid:
    """A method's ``auto:`` section: how it configures itself on a dataset without a section.

    Every combination of the ``grid`` values (constructor parameters or run settings), with the
    ``fixed`` entries, is trained for ``epochs`` epochs and scored by its task's label-free
    restart score (the modularity of the final partition for node-level methods); the best is used.
    With ``holdout = p > 0`` a fraction ``p`` of the graph's undirected edges is hidden from every
    candidate's training and the score is the modularity of its partition on the hidden edges
    (edge-sampling cross-validation, Chen & Lei, JASA 2018), so that a candidate which smooths over
    more hops is not rewarded for fitting the edges it was trained on.

    ``features`` lists the node-feature candidates (run settings such as ``structural_features`` or
    ``smooth_features``; ``{}`` is the features as given). With more than one, the grid is searched
    on the features as given, then each candidate is scored at the grid's best combination by the
    same score and the best is kept (``len(grid) + len(features) - 1`` trainings rather than their
    product; searched first at a fixed combination instead, a feature choice did not carry over:
    docs/experiments/auto-config.md). Another feature candidate replaces the features as given only
    if it scores more than ``feature_margin`` above them (the score's run-to-run noise).
    """

    grid: dict[str, list[Any]]
    fixed: dict[str, Any] = field(default_factory=dict)
    epochs: int | None = None
    holdout: float = 0.0
    features: list[dict[str, Any]] = field(default_factory=list)
    feature_margin: float = 0.0

    def candidates(self, exclude: set[str] = frozenset()) -> list[dict[str, Any]]:
        """Every combination of the grid values, without the keys in ``exclude`` (set by the user)."""
        import itertools

        keys = [k for k in self.grid if k not in exclude]
        fixed = {k: v for k, v in self.fixed.items() if k not in exclude}
        return [{**fixed, **dict(zip(keys, values))} for values in itertools.product(*(self.grid[k] for k in keys))]

    def feature_candidates(self, exclude: set[str] = frozenset()) -> list[dict[str, Any]]:
        """The node-feature candidates; none where the user set one of their keys."""
        if any(key in exclude for candidate in self.features for key in candidate):
            return []
        return [dict(candidate) for candidate in self.features]


def auto_grid(method: str) -> AutoGrid | None:
    """The method's ``auto:`` section, or ``None`` where it has none."""
    try:
        raw = _read(method).get("auto")
    except UnknownNameError:
        return None
    if not raw:
        return None
    unknown = set(raw) - {"grid", "fixed", "epochs", "holdout", "features", "feature_margin"}
    if unknown or not isinstance(raw.get("grid"), dict):
        raise InvalidArgumentError(f"{method}.yaml auto: takes grid (key: [values]), fixed, epochs, holdout, "
                                   f"features and feature_margin; got {sorted(raw)}")
    features = raw.get("features") or []
    if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
        raise InvalidArgumentError(f"{method}.yaml auto: features is a list of run-setting mappings ({{}} for the "
                                   f"features as given), got {features!r}")
    holdout = float(raw.get("holdout", 0.0))
    if not 0.0 <= holdout < 1.0:
        raise InvalidArgumentError(f"{method}.yaml auto: holdout must be in [0, 1), got {holdout}")
    return AutoGrid(grid={k: list(v) for k, v in raw["grid"].items()}, fixed=dict(raw.get("fixed") or {}),
                    epochs=raw.get("epochs"), holdout=holdout, features=[dict(f) for f in features],
                    feature_margin=float(raw.get("feature_margin", 0.0)))


def split_config(config: dict[str, Any]) -> tuple[dict[str, Any], RunSettings]:
    """``(method parameters, run settings)`` of a merged config: entries named like a
    :class:`RunSettings` field are run settings, the rest go to the method's constructor."""
    run_keys = RunSettings.keys()
    return {k: v for k, v in config.items() if k not in run_keys}, RunSettings.from_config(config)


def resolve_config(method: str, dataset: str | None = None, overrides: dict[str, Any] | None = None,
                   ) -> tuple[dict[str, Any], RunSettings]:
    """The constructor parameters and run settings of ``method`` on ``dataset``: the YAML
    ``defaults:``, then the dataset's section (none for ``dataset=None``), then ``overrides``
    (constructor defaults fill the rest)."""
    config = load_config(method, dataset)
    config.update(overrides or {})
    return split_config(config)


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` (value in YAML syntax: ``tau=0.5``, ``conv=gat``, ``dense_features=true``)."""
    if "=" not in text:
        raise InvalidArgumentError(f"--set expects key=value, got {text!r}")
    key, value = text.split("=", 1)
    if not key.strip():
        raise InvalidArgumentError(f"--set expects key=value, got {text!r}")
    try:
        return key.strip(), yaml.safe_load(value)
    except yaml.YAMLError:
        raise InvalidArgumentError(f"--set {key.strip()}: {value!r} is not a YAML value (quote strings with "
                                   "brackets or colons)") from None
