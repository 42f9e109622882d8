r"""POT's node compactness: Yu et al., "Provable Training for Graph Contrastive Learning",
NeurIPS 2023 (official code: the VoidHaruhi POT-GCL repository, ``GRACE/model.py`` ``pot_loss``).

For a two-layer GCN encoder :math:`h = \sigma(\hat A\, \sigma(\hat A X W_1 + b_1) W_2 + b_2)`
(:math:`\sigma`: ReLU or a leaky ReLU / PReLU of slope :math:`a`), the compactness of node
:math:`i` in a view is :math:`f_i = w_i^\top h_i` with
:math:`w_i = \bar z_i - \frac{1}{N-1}\sum_{j \ne i} \bar z_j` (:math:`\bar z`: the other view's
embeddings, unit rows). POT lower-bounds :math:`f_i` over every graph that drops up to
:math:`\Delta_i` of node :math:`i`'s edges (the augmentation's expected drops, rounded) and trains
that bound towards the positive side:

1. Entry-wise bounds of the propagation matrix: :math:`U_{ij} = s_i s_j` on the edges and the
   diagonal of :math:`A + I` with :math:`s_i = (\tilde d_i - \Delta'_i)^{-1/2}`,
   :math:`\Delta'_i = \min(\max(\tilde d_i - 2, 0), \mathrm{round}(\Delta_i))`,
   :math:`\tilde d_i = d_i + 1`; :math:`L = \mathrm{diag}(1 / \tilde d_i)`.
2. Pre-activation bounds of each layer (interval arithmetic about the midpoint):
   :math:`u, l = \tfrac{U + L}{2} M \pm \tfrac{U - L}{2} |M| + b` with :math:`M = X W_1`, then
   :math:`M = \sigma(\hat A X W_1 + b_1) W_2` (the clean graph's hidden layer, as the official).
3. CROWN's linear relaxation of :math:`\sigma` on :math:`[l, u]`: slope :math:`\alpha = 1` where
   :math:`l \ge 0`, :math:`a` where :math:`u \le 0`, else :math:`\alpha = \frac{u - a l}{u - l}`
   with upper intercept :math:`\beta = \frac{(a - 1) u l}{u - a l}` (lower intercept 0); the
   intercept of the bound each sign of the outer weight needs. Backwards through the layers:
   :math:`\Lambda_2 = \alpha_2 \odot w`, :math:`\tilde W_2 = \Lambda_2 W_2^\top`,
   :math:`\tilde b_2 = \mathrm{rowsum}(\Lambda_2 \odot (\Delta_2 + b_2))`,
   :math:`\Lambda_1 = \alpha_1 \odot \tilde W_2`, :math:`\tilde b_1 =
   \mathrm{rowsum}(\Lambda_1 \odot (\Delta_1 + b_1))`.
4. The bound on the view's own graph :math:`\hat A_v`:
   :math:`g = \hat A_v (\hat A_v\, \mathrm{rowsum}(\Lambda_1 \odot X W_1) + \tilde b_1) + \tilde b_2`,
   and the loss :math:`\frac1N \sum_i \log(1 + e^{-g_i})` (BCE towards 1).

Every matrix above is ``[N, hidden]`` or sparse with the pattern of :math:`A + I`: nothing is
``N x N`` (the official code builds dense ``N x N`` bounds; its ``[N, F]`` :math:`\tilde W_1` is
folded into one row-wise product). Gradients flow through the bounds, as in the official code.
For undirected graphs (each edge stored in both directions), as the paper. Step 4 uses the
encoder's own propagation matrix (row :math:`i`: node :math:`i`'s incoming edges); the official
multiplies by its transpose, which is the same matrix when the view is undirected (tested
equal to the official dense code there, values and gradients).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.utils import coalesce, degree, remove_self_loops, to_undirected

from graphcl.encoders.gnn import gcn_propagation
from graphcl.encoders.propagation import SparseOperator
from graphcl.errors import InvalidArgumentError

__all__ = ["NodeCompactness", "leaky_relu_relaxation", "distinct_degree"]


def leaky_relu_relaxation(lower: Tensor, upper: Tensor, slope: float) -> tuple[Tensor, Tensor]:
    r"""CROWN's linear bounds of :math:`\max(x, a x)` on :math:`[l, u]` as POT uses them: one slope
    :math:`\alpha` for both bounds, lower intercept 0 and upper intercept :math:`\beta`
    (non-zero only where :math:`l < 0 < u`). Returns ``(alpha, beta)``, each of ``lower``'s shape."""
    positive, negative = lower >= 0, upper <= 0
    crossing = ~(positive | negative)
    rise = upper - slope * lower
    # safe denominators: torch.where differentiates both branches
    span = torch.where(crossing, upper - lower, torch.ones_like(upper))
    rise_safe = torch.where(crossing, rise, torch.ones_like(rise))
    alpha = torch.where(positive, torch.ones_like(upper),
                        torch.where(negative, torch.full_like(upper, slope), rise / span))
    beta = torch.where(crossing, (slope - 1) * upper * lower / rise_safe, torch.zeros_like(upper))
    return alpha, beta


class NodeCompactness(nn.Module):
    r"""POT's node-compactness regulariser (the formula is in this module's docstring).

    ``forward(encoder, x, edge_index, views)``: ``encoder`` a two-layer GCN
    :class:`~graphcl.encoders.GNNEncoder` (ReLU, leaky ReLU or PReLU), ``x [N, F]`` the clean
    features, ``edge_index [2, E]`` the clean graph, and per view a tuple ``(view_edge_index,
    other, expected_drops)``: that view's graph, the other view's embeddings ``[N, d]`` and the
    number of edges the augmentation drops at each node in expectation ``[N]``. Returns the mean
    of the views' losses (the clean graph's layers computed once).

    A GRACE / GCA run adds it as :math:`(1 - \kappa) \mathcal L_{\mathrm{InfoNCE}} + \kappa
    \tfrac12 (\mathcal L_{\mathrm{POT}}^{(1)} + \mathcal L_{\mathrm{POT}}^{(2)})` (``pot_kappa``).
    """

    def forward(self, encoder: nn.Module, x: Tensor, edge_index: Tensor,
                views: Sequence[tuple[Tensor, Tensor, Tensor]]) -> Tensor:
        convs, slope = self.check_encoder(encoder)
        n = x.size(0)
        if n < 2:
            raise InvalidArgumentError(f"POT's node compactness compares each node with the others: it needs at least "
                                       f"2 nodes, got {n}")
        first, second = convs
        bias_1 = first.bias if first.bias is not None else x.new_zeros(first.lin.weight.size(0))
        bias_2 = second.bias if second.bias is not None else x.new_zeros(second.lin.weight.size(0))
        xw = encoder._sparse_input.linear(first.lin, x)  # [N, hidden], X W_1 (sparse X where it is sparse)
        hidden = encoder.gnn.act(gcn_propagation(edge_index, n) @ xw + bias_1)
        hw = second.lin(hidden)
        tilde = distinct_degree(edge_index, n) + 1
        pattern = coalesce(remove_self_loops(edge_index)[0], num_nodes=n)  # the edges of A, once
        losses = []
        for view_edge_index, other, expected_drops in views:
            center, radius = self.bound_operators(pattern, tilde, expected_drops)
            lower_1, upper_1 = _interval(center, radius, xw, bias_1)
            lower_2, upper_2 = _interval(center, radius, hw, bias_2)
            unit = F.normalize(other, dim=1)
            w = unit * (n / (n - 1)) - unit.sum(0) / (n - 1)  # [N, d]: z_i minus the mean of the others
            alpha_2, beta_2 = leaky_relu_relaxation(lower_2, upper_2, slope)
            lambda_2 = alpha_2 * w
            w_2 = lambda_2 @ second.lin.weight  # [N, hidden]
            b_2 = (lambda_2 * (torch.where(w >= 0, torch.zeros_like(beta_2), beta_2) + bias_2)).sum(1)
            alpha_1, beta_1 = leaky_relu_relaxation(lower_1, upper_1, slope)
            lambda_1 = alpha_1 * w_2
            b_1 = (lambda_1 * (torch.where(w_2 >= 0, torch.zeros_like(beta_1), beta_1) + bias_1)).sum(1)
            view = gcn_propagation(view_edge_index, n)
            score = view @ (view @ (lambda_1 * xw).sum(1, keepdim=True) + b_1[:, None]) + b_2[:, None]
            losses.append(F.softplus(-score).mean())
        return torch.stack(losses).mean()

    @staticmethod
    def check_encoder(encoder: nn.Module) -> tuple[tuple[nn.Module, nn.Module], float]:
        """The two GCN layers and the activation's negative slope, or a one-line error."""
        gnn = getattr(encoder, "gnn", None)
        convs = list(getattr(gnn, "convs", []))
        if not getattr(encoder, "_sparse_gcn", False) or len(convs) != 2:
            raise InvalidArgumentError("pot_kappa (POT's node compactness) bounds a two-layer GCN encoder: use "
                                       "conv='gcn' and num_layers=2, or set pot_kappa=0")
        act = gnn.act
        if isinstance(act, nn.ReLU):
            return (convs[0], convs[1]), 0.0
        if isinstance(act, nn.LeakyReLU):
            return (convs[0], convs[1]), float(act.negative_slope)
        if isinstance(act, nn.PReLU) and act.weight.numel() == 1:
            return (convs[0], convs[1]), float(act.weight.detach())
        raise InvalidArgumentError(f"pot_kappa (POT's node compactness) needs a ReLU, leaky ReLU or one-slope PReLU "
                                   f"activation, got {type(act).__name__}")

    @staticmethod
    def bound_operators(pattern: Tensor, tilde: Tensor, expected_drops: Tensor) -> tuple[SparseOperator,
                                                                                    SparseOperator]:
        r""":math:`(U + L) / 2` and :math:`(U - L) / 2` as sparse operators with the pattern of
        :math:`A + I`: ``pattern`` the coalesced edges of :math:`A` without self-loops, ``tilde``
        :math:`\tilde d` (distinct neighbours + 1), ``expected_drops`` :math:`\Delta` ``[N]``."""
        most = torch.minimum((tilde - 2).clamp(min=0), torch.round(expected_drops.to(tilde)))
        s = (tilde - most).rsqrt()
        rows, cols = pattern[1], pattern[0]  # row i: node i's incoming edges, as gcn_propagation
        off = s[rows] * s[cols] / 2
        upper_diag, lower_diag = s.square(), 1.0 / tilde
        return (SparseOperator.with_diagonal(rows, cols, off, (upper_diag + lower_diag) / 2),
                SparseOperator.with_diagonal(rows, cols, off, (upper_diag - lower_diag) / 2))


def distinct_degree(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Each node's number of distinct neighbours in the undirected graph (a self-loop counts once), ``[N]`` float."""
    return degree(to_undirected(edge_index, num_nodes=num_nodes)[1], num_nodes, dtype=torch.float)


def _interval(center: SparseOperator, radius: SparseOperator, m: Tensor, bias: Tensor) -> tuple[Tensor, Tensor]:
    """Lower and upper bounds of ``A @ m + bias`` over every ``A`` between ``center -+ radius``."""
    mid, spread = center @ m, radius @ m.abs()
    return mid - spread + bias, mid + spread + bias
