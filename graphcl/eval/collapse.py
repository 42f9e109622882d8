"""Detecting collapsed embeddings (every node mapped to the same direction)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def direction_concentration(embeddings: Tensor) -> float:
    r"""How much the embeddings share one direction: :math:`\lVert \tfrac1N \sum_i z_i / \lVert z_i\rVert \rVert`.

    Its square is the mean cosine similarity over all ordered pairs (self-pairs included), so it is
    1 when every row points the same way and near 0 for embeddings spread over the sphere. All-zero
    rows (dead ReLUs) are given one extra direction of their own, orthogonal to the rest, so a
    graph whose rows are all zero counts as collapsed. ``O(N d)``, no pairwise matrix.

    Shapes: ``embeddings: [N, d]`` -> a float in ``[0, 1]``.
    """
    z = embeddings.detach().float()
    zero = z.norm(dim=1) == 0
    if bool(zero.all()):
        return 1.0
    mean_direction = F.normalize(z[~zero], dim=1).mean(0).norm().item()
    share = 1.0 - zero.float().mean().item()
    return float((share ** 2 * mean_direction ** 2 + (1.0 - share) ** 2) ** 0.5)


def is_collapsed(embeddings: Tensor, threshold: float = 0.99) -> bool:
    """``True`` when :func:`direction_concentration` exceeds ``threshold`` (the representation is useless)."""
    return direction_concentration(embeddings) > threshold
