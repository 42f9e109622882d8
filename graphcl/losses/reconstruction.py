"""Feature reconstruction losses (masked autoencoders)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from graphcl.checks import check_features
from graphcl.errors import InvalidArgumentError


class ScaledCosineError(nn.Module):
    r"""GraphMAE's scaled cosine error: Hou et al., "GraphMAE: Self-Supervised Masked Graph
    Autoencoders", KDD 2022.

    .. math::
        \mathcal L = \frac1{|M|} \sum_{i \in M} \big(1 - \cos(\hat x_i, x_i)\big)^{\gamma},
        \qquad \gamma \ge 1,

    over the rows given (the masked nodes); :math:`\gamma > 1` down-weights the rows already
    reconstructed well.

    Shapes: ``reconstructed, target: [M, F]`` -> scalar.
    """

    def __init__(self, alpha: float = 2.0) -> None:
        super().__init__()
        if not alpha >= 1:
            raise InvalidArgumentError(f"the scaling exponent alpha must be >= 1, got {alpha}")
        self.alpha = float(alpha)

    def forward(self, reconstructed: Tensor, target: Tensor) -> Tensor:
        check_features(reconstructed, "reconstructed")
        if reconstructed.shape != target.shape or reconstructed.size(0) == 0:
            raise InvalidArgumentError(f"reconstructed {tuple(reconstructed.shape)} and target {tuple(target.shape)} "
                                       "must be non-empty and of one shape")
        cosine = (F.normalize(reconstructed, dim=-1) * F.normalize(target, dim=-1)).sum(dim=-1)
        return (1 - cosine).pow(self.alpha).mean()

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"
