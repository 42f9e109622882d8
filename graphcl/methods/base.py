"""The method interface and the registry that lets the CLI and benchmarks find methods by name."""
from __future__ import annotations

import collections.abc
import importlib
import importlib.util
import inspect
import re
import sys
import types
import typing
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

    def plan_training(self, epochs: int) -> None:
        """Called by the training loop before :meth:`setup` with the number of epochs it will run
        (for schedules over the whole training, e.g. BGRL's target momentum)."""

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


def _annotations(cls: type[Method]) -> dict[str, Any]:
    """The constructor parameters' annotations along the ``**kwargs`` chain (a subclass's win)."""
    hints: dict[str, Any] = {}
    for klass in cls.__mro__:
        if "__init__" not in vars(klass) or not issubclass(klass, Method):
            continue
        try:
            own = typing.get_type_hints(klass.__init__)
        except Exception:  # an annotation that cannot be resolved here: no type check for it
            own = {}
        for key, value in own.items():
            hints.setdefault(key, value)
        if not any(p.kind == p.VAR_KEYWORD for p in inspect.signature(klass.__init__).parameters.values()):
            break
    hints.pop("return", None)
    return hints


def _conforms(value: Any, kind: Any) -> bool:
    """Whether ``value`` is of the annotated ``kind`` (ints pass for floats; unknown forms pass)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, a) for a in args)
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is str:
        return isinstance(value, str)
    if origin is typing.Literal:
        return value in args
    if origin in (list, collections.abc.Sequence, collections.abc.Iterable):
        return (isinstance(value, (list, tuple)) and not isinstance(value, str)
                and (not args or all(_conforms(v, args[0]) for v in value)))
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_conforms(v, args[0]) for v in value)
        return not args or (len(args) == len(value) and all(_conforms(v, a) for v, a in zip(value, args)))
    if origin in (dict, collections.abc.Mapping) or kind is dict:
        return isinstance(value, dict)
    if isinstance(kind, type):
        return isinstance(value, kind)
    return True


def _describe(kind: Any) -> str:
    text = re.sub(r"\b(typing|collections\.abc|torch\.nn\.modules\.module|torch_geometric\.transforms\."
                  r"base_transform)\.", "", str(kind) if typing.get_origin(kind) else getattr(kind, "__name__", str(kind)))
    return text.replace("NoneType", "None").replace("Sequence", "list")


#: Parameter name patterns and the range their numbers must lie in: (pattern, low, high, inclusive low).
_RANGES = ((re.compile(r"^(tau|temperature)$"), 0.0, None, False),
           (re.compile(r"(drop|mask|ratio)"), 0.0, 1.0, True),
           (re.compile(r"(_channels|^num_layers|^batch_size|^num_clusters|^kmeans_init|^kmeans_iter|_restarts|"
                       r"^cluster_counts|^nei_max)$"), 1, None, True))


def check_parameters(name: str, params: dict[str, Any]) -> None:
    """Check ``params`` of the registered method ``name`` before anything is built: unknown keys, a
    value of another type than the constructor's annotation, a number out of its range (temperatures
    > 0, rates in [0, 1], sizes >= 1) are each a one-line :class:`InvalidArgumentError` naming the key,
    the value and what is expected."""
    valid = method_parameters(name)
    unknown = set(params) - valid
    if unknown:
        raise InvalidArgumentError(
            f"{name} does not take {sorted(unknown)}; its parameters are {sorted(valid)} and the run settings "
            f"{sorted(RunSettings.keys())}")
    hints = _annotations(get_method_class(name))
    for key, value in params.items():
        if key in hints and not _conforms(value, hints[key]):
            raise InvalidArgumentError(f"{name}: {key}={value!r} is not {_describe(hints[key])}")
        numbers = value if isinstance(value, (list, tuple)) else [value]
        for pattern, low, high, inclusive in _RANGES:
            if not pattern.search(key):
                continue
            for number in numbers:
                if not isinstance(number, (int, float)) or isinstance(number, bool):
                    continue
                if (number < low or (number == low and not inclusive)) or (high is not None and number > high):
                    bounds = f"in [{low}, {high}]" if high is not None else f"{'>=' if inclusive else '>'} {low}"
                    raise InvalidArgumentError(f"{name}: {key}={value!r} is out of range; it must be {bounds}")


def applicable_overrides(name: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The entries of ``overrides`` that method ``name`` takes: its parameters and the run settings
    (:class:`~graphcl.configs.RunSettings`), so one ``--set`` can serve every method of a suite."""
    valid = method_parameters(name) | RunSettings.keys()
    return {k: v for k, v in (overrides or {}).items() if k in valid}


def build_method(name: str, in_channels: int, **params: Any) -> Method:
    """Instantiate a registered method; unknown parameters, wrong types and out-of-range values raise
    one line each (:func:`check_parameters`)."""
    check_parameters(name, params)
    return get_method_class(name)(in_channels, **params)


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
