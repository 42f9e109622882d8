"""The method interface and the registry that lets the CLI and benchmarks find methods by name."""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any, Callable, ClassVar, TypeVar

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from graphcl.configs import RunSettings
from graphcl.errors import InvalidArgumentError, UnknownNameError


class Method(nn.Module):
    """A self-supervised recipe: ``loss(data)`` for one training step, ``embed(data)`` for evaluation.

    Subclasses compose augmenters, an encoder and a loss. ``embed`` returns detached node
    embeddings ``[N, d]`` computed on the un-augmented graph in eval mode.
    """

    #: Registered name (set by :func:`register_method`).
    name: str = ""
    #: The kind of learning problem (:mod:`graphcl.tasks`): what the method trains on and how the
    #: runner evaluates it: ``node``, ``cluster``, ``hetero``, ``graph`` or ``rec``.
    task: ClassVar[str] = "node"

    def loss(self, data: Data) -> Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def embed(self, data: Data) -> Tensor:
        raise NotImplementedError

    def setup(self, data: Data) -> None:
        """Called once by the training loop before the first epoch (e.g. to precompute centralities)."""

    def start_epoch(self, data: Data) -> int:
        """Called by the training loop at the start of every epoch; returns the number of
        optimisation steps (``loss`` calls) in it: 1 for full-batch methods, the number of
        mini-batches for a method that draws its batches itself (e.g. BPR recommenders)."""
        return 1

    def converged(self) -> bool:
        """A label-free stopping signal the training loop checks after every epoch (never by default)."""
        return False


class ClusteringMethod(Method):
    """A method that predicts clusters itself (deep clustering; task ``cluster``).

    Besides :meth:`predict`, the training loop's observers read three attributes, kept up to date by
    :meth:`~Method.setup` and :meth:`~Method.loss`: ``last_assignment`` (the soft assignment
    ``[N, K]`` of the last loss call, before that step's update), ``assignment_change`` (the fraction
    of nodes whose ``argmax`` changed between the last two loss calls) and ``initial_clusters``
    (``[N]``, the clusters before training, e.g. k-means on a pretrained encoder); and
    ``restart_modularity`` (pretraining seed -> modularity of its initial partition, where several
    pretrainings competed).
    """

    task: ClassVar[str] = "cluster"

    def __init__(self) -> None:
        super().__init__()
        self.last_assignment: Tensor | None = None
        self.assignment_change: float | None = None
        self.initial_clusters: Tensor | None = None
        self.restart_modularity: dict[int, float] = {}

    @torch.no_grad()
    def predict(self, data: Data) -> Tensor:
        """The cluster of every node, ``[N]``."""
        raise NotImplementedError


_M = TypeVar("_M", bound=type[Method])
_METHODS: dict[str, type[Method]] = {}


def register_method(name: str) -> Callable[[_M], _M]:
    """Class decorator: register a :class:`Method` under ``name`` (lower-case)."""
    def wrap(cls: _M) -> _M:
        key = name.lower()
        old = _METHODS.get(key)
        reloaded = old is not None and (old.__qualname__, old.__module__.removeprefix("graphcl_plugin_")) == (
            cls.__qualname__, cls.__module__.removeprefix("graphcl_plugin_"))  # the same plugin imported again
        if old is not None and old is not cls and not reloaded:
            raise ValueError(f"method name {key!r} is already registered by {old.__name__}")
        cls.name = key
        _METHODS[key] = cls
        return cls
    return wrap


def method_names() -> list[str]:
    """Names of all registered methods."""
    return sorted(_METHODS)


def get_method_class(name: str) -> type[Method]:
    try:
        return _METHODS[name.lower()]
    except KeyError:
        raise UnknownNameError(f"unknown method {name!r}; registered methods: {', '.join(method_names())}") from None


def method_parameters(name: str) -> set[str]:
    """The constructor arguments a method accepts (besides ``in_channels``).

    A constructor that forwards ``**kwargs`` to its parent also accepts the parent's arguments.
    """
    names: set[str] = set()
    for cls in get_method_class(name).__mro__:
        if "__init__" not in vars(cls) or not issubclass(cls, Method):
            continue
        params = inspect.signature(cls.__init__).parameters.values()
        names |= {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break  # no **kwargs: this constructor's arguments are all there is
    return names - {"self", "in_channels"}


def applicable_overrides(name: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The entries of ``overrides`` that method ``name`` takes: its parameters and the run settings
    (:class:`~graphcl.configs.RunSettings`), so one ``--set`` can serve every method of a suite."""
    valid = method_parameters(name) | RunSettings.keys()
    return {k: v for k, v in (overrides or {}).items() if k in valid}


def build_method(name: str, in_channels: int, **params: Any) -> Method:
    """Instantiate a registered method; unknown parameters raise with the list of valid ones."""
    cls = get_method_class(name)
    valid = method_parameters(name)
    unknown = set(params) - valid
    if unknown:
        raise InvalidArgumentError(
            f"{name} does not take {sorted(unknown)}; its parameters are {sorted(valid)} and the run settings "
            f"{sorted(RunSettings.keys())}")
    return cls(in_channels, **params)


def load_plugin(source: str) -> None:
    """Import a module (``package.module``) or a Python file (``path/to/file.py``) so that the methods
    it registers with :func:`register_method` become available by name (``graphcl --plugin``)."""
    path = Path(source)
    if source.endswith(".py") or path.is_file():
        if not path.is_file():
            raise UnknownNameError(f"plugin file {source} does not exist")
        name = f"graphcl_plugin_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return
    try:
        importlib.import_module(source)
    except ModuleNotFoundError as error:
        raise UnknownNameError(f"plugin {source!r}: {error}; give an importable module or a .py file") from None
