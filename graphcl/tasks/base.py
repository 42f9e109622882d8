"""What a kind of learning problem declares: how its data is prepared, what it evaluates, its columns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Sequence

import torch
from torch_geometric.data import Data, Dataset, HeteroData

from graphcl.configs import RunSettings
from graphcl.errors import InvalidArgumentError, UnknownNameError
from graphcl.methods.base import Method
from graphcl.train import TrainResult, to_device

__all__ = ["Task", "Evaluation", "register_task", "get_task", "task_names", "dataset_name", "Monitor"]

#: An epoch callback of the training loop: ``monitor(epoch, loss) -> stop?``.
Monitor = Callable[[int, float], Any]


@dataclass
class Evaluation:
    """What a task's evaluation of one trained model gives the record: ``metrics`` (scores as
    fractions), ``extra`` (other facts written beside them, e.g. the chosen epoch) and ``arrays``
    (in-memory results for plots, never written)."""

    metrics: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, Any] = field(default_factory=dict)


def dataset_name(data: Data | HeteroData | Dataset) -> str:
    """The catalogue name of a loaded graph or dataset of graphs (``'custom'`` for a user's own)."""
    if isinstance(data, Dataset):
        return str(getattr(data, "catalogue_name", type(data).__name__))
    return str(data.get("name", "custom"))


class Task:
    """A kind of learning problem (node embeddings, deep clustering, heterogeneous graphs, sets of
    graphs, recommendation) as the runner sees it.

    A :class:`~graphcl.methods.Method` names its task in its ``task`` class attribute. The runner
    (:func:`graphcl.runner.run`) asks the task to check and prepare the data, to fill parameters
    taken from the data, for an epoch monitor per training, to score a training label-free when
    restarts compete, and to evaluate the kept model; ``graphcl train`` asks it for its table columns.
    """

    #: Registered name (the methods' ``task`` attribute).
    name: ClassVar[str] = ""
    #: Evaluation name -> the metrics it produces (the columns of ``graphcl train``'s table).
    evaluations: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: Evaluations when the caller names none.
    default_evals: ClassVar[tuple[str, ...]] = ()
    #: Whether ``train_restarts`` applies (a label-free :meth:`restart_score` exists).
    restartable: ClassVar[bool] = False

    def check_evals(self, evals: Sequence[str]) -> None:
        unknown = [e for e in evals if e != "none" and e not in self.evaluations]
        if unknown:
            raise InvalidArgumentError(f"unknown evaluation {unknown[0]!r} for {self.name} methods; choose from "
                                       f"{sorted(self.evaluations)} or none")

    def check_data(self, method: str, data: Any) -> None:
        """Raise one line when ``data`` is not the kind of input this task's methods train on."""

    def check_settings(self, method: str, settings: RunSettings) -> None:
        """Raise one line for run settings that do not apply to this task."""
        if settings.train_restarts > 1 and not self.restartable:
            raise InvalidArgumentError(f"train_restarts (full trainings kept by the modularity of their final "
                                       f"partition) is for node-level methods on homogeneous graphs, not {method}")
        if settings.select_epoch == "val":
            raise InvalidArgumentError("select_epoch=val (the encoder epoch by validation Macro-F1) is for the "
                                       "heterogeneous HeCo / MEOW protocol; other methods use the final epoch")
        if settings.walk_features is not None:
            raise InvalidArgumentError("walk_features (metapath2vec features) is for heterogeneous graphs")

    def adapt_settings(self, method: str, settings: RunSettings, data: Any) -> RunSettings:
        """Run settings the data calls for where the config is silent (the record then says so)."""
        return settings

    def fill_params(self, method: type[Method], params: dict[str, Any], data: Any) -> dict[str, Any]:
        """Constructor parameters taken from the data where the config leaves them unset."""
        return params

    def prepare(self, data: Any, settings: RunSettings) -> Any:
        """The data the methods train on (feature preprocessing); the caller's object is untouched."""
        return data

    def in_channels(self, data: Any) -> int:
        """The ``in_channels`` a method of this task is built with."""
        return data.num_features

    def to_device(self, data: Any, device: str | torch.device) -> Any:
        return to_device(data, device)

    def monitor(self, model: Method, data: Any, settings: RunSettings, seed: int,
                evals: Sequence[str]) -> Monitor | None:
        """A fresh epoch callback for one training (validation, curves), or ``None``."""
        return None

    def restart_score(self, model: Method, data: Any, seed: int) -> float:
        """A label-free score of a trained model: the kept restart has the highest."""
        raise InvalidArgumentError(f"{self.name} methods have no label-free restart score")

    def evaluate(self, model: Method, data: Any, settings: RunSettings, seed: int, evals: Sequence[str],
                 monitor: Monitor | None, result: TrainResult) -> Evaluation:
        """The scores of the trained model and what the record adds beside them."""
        raise NotImplementedError

    def table_metrics(self, evals: Sequence[str], metrics: dict[str, float]) -> list[str]:
        """The metric columns of ``graphcl train``'s table, in order."""
        return [m for e in evals for m in self.evaluations.get(e, ()) if m in metrics]

    def describe(self, method: str, dataset: str, config: dict[str, Any], evals: Sequence[str]) -> str:
        """The row label of ``graphcl train``'s table."""
        return f"{method} on {dataset}"


_TASKS: dict[str, Task] = {}


def register_task(task: type[Task]) -> type[Task]:
    """Class decorator: make a task available to the runner under its ``name``."""
    if not task.name:
        raise ValueError(f"{task.__name__} has no name")
    _TASKS[task.name] = task()
    return task


def task_names() -> list[str]:
    return sorted(_TASKS)


def get_task(name: str) -> Task:
    try:
        return _TASKS[name]
    except KeyError:
        raise UnknownNameError(f"unknown task {name!r}; tasks: {', '.join(task_names())}") from None
