"""A new method in about 20 lines: GRACE's views and encoder trained with another loss, registered by name.

    graphcl --plugin examples/custom_method.py train grace-au --dataset cora --epochs 50
    graphcl --plugin examples/custom_method.py bench clustering --methods grace grace-au --datasets cora --quick
    python examples/custom_method.py train grace-au --dataset cora    # the same, without --plugin

Nothing else in the package is edited: the decorator registers the method, its constructor's
defaults are its settings (add ``graphcl/configs/grace-au.yaml`` for per-dataset ones), and
``graphcl train`` / ``graphcl bench`` find it by name once the file is imported.
"""
import sys

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphcl.methods import GRACE, register_method


class AlignUniform(nn.Module):
    r"""Alignment and uniformity on the hypersphere (Wang & Isola, ICML 2020):
    :math:`\frac1N \sum_i \lVert u_i - v_i \rVert^2 + \frac{\lambda}{2} \sum_{w \in \{u, v\}}
    \log \frac{1}{|P|} \sum_{(i, j) \in P} e^{-t \lVert w_i - w_j \rVert^2}`, ``u``, ``v`` the L2-normalised
    views, ``P`` ``num_pairs`` random node pairs (no N x N matrix). Shapes: ``[N, d]`` twice -> scalar."""

    def __init__(self, t: float = 2.0, weight: float = 1.0, num_pairs: int = 65_536) -> None:
        super().__init__()
        self.t, self.weight, self.num_pairs = t, weight, num_pairs

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        u, v = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
        i, j = torch.randint(len(u), (2, self.num_pairs), device=u.device)
        uniform = sum(torch.logsumexp(-self.t * (w[i] - w[j]).pow(2).sum(1), 0) for w in (u, v)) / 2
        return (u - v).pow(2).sum(1).mean() + self.weight * (uniform - torch.log(torch.tensor(float(len(i)))))


@register_method("grace-au")
class GRACEAlignUniform(GRACE):
    """GRACE's two views, encoder and projection head, trained with :class:`AlignUniform` instead of InfoNCE."""

    def __init__(self, in_channels: int, t: float = 2.0, weight: float = 1.0, **kwargs) -> None:
        super().__init__(in_channels, loss=AlignUniform(t, weight), **kwargs)


if __name__ == "__main__":
    from graphcl.cli import main

    sys.exit(main(sys.argv[1:]))
