"""Neighbour sampling for mini-batch training: our vectorised sampler and PyG's NeighborLoader."""
import itertools
import math

import pytest
import torch
from torch_geometric.data import Data

from graphcl.data.neighbors import NeighborBatches, NeighborSampler, check_sampling, pyg_sampler_available
from graphcl.errors import InvalidArgumentError


def random_graph(n: int, m: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, n, (2, m), generator=g)


@pytest.mark.parametrize("fanouts", [[3, 2], [1], [-1, 4], [5, 5, 5]])
def test_every_sampled_edge_exists_fanouts_hold_and_seeds_come_first(fanouts):
    n = 60
    edge_index = random_graph(n, 400, seed=len(fanouts))
    before = edge_index.clone()
    sampler = NeighborSampler(edge_index, n, fanouts)
    seeds = torch.tensor([5, 17, 3, 42])
    batch = sampler(seeds, torch.Generator().manual_seed(0))
    assert torch.equal(edge_index, before)  # the input is untouched
    assert torch.equal(batch.n_id[:4], seeds) and batch.batch_size == 4
    assert batch.n_id.unique().numel() == batch.n_id.numel() == batch.num_nodes
    src, dst = batch.n_id[batch.edge_index[0]], batch.n_id[batch.edge_index[1]]
    assert torch.equal(edge_index[:, batch.e_id], torch.stack([src, dst]))  # each sampled edge is that edge
    assert batch.e_id.unique().numel() == batch.e_id.numel()  # without replacement
    degree = torch.bincount(edge_index[1], minlength=n)
    per_target = torch.bincount(batch.edge_index[1], minlength=batch.num_nodes)
    # hop 1 expands the seeds: min(k, in-degree) edges each (all of them for k = -1)
    k = fanouts[0]
    expected = degree[seeds] if k < 0 else degree[seeds].clamp(max=k)
    assert torch.equal(per_target[:4], expected)
    assert sampler._local.eq(-1).all()  # the scratch map is reset after every batch


def test_sampling_is_reproducible_under_a_seed_and_varies_without_it():
    edge_index = random_graph(200, 3000, seed=1)
    sampler = NeighborSampler(edge_index, 200, [4, 3])
    seeds = torch.arange(10)
    a = sampler(seeds, torch.Generator().manual_seed(7))
    b = sampler(seeds, torch.Generator().manual_seed(7))
    c = sampler(seeds, torch.Generator().manual_seed(8))
    assert torch.equal(a.n_id, b.n_id) and torch.equal(a.edge_index, b.edge_index)
    assert not torch.equal(a.e_id, c.e_id)


def test_a_subset_of_a_hubs_edges_is_uniform_over_all_subsets():
    """Floyd's algorithm: every 2-subset of a node's 6 edges equally likely (chi-square, 4,500 draws)."""
    edge_index = torch.tensor([[1, 2, 3, 4, 5, 6], [0, 0, 0, 0, 0, 0]])
    sampler = NeighborSampler(edge_index, 7, [2])
    generator = torch.Generator().manual_seed(0)
    counts = {pair: 0 for pair in itertools.combinations(range(1, 7), 2)}
    draws = 4500
    for _ in range(draws):
        batch = sampler(torch.tensor([0]), generator)
        counts[tuple(sorted(batch.n_id[1:].tolist()))] += 1
    expected = draws / len(counts)
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi2 < 36.1  # 14 degrees of freedom, p = 0.001


@pytest.mark.skipif(not pyg_sampler_available(), reason="PyG's sampler needs pyg-lib or torch-sparse")
def test_ours_and_pygs_neighbor_loader_sample_the_same_computation_graphs():
    """Where a fan-out covers every in-edge both give the same graph; below it, the same number of
    valid edges per target. (torch-sparse's subset draw is not uniform: Floyd's algorithm with
    ``rand() % j`` instead of ``% (j + 1)``, so with fan-out 1 a node's last in-edge is never drawn;
    ours is uniform, see the chi-square test above.)"""
    from torch_geometric.loader import NeighborLoader

    n = 40
    edge_index = random_graph(n, 300, seed=3)
    data = Data(edge_index=edge_index, num_nodes=n)
    seeds = torch.tensor([0, 7, 21])
    for fanouts in ([50, 50], [3, 2]):
        ours = NeighborSampler(edge_index, n, fanouts)(seeds, torch.Generator().manual_seed(0))
        (theirs,) = list(NeighborLoader(data, num_neighbors=fanouts, batch_size=3, input_nodes=seeds))
        assert torch.equal(theirs.n_id[:3], seeds) and torch.equal(ours.n_id[:3], seeds)
        per_seed = [torch.bincount(b.edge_index[1], minlength=b.num_nodes)[:3] for b in (ours, theirs)]
        assert torch.equal(*per_seed)  # min(fan-out, in-degree) edges for every seed
        for b in (ours, theirs):
            assert torch.equal(edge_index[:, b.e_id], b.n_id[b.edge_index])
        if fanouts[0] >= n:  # every edge of the 2-hop neighbourhood: the same nodes and edges
            assert set(ours.n_id.tolist()) == set(theirs.n_id.tolist())
            assert sorted(ours.e_id.tolist()) == sorted(theirs.e_id.tolist())


@pytest.mark.parametrize("pyg", [False, True])
def test_the_loader_attaches_features_and_covers_every_node_once_per_epoch(pyg, monkeypatch):
    import graphcl.data.neighbors

    if pyg and not pyg_sampler_available():
        pytest.skip("PyG's sampler needs pyg-lib or torch-sparse")
    monkeypatch.setattr(graphcl.data.neighbors, "pyg_sampler_available", lambda: pyg)
    n = 50
    data = Data(x=torch.randn(n, 3), y=torch.arange(n), edge_index=random_graph(n, 300, seed=4))
    seen = []
    for batch in NeighborBatches(data, [2, 2], batch_size=16, seed=0):
        seeds = batch.n_id[:batch.batch_size]
        assert torch.equal(batch.x, data.x[batch.n_id]) and torch.equal(batch.y, data.y[batch.n_id])
        seen.append(seeds)
    assert torch.equal(torch.cat(seen).sort().values, torch.arange(n))


def test_bad_sampling_settings_give_one_line_errors():
    edge_index = random_graph(10, 30, seed=5)
    with pytest.raises(InvalidArgumentError, match="batch_size must be a positive"):
        check_sampling([10, 10], 0)
    with pytest.raises(InvalidArgumentError, match="2 fan-outs for an encoder of 3 layers"):
        check_sampling([10, 10], 64, num_layers=3)
    with pytest.raises(InvalidArgumentError, match="one fan-out per layer"):
        check_sampling(10, 64)
    with pytest.raises(InvalidArgumentError, match="positive fan-outs"):
        NeighborSampler(edge_index, 10, [0, 5])
    sampler = NeighborSampler(edge_index, 10, [2])
    with pytest.raises(InvalidArgumentError, match="seed ids must lie in"):
        sampler(torch.tensor([10]))
    with pytest.raises(InvalidArgumentError, match="distinct"):
        sampler(torch.tensor([1, 1]))
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        NeighborBatches(Data(edge_index=edge_index, num_nodes=10), [2], batch_size=0)


@pytest.mark.parametrize("pyg", [False, True])
def test_mini_batch_grace_trains_on_sampled_subgraphs_and_its_loss_falls(pyg, monkeypatch):
    import graphcl.data.neighbors
    from graphcl.data import planted_partition
    from graphcl.runner import run

    if pyg and not pyg_sampler_available():
        pytest.skip("PyG's sampler needs pyg-lib or torch-sparse")
    monkeypatch.setattr(graphcl.data.neighbors, "pyg_sampler_available", lambda: pyg)
    from torch_geometric.utils import coalesce, remove_self_loops

    data = planted_partition(300, num_blocks=3, avg_degree=8.0, num_features=16, seed=0)
    data.edge_index = coalesce(remove_self_loops(data.edge_index)[0], num_nodes=300)
    overrides = {"out_channels": 16, "projection_channels": 16, "batch_size": 64, "num_neighbors": [5, 5],
                 "lr": 0.01}
    (record,) = run("grace", data, epochs=1, evals=["node"], overrides=overrides, split="random", progress=False)
    assert record.config["batch_size"] == 64 and record.config["num_neighbors"] == [5, 5]
    assert 0.0 <= record.metrics["accuracy"] <= 1.0 and math.isfinite(record.final_loss)
    # the training loop itself: one step per batch (5 batches of 64 seeds), the epoch loss falling
    from graphcl.methods import build_method
    from graphcl.train import train

    torch.manual_seed(0)
    model = build_method("grace", 16, **{k: v for k, v in overrides.items() if k != "lr"})
    result = train(model, data, epochs=8, lr=0.01, seed=0, progress=False)
    assert len(model._loader) == 5
    assert all(math.isfinite(v) for v in result.losses) and result.losses[-1] < result.losses[0]


def test_negatives_from_the_whole_graph_join_the_denominator_and_train(monkeypatch):
    import graphcl.data.neighbors
    from graphcl.data import planted_partition
    from graphcl.losses import InfoNCE
    from graphcl.methods import build_method
    from graphcl.train import train

    monkeypatch.setattr(graphcl.data.neighbors, "pyg_sampler_available", lambda: False)
    from torch_geometric.utils import coalesce, remove_self_loops

    data = planted_partition(200, num_blocks=3, avg_degree=6.0, num_features=12, seed=1)
    data.edge_index = coalesce(remove_self_loops(data.edge_index)[0], num_nodes=200)
    settings = {"out_channels": 8, "projection_channels": 8, "batch_size": 32, "num_neighbors": [4, 4],
                "num_negatives": 50, "drop_edge_1": 0.0, "drop_edge_2": 0.0, "drop_feature_1": 0.0,
                "drop_feature_2": 0.0}
    torch.manual_seed(0)
    model = build_method("grace", 12, **settings)
    model.setup(data)
    model.start_epoch(data)
    torch.manual_seed(5)
    loss = model.loss(data)
    # the same draws again: the seeds' and the negatives' projections, contrasted with anchors = the seeds
    torch.manual_seed(0)
    twin = build_method("grace", 12, **settings)
    twin.setup(data)
    twin.start_epoch(data)
    batch, negatives = twin._next_batch(data), twin._next_negatives(data)
    assert batch.batch_size == 32 and negatives.batch_size == 50
    z = torch.cat([twin.projector(twin.encode(b)[: b.batch_size]) for b in (batch, negatives)])
    expected = InfoNCE(0.4)(z, z, anchors=32)
    assert torch.allclose(loss, expected, atol=1e-6)
    assert not torch.allclose(loss, InfoNCE(0.4)(z[:32], z[:32]), atol=1e-4)  # the extra rows count
    # the training loop: the draws cycle past the graph's end (200 nodes = 4 draws of 50 per pass)
    result = train(build_method("grace", 12, **{**settings, "drop_edge_1": 0.2, "drop_feature_1": 0.2}), data,
                   epochs=6, lr=0.01, seed=0, progress=False)
    assert all(math.isfinite(v) for v in result.losses) and result.losses[-1] < result.losses[0]
    with pytest.raises(InvalidArgumentError, match="set batch_size too"):
        build_method("grace", 12, num_negatives=50)
    with pytest.raises(InvalidArgumentError, match="num_negatives must be"):
        build_method("grace", 12, batch_size=32, num_negatives=0)
    with pytest.raises(InvalidArgumentError, match="exceeds the graph's 200 nodes"):
        build_method("grace", 12, batch_size=32, num_negatives=500).setup(data)


def test_mini_batch_settings_are_checked_before_training():
    from graphcl.methods import build_method

    with pytest.raises(InvalidArgumentError, match="2 fan-outs for an encoder of 3 layers"):
        build_method("grace", 8, num_layers=3, batch_size=32, num_neighbors=[5, 5])
    with pytest.raises(InvalidArgumentError, match="set batch_size too"):
        build_method("grace", 8, num_neighbors=[5, 5])
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        build_method("grace", 8, batch_size=0)
    with pytest.raises(InvalidArgumentError, match="svd_rank"):
        build_method("grace", 8, batch_size=32, svd_rank=4)


@pytest.mark.parametrize("conv", ["gcn", "sage"])
def test_layer_wise_inference_gives_the_forward_embeddings(conv):
    from graphcl.encoders import GNNEncoder

    g = torch.Generator().manual_seed(9)
    n, f = 70, 80
    x = torch.rand(n, f, generator=g) * (torch.rand(n, f, generator=g) < 0.05)  # sparse: a sparse first layer
    edge_index = random_graph(n, 400, seed=9)
    encoder = GNNEncoder(f, 16, 8, num_layers=3, conv=conv, act="prelu").eval()
    with torch.no_grad():
        reference = encoder(x, edge_index)
    out = encoder.inference(x, edge_index, batch_size=16)
    assert torch.allclose(out, reference, atol=1e-5)
    # dense features narrower than the hidden layer: propagated first, (A X) W
    dense = torch.randn(n, 6, generator=g)
    for widths in [(16, 8), (4, 8), (16, 32)]:
        for act_last in (True, False):
            encoder = GNNEncoder(6, *widths, num_layers=3, conv=conv, act="relu", act_last=act_last).eval()
            with torch.no_grad():
                reference = encoder(dense, edge_index)
            assert torch.allclose(encoder.inference(dense, edge_index, batch_size=16), reference, atol=1e-5)
    # batch norm after every layer (BGRL / G-BT): running statistics from a training pass, then eval
    encoder = GNNEncoder(6, 16, 8, num_layers=2, conv=conv, act="prelu", norm="batch_norm")
    encoder(dense, edge_index)
    encoder.eval()
    with torch.no_grad():
        reference = encoder(dense, edge_index)
        pyg = encoder.gnn(dense, edge_index)  # PyG's own layers: conv, norm, act; then the last norm and act
        pyg = encoder.act(encoder.norm_last(pyg))
    assert torch.allclose(reference, pyg, atol=1e-5)
    assert torch.allclose(encoder.inference(dense, edge_index, batch_size=16), reference, atol=1e-5)
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        GNNEncoder(f, 16, 8).inference(x, edge_index, batch_size=0)


def test_mini_batch_gca_augments_a_subgraph_by_the_whole_graphs_probabilities():
    from torch_geometric.utils import coalesce, remove_self_loops

    from graphcl.augment import AdaptiveDropEdge
    from graphcl.data import planted_partition
    from graphcl.methods import build_method
    from graphcl.train import train

    data = planted_partition(200, num_blocks=3, avg_degree=8.0, num_features=16, seed=1)
    data.edge_index = coalesce(remove_self_loops(data.edge_index)[0], num_nodes=200)
    drop = AdaptiveDropEdge(0.5).fit(data)
    whole = drop.drop_probability(data)
    batch = next(iter(NeighborBatches(data, [4, 4], 32, seed=0)))
    subgraph_own = AdaptiveDropEdge(0.5).drop_probability(batch)
    assert not torch.allclose(subgraph_own, whole[batch.e_id])  # what a subgraph alone would use
    torch.manual_seed(0)
    kept = drop(batch.clone())
    torch.manual_seed(0)
    expected = torch.bernoulli(1.0 - whole[batch.e_id]).bool()
    assert torch.equal(kept.e_id, batch.e_id[expected])
    torch.manual_seed(0)
    model = build_method("gca", 16, out_channels=16, projection_channels=8, batch_size=50, num_neighbors=[4, 4])
    result = train(model, data, epochs=6, lr=0.01, seed=0, progress=False)
    assert all(math.isfinite(v) for v in result.losses) and result.losses[-1] < result.losses[0]


@pytest.mark.parametrize("method", ["pamc", "scgc-star", "scgc"])
def test_mini_batch_deep_clustering_with_one_batch_is_the_full_batch_loss_and_trains_in_batches(method, tmp_path,
                                                                                                monkeypatch):
    """batch_size >= N: one batch holding every node, whose loss is the full-graph loss."""
    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path / "cache"))  # pretrained autoencoders
    from graphcl.data import planted_partition
    from graphcl.methods import build_method
    from graphcl.train import train
    from torch_geometric.utils import coalesce, remove_self_loops

    from test_methods import TINY_AE

    data = planted_partition(120, num_blocks=3, avg_degree=6.0, num_features=12, seed=2)
    data.edge_index = coalesce(remove_self_loops(data.edge_index)[0], num_nodes=120)
    settings = {**TINY_AE, "num_clusters": 3, "pretrain_seed": 0}
    torch.manual_seed(0)
    full = build_method(method, 12, **settings)
    full.setup(data)
    torch.manual_seed(0)
    one = build_method(method, 12, batch_size=500, **settings)
    one.setup(data)
    one.load_state_dict(full.state_dict())
    assert one.start_epoch(data) == 1
    assert torch.allclose(one.loss(data), full.loss(data), atol=1e-5)
    torch.manual_seed(0)
    batched = build_method(method, 12, batch_size=32, **settings)
    result = train(batched, data, epochs=8, lr=1e-3, seed=0, progress=False)
    assert all(math.isfinite(v) for v in result.losses) and result.losses[-1] < result.losses[0]
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        build_method(method, 12, batch_size=1, **settings)
