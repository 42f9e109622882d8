r"""Recommenders on user-item graphs: LightGCN (BPR) and LightGCL (BPR + SVD-view contrast).

Both train on mini-batches of training interactions :math:`(u, i)`, each with a negative item
:math:`j` drawn uniformly among the items :math:`u` has not interacted with (vectorised
rejection sampling), and rank items by :math:`e_u^\top e_i` of the propagated embeddings. The
graph is a bipartite :class:`~torch_geometric.data.Data` from :mod:`graphcl.data.interactions`
(users first, items offset by ``num_users``).

* LightGCN (He et al., SIGIR 2020): :math:`E = \frac{1}{L+1}\sum_l \hat A^l E^{(0)}`,
  :math:`\mathcal L = -\frac1B \sum \log\sigma(e_u^\top e_i - e_u^\top e_j)
  + \frac{\lambda}{2B}(\|e^{(0)}_u\|^2 + \|e^{(0)}_i\|^2 + \|e^{(0)}_j\|^2)`; N(0, 0.1²) initialisation.
* LightGCL (Cai et al., ICLR 2023): :math:`E = \sum_l E^{(l)}`, :math:`E^{(l)} = \hat A_{\text{drop}} E^{(l-1)}`;
  the SVD view :math:`G = E^{(0)} + \sum_l \mathrm{SVD}_q(\hat A)\, E^{(l-1)}`
  (:func:`graphcl.augment.svd_operator`, users :math:`(U S)(V^\top E_{\text{items}})`, items
  :math:`(V S)(U^\top E_{\text{users}})`), and

  .. math::
      \mathcal L = \mathcal L_{\text{BPR}}
      + \lambda_1 \Big( \overline{\log \textstyle\sum_{v} e^{g_u^\top e_v / \tau}}
                      - \overline{\mathrm{clip}(g_u^\top e_u / \tau, -5, 5)} + (\text{same for items}) \Big)
      + \lambda_2 \|E^{(0)}\|^2,

  the averages over the batch's users and over its positive and negative items, the sums over
  all users (all items), computed in row chunks (:func:`graphcl.losses.chunked.chunked_logsumexp`).
  As in the official code, similarities are raw dot products (no normalisation).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from graphcl.augment.spectral import LowRankOperator, normalized_biadjacency, svd_operator
from graphcl.encoders import LightGCNPropagation, normalized_operator
from graphcl.errors import InvalidArgumentError, InvalidGraphError
from graphcl.losses import NegativeSampler, bpr_loss, chunked_logsumexp
from graphcl.losses.chunked import DEFAULT_MEMORY_BUDGET, ChunkWorkspace
from graphcl.methods.base import Method, register_method

__all__ = ["BPRRecommender", "LightGCN", "LightGCL"]


class BPRRecommender(Method):
    r"""What LightGCN and LightGCL share: the layer-0 embeddings of users and items, the normalised
    bipartite adjacency, BPR mini-batches and the propagated embeddings.

    Args:
        in_channels: unused (embeddings are learned; the sizes come from the graph in ``setup``).
        out_channels: :math:`d`, the size of the layer-0 and propagated embeddings.
        num_layers: :math:`L`.
        batch_size: training interactions per step.
        edge_dropout: fraction of the normalised adjacency's entries dropped in each step.
    """

    task = "rec"
    combine = "mean"

    def __init__(self, in_channels: int | None = None, out_channels: int = 64, num_layers: int = 3,
                 batch_size: int = 2048, edge_dropout: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= edge_dropout < 1.0:
            raise InvalidArgumentError(f"edge_dropout must be in [0, 1), got {edge_dropout}")
        self.out_channels, self.batch_size, self.edge_dropout = out_channels, batch_size, edge_dropout
        self.propagation = LightGCNPropagation(num_layers, self.combine)
        self.embedding = nn.Embedding(1, out_channels)  # resized in setup
        self._graph: dict | None = None
        self._batches: list[Tensor] = []

    def _init_embedding(self, num_users: int, num_items: int) -> None:
        nn.init.normal_(self.embedding.weight, std=0.1)

    def setup(self, data: Data) -> None:
        for key in ("num_users", "num_items", "train_pairs"):
            if key not in data:
                raise InvalidGraphError(f"{self.name or 'this recommender'} needs a user-item interaction graph "
                                        f"(graphcl.data.interactions; e.g. --dataset gowalla); {key} is missing")
        m, n = int(data.num_users), int(data.num_items)
        device = data.train_pairs.device
        self.embedding = nn.Embedding(m + n, self.out_channels, device=device)
        self._init_embedding(m, n)
        self._graph = {"m": m, "n": n, "pairs": data.train_pairs, "edge_index": data.edge_index,
                       "operator": normalized_operator(data.edge_index, m + n),
                       "sampler": NegativeSampler(data.train_pairs, n)}

    def start_epoch(self, data: Data) -> int:
        g = self._require_setup()
        order = torch.randperm(g["pairs"].size(1), device=g["pairs"].device)
        self._batches = list(order.split(self.batch_size))
        return len(self._batches)

    def _require_setup(self) -> dict:
        if self._graph is None:
            raise InvalidArgumentError(f"{self.name}: call setup(data) (the training loop does) before training")
        return self._graph

    def _next_batch(self) -> tuple[Tensor, Tensor, Tensor]:
        g = self._require_setup()
        if not self._batches:
            self.start_epoch(None)
        batch = g["pairs"][:, self._batches.pop()]
        users, positives = batch[0], batch[1]
        return users, positives, g["sampler"](users)

    def _operator(self):
        g = self._require_setup()
        if self.training and self.edge_dropout > 0:
            return normalized_operator(g["edge_index"], g["m"] + g["n"], self.edge_dropout)
        return g["operator"]

    @torch.no_grad()
    def embed(self, data: Data) -> Tensor:
        """Propagated embeddings ``[num_users + num_items, d]``, users first."""
        was_training = self.training
        self.eval()
        out, _ = self.propagation(self.embedding.weight, self._operator())
        self.train(was_training)
        return out.detach()


@register_method("lightgcn")
class LightGCN(BPRRecommender):
    r"""LightGCN: BPR on layer-mean propagated embeddings, L2 on the batch's layer-0 embeddings.

    Args:
        reg: :math:`\lambda` (LightGCN's ``decay``, 1e-4).
        **kwargs: see :class:`BPRRecommender`.
    """

    combine = "mean"

    def __init__(self, in_channels: int | None = None, reg: float = 1e-4, **kwargs) -> None:
        super().__init__(in_channels, **kwargs)
        self.reg = float(reg)

    def loss(self, data: Data) -> Tensor:
        users, positives, negatives = self._next_batch()
        m = self._graph["m"]
        emb, _ = self.propagation(self.embedding.weight, self._operator())
        ego = self.embedding.weight
        u, p, q = users, positives + m, negatives + m
        reg = (ego[u].pow(2).sum() + ego[p].pow(2).sum() + ego[q].pow(2).sum()) / (2 * users.numel())
        return bpr_loss(emb[u], emb[p], emb[q]) + self.reg * reg


@register_method("lightgcl")
class LightGCL(BPRRecommender):
    r"""LightGCL: BPR + :math:`\lambda_1` contrast with the SVD view + :math:`\lambda_2` L2 (module docstring).

    Args:
        tau: temperature.
        lambda1: weight of the contrastive term.
        lambda2: weight of the L2 penalty on all layer-0 embeddings.
        svd_rank: :math:`q`.
        svd_niter: power iterations of the randomized SVD.
        chunk_size: anchors per chunk of the contrastive denominators (``None``: automatic).
        memory_budget: bytes of similarity blocks each side (users, items) may hold; where one
            block holds a side's batch, forward keeps it for backward (``None``: the default
            :data:`~graphcl.losses.chunked.DEFAULT_MEMORY_BUDGET`).
        num_layers: :math:`L` (LightGCL: 2).
        batch_size: training interactions per step (LightGCL: 4096).
        **kwargs: see :class:`BPRRecommender`.
    """

    combine = "sum"

    def __init__(self, in_channels: int | None = None, tau: float = 0.2, lambda1: float = 0.2, lambda2: float = 1e-7,
                 svd_rank: int = 5, svd_niter: int = 2, chunk_size: int | None = None,
                 memory_budget: int | None = None, num_layers: int = 2, batch_size: int = 4096, **kwargs) -> None:
        super().__init__(in_channels, num_layers=num_layers, batch_size=batch_size, **kwargs)
        self.tau, self.lambda1, self.lambda2 = float(tau), float(lambda1), float(lambda2)
        self.svd_rank, self.svd_niter, self.chunk_size = svd_rank, svd_niter, chunk_size
        if memory_budget is not None and memory_budget < 1:
            raise InvalidArgumentError(f"memory_budget must be a positive number of bytes, got {memory_budget}")
        self.memory_budget = DEFAULT_MEMORY_BUDGET if memory_budget is None else int(memory_budget)
        self._workspaces = (ChunkWorkspace(), ChunkWorkspace())  # users' and items' blocks, kept between steps

    def _init_embedding(self, num_users: int, num_items: int) -> None:
        nn.init.xavier_uniform_(self.embedding.weight.data[:num_users])
        nn.init.xavier_uniform_(self.embedding.weight.data[num_users:])

    def setup(self, data: Data) -> None:
        super().setup(data)
        g = self._graph
        g["svd"] = svd_operator(normalized_biadjacency(data.train_pairs, g["m"], g["n"]), self.svd_rank,
                                self.svd_niter)

    def _svd_view(self, layers: list[Tensor]) -> Tensor:
        """:math:`G = E^{(0)} + \\sum_l \\mathrm{SVD}(E^{(l-1)})`, users then items."""
        m = self._graph["m"]
        svd: LowRankOperator = self._graph["svd"]
        g = layers[0]
        for previous in layers[:-1]:
            g = g + torch.cat([svd @ previous[m:], svd.T @ previous[:m]])
        return g

    def loss(self, data: Data) -> Tensor:
        users, positives, negatives = self._next_batch()
        m = self._graph["m"]
        emb, layers = self.propagation(self.embedding.weight, self._operator())
        view = self._svd_view(layers)
        items = torch.cat([positives, negatives])
        contrast = 0.0
        for anchors, rows, workspace in ((users, slice(0, m), self._workspaces[0]),
                                         (items, slice(m, None), self._workspaces[1])):
            g_all, e_all = view[rows], emb[rows]
            g_a = g_all[anchors]
            # a node drawn several times in the batch has one denominator: computed once, gathered
            distinct, inverse = anchors.unique(return_inverse=True)
            lse = chunked_logsumexp(g_all[distinct], [e_all], [False], self.tau, self.chunk_size,
                                    memory_budget=self.memory_budget, workspace=workspace)[inverse]
            positive = ((g_a * e_all[anchors]).sum(-1) / self.tau).clamp(-5.0, 5.0)
            contrast = contrast + lse.mean() - positive.mean()
        bpr = bpr_loss(emb[users], emb[positives + m], emb[negatives + m])
        return bpr + self.lambda1 * contrast + self.lambda2 * self.embedding.weight.pow(2).sum()
