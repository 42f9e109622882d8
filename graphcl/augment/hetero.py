r"""Augmenters for heterogeneous graphs (:class:`~torch_geometric.data.HeteroData`): edge dropping per
edge type and feature masking per node type, the perturbations of HeCo / MEOW's masked views.

Both map a ``HeteroData`` to a new one without touching the input (unchanged stores are shared,
changed attributes are new tensors); randomness comes from torch's generator, so
``torch.manual_seed`` reproduces a view. Applied to the meta-path edge types that
:class:`~graphcl.augment.MetaPathAdjacency` adds, :class:`DropHeteroEdge` gives MEOW's edge-masked
meta-path views; :class:`MaskHeteroFeature` gives its feature-masked target features.

Yu & Li, "Heterogeneous Graph Contrastive Learning with Meta-path Contexts and Weighted Negative
Samples" (MEOW), SDM 2023; Wang et al., "Self-supervised Heterogeneous Graph Neural Network with
Co-contrastive Learning" (HeCo), KDD 2021.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform
from torch_geometric.typing import EdgeType
from torch_geometric.utils import mask_feature

from graphcl.augment._utils import check_probability, format_repr
from graphcl.errors import InvalidArgumentError, InvalidGraphError

__all__ = ["DropHeteroEdge", "MaskHeteroFeature", "drop_edge_mask"]


def drop_edge_mask(edge_index: Tensor, p: float, keep_self_loops: bool = False) -> Tensor:
    r"""Boolean ``[E]`` mask of the edges kept when each is dropped independently with probability ``p``.

    .. math:: \mathrm{keep}_e = \mathbb 1[r_e \ge p] \lor (\text{keep\_self\_loops} \land s_e = t_e),
        \quad r_e \sim U[0, 1)

    Args:
        edge_index: ``[2, E]`` edges.
        p: drop probability in ``[0, 1]``.
        keep_self_loops: never drop an edge ``(i, i)`` (a masked meta-path view keeps each node's
            own path, as MEOW's masked adjacency does).
    """
    p = check_probability("p", p)
    keep = torch.rand(edge_index.size(1), device=edge_index.device) >= p
    if keep_self_loops:
        keep |= edge_index[0] == edge_index[1]
    return keep


def _require_hetero(data: object, who: str) -> HeteroData:
    if not isinstance(data, HeteroData):
        raise InvalidGraphError(f"{who} expects a torch_geometric.data.HeteroData, got {type(data).__name__}; "
                                "for a homogeneous Data use DropEdge / MaskFeature")
    return data


class DropHeteroEdge(BaseTransform):
    r"""Drop the edges of each chosen edge type independently, with a probability per edge type.

    .. math:: \tilde E_r = \{ e \in E_r : r_e \ge p_r \} \;(\cup \text{ the self-loops of } E_r), \quad r_e \sim U[0, 1)

    Edge-level attributes (``edge_weight``, ``edge_attr``, a meta-path's ``pathsim``, ...) stay
    aligned with the kept edges (:meth:`HeteroData.edge_subgraph`). The two directions of a
    relation stored as two edge types are dropped independently, as MEOW and HeCo do for their
    meta-path matrices.

    Args:
        p: one drop probability for every chosen edge type, or ``{edge_type: p}``.
        edge_types: the edge types to perturb when ``p`` is a number (default: all of them).
        keep_self_loops: never drop an edge ``(i, i)`` of a relation from a type to itself.
    """

    def __init__(self, p: float | Mapping[EdgeType, float] = 0.2, edge_types: Iterable[EdgeType] | None = None,
                 keep_self_loops: bool = True) -> None:
        if isinstance(p, Mapping):
            if edge_types is not None:
                raise InvalidArgumentError("give the edge types either as the keys of p or as edge_types, not both")
            self.p = {tuple(k): check_probability(f"p[{k}]", v) for k, v in p.items()}
            self.edge_types = list(self.p)
        else:
            self.p = check_probability("p", p)
            self.edge_types = None if edge_types is None else [tuple(t) for t in edge_types]
        self.keep_self_loops = bool(keep_self_loops)

    def forward(self, data: HeteroData) -> HeteroData:
        data = _require_hetero(data, "DropHeteroEdge")
        edge_types = data.edge_types if self.edge_types is None else self.edge_types
        missing = [t for t in edge_types if t not in data.edge_types]
        if missing:
            raise InvalidArgumentError(f"DropHeteroEdge: edge types {missing} are not in the graph; it has "
                                       f"{data.edge_types}")
        subsets = {}
        for edge_type in edge_types:
            edge_index = data[edge_type].edge_index
            p = self.p[edge_type] if isinstance(self.p, dict) else self.p
            loops = self.keep_self_loops and edge_type[0] == edge_type[2]
            subsets[edge_type] = drop_edge_mask(edge_index, p, keep_self_loops=loops).nonzero().view(-1)
        return data.edge_subgraph(subsets)

    def __repr__(self) -> str:
        return format_repr(self, p=self.p, keep_self_loops=self.keep_self_loops)


class MaskHeteroFeature(BaseTransform):
    r"""Zero node features of each chosen node type at random, with a probability per node type.

    ``mode='all'`` (default) zeroes each entry independently,
    :math:`\tilde X_{t,ij} = X_{t,ij}\, m_{ij}`, :math:`m_{ij} \sim \mathrm{Bernoulli}(1 - p_t)`:
    MEOW's feature masking (it zeroes a fraction of the non-zero entries, which is the same
    distribution); ``'col'`` zeroes whole feature dimensions (GRACE), ``'row'`` whole nodes.
    No rescaling. Delegates to :func:`torch_geometric.utils.mask_feature`.

    Node types without features (HeCo / MEOW give them a learned embedding table) are left alone
    unless named, in which case it is an error.

    Args:
        p: one masking probability for every chosen node type, or ``{node_type: p}``.
        node_types: the node types to perturb when ``p`` is a number (default: every type with ``x``).
        mode: ``'all'``, ``'col'`` or ``'row'``.
    """

    def __init__(self, p: float | Mapping[str, float] = 0.3, node_types: Iterable[str] | None = None,
                 mode: str = "all") -> None:
        if mode not in ("all", "col", "row"):
            raise InvalidArgumentError(f"mode must be 'all', 'col' or 'row', got {mode!r}")
        if isinstance(p, Mapping):
            if node_types is not None:
                raise InvalidArgumentError("give the node types either as the keys of p or as node_types, not both")
            self.p = {str(k): check_probability(f"p[{k!r}]", v) for k, v in p.items()}
            self.node_types = list(self.p)
        else:
            self.p = check_probability("p", p)
            self.node_types = None if node_types is None else [str(t) for t in node_types]
        self.mode = mode

    def forward(self, data: HeteroData) -> HeteroData:
        data = _require_hetero(data, "MaskHeteroFeature")
        if self.node_types is None:
            node_types = [t for t in data.node_types if "x" in data[t]]
        else:
            node_types = self.node_types
            for t in node_types:
                if t not in data.node_types:
                    raise InvalidArgumentError(f"MaskHeteroFeature: node type {t!r} is not in the graph; it has "
                                               f"{data.node_types}")
                if "x" not in data[t]:
                    raise InvalidGraphError(f"MaskHeteroFeature: node type {t!r} has no features `x` to mask; leave "
                                            "it out of node_types (featureless types are embedded, not masked)")
        out = copy.copy(data)
        for t in node_types:
            p = self.p[t] if isinstance(self.p, dict) else self.p
            out[t].x, _ = mask_feature(data[t].x, p=p, mode=self.mode)
        return out

    def __repr__(self) -> str:
        return format_repr(self, p=self.p, mode=self.mode)
