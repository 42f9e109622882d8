"""Chunked contrastive losses against naive dense references (values and gradients, float64)."""
import math

import pytest
import torch
import torch.nn.functional as F

from graphcl.errors import InvalidArgumentError
from graphcl.losses import DCL, DCLW, InfoNCE, auto_chunk_size, chunked_logsumexp


def dense_grace(z1, z2, tau, intra=True, symmetric=True):
    """GRACE's semi_loss written out with the full N x N matrices."""
    def semi(a, b):
        a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
        refl = torch.exp(a @ a.t() / tau)
        between = torch.exp(a @ b.t() / tau)
        denom = between.sum(1) + (refl.sum(1) - refl.diag() if intra else 0)
        return -torch.log(between.diag() / denom)
    loss = semi(z1, z2)
    if symmetric:
        loss = 0.5 * (loss + semi(z2, z1))
    return loss.mean()


def dense_dcl(z1, z2, tau, sigma=None, intra=True):
    """The official DCL/DCLW formula with the full matrices (mean of the two directions)."""
    def one(a, b):
        a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
        cross = a @ b.t()
        pos = -cross.diag() / tau
        if sigma is not None:
            pos = pos * (2 - a.size(0) * torch.softmax((a * b).sum(1) / sigma, dim=0))
        eye = torch.eye(a.size(0), dtype=torch.bool)
        blocks = [cross / tau]
        if intra:
            blocks.insert(0, a @ a.t() / tau)
        neg = torch.cat([blk.masked_fill(eye, float("-inf")) for blk in blocks], dim=1)
        return pos + torch.logsumexp(neg, dim=1)
    return (0.5 * (one(z1, z2) + one(z2, z1))).mean()


def _pair(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)
    return z1, z2


def _compare(loss_fn, ref_fn, n, d, seed):
    z1, z2 = _pair(n, d, seed)
    ours = loss_fn(z1, z2)
    g1, g2 = torch.autograd.grad(ours, (z1, z2))
    ref = ref_fn(z1, z2)
    r1, r2 = torch.autograd.grad(ref, (z1, z2))
    assert torch.allclose(ours.double(), ref, atol=1e-9, rtol=1e-9)
    assert torch.allclose(g1, r1, atol=1e-9, rtol=1e-7)
    assert torch.allclose(g2, r2, atol=1e-9, rtol=1e-7)


@pytest.mark.parametrize("n,d,tau,chunk", [(2, 3, 0.5, 1), (7, 4, 0.2, 3), (33, 16, 0.5, 8),
                                            (50, 8, 1.0, 50), (64, 5, 0.07, 7), (101, 32, 0.9, None)])
@pytest.mark.parametrize("intra", [True, False])
def test_infonce_matches_dense(n, d, tau, chunk, intra):
    _compare(InfoNCE(tau, intra_view_negatives=intra, chunk_size=chunk),
             lambda a, b: dense_grace(a, b, tau, intra), n, d, seed=n)


def test_infonce_one_direction():
    _compare(InfoNCE(0.3, symmetric=False, chunk_size=4), lambda a, b: dense_grace(a, b, 0.3, symmetric=False),
             23, 6, seed=1)


def dense_grace_extra_negatives(z1, z2, tau, anchors, intra=True, symmetric=True):
    """GRACE's loss over the first ``anchors`` rows, every row of both views a negative."""
    def semi(a, b):
        a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
        between = torch.exp(a[:anchors] @ b.t() / tau)
        refl = torch.exp(a[:anchors] @ a.t() / tau)
        own = refl[torch.arange(anchors), torch.arange(anchors)]
        denom = between.sum(1) + (refl.sum(1) - own if intra else 0)
        return -torch.log(between[torch.arange(anchors), torch.arange(anchors)] / denom)
    loss = semi(z1, z2)
    if symmetric:
        loss = 0.5 * (loss + semi(z2, z1))
    return loss.mean()


@pytest.mark.parametrize("n,anchors,chunk", [(9, 4, 3), (30, 30, 7), (41, 1, None), (64, 20, 5)])
@pytest.mark.parametrize("intra,symmetric", [(True, True), (False, True), (True, False)])
def test_infonce_with_extra_negatives_matches_dense(n, anchors, chunk, intra, symmetric):
    loss = InfoNCE(0.4, intra_view_negatives=intra, symmetric=symmetric, chunk_size=chunk)
    _compare(lambda a, b: loss(a, b, anchors=anchors),
             lambda a, b: dense_grace_extra_negatives(a, b, 0.4, anchors, intra, symmetric), n, 6, seed=n)
    if anchors == n:  # no extra rows: the plain loss
        z1, z2 = _pair(n, 6, 0)
        assert torch.allclose(loss(z1, z2, anchors=n), loss(z1, z2), atol=1e-12)
    with pytest.raises(InvalidArgumentError, match="anchors must be a number of rows"):
        loss(*_pair(n, 6, 0), anchors=0)


@pytest.mark.parametrize("n,tau,chunk", [(5, 0.1, 2), (31, 0.5, 6), (40, 0.2, None)])
@pytest.mark.parametrize("intra", [True, False])
def test_dcl_matches_dense(n, tau, chunk, intra):
    _compare(DCL(tau, intra_view_negatives=intra, chunk_size=chunk), lambda a, b: dense_dcl(a, b, tau, intra=intra),
             n, 8, seed=n + 1)


@pytest.mark.parametrize("n,sigma,chunk", [(6, 0.5, 4), (29, 0.3, 5)])
def test_dclw_matches_dense(n, sigma, chunk):
    _compare(DCLW(0.2, sigma=sigma, chunk_size=chunk), lambda a, b: dense_dcl(a, b, 0.2, sigma=sigma), n, 8, seed=n)


def test_chunked_logsumexp_with_same_tensor_twice():
    """Passing the anchor as its own candidate set must sum both gradient paths."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(9, 4, dtype=torch.float64, generator=g, requires_grad=True)
    lse = chunked_logsumexp(a, [a, a], [True, False], 0.5, chunk_size=2)
    s = a @ a.t() / 0.5
    ref = torch.logsumexp(torch.cat([s.masked_fill(torch.eye(9, dtype=torch.bool), float("-inf")), s], 1), 1)
    w = torch.arange(9, dtype=torch.float64)
    ours_g, = torch.autograd.grad((lse * w).sum(), a)
    ref_g, = torch.autograd.grad((ref * w).sum(), a)
    assert torch.allclose(lse.double(), ref, atol=1e-10)
    assert torch.allclose(ours_g, ref_g, atol=1e-10)


def test_loss_is_finite_for_identical_views_and_low_temperature():
    z = torch.randn(20, 4, dtype=torch.float64)
    for loss in (InfoNCE(0.01, chunk_size=3), DCL(0.01), DCLW(0.01)):
        assert torch.isfinite(loss(z, z.clone()))


def test_auto_chunk_size_fits_the_budget_in_equal_chunks():
    from graphcl.losses.chunked import DEFAULT_MEMORY_BUDGET

    assert auto_chunk_size(10, 20) == 10
    for n, entries in [(100_000, 400_000), (2_708, 4 * 2_708), (5_000, 4 * 5_000), (50_000, 200_000)]:
        chunk = auto_chunk_size(n, entries)
        assert chunk * entries * 4 <= DEFAULT_MEMORY_BUDGET
        chunks = -(-n // chunk)
        assert chunks == -(-n // (DEFAULT_MEMORY_BUDGET // (4 * entries))) or chunk == n  # no more chunks than needed
        assert chunks * chunk - n < chunks  # even: the last chunk is at most one row per chunk short
    assert auto_chunk_size(2_708, 4 * 2_708, memory_budget=4 * 2_708 * 4 * 2_065) == 1_354
    assert auto_chunk_size(5, 10 ** 12) == 1


def test_float32_matches_float64_closely():
    z1, z2 = _pair(40, 8, 3)
    l64 = InfoNCE(0.5, chunk_size=7)(z1, z2)
    l32 = InfoNCE(0.5, chunk_size=7)(z1.float(), z2.float())
    assert abs(l64.item() - l32.item()) < 1e-4


@pytest.mark.parametrize("bad", [
    lambda: InfoNCE(0.0),
    lambda: DCLW(0.5, sigma=-1),
    lambda: InfoNCE()(torch.randn(1, 3), torch.randn(1, 3)),
    lambda: InfoNCE()(torch.randn(4, 3), torch.randn(5, 3)),
    lambda: InfoNCE()(torch.tensor([[float("nan"), 1.0], [0.0, 1.0]]), torch.randn(2, 2)),
    lambda: InfoNCE(chunk_size=0)(torch.randn(4, 3), torch.randn(4, 3)),
])
def test_bad_input_raises_clear_error(bad):
    with pytest.raises((InvalidArgumentError, ValueError)):
        bad()


@pytest.mark.parametrize("intra,exclude,chunk", [(True, False, 3), (False, True, 4), (True, True, 5), (False, False, 64),
                                               (True, False, 64), (True, True, None)])
def test_two_view_logsumexp_both_outputs_match_dense(intra, exclude, chunk):
    from graphcl.losses.chunked import two_view_logsumexp
    n, tau = 17, 0.3
    u, v = _pair(n, 5, 11)
    eye = torch.eye(n, dtype=torch.bool)
    cross = (u @ v.t() / tau).masked_fill(eye, float("-inf")) if exclude else u @ v.t() / tau
    ref_u = torch.cat([cross] + ([(u @ u.t() / tau).masked_fill(eye, float("-inf"))] if intra else []), 1)
    ref_v = torch.cat([cross.t()] + ([(v @ v.t() / tau).masked_fill(eye, float("-inf"))] if intra else []), 1)
    w_u, w_v = torch.linspace(0.5, 2, n, dtype=torch.float64), torch.linspace(3, -1, n, dtype=torch.float64)
    lse_u, lse_v = two_view_logsumexp(u, v, tau, intra, exclude, chunk_size=chunk)
    ours = (lse_u * w_u).sum() + (lse_v * w_v).sum()
    ref = (torch.logsumexp(ref_u, 1) * w_u).sum() + (torch.logsumexp(ref_v, 1) * w_v).sum()
    assert torch.allclose(ours, ref, atol=1e-10)
    for a, b in zip(torch.autograd.grad(ours, (u, v)), torch.autograd.grad(ref, (u, v), retain_graph=True)):
        assert torch.allclose(a, b, atol=1e-10)
    # Only one output used: the other's gradient is zero, not missing.
    g = torch.autograd.grad(two_view_logsumexp(u, v, tau, intra, exclude, chunk_size=chunk)[1].sum(), (u, v))
    r = torch.autograd.grad(torch.logsumexp(ref_v, 1).sum(), (u, v))
    assert all(torch.allclose(a, b, atol=1e-10) for a, b in zip(g, r))


@pytest.mark.parametrize("chunk", [None, 5])
def test_two_view_backward_twice_with_a_retained_graph_gives_the_same_gradients(chunk):
    # one chunk keeps the forward's blocks for backward and consumes them; a second backward recomputes
    z1, z2 = (t.float().detach().requires_grad_() for t in _pair(23, 6, 4))
    loss = InfoNCE(0.5, chunk_size=chunk)(z1, z2)
    first = torch.autograd.grad(loss, (z1, z2), retain_graph=True)
    second = torch.autograd.grad(loss, (z1, z2))
    reference = torch.autograd.grad(dense_grace(z1.double(), z2.double(), 0.5), (z1, z2))
    for a, b, r in zip(first, second, reference):
        assert torch.allclose(a, b, atol=1e-6) and torch.allclose(a, r, atol=1e-5)


@pytest.mark.parametrize("chunk", [None, 4])
def test_a_loss_module_reusing_its_workspace_gives_each_call_its_own_gradients(chunk):
    import copy

    loss = InfoNCE(0.5, chunk_size=chunk)
    pairs = [tuple(t.float().detach().requires_grad_() for t in _pair(19, 5, seed)) for seed in (1, 2, 3)]
    with torch.no_grad():  # a forward without backward holds nothing
        loss(*pairs[2])
    first, second = loss(*pairs[0]), loss(*pairs[1])  # two graphs pending at once
    grads = torch.autograd.grad(second, pairs[1]) + torch.autograd.grad(first, pairs[0])
    refs = (torch.autograd.grad(dense_grace(*(t.double() for t in pairs[1]), 0.5), pairs[1])
            + torch.autograd.grad(dense_grace(*(t.double() for t in pairs[0]), 0.5), pairs[0]))
    for g, r in zip(grads, refs):
        assert torch.allclose(g, r, atol=1e-5)
    del first, second
    again = loss(*pairs[0])  # the claims lapsed with their graphs: the shared buffer serves again
    assert torch.allclose(torch.autograd.grad(again, pairs[0])[0], refs[2], atol=1e-5)
    twin = copy.deepcopy(loss)
    assert twin._workspace is not loss._workspace and twin._workspace._buffer is None
    assert "_workspace" not in "".join(loss.state_dict())


@pytest.mark.parametrize("budget", [None, 64])  # one block kept for backward / chunks of a few rows
def test_chunked_logsumexp_through_a_workspace_equals_dense_over_pending_and_repeated_backwards(budget):
    """Calls sharing one workspace while both backwards are pending, a second backward of a retained
    graph and a later call reusing the buffer all give the dense values and gradients."""
    from graphcl.losses.chunked import ChunkWorkspace

    g = torch.Generator().manual_seed(3)
    anchors = [torch.randn(n, 6, dtype=torch.float64, generator=g, requires_grad=True) for n in (7, 11)]
    cand = torch.randn(13, 6, dtype=torch.float64, generator=g, requires_grad=True)
    weight = torch.arange(1.0, 14.0, dtype=torch.float64)[:11]
    options = {"memory_budget": budget * 8 * 13} if budget else {}
    workspace = ChunkWorkspace()
    outs = [chunked_logsumexp(a, [cand], [False], 0.3, workspace=workspace, **options) for a in anchors]
    refs = [torch.logsumexp(a @ cand.t() / 0.3, 1) for a in anchors]
    for out, ref in zip(outs, refs):
        assert torch.allclose(out, ref, atol=1e-10)
    for repeat in range(2):  # the second backward of the retained graph recomputes what forward kept
        for out, ref, a in zip(outs, refs, anchors):
            w = weight[:a.size(0)]
            ours = torch.autograd.grad((out * w).sum(), (a, cand), retain_graph=True)
            theirs = torch.autograd.grad((ref * w).sum(), (a, cand), retain_graph=True)
            assert all(torch.allclose(x, y, atol=1e-10) for x, y in zip(ours, theirs)), repeat
    del outs
    again = chunked_logsumexp(anchors[1], [cand], [False], 0.3, workspace=workspace, **options)
    assert workspace._buffer is not None and torch.allclose(again, refs[1], atol=1e-10)
    ours = torch.autograd.grad(again.sum(), cand)[0]
    assert torch.allclose(ours, torch.autograd.grad(refs[1].sum(), cand)[0], atol=1e-10)


def _naive_standardized(z, eps=0.0):
    """Each column minus its mean over the unbiased standard deviation, entry by entry."""
    n, d = z.shape
    cols = []
    for j in range(d):
        col = z[:, j]
        mean = sum(col[i] for i in range(n)) / n
        std = (sum((col[i] - mean) ** 2 for i in range(n)) / (n - 1)) ** 0.5
        cols.append((col - mean) / (std + eps))
    return torch.stack(cols, dim=1)


def _naive_cca_ssg(z1, z2, lambd):
    """The paper's form: ||Z1 - Z2||_F^2 / (2N) - d (N - 1) / N (the official -tr(C12)) plus lambd
    times the decorrelation, with every correlation summed entry by entry."""
    n, d = z1.shape
    h1, h2 = _naive_standardized(z1), _naive_standardized(z2)
    invariance = sum(((h1[i] - h2[i]) ** 2).sum() for i in range(n)) / (2 * n) - d * (n - 1) / n
    decorrelation = 0
    for h in (h1, h2):
        for a in range(d):
            for b in range(d):
                c = sum(h[i, a] * h[i, b] for i in range(n)) / n
                decorrelation = decorrelation + ((1.0 if a == b else 0.0) - c) ** 2
    return invariance + lambd * decorrelation


def _naive_barlow_twins(z1, z2, lambd=None):
    n, d = z1.shape
    h1, h2 = _naive_standardized(z1), _naive_standardized(z2)
    lambd = 1 / d if lambd is None else lambd
    loss = 0
    for a in range(d):
        for b in range(d):
            c = sum(h1[i, a] * h2[i, b] for i in range(n)) / n
            loss = loss + ((1 - c) ** 2 if a == b else lambd * c ** 2)
    return loss


@pytest.mark.parametrize("n,d,lambd", [(5, 3, 1e-3), (12, 4, 0.5)])
def test_cca_ssg_loss_matches_the_papers_formula(n, d, lambd):
    from graphcl.losses import CCASSGLoss

    _compare(CCASSGLoss(lambd), lambda a, b: _naive_cca_ssg(a, b, lambd), n, d, seed=n)
    with pytest.raises(InvalidArgumentError, match="at least 2 nodes"):
        CCASSGLoss()(torch.randn(1, 3), torch.randn(1, 3))


@pytest.mark.parametrize("n,d,lambd", [(6, 3, None), (10, 5, 0.2)])
def test_barlow_twins_loss_matches_the_formula(n, d, lambd):
    from graphcl.losses import BarlowTwinsLoss

    _compare(BarlowTwinsLoss(lambd), lambda a, b: _naive_barlow_twins(a, b, lambd), n, d, seed=n + 3)


def test_bootstrap_cosine_matches_the_formula():
    from graphcl.losses import BootstrapCosine

    g = torch.Generator().manual_seed(4)
    p1, p2, t1, t2 = (torch.randn(7, 5, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(4))
    ours = BootstrapCosine()(p1, p2, t1, t2)
    ref = 2 - sum(p1[i] @ t2[i] / (p1[i].norm() * t2[i].norm()) + p2[i] @ t1[i] / (p2[i].norm() * t1[i].norm())
                  for i in range(7)) / 7
    assert torch.allclose(ours, ref, atol=1e-12)
    grads = torch.autograd.grad(ours, (p1, p2, t1, t2), allow_unused=True)
    ref_grads = torch.autograd.grad(ref, (p1, p2))
    assert torch.allclose(grads[0], ref_grads[0], atol=1e-12) and torch.allclose(grads[1], ref_grads[1], atol=1e-12)
    assert grads[2] is None and grads[3] is None  # no gradient to the targets


def test_dgi_loss_is_the_binary_cross_entropy_of_its_discriminator():
    from graphcl.methods import build_method
    from conftest import planted_graph

    data = planted_graph()
    torch.manual_seed(0)
    model = build_method("dgi", data.num_features, out_channels=8)
    torch.manual_seed(1)
    loss = model.loss(data)
    torch.manual_seed(1)
    x = data.x.float()
    perm = torch.randperm(x.size(0))
    h, h_corrupt = model.encoder(x, data.edge_index), model.encoder(x[perm], data.edge_index)
    s = torch.sigmoid(h.mean(0))
    weight = model.infomax.weight
    real, fake = torch.sigmoid(h @ weight @ s), torch.sigmoid(h_corrupt @ weight @ s)
    ref = -(torch.log(real + 1e-15).mean() + torch.log(1 - fake + 1e-15).mean())
    assert torch.allclose(loss, ref, atol=1e-6)


def test_scaled_cosine_error_matches_the_formula():
    from graphcl.losses import ScaledCosineError

    g = torch.Generator().manual_seed(5)
    x_hat = torch.randn(9, 4, generator=g, dtype=torch.float64, requires_grad=True)
    x = torch.randn(9, 4, generator=g, dtype=torch.float64)
    ours = ScaledCosineError(3.0)(x_hat, x)
    ref = sum((1 - x_hat[i] @ x[i] / (x_hat[i].norm() * x[i].norm())) ** 3 for i in range(9)) / 9
    assert torch.allclose(ours, ref, atol=1e-12)
    assert torch.allclose(torch.autograd.grad(ours, x_hat)[0], torch.autograd.grad(ref, x_hat)[0], atol=1e-12)
    with pytest.raises(InvalidArgumentError, match="alpha must be >= 1"):
        ScaledCosineError(0.5)


def test_graphmae_masks_with_the_token_and_random_rows_and_reconstructs_only_the_masked():
    from graphcl.methods import build_method
    from conftest import planted_graph

    data = planted_graph()
    model = build_method("graphmae", data.num_features, out_channels=8, heads=2, mask_rate=0.5, replace_rate=0.2)
    with torch.no_grad():
        model.mask_token.fill_(7.0)
    x = data.x.float()
    torch.manual_seed(0)
    masked_x, masked = model.mask(x)
    assert masked.numel() == 60 and masked.unique().numel() == 60
    kept = torch.ones(120, dtype=torch.bool)
    kept[masked] = False
    assert torch.equal(masked_x[kept], x[kept])  # the other rows untouched
    token_rows = (masked_x[masked] == 7.0).all(dim=1)
    assert int(token_rows.sum()) == 60 - int(0.2 * 60)  # 48 [MASK] tokens, 12 rows of other nodes
    others = masked_x[masked][~token_rows]
    assert all(any(torch.equal(row, x[j]) for j in range(120)) for row in others)
    assert torch.equal(data.x.float(), x)  # the input is not modified


@pytest.mark.parametrize("heads, training", [(1, True), (2, True), (3, False)])
def test_gat_rows_equals_the_layer_on_those_rows_values_and_gradients(heads, training):
    from torch_geometric.nn import GATConv

    from graphcl.encoders.gnn import gat_rows

    g = torch.Generator().manual_seed(heads)
    x = torch.randn(30, 5, generator=g, dtype=torch.float64, requires_grad=True)
    edge_index = torch.randint(0, 30, (2, 90), generator=g)  # with self-loops and duplicates
    conv = GATConv(5, 12, heads=heads, dropout=0.3).double().train(training)
    with torch.no_grad():
        conv.bias.normal_(generator=g)
    rows = torch.randperm(30, generator=g)[:13]
    torch.manual_seed(0)
    ours = gat_rows(conv, x, edge_index, rows)
    torch.manual_seed(0)
    ref = conv(x, edge_index)[rows]  # the same dropout draws
    assert ours.shape == (13, 12 * heads) and torch.allclose(ours, ref, atol=1e-10)
    w = torch.randn(13, 12 * heads, generator=g, dtype=torch.float64)
    params = [x, *conv.parameters()]
    for a, b in zip(torch.autograd.grad((ours * w).sum(), params), torch.autograd.grad((ref * w).sum(), params)):
        assert torch.allclose(a, b, atol=1e-10)
    wide = GATConv(5, 4, heads=heads).double()  # the input is wider than a head: the layer itself
    assert torch.allclose(gat_rows(wide, x, edge_index, rows), wide(x, edge_index)[rows])


def test_gat_encoder_xavier_normal_init_survives_the_per_seed_reset():
    from graphcl.encoders import GATEncoder

    torch.manual_seed(0)
    encoder = GATEncoder(400, 256, 256, 2, heads=4, init="xavier_normal")
    for module in encoder.modules():  # as train() does for every seed: parents first, then their children
        if module is not encoder and hasattr(module, "reset_parameters"):
            module.reset_parameters()
    conv = encoder.convs[0]
    gain = 2 ** 0.5
    assert abs(conv.lin.weight.std().item() - gain * (2 / (400 + 256)) ** 0.5) < 0.003  # DGL's xavier_normal_
    assert abs(conv.att_src.std().item() - gain * (2 / (4 * 64 + 64)) ** 0.5) < 0.015
    assert float(conv.bias.abs().max()) == 0.0
    glorot = GATEncoder(400, 256, 256, 2, heads=4).convs[0].lin.weight
    assert abs(glorot.std().item() - (2 / (400 + 256)) ** 0.5) < 0.003  # PyG's default, a factor sqrt(2) apart
    with pytest.raises(InvalidArgumentError, match="init must be"):
        GATEncoder(4, 8, 8, init="kaiming")


def test_graphmae_loss_with_the_decoder_on_masked_rows_equals_the_full_decoder():
    from graphcl.methods import build_method
    from conftest import planted_graph

    data = planted_graph()
    model = build_method("graphmae", data.num_features, out_channels=8, heads=2, replace_rate=0.2).double()
    data.x = data.x.double()
    torch.manual_seed(1)
    ours = model.loss(data)
    grads = torch.autograd.grad(ours, list(model.parameters()))
    torch.manual_seed(1)  # the same steps with the whole decoder output, sliced afterwards
    x = data.x
    masked_x, masked = model.mask(x)
    h = model.encoder_to_decoder(model.encoder(masked_x, data.edge_index)).index_fill(0, masked, 0.0)
    ref = model.criterion(model.decoder(h, data.edge_index)[masked], x[masked])
    assert torch.allclose(ours, ref, atol=1e-12)
    for a, b in zip(grads, torch.autograd.grad(ref, list(model.parameters()))):
        assert torch.allclose(a, b, atol=1e-10)


def test_mvgrl_loss_is_the_official_cross_view_bce_on_dense_windows():
    import torch.nn.functional as F

    from graphcl.augment import normalized_adjacency, ppr_diffusion
    from graphcl.methods import build_method
    from conftest import planted_graph

    data = planted_graph()
    model = build_method("mvgrl", data.num_features, out_channels=8, sample_size=50, num_samples=2, eps=0.0)
    model.setup(data)
    torch.manual_seed(3)
    loss = model.loss(data)
    torch.manual_seed(3)
    starts = torch.randint(0, 120 - 50 + 1, (2,)).tolist()
    shuffle = torch.randperm(50)
    adj = normalized_adjacency(data.edge_index, 120).to_dense()
    diff = ppr_diffusion(data.edge_index, 120, 0.2, eps=0.0).to_dense()
    x = data.x.float()

    def gcn(encoder, features, matrix):  # the official GCN: act(A (X W) + b)
        conv = encoder.gnn.convs[0]
        return encoder.act(matrix @ (features @ conv.lin.weight.t()) + conv.bias)

    logits = []
    for start in starts:
        window = slice(start, start + 50)
        a, d, f = adj[window, window], diff[window, window], x[window]
        h1, h2 = gcn(model.adjacency_encoder, f, a), gcn(model.diffusion_encoder, f, d)
        c1, c2 = torch.sigmoid(h1.mean(0)), torch.sigmoid(h2.mean(0))
        h3, h4 = gcn(model.adjacency_encoder, f[shuffle], a), gcn(model.diffusion_encoder, f[shuffle], d)
        score = lambda h, c: model.discriminator(h, c.expand_as(h)).squeeze(-1)  # noqa: E731
        logits.append(torch.cat([score(h2, c1), score(h1, c2), score(h4, c1), score(h3, c2)]))
    labels = torch.cat([torch.ones(100), torch.zeros(100)]).expand(2, -1)
    assert torch.allclose(loss, F.binary_cross_entropy_with_logits(torch.stack(logits), labels), atol=1e-5)


def _dense_mochi(z1, z2, tau, k, s, q, generator, intra=True):
    """MoCHi's denominators written out: every similarity matrix in full, the hardest k negatives
    of each anchor by sorting, then the same draws as the loss (one direction after the other)."""
    def one(a, b):
        a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
        n = a.size(0)
        pool = torch.cat([a, b]) if intra else b
        first, second = torch.randint(0, k, (n, s), generator=generator), torch.randint(0, k, (n, s), generator=generator)
        alpha = torch.rand(n, s, 1, generator=generator).to(a.dtype)
        partner = torch.randint(0, k, (n, q), generator=generator)
        beta = 0.5 * torch.rand(n, q, 1, generator=generator).to(a.dtype)
        lse = []
        for i in range(n):
            scores = (a[i] @ pool.t()).detach().clone()
            scores[i + (n if intra else 0)] = float("-inf")
            if intra:
                scores[i] = float("-inf")
            hard = pool.detach()[torch.argsort(scores, descending=True)[:k]]
            mixed = F.normalize(alpha[i] * hard[first[i]] + (1 - alpha[i]) * hard[second[i]], dim=-1)
            query = F.normalize(beta[i] * a[i].detach() + (1 - beta[i]) * hard[partner[i]], dim=-1)
            terms = [torch.exp(a[i] @ b.t() / tau).sum(), torch.exp(torch.cat([mixed, query]) @ a[i] / tau).sum()]
            if intra:
                terms.append(torch.exp(a[i] @ a.t() / tau).sum() - torch.exp(a[i] @ a[i] / tau))
            lse.append(torch.log(sum(terms)) - a[i] @ b[i] / tau)
        return torch.stack(lse)
    return (0.5 * (one(z1, z2) + one(z2, z1))).mean()


@pytest.mark.parametrize("n,chunk,intra", [(12, 5, True), (20, None, True), (15, 4, False)])
def test_hard_negative_mixing_matches_dense_reference(n, chunk, intra):
    from graphcl.losses import HardMixingInfoNCE

    loss = HardMixingInfoNCE(0.5, hard_negatives=4, mixed_negatives=3, query_mixed_negatives=2,
                             intra_view_negatives=intra, chunk_size=chunk,
                             generator=torch.Generator().manual_seed(11))
    _compare(loss, lambda a, b: _dense_mochi(a, b, 0.5, 4, 3, 2, torch.Generator().manual_seed(11), intra),
             n, 6, seed=n)
    z1, z2 = _pair(n, 6, 1)
    plain = InfoNCE(0.5, intra_view_negatives=intra)(z1, z2)
    assert loss(z1, z2) > plain  # extra denominator terms raise the loss
    with pytest.raises(InvalidArgumentError, match="hard negative mixing needs"):
        HardMixingInfoNCE(0.5, hard_negatives=4, mixed_negatives=0, query_mixed_negatives=0)


def test_individual_temperatures_follow_isogclr_gradients_and_update_rule():
    from graphcl.losses import IndividualTemperatureInfoNCE

    n, d, rho = 8, 5, 6.0
    z1, z2 = _pair(n, d, 2)
    loss = IndividualTemperatureInfoNCE(0.3, rho=rho, eta=0.01, beta=0.9, tau_min=0.05, tau_max=1.0)
    ours = loss(z1, z2)
    ours.backward()  # as the training loop: the temperatures' gradient is kept for the next call
    g1, g2 = z1.grad.clone(), z2.grad.clone()

    def official(z1, z2, tau):
        """SogCLR_DRO_Loss's pieces (zhqiu/contrastive-learning-iSogCLR, unimodal_exps/losses.py) with the whole
        graph as the batch (s = g, no moving average): the DRO objective, its encoder gradient and grad_tau."""
        f = torch.cat([F.normalize(z1, dim=1), F.normalize(z2, dim=1)])
        sim = f @ f.t()
        pos = torch.cat([sim.diagonal(n), sim.diagonal(-n)])
        t = tau.repeat(2)
        mask = (1.0 - torch.eye(n, dtype=sim.dtype)).repeat(2, 2)
        x = sim / t[:, None]
        g = (torch.exp(x) * mask).sum(1) / (2 * n - 2)
        objective = t * torch.log(g) + rho * t - pos  # tau log mean exp((s - s+) / tau) + rho tau
        weights = (torch.exp(x) * mask / g[:, None]).detach()
        grad_tau = torch.log(g) + rho - (weights * x.detach()).sum(1) / (2 * n - 2)
        return objective.mean(), ((grad_tau[:n] + grad_tau[n:]) / 2).detach()

    tau = torch.full((n,), 0.3, dtype=torch.float64)
    ref, grad_tau = official(z1, z2, tau)
    r1, r2 = torch.autograd.grad(ref, (z1, z2))
    assert torch.allclose(ours, ref, atol=1e-10)
    assert torch.allclose(g1, r1, atol=1e-10) and torch.allclose(g2, r2, atol=1e-10)
    assert torch.allclose(loss._pending, grad_tau, atol=1e-10)
    loss(z1, z2)  # the next call applies the official momentum step to the temperatures
    momentum = 0.9 * grad_tau.clamp(-3, 3)
    assert torch.allclose(loss.temperatures, (tau - 0.01 * momentum).clamp(0.05, 1.0), atol=1e-12)
    state = loss.state_dict()
    fresh = IndividualTemperatureInfoNCE(0.3, rho=rho)
    fresh.load_state_dict(state)  # sized by the graph: a checkpoint restores them
    assert torch.equal(fresh.temperatures, loss.temperatures)
    with pytest.raises(InvalidArgumentError, match="temperatures belong to 8 nodes"):
        loss(*_pair(5, d, 0))


@pytest.mark.parametrize("intra,symmetric", [(True, True), (False, True), (True, False)])
def test_learned_temperature_matches_dense_with_the_temperature_as_a_tensor(intra, symmetric):
    from graphcl.losses import LearnedTemperatureInfoNCE

    loss = LearnedTemperatureInfoNCE(0.4, intra_view_negatives=intra, symmetric=symmetric, chunk_size=3).double()
    z1, z2 = _pair(11, 5, 4)
    ours = loss(z1, z2)
    theta = torch.tensor(math.log(0.4), dtype=torch.float64, requires_grad=True)
    ref = dense_grace(z1, z2, theta.exp(), intra, symmetric)
    assert torch.allclose(ours, ref, atol=1e-10)
    for a, b in zip(torch.autograd.grad(ours, (z1, z2, loss.log_tau)), torch.autograd.grad(ref, (z1, z2, theta))):
        assert torch.allclose(a, b, atol=1e-10)
