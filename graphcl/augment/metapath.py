r"""Meta-paths on heterogeneous graphs: adjacency with path counts, PathSim, top-k neighbours.

A meta-path is a chain of edge types, e.g. paper -> author -> paper (PAP). Its adjacency among
the end nodes is the product of the relation matrices along the chain,

.. math::
    M_{\mathcal P} = A_{t_0 t_1} A_{t_1 t_2} \cdots A_{t_{l-1} t_l}, \qquad
    (M_{\mathcal P})_{ij} = \#\{\text{path instances from } i \text{ to } j\},

computed sparse by PyG's :class:`~torch_geometric.transforms.AddMetaPaths` (``weighted=True``
keeps the counts as ``edge_weight``); never a dense matrix. For a symmetric meta-path PathSim
(Sun et al., "PathSim: Meta Path-Based Top-K Similarity Search in Heterogeneous Information
Networks", VLDB 2011) scores two nodes by

.. math::
    s_{ij} = \frac{2\, M_{ij}}{M_{ii} + M_{jj}} \in [0, 1],

and HeCo / MEOW keep each node's top-k meta-path neighbours by such scores.

Meta-path contexts (MEOW's fine-grained view) are the intermediate nodes of a meta-path's
instances: for :math:`\mathcal P = t_0 t_1 \cdots t_l`, each prefix :math:`t_0 \cdots t_j`
(:math:`0 < j < l`) gives the binary incidence "start node reaches this :math:`t_j` node",
whose row means aggregate the intermediate nodes' features (e.g. APCPA: a target's papers, their
conferences, and the papers of those conferences).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.transforms import AddMetaPaths, BaseTransform
from torch_geometric.typing import EdgeType
from torch_geometric.utils import coalesce, scatter

from graphcl.errors import InvalidArgumentError

#: A meta-path as node types (``["paper", "author", "paper"]``) or as edge types.
MetaPath = Sequence[str] | Sequence[EdgeType]


def resolve_metapath(data: HeteroData, metapath: MetaPath) -> list[EdgeType]:
    """The edge types of ``metapath``, checked against ``data``.

    Args:
        data: the heterogeneous graph.
        metapath: node types (each consecutive pair must be joined by exactly one edge type) or
            edge types ``(source, relation, destination)``.

    Raises:
        InvalidArgumentError: an unknown node or edge type, an ambiguous node pair, or relations
            that do not chain (one's destination is not the next one's source).
    """
    as_node_types = all(isinstance(step, str) for step in metapath)
    if len(metapath) < (2 if as_node_types else 1):
        raise InvalidArgumentError(f"a meta-path needs at least two node types or one edge type, got {metapath!r}")
    if as_node_types:
        unknown = [t for t in metapath if t not in data.node_types]
        if unknown:
            raise InvalidArgumentError(f"meta-path {'-'.join(metapath)}: unknown node types {unknown}; "
                                       f"the graph has {data.node_types}")
        edge_types = []
        for source, dest in zip(metapath[:-1], metapath[1:]):
            between = [e for e in data.edge_types if e[0] == source and e[2] == dest]
            if len(between) != 1:
                found = "no edge type" if not between else f"several edge types {between}"
                raise InvalidArgumentError(f"meta-path {'-'.join(metapath)}: {found} from {source!r} to {dest!r}; "
                                           "give the meta-path as edge types (source, relation, destination)")
            edge_types.append(between[0])
    else:
        edge_types = [tuple(step) for step in metapath]
        unknown = [e for e in edge_types if e not in data.edge_types]
        if unknown:
            raise InvalidArgumentError(f"meta-path {edge_types}: unknown edge types {unknown}; the graph has "
                                       f"{data.edge_types}")
    for first, second in zip(edge_types[:-1], edge_types[1:]):
        if first[2] != second[0]:
            raise InvalidArgumentError(f"meta-path relations do not chain: {first} ends at {first[2]!r} but {second} "
                                       f"starts at {second[0]!r}")
    return edge_types


def metapath_adjacency(data: HeteroData, metapath: MetaPath) -> tuple[Tensor, Tensor]:
    """Sparse meta-path adjacency with path counts.

    Returns:
        ``(edge_index [2, E], count [E])``: every pair of end nodes joined by at least one path
        instance, with the number of instances (float). Self-pairs are kept (a node reaches itself
        through each of its neighbours), as in HeCo's and MEOW's matrices.
    """
    edge_types = resolve_metapath(data, metapath)
    if len(edge_types) == 1:
        index, count = torch.unique(data[edge_types[0]].edge_index, dim=1, return_counts=True)
        return index, count.float()
    minimal = HeteroData()
    for node_type in {t for e in edge_types for t in (e[0], e[2])}:
        minimal[node_type].num_nodes = data[node_type].num_nodes
    for edge_type in set(edge_types):
        minimal[edge_type].edge_index = data[edge_type].edge_index.contiguous()  # PyG's EdgeIndex needs it
    with warnings.catch_warnings():  # PyG's EdgeIndex builds beta sparse-CSR tensors and says so every time
        warnings.filterwarnings("ignore", message="Sparse (CSR tensor support|invariant checks)")
        out = AddMetaPaths([edge_types], weighted=True)(minimal)
    store = out[edge_types[0][0], "metapath_0", edge_types[-1][2]]
    return store.edge_index, store.edge_weight


def pathsim(edge_index: Tensor, count: Tensor, num_nodes: int) -> Tensor:
    r"""PathSim :math:`2 M_{ij} / (M_{ii} + M_{jj})` of every pair in a symmetric meta-path adjacency.

    Args:
        edge_index: ``[2, E]`` pairs of :func:`metapath_adjacency` (self-pairs included).
        count: ``[E]`` path counts.
        num_nodes: number of end nodes.

    Returns:
        ``[E]`` scores in [0, 1] (1 on the diagonal).
    """
    loop = edge_index[0] == edge_index[1]
    diagonal = scatter(count[loop], edge_index[0][loop], dim=0, dim_size=num_nodes, reduce="sum")
    denominator = diagonal[edge_index[0]] + diagonal[edge_index[1]]
    return torch.where(denominator > 0, 2 * count / denominator.clamp_min(1e-12), torch.zeros_like(count))


def top_k_per_node(edge_index: Tensor, score: Tensor, num_nodes: int, k: int) -> Tensor:
    """Positions of each source node's ``k`` highest-scoring pairs (all of them where it has fewer).

    Ties are broken by the smaller neighbour index, so the result is deterministic.

    Returns:
        ``[E']`` positions into ``edge_index`` / ``score``, sorted by source, then by descending
        score.
    """
    if k < 1:
        raise InvalidArgumentError(f"k must be >= 1, got {k}")
    source, target = edge_index
    # Sort by (source, -score, target): stable sorts, last key first.
    order = torch.argsort(target, stable=True)
    order = order[torch.argsort(-score[order], stable=True)]
    order = order[torch.argsort(source[order], stable=True)]
    start = torch.zeros(num_nodes + 1, dtype=torch.long, device=source.device)
    start[1:] = torch.cumsum(torch.bincount(source, minlength=num_nodes), 0)
    rank = torch.arange(order.numel(), device=source.device) - start[source[order]]
    return order[rank < k]


def metapath_contexts(data: HeteroData, metapath: MetaPath) -> list[tuple[str, Tensor]]:
    """The incidence of the start nodes with the nodes at every intermediate position of ``metapath``.

    Returns:
        For positions ``j = 1 .. l-1``: ``(node type t_j, edge_index [2, E_j])``, each pair a start
        node and a ``t_j`` node reachable along the prefix (binary, no duplicates; sorted by start).
    """
    edge_types = resolve_metapath(data, metapath)
    contexts = []
    for j in range(1, len(edge_types)):
        index, _ = metapath_adjacency(data, edge_types[:j])
        contexts.append((edge_types[j - 1][2], index))
    return contexts


def metapath_positives(data: HeteroData, metapaths: Sequence[MetaPath], num_positives: int) -> Tensor:
    """HeCo-style positive pairs: each start node, then its ``num_positives - 1`` nodes joined to it by
    the most meta-paths (ties: more path instances over all meta-paths, then the smaller index).

    HeCo ranks candidates by the number of meta-paths connecting the two nodes and keeps the top
    ``pos_num``; its shipped ``pos.npz`` breaks ties in an unrecorded order and does not always
    keep the node itself, so this rule (which always keeps it) matches it in spirit, not bit for bit.

    Returns:
        ``[2, P]`` pairs ``(i, j)``, sorted by ``i``; every start node has at least itself.
    """
    if num_positives < 1:
        raise InvalidArgumentError(f"num_positives must be >= 1, got {num_positives}")
    indices, scores = [], []
    for metapath in metapaths:
        index, count = metapath_adjacency(data, metapath)
        indices.append(index)
        if count.numel():  # connected: 1, tie-break by counts
            scores.append(1.0 + count / (count.max() * (len(metapaths) + 1)))
        else:  # no instance of this meta-path: no pair to score
            scores.append(count)
    n = data[resolve_metapath(data, metapaths[0])[0][0]].num_nodes
    loops = torch.arange(n, device=indices[0].device).repeat(2, 1)
    index, score = coalesce(torch.cat([*indices, loops], dim=1),
                            torch.cat([*scores, torch.full((n,), float(len(metapaths) + 1), device=loops.device)]),
                            n, reduce="sum")
    keep = top_k_per_node(index, score, n, num_positives)
    return index[:, keep]


class MetaPathAdjacency(BaseTransform):
    r"""Adds each meta-path's adjacency among its end nodes as an edge type with counts.

    For every ``name -> meta-path`` it adds the edge type ``(start, name, end)`` with
    ``edge_index`` and ``edge_weight`` (path counts), optionally cut to each node's ``top_k``
    neighbours by PathSim (symmetric meta-paths) and with ``pathsim`` scores stored. The input
    graph is not modified.

    Args:
        metapaths: ``{name: meta-path}``, each as node types or edge types.
        top_k: keep at most this many neighbours per node (by PathSim, then by index).
    """

    def __init__(self, metapaths: dict[str, MetaPath], top_k: int | None = None) -> None:
        self.metapaths, self.top_k = dict(metapaths), top_k

    def forward(self, data: HeteroData) -> HeteroData:
        out = data.clone()
        for name, metapath in self.metapaths.items():
            edge_types = resolve_metapath(data, metapath)
            start, end = edge_types[0][0], edge_types[-1][2]
            edge_index, count = metapath_adjacency(data, edge_types)
            store = out[start, name, end]
            if start == end:
                score = pathsim(edge_index, count, data[start].num_nodes)
                if self.top_k is not None:
                    keep = top_k_per_node(edge_index, score, data[start].num_nodes, self.top_k)
                    edge_index, count, score = edge_index[:, keep], count[keep], score[keep]
                store.pathsim = score
            elif self.top_k is not None:
                raise InvalidArgumentError(f"top_k needs a meta-path that starts and ends at the same type; {name} "
                                           f"goes from {start!r} to {end!r}")
            store.edge_index, store.edge_weight = edge_index, count
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self.metapaths)}, top_k={self.top_k})"


class MetaPathWalkFeatures(BaseTransform):
    r"""metapath2vec embeddings as node features (Dong, Chawla & Swami, "metapath2vec: Scalable
    Representation Learning for Heterogeneous Networks", KDD 2017), trained with PyG's
    :class:`~torch_geometric.nn.MetaPath2Vec`.

    ``walks_per_node`` walks of ``walk_length`` steps start at every node of the meta-path's first
    type and follow its relations cyclically (e.g. paper -> author -> paper -> reference -> paper);
    a skip-gram with ``num_negative_samples`` negatives per context window of ``context_size``
    nodes learns one ``embedding_dim`` vector per node,

    .. math::
        \mathcal L = -\sum_{(v, c)} \Big[\log \sigma(e_v^\top e_c)
                     + \sum_{n \sim \text{uniform}} \log \sigma(-e_v^\top e_n)\Big],

    for ``epochs`` passes with sparse Adam. The vectors become ``x`` of ``node_types`` (default:
    every type on the meta-path that has no features). This is the input MEOW / AdaMEOW feed on
    AMiner, whose official loader reads metapath2vec files (``feat_*.w1000.l100.npy``: 1,000 walks
    of length 100 per node) that are not distributed with the data. The input graph is not
    modified; the result depends only on the arguments (``seed`` seeds the walks and the
    initialisation).

    Args:
        metapath: node types (``["paper", "author", "paper", "reference", "paper"]``) or edge
            types; must start and end at the same type when ``walk_length`` exceeds it.
        node_types: the types that get the embeddings as ``x`` (replacing any features).
        embedding_dim, walk_length, context_size, walks_per_node, num_negative_samples: as in
            :class:`~torch_geometric.nn.MetaPath2Vec`.
        epochs, lr, batch_size: training passes over the start nodes, sparse Adam learning rate,
            start nodes per step.
        seed: random seed.
    """

    def __init__(self, metapath: MetaPath, node_types: Sequence[str] | None = None, *, embedding_dim: int = 64,
                 walk_length: int = 100, context_size: int = 7, walks_per_node: int = 10,
                 num_negative_samples: int = 5, epochs: int = 1, lr: float = 0.01, batch_size: int = 128,
                 seed: int = 0) -> None:
        for name, value in (("embedding_dim", embedding_dim), ("walk_length", walk_length),
                            ("context_size", context_size), ("walks_per_node", walks_per_node),
                            ("num_negative_samples", num_negative_samples), ("epochs", epochs),
                            ("batch_size", batch_size)):
            if int(value) < 1:
                raise InvalidArgumentError(f"{name} must be >= 1, got {value}")
        if context_size > walk_length + 1:
            raise InvalidArgumentError(f"context_size {context_size} exceeds walk_length + 1 = {walk_length + 1}")
        self.metapath, self.node_types = list(metapath), None if node_types is None else list(node_types)
        self.embedding_dim, self.walk_length, self.context_size = embedding_dim, walk_length, context_size
        self.walks_per_node, self.num_negative_samples = walks_per_node, num_negative_samples
        self.epochs, self.lr, self.batch_size, self.seed = epochs, lr, batch_size, seed

    def _edge_types(self, data: HeteroData) -> list[EdgeType]:
        edge_types = resolve_metapath(data, self.metapath)
        if self.walk_length > len(edge_types) and edge_types[0][0] != edge_types[-1][2]:
            raise InvalidArgumentError(f"walks of {self.walk_length} steps repeat the meta-path, so it must start and "
                                       f"end at the same node type; {self.metapath!r} does not")
        return edge_types

    def target_types(self, data: HeteroData) -> list[str]:
        """The node types that get ``x``: ``node_types``, or those on the meta-path without features."""
        edge_types = self._edge_types(data)
        on_path = sorted({t for edge_type in edge_types for t in (edge_type[0], edge_type[2])})
        targets = self.node_types if self.node_types is not None else [t for t in on_path if "x" not in data[t]]
        missing = [t for t in targets if t not in on_path]
        if missing:
            raise InvalidArgumentError(f"node types {missing} are not on the meta-path {self.metapath!r}, so its walks "
                                       "never visit them")
        return targets

    def forward(self, data: HeteroData) -> HeteroData:
        from torch_geometric.nn import MetaPath2Vec

        edge_types, targets = self._edge_types(data), self.target_types(data)
        on_path = {t for edge_type in edge_types for t in (edge_type[0], edge_type[2])}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = MetaPath2Vec({et: data[et].edge_index.cpu() for et in set(edge_types)}, self.embedding_dim,
                                 edge_types, self.walk_length, self.context_size, self.walks_per_node,
                                 self.num_negative_samples, {t: data[t].num_nodes for t in on_path}, sparse=True)
            optimizer = torch.optim.SparseAdam(list(model.parameters()), lr=self.lr)
            for _ in range(self.epochs):
                for positive, negative in model.loader(batch_size=self.batch_size, shuffle=True):
                    optimizer.zero_grad()
                    model.loss(positive, negative).backward()
                    optimizer.step()
            with torch.no_grad():
                embeddings = {t: model(t).clone() for t in targets}
        out = data.clone()
        for t, x in embeddings.items():
            out[t].x = x.to(data[edge_types[0]].edge_index.device)
        return out

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.metapath!r}, dim={self.embedding_dim}, walks={self.walks_per_node}x"
                f"{self.walk_length}, epochs={self.epochs})")
