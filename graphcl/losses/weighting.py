r"""Weights on the negatives of a contrastive denominator, served block by block.

A weighted InfoNCE denominator is :math:`\sum_j w_{ij}\, e^{s_{ij}}`; with :math:`N` in the
hundreds of thousands the ``[N, N]`` weight matrix cannot be stored, so a weighting hands out the
rows the chunked kernel (:func:`graphcl.losses.chunked.chunked_logsumexp`) is working on, one
``[chunk, N]`` block at a time, and the kernel adds :math:`\log w_{ij}` to the similarities
(:math:`w_{ij} = 0` removes the pair). Weights here are constants of the step (no gradient).
"""
from __future__ import annotations

import torch
from torch import Tensor

from graphcl.errors import InvalidArgumentError


class NegativeWeights:
    """Non-negative weights :math:`w_{ij}` of anchor ``i``'s candidates ``j``, given by row blocks.

    Subclasses implement :meth:`block`. Shapes: ``block(rows) -> [rows.stop - rows.start, N]``.
    """

    num_nodes: int

    def block(self, rows: slice) -> Tensor:
        raise NotImplementedError

    def to(self, device: torch.device | str) -> "NegativeWeights":
        """The weights with their data on ``device`` (this object when it holds no tensors)."""
        return self

    def log_block(self, rows: slice, dtype: torch.dtype) -> Tensor:
        """:math:`\\log w` of the rows (``-inf`` where a weight is 0)."""
        return self.block(rows).to(dtype).log()


class ClusterDisagreement(NegativeWeights):
    r"""MEOW's hard-valued weights: in how many of :math:`R` clusterings ``i`` and ``j`` differ.

    .. math:: w_{ij} = \sum_{r=1}^{R} [\, c_r(i) \ne c_r(j) \,] \in \{0, \dots, R\}

    so nodes that share a cluster in every clustering (the anchor itself included) leave the
    denominator, and those separated by every clustering count fully. ``normalize`` divides by
    :math:`R` (weights in [0, 1]); the official code does not.

    Yu & Li, "Heterogeneous Graph Contrastive Learning with Meta-path Contexts and Weighted
    Negative Samples" (MEOW), SDM 2023.

    Args:
        assignments: ``[R, N]`` cluster index of every node in each clustering (e.g. k-means
            at several numbers of clusters on the current embeddings).
        normalize: divide by ``R``.
    """

    def __init__(self, assignments: Tensor, normalize: bool = False) -> None:
        if assignments.dim() == 1:
            assignments = assignments.unsqueeze(0)
        if assignments.dim() != 2 or assignments.size(0) < 1 or assignments.dtype.is_floating_point:
            raise InvalidArgumentError("assignments must be an integer tensor [R, N] (one row per clustering), got "
                                       f"{tuple(assignments.shape)} {assignments.dtype}")
        self.assignments = assignments.long()
        self.num_nodes = assignments.size(1)
        self.scale = 1.0 / assignments.size(0) if normalize else 1.0

    def block(self, rows: slice) -> Tensor:
        a = self.assignments
        differ = (a[:, rows, None] != a[:, None, :]).sum(dim=0)
        return differ.float().mul_(self.scale)

    def to(self, device: torch.device | str) -> "ClusterDisagreement":
        """The same weights with the assignments on ``device``."""
        out = ClusterDisagreement.__new__(ClusterDisagreement)
        out.assignments, out.num_nodes, out.scale = self.assignments.to(device), self.num_nodes, self.scale
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(clusterings={self.assignments.size(0)}, num_nodes={self.num_nodes})"
