r"""Full-ranking evaluation of recommendations: Recall@K and NDCG@K over all items.

For every user with at least one held-out item, all items are scored by
:math:`s_{ui} = e_u^\top e_i`, the user's known interactions (training, and validation when
testing) are excluded, and the top :math:`K` are compared with the held-out set :math:`T_u`
(the protocol of NGCF, LightGCN and LightGCL):

.. math::
    \mathrm{Recall@K}(u) = \frac{|\mathrm{top}_K(u) \cap T_u|}{|T_u|}, \qquad
    \mathrm{NDCG@K}(u) = \frac{\sum_{r=1}^{K} \mathbb 1[\mathrm{top}_K(u)_r \in T_u] / \log_2(r + 1)}
                              {\sum_{r=1}^{\min(K, |T_u|)} 1 / \log_2(r + 1)},

averaged over those users. Users are scored in batches, so memory is ``O(batch * num_items)``.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from graphcl.errors import InvalidArgumentError

__all__ = ["PairIndex", "top_k_items", "ranking_metrics", "evaluate_ranking"]


class PairIndex:
    """``(user, item)`` pairs grouped by user (CSR), for fast per-batch lookups. Kept on the CPU
    whatever the pairs' device (the lookups are index bookkeeping; scores stay where they are).

    Args:
        pairs: ``[2, E]`` ``(user, item)`` pairs (several tensors are concatenated).
        num_users: number of users.
    """

    def __init__(self, pairs: Tensor | Sequence[Tensor], num_users: int) -> None:
        pairs = torch.cat([p.cpu() for p in pairs], dim=1) if not isinstance(pairs, Tensor) else pairs.cpu()
        order = torch.argsort(pairs[0], stable=True)
        self.items = pairs[1, order]
        counts = torch.bincount(pairs[0], minlength=num_users)
        self.offsets = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])
        self.counts = counts

    def batch(self, start: int, stop: int) -> tuple[Tensor, Tensor]:
        """``(row within the batch, item)`` of the pairs of users ``start..stop-1``."""
        lo, hi = int(self.offsets[start]), int(self.offsets[stop])
        rows = torch.repeat_interleave(torch.arange(stop - start), self.counts[start:stop])
        return rows, self.items[lo:hi]


def top_k_items(user_emb: Tensor, item_emb: Tensor, k: int, exclude: PairIndex | None = None,
                batch_size: int = 1024) -> Tensor:
    """The ``k`` best-scored items per user ``[M, k]`` (by :math:`e_u^\\top e_i`), excluded pairs
    never ranked; users in batches of ``batch_size``."""
    if k > item_emb.size(0):
        raise InvalidArgumentError(f"k = {k} exceeds the {item_emb.size(0)} items")
    out = []
    for start in range(0, user_emb.size(0), batch_size):
        stop = min(start + batch_size, user_emb.size(0))
        scores = user_emb[start:stop] @ item_emb.t()
        if exclude is not None:
            rows, items = exclude.batch(start, stop)
            scores[rows.to(scores.device), items.to(scores.device)] = float("-inf")
        out.append(scores.topk(k, dim=1).indices.cpu())
    return torch.cat(out)


def ranking_metrics(top: Tensor, truth: PairIndex, ks: Sequence[int] = (20, 40)) -> dict[str, float]:
    """Recall@K and NDCG@K (fractions) of the ranked lists ``top [M, K_max]`` against the held-out
    pairs, averaged over the users that have held-out items."""
    if max(ks) > top.size(1):
        raise InvalidArgumentError(f"top lists have {top.size(1)} items, fewer than K = {max(ks)}")
    users = torch.nonzero(truth.counts > 0).view(-1)
    if users.numel() == 0:
        raise InvalidArgumentError("no user has held-out interactions to evaluate")
    # hit[u, r] iff top[u, r] is one of u's held-out items: compare (user, item) keys.
    rows, items = truth.batch(0, top.size(0))
    num_items = max(int(top.max()), int(items.max())) + 1
    keys = torch.arange(top.size(0))[:, None] * num_items + top
    hits = torch.isin(keys, rows * num_items + items)
    discount = 1.0 / torch.log2(torch.arange(2, top.size(1) + 2, dtype=torch.float64))
    n_truth = truth.counts[users].double()
    hits = hits[users].double()
    out = {}
    for k in ks:
        recall = hits[:, :k].sum(1) / n_truth
        dcg = (hits[:, :k] * discount[:k]).sum(1)
        ideal = torch.cumsum(discount[:k], 0)[(n_truth.clamp(max=k) - 1).long()]
        out[f"recall_{k}"] = float(recall.mean())
        out[f"ndcg_{k}"] = float((dcg / ideal).mean())
    return out


def evaluate_ranking(user_emb: Tensor, item_emb: Tensor, heldout: Tensor, known: Sequence[Tensor],
                     ks: Sequence[int] = (20, 40), batch_size: int = 1024) -> dict[str, float]:
    """Recall@K / NDCG@K of the embeddings on the ``heldout`` ``(user, item)`` pairs, with every
    pair in ``known`` (e.g. ``[train_pairs]`` for validation, ``[train_pairs, val_pairs]`` for
    testing) excluded from the ranking.

    Shapes: ``user_emb [M, d]``, ``item_emb [N, d]``, pairs ``[2, E]``.
    """
    num_users = user_emb.size(0)
    exclude = PairIndex(list(known), num_users)
    truth = PairIndex(heldout, num_users)
    with torch.no_grad():
        top = top_k_items(user_emb.detach(), item_emb.detach(), max(ks), exclude, batch_size)
    return ranking_metrics(top, truth, ks)
