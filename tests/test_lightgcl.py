"""LightGCN / LightGCL: propagation against PyG's LightGCN, BPR sampling, the loss against a dense reference."""
import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn.models import LightGCN as PyGLightGCN

from graphcl.data.interactions import interaction_graph, split_validation
from graphcl.encoders.lightgcn import LightGCNPropagation, normalized_operator
from graphcl.errors import InvalidGraphError
from graphcl.losses import NegativeSampler
from graphcl.methods import build_method
from graphcl.train import train


def toy(seed=0, m=40, n=30, count=600, test=60):
    """Users prefer the items of their group (3 groups)."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randint(0, m, (count,), generator=g)
    i = (u % 3) * (n // 3) + torch.randint(0, n // 3, (count,), generator=g)
    keys = torch.unique(u * n + i)
    pairs = torch.stack([keys // n, keys % n])
    perm = torch.randperm(pairs.size(1), generator=g)
    return interaction_graph(pairs[:, perm[test:]], pairs[:, perm[:test]], m, n)


@pytest.mark.parametrize("layers", [1, 3])
def test_propagation_equals_pyg_lightgcn(layers):
    data = toy()
    ours = LightGCNPropagation(layers, "mean")
    theirs = PyGLightGCN(data.num_nodes, 8, layers)
    out, per_layer = ours(theirs.embedding.weight, normalized_operator(data.edge_index, data.num_nodes))
    assert len(per_layer) == layers + 1
    assert torch.allclose(out, theirs.get_embedding(data.edge_index), atol=1e-5)
    summed, _ = LightGCNPropagation(layers, "sum")(theirs.embedding.weight,
                                                    normalized_operator(data.edge_index, data.num_nodes))
    assert torch.allclose(summed, out * (layers + 1), atol=1e-5)


def test_edge_dropout_rescales_the_kept_entries():
    data = toy()
    full = normalized_operator(data.edge_index, data.num_nodes).to_dense()
    torch.manual_seed(0)
    dropped = normalized_operator(data.edge_index, data.num_nodes, dropout=0.5).to_dense()
    kept = dropped != 0
    assert torch.allclose(dropped[kept], 2 * full[kept]) and 0.35 < kept.sum() / (full != 0).sum() < 0.65


def test_negative_sampler_never_returns_a_training_item():
    data = toy()
    sampler = NegativeSampler(data.train_pairs, data.num_items)
    known = set(map(tuple, data.train_pairs.t().tolist()))
    users = data.train_pairs[0].repeat(20)
    torch.manual_seed(0)
    items = sampler(users)
    assert not any((u, i) in known for u, i in zip(users.tolist(), items.tolist()))
    assert items.unique().numel() > data.num_items // 2  # spread over the catalogue
    with pytest.raises(InvalidGraphError, match="every item"):
        NegativeSampler(torch.tensor([[0, 0], [0, 1]]), 2)


def dense_lightgcl_loss(method, data, users, pos, neg):
    """The official LightGCL loss written densely (full similarity matrices)."""
    m, tau = data.num_users, method.tau
    a = normalized_operator(data.edge_index, data.num_nodes).to_dense()
    e0 = method.embedding.weight
    layers = [e0]
    for _ in range(method.propagation.num_layers):
        layers.append(a @ layers[-1])
    e = sum(layers)
    svd = method._graph["svd"].to_dense()  # [M, N] low-rank
    s_full = torch.zeros(data.num_nodes, data.num_nodes)
    s_full[:m, m:], s_full[m:, :m] = svd, svd.t()
    g = e0 + sum(s_full @ x for x in layers[:-1])
    items = torch.cat([pos, neg])
    cl = 0
    for anchors, rows in ((users, slice(0, m)), (items, slice(m, None))):
        gu, eu = g[rows], e[rows]
        cl = cl + torch.log(torch.exp(gu[anchors] @ eu.t() / tau).sum(1)).mean() \
            - torch.clamp((gu[anchors] * eu[anchors]).sum(1) / tau, -5, 5).mean()
    bpr = -F.logsigmoid((e[users] * e[pos + m]).sum(1) - (e[users] * e[neg + m]).sum(1)).mean()
    return bpr + method.lambda1 * cl + method.lambda2 * e0.pow(2).sum()


def test_lightgcl_loss_equals_the_dense_reference_in_value_and_gradient():
    data = toy()
    torch.manual_seed(0)
    method = build_method("lightgcl", 0, out_channels=8, batch_size=50, svd_rank=3, chunk_size=7, lambda2=1e-3)
    method.setup(data)
    method.start_epoch(data)
    users, pos, neg = method._next_batch()
    method._next_batch = lambda: (users, pos, neg)
    ours = method.loss(data)
    (grad,) = torch.autograd.grad(ours, method.embedding.weight)
    reference = dense_lightgcl_loss(method, data, users, pos, neg)
    (expected,) = torch.autograd.grad(reference, method.embedding.weight)
    assert torch.allclose(ours, reference, atol=1e-5)
    assert torch.allclose(grad, expected, atol=1e-5)


@pytest.mark.parametrize("name", ["lightgcn", "lightgcl"])
def test_recommenders_train_on_a_toy_graph_loss_finite_and_falling(name):
    data = split_validation(toy(), 0.1)
    method = build_method(name, 0, out_channels=16, batch_size=128)
    result = train(method, data, epochs=15, lr=0.01, seed=0, progress=False)
    assert all(torch.isfinite(torch.tensor(result.losses)))
    assert result.losses[-1] < result.losses[0]
    emb = method.embed(data)
    assert emb.shape == (data.num_nodes, 16)


def test_recommenders_refuse_graphs_without_interactions():
    from torch_geometric.data import Data
    method = build_method("lightgcn", 0)
    with pytest.raises(InvalidGraphError, match="interaction graph"):
        method.setup(Data(edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=3))


def test_recommendation_runs_select_on_validation_and_honour_the_time_budget():
    from graphcl.runner import run
    data = toy(n=60)
    overrides = {"out_channels": 8, "batch_size": 128, "eval_every": 2, "val_patience": 100, "val_fraction": 0.3}
    (full,) = run("lightgcn", data, epochs=6, overrides=overrides, progress=False)
    assert full.epochs == 6 and not full.extra["stopped_by_time_budget"]
    assert [epoch for epoch, _ in full.extra["val_curve"]] == [2, 4, 6]
    assert full.extra["best_epoch"] in (2, 4, 6) and 0.0 <= full.metrics["recall_20"] <= 1.0
    (cut,) = run("lightgcn", data, epochs=6, overrides={**overrides, "time_budget": 0.0}, progress=False)
    assert cut.epochs == 1 and cut.extra["stopped_by_time_budget"] and cut.extra["val_curve"][0][0] == 1


def test_recommendation_runs_refuse_an_empty_validation_split():
    from graphcl.runner import run
    with pytest.raises(InvalidGraphError, match="raise val_fraction"):
        run("lightgcn", toy(), epochs=1, overrides={"val_fraction": 0.1}, progress=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ["lightgcn", "lightgcl"])
def test_recommenders_train_validate_and_test_on_cuda(name):
    from graphcl.runner import run
    data = toy(n=60)
    (record,) = run(name, data, epochs=2, device="cuda", progress=False,
                    overrides={"out_channels": 8, "batch_size": 128, "eval_every": 1, "val_fraction": 0.3})
    assert 0.0 <= record.metrics["recall_20"] <= 1.0 and data.train_pairs.device.type == "cpu"
