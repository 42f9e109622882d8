"""Input validation shared by methods, losses and evaluators.

Each check raises :class:`~graphcl.errors.InvalidGraphError` (or
:class:`~graphcl.errors.InvalidArgumentError`) with a message that names the problem and the
fix, instead of letting a NaN or an index error surface deep inside a training step.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData

from graphcl.errors import InvalidArgumentError, InvalidGraphError


def check_features(x: Tensor | None, name: str = "x") -> None:
    """Raise if ``x`` is missing, not 2-D, or holds NaN/Inf values."""
    if x is None:
        raise InvalidGraphError(
            f"the graph has no node features `{name}`; add features (e.g. "
            "torch_geometric.transforms.OneHotDegree or Constant) before training")
    if x.dim() != 2:
        raise InvalidGraphError(f"`{name}` must be a 2-D [num_nodes, num_features] tensor, got shape {tuple(x.shape)}")
    if x.size(1) == 0 and x.size(0) > 0:
        raise InvalidGraphError(
            f"`{name}` has no columns (shape {tuple(x.shape)}): every node needs at least one feature; add "
            "features (e.g. torch_geometric.transforms.OneHotDegree or Constant)")
    if x.is_complex():
        raise InvalidGraphError(f"`{name}` is complex ({x.dtype}); node features must be real numbers")
    if x.is_floating_point() and not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).any(dim=1).nonzero().flatten()
        raise InvalidGraphError(
            f"`{name}` holds NaN or Inf in {bad.numel()} rows (first: {bad[:5].tolist()}); impute or drop "
            "those values (e.g. torch.nan_to_num) before training")


def float_features(x: Tensor, dtype: torch.dtype | None = None) -> Tensor:
    """``x`` as floating-point features of ``dtype`` (default: torch's default dtype, float32).

    Integer and boolean features (counts, one-hot) and float64 ones (NumPy's default) are converted,
    as a new tensor; features already of ``dtype`` are returned as they are. The method's
    parameters' dtype is what callers pass, so a model in float64 keeps float64 features.
    """
    dtype = dtype or torch.get_default_dtype()
    return x if x.dtype == dtype else x.to(dtype)


def parameter_dtype(module: torch.nn.Module) -> torch.dtype:
    """The dtype of ``module``'s first floating-point parameter (torch's default dtype without one)."""
    return next((p.dtype for p in module.parameters() if p.is_floating_point()), torch.get_default_dtype())


def check_edge_index(edge_index: Tensor, num_nodes: int, *, allow_self_loops: bool = True,
                     allow_duplicates: bool = False) -> None:
    """Raise if ``edge_index`` is malformed, out of range, or (optionally) has self-loops / duplicates."""
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise InvalidGraphError(f"edge_index must have shape [2, num_edges], got {tuple(edge_index.shape)}")
    if edge_index.dtype != torch.long:
        raise InvalidGraphError(f"edge_index must be int64 (torch.long), got {edge_index.dtype}; use edge_index.long()")
    if edge_index.numel() == 0:
        return
    lo, hi = int(edge_index.min()), int(edge_index.max())
    if lo < 0 or hi >= num_nodes:
        raise InvalidGraphError(
            f"edge_index refers to node {lo if lo < 0 else hi}, outside [0, {num_nodes - 1}] for a graph with "
            f"{num_nodes} nodes; drop those edges or fix num_nodes / the feature matrix")
    if not allow_self_loops and bool((edge_index[0] == edge_index[1]).any()):
        n = int((edge_index[0] == edge_index[1]).sum())
        raise InvalidGraphError(
            f"edge_index has {n} self-loops; remove them with torch_geometric.utils.remove_self_loops")
    if not allow_duplicates:
        key = edge_index[0] * num_nodes + edge_index[1]
        n_dup = key.numel() - torch.unique(key).numel()
        if n_dup:
            raise InvalidGraphError(
                f"edge_index has {n_dup} duplicate edges; merge them with torch_geometric.utils.coalesce")


def check_homogeneous(data: Data | HeteroData) -> None:
    """Raise if a homogeneous method is handed a heterogeneous graph."""
    if isinstance(data, HeteroData):
        raise InvalidGraphError(
            f"{data.get('name', 'this graph')} is heterogeneous (HeteroData with node types "
            f"{', '.join(data.node_types)}); this method needs a homogeneous Data: use a heterogeneous method, "
            "or convert with data.to_homogeneous() (node types then share one feature size)")


def check_graph(data: Data, *, allow_self_loops: bool = True, allow_duplicates: bool = False) -> None:
    """Validate a homogeneous graph before training: non-empty, finite features, edges in range.

    Isolated nodes are allowed (GCN-style encoders add self-loops); many benchmark graphs have them.
    """
    check_homogeneous(data)
    num_nodes = data.num_nodes
    if not num_nodes:
        raise InvalidGraphError("the graph is empty (0 nodes); check the dataset path or the filter that produced it")
    check_features(data.x)
    if data.x.size(0) != num_nodes:
        raise InvalidGraphError(f"x has {data.x.size(0)} rows but the graph has {num_nodes} nodes")
    if data.edge_index is None:
        raise InvalidGraphError("the graph has no edge_index; a graph contrastive method needs edges")
    check_edge_index(data.edge_index, num_nodes, allow_self_loops=allow_self_loops,
                     allow_duplicates=allow_duplicates)


def check_labels(y: Tensor | None, num_nodes: int | None = None) -> Tensor:
    """Return ``y`` as a 1-D int64 tensor, raising if it is missing, the wrong length or negative."""
    if y is None:
        raise InvalidGraphError("the dataset has no labels `y`; evaluation needs node labels (pass --eval none to only train)")
    y = torch.as_tensor(y)
    if y.dim() == 2 and y.size(1) == 1:
        y = y.flatten()
    if y.dim() != 1:
        raise InvalidGraphError(f"labels must be 1-D class indices, got shape {tuple(y.shape)}")
    if num_nodes is not None and y.numel() != num_nodes:
        raise InvalidGraphError(f"there are {y.numel()} labels for {num_nodes} nodes")
    if y.is_floating_point():
        if not torch.isfinite(y).all():
            raise InvalidGraphError("labels hold NaN; mark unlabelled nodes with -1 and exclude them from evaluation")
        y = y.long()
    return y


def check_num_clusters(num_clusters: int, num_samples: int) -> None:
    """Raise if ``num_clusters`` is not in ``[1, num_samples]``."""
    if num_clusters < 1:
        raise InvalidArgumentError(f"num_clusters must be >= 1, got {num_clusters}")
    if num_clusters > num_samples:
        raise InvalidArgumentError(
            f"asked for {num_clusters} clusters but there are only {num_samples} samples; "
            "use at most as many clusters as nodes")
