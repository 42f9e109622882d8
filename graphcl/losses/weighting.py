r"""Weights on the negatives of a contrastive denominator, served block by block.

A weighted InfoNCE denominator is :math:`\sum_j w_{ij}\, e^{s_{ij}}`; with :math:`N` in the
hundreds of thousands the ``[N, N]`` weight matrix cannot be stored, so a weighting hands out the
rows the chunked kernel (:func:`graphcl.losses.chunked.chunked_logsumexp`) is working on, one
``[chunk, N]`` block at a time, written into the kernel's reused buffer, and the kernel multiplies
the exponentiated similarities by it (:math:`w_{ij} = 0` removes the pair). :class:`NegativeWeights` are constants of the step;
:class:`LearnedPairWeights` (AdaMEOW) are trained with the encoder, see
:class:`graphcl.losses.LearnedWeightInfoNCE`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphcl.errors import InvalidArgumentError


class NegativeWeights:
    """Non-negative weights :math:`w_{ij}` of anchor ``i``'s candidates ``j``, given by row blocks.

    Subclasses implement :meth:`block_into`. Shapes: ``block(rows) -> [rows.stop - rows.start, N]``.
    """

    num_nodes: int
    device: torch.device = torch.device("cpu")

    def block_into(self, rows: slice, out: Tensor) -> Tensor:
        """Write the rows' weights into ``out`` (``[rows.stop - rows.start, N]``, floating) and return it."""
        raise NotImplementedError

    def block(self, rows: slice, dtype: torch.dtype = torch.float32) -> Tensor:
        """The rows' weights in a new tensor."""
        return self.block_into(rows, torch.empty(rows.stop - rows.start, self.num_nodes, dtype=dtype,
                                                 device=self.device))

    def to(self, device: torch.device | str) -> "NegativeWeights":
        """The weights with their data on ``device`` (this object when it holds no tensors)."""
        return self


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
        self.assignments, self.normalize = assignments.long(), normalize
        self.num_nodes = assignments.size(1)
        self.scale = 1.0 / assignments.size(0) if normalize else 1.0
        self.device = assignments.device
        self._buffers: tuple[Tensor, Tensor] | None = None  # (same cluster, count), reused across blocks

    def block_into(self, rows: slice, out: Tensor) -> Tensor:
        # One byte per pair: a bool comparison buffer and a count buffer (uint8 while R < 256),
        # allocated once per step and reused by every block (fresh [B, N] buffers per block cost
        # more in page faults than the comparisons).
        size = (rows.stop - rows.start, self.num_nodes)
        if self._buffers is None or self._buffers[0].size(0) < size[0] or self._buffers[0].device != out.device:
            count_dtype = torch.uint8 if self.assignments.size(0) < 256 else torch.int32
            self._buffers = (torch.empty(size, dtype=torch.bool, device=out.device),
                             torch.empty(size, dtype=count_dtype, device=out.device))
        same, count = (b[: size[0]] for b in self._buffers)
        for r, clustering in enumerate(self.assignments.to(out.device)):
            torch.ne(clustering[rows, None], clustering[None, :], out=same)
            if r == 0:
                count.copy_(same)
            else:
                count.add_(same.view(torch.uint8) if count.dtype == torch.uint8 else same)
        out.copy_(count)
        return out.mul_(self.scale) if self.normalize else out

    def to(self, device: torch.device | str) -> "ClusterDisagreement":
        """The same weights with the assignments on ``device``."""
        return ClusterDisagreement(self.assignments.to(device), self.normalize)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(clusterings={self.assignments.size(0)}, num_nodes={self.num_nodes})"


class LearnedPairWeights(nn.Module):
    r"""AdaMEOW's learned soft weights :math:`w_{ij} = \sigma(\mathrm{MLP}(a_i + z_j))`,
    MLP = Linear(d, h) - tanh - Linear(h, 1), evaluated block by block.

    The first layer is linear, so :math:`W_1(a_i + z_j) + b_1 = (W_1 a_i + b_1) + W_1 z_j`: both
    halves are computed once (``[N, h]`` each) and a block of rows costs ``[chunk, N, h]`` instead
    of the ``[N^2, d]`` tensor of pair sums the official code builds.

    Yu et al., "Heterogeneous Graph Contrastive Learning with Meta-path Contexts and Adaptively
    Weighted Negative Samples" (AdaMEOW), TKDE 2024.
    """

    def __init__(self, channels: int, hidden: int = 16) -> None:
        super().__init__()
        self.first = nn.Linear(channels, hidden)
        self.second = nn.Linear(hidden, 1)

    def halves(self, a: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
        """``(W_1 a + b_1 [N, h], W_1 z [M, h])``."""
        return self.first(a), z @ self.first.weight.t()

    def log_weights(self, a_half: Tensor, z_half: Tensor) -> Tensor:
        r""":math:`\log w` for the rows of ``a_half [B, h]`` against every ``z_half [M, h]`` -> ``[B, M]``."""
        hidden = torch.tanh(a_half[:, None, :] + z_half[None, :, :])
        return F.logsigmoid(self.second(hidden).squeeze(-1))

    def forward(self, a: Tensor, z: Tensor) -> Tensor:
        """All weights ``[N, M]`` at once (small graphs and tests; the losses use blocks)."""
        return self.log_weights(*self.halves(a, z)).exp()
