r"""Graph-level losses: GraphCL's contrast of two views, InfoGraph's local-global mutual information."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphcl.errors import InvalidArgumentError
from graphcl.losses.node import DCL

__all__ = ["GraphNTXent", "LocalGlobalJSD"]


class GraphNTXent(DCL):
    r"""GraphCL's NT-Xent over a batch of graphs: two views' graph embeddings, cosine similarity,
    temperature :math:`\tau`, the other graphs of the other view as negatives, the positive left
    out of the denominator (as the official ``loss_cal``), both directions averaged:

    .. math::
        \ell_i = -\frac{s(u_i, v_i)}{\tau} + \log \sum_{k \ne i} e^{s(u_i, v_k) / \tau}, \qquad
        \mathcal L = \frac{1}{2B} \sum_i \big(\ell_i(u, v) + \ell_i(v, u)\big)

    It is :class:`~graphcl.losses.DCL` without intra-view negatives (same chunked kernel).
    You et al., "Graph Contrastive Learning with Augmentations", NeurIPS 2020.

    Shapes: ``z1, z2: [B, d]`` -> scalar.
    """

    def __init__(self, tau: float = 0.2, chunk_size: int | None = None) -> None:
        super().__init__(tau, intra_view_negatives=False, chunk_size=chunk_size)

    def extra_repr(self) -> str:
        return f"tau={self.tau}"


class LocalGlobalJSD(nn.Module):
    r"""InfoGraph's local-global mutual information, Jensen-Shannon estimator: Sun et al.,
    "InfoGraph: Unsupervised and Semi-supervised Graph-Level Representation Learning via Mutual
    Information Maximization", ICLR 2020 (Deep InfoMax's ``fd`` mode with ``JSD``).

    With the scores :math:`s_{ig} = l_i^\top g_g` of node ``i`` against every graph ``g`` of the
    batch, the node's own graph :math:`g(i)` the positive and the others negatives:

    .. math::
        \mathcal L = \frac{1}{N (G - 1)} \sum_i \sum_{g \ne g(i)} \big(\mathrm{sp}(-s_{ig}) + s_{ig} - \log 2\big)
        - \frac1N \sum_i \big(\log 2 - \mathrm{sp}(-s_{i g(i)})\big)

    (:math:`\mathrm{sp}`: softplus). ``O(N G d)``: nodes against graphs, never nodes against nodes.

    Shapes: ``local [N, d]``, ``global_ [G, d]``, ``batch [N]`` (graph of each node) -> scalar.
    """

    def forward(self, local: Tensor, global_: Tensor, batch: Tensor) -> Tensor:
        if local.dim() != 2 or global_.dim() != 2 or local.size(1) != global_.size(1):
            raise InvalidArgumentError(f"local [N, d] and global [G, d] embeddings must share d, got "
                                       f"{tuple(local.shape)} and {tuple(global_.shape)}")
        num_graphs = global_.size(0)
        if num_graphs < 2:
            raise InvalidArgumentError(f"the local-global estimator needs at least 2 graphs (negatives), got {num_graphs}")
        scores = local @ global_.t()  # [N, G]
        own = F.one_hot(batch, num_graphs).to(torch.bool)
        positive = (math.log(2.0) - F.softplus(-scores[own])).mean()
        negative_terms = F.softplus(-scores) + scores - math.log(2.0)
        negative = negative_terms.masked_fill(own, 0.0).sum() / (local.size(0) * (num_graphs - 1))
        return negative - positive
