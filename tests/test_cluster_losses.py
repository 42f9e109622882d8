"""Cluster-level pieces against naive dense references: structural positives, SCGC, PamC, DEC."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from graphcl.augment import StructuralPositives, adjacency_power, row_normalized_adjacency
from graphcl.errors import InvalidArgumentError
from graphcl.losses import (ClusteringKL, MetaNodeContrast, NeighbourContrast, PositivePairs, log_positive_mass,
                            student_t_assignment, target_distribution)


def random_graph(n, m, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, n, (2, m), generator=g)


def dense_a_hat(edge_index, n):
    a = np.zeros((n, n))
    a[edge_index[0].numpy(), edge_index[1].numpy()] = 1
    a = np.maximum(a, a.T)
    np.fill_diagonal(a, 1)
    return a / a.sum(1, keepdims=True)


def to_dense(index, weight, n):
    out = np.zeros((n, n))
    np.add.at(out, (index[0].numpy(), index[1].numpy()), weight.double().numpy())
    return out


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("cumulative", [False, True])
def test_adjacency_power_equals_dense_matrix_powers(order, cumulative):
    n = 23
    edge_index = torch.cat([random_graph(n - 3, 40, order), torch.tensor([[4, 4, 5], [4, 6, 6]])], 1)  # loop, dups,
    a = dense_a_hat(edge_index, n)                                                                      # 3 isolated
    expected = sum(np.linalg.matrix_power(a, k) for k in range(1, order + 1)) if cumulative \
        else np.linalg.matrix_power(a, order)
    index, weight = adjacency_power(edge_index, n, order, cumulative)
    np.testing.assert_allclose(to_dense(index, weight, n), expected, atol=1e-6)
    assert np.allclose(row_normalized_adjacency(edge_index, n).sum(1), 1)


def test_top_k_keeps_the_largest_entries_of_every_row():
    n, k = 30, 4
    edge_index = random_graph(n, 120, 1)
    exact = to_dense(*adjacency_power(edge_index, n, 1), n)
    index, weight = adjacency_power(edge_index, n, 1, top_k=k)
    pruned = to_dense(index, weight, n)
    assert (np.count_nonzero(pruned, axis=1) <= k).all()
    for i in range(n):
        kept = pruned[i][pruned[i] > 0]
        dropped = exact[i][(exact[i] > 0) & (pruned[i] == 0)]
        assert dropped.size == 0 or kept.min() >= dropped.max() - 1e-12
        np.testing.assert_allclose(pruned[i][pruned[i] > 0], exact[i][pruned[i] > 0])


def test_structural_positives_transform_leaves_input_untouched(tiny_graph):
    before = tiny_graph.clone()
    out = StructuralPositives(order=2, cumulative=True)(tiny_graph)
    assert "pos_index" not in tiny_graph and torch.equal(tiny_graph.edge_index, before.edge_index)
    assert out.pos_index.size(1) == out.pos_weight.numel() > tiny_graph.edge_index.size(1)
    with pytest.raises(InvalidArgumentError, match="order"):
        StructuralPositives(order=0)


def dense_masked_cosine(z):
    zn = F.normalize(z, dim=1)
    return zn @ zn.T * (1 - torch.eye(z.size(0), dtype=z.dtype))


def dense_scgc(z, a, tau):  # the official Ncontrast, with tau as a temperature
    s = torch.exp(dense_masked_cosine(z) / tau)
    return -torch.log((s * a).sum(1) / s.sum(1)).mean()


def dense_pamc(z, assignment, a, tau):
    pos = (torch.exp(dense_masked_cosine(z) / tau) * a).sum(1)
    c = assignment.T @ z
    c = c[assignment.detach().sum(0) > 0]
    neg = torch.exp(dense_masked_cosine(c) / tau).sum(1)
    return -torch.log(pos).mean() + torch.log(neg).mean()


@pytest.mark.parametrize("n,d,tau,chunk", [(7, 3, 1.0, 2), (23, 5, 0.25, 4), (40, 8, 4.0, 7), (33, 4, 0.5, None)])
@pytest.mark.parametrize("cumulative", [False, True])
def test_neighbour_contrast_matches_dense_reference(n, d, tau, chunk, cumulative):
    edge_index = random_graph(n - 1, 3 * n, n)  # node n-1 isolated
    index, weight = adjacency_power(edge_index, n, 2, cumulative)
    a = torch.from_numpy(to_dense(index, weight, n))
    z = torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(d), requires_grad=True)
    ours = NeighbourContrast(tau, chunk_size=chunk)(z, PositivePairs.from_coo(index, weight.double(), n))
    ref = dense_scgc(z, a, tau)
    assert torch.allclose(ours, ref, atol=1e-9)
    g_ours, = torch.autograd.grad(ours, z)
    g_ref, = torch.autograd.grad(ref, z)
    assert torch.allclose(g_ours, g_ref, atol=1e-9)


@pytest.mark.parametrize("n,d,k,tau", [(9, 3, 2, 1.0), (31, 6, 4, 0.5), (50, 10, 6, 2.0)])
@pytest.mark.parametrize("soft", [False, True])
def test_meta_node_contrast_matches_dense_reference(n, d, k, tau, soft):
    gen = torch.Generator().manual_seed(n)
    edge_index = random_graph(n, 2 * n, k)
    index, weight = adjacency_power(edge_index, n, 1, True)
    a = torch.from_numpy(to_dense(index, weight, n))
    z = torch.randn(n, d, dtype=torch.float64, generator=gen, requires_grad=True)
    centers = torch.randn(k, d, dtype=torch.float64, generator=gen, requires_grad=True)
    q = student_t_assignment(z, centers)
    assignment = q if soft else F.one_hot(q.detach().argmax(1), k).double()
    ours = MetaNodeContrast(tau)(z, assignment, PositivePairs.from_coo(index, weight.double(), n))
    ref = dense_pamc(z, assignment, a, tau)
    assert torch.allclose(ours, ref, atol=1e-9)
    params = [z, centers] if soft else [z]
    for g_ours, g_ref in zip(torch.autograd.grad(ours, params, retain_graph=True), torch.autograd.grad(ref, params)):
        assert torch.allclose(g_ours, g_ref, atol=1e-9)


def _batch_and_partners(n, seed):
    """A random graph's positives, the rows reordered so that a batch comes first, then the other
    ends of its pairs; returns the dense positive matrix of those rows and the pairs over them."""
    edge_index = random_graph(n, 3 * n, seed)
    index, weight = adjacency_power(edge_index, n, 1, True)
    a = torch.from_numpy(to_dense(index, weight, n))
    batch = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[: n // 3]
    partners = a[batch].nonzero()[:, 1].unique()
    nodes = torch.cat([batch, partners[~torch.isin(partners, batch)]])
    local = a[nodes][:, nodes]
    local[len(batch):] = torch.eye(len(nodes), dtype=local.dtype)[len(batch):]  # non-anchors: their self-pair
    sub_index = local.nonzero().t()
    return local, PositivePairs.from_coo(sub_index, local[sub_index[0], sub_index[1]], len(nodes)), len(batch)


@pytest.mark.parametrize("n,chunk", [(30, 4), (45, None)])
def test_neighbour_contrast_with_anchors_matches_dense_reference(n, chunk):
    a, pairs, size = _batch_and_partners(n, n)
    z = torch.randn(a.size(0), 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
    ours = NeighbourContrast(0.5, chunk_size=chunk)(z, pairs, anchors=size)
    s = torch.exp(dense_masked_cosine(z) / 0.5)[:size]
    ref = -torch.log((s * a[:size]).sum(1) / s.sum(1)).mean()  # every row a candidate, the batch's rows anchors
    assert torch.allclose(ours, ref, atol=1e-9)
    assert torch.allclose(torch.autograd.grad(ours, z)[0], torch.autograd.grad(ref, z)[0], atol=1e-9)
    with pytest.raises(InvalidArgumentError, match="anchors must be"):
        NeighbourContrast(0.5)(z, pairs, anchors=a.size(0) + 1)


@pytest.mark.parametrize("soft", [False, True])
def test_meta_node_contrast_with_anchors_matches_dense_reference(soft):
    a, pairs, size = _batch_and_partners(40, 3)
    gen = torch.Generator().manual_seed(2)
    z = torch.randn(a.size(0), 6, dtype=torch.float64, generator=gen, requires_grad=True)
    centers = torch.randn(4, 6, dtype=torch.float64, generator=gen, requires_grad=True)
    q = student_t_assignment(z[:size], centers)
    assignment = q if soft else F.one_hot(q.detach().argmax(1), 4).double()
    ours = MetaNodeContrast(0.7)(z, assignment, pairs, anchors=size)
    pos = (torch.exp(dense_masked_cosine(z) / 0.7) * a)[:size].sum(1)
    c = assignment.T @ z[:size]
    c = c[assignment.detach().sum(0) > 0]
    ref = -torch.log(pos).mean() + torch.log(torch.exp(dense_masked_cosine(c) / 0.7).sum(1)).mean()
    assert torch.allclose(ours, ref, atol=1e-9)
    params = [z, centers] if soft else [z]
    for g_ours, g_ref in zip(torch.autograd.grad(ours, params, retain_graph=True), torch.autograd.grad(ref, params)):
        assert torch.allclose(g_ours, g_ref, atol=1e-9)
    with pytest.raises(InvalidArgumentError, match="assignment must be"):
        MetaNodeContrast(0.7)(z, assignment, pairs)  # [B, K] assignments need anchors=B


def test_meta_node_contrast_with_an_empty_cluster_is_finite():
    z = torch.randn(12, 4, requires_grad=True)
    assignment = F.one_hot(torch.tensor([0, 1] * 6), 3).float()  # cluster 2 is empty
    pairs = PositivePairs.from_coo(*adjacency_power(random_graph(12, 20, 0), 12, 1), 12)
    loss = MetaNodeContrast(0.5)(z, assignment, pairs)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()


def test_positives_must_cover_every_node_and_match_the_embeddings():
    with pytest.raises(InvalidArgumentError, match="no positive"):
        PositivePairs.from_coo(torch.tensor([[0, 1], [1, 0]]), torch.ones(2), 5)
    with pytest.raises(InvalidArgumentError, match="outside 0..4"):
        PositivePairs.from_coo(torch.tensor([[0, 5], [1, 0]]), torch.ones(2), 5)
    with pytest.raises(InvalidArgumentError, match="NaN"):
        PositivePairs.from_coo(torch.tensor([[0, 1], [1, 0]]), torch.tensor([1.0, float("nan")]), 2)
    with pytest.raises(InvalidArgumentError, match=r"index \[2, P\]"):
        PositivePairs.from_coo(torch.tensor([0, 1]), torch.ones(2), 5)
    pairs = PositivePairs.from_coo(*adjacency_power(random_graph(5, 8, 0), 5, 1), 5)
    with pytest.raises(InvalidArgumentError, match="built for 5 nodes"):
        NeighbourContrast(1.0)(torch.randn(6, 3), pairs)


def test_positive_pairs_coalesce_and_index_the_transpose():
    index = torch.tensor([[2, 0, 2, 1, 0, 2], [0, 1, 0, 2, 0, 2]])
    weight = torch.tensor([0.5, 1.0, 0.25, 2.0, 3.0, 0.0])  # (2, 0) twice, (2, 2) weightless
    pairs = PositivePairs.from_coo(index, weight, 3)
    assert pairs.index.tolist() == [[0, 0, 1, 2], [0, 1, 2, 0]]
    assert pairs.weight.tolist() == [3.0, 1.0, 2.0, 0.75] and pairs.ptr.tolist() == [0, 2, 3, 4]
    by_column = pairs.index[:, pairs.transpose_order]
    assert by_column[1].tolist() == [0, 0, 1, 2] and pairs.transpose_ptr.tolist() == [0, 2, 3, 4]


@pytest.mark.parametrize("tau", [0.05, 1.0])
def test_log_positive_mass_matches_dense_log_sum_exp(tau):
    n = 17
    index, weight = adjacency_power(random_graph(n, 40, 3), n, 2, cumulative=True)
    pairs = PositivePairs.from_coo(index, weight.double(), n)
    z = F.normalize(torch.randn(n, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)), dim=1)
    a = torch.from_numpy(to_dense(index, weight, n))
    logits = (z @ z.T).fill_diagonal_(0) / tau + a.log()
    torch.testing.assert_close(log_positive_mass(z, pairs, tau), torch.logsumexp(logits, dim=1))
    assert torch.autograd.gradcheck(lambda t: log_positive_mass(t, pairs, tau), (z.requires_grad_(),))
    pairs32 = PositivePairs.from_coo(index, weight, n)
    torch.testing.assert_close(log_positive_mass(z.detach().float(), pairs32, tau),
                               torch.logsumexp(logits, dim=1).float(), rtol=1e-5, atol=1e-5)
    z16 = z.detach().bfloat16().requires_grad_()
    out = log_positive_mass(z16, pairs32, tau)
    out.sum().backward()
    assert out.dtype == torch.float32 and z16.grad.dtype == torch.bfloat16 and torch.isfinite(z16.grad.float()).all()
    torch.testing.assert_close(out, torch.logsumexp(logits, dim=1).float(), rtol=0.05, atol=0.05 / tau)


def test_student_t_target_and_kl_match_their_formulas():
    gen = torch.Generator().manual_seed(0)
    z, mu = torch.randn(20, 5, generator=gen, dtype=torch.float64), torch.randn(3, 5, generator=gen, dtype=torch.float64)
    naive = 1.0 / (1.0 + ((z[:, None] - mu[None]) ** 2).sum(2))
    naive = naive / naive.sum(1, keepdim=True)
    q = student_t_assignment(z, mu)
    assert torch.allclose(q, naive, atol=1e-12)
    p = target_distribution(q)
    w = q ** 2 / q.sum(0)
    assert torch.allclose(p, w / w.sum(1, keepdim=True)) and torch.allclose(p.sum(1), torch.ones(20, dtype=p.dtype))
    kl = ClusteringKL()(q, p)
    assert torch.allclose(kl, (p * (p / q).log()).sum() / 20)


def naive_concentration(z, labels, centroids, temperature, alpha=10.0):
    k = centroids.size(0)
    phi = []
    for c in range(k):
        members = [i for i in range(z.size(0)) if labels[i] == c]
        if len(members) <= 1:
            phi.append(None)
            continue
        dist = sum(float(torch.linalg.norm(z[i] - centroids[c])) for i in members)
        phi.append(dist / (len(members) * math.log(len(members) + alpha)))
    biggest = max(p for p in phi if p is not None)
    phi = torch.tensor([biggest if p is None else p for p in phi], dtype=torch.float64)
    low, high = torch.quantile(phi, 0.1), torch.quantile(phi, 0.9)
    phi = phi.clamp(low, high)
    return temperature * phi / phi.mean()


def test_prototype_concentration_equals_the_pcl_formula():
    from graphcl.losses import prototype_concentration
    g = torch.Generator().manual_seed(0)
    z = torch.randn(40, 3, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 6, (40,), generator=g)
    labels[labels == 5] = 4
    labels[0] = 5  # a singleton cluster
    centroids = torch.stack([z[labels == c].mean(0) for c in range(6)])
    got = prototype_concentration(z, labels, centroids, temperature=0.5)
    assert torch.allclose(got, naive_concentration(z, labels, centroids, 0.5), atol=1e-12)
    assert got.mean().item() == pytest.approx(0.5)


def test_prototype_concentration_meow_form_equals_the_official_density():
    """MEOW's run_kmeans: mean of sqrt(inner product with the centroid) / log(n + 5), singletons take
    the maximum, clipped to the 10 / 90 % percentiles, scaled to mean tau (numpy, as the official code)."""
    from graphcl.losses import prototype_concentration
    g = torch.Generator().manual_seed(1)
    z = torch.nn.functional.normalize(torch.randn(50, 4, generator=g, dtype=torch.float64), dim=1)
    labels = torch.randint(0, 7, (50,), generator=g)
    labels[3] = 7  # a singleton
    centroids = torch.stack([z[labels == c].mean(0) for c in range(8)])
    sims = (z * centroids[labels]).sum(1).numpy()
    density = np.zeros(8)
    for c in range(8):
        members = sims[labels.numpy() == c]
        if len(members) > 1:
            density[c] = (np.clip(members, 0, None) ** 0.5).mean() / np.log(len(members) + 5)
    density[[c for c in range(8) if (labels == c).sum() <= 1]] = density.max()
    density = density.clip(np.percentile(density, 10), np.percentile(density, 90))
    expected = 0.4 * density / density.mean()
    got = prototype_concentration(z, labels, centroids, 0.4, alpha=5.0, form="meow")
    assert np.allclose(got.numpy(), expected, atol=1e-12)
    assert not torch.allclose(got, prototype_concentration(z, labels, centroids, 0.4, alpha=5.0))
    with pytest.raises(InvalidArgumentError, match="form"):
        prototype_concentration(z, labels, centroids, 0.4, form="faiss")


def test_protonce_equals_a_naive_loop_in_value_and_gradient():
    from graphcl.losses import ProtoNCE
    g = torch.Generator().manual_seed(2)
    z = torch.randn(15, 4, generator=g, dtype=torch.float64, requires_grad=True)
    clusterings = []
    for k in (3, 5):
        labels = torch.randint(0, k, (15,), generator=g)
        centroids = torch.randn(k, 4, generator=g, dtype=torch.float64)
        phi = torch.rand(k, generator=g, dtype=torch.float64) + 0.2
        clusterings.append((labels, centroids, phi))
    loss = ProtoNCE()(z, clusterings)
    expected = 0
    for labels, centroids, phi in clusterings:
        c = centroids / centroids.norm(dim=1, keepdim=True)
        terms = []
        for i in range(15):
            u = z[i] / z[i].norm()
            logits = torch.stack([u @ c[k] / phi[k] for k in range(c.size(0))])
            terms.append(-(logits[labels[i]] - torch.logsumexp(logits, 0)))
        expected = expected + torch.stack(terms).mean()
    expected = expected / 2
    assert torch.allclose(loss, expected, atol=1e-12)
    (ga,) = torch.autograd.grad(loss, z)
    (gb,) = torch.autograd.grad(expected, z)
    assert torch.allclose(ga, gb, atol=1e-12)
    with pytest.raises(InvalidArgumentError, match="at least one clustering"):
        ProtoNCE()(z, [])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("two_views", [False, True])
def test_log_positive_mass_on_cuda_matches_cpu(two_views):
    n = 40
    pairs = PositivePairs.from_coo(*adjacency_power(random_graph(n, 120, 5), n, 2, cumulative=True), n)
    gen = torch.Generator().manual_seed(2)
    a = F.normalize(torch.randn(n, 6, generator=gen), dim=1).requires_grad_()
    b = F.normalize(torch.randn(n, 6, generator=gen), dim=1).requires_grad_()
    results = []
    for device in ("cpu", "cuda"):
        x, y = a.detach().to(device).requires_grad_(), b.detach().to(device).requires_grad_()
        out = log_positive_mass(x, pairs.to(device), 0.5, others=y if two_views else None)
        out.square().sum().backward()
        results.append([t.cpu() for t in (out, x.grad, *([y.grad] if two_views else []))])
    for cpu, cuda in zip(*results):
        torch.testing.assert_close(cuda, cpu, rtol=1e-4, atol=1e-5)


def _official_sinkhorn(out, epsilon, iterations):
    """SwAV's distributed_sinkhorn (facebookresearch/swav main_swav.py) on one process."""
    q = torch.exp(out / epsilon).t()
    q /= q.sum()
    k, b = q.shape
    for _ in range(iterations):
        q /= q.sum(dim=1, keepdim=True)
        q /= k
        q /= q.sum(dim=0, keepdim=True)
        q /= b
    q *= b
    return q.t()


def test_sinkhorn_matches_swavs_and_equipartitions():
    from graphcl.losses import sinkhorn_knopp

    scores = F.normalize(torch.randn(40, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0)), dim=1)
    ours = sinkhorn_knopp(scores, 0.05, 3)
    assert torch.allclose(ours, _official_sinkhorn(scores, 0.05, 3), atol=1e-10)
    assert torch.allclose(ours.sum(1), torch.ones(40, dtype=torch.float64))
    many = sinkhorn_knopp(scores, 0.05, 50)
    spread = lambda q: float((q.sum(0) - 40 / 6).abs().max())  # noqa: E731
    assert spread(many) < 0.02 < spread(ours)  # the iterations even out the clusters' masses
    assert torch.isfinite(sinkhorn_knopp(scores * 1e3, 0.01, 3)).all()  # the log domain does not overflow


def test_swapped_prototype_loss_matches_a_naive_loop():
    from graphcl.losses import SwappedPrototypeLoss

    gen = torch.Generator().manual_seed(1)
    loss = SwappedPrototypeLoss(5, 4, tau=0.2, epsilon=0.1).double()
    z1 = torch.randn(9, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    z2 = torch.randn(9, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    ours = loss(z1, z2)
    c = loss.prototypes.weight / loss.prototypes.weight.norm(dim=1, keepdim=True)
    total = 0
    for a, b in ((z1, z2), (z2, z1)):
        sa, sb = (a / a.norm(dim=1, keepdim=True)) @ c.t(), (b / b.norm(dim=1, keepdim=True)) @ c.t()
        qb = _official_sinkhorn(sb.detach(), 0.1, 3)
        for i in range(9):
            log_p = sa[i] / 0.2 - torch.log(torch.exp(sa[i] / 0.2).sum())
            total = total - (qb[i] * log_p).sum()
    ref = total / 18
    assert torch.allclose(ours, ref, atol=1e-10)
    params = (z1, z2, loss.prototypes.weight)
    for g_ours, g_ref in zip(torch.autograd.grad(ours, params, retain_graph=True), torch.autograd.grad(ref, params)):
        assert torch.allclose(g_ours, g_ref, atol=1e-10)
    assert loss.assign(z1).shape == (9,)
