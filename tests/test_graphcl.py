"""GraphCL: GIN graph encoder, graph-level NT-Xent against the official formula, the TU protocol."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Batch, Data
from torch_geometric.utils import to_undirected

from graphcl.encoders import GINGraphEncoder
from graphcl.errors import InvalidArgumentError, InvalidGraphError
from graphcl.eval.graph_classification import graph_classification
from graphcl.losses import GraphNTXent
from graphcl.methods import build_method
from graphcl.train import train


def official_loss(x, x_aug, tau):
    """GraphCL's loss_cal (anchors x), written as in the official code."""
    sim = torch.einsum("ik,jk->ij", x, x_aug) / torch.einsum("i,j->ij", x.norm(dim=1), x_aug.norm(dim=1))
    sim = torch.exp(sim / tau)
    pos = sim.diagonal()
    return -torch.log(pos / (sim.sum(dim=1) - pos)).mean()


@pytest.mark.parametrize("chunk", [None, 3])
def test_graph_ntxent_equals_the_official_loss_averaged_over_both_directions(chunk):
    torch.manual_seed(0)
    z1 = torch.randn(10, 6, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(10, 6, dtype=torch.float64, requires_grad=True)
    ours = GraphNTXent(0.2, chunk_size=chunk)(z1, z2)
    reference = 0.5 * (official_loss(z1, z2, 0.2) + official_loss(z2, z1, 0.2))
    assert torch.allclose(ours, reference, atol=1e-10)
    for a, b in zip(torch.autograd.grad(ours, [z1, z2]), torch.autograd.grad(reference, [z1, z2])):
        assert torch.allclose(a, b, atol=1e-10)


def random_graph(n, label, seed):
    g = torch.Generator().manual_seed(seed)
    ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
    extra = torch.randint(0, n, (2, n * (1 + label)), generator=g)  # class 1 is denser
    extra = extra[:, extra[0] != extra[1]]
    x = F.one_hot(torch.randint(0, 3, (n,), generator=g), 3).float()
    return Data(x=x, edge_index=to_undirected(torch.cat([ring, extra], 1), num_nodes=n), y=torch.tensor([label]))


def toy_dataset(count=80):
    return [random_graph(6 + (i % 7), i % 2, i) for i in range(count)]


def test_gin_encoder_concatenates_every_layers_sum_pooling():
    batch = Batch.from_data_list(toy_dataset(5))
    encoder = GINGraphEncoder(3, 8, 3).eval()
    nodes, graphs = encoder(batch.x, batch.edge_index, batch.batch)
    assert nodes.shape == (batch.num_nodes, 24) and graphs.shape == (5, 24)
    for g in range(5):
        assert torch.allclose(graphs[g], nodes[batch.batch == g].sum(0), atol=1e-5)


def test_graphcl_trains_on_toy_graphs_loss_finite_and_falling():
    dataset = toy_dataset()
    method = build_method("graphcl", 3, hidden_channels=16, batch_size=16)
    result = train(method, dataset, epochs=15, lr=0.01, seed=0, progress=False)
    assert all(np.isfinite(result.losses)) and result.losses[-1] < result.losses[0]
    emb = method.embed(dataset)
    assert emb.shape == (len(dataset), 48) and torch.isfinite(emb).all()
    with pytest.raises(InvalidGraphError, match="node features"):
        build_method("graphcl", 3).setup([Data(edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=2)] * 3)
    with pytest.raises(InvalidArgumentError, match="augmentations"):
        build_method("graphcl", 3, augmentations=["rotate"])


def test_tu_protocol_separates_separable_embeddings_and_checks_its_input():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 30)
    x = rng.normal(size=(60, 4)) + 4 * y[:, None]
    scores = graph_classification(x, y, seed=0)
    assert scores["svm_accuracy"] > 0.95 and scores["logreg_accuracy"] > 0.95
    noise = graph_classification(rng.normal(size=(60, 4)), y, seed=0)
    assert noise["svm_accuracy"] < 0.8
    with pytest.raises(InvalidArgumentError, match="fewer than the 10 folds"):
        graph_classification(x[:35], y[:35])
    with pytest.raises(InvalidArgumentError, match="NaN"):
        graph_classification(np.full((60, 4), np.nan), y)


def test_tu_protocol_in_worker_processes_gives_the_same_scores():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2], 20)
    x = rng.normal(size=(60, 4)) + 1.5 * y[:, None]
    assert graph_classification(x, y, seed=3, n_jobs=2) == graph_classification(x, y, seed=3, n_jobs=None)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_graphcl_trains_and_evaluates_on_cuda():
    dataset = toy_dataset()
    method = build_method("graphcl", 3, hidden_channels=16, batch_size=16)
    result = train(method, dataset, epochs=2, lr=0.01, seed=0, device="cuda", progress=False)
    emb = method.embed(dataset)
    assert all(np.isfinite(result.losses)) and emb.shape == (len(dataset), 48)
    scores = graph_classification(emb, torch.cat([d.y for d in dataset]), classifiers=("svm",))
    assert 0.0 <= scores["svm_accuracy"] <= 1.0 and dataset[0].x.device.type == "cpu"


def test_infograph_trains_on_toy_graphs_loss_finite_and_falling():
    dataset = toy_dataset()
    method = build_method("infograph", 3, hidden_channels=16, batch_size=16)
    result = train(method, dataset, epochs=15, lr=0.01, seed=0, progress=False)
    assert all(np.isfinite(result.losses)) and result.losses[-1] < result.losses[0]
    emb = method.embed(dataset)
    assert emb.shape == (len(dataset), 48) and torch.isfinite(emb).all()


def test_graphmae_on_graphs_trains_on_toy_graphs_loss_finite_and_falling():
    dataset = toy_dataset()
    before = [d.x.clone() for d in dataset]
    method = build_method("graphmae-graph", 3, hidden_channels=16, num_layers=2, batch_size=16, pooling="max")
    result = train(method, dataset, epochs=15, lr=0.01, seed=0, progress=False)
    assert all(np.isfinite(result.losses)) and np.mean(result.losses[-3:]) < np.mean(result.losses[:3])
    emb = method.embed(dataset)
    assert emb.shape == (len(dataset), 16) and torch.isfinite(emb).all()
    assert all(torch.equal(a, d.x) for a, d in zip(before, dataset))  # masking works on a copy
    with pytest.raises(InvalidArgumentError, match="pooling"):
        build_method("graphmae-graph", 3, pooling="attention")


def test_local_global_jsd_equals_the_official_masked_formula():
    import math

    import torch.nn.functional as F

    from graphcl.losses import LocalGlobalJSD

    g = torch.Generator().manual_seed(3)
    local = torch.randn(11, 4, generator=g, dtype=torch.float64, requires_grad=True)
    global_ = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    ours = LocalGlobalJSD()(local, global_, batch)
    # the official local_global_loss_ (InfoGraph, unsupervised/losses.py): masks, then expectations
    pos_mask = torch.zeros(11, 3, dtype=torch.float64)
    pos_mask[torch.arange(11), batch] = 1.0
    res = local @ global_.t()
    log_2 = math.log(2.0)
    e_pos = (log_2 - F.softplus(-(res * pos_mask))).sum() / 11
    q = res * (1 - pos_mask)
    e_neg = (F.softplus(-q) + q - log_2).sum() / (11 * 2)
    ref = e_neg - e_pos
    assert torch.allclose(ours, ref, atol=1e-12)
    for a, b in zip(torch.autograd.grad(ours, (local, global_)), torch.autograd.grad(ref, (local, global_))):
        assert torch.allclose(a, b, atol=1e-12)
    with pytest.raises(InvalidArgumentError, match="at least 2 graphs"):
        LocalGlobalJSD()(local, global_[:1], torch.zeros(11, dtype=torch.long))
