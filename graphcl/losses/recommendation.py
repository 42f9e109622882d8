r"""Losses and sampling for implicit-feedback recommendation: BPR and uniform negative items.

Rendle et al., "BPR: Bayesian Personalized Ranking from Implicit Feedback", UAI 2009; used by
LightGCN (He et al., SIGIR 2020) and LightGCL (Cai et al., ICLR 2023).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from graphcl.errors import InvalidGraphError

__all__ = ["bpr_loss", "NegativeSampler"]


def bpr_loss(user: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
    r""":math:`-\frac1B \sum_b \log \sigma(u_b^\top p_b - u_b^\top n_b)` (Rendle et al., UAI 2009).

    Shapes: ``[B, d]`` each -> scalar."""
    return F.softplus((user * negative).sum(-1) - (user * positive).sum(-1)).mean()


class NegativeSampler:
    """Uniform negative items: for each user, an item it has no training interaction with,
    drawn by vectorised rejection (redraw only the collisions)."""

    def __init__(self, pairs: Tensor, num_items: int, max_rounds: int = 100) -> None:
        self.num_items, self.max_rounds = num_items, max_rounds
        self.keys = torch.unique(pairs[0] * num_items + pairs[1])  # sorted
        counts = torch.bincount(torch.div(self.keys, num_items, rounding_mode="floor"))  # duplicates once
        if counts.numel() and int(counts.max()) >= num_items:
            raise InvalidGraphError(f"user {int(counts.argmax())} interacted with every item: no negative exists")

    def _known(self, users: Tensor, items: Tensor) -> Tensor:
        query = users * self.num_items + items
        index = torch.searchsorted(self.keys, query).clamp_(max=self.keys.numel() - 1)
        return self.keys[index] == query

    def __call__(self, users: Tensor) -> Tensor:
        items = torch.randint(self.num_items, users.shape, device=users.device)
        todo = self._known(users, items).nonzero().view(-1)
        for _ in range(self.max_rounds):
            if todo.numel() == 0:
                return items
            items[todo] = torch.randint(self.num_items, todo.shape, device=users.device)
            todo = todo[self._known(users[todo], items[todo])]
        # Users who interacted with almost every item: draw among their few free items exactly.
        for position in todo.tolist():
            user = int(users[position])
            known = self.keys[(self.keys >= user * self.num_items) & (self.keys < (user + 1) * self.num_items)]
            free = torch.ones(self.num_items, dtype=torch.bool, device=self.keys.device)
            free[known - user * self.num_items] = False
            candidates = free.nonzero().view(-1)
            items[position] = candidates[torch.randint(candidates.numel(), (1,), device=candidates.device)].to(
                items.device)
        return items
