"""Weighted negatives (MEOW's cluster-disagreement weights) in the chunked InfoNCE, against dense references."""
import pytest
import torch
import torch.nn.functional as F

from graphcl.errors import InvalidArgumentError
from graphcl.losses import DCL, ClusterDisagreement, InfoNCE, chunked_logsumexp


def assignments(n: int, ks=(2, 3, 5), seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(0, k, (n,), generator=g) for k in ks])


def dense_weights(a: torch.Tensor) -> torch.Tensor:
    return (a[:, :, None] != a[:, None, :]).sum(0).double()


def test_cluster_disagreement_counts_the_clusterings_that_separate_two_nodes():
    a = assignments(9)
    w = ClusterDisagreement(a)
    full = torch.cat([w.block(slice(0, 4)), w.block(slice(4, 9))])
    assert torch.equal(full.double(), dense_weights(a))
    assert torch.equal(full, full.t()) and (full.diagonal() == 0).all() and full.max() <= 3
    assert torch.allclose(ClusterDisagreement(a, normalize=True).block(slice(0, 9)), full / 3)
    with pytest.raises(InvalidArgumentError, match="integer tensor"):
        ClusterDisagreement(torch.rand(2, 5))


@pytest.mark.parametrize("n,chunk", [(7, 3), (12, 5), (12, 12), (13, 1)])
def test_weighted_chunked_logsumexp_equals_dense(n, chunk):
    g = torch.Generator().manual_seed(n + chunk)
    a = F.normalize(torch.randn(n, 4, generator=g, dtype=torch.float64), dim=1).requires_grad_()
    b = F.normalize(torch.randn(n, 4, generator=g, dtype=torch.float64), dim=1).requires_grad_()
    w = ClusterDisagreement(assignments(n, seed=n))
    tau = 0.3
    got = chunked_logsumexp(a, [a, b], [True, False], tau, chunk, weights=[w, w])
    wd = dense_weights(w.assignments)
    sa, sb = a @ a.t() / tau, b.new_zeros(0)
    sa = sa.masked_fill(torch.eye(n, dtype=torch.bool), float("-inf"))
    sb = a @ b.t() / tau
    expected = torch.logsumexp(torch.cat([sa + wd.log(), sb + wd.log()], dim=1), dim=1)
    assert torch.allclose(got, expected, atol=1e-10)
    coef = torch.randn(n, generator=g, dtype=torch.float64)
    grads = torch.autograd.grad((got * coef).sum(), [a, b])
    expected_grads = torch.autograd.grad((expected * coef).sum(), [a, b])
    for x, y in zip(grads, expected_grads):
        assert torch.allclose(x, y, atol=1e-10)


def test_weighted_rows_that_underflow_are_recomputed_exactly():
    """The kernel shifts by the unweighted row maximum; when that maximum has weight 0 and every
    weighted term lies far below it (e^-300 underflows in float32), the row is recomputed in the log
    domain, and the backward stays finite where a weight is 0 and s - lse is huge."""
    n, tau = 6, 0.005
    b = torch.cat([torch.eye(3), -torch.eye(3)])[[0, 3, 1, 4, 2, 5]].requires_grad_()  # b_0 = e_1, the rest <= 0 to it
    a = F.normalize(torch.cat([torch.eye(3)[:1], torch.randn(n - 1, 3, generator=torch.Generator().manual_seed(0))]),
                    dim=1).requires_grad_()
    labels = torch.tensor([[0, 1, 2, 3, 4, 5]])
    got = chunked_logsumexp(a, [b], [False], tau, chunk_size=4, weights=[ClusterDisagreement(labels)])
    ad, bd = a.detach().double().requires_grad_(), b.detach().double().requires_grad_()
    expected = torch.logsumexp(ad @ bd.t() / tau + dense_weights(labels).log(), dim=1)
    assert torch.isfinite(got).all()
    assert torch.allclose(got.double(), expected, rtol=1e-5)
    grads = torch.autograd.grad(got.sum(), [a, b])
    expected_grads = torch.autograd.grad(expected.sum(), [ad, bd])
    for x, y in zip(grads, expected_grads):
        assert torch.isfinite(x).all()
        assert torch.allclose(x.double(), y, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("tau", [0.2, 1.0])
def test_meow_loss_equals_the_official_dense_formula(tau):
    """MEOW: -mean_i log(exp(s_ii) / sum_j w_ij exp(s_ij)), anchor = coarse view, no intra-view term."""
    n = 11
    g = torch.Generator().manual_seed(3)
    z1 = torch.randn(n, 5, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(n, 5, generator=g, dtype=torch.float64, requires_grad=True)
    a = assignments(n, ks=(2, 4), seed=5)
    loss = InfoNCE(tau, intra_view_negatives=False, symmetric=False, chunk_size=4)(z1, z2, ClusterDisagreement(a))
    u, v = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    dots = torch.exp(u @ v.t() / tau)
    expected = -torch.log(dots.diagonal() / (dots * dense_weights(a)).sum(1)).mean()
    assert torch.allclose(loss, expected, atol=1e-10)
    for x, y in zip(torch.autograd.grad(loss, [z1, z2]), torch.autograd.grad(expected, [z1, z2])):
        assert torch.allclose(x, y, atol=1e-10)


def test_all_distinct_clusters_reduce_weighted_infonce_to_dcl():
    """One clustering with a cluster per node: w_ij = 1 - [i = j], i.e. the positive leaves the denominator."""
    n = 10
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(n, 6, generator=g, dtype=torch.float64), torch.randn(n, 6, generator=g, dtype=torch.float64)
    w = ClusterDisagreement(torch.arange(n)[None])
    weighted = InfoNCE(0.5, chunk_size=3)(z1, z2, w)
    assert torch.allclose(weighted, DCL(0.5)(z1, z2), atol=1e-10)
    assert not torch.allclose(weighted, InfoNCE(0.5)(z1, z2))


def test_anchors_without_weighted_negatives_get_a_clear_error():
    z = torch.randn(6, 3)
    same = ClusterDisagreement(torch.zeros(2, 6, dtype=torch.long))
    with pytest.raises(InvalidArgumentError, match="no negative with a non-zero weight"):
        InfoNCE(0.5, intra_view_negatives=False, symmetric=False)(z, z.clone(), same)
    with pytest.raises(InvalidArgumentError, match="weights cover 5 nodes"):
        InfoNCE(0.5)(z, z.clone(), ClusterDisagreement(torch.zeros(1, 5, dtype=torch.long)))


def official_adameow_loss(a, v, mlp_first, mlp_second, tau):
    """AdaMEOW's weight_InfoNce as the official code computes it: an [N^2, d] tensor of pair sums."""
    n = a.size(0)
    dots = torch.exp(a @ v.t() / tau)
    pairs = (a[:, None, :] + v[None, :, :]).reshape(n * n, -1)
    weight = torch.sigmoid(mlp_second(torch.tanh(mlp_first(pairs)))).reshape(n, n)
    return -torch.log(dots.diagonal() / (dots * weight).sum(1)).mean()


@pytest.mark.parametrize("n,chunk", [(9, 4), (9, 9), (10, 1)])
def test_learned_weight_infonce_equals_the_official_dense_loss(n, chunk):
    from graphcl.losses import LearnedWeightInfoNCE
    torch.manual_seed(n + chunk)
    loss_fn = LearnedWeightInfoNCE(6, tau=0.4, hidden=5, chunk_size=chunk).double()
    z1 = torch.randn(n, 6, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(n, 6, dtype=torch.float64, requires_grad=True)
    loss = loss_fn(z1, z2)
    expected = official_adameow_loss(F.normalize(z1, dim=1), F.normalize(z2, dim=1), loss_fn.weights.first,
                                      loss_fn.weights.second, 0.4)
    assert torch.allclose(loss, expected, atol=1e-10)
    params = [z1, z2, *loss_fn.parameters()]
    for x, y in zip(torch.autograd.grad(loss, params), torch.autograd.grad(expected, params)):
        assert torch.allclose(x, y, atol=1e-10)


def test_learned_pair_weights_are_the_mlp_of_pair_sums():
    from graphcl.losses import LearnedPairWeights
    torch.manual_seed(0)
    w = LearnedPairWeights(4, hidden=3)
    a, z = torch.randn(5, 4), torch.randn(6, 4)
    dense = torch.sigmoid(w.second(torch.tanh(w.first(a[:, None, :] + z[None, :, :])))).squeeze(-1)
    assert torch.allclose(w(a, z), dense, atol=1e-6) and w(a, z).shape == (5, 6)


def heco_dense_loss(z_mp, z_sc, pos, tau, lam):
    """HeCo's Contrast.forward (normalised rows, exp(cos / tau), row-normalised, positive mass)."""
    a, b = F.normalize(z_mp, dim=1), F.normalize(z_sc, dim=1)
    sim = torch.exp(a @ b.t() / tau)
    mp2sc = sim / sim.sum(1, keepdim=True)
    sc2mp = sim.t() / sim.t().sum(1, keepdim=True)
    return lam * -torch.log((mp2sc * pos).sum(1)).mean() + (1 - lam) * -torch.log((sc2mp * pos).sum(1)).mean()


@pytest.mark.parametrize("chunk", [3, None])
def test_multi_positive_infonce_equals_hecos_dense_contrast(chunk):
    from graphcl.losses import MultiPositiveInfoNCE, PositivePairs
    n = 12
    g = torch.Generator().manual_seed(chunk or 0)
    z1 = torch.randn(n, 5, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(n, 5, generator=g, dtype=torch.float64, requires_grad=True)
    pos = (torch.rand(n, n, generator=g) < 0.25).double()
    pos.fill_diagonal_(1)
    pairs = PositivePairs.from_coo(pos.nonzero().t(), torch.ones(int(pos.sum())), n)
    loss = MultiPositiveInfoNCE(tau=0.7, lam=0.3, chunk_size=chunk)(z1, z2, pairs)
    expected = heco_dense_loss(z1, z2, pos, 0.7, 0.3)
    assert torch.allclose(loss, expected, atol=1e-10)
    for x, y in zip(torch.autograd.grad(loss, [z1, z2]), torch.autograd.grad(expected, [z1, z2])):
        assert torch.allclose(x, y, atol=1e-10)


def test_multi_positive_infonce_bad_positives():
    from graphcl.losses import MultiPositiveInfoNCE, PositivePairs
    with pytest.raises(InvalidArgumentError, match="no positive"):
        PositivePairs.from_coo(torch.tensor([[0, 1], [0, 1]]), torch.ones(2), 4)
    with pytest.raises(InvalidArgumentError, match="outside"):
        PositivePairs.from_coo(torch.tensor([[0, 1, 2, 3], [0, 1, 2, 4]]), torch.ones(4), 4)
    pairs = PositivePairs.from_coo(torch.tensor([[0, 1, 2, 3], [0, 1, 2, 3]]), torch.ones(4), 4)
    with pytest.raises(InvalidArgumentError, match="built for 4 nodes"):
        MultiPositiveInfoNCE()(torch.randn(5, 3), torch.randn(5, 3), pairs)
    with pytest.raises(InvalidArgumentError, match="lam"):
        MultiPositiveInfoNCE(lam=1.5)
