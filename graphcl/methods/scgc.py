r"""Deep graph clustering with structural contrast: SCGC, SCGC* and PamC.

All three start from SDCN's autoencoder pretrained by reconstruction
(:func:`graphcl.encoders.pretrained_autoencoder`), place K cluster centres by k-means on the
pretrained embeddings, and train with DEC's self-training KL between the Student-t soft
assignment Q and its sharpened target P (refreshed every epoch) plus a structural contrast:

* ``scgc`` (Kulatilleke et al., "SCGC: Self-Supervised Contrastive Graph Clustering", 2022):
  :math:`\beta\,\mathrm{KL}(P\Vert Q) + \alpha\,\mathcal L_{NC}(\hat A^r) + \mathrm{MSE}(\hat X, X)`,
  the whole autoencoder.
* ``scgc-star`` (SCGC*): :math:`\beta\,\mathrm{KL} + \alpha\,\mathcal L_{IAC}(\sum_{k\le r}\hat A^k)`,
  the encoder only.
* ``pamc`` (Kulatilleke et al., "Efficient block contrastive learning via parameter-free
  meta-node approximation", 2022): :math:`\beta\,\mathrm{KL} + \alpha\,\mathcal L_{PamC}`, the
  encoder only, negatives through K meta-nodes, so the loss is linear in N.

Predicted clusters: :meth:`DeepClustering.predict` (``argmax_k q_ik``, as the papers) and k-means
on :meth:`DeepClustering.embed`. The temperature ``tau`` is a temperature: the official
``--tau t`` (which multiplies the cosine) is ``tau = 1 / t`` here (see graphcl/configs/scgc.yaml).

The structural contrast can be given as an object, ``loss=`` (e.g. ``NeighbourContrast(0.5)`` for
SCGC / SCGC*, ``MetaNodeContrast(0.5)`` for PamC), instead of the one built from ``tau``.
"""
from __future__ import annotations

import inspect
import logging
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.cluster import KMeans
from torch import Tensor, nn
from torch_geometric.data import Data

from graphcl.augment import adjacency_power
from graphcl.checks import check_graph, check_num_clusters, float_features, parameter_dtype
from graphcl.clustering import modularity
from graphcl.encoders import SDCNAutoencoder, pretrained_autoencoder
from graphcl.errors import InvalidArgumentError, InvalidGraphError
from graphcl.losses import (ClusteringKL, MetaNodeContrast, NeighbourContrast, PositivePairs,
                            student_t_assignment, target_distribution)
from graphcl.methods._parts import check_module, eval_mode
from graphcl.methods.base import ClusteringMethod, register_method

__all__ = ["DeepClustering", "SCGC", "SCGCStar", "PamC"]

log = logging.getLogger(__name__)

#: Pretraining seed offset between restarts: seeds ``s + j * stride`` never overlap across runs ``s < stride``.
_RESTART_SEED_STRIDE = 100_000


class DeepClustering(ClusteringMethod):
    r"""Shared machinery of SCGC, SCGC* and PamC: pretrained autoencoder, centres, KL, positives.

    Args:
        in_channels: feature size.
        num_clusters: K (the experiment runner fills it with the number of classes when unset).
        out_channels: ``n_z``, the embedding size (10).
        hidden_channels: autoencoder hidden layer sizes (500, 500, 2000).
        order: r, the power of :math:`\\hat A` used for positives.
        top_k: keep at most this many positives per node and power (``None``: exact).
        tau: contrast temperature (1; the official ``--tau 1``).
        alpha, beta: weights of the contrast and of the KL term.
        nu: Student-t degrees of freedom (1 in DEC / SDCN).
        pretrain_epochs, pretrain_batch_size, pretrain_lr: autoencoder pretraining.
        pretrain_seed: seed of the pretraining (``None``: the run's seed, ``torch.initial_seed()``).
        kmeans_init: k-means restarts for the initial centres.
        center_init: ``'spherical'`` (default: k-means on the L2-normalised ``z``, centres = the
            clusters' means in ``z`` space) or ``'kmeans'`` (the papers: Euclidean k-means on ``z``).
            The contrast is cosine-based and the pretrained embeddings' norms vary widely, which
            misleads Euclidean k-means: over 8 DBLP pretraining seeds its ACC is 43.3 % on ``z`` and
            54.6 % on ``z / |z|``; SCGC* on DBLP (3 seeds) ends at 72.2 % instead of 64.4 %, on
            CiteSeer (seed 0) 70.3 % instead of 69.9 %, on ACM within noise.
        pretrain_restarts: R, the number of autoencoders pretrained (seeds ``seed + j * 100000``,
            ``j < R``; ``j = 0`` is the run's own pretraining). Each one's initial k-means partition is
            scored by its graph :func:`~graphcl.clustering.modularity` and the highest-scoring
            autoencoder is kept, a label-free guard against the pretraining seeds whose k-means
            partition misses the graph's communities. On ACM (10 seeds, 30 epochs) the partitions of
            modularity >= 0.35 start at 80-84 % ACC and end (SCGC*, oracle) at 92.7-93.1 %; those
            below 0.32 start at 71-78 % and end at 91.0-92.5 %. With R = 3, SCGC* (10 seeds, oracle
            mode) starts at 83.3 % ACC on ACM (single pretraining: 76.9 %) and reaches 92.63 ± 0.39 %
            (92.21 %); on CiteSeer it starts at 57.3 % (55.0 %) and reaches 70.90 ± 1.19 %
            (69.95 ± 2.98 %); on Cora 44.7 % (41.0 %) and 67.50 ± 2.84 % (66.36 ± 3.31 %).
            ``1``: the papers' single pretraining.
        checkpoint_rows: recompute the autoencoder's hidden layers in blocks of this many rows in
            the backward pass instead of storing them (see :class:`SDCNAutoencoder`); for large
            graphs. ``None``: store them.
        stop_tol: DEC's stopping rule (Xie et al., 2016): :meth:`converged` turns true once fewer
            than this fraction of the nodes changed :math:`\arg\max q` since the previous epoch,
            and the training loop stops. Label-free; ``None`` (default) trains every epoch. SCGC*
            on ACM (10 seeds, 30-epoch pretraining): 0.001 stops at 88.3 % ACC on average where
            epoch 200 gives 82.5 % (the test-label oracle: 92.2 %).
        batch_size: train on mini-batches of this many nodes instead of the whole graph: the
            target :math:`P` comes from a full pass at the start of each epoch; a batch's loss is
            :math:`\beta\,\mathrm{KL}(P_B \Vert Q_B)` plus the contrast of its nodes with their
            positives (encoded alongside; the encoder is node-wise): SCGC / SCGC*'s denominators
            run over the nodes encoded in the step, PamC's meta-nodes are the batch's
            (:math:`c_k = \sum_{i \in B} a_{ik} z_i`); SCGC's reconstruction is the batch's.
    """

    #: Whether the decoder and the reconstruction loss are used (SCGC).
    reconstruct: bool = False
    #: Whether positives are cumulative powers (IAC).
    cumulative: bool = True

    def __init__(self, in_channels: int, num_clusters: int = 2, out_channels: int = 10,
                 hidden_channels: Sequence[int] = (500, 500, 2000), order: int = 1, top_k: int | None = None,
                 tau: float = 1.0, alpha: float = 1.0, beta: float = 0.1, nu: float = 1.0, pretrain_epochs: int = 30,
                 pretrain_batch_size: int = 256, pretrain_lr: float = 1e-3, pretrain_seed: int | None = None,
                 pretrain_restarts: int = 1, kmeans_init: int = 20, center_init: str = "spherical",
                 checkpoint_rows: int | None = None, stop_tol: float | None = None,
                 batch_size: int | None = None) -> None:
        super().__init__()
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                       or batch_size < 2):
            raise InvalidArgumentError(f"batch_size (mini-batch training) needs at least 2 nodes per batch; got "
                                       f"batch_size={batch_size!r}")
        self.batch_size = batch_size
        self._batches: list[Tensor] = []
        self._target: Tensor | None = None
        if center_init not in ("kmeans", "spherical"):
            raise InvalidArgumentError(f"center_init must be 'kmeans' or 'spherical', got {center_init!r}")
        self.center_init = center_init
        if stop_tol is not None and not 0.0 <= stop_tol < 1.0:
            raise InvalidArgumentError(f"stop_tol must be a fraction in [0, 1) or None, got {stop_tol}")
        self.stop_tol = stop_tol
        if pretrain_restarts < 1:
            raise InvalidArgumentError(f"pretrain_restarts must be >= 1, got {pretrain_restarts}")
        self.pretrain_restarts = pretrain_restarts
        if num_clusters < 1:
            raise InvalidArgumentError(f"num_clusters must be >= 1, got {num_clusters}")
        if order < 1:
            raise InvalidArgumentError(f"order must be >= 1, got {order}")
        self.num_clusters, self.order, self.top_k = num_clusters, order, top_k
        self.alpha, self.beta, self.nu, self.tau = alpha, beta, nu, tau
        self.hidden_channels, self.out_channels = tuple(hidden_channels), out_channels
        self.pretrain = {"epochs": pretrain_epochs, "batch_size": pretrain_batch_size, "lr": pretrain_lr}
        self.pretrain_seed, self.kmeans_init = pretrain_seed, kmeans_init
        self.autoencoder = SDCNAutoencoder(in_channels, out_channels, hidden_channels, decoder=self.reconstruct,
                                           checkpoint_rows=checkpoint_rows)
        self.centers = nn.Parameter(torch.zeros(num_clusters, out_channels))
        self.kl = ClusteringKL()
        #: The structural positives (:class:`graphcl.losses.PositivePairs`), built by :meth:`setup`
        #: on the data's device.
        self.positives: PositivePairs | None = None
        #: Filled by :meth:`setup`: k-means clusters of the pretrained embeddings, pretraining losses
        #: (``None`` when loaded from the cache), and ``{pretraining seed: modularity}`` of every restart
        #: (empty with one restart).
        self.initial_clusters: Tensor | None = None
        self.pretrain_losses: list[float] | None = None
        self.restart_modularity: dict[int, float] = {}
        #: Q of the last :meth:`loss` call (before that step's update), detached ``[N, K]``.
        self.last_assignment: Tensor | None = None
        #: Fraction of nodes whose :math:`\arg\max q` changed between the last two :meth:`loss` calls.
        self.assignment_change: float | None = None

    def setup(self, data: Data) -> None:
        """Pretrain (or load) the autoencoder, place the centres by k-means, build the positives."""
        check_graph(data)
        if data.num_nodes < 2:
            raise InvalidGraphError(f"{self.name} contrasts nodes with each other: it needs at least 2 nodes, got "
                                    f"{data.num_nodes}")
        check_num_clusters(self.num_clusters, data.num_nodes)
        x = self._features(data)
        self.last_assignment, self.assignment_change = None, None
        seed = self.pretrain_seed if self.pretrain_seed is not None else torch.initial_seed() % 2 ** 32
        self.restart_modularity = {}
        best_score, chosen = -np.inf, None
        for restart in range(self.pretrain_restarts):
            restart_seed = seed + restart * _RESTART_SEED_STRIDE
            pretrained, losses = pretrained_autoencoder(x, seed=restart_seed, out_channels=self.out_channels,
                                                        hidden_channels=self.hidden_channels, **self.pretrain)
            with torch.no_grad():
                z = pretrained.encode(x).float().cpu().numpy()
            labels = self._initial_partition(z, restart_seed)
            score = 0.0
            if self.pretrain_restarts > 1:
                score = self.restart_modularity[restart_seed] = modularity(data.edge_index, labels, data.num_nodes)
                log.info("%s: pretraining seed %d, modularity of its k-means partition %.4f",
                         self.name, restart_seed, score)
            if score > best_score:
                best_score, chosen = score, (pretrained, losses, z, labels)
        pretrained, self.pretrain_losses, z, labels = chosen
        own = self.autoencoder.state_dict()
        self.autoencoder.load_state_dict({k: v for k, v in pretrained.state_dict().items() if k in own})
        centers = np.stack([z[labels == k].mean(0) for k in range(self.num_clusters)])  # non-empty: checked above
        self.centers.data.copy_(torch.as_tensor(centers, dtype=self.centers.dtype))
        self.initial_clusters = torch.as_tensor(labels)
        index, weight = adjacency_power(data.edge_index, data.num_nodes, self.order, self.cumulative, self.top_k)
        self.positives = PositivePairs.from_coo(index.to(data.x.device), weight.to(data.x.device), data.num_nodes)

    def _initial_partition(self, z: np.ndarray, seed: int) -> np.ndarray:
        """k-means clusters ``[N]`` of pretrained embeddings ``z [N, n_z]`` (see ``center_init``).

        Raises when the embeddings hold fewer distinct points than clusters (constant or repeated
        feature rows): k-means would leave clusters empty, their centres NaN.
        """
        points = z
        if self.center_init == "spherical":
            points = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
        distinct = np.unique(points, axis=0).shape[0] if len(points) else 0
        if distinct < self.num_clusters:
            raise InvalidGraphError(
                f"{self.name}: the pretrained embeddings of the {len(points)} nodes take only {distinct} distinct "
                f"values, fewer than the {self.num_clusters} clusters (the autoencoder embeds the node features: "
                "constant or repeated feature rows); give informative features or fewer clusters "
                "(--set num_clusters=K)")
        labels = KMeans(self.num_clusters, n_init=self.kmeans_init, random_state=seed).fit_predict(points)
        found = np.unique(labels).size
        if found < self.num_clusters:
            raise InvalidGraphError(f"{self.name}: k-means on the pretrained embeddings found {found} non-empty "
                                    f"clusters of the {self.num_clusters} asked for; give more informative features "
                                    "or fewer clusters (--set num_clusters=K)")
        return labels

    def _features(self, data: Data) -> Tensor:
        """The node features as the autoencoder's dtype (integer / float64 features converted)."""
        return float_features(data.x, parameter_dtype(self))

    def _check_ready(self) -> None:
        if self.positives is None:
            raise InvalidArgumentError(f"{self.name}: call setup(data) (the training loop does) before loss()")

    def soft_assignment(self, z: Tensor) -> Tensor:
        """Student-t soft assignment ``q [N, K]`` of embeddings ``z``."""
        return student_t_assignment(z, self.centers, self.nu)

    def contrast(self, z: Tensor, q: Tensor, pairs: PositivePairs, anchors: int | None = None) -> Tensor:
        """The structural contrast of ``z [M, n_z]`` with the positives ``pairs``; with ``anchors=B``
        only the first ``B`` rows (whose soft assignments ``q [B, K]`` are given) are anchors."""
        raise NotImplementedError

    def start_epoch(self, data: Data) -> int:
        if self.batch_size is None:
            return 1
        self._check_ready()
        with torch.no_grad():  # this epoch's target from every node's Q
            q = self.soft_assignment(self.autoencoder.encode(self._features(data)))
        if self.last_assignment is not None:
            self.assignment_change = float((q.argmax(1) != self.last_assignment.argmax(1)).float().mean())
        self.last_assignment, self._target = q, target_distribution(q)
        order = torch.randperm(data.num_nodes, device=q.device)
        self._batches = list(order.split(self.batch_size))
        return len(self._batches)

    def loss(self, data: Data) -> Tensor:
        if self.batch_size is not None:
            return self._batch_loss(data)
        self._check_ready()
        x = self._features(data)
        x_hat, z = self.autoencoder(x)
        q = self.soft_assignment(z)
        if self.last_assignment is not None:
            self.assignment_change = float((q.detach().argmax(1) != self.last_assignment.argmax(1)).float().mean())
        self.last_assignment = q.detach()
        p = target_distribution(self.last_assignment)  # refreshed every epoch, from this epoch's Q
        total = self.beta * self.kl(q, p) + self.alpha * self.contrast(z, q, self.positives)
        if self.reconstruct:
            total = total + F.mse_loss(x_hat, x)
        return total

    def _batch_loss(self, data: Data) -> Tensor:
        if not self._batches:
            raise InvalidArgumentError(f"{self.name}: call start_epoch(data) (the training loop does) before a "
                                       "mini-batch loss()")
        batch = self._batches.pop()
        pairs, nodes = self._batch_pairs(batch)
        x = self._features(data)[nodes]  # the batch first, then its positives' other ends
        x_hat, z = self.autoencoder(x) if self.reconstruct else (None, self.autoencoder.encode(x))
        size = batch.numel()
        q = self.soft_assignment(z[:size])
        total = self.beta * self.kl(q, self._target[batch]) + self.alpha * self.contrast(z, q, pairs, anchors=size)
        if self.reconstruct:
            total = total + F.mse_loss(x_hat[:size], x[:size])
        return total

    def _batch_pairs(self, batch: Tensor) -> tuple[PositivePairs, Tensor]:
        """The positives of the batch's nodes over local ids (the batch first, then the other ends
        of its pairs, each of those with only its self-pair) and the global ids of those nodes."""
        full = self.positives
        start, end = full.ptr[batch], full.ptr[batch + 1]
        counts = end - start
        offsets = torch.arange(int(counts.sum()), device=batch.device) - torch.repeat_interleave(
            torch.cumsum(counts, 0) - counts, counts)
        positions = torch.repeat_interleave(start, counts) + offsets
        rows = torch.repeat_interleave(torch.arange(batch.numel(), device=batch.device), counts)
        partners = full.index[1, positions]
        others = partners[~torch.isin(partners, batch)].unique()
        nodes = torch.cat([batch, others])
        ordered, order = nodes.sort()  # local ids by binary search: O(batch), no [N] map per step
        local = order[torch.searchsorted(ordered, partners)]
        extra = torch.arange(batch.numel(), nodes.numel(), device=batch.device)
        index = torch.cat([torch.stack([rows, local]), torch.stack([extra, extra])], dim=1)
        weight = torch.cat([full.weight[positions], torch.ones(extra.numel(), device=batch.device,
                                                               dtype=full.weight.dtype)])
        return PositivePairs.from_coo(index, weight, nodes.numel()), nodes

    def converged(self) -> bool:
        return (self.stop_tol is not None and self.assignment_change is not None
                and self.assignment_change < self.stop_tol)

    @torch.no_grad()
    def embed(self, data: Data) -> Tensor:
        with eval_mode(self):
            return self.autoencoder.encode(self._features(data)).detach()

    @torch.no_grad()
    def predict(self, data: Data) -> Tensor:
        """Cluster of every node: :math:`\\arg\\max_k q_{ik}` (as SCGC / PamC report). ``[N]``."""
        return self.soft_assignment(self.embed(data)).argmax(1)


@register_method("scgc")
class SCGC(DeepClustering):
    r"""SCGC: whole autoencoder, :math:`\beta\,\mathrm{KL} + \alpha\,\mathcal L_{NC}(\hat A^r) + \mathrm{MSE}`.

    See :class:`DeepClustering` for the arguments and :class:`graphcl.losses.NeighbourContrast`
    for the contrast (denominator over all nodes in row chunks of ``chunk_size``).

    Args:
        loss: the structural contrast as an object, called as ``loss(z, positives)`` with the
            embeddings ``z [N, n_z]`` and the :class:`~graphcl.losses.PositivePairs` (e.g.
            ``NeighbourContrast(0.5)``); replaces the one built from ``tau`` and ``chunk_size``.
    """

    reconstruct = True
    cumulative = False

    def __init__(self, in_channels: int, num_clusters: int = 2, chunk_size: int | None = None, *,
                 loss: nn.Module | None = None, **kwargs) -> None:
        super().__init__(in_channels, num_clusters, **kwargs)
        check_module(self.name, "loss", loss, "NeighbourContrast(0.5)")
        self.criterion = loss if loss is not None else NeighbourContrast(self.tau, chunk_size=chunk_size)
        _check_batch_loss(self.name, self.criterion, self.batch_size)

    def contrast(self, z: Tensor, q: Tensor, pairs: PositivePairs, anchors: int | None = None) -> Tensor:
        return self.criterion(z, pairs) if anchors is None else self.criterion(z, pairs, anchors=anchors)


@register_method("scgc-star")
class SCGCStar(SCGC):
    r"""SCGC*: encoder only, :math:`\beta\,\mathrm{KL} + \alpha\,\mathcal L_{IAC}(\sum_{k \le r} \hat A^k)`.

    Arguments as :class:`SCGC` (``loss=``: the structural contrast object).
    """

    reconstruct = False
    cumulative = True


@register_method("pamc")
class PamC(DeepClustering):
    r"""PamC: encoder only, :math:`\beta\,\mathrm{KL} + \alpha\,\mathcal L_{PamC}` with IAC positives.

    Args:
        assignment: ``'hard'`` (one-hot of the detached :math:`\arg\max q`, as the official code)
            or ``'soft'`` (:math:`Q` itself, differentiable, as the paper describes) meta-nodes.
        loss: the structural contrast as an object, called as ``loss(z, assignment, positives)``
            with the embeddings ``z [N, n_z]``, the meta-node assignment ``[N, K]`` and the
            :class:`~graphcl.losses.PositivePairs` (e.g. ``MetaNodeContrast(0.5)``); replaces the
            one built from ``tau``.
        **kwargs: see :class:`DeepClustering`.
    """

    cumulative = True

    def __init__(self, in_channels: int, num_clusters: int = 2, assignment: str = "hard", *,
                 loss: nn.Module | None = None, **kwargs) -> None:
        if assignment not in ("hard", "soft"):
            raise InvalidArgumentError(f"assignment must be 'hard' or 'soft', got {assignment!r}")
        super().__init__(in_channels, num_clusters, **kwargs)
        check_module(self.name, "loss", loss, "MetaNodeContrast(0.5)")
        self.assignment = assignment
        self.criterion = loss if loss is not None else MetaNodeContrast(self.tau)
        _check_batch_loss(self.name, self.criterion, self.batch_size)

    def contrast(self, z: Tensor, q: Tensor, pairs: PositivePairs, anchors: int | None = None) -> Tensor:
        a = F.one_hot(q.detach().argmax(1), self.num_clusters).to(z.dtype) if self.assignment == "hard" else q
        return self.criterion(z, a, pairs) if anchors is None else self.criterion(z, a, pairs, anchors=anchors)


def _check_batch_loss(name: str, criterion: nn.Module, batch_size: int | None) -> None:
    """Mini-batches need a contrast that takes ``anchors=`` (the batch, then its positives' other ends)."""
    if batch_size is not None and "anchors" not in inspect.signature(criterion.forward).parameters:
        raise InvalidArgumentError(f"{name}: batch_size (mini-batch training) needs a contrast that takes anchors= "
                                   f"(NeighbourContrast, MetaNodeContrast); {type(criterion).__name__} does not")
