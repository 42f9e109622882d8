r"""Graph-level contrast (GraphCL)."""
from __future__ import annotations

from graphcl.losses.node import DCL

__all__ = ["GraphNTXent"]


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
