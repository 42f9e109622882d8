"""Heterogeneous graphs: HeCo-format loaders and meta-path adjacency / PathSim / top-k."""
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch_geometric.data import Data, HeteroData

from graphcl.augment import (DropHeteroEdge, MaskHeteroFeature, MetaPathAdjacency, MetaPathWalkFeatures, drop_edge_mask,
                             metapath_adjacency,
                             pathsim, resolve_metapath, top_k_per_node)
from graphcl.errors import InvalidArgumentError, InvalidGraphError


def random_hetero(seed: int = 0, sizes=(6, 5, 4), density=0.4) -> tuple[HeteroData, dict]:
    """Node types a, b, c; relations a-b and b-c in both directions; dense 0/1 matrices beside."""
    g = np.random.default_rng(seed)
    data, dense = HeteroData(), {}
    for name, n in zip("abc", sizes):
        data[name].num_nodes = n
    for s, t in (("a", "b"), ("b", "c")):
        m = (g.random((data[s].num_nodes, data[t].num_nodes)) < density).astype(float)
        dense[s, t], dense[t, s] = m, m.T
        rows, cols = np.nonzero(m)
        data[s, "to", t].edge_index = torch.tensor(np.stack([rows, cols]))
        data[t, "to", s].edge_index = torch.tensor(np.stack([cols, rows]))
    return data, dense


def to_dense(edge_index, values, shape):
    out = np.zeros(shape)
    np.add.at(out, (edge_index[0].numpy(), edge_index[1].numpy()), values.numpy())
    return out


@pytest.mark.parametrize("path", [["a", "b", "a"], ["a", "b", "c", "b", "a"], ["a", "b", "c"], ["b", "c"],
                                  ["c", "b", "a", "b", "c"]])
@pytest.mark.parametrize("seed", [0, 1])
def test_metapath_counts_equal_dense_products(path, seed):
    data, dense = random_hetero(seed)
    index, count = metapath_adjacency(data, path)
    expected = dense[path[0], path[1]]
    for s, t in zip(path[1:-1], path[2:]):
        expected = expected @ dense[s, t]
    shape = (data[path[0]].num_nodes, data[path[-1]].num_nodes)
    np.testing.assert_allclose(to_dense(index, count, shape), expected)
    assert (count > 0).all() and index.size(1) == np.count_nonzero(expected)  # no explicit zeros, no duplicates


def test_edge_types_and_node_types_give_the_same_metapath():
    data, _ = random_hetero()
    by_types = metapath_adjacency(data, ["a", "b", "a"])
    by_edges = metapath_adjacency(data, [("a", "to", "b"), ("b", "to", "a")])
    assert all(torch.equal(x, y) for x, y in zip(by_types, by_edges))


def test_pathsim_equals_the_dense_formula():
    data, dense = random_hetero(3)
    index, count = metapath_adjacency(data, ["a", "b", "c", "b", "a"])
    m = dense["a", "b"] @ dense["b", "c"] @ dense["c", "b"] @ dense["b", "a"]
    d = np.diag(m)
    expected = 2 * m / np.maximum(d[:, None] + d[None, :], 1e-12)
    got = pathsim(index, count, data["a"].num_nodes)
    np.testing.assert_allclose(got.numpy(), expected[index[0].numpy(), index[1].numpy()], rtol=1e-6)
    assert float(got.max()) <= 1 + 1e-6 and torch.allclose(got[index[0] == index[1]], torch.ones(1))


@pytest.mark.parametrize("k", [1, 2, 3, 50])
def test_top_k_per_node_keeps_each_sources_largest(k):
    g = torch.Generator().manual_seed(k)
    n = 7
    pairs = torch.unique(torch.randint(0, n, (2, 30), generator=g), dim=1)
    score = torch.randint(0, 4, (pairs.size(1),), generator=g).float()  # many ties
    keep = top_k_per_node(pairs, score, n, k)
    for i in range(n):
        mine = [(-float(score[e]), int(pairs[1, e])) for e in range(pairs.size(1)) if pairs[0, e] == i]
        expected = sorted(mine)[:k]
        got = [(-float(score[e]), int(pairs[1, e])) for e in keep.tolist() if pairs[0, e] == i]
        assert got == expected
    with pytest.raises(InvalidArgumentError, match="k must be"):
        top_k_per_node(pairs, score, n, 0)


def test_metapath_adjacency_transform_adds_edge_types_and_leaves_its_input():
    data, _ = random_hetero(2)
    before = {e: data[e].edge_index.clone() for e in data.edge_types}
    out = MetaPathAdjacency({"aba": ["a", "b", "a"], "abcba": ["a", "b", "c", "b", "a"]}, top_k=2)(data)
    assert data.edge_types == list(before) and all(torch.equal(data[e].edge_index, v) for e, v in before.items())
    for name in ("aba", "abcba"):
        store = out["a", name, "a"]
        assert torch.bincount(store.edge_index[0], minlength=6).max() <= 2
        assert store.edge_weight.shape == store.pathsim.shape == store.edge_index[0].shape
    full = MetaPathAdjacency({"aba": ["a", "b", "a"]})(data)
    assert torch.equal(full["a", "aba", "a"].edge_index, metapath_adjacency(data, ["a", "b", "a"])[0])
    with pytest.raises(InvalidArgumentError, match="same type"):
        MetaPathAdjacency({"abc": ["a", "b", "c"]}, top_k=2)(data)


def test_metapaths_that_do_not_chain_get_clear_errors():
    data, _ = random_hetero()
    with pytest.raises(InvalidArgumentError, match="do not chain"):
        resolve_metapath(data, [("a", "to", "b"), ("c", "to", "b")])
    with pytest.raises(InvalidArgumentError, match="no edge type from 'a' to 'c'"):
        resolve_metapath(data, ["a", "c"])
    with pytest.raises(InvalidArgumentError, match="unknown node types"):
        resolve_metapath(data, ["a", "z"])
    with pytest.raises(InvalidArgumentError, match="unknown edge types"):
        resolve_metapath(data, [("a", "cites", "b")])
    with pytest.raises(InvalidArgumentError, match="at least two"):
        resolve_metapath(data, ["a"])


# --------------------------------------------------------------------------------------------
# The HeCo-format datasets from the mirror
# --------------------------------------------------------------------------------------------

def shipped(mirror, path) -> sp.csr_matrix:
    return sp.load_npz(mirror / path).tocsr()


def as_csr(index, count, n) -> sp.csr_matrix:
    return sp.csr_matrix((count.numpy(), (index[0].numpy(), index[1].numpy())), shape=(n, n))


@pytest.mark.mirror
def test_heco_acm_loads_as_heterodata_with_the_papers_splits(mirror, tmp_path, monkeypatch):
    from graphcl.data import load_dataset
    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path))
    data = load_dataset("heco-acm")
    assert data.target_node_type == "paper" and data.num_classes == 3
    assert {t: data[t].num_nodes for t in data.node_types} == {"paper": 4019, "author": 7167, "subject": 60}
    assert data["paper"].x.shape == (4019, 1902) and data["paper"].x.dtype == torch.float32
    assert "x" not in data["subject"]
    for k in (20, 40, 60):
        paper = data["paper"]
        train = paper[f"train_mask_{k}"]
        assert torch.equal(torch.bincount(paper.y[train]), torch.full((3,), k))  # k labelled nodes per class
        assert int(paper[f"val_mask_{k}"].sum()) == int(paper[f"test_mask_{k}"].sum()) == 1000
        assert not (train & paper[f"test_mask_{k}"]).any() and not (train & paper[f"val_mask_{k}"]).any()
    assert torch.equal(data["paper", "to", "author"].edge_index.flip(0), data["author", "to", "paper"].edge_index)
    # The meta-paths computed from the relations equal HeCo's files (pattern) and MEOW's (counts).
    for name, path in (("pap", ["paper", "author", "paper"]), ("psp", ["paper", "subject", "paper"])):
        ours = as_csr(*metapath_adjacency(data, path), 4019)
        assert ((ours > 0) != (shipped(mirror, f"HeCo/acm/{name}.npz") > 0)).nnz == 0
        assert abs(ours - shipped(mirror, f"MEOW/acm/{name}.npz")).max() == 0
    with pytest.raises(InvalidGraphError, match="heterogeneous"):
        from graphcl.runner import run
        run("grace", data, epochs=1)


@pytest.mark.mirror
def test_heco_dblp_metapaths_including_the_one_missing_from_the_mirror(mirror, tmp_path, monkeypatch):
    from graphcl.data import load_dataset
    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path))
    data = load_dataset("heco-dblp")
    assert data["term"].x.shape == (7723, 50)  # t_feat.npz is a plain .npy under an .npz name
    n = data["author"].num_nodes
    for name, path in (("apa", ["author", "paper", "author"]),
                       ("apcpa", ["author", "paper", "conference", "paper", "author"])):
        ours = as_csr(*metapath_adjacency(data, path), n)
        assert ((ours > 0) != (shipped(mirror, f"HeCo/dblp/{name}.npz") > 0)).nnz == 0
    assert abs(as_csr(*metapath_adjacency(data, ["author", "paper", "author"]), n)
               - shipped(mirror, "MEOW/dblp/apa.npz")).max() == 0
    aptpa, _ = metapath_adjacency(data, ["author", "paper", "term", "paper", "author"])
    assert aptpa.size(1) == 7_043_571  # the mirror README's count for HeCo's aptpa.npz, which is not there


def test_metapath_contexts_are_the_prefix_reachabilities():
    from graphcl.augment import metapath_contexts
    data, dense = random_hetero(4)
    contexts = metapath_contexts(data, ["a", "b", "c", "b", "a"])
    assert [t for t, _ in contexts] == ["b", "c", "b"]
    reach = np.eye(data["a"].num_nodes)
    for (node_type, index), (s, t) in zip(contexts, [("a", "b"), ("b", "c"), ("c", "b")]):
        reach = reach @ dense[s, t]
        got = to_dense(index, torch.ones(index.size(1)), (data["a"].num_nodes, data[node_type].num_nodes))
        np.testing.assert_array_equal(got, (reach > 0).astype(float))


@pytest.mark.mirror
def test_metapath_contexts_equal_meows_neighbour_files(mirror, tmp_path, monkeypatch):
    from graphcl.augment import metapath_contexts
    from graphcl.data import load_dataset
    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path))
    acm = load_dataset("heco-acm")
    (_, nei_a), = metapath_contexts(acm, ["paper", "author", "paper"])
    (_, nei_s), = metapath_contexts(acm, ["paper", "subject", "paper"])
    dblp = load_dataset("heco-dblp")
    (_, nei_ap), (_, nei_apc), _ = metapath_contexts(dblp, ["author", "paper", "conference", "paper", "author"])
    (_, nei_apt) = metapath_contexts(dblp, ["author", "paper", "term", "paper", "author"])[1]
    for ours, name, shape in ((nei_a, "acm/nei_a", (4019, 7167)), (nei_s, "acm/nei_s", (4019, 60)),
                              (nei_ap, "dblp/nei_ap", (4057, 14328)), (nei_apc, "dblp/nei_apc", (4057, 20)),
                              (nei_apt, "dblp/nei_apt", (4057, 7723))):
        theirs = shipped(mirror, f"MEOW/{name}.npz")
        mine = sp.csr_matrix((np.ones(ours.size(1)), (ours[0].numpy(), ours[1].numpy())), shape=shape)
        assert abs(mine - theirs).max() == 0, name


def test_semantic_attention_equals_its_formula():
    from graphcl.encoders import SemanticAttention
    torch.manual_seed(0)
    att = SemanticAttention(4)
    z = torch.randn(3, 10, 4)
    out, beta = att(z)
    w = torch.stack([(torch.tanh(z[p] @ att.project.weight.t() + att.project.bias).mean(0) * att.att[0]).sum()
                     for p in range(3)])
    assert torch.allclose(beta, torch.softmax(w, 0), atol=1e-6) and beta.sum().item() == pytest.approx(1.0)
    assert torch.allclose(out, (beta[:, None, None] * z).sum(0), atol=1e-6)
    same, beta_same = att(z[:1].repeat(3, 1, 1))
    assert torch.allclose(beta_same, torch.full((3,), 1 / 3)) and torch.allclose(same, z[0], atol=1e-6)


def test_meow_propagation_matrix_equals_the_official_normalisation():
    """MEOW's normalize_adj(A) = (A D^-1/2)^T D^-1/2 with D the row sums, for an asymmetric A."""
    from graphcl.encoders import StandardizedGCN
    g = torch.Generator().manual_seed(0)
    a = (torch.rand(7, 7, generator=g) < 0.4).double() * torch.randint(1, 4, (7, 7), generator=g)
    a[3] = 0  # a node without neighbours
    index = a.nonzero().t()
    got = StandardizedGCN.propagation_matrix(index, a[index[0], index[1]], 7).to_dense()
    d = a.sum(1).pow(-0.5)
    d[torch.isinf(d)] = 0
    expected = (a @ torch.diag(d)).t() @ torch.diag(d)
    assert torch.allclose(got, expected, atol=1e-12)


def test_meow_gcn_drops_the_transformed_features_as_the_official_graphconv():
    """StandardizedGCN in training mode: H = PReLU(M drop(X W1)), Z' = M drop(H W2), Z standardised
    over all entries. The reference draws its dropout masks in the same order under the same seed;
    dropping X (6 columns) instead of X W1 (4 columns) would draw different masks."""
    from graphcl.encoders import SparseOperator, StandardizedGCN
    torch.manual_seed(0)
    gcn = StandardizedGCN(6, 4, 3, dropout=0.5).train()
    x = torch.randn(5, 6)
    index = torch.tensor([[0, 1, 1, 2, 3, 4, 4], [1, 0, 2, 1, 4, 3, 0]])
    values = torch.rand(index.size(1))
    m = torch.sparse_coo_tensor(index, values, (5, 5)).to_dense()
    torch.manual_seed(1)
    got = gcn(x, SparseOperator(index, values, (5, 5)))
    torch.manual_seed(1)
    h = gcn.act(m @ torch.nn.functional.dropout(x @ gcn.lin1.weight.t(), 0.5))
    z = m @ torch.nn.functional.dropout(h @ gcn.lin2.weight.t(), 0.5)
    expected = (z - z.mean()) / torch.sqrt(z.var(unbiased=False) + 1e-5)
    assert torch.allclose(got, expected, atol=1e-5)
    for lin in (gcn.lin1, gcn.lin2):  # official init: uniform in +-1/sqrt(fan-out)
        assert lin.weight.abs().max() <= lin.out_features ** -0.5


def test_one_hot_linear_equals_a_linear_layer_on_masked_one_hot_features():
    from graphcl.encoders import OneHotLinear
    torch.manual_seed(0)
    layer = OneHotLinear(6, 3)
    torch.nn.init.normal_(layer.bias)
    masked = torch.tensor([False, True, False, False, True, False])
    one_hot = torch.eye(6)
    one_hot[masked] = 0
    expected = one_hot @ layer.table.weight + layer.bias
    assert torch.allclose(layer(masked), expected) and torch.allclose(layer(), torch.eye(6) @ layer.table.weight + layer.bias)


def test_metapath_positives_rank_by_number_of_metapaths_and_keep_the_node():
    from graphcl.augment import metapath_positives
    data, dense = random_hetero(6, sizes=(10, 6, 4))
    paths = [["a", "b", "a"], ["a", "b", "c", "b", "a"]]
    pos = metapath_positives(data, paths, 3)
    m1 = dense["a", "b"] @ dense["b", "a"]
    m2 = dense["a", "b"] @ dense["b", "c"] @ dense["c", "b"] @ dense["b", "a"]
    connected = (m1 > 0).astype(float) + (m2 > 0).astype(float)
    for i in range(10):
        mine = pos[1, pos[0] == i].tolist()
        assert mine[0] == i and len(mine) == min(3, int((connected[i] > 0).sum()) + (connected[i, i] == 0))
        others = [j for j in range(10) if j != i and connected[i, j] > 0]
        best = sorted(others, key=lambda j: (-connected[i, j], -(m1[i, j] / m1.max() + m2[i, j] / m2.max()), j))
        assert mine[1:] == best[:len(mine) - 1]


def test_drop_hetero_edge_keeps_a_subset_with_aligned_attributes_and_leaves_its_input():
    data, _ = random_hetero(3, sizes=(40, 30, 20), density=0.5)
    data = MetaPathAdjacency({"aba": ["a", "b", "a"]})(data)
    before = {e: data[e].edge_index.clone() for e in data.edge_types}
    torch.manual_seed(0)
    out = DropHeteroEdge({("a", "aba", "a"): 0.5, ("a", "to", "b"): 1.0})(data)
    assert all(torch.equal(data[e].edge_index, v) for e, v in before.items())
    store, orig = out["a", "aba", "a"], data["a", "aba", "a"]
    keys = {tuple(e) for e in orig.edge_index.t().tolist()}
    kept = [tuple(e) for e in store.edge_index.t().tolist()]
    assert set(kept) <= keys and len(set(kept)) == len(kept)
    lookup = {tuple(e): (w, s) for e, w, s in zip(orig.edge_index.t().tolist(), orig.edge_weight.tolist(),
                                                   orig.pathsim.tolist())}
    assert all(lookup[e] == (w, s) for e, w, s in zip(kept, store.edge_weight.tolist(), store.pathsim.tolist()))
    loops = orig.edge_index[0] == orig.edge_index[1]
    assert int((store.edge_index[0] == store.edge_index[1]).sum()) == int(loops.sum())  # self-loops all kept
    off = int((~loops).sum())
    assert 0.3 * off < store.edge_index.size(1) - int(loops.sum()) < 0.7 * off
    assert out["a", "to", "b"].edge_index.size(1) == 0  # p = 1 drops every (non-loop) edge
    assert torch.equal(out["b", "to", "a"].edge_index, data["b", "to", "a"].edge_index)  # not named: untouched
    with pytest.raises(InvalidArgumentError, match="not in the graph"):
        DropHeteroEdge(0.2, edge_types=[("a", "to", "c")])(data)
    with pytest.raises(InvalidGraphError, match="HeteroData"):
        DropHeteroEdge(0.2)(Data(edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=2))


def test_drop_edge_mask_rate_and_self_loops():
    torch.manual_seed(0)
    edge_index = torch.randint(0, 100, (2, 20_000))
    keep = drop_edge_mask(edge_index, 0.3)
    assert abs(keep.float().mean().item() - 0.7) < 0.02
    loops = torch.arange(50).repeat(2, 1)
    assert drop_edge_mask(loops, 1.0, keep_self_loops=True).all()
    assert not drop_edge_mask(loops, 1.0).any()
    with pytest.raises(InvalidArgumentError, match=r"\[0, 1\]"):
        drop_edge_mask(loops, 1.5)


@pytest.mark.parametrize("mode", ["all", "col", "row"])
def test_mask_hetero_feature_zeroes_only_chosen_types_and_leaves_its_input(mode):
    data, _ = random_hetero(4, sizes=(300, 200, 10))
    data["a"].x = torch.rand(300, 50) + 0.1
    data["b"].x = torch.rand(200, 8) + 0.1
    xa, xb = data["a"].x.clone(), data["b"].x.clone()
    torch.manual_seed(1)
    out = MaskHeteroFeature({"a": 0.4}, mode=mode)(data)
    assert torch.equal(data["a"].x, xa) and torch.equal(data["b"].x, xb)
    assert torch.equal(out["b"].x, xb)
    zero = out["a"].x == 0
    assert torch.equal(out["a"].x[~zero], xa[~zero])  # kept entries unscaled
    assert 0.25 < zero.float().mean().item() < 0.55
    if mode == "col":
        assert (zero.all(0) | ~zero.any(0)).all()
    if mode == "row":
        assert (zero.all(1) | ~zero.any(1)).all()
    all_types = MaskHeteroFeature(0.5)(data)  # every type with features; c has none and is skipped
    assert not torch.equal(all_types["b"].x, xb) and "x" not in all_types["c"]
    with pytest.raises(InvalidGraphError, match="no features"):
        MaskHeteroFeature(0.5, node_types=["c"])(data)
    with pytest.raises(InvalidArgumentError, match="mode"):
        MaskHeteroFeature(0.5, mode="cols")


def test_sparse_operator_equals_dense_product_in_value_and_gradient():
    from torch_geometric.utils import scatter

    from graphcl.encoders.propagation import SparseOperator
    g = torch.Generator().manual_seed(0)
    index = torch.stack([torch.randint(0, 7, (40,), generator=g), torch.randint(0, 9, (40,), generator=g)])
    values = torch.rand(40, generator=g)
    op = SparseOperator(index, values, (7, 9))
    dense = torch.zeros(7, 9).index_put_((index[0], index[1]), values, accumulate=True)  # duplicates summed
    x = torch.randn(9, 5, generator=g, requires_grad=True)
    w = torch.randn(7, 5, generator=g)
    (op @ x * w).sum().backward()
    grad, x.grad = x.grad.clone(), None
    (dense @ x * w).sum().backward()
    assert torch.allclose(op @ x, dense @ x, atol=1e-6) and torch.allclose(grad, x.grad, atol=1e-6)
    unique = torch.unique(index, dim=1)
    mean = SparseOperator.row_mean(unique, (7, 9)) @ x
    assert torch.allclose(mean, scatter(x[unique[1]], unique[0], dim=0, dim_size=7, reduce="mean"), atol=1e-6)
    both = SparseOperator.average([op, SparseOperator(unique, torch.ones(unique.size(1)), (7, 9))])
    assert torch.allclose(both.to_dense(), (dense + torch.zeros(7, 9).index_put_(tuple(unique), torch.ones(unique.size(1)))) / 2)
    with pytest.raises(ValueError, match="cannot multiply"):
        op @ torch.randn(7, 5)


def test_normalize_node_types_row_normalises_only_the_named_types_and_leaves_the_input():
    from graphcl.tasks.hetero import normalize_node_types
    data, _ = random_hetero(5)
    data["a"].x = torch.rand(6, 4) * 3
    data["b"].x = torch.rand(5, 3) * 3
    xa, xb = data["a"].x.clone(), data["b"].x.clone()
    out = normalize_node_types(data, ["a"])
    assert torch.allclose(out["a"].x, xa / xa.sum(1, keepdim=True)) and torch.equal(out["b"].x, xb)
    assert torch.equal(data["a"].x, xa)
    both = normalize_node_types(data)
    assert torch.allclose(both["b"].x.sum(1), torch.ones(5))
    with pytest.raises(InvalidArgumentError, match="no features"):
        normalize_node_types(data, ["c"])


def two_community_graph(seed=0):
    """Papers 0-19 share authors 0-9, papers 20-39 authors 10-19; venues mix both halves."""
    g = torch.Generator().manual_seed(seed)
    papers = torch.arange(40).repeat_interleave(3)
    authors = (papers // 20) * 10 + torch.randint(0, 10, (papers.numel(),), generator=g)
    data = HeteroData()
    data["paper"].x = torch.randn(40, 5, generator=g)
    data["author"].num_nodes, data["venue"].num_nodes = 20, 2
    pa = torch.unique(torch.stack([papers, authors]), dim=1)
    pv = torch.stack([torch.arange(40), torch.arange(40) % 2])
    data["paper", "to", "author"].edge_index, data["author", "to", "paper"].edge_index = pa, pa.flip(0)
    data["paper", "to", "venue"].edge_index, data["venue", "to", "paper"].edge_index = pv, pv.flip(0)
    return data


def test_metapath_walk_features_embed_the_communities_and_leave_the_input():
    data = two_community_graph()
    before = data["paper"].x.clone()
    walk = MetaPathWalkFeatures(["paper", "author", "paper"], ["paper", "author"], embedding_dim=8, walk_length=10,
                                context_size=3, walks_per_node=10, epochs=20, lr=0.05, batch_size=8, seed=1)
    out = walk(data)
    assert out["paper"].x.shape == (40, 8) and out["author"].x.shape == (20, 8)
    assert torch.equal(data["paper"].x, before) and "x" not in data["author"]
    assert torch.equal(walk(data)["paper"].x, out["paper"].x)  # the seed fixes the result
    z = torch.nn.functional.normalize(out["paper"].x, dim=1)
    sim = z @ z.t()
    same = (torch.arange(40)[:, None] // 20) == (torch.arange(40)[None, :] // 20)
    off_diagonal = ~torch.eye(40, dtype=torch.bool)
    assert sim[same & off_diagonal].mean() > sim[~same].mean() + 0.3
    default = MetaPathWalkFeatures(["paper", "author", "paper"], embedding_dim=4, walk_length=4, context_size=2,
                                   walks_per_node=1)(data)
    assert "x" in default["author"] and torch.equal(default["paper"].x, before)  # only featureless types by default


def test_metapath_walk_features_check_their_input():
    data = two_community_graph()
    with pytest.raises(InvalidArgumentError, match="start and\nend|same node type"):
        MetaPathWalkFeatures(["paper", "author"], walk_length=5, context_size=2)(data)
    with pytest.raises(InvalidArgumentError, match="not on the meta-path"):
        MetaPathWalkFeatures(["paper", "author", "paper"], ["venue"], walk_length=4, context_size=2)(data)
    with pytest.raises(InvalidArgumentError, match="context_size"):
        MetaPathWalkFeatures(["paper", "author", "paper"], walk_length=2, context_size=5)
    with pytest.raises(InvalidArgumentError, match="walks_per_node"):
        MetaPathWalkFeatures(["paper", "author", "paper"], walks_per_node=0)


def test_walk_features_run_setting_trains_once_then_reads_the_cache(tmp_path, monkeypatch):
    from graphcl.runner import configure
    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path))
    data = two_community_graph()
    del data["paper"].x
    data["paper"].num_nodes = 40
    data.target_node_type = "paper"
    settings = {"metapath": ["paper", "author", "paper"], "embedding_dim": 4, "walk_length": 4, "context_size": 2,
                "walks_per_node": 2}
    overrides = {"metapaths": [["paper", "author", "paper"]], "nei_max": [5], "adj_mask": [0.1],
                 "walk_features": settings}
    _, run, first = configure("meow", data, overrides=overrides)
    assert run.walk_features == settings and first["paper"].x.shape == (40, 4) and "x" not in data["paper"]
    (cached,) = (tmp_path / "features").glob("*.pt")
    _, _, second = configure("meow", data, overrides=overrides)
    assert torch.equal(second["paper"].x, first["paper"].x) and torch.equal(second["author"].x, first["author"].x)
    with pytest.raises(InvalidArgumentError, match="walk_features"):
        configure("meow", data, overrides={**overrides, "walk_features": {"metapath": ["paper", "author", "paper"],
                                                                              "walks": 3}})
