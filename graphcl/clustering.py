r"""k-means and modularity: the clustering used while training (MEOW's per-step clusterings, the
deep clustering methods' initial centres and pretraining restarts) and by the evaluation
(:mod:`graphcl.eval`), in one place.

* :func:`fit_kmeans`: the one k-means entry point (scikit-learn on CPU up to
  :data:`SKLEARN_MAX_POINTS` points, else :func:`kmeans_torch` on the data's device);
  :func:`kmeans` its labels as numpy.
* :func:`modularity`: Newman's modularity of a partition, a label-free score of how well the
  clusters follow the graph's communities.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.cluster import KMeans
from torch import Tensor
from torch_geometric.utils import remove_self_loops, to_undirected

from graphcl.checks import check_num_clusters
from graphcl.errors import InvalidArgumentError

__all__ = ["KMeansResult", "SKLEARN_MAX_POINTS", "fit_kmeans", "kmeans", "kmeans_torch", "modularity"]


#: ``fit_kmeans(backend="auto")`` uses scikit-learn up to this many points on the CPU, torch above.
SKLEARN_MAX_POINTS = 50_000


@dataclass
class KMeansResult:
    """Cluster ids ``labels [N]`` (int64), ``centroids [K, d]`` and the inertia (sum of squared
    distances; with ``metric="inner_product"`` minus the sum of similarities to the centroids)."""
    labels: Tensor
    centroids: Tensor
    inertia: float


def _pairwise_sq_dist(x: Tensor, c: Tensor) -> Tensor:
    return ((x * x).sum(1, keepdim=True) - 2 * x @ c.t() + (c * c).sum(1)[None]).clamp_min_(0)


def _nearest(x: Tensor, c: Tensor, chunk: int, metric: str = "euclidean") -> tuple[Tensor, Tensor]:
    """Index of and cost to the nearest centroid, in row chunks of ``x``: the squared distance, or
    with ``metric="inner_product"`` the centroid of largest inner product and minus that product."""
    labels = torch.empty(x.size(0), dtype=torch.long, device=x.device)
    dist = torch.empty(x.size(0), dtype=x.dtype, device=x.device)
    for start in range(0, x.size(0), chunk):
        rows = x[start:start + chunk]
        if metric == "euclidean":
            dist[start:start + chunk], labels[start:start + chunk] = _pairwise_sq_dist(rows, c).min(1)
        else:
            best, labels[start:start + chunk] = (rows @ c.t()).max(1)
            dist[start:start + chunk] = -best
    return labels, dist


def _check_init(init: str, metric: str = "euclidean") -> None:
    if init not in ("k-means++", "random"):
        raise InvalidArgumentError(f"init must be 'k-means++' or 'random', got {init!r}")
    if metric not in ("euclidean", "inner_product"):
        raise InvalidArgumentError(f"metric must be 'euclidean' or 'inner_product', got {metric!r}")


def _kmeans_plus_plus(x: Tensor, num_clusters: int, g: torch.Generator, chunk_size: int) -> Tensor:
    """k-means++ seeding: each next centre drawn with probability proportional to D(x)^2."""
    first = int(torch.randint(x.size(0), (1,), generator=g))
    centres = [x[first]]
    _, d2 = _nearest(x, x[first:first + 1], chunk_size)
    for _ in range(1, num_clusters):
        probs = (d2 / d2.sum()).cpu() if float(d2.sum()) > 0 else torch.full((x.size(0),), 1.0 / x.size(0))
        pick = int(torch.multinomial(probs, 1, generator=g))
        centres.append(x[pick])
        d2 = torch.minimum(d2, _pairwise_sq_dist(x, x[pick:pick + 1]).squeeze(1))
    return torch.stack(centres)


def kmeans_torch(x: Tensor, num_clusters: int, n_init: int = 3, seed: int = 0, max_iter: int = 300,
                 tol: float = 1e-4, chunk_size: int = 65_536, init: str = "k-means++",
                 metric: str = "euclidean") -> KMeansResult:
    r"""Lloyd's k-means in torch on ``x``'s device: k-means++ seeding (``init='random'``: ``K``
    distinct random points, as faiss), ``n_init`` restarts, the restart with the lowest inertia
    kept; distances in row chunks (memory ``O(chunk K)``).

    ``metric="inner_product"`` assigns each point to the centroid of largest inner product (the
    centroids stay plain means, not normalised), as faiss's ``Clustering`` with an
    ``IndexFlatIP``, which PCL-style code (MEOW's ``run_kmeans``) uses; the restart with the largest
    sum of similarities is kept.

    Stops when the centroids move by less than ``tol`` times the data's mean variance (as
    scikit-learn). An emptied cluster is re-seeded at the point farthest from its centroid.

    Shapes: ``x [N, d]`` -> labels ``[N]``, centroids ``[K, d]``.
    """
    check_num_clusters(num_clusters, x.size(0))
    _check_init(init, metric)
    x = x.detach().float()
    g = torch.Generator(device="cpu").manual_seed(seed)
    threshold = tol * float(x.var(0).mean())
    best: KMeansResult | None = None
    for _ in range(n_init):
        if init == "random":
            c = x[torch.randperm(x.size(0), generator=g)[:num_clusters].to(x.device)]
        else:
            c = _kmeans_plus_plus(x, num_clusters, g, chunk_size)
        for _ in range(max_iter):
            labels, dist = _nearest(x, c, chunk_size, metric)
            counts = torch.bincount(labels, minlength=num_clusters)
            sums = torch.zeros_like(c).index_add_(0, labels, x)
            new = sums / counts.clamp_min(1)[:, None]
            empty = torch.nonzero(counts == 0).flatten()
            if empty.numel():  # re-seed at the points farthest from their centroids, one per empty cluster
                new[empty] = x[dist.topk(empty.numel()).indices]
            shift = float(((new - c) ** 2).sum())
            c = new
            if shift <= threshold:
                break
        labels, dist = _nearest(x, c, chunk_size, metric)
        result = KMeansResult(labels, c, float(dist.sum()))
        if best is None or result.inertia < best.inertia:
            best = result
    return best


def fit_kmeans(embeddings: Tensor, num_clusters: int, n_init: int = 10, seed: int = 0,
               backend: str = "auto", init: str = "k-means++", max_iter: int = 300,
               metric: str = "euclidean") -> KMeansResult:
    """k-means, the one entry point: scikit-learn (``n_init`` restarts) for CPU data up to
    :data:`SKLEARN_MAX_POINTS` points, :func:`kmeans_torch` on the data's device otherwise.

    Args:
        backend: ``"auto"``, ``"sklearn"`` or ``"torch"``.
        init: ``"k-means++"`` (default) or ``"random"`` (``K`` distinct data points, faiss's
            seeding; with ``max_iter=20`` the per-epoch k-means of PCL / MEOW, 10x faster than
            k-means++ to convergence at K = 1,200).
        max_iter: Lloyd iterations per restart at most.
        metric: ``"euclidean"``, or ``"inner_product"`` (assignment by largest inner product, as
            faiss with an inner-product index; torch only).

    Returns:
        :class:`KMeansResult` on the device of ``embeddings``.
    """
    x = embeddings if isinstance(embeddings, Tensor) else torch.as_tensor(np.asarray(embeddings))
    if x.dim() != 2:
        raise InvalidArgumentError(f"embeddings must be [N, d], got shape {tuple(x.shape)}")
    check_num_clusters(num_clusters, x.size(0))
    if not torch.isfinite(x).all():
        raise InvalidArgumentError("embeddings hold NaN or Inf; the encoder diverged (lower the learning rate)")
    if backend not in ("auto", "sklearn", "torch"):
        raise InvalidArgumentError(f"backend must be auto, sklearn or torch, got {backend!r}")
    _check_init(init, metric)
    if metric != "euclidean" and backend == "sklearn":
        raise InvalidArgumentError(f"scikit-learn's k-means is Euclidean only; use backend='torch' for metric={metric!r}")
    if (backend == "torch" or metric != "euclidean"
            or (backend == "auto" and (x.device.type != "cpu" or x.size(0) > SKLEARN_MAX_POINTS))):
        return kmeans_torch(x, num_clusters, n_init=n_init, seed=seed, init=init, max_iter=max_iter, metric=metric)
    model = KMeans(num_clusters, init=init, n_init=n_init, max_iter=max_iter,
                   random_state=seed).fit(x.detach().cpu().float().numpy())
    return KMeansResult(torch.as_tensor(model.labels_, dtype=torch.long, device=x.device),
                        torch.as_tensor(model.cluster_centers_, dtype=torch.float32, device=x.device),
                        float(model.inertia_))


def kmeans(embeddings, num_clusters: int, n_init: int = 10, seed: int = 0) -> np.ndarray:
    """Cluster ids ``[N]`` (numpy) of :func:`fit_kmeans`."""
    return fit_kmeans(embeddings, num_clusters, n_init=n_init, seed=seed).labels.cpu().numpy()


def modularity(edge_index: Tensor, labels, num_nodes: int | None = None) -> float:
    r"""Newman's modularity of a partition of a graph (Newman & Girvan, Phys. Rev. E 69, 2004).

    .. math::
        Q = \sum_c \Big[\frac{L_c}{m} - \Big(\frac{d_c}{2m}\Big)^2\Big]

    on the symmetrised, unweighted graph without self-loops: ``m`` edges, ``L_c`` of them inside
    cluster ``c``, ``d_c`` the total degree of its nodes. Label-free, in ``[-1/2, 1)``; higher
    means the clusters follow the graph's communities. Shapes: ``edge_index [2, E]``,
    ``labels [N]`` (cluster ids ``>= 0``).
    """
    labels = torch.as_tensor(labels, dtype=torch.long).cpu()
    if labels.dim() != 1 or (labels.numel() and labels.min() < 0):
        raise InvalidArgumentError("labels must be a [N] vector of cluster ids >= 0")
    num_nodes = labels.numel() if num_nodes is None else num_nodes
    if labels.numel() != num_nodes:
        raise InvalidArgumentError(f"labels has {labels.numel()} entries for a graph of {num_nodes} nodes")
    edge_index = remove_self_loops(to_undirected(edge_index.cpu(), num_nodes=num_nodes))[0]
    if edge_index.size(1) == 0:
        raise InvalidArgumentError("modularity needs a graph with at least one edge (besides self-loops)")
    row, col = edge_index  # each undirected edge twice
    two_m = float(edge_index.size(1))
    inside = float((labels[row] == labels[col]).sum()) / two_m
    cluster_degree = torch.bincount(labels[row]).double()  # each edge end counts once towards its node's cluster
    return inside - float(((cluster_degree / two_m) ** 2).sum())
