"""Argument validation and small helpers shared by the augmenters (private)."""
from __future__ import annotations

import math
import numbers
from typing import Any

from torch import Tensor
from torch_geometric.data import Data, HeteroData

from graphcl.errors import InvalidArgumentError, InvalidGraphError


def check_probability(name: str, value: Any, *, allow_one: bool = True) -> float:
    """Return ``value`` as a float in ``[0, 1]`` (``[0, 1)`` when ``allow_one`` is false), else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise InvalidArgumentError(f"{name} must be a real number in [0, 1], got {value!r}")
    value = float(value)
    hi_ok = value <= 1.0 if allow_one else value < 1.0
    if value < 0.0 or not hi_ok:
        interval = "[0, 1]" if allow_one else "[0, 1)"
        raise InvalidArgumentError(f"{name} must be in {interval}, got {value}")
    return value


def check_positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """Return ``value`` as an int ``>= minimum``, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidArgumentError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise InvalidArgumentError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_nonnegative(name: str, value: Any) -> float:
    """Return ``value`` as a finite float ``>= 0``, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise InvalidArgumentError(f"{name} must be a finite real number >= 0, got {value!r}")
    if value < 0:
        raise InvalidArgumentError(f"{name} must be >= 0, got {value}")
    return float(value)


def require_data(data: Any, who: str) -> Data:
    """Raise unless ``data`` is a homogeneous :class:`~torch_geometric.data.Data`."""
    if isinstance(data, HeteroData):
        raise InvalidGraphError(
            f"{who} supports homogeneous Data only, got HeteroData; convert with data.to_homogeneous() "
            "or apply the augmenter to each node / edge type yourself")
    if not isinstance(data, Data):
        raise InvalidGraphError(f"{who} expects a torch_geometric.data.Data, got {type(data).__name__}")
    return data


def require_edge_index(data: Data, who: str) -> Tensor:
    """Return ``data.edge_index``, raising if it is missing or malformed."""
    edge_index = data.edge_index
    if edge_index is None:
        raise InvalidGraphError(f"{who} needs `edge_index`, but the graph has none")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise InvalidGraphError(f"edge_index must have shape [2, num_edges], got {tuple(edge_index.shape)}")
    return edge_index


def require_num_nodes(data: Data, who: str) -> int:
    """Return ``data.num_nodes``, raising if it cannot be inferred."""
    num_nodes = data.num_nodes
    if num_nodes is None:
        raise InvalidGraphError(
            f"{who} cannot infer the number of nodes (no x, no edge_index, no num_nodes); set data.num_nodes")
    return int(num_nodes)


def require_features(data: Data, who: str, *, floating: bool = False) -> Tensor:
    """Return ``data.x``, raising if it is missing, not 2-D, or (when ``floating``) not a float tensor."""
    x = data.x
    if x is None:
        raise InvalidGraphError(f"{who} needs node features `x`, but the graph has none")
    if x.dim() != 2:
        raise InvalidGraphError(f"{who}: `x` must be a 2-D [num_nodes, num_features] tensor, got shape {tuple(x.shape)}")
    if floating and not x.is_floating_point():
        raise InvalidGraphError(f"{who} needs floating-point features, got {x.dtype}; cast with data.x.float()")
    return x


def format_repr(obj: object, **params: Any) -> str:
    """``ClassName(a=1, b='x')``."""
    args = ", ".join(f"{k}={v!r}" for k, v in params.items())
    return f"{obj.__class__.__name__}({args})"
