"""Augmenters: input never mutated, torch-seed reproducibility, statistical invariants, GCA formulas."""
from __future__ import annotations

import copy
import functools
import pickle

import networkx as nx
import numpy as np
import pytest
import torch
import torch_geometric.transforms as T
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Data, HeteroData
from torch_geometric.utils import (barabasi_albert_graph, erdos_renyi_graph, is_undirected, stochastic_blockmodel_graph,
                                   to_networkx)

import graphcl.augment.centrality as C
from graphcl.augment import (AdaptiveDropEdge, AdaptiveMaskFeature, AddEdge, Compose, DropEdge, DropNode,
                             DropoutFeature, GaussianNoise, MaskFeature, RandomChoice, RandomWalkSubgraph,
                             random_walk)
from graphcl.augment.node import _to_csr
from graphcl.errors import InvalidArgumentError, InvalidGraphError


# --------------------------------------------------------------------------------------------- helpers

def make_graph(num_nodes: int = 300, edge_prob: float = 0.03, num_features: int = 64, seed: int = 0,
               sbm: bool = False) -> Data:
    """A seeded undirected random graph with features, labels, a mask and edge attributes (fresh copy)."""
    return _cached_graph(num_nodes, edge_prob, num_features, seed, sbm).clone()


@functools.lru_cache(maxsize=None)
def _cached_graph(num_nodes: int, edge_prob: float, num_features: int, seed: int, sbm: bool) -> Data:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if sbm:
            sizes = [num_nodes // 3, num_nodes // 3, num_nodes - 2 * (num_nodes // 3)]
            probs = [[0.1, 0.01, 0.01], [0.01, 0.08, 0.01], [0.01, 0.01, 0.06]]
            edge_index = stochastic_blockmodel_graph(sizes, probs)
        else:
            edge_index = erdos_renyi_graph(num_nodes, edge_prob)
        num_edges = edge_index.size(1)
        # a sparse, non-negative bag-of-words-like x (some exact zeros) and an all-positive dense one
        x = torch.rand(num_nodes, num_features) * (torch.rand(num_nodes, num_features) < 0.3)
        return Data(
            x=x,
            x_dense=torch.rand(num_nodes, num_features) + 0.1,
            edge_index=edge_index,
            edge_weight=torch.rand(num_edges),
            edge_attr=torch.randn(num_edges, 3),
            y=torch.randint(0, 4, (num_nodes,)),
            train_mask=torch.rand(num_nodes) < 0.5,
        )


def snapshot(data: Data) -> dict:
    return {k: (v.clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v)) for k, v in data}


def assert_unchanged(data: Data, snap: dict, ids: dict) -> None:
    assert set(data.keys()) == set(snap.keys())
    for k, v in snap.items():
        now = data[k]
        if isinstance(v, torch.Tensor):
            assert now is ids[k], f"attribute {k} was replaced on the input"
            assert now.dtype == v.dtype and torch.equal(now, v), f"attribute {k} was modified in place"
        else:
            assert now == v


def data_equal(a: Data, b: Data) -> bool:
    if set(a.keys()) != set(b.keys()):
        return False
    for k, v in a:
        w = b[k]
        if isinstance(v, torch.Tensor):
            if not (isinstance(w, torch.Tensor) and v.shape == w.shape and torch.equal(v, w)):
                return False
        elif v != w:
            return False
    return True


def edge_set(edge_index: torch.Tensor) -> set:
    return set(map(tuple, edge_index.t().tolist()))


def edge_lookup(edge_index: torch.Tensor, values: torch.Tensor) -> dict:
    return {e: values[i] for i, e in enumerate(map(tuple, edge_index.t().tolist()))}


def edge_positions(edge_index: torch.Tensor, of: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Position in `edge_index` (no duplicates) of every edge of `of`, -1 where absent (vectorised)."""
    key = edge_index[0] * num_nodes + edge_index[1]
    order = key.argsort()
    q = of[0] * num_nodes + of[1]
    pos = torch.searchsorted(key[order], q).clamp(max=key.numel() - 1)
    found = key[order][pos] == q
    return torch.where(found, order[pos], torch.full_like(q, -1))


class SetFlag(T.BaseTransform):
    """Marks that it ran (for RandomChoice tests)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def forward(self, data: Data) -> Data:
        order = data.order + [self.name] if "order" in data else [self.name]
        data.order = order
        return data

    def __repr__(self) -> str:
        return f"SetFlag({self.name!r})"


def all_augmenters():
    return [
        DropEdge(0.3), DropEdge(0.3, force_undirected=True),
        AddEdge(0.3), AddEdge(0.3, force_undirected=True),
        AdaptiveDropEdge(0.3, "degree"), AdaptiveDropEdge(0.3, "pagerank"), AdaptiveDropEdge(0.3, "evc"),
        MaskFeature(0.3), DropoutFeature(0.3), GaussianNoise(0.5),
        AdaptiveMaskFeature(0.3, "degree"), AdaptiveMaskFeature(0.3, "pagerank"),
        AdaptiveMaskFeature(0.3, "evc", dense=True),
        DropNode(0.3), RandomWalkSubgraph(5, walk_length=4), RandomWalkSubgraph(root_ratio=0.05, walk_length=3),
        RandomChoice([DropEdge(0.3), MaskFeature(0.3), DropNode(0.2)], num_choices=2),
        Compose([AdaptiveMaskFeature(0.3), AdaptiveDropEdge(0.3), DropNode(0.1)]),
    ]


AUGMENTERS = all_augmenters()
IDS = [repr(a).replace("\n", "") for a in AUGMENTERS]


# --------------------------------------------------------------------------------------------- generic

@pytest.mark.parametrize("aug", AUGMENTERS, ids=IDS)
def test_input_untouched(aug):
    data = make_graph()
    snap, ids = snapshot(data), {k: v for k, v in data}
    for seed in range(3):
        torch.manual_seed(seed)
        out = aug(data)
        assert out is not data
        assert_unchanged(data, snap, ids)


@pytest.mark.parametrize("aug", AUGMENTERS, ids=IDS)
def test_reproducible_with_torch_seed(aug):
    data = make_graph()
    torch.manual_seed(123)
    a = aug(data)
    torch.manual_seed(123)
    b = aug(data)
    assert data_equal(a, b)
    torch.manual_seed(124)
    c = aug(data)
    assert not data_equal(a, c)
    # a fresh augmenter (cold cache) gives the same view as a warm one
    torch.manual_seed(123)
    assert data_equal(a, copy.deepcopy(aug)(data))


@pytest.mark.parametrize("aug", AUGMENTERS, ids=IDS)
def test_graph_without_edges(aug):
    data = Data(x=torch.rand(20, 8) + 0.1, edge_index=torch.empty((2, 0), dtype=torch.long),
                edge_weight=torch.empty(0), y=torch.arange(20))
    torch.manual_seed(0)
    out = aug(data)
    assert out.edge_index.size(1) == 0
    assert out.edge_weight.numel() == 0
    assert out.x.size(0) == out.num_nodes >= 1


@pytest.mark.parametrize("aug", AUGMENTERS, ids=IDS)
def test_repr_shows_parameters(aug):
    text = repr(aug)
    assert type(aug).__name__ in text
    if hasattr(aug, "p"):
        assert f"p={aug.p}" in text


@pytest.mark.parametrize("aug", AUGMENTERS, ids=IDS)
def test_picklable(aug):
    data = make_graph(num_nodes=60, edge_prob=0.1)
    aug(data)  # warm the caches: they must not travel
    clone = pickle.loads(pickle.dumps(aug))
    torch.manual_seed(5)
    a = aug(data)
    torch.manual_seed(5)
    assert data_equal(a, clone(data))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("aug", AUGMENTERS, ids=IDS)
def test_keeps_device(aug):
    data = make_graph().to("cuda")
    torch.manual_seed(0)
    out = aug(data)
    for key, value in out:
        if isinstance(value, torch.Tensor):
            assert value.device.type == "cuda", key
    torch.manual_seed(0)
    assert data_equal(out, aug(data))


def test_heterodata_and_missing_features_rejected():
    hetero = HeteroData()
    hetero["a"].x = torch.rand(3, 2)
    with pytest.raises(InvalidGraphError, match="HeteroData"):
        DropEdge(0.1)(hetero)
    no_x = Data(edge_index=torch.tensor([[0, 1], [1, 0]]), num_nodes=2)
    for aug in (MaskFeature(0.1), DropoutFeature(0.1), GaussianNoise(0.1), AdaptiveMaskFeature(0.1)):
        with pytest.raises(InvalidGraphError, match="features"):
            aug(no_x)
    with pytest.raises(InvalidGraphError, match="floating"):
        GaussianNoise(0.1)(Data(x=torch.ones(3, 2, dtype=torch.long), num_nodes=3))
    with pytest.raises(InvalidGraphError, match="edge_index"):
        AdaptiveDropEdge(0.1)(Data(x=torch.rand(3, 2)))
    with pytest.raises(InvalidGraphError, match="outside"):
        AdaptiveDropEdge(0.1)(Data(x=torch.rand(3, 2), edge_index=torch.tensor([[0, 1], [1, 7]])))


BAD_ARGS = [
    lambda: DropEdge(-0.1), lambda: DropEdge(1.5), lambda: DropEdge("0.3"), lambda: DropEdge(float("nan")),
    lambda: DropEdge(True),
    lambda: AddEdge(1.01), lambda: AddEdge(-1),
    lambda: AdaptiveDropEdge(0.3, "closeness"), lambda: AdaptiveDropEdge(0.3, threshold=1.2),
    lambda: AdaptiveDropEdge(-0.3), lambda: AdaptiveDropEdge(0.3, "pagerank", pagerank_iterations=0),
    lambda: MaskFeature(-1), lambda: DropoutFeature(2.0), lambda: GaussianNoise(-0.1),
    lambda: GaussianNoise(float("inf")),
    lambda: AdaptiveMaskFeature(0.3, "betweenness"), lambda: AdaptiveMaskFeature(0.3, threshold=-0.1),
    lambda: DropNode(1.0), lambda: DropNode(-0.2),
    lambda: RandomWalkSubgraph(), lambda: RandomWalkSubgraph(3, root_ratio=0.1), lambda: RandomWalkSubgraph(0),
    lambda: RandomWalkSubgraph(2, walk_length=-1), lambda: RandomWalkSubgraph(root_ratio=0.0),
    lambda: RandomWalkSubgraph(root_ratio=1.5), lambda: RandomWalkSubgraph(2.5),
    lambda: RandomChoice([]), lambda: RandomChoice([DropEdge()], num_choices=2),
    lambda: RandomChoice([DropEdge()], num_choices=0), lambda: RandomChoice([DropEdge(), 3]),
    lambda: RandomChoice([DropEdge(), MaskFeature()], weights=[1.0]),
    lambda: RandomChoice([DropEdge(), MaskFeature()], weights=[1.0, -1.0]),
    lambda: RandomChoice([DropEdge(), MaskFeature()], num_choices=2, weights=[1.0, 0.0]),
]


@pytest.mark.parametrize("make", BAD_ARGS, ids=range(len(BAD_ARGS)))
def test_bad_arguments(make):
    with pytest.raises(InvalidArgumentError):
        make()


# --------------------------------------------------------------------------------------------- edges

def test_drop_edge_subset_fraction_and_attributes():
    data = make_graph(num_nodes=2000, edge_prob=0.005, num_features=4)
    E = data.num_edges
    torch.manual_seed(0)
    out = DropEdge(0.3)(data)
    pos = edge_positions(data.edge_index, out.edge_index, data.num_nodes)
    assert bool((pos >= 0).all()) and pos.unique().numel() == pos.numel()  # a subset, no duplicates
    assert abs(1 - out.num_edges / E - 0.3) < 0.02
    assert torch.equal(out.edge_weight, data.edge_weight[pos]) and torch.equal(out.edge_attr, data.edge_attr[pos])
    assert torch.equal(out.x, data.x) and out.num_nodes == data.num_nodes
    torch.manual_seed(0)
    assert DropEdge(0.0)(data).num_edges == E and DropEdge(1.0)(data).num_edges == 0


def test_drop_edge_force_undirected():
    data = make_graph(num_nodes=2000, edge_prob=0.005, num_features=4)
    # make the attributes symmetric so that both directions must carry the same value
    lo = torch.minimum(data.edge_index[0], data.edge_index[1])
    hi = torch.maximum(data.edge_index[0], data.edge_index[1])
    data.edge_weight = ((lo * 7919 + hi) % 1000).float()
    torch.manual_seed(1)
    out = DropEdge(0.4, force_undirected=True)(data)
    assert is_undirected(out.edge_index, num_nodes=out.num_nodes)
    assert edge_set(out.edge_index) <= edge_set(data.edge_index)
    assert abs(1 - out.num_edges / data.num_edges - 0.4) < 0.03
    u, v = out.edge_index
    assert torch.equal(out.edge_weight, ((torch.minimum(u, v) * 7919 + torch.maximum(u, v)) % 1000).float())
    # self-loops are kept or dropped once, never duplicated
    loops = Data(edge_index=torch.tensor([[0, 1, 1, 2, 2], [0, 2, 1, 1, 2]]), num_nodes=3)
    torch.manual_seed(0)
    for _ in range(20):
        ei = DropEdge(0.3, force_undirected=True)(loops).edge_index
        assert ei.size(1) == len(edge_set(ei))


def test_add_edge_keeps_originals_and_adds_new_ones():
    data = make_graph(num_nodes=500, edge_prob=0.02, num_features=4)
    E, N = data.num_edges, data.num_nodes
    torch.manual_seed(0)
    out = AddEdge(0.3)(data)
    assert torch.equal(out.edge_index[:, :E], data.edge_index)
    assert torch.equal(out.edge_weight[:E], data.edge_weight) and torch.equal(out.edge_attr[:E], data.edge_attr)
    new = out.edge_index[:, E:]
    assert new.size(1) == round(0.3 * E)
    assert int(new.min()) >= 0 and int(new.max()) < N
    assert bool((new[0] != new[1]).all())
    assert len(edge_set(new)) == new.size(1) and not edge_set(new) & edge_set(data.edge_index)
    assert bool((out.edge_weight[E:] == 1).all()) and bool((out.edge_attr[E:] == 0).all())
    # uniform over non-edges: both endpoints spread over the node range
    assert new.float().mean() == pytest.approx((N - 1) / 2, rel=0.1)


def test_add_edge_force_undirected_and_nearly_complete_graph():
    data = make_graph(num_nodes=500, edge_prob=0.02, num_features=4)
    E = data.num_edges
    torch.manual_seed(0)
    out = AddEdge(0.3, force_undirected=True)(data)
    assert is_undirected(out.edge_index)
    assert out.num_edges - E == 2 * (round(0.3 * E) // 2)
    assert not edge_set(out.edge_index[:, E:]) & edge_set(data.edge_index)
    # complete graph on 5 nodes minus one pair (both directions): at most that pair can be added
    full = torch.tensor([(i, j) for i in range(5) for j in range(5) if i != j and {i, j} != {0, 1}]).t()
    g = Data(edge_index=full, num_nodes=5)
    for und in (False, True):
        new = AddEdge(1.0, force_undirected=und)(g).edge_index[:, full.size(1):]
        assert edge_set(new) == {(0, 1), (1, 0)}


def test_adaptive_drop_edge_matches_gca_degree_formula():
    # a small undirected graph: star centred at 0 plus a path 4-5-6
    und = [(0, 1), (0, 2), (0, 3), (0, 4), (4, 5), (5, 6)]
    edge_index = torch.tensor(und + [(v, u) for u, v in und]).t()
    data = Data(edge_index=edge_index, num_nodes=7)
    p, thr = 0.4, 0.7
    deg = np.zeros(7)
    for u, v in und:
        deg[u] += 1
        deg[v] += 1
    s = np.log(deg[edge_index[1].numpy()] + 1)
    w = (s.max() - s) / (s.max() - s.mean())
    expected = np.minimum(w / w.mean() * p, thr)
    got = AdaptiveDropEdge(p, "degree", threshold=thr).drop_probability(data)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-7)
    assert float(got.max()) <= thr + 1e-7
    assert float(got[edge_index[1] == 0].max()) == 0.0  # edges into the hub are never dropped


@pytest.mark.parametrize("centrality", ["degree", "pagerank", "evc"])
def test_adaptive_drop_edge_prefers_low_centrality_edges(centrality):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        edge_index = barabasi_albert_graph(400, 3)
    data = Data(edge_index=edge_index, num_nodes=400)
    aug = AdaptiveDropEdge(0.3, centrality, threshold=0.7)
    prob = aug.drop_probability(data)
    assert float(prob.max()) <= 0.7 + 1e-6 and float(prob.min()) >= 0
    assert float(prob.mean()) <= 0.3 + 1e-5  # mean is p before clipping; clipping only lowers it
    deg = torch.bincount(edge_index[1], minlength=400)
    target_deg = deg[edge_index[1]]
    hub = target_deg >= torch.quantile(target_deg.float(), 0.9)
    leaf = target_deg <= torch.quantile(target_deg.float(), 0.3)
    torch.manual_seed(0)
    kept = torch.zeros(edge_index.size(1))
    runs = 100
    for _ in range(runs):
        kept[edge_positions(edge_index, aug(data).edge_index, 400)] += 1
    freq = 1 - kept / runs
    assert float(freq[leaf].mean()) > float(freq[hub].mean()) + 0.1
    assert float(freq.mean()) == pytest.approx(float(prob.mean()), abs=0.02)


def test_adaptive_drop_edge_keeps_edge_attributes_aligned():
    data = make_graph()
    weights = edge_lookup(data.edge_index, data.edge_weight)
    torch.manual_seed(0)
    out = AdaptiveDropEdge(0.5)(data)
    assert out.num_edges < data.num_edges
    assert all(out.edge_weight[i] == weights[e] for i, e in enumerate(map(tuple, out.edge_index.t().tolist())))


def test_adaptive_uniform_limit_when_centrality_is_constant():
    ring = torch.tensor([[i, (i + 1) % 10] for i in range(10)] + [[(i + 1) % 10, i] for i in range(10)]).t()
    data = Data(x=(torch.rand(10, 6) > 0.5).float(), edge_index=ring, num_nodes=10)
    prob = AdaptiveDropEdge(0.3).drop_probability(data)
    assert torch.allclose(prob, torch.full_like(prob, 0.3))
    data.x = torch.ones(10, 6)
    fprob = AdaptiveMaskFeature(0.9, threshold=0.7).drop_probability(data)
    assert torch.allclose(fprob, torch.full_like(fprob, 0.7))


# --------------------------------------------------------------------------------------------- centralities

def dense_gca_pagerank(edge_index: np.ndarray, n: int, damp: float = 0.85, k: int = 10) -> np.ndarray:
    """GCA's compute_pr recurrence with a dense transition matrix (test reference only)."""
    M = np.zeros((n, n))
    out_deg = np.bincount(edge_index[0], minlength=n)
    for u, v in edge_index.T:
        M[v, u] += 1.0 / out_deg[u]
    x = np.ones(n)
    for _ in range(k):
        x = (1 - damp) * x + damp * M @ x
    return x


@pytest.mark.parametrize("k", [1, 10, 200])
def test_pagerank_matches_dense_recurrence(k):
    # directed, with duplicate edges, sinks and sources, and a trailing isolated node
    with torch.random.fork_rng():
        torch.manual_seed(3)
        ei = erdos_renyi_graph(60, 0.05, directed=True)
    ei = torch.cat([ei, ei[:, :5]], dim=1)
    n = 61
    got = C.pagerank(ei, n, num_iterations=k)
    np.testing.assert_allclose(got.numpy(), dense_gca_pagerank(ei.numpy(), n, k=k), rtol=1e-4, atol=1e-6)


def test_eigenvector_centrality_matches_networkx():
    data = make_graph(num_nodes=150, edge_prob=0.05, sbm=True)
    G = to_networkx(data, to_undirected=True)
    assert nx.is_connected(G)
    ref = nx.eigenvector_centrality_numpy(G)
    ref = np.array([ref[i] for i in range(150)])
    got = C.eigenvector_centrality(data.edge_index, 150, tol=1e-10).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-4)
    ref_power = nx.eigenvector_centrality(to_networkx(data), max_iter=1000)  # directed, in-edges
    np.testing.assert_allclose(got, [ref_power[i] for i in range(150)], atol=1e-4)


def test_eigenvector_centrality_disconnected_and_degree():
    # two components: a 5-clique and a path; networkx's numpy variant refuses this graph
    clique = [(i, j) for i in range(5) for j in range(5) if i != j]
    path = [(5, 6), (6, 5), (6, 7), (7, 6)]
    ei = torch.tensor(clique + path).t()
    evc = C.eigenvector_centrality(ei, 9)
    assert torch.isfinite(evc).all() and float(evc[:5].min()) > float(evc[5:].max())
    deg = C.degree_centrality(torch.tensor([[0, 0, 1, 2], [1, 1, 0, 2]]), 4)  # duplicate + reverse + loop
    assert deg.tolist() == [1.0, 1.0, 1.0, 0.0]


def test_adaptive_evc_and_pagerank_edge_probabilities_follow_gca():
    data = make_graph(num_nodes=150, sbm=True)
    ei, n = data.edge_index, data.num_nodes
    p, thr = 0.3, 0.7

    def expected(c):
        s = np.log(c[ei[1].numpy()] + 1)
        w = (s.max() - s) / (s.max() - s.mean())
        return np.minimum(w / w.mean() * p, thr)

    ref = nx.eigenvector_centrality_numpy(to_networkx(data, to_undirected=True))
    evc = np.clip(np.array([ref[i] for i in range(n)]), 0, None) + 1e-8
    got = AdaptiveDropEdge(p, "evc", threshold=thr).drop_probability(data).numpy()
    np.testing.assert_allclose(got, expected(evc), atol=2e-4)
    pr = dense_gca_pagerank(ei.numpy(), n, k=200)
    got = AdaptiveDropEdge(p, "pr", threshold=thr).drop_probability(data).numpy()
    np.testing.assert_allclose(got, expected(pr), rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------------------------- cache

@pytest.mark.parametrize("cls", [AdaptiveDropEdge, AdaptiveMaskFeature])
@pytest.mark.parametrize("centrality,fn", [("pagerank", "pagerank"), ("evc", "eigenvector_centrality"),
                                           ("degree", "degree_centrality")])
def test_centrality_computed_once_per_graph(monkeypatch, cls, centrality, fn):
    calls = []
    original = getattr(C, fn)

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(C, fn, counting)
    data = make_graph(num_nodes=100, edge_prob=0.05)
    aug = cls(0.3, centrality)
    for seed in range(4):
        torch.manual_seed(seed)
        aug(data)
    assert len(calls) == 1
    # a transform earlier in a Compose shares the edge_index object: still cached
    Compose([DropoutFeature(0.1), aug])(data)
    assert len(calls) == 1
    other = data.clone()  # new tensors: a different graph
    aug(other)
    assert len(calls) == 2
    other.edge_index[0, 0] = other.edge_index[0, 1]  # in-place edit invalidates
    aug(other)
    assert len(calls) == 3


def test_feature_probabilities_refresh_when_x_changes():
    data = make_graph(num_nodes=100, edge_prob=0.05)
    aug = AdaptiveMaskFeature(0.3)
    a = aug.drop_probability(data)
    changed = data.clone()
    changed.edge_index = data.edge_index
    changed.x = data.x.clone()
    changed.x[:, :10] = 0
    b = aug.drop_probability(changed)
    assert not torch.equal(a, b)
    assert torch.equal(aug.drop_probability(data), a)


# --------------------------------------------------------------------------------------------- features

def test_mask_feature_zeroes_whole_columns():
    data = Data(x=torch.rand(50, 2000) + 0.1, edge_index=torch.empty((2, 0), dtype=torch.long))
    torch.manual_seed(0)
    out = MaskFeature(0.3)(data)
    zero_cols = (out.x == 0).all(0)
    assert torch.equal(out.x[:, ~zero_cols], data.x[:, ~zero_cols])
    assert not bool((out.x[:, ~zero_cols] == 0).any())
    assert abs(float(zero_cols.float().mean()) - 0.3) < 0.04


def test_dropout_feature_elementwise_without_rescaling():
    data = Data(x=torch.rand(300, 64) + 0.1)
    torch.manual_seed(0)
    out = DropoutFeature(0.3)(data)
    zero = out.x == 0
    assert abs(float(zero.float().mean()) - 0.3) < 0.015
    assert torch.equal(out.x[~zero], data.x[~zero])
    assert not bool(zero.all(0).any())  # not column-wise


def test_gaussian_noise_moments():
    data = Data(x=torch.randn(500, 64))
    torch.manual_seed(0)
    diff = GaussianNoise(0.5)(data).x - data.x
    assert abs(float(diff.mean())) < 0.02
    assert float(diff.std()) == pytest.approx(0.5, rel=0.03)
    assert torch.equal(GaussianNoise(0.0)(data).x, data.x)


@pytest.mark.parametrize("dense", [False, True])
def test_adaptive_mask_feature_matches_gca_formula(dense):
    und = [(0, 1), (0, 2), (0, 3), (1, 2), (3, 4)]
    edge_index = torch.tensor(und + [(v, u) for u, v in und]).t()
    x = torch.tensor([[1.0, 0.0, 2.0, 0.0],
                      [0.5, 0.0, 0.0, 1.0],
                      [0.0, 3.0, 0.0, 0.0],
                      [1.0, 0.0, -1.0, 0.0],
                      [0.0, 0.0, 0.0, 4.0]])
    data = Data(x=x, edge_index=edge_index)
    p, thr = 0.4, 0.7
    deg = np.bincount(edge_index[1].numpy(), minlength=5).astype(float)
    xw = np.abs(x.numpy()) if dense else (x.numpy() != 0).astype(float)
    w = np.log(xw.T @ deg + 1)
    s = (w.max() - w) / (w.max() - w.mean())
    expected = np.minimum(s / s.mean() * p, thr)
    aug = AdaptiveMaskFeature(p, "degree", threshold=thr, dense=dense)
    got = aug.drop_probability(data)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-7)
    torch.manual_seed(0)
    for _ in range(20):
        out = aug(data).x
        masked = (out == 0).all(0) & (x != 0).any(0)
        assert torch.equal(out[:, ~masked], x[:, ~masked])


def test_adaptive_mask_feature_prefers_rare_dimensions():
    data = make_graph(num_nodes=300, num_features=40)
    x = (torch.rand(300, 40) < torch.linspace(0.02, 0.6, 40)).float()  # dims get denser left to right
    data.x = x
    aug = AdaptiveMaskFeature(0.3, "degree", threshold=0.7)
    prob = aug.drop_probability(data)
    assert float(prob.max()) <= 0.7 + 1e-6
    torch.manual_seed(0)
    masked = torch.stack([(aug(data).x == 0).all(0) for _ in range(200)]).float().mean(0)
    assert float(masked[:10].mean()) > float(masked[-10:].mean()) + 0.2
    np.testing.assert_allclose(masked.numpy(), prob.numpy(), atol=0.12)


# --------------------------------------------------------------------------------------------- nodes

def check_induced(out: Data, data: Data) -> None:
    """`out` is the subgraph of `data` induced by out.n_id, relabelled, attributes sliced."""
    n_id = out.n_id
    assert n_id.numel() == out.num_nodes == len(set(n_id.tolist()))
    assert bool((n_id[1:] > n_id[:-1]).all())  # relative order kept
    for key in ("x", "y", "train_mask"):
        assert torch.equal(out[key], data[key][n_id])
    kept = set(n_id.tolist())
    expected = {(u, v) for u, v in edge_set(data.edge_index) if u in kept and v in kept}
    got = [(int(n_id[u]), int(n_id[v])) for u, v in out.edge_index.t().tolist()]
    assert len(got) == len(set(got)) and set(got) == expected
    weights = edge_lookup(data.edge_index, data.edge_weight)
    assert all(out.edge_weight[i] == weights[e] for i, e in enumerate(got))


def test_drop_node_count_and_induced_subgraph():
    data = make_graph()
    torch.manual_seed(0)
    out = DropNode(0.3)(data)
    assert out.num_nodes == 300 - int(0.3 * 300)
    check_induced(out, data)
    # composing keeps n_id pointing into the original graph
    twice = DropNode(0.5)(out)
    assert twice.num_nodes == out.num_nodes - int(0.5 * out.num_nodes)
    assert set(twice.n_id.tolist()) <= set(out.n_id.tolist())
    check_induced(twice, data)
    # a tiny graph never loses all its nodes
    tiny = Data(x=torch.rand(3, 2), edge_index=torch.tensor([[0, 1], [1, 2]]))
    assert all(DropNode(0.9)(tiny).num_nodes == 1 for _ in range(10))


def test_drop_node_removal_is_uniform():
    data = Data(x=torch.rand(10, 2), edge_index=torch.empty((2, 0), dtype=torch.long))
    torch.manual_seed(0)
    counts = torch.zeros(10)
    for _ in range(600):
        counts[DropNode(0.3)(data).n_id] += 1
    np.testing.assert_allclose((counts / 600).numpy(), 0.7, atol=0.07)


def test_random_walk_follows_edges():
    data = make_graph(num_nodes=100, edge_prob=0.03)
    ei = torch.cat([data.edge_index, torch.tensor([[0], [0]])], dim=1)  # with a self-loop
    n = 102  # nodes 100, 101 are isolated
    rowptr, col = _to_csr(ei, n)
    torch.manual_seed(0)
    start = torch.arange(n).repeat(3)
    walks = random_walk(rowptr, col, start, walk_length=6)
    assert walks.shape == (3 * n, 7) and torch.equal(walks[:, 0], start)
    edges = edge_set(ei)
    deg = torch.bincount(ei[0], minlength=n)
    for walk in walks.tolist():
        for a, b in zip(walk[:-1], walk[1:]):
            assert (a, b) in edges or (a == b and deg[a] == 0)
    # uniform neighbour choice from one node
    hub = int(deg.argmax())
    steps = random_walk(rowptr, col, torch.full((20000,), hub), 1)[:, 1]
    freq = torch.bincount(steps, minlength=n)[col[rowptr[hub]:rowptr[hub + 1]]].float() / 20000
    np.testing.assert_allclose(freq.numpy(), 1 / int(deg[hub]), atol=0.03)


def test_random_walk_subgraph_is_induced_and_walk_shaped():
    data = make_graph(num_nodes=300, edge_prob=0.01)
    torch.manual_seed(0)
    for _ in range(10):
        out = RandomWalkSubgraph(num_roots=1, walk_length=8)(data)
        assert 1 <= out.num_nodes <= 9
        check_induced(out, data)
        assert nx.is_connected(to_networkx(out, to_undirected=True))  # one walk visits a connected set
        out = RandomWalkSubgraph(num_roots=4, walk_length=5)(data)
        assert out.num_nodes <= 4 * 6
        check_induced(out, data)
        assert nx.number_connected_components(to_networkx(out, to_undirected=True)) <= 4
    out = RandomWalkSubgraph(root_ratio=0.1, walk_length=0)(data)
    assert out.num_nodes == 30 and out.n_id.numel() == 30
    assert RandomWalkSubgraph(num_roots=1000, walk_length=1)(data).num_nodes == 300  # roots capped at N


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 25), prob=st.floats(0.0, 0.5), p=st.floats(0.0, 0.95), seed=st.integers(0, 10_000))
def test_node_augmenters_induce_subgraphs_property(n, prob, p, seed):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        ei = erdos_renyi_graph(n, prob, directed=True)
        data = Data(x=torch.rand(n, 3), y=torch.arange(n), train_mask=torch.rand(n) < 0.5, edge_index=ei,
                    edge_weight=torch.rand(ei.size(1)))
        for aug in (DropNode(p), RandomWalkSubgraph(2, walk_length=3)):
            out = aug(data)
            assert out.num_nodes >= 1
            check_induced(out, data)


# --------------------------------------------------------------------------------------------- composition

def test_compose_is_pyg_compose():
    assert Compose is T.Compose


def test_random_choice_applies_num_choices_in_listed_order():
    names = ["a", "b", "c", "d"]
    aug = RandomChoice([SetFlag(n) for n in names], num_choices=2)
    data = Data(x=torch.rand(3, 2))
    torch.manual_seed(0)
    seen = {}
    for _ in range(600):
        order = aug(data).order
        assert len(order) == 2 and order == sorted(order, key=names.index)
        seen[tuple(order)] = seen.get(tuple(order), 0) + 1
    assert "order" not in data
    assert len(seen) == 6 and min(seen.values()) > 60  # all 6 pairs, roughly uniform
    torch.manual_seed(7)
    a = [aug(data).order for _ in range(10)]
    torch.manual_seed(7)
    assert a == [aug(data).order for _ in range(10)]


def test_random_choice_weights():
    aug = RandomChoice([SetFlag("a"), SetFlag("b"), SetFlag("c")], weights=[1.0, 0.0, 3.0])
    data = Data(x=torch.rand(3, 2))
    torch.manual_seed(0)
    picks = [aug(data).order[0] for _ in range(800)]
    assert "b" not in picks
    assert picks.count("c") / len(picks) == pytest.approx(0.75, abs=0.05)
    assert "weights=[1.0, 0.0, 3.0]" in repr(aug)


def test_structural_features_are_deterministic_leave_the_input_and_append_to_x():
    from graphcl.augment import StructuralFeatures
    from conftest import planted_graph

    data = planted_graph()
    x = data.x.clone()
    out = StructuralFeatures("degree+lappe", dim=8)(data)
    assert out.x.shape == (120, 16 + 16) and torch.equal(data.x, x) and torch.equal(out.x[:, :16], x)
    degree = torch.bincount(data.edge_index[0], minlength=120).clamp(max=7)  # the graph is symmetric
    assert torch.equal(out.x[:, 16:24].argmax(1), degree) and torch.equal(out.x[:, 16:24].sum(1), torch.ones(120))
    pe = out.x[:, 24:]
    assert torch.equal(pe, StructuralFeatures("lappe", dim=8)(data).x[:, 16:])  # same signs every time
    assert torch.allclose(pe.t() @ pe, torch.eye(8), atol=1e-4)  # orthonormal eigenvectors
    bare = planted_graph()
    del bare.x
    assert StructuralFeatures("degree", dim=4)(bare).x.shape == (120, 4) and "x" not in bare
    tiny = Data(edge_index=torch.tensor([[0], [1]]), num_nodes=2)
    assert StructuralFeatures("lappe", dim=4)(tiny).x.shape == (2, 4)  # fewer eigenvectors than asked: zeros
    with pytest.raises(InvalidArgumentError, match="structural features must be one of"):
        StructuralFeatures("rwpe")


@pytest.mark.parametrize("pairs", [[(i, (i + 1) % 30) for i in range(30)], [(i, i + 1) for i in range(0, 24, 2)]],
                         ids=["ring", "disjoint_edges"])
def test_laplacian_encodings_of_regular_graphs(pairs):
    # On a regular graph the constant vector is an exact null vector of the normalised Laplacian; the
    # eigensolver's start vector must not be it (ARPACK stopped with "starting vector is zero").
    from graphcl.augment import StructuralFeatures

    edges = torch.tensor(pairs).t()
    data = Data(edge_index=torch.cat([edges, edges.flip(0)], dim=1), num_nodes=int(edges.max()) + 1)
    pe = StructuralFeatures("lappe", dim=8)(data).x
    assert torch.isfinite(pe).all() and torch.allclose(pe.t() @ pe, torch.eye(8), atol=1e-4)
    adjacency = torch.zeros(data.num_nodes, data.num_nodes)
    adjacency[data.edge_index[0], data.edge_index[1]] = 1.0
    inv_sqrt = adjacency.sum(1).rsqrt()
    laplacian = torch.eye(data.num_nodes) - inv_sqrt[:, None] * adjacency * inv_sqrt[None, :]
    rayleigh = (pe * (laplacian @ pe)).sum(0)
    assert torch.allclose(laplacian @ pe, pe * rayleigh, atol=1e-4)  # eigenvectors (degenerate: any basis)


def test_ppr_diffusion_is_the_dense_inverse_and_its_sparsification_keeps_large_entries():
    from torch_geometric.utils import erdos_renyi_graph

    from graphcl.augment import normalized_adjacency, ppr_diffusion

    torch.manual_seed(0)
    edge_index = erdos_renyi_graph(25, 0.15)
    before = edge_index.clone()
    exact = ppr_diffusion(edge_index, 25, 0.2, eps=0.0, max_steps=200).to_dense().double()
    t = normalized_adjacency(edge_index, 25).to_dense().double()
    reference = 0.2 * torch.linalg.inv(torch.eye(25, dtype=torch.float64) - 0.8 * t)  # MVGRL's compute_ppr
    assert torch.allclose(exact, reference, atol=1e-6)
    sparse = ppr_diffusion(edge_index, 25, 0.2, eps=1e-2)
    assert sparse._nnz() < exact.count_nonzero() and bool((sparse.values() >= 1e-2).all())
    assert torch.equal(edge_index, before)
    with pytest.raises(InvalidArgumentError, match="alpha"):
        ppr_diffusion(edge_index, 25, alpha=1.5)
