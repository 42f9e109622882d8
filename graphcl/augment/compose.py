r"""Composition of augmenters: PyG's sequential :class:`Compose` and a random subset :class:`RandomChoice`.

``Compose`` is :class:`torch_geometric.transforms.Compose` itself (applies each transform in
turn). PyG 2.8 has no random-choice transform, hence :class:`RandomChoice`.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch_geometric.data import Data, HeteroData
from torch_geometric.transforms import BaseTransform, Compose

from graphcl.augment._utils import check_positive_int
from graphcl.errors import InvalidArgumentError

__all__ = ["Compose", "RandomChoice", "accepts_sparse_features"]


def accepts_sparse_features(transform: Callable) -> bool:
    """Whether ``transform`` takes a sparse COO ``x`` (its class says ``accepts_sparse_features``;
    a :class:`Compose` or :class:`RandomChoice` when every transform in it does)."""
    if isinstance(transform, (Compose, RandomChoice)):
        return all(accepts_sparse_features(t) for t in transform.transforms)
    return bool(getattr(transform, "accepts_sparse_features", False))


class RandomChoice(BaseTransform):
    r"""Apply ``num_choices`` distinct transforms drawn at random from ``transforms``.

    The subset is drawn with torch's (CPU) generator -- uniformly
    (:func:`torch.randperm`), or proportionally to ``weights`` without replacement
    (:func:`torch.multinomial`) -- and the chosen transforms run in the order they are listed.
    GraphCL draws each view's augmentation from a pool this way ("random2/3/4").

    You et al., "Graph Contrastive Learning with Augmentations" (GraphCL), NeurIPS 2020.

    Args:
        transforms: the candidate transforms (callables ``Data -> Data``).
        num_choices: how many to apply, in ``[1, len(transforms)]``.
        weights: optional non-negative sampling weights, one per transform (at least
            ``num_choices`` of them positive).
    """

    def __init__(self, transforms: Sequence[Callable], num_choices: int = 1,
                 weights: Sequence[float] | None = None) -> None:
        transforms = list(transforms)
        if not transforms:
            raise InvalidArgumentError("RandomChoice needs at least one transform")
        for t in transforms:
            if not callable(t):
                raise InvalidArgumentError(f"every transform must be callable, got {t!r}")
        self.transforms = transforms
        self.num_choices = check_positive_int("num_choices", num_choices)
        if self.num_choices > len(transforms):
            raise InvalidArgumentError(
                f"num_choices={num_choices} exceeds the number of transforms ({len(transforms)})")
        self.weights: list[float] | None = None
        if weights is not None:
            weights = [float(w) for w in weights]
            if len(weights) != len(transforms):
                raise InvalidArgumentError(f"got {len(weights)} weights for {len(transforms)} transforms")
            if any(not math.isfinite(w) or w < 0 for w in weights):
                raise InvalidArgumentError(f"weights must be finite and >= 0, got {weights}")
            if sum(w > 0 for w in weights) < self.num_choices:
                raise InvalidArgumentError(
                    f"need at least num_choices={self.num_choices} positive weights, got {weights}")
            self.weights = weights

    def choose(self) -> list[int]:
        """Draw the indices (sorted) of the transforms to apply."""
        if self.weights is None:
            idx = torch.randperm(len(self.transforms))[: self.num_choices]
        else:
            idx = torch.multinomial(torch.tensor(self.weights, dtype=torch.float64), self.num_choices,
                                    replacement=False)
        return sorted(idx.tolist())

    def forward(self, data: Data | HeteroData) -> Data | HeteroData:
        for i in self.choose():
            data = self.transforms[i](data)
        return data

    def __repr__(self) -> str:
        args = ",\n".join(f"  {t}" for t in self.transforms)
        extra = f", weights={self.weights}" if self.weights is not None else ""
        return f"{self.__class__.__name__}([\n{args}\n], num_choices={self.num_choices}{extra})"
