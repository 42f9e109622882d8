"""Evaluation harnesses: clustering metrics against brute force, linear probe, splits, summaries."""
import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphcl.errors import InvalidArgumentError, InvalidGraphError
from graphcl.eval import (cluster_accuracy, clustering_metrics, evaluate_clustering, kmeans, linear_probe,
                          modularity, node_classification, public_split, random_split)


def brute_force_acc(y_true, y_pred):
    """Best accuracy over every injective map from clusters to classes (padded with dummy classes)."""
    clusters = sorted(set(y_pred))
    classes = sorted(set(y_true)) + [-(i + 1) for i in range(len(clusters))]
    best = 0.0
    for perm in itertools.permutations(classes, len(clusters)):
        mapping = dict(zip(clusters, perm))
        best = max(best, np.mean([mapping[c] == t for c, t in zip(y_pred, y_true)]))
    return best


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), min_size=1, max_size=12))
def test_acc_equals_brute_force(pairs):
    y_true = np.array([p[0] for p in pairs])
    y_pred = np.array([p[1] for p in pairs])
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(brute_force_acc(list(y_true), list(y_pred)))


def test_acc_does_not_mutate_inputs():
    y_true = np.array([2, 2, 0, 1, 1, 0])
    y_pred = torch.tensor([5, 5, 3, 4, 4, 4])
    t0, p0 = y_true.copy(), y_pred.clone()
    cluster_accuracy(y_true, y_pred)
    clustering_metrics(y_true, y_pred)
    assert np.array_equal(y_true, t0) and torch.equal(y_pred, p0)


def test_metrics_invariant_to_cluster_renaming():
    y = np.array([0, 0, 1, 1, 2, 2, 2])
    m = clustering_metrics(y, np.array([7, 7, 3, 3, 9, 9, 9]))
    assert m == pytest.approx({"acc": 1.0, "nmi": 1.0, "ari": 1.0, "f1": 1.0})
    m = clustering_metrics(y, np.array([0, 1, 1, 1, 2, 2, 0]))
    assert 0 < m["acc"] < 1 and m["f1"] < 1 and m["ari"] < 1


def test_modularity_equals_the_dense_formula():
    rng = np.random.default_rng(0)
    n = 12
    edges = rng.integers(0, n, size=(2, 40))  # duplicates, both directions and self-loops included
    labels = rng.integers(0, 3, size=n)
    a = np.zeros((n, n))
    a[edges[0], edges[1]] = a[edges[1], edges[0]] = 1.0
    np.fill_diagonal(a, 0.0)
    d, two_m = a.sum(1), a.sum()
    dense = ((a - np.outer(d, d) / two_m) * (labels[:, None] == labels[None, :])).sum() / two_m
    assert modularity(torch.as_tensor(edges), labels) == pytest.approx(dense)
    assert modularity(torch.as_tensor(edges), np.zeros(n, dtype=int)) == pytest.approx(0.0, abs=1e-12)


def test_modularity_prefers_the_planted_partition_and_rejects_bad_input(tiny_graph):
    planted = modularity(tiny_graph.edge_index, tiny_graph.y)
    shuffled = modularity(tiny_graph.edge_index, tiny_graph.y[torch.randperm(tiny_graph.num_nodes)])
    assert planted > 0.5 > 0.05 > shuffled
    with pytest.raises(InvalidArgumentError, match="at least one edge"):
        modularity(torch.tensor([[0, 1], [0, 1]]), np.array([0, 1]))
    with pytest.raises(InvalidArgumentError, match="entries"):
        modularity(tiny_graph.edge_index, tiny_graph.y[:-1], tiny_graph.num_nodes)


def test_kmeans_recovers_separated_blobs_and_rejects_too_many_clusters():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 30)
    x = rng.normal(size=(90, 4)) * 0.1 + np.eye(4)[y] * 5
    assert evaluate_clustering(torch.tensor(x), y)["acc"] == 1.0
    with pytest.raises(InvalidArgumentError, match="clusters"):
        kmeans(x[:5], 6)
    with pytest.raises(InvalidArgumentError, match="NaN"):
        kmeans(np.full((4, 2), np.nan), 2)


def test_random_split_is_disjoint_complete_and_seeded():
    a = random_split(100, seed=3)
    b = random_split(100, seed=3)
    c = random_split(100, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], c[0])
    assert [len(s) for s in a] == [10, 10, 80]
    assert torch.cat(a).sort().values.tolist() == list(range(100))


def test_linear_probe_selects_by_validation_and_scores_separable_data():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 4
    z = torch.randn(200, 8, generator=g) * 0.1 + torch.eye(8)[y] * 3
    res = linear_probe(z, y, random_split(200, seed=0), epochs=200)
    assert res["accuracy"] > 0.98 and res["macro_f1"] > 0.98 and res["val_accuracy"] == 1.0
    # Unlabelled nodes in a split are refused, labels the wrong length too.
    y_bad = y.clone(); y_bad[0] = -1
    with pytest.raises(InvalidGraphError, match="without labels"):
        linear_probe(z, y_bad, (torch.tensor([0, 1]), torch.tensor([2]), torch.tensor([3])))
    with pytest.raises(InvalidGraphError):
        linear_probe(z, y[:10], random_split(200))


def test_public_split_requires_masks():
    from torch_geometric.data import Data
    data = Data(x=torch.randn(4, 2), y=torch.tensor([0, 1, 0, 1]), num_nodes=4)
    with pytest.raises(InvalidGraphError, match="--split random"):
        public_split(data)
    data.train_mask = torch.tensor([True, True, False, False])
    data.val_mask = torch.tensor([False, False, True, False])
    data.test_mask = torch.tensor([False, False, False, True])
    assert [s.tolist() for s in public_split(data)] == [[0, 1], [2], [3]]
    assert set(node_classification(torch.eye(4), data, epochs=20)) >= {"accuracy", "micro_f1", "macro_f1"}
    with pytest.raises(InvalidGraphError, match="no labels"):
        node_classification(torch.eye(4), Data(x=torch.eye(4)))


def test_direction_concentration_spots_collapse():
    from graphcl.eval import direction_concentration, is_collapsed
    spread = torch.randn(500, 16, generator=torch.Generator().manual_seed(0))
    assert direction_concentration(spread) < 0.2 and not is_collapsed(spread)
    same = torch.ones(50, 4) * torch.rand(50, 1)
    assert direction_concentration(same) == pytest.approx(1.0) and is_collapsed(same)
    assert is_collapsed(torch.zeros(10, 4))
    half_dead = torch.cat([torch.zeros(5, 4), torch.eye(4).repeat(2, 1)[:5]])
    assert 0.5 < direction_concentration(half_dead) < 0.99
    # Its square is the mean pairwise cosine similarity (self-pairs included) when no row is zero.
    zn = torch.nn.functional.normalize(spread[:40], dim=1)
    assert direction_concentration(spread[:40]) ** 2 == pytest.approx((zn @ zn.T).mean().item(), abs=1e-5)


def _blobs(n_per: int = 60, k: int = 4, d: int = 5, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(k, d, generator=g) * 10
    y = torch.arange(k).repeat_interleave(n_per)
    return centres[y] + torch.randn(k * n_per, d, generator=g), y


def test_torch_kmeans_finds_separated_blobs_like_sklearn():
    from sklearn.metrics import adjusted_rand_score
    from graphcl.clustering import fit_kmeans
    x, y = _blobs()
    ours = fit_kmeans(x, 4, n_init=3, seed=0, backend="torch")
    theirs = fit_kmeans(x, 4, n_init=3, seed=0, backend="sklearn")
    assert adjusted_rand_score(y, ours.labels) == 1.0 == adjusted_rand_score(theirs.labels, ours.labels)
    assert ours.centroids.shape == (4, 5) and ours.inertia == pytest.approx(theirs.inertia, rel=1e-4)


def test_torch_kmeans_inertia_matches_sklearn_on_unstructured_data_and_is_seeded():
    from graphcl.clustering import fit_kmeans
    x = torch.randn(500, 8, generator=torch.Generator().manual_seed(1))
    ours = fit_kmeans(x, 7, n_init=10, seed=3, backend="torch")
    theirs = fit_kmeans(x, 7, n_init=10, seed=3, backend="sklearn")
    assert ours.inertia <= 1.02 * theirs.inertia
    again = fit_kmeans(x, 7, n_init=10, seed=3, backend="torch")
    assert torch.equal(ours.labels, again.labels)
    # The inertia is the sum of squared distances to the assigned centroids.
    assert ours.inertia == pytest.approx(float(((x - ours.centroids[ours.labels]) ** 2).sum()), rel=1e-4)


def test_torch_kmeans_reseeds_emptied_clusters():
    from graphcl.clustering import kmeans_torch
    x = torch.tensor([[0.0, 0.0], [5.0, 5.0], [9.0, 0.0]]).repeat(10, 1)  # 3 distinct points, 30 rows
    result = kmeans_torch(x, 3, n_init=2, seed=0)
    assert result.inertia == pytest.approx(0.0, abs=1e-6) and result.labels.unique().numel() == 3


def test_inner_product_kmeans_assigns_by_largest_inner_product():
    """faiss with an IndexFlatIP: points go to the centroid of largest inner product (centroids are
    plain means), which favours long centroids where Euclidean k-means would not."""
    from graphcl.clustering import fit_kmeans
    g = torch.Generator().manual_seed(0)
    short = torch.tensor([1.0, 0.0]) + 0.05 * torch.randn(30, 2, generator=g)
    long = torch.tensor([3.0, 3.0]) + 0.05 * torch.randn(30, 2, generator=g)
    x = torch.cat([short, long])
    result = fit_kmeans(x, 2, n_init=3, seed=0, init="random", max_iter=20, metric="inner_product")
    assert torch.equal(result.labels, (x @ result.centroids.t()).argmax(1))
    for k in range(2):
        if (result.labels == k).any():
            assert torch.allclose(result.centroids[k], x[result.labels == k].mean(0), atol=1e-5)
    assert result.inertia == pytest.approx(-float((x @ result.centroids.t()).max(1).values.sum()), rel=1e-5)
    assert (result.labels == result.labels[-1]).all()  # the long points' centroid takes the short ones too
    euclidean = fit_kmeans(x, 2, n_init=3, seed=0, init="random", max_iter=20, backend="torch")
    assert euclidean.labels[:30].unique().numel() == 1 and euclidean.labels[30:].unique().numel() == 1
    assert euclidean.labels[0] != euclidean.labels[-1]
    with pytest.raises(InvalidArgumentError, match="Euclidean only"):
        fit_kmeans(x, 2, backend="sklearn", metric="inner_product")
    with pytest.raises(InvalidArgumentError, match="metric"):
        fit_kmeans(x, 2, metric="cosine")


def test_fit_kmeans_bad_input():
    from graphcl.clustering import fit_kmeans
    x = torch.randn(5, 2)
    with pytest.raises(InvalidArgumentError, match="backend"):
        fit_kmeans(x, 2, backend="faiss-gpu")
    with pytest.raises(InvalidArgumentError, match="NaN"):
        fit_kmeans(torch.tensor([[0.0, float("nan")], [1.0, 1.0]]), 2)
    with pytest.raises(InvalidArgumentError):
        fit_kmeans(x, 6, backend="torch")  # more clusters than points


def test_batched_macro_f1_equals_sklearn():
    from sklearn.metrics import f1_score
    from graphcl.eval.classification import _macro_f1
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (50,), generator=g)
    pred = torch.randint(0, 5, (3, 50), generator=g)  # class 4 only predicted, never true
    ours = _macro_f1(pred, y, 5)
    for r in range(3):
        assert ours[r].item() == pytest.approx(f1_score(y, pred[r], average="macro"), abs=1e-6)


def naive_heco_run(x, y, masks, weight0, lr, iterations):
    """One probe as HeCo's evaluate trains it (its own Adam), scored the same way."""
    from sklearn.metrics import f1_score, roc_auc_score
    train, val, test = masks
    w = weight0.clone().requires_grad_()
    b = torch.zeros(1, weight0.size(1), requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=lr)
    rows = []
    for _ in range(iterations):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(x[train] @ w + b, y[train]).backward()
        opt.step()
        with torch.no_grad():
            pv, pt = (x[val] @ w + b).argmax(1), x[test] @ w + b
            rows.append((f1_score(y[val], pv, average="macro"), float((pv == y[val]).float().mean()),
                         f1_score(y[test], pt.argmax(1), average="macro"), float((pt.argmax(1) == y[test]).float().mean()),
                         pt.softmax(1)))
    best_macro = max(range(iterations), key=lambda i: (rows[i][0], -i))
    best_micro = max(range(iterations), key=lambda i: (rows[i][1], -i))
    proba = rows[best_micro][4].double()
    auc = roc_auc_score(y[test], (proba / proba.sum(1, keepdim=True)).numpy(), multi_class="ovr")
    return rows[best_macro][2], rows[best_micro][3], auc


def test_heco_protocol_equals_independent_naive_runs():
    from graphcl.eval import heco_protocol
    x, y = _blobs(n_per=30, k=3, d=4, seed=4)
    x = x / 10 + torch.randn(x.shape, generator=torch.Generator().manual_seed(9))  # overlapping classes
    g = torch.Generator().manual_seed(1)
    order = torch.randperm(90, generator=g)
    masks = [torch.zeros(90, dtype=torch.bool) for _ in range(3)]
    for mask, idx in zip(masks, (order[:15], order[15:45], order[45:])):
        mask[idx] = True
    got = heco_protocol(x, y, *masks, lr=0.05, runs=3, iterations=25, seed=7)
    bound = (6.0 / (4 + 3)) ** 0.5
    weights = (torch.rand(3, 4, 3, generator=torch.Generator().manual_seed(7)) * 2 - 1) * bound
    naive = np.array([naive_heco_run(x, y, masks, weights[r], 0.05, 25) for r in range(3)])
    assert got["macro_f1"] == pytest.approx(naive[:, 0].mean(), abs=1e-5)
    assert got["micro_f1"] == pytest.approx(naive[:, 1].mean(), abs=1e-5)
    assert got["auc"] == pytest.approx(naive[:, 2].mean(), abs=1e-5)


def test_heco_protocol_scores_separable_embeddings_and_rejects_bad_splits():
    from graphcl.eval import heco_protocol
    x, y = _blobs(n_per=40, k=3, d=6)
    masks = [torch.arange(120) % 3 == r for r in range(3)]
    result = heco_protocol(x, y, *masks, runs=4, iterations=50)
    assert result["macro_f1"] > 0.99 and result["micro_f1"] > 0.99 and result["auc"] > 0.99
    with pytest.raises(InvalidArgumentError, match="test split is empty"):
        heco_protocol(x, y, masks[0], masks[1], torch.zeros(120, dtype=torch.bool), runs=1, iterations=2)
    y_missing = y.clone()
    y_missing[masks[0]] = -1
    with pytest.raises(InvalidArgumentError, match="unlabelled"):
        heco_protocol(x, y_missing, *masks, runs=1, iterations=2)


@pytest.mark.parametrize("backend", ["torch", "sklearn"])
def test_fit_kmeans_random_seeding_with_few_iterations_finds_separated_clusters(backend):
    from graphcl.clustering import fit_kmeans
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(5, 8, generator=g) * 10
    x = centres.repeat_interleave(40, 0) + 0.1 * torch.randn(200, 8, generator=g)
    result = fit_kmeans(x, 5, n_init=5, seed=1, backend=backend, init="random", max_iter=20)
    truth = torch.arange(5).repeat_interleave(40)
    assert all(result.labels[truth == k].unique().numel() == 1 for k in range(5))
    assert result.labels.unique().numel() == 5
    with pytest.raises(InvalidArgumentError, match="init"):
        fit_kmeans(x, 5, backend=backend, init="kmeans||")


def _autograd_probe(z, y, split, *, epochs, lr, weight_decay, eval_every, seed):
    """The probe as autograd + torch.optim.Adam would train it (the reference of the closed-form one)."""
    import torch.nn.functional as F

    train_idx, val_idx, test_idx = split
    num_classes = int(y.max()) + 1
    weight = torch.empty(num_classes, z.size(1))
    bound = (6 / (z.size(1) + num_classes)) ** 0.5
    weight.uniform_(-bound, bound, generator=torch.Generator().manual_seed(seed))
    weight.requires_grad_()
    bias = torch.zeros(num_classes, requires_grad=True)
    optimizer = torch.optim.Adam([weight, bias], lr=lr, weight_decay=weight_decay)
    best, curve = (-1.0, None, None), []
    for epoch in range(1, epochs + 1):
        optimizer.zero_grad()
        F.cross_entropy(F.linear(z[train_idx], weight, bias), y[train_idx]).backward()
        optimizer.step()
        curve.append(weight.detach().clone())
        if epoch % eval_every == 0 or epoch == epochs:
            with torch.no_grad():
                val = (F.linear(z[val_idx], weight, bias).argmax(1) == y[val_idx]).float().mean().item()
                if val > best[0]:
                    best = (val, epoch, (F.linear(z[test_idx], weight, bias).argmax(1) == y[test_idx]).float().mean().item())
    return best, curve


@pytest.mark.parametrize("normalize,weight_decay", [(False, 0.0), (True, 0.0), (False, 1e-3), (None, 5e-4)])
def test_the_closed_form_probe_trains_as_autograd_and_adam_would(normalize, weight_decay):
    import torch.nn.functional as F
    from graphcl.eval.classification import _train_probes, linear_probe

    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (300,), generator=gen)
    z = torch.randn(300, 16, generator=gen) + F.one_hot(y, 4).float() @ torch.randn(4, 16, generator=gen)
    split = (torch.arange(0, 60), torch.arange(60, 120), torch.arange(120, 300))
    options = dict(epochs=200, lr=0.01, weight_decay=weight_decay, eval_every=20, seed=3)
    result = linear_probe(z, y, split, normalize=normalize, **options)
    for flag in ((False, True) if normalize is None else (normalize,)):
        view = F.normalize(z, dim=1) if flag else z
        (val, epoch, test), _ = _autograd_probe(view, y, split, **options)
        if normalize is None and flag != bool(result["probe_normalized"]):
            assert val <= result["val_accuracy"] + 1e-12
            continue
        assert (result["val_accuracy"], result["probe_epoch"]) == (pytest.approx(val), epoch)
        assert result["accuracy"] == pytest.approx(test)
    # the weights themselves follow the autograd + Adam trajectory
    _, curve = _autograd_probe(z, y, split, **{**options, "epochs": 50})
    _, (weight, _) = _train_probes(z[None], y, *split, **{**options, "epochs": 50})
    assert torch.allclose(weight[0], curve[-1], atol=1e-5)
