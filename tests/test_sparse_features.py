"""Bag-of-words features kept sparse in mini-batches: the gather, the feature augmenters, the first
GCN layer and a whole mini-batch GRACE step, each against the dense path."""
import copy

import pytest
import torch
from torch_geometric.data import Data

from graphcl.augment import AdaptiveMaskFeature, DropoutFeature, GaussianNoise, MaskFeature
from graphcl.augment.compose import Compose, accepts_sparse_features
from graphcl.data.neighbors import NeighborBatches, SparseRows, pyg_sampler_available
from graphcl.encoders import GNNEncoder
from graphcl.encoders.propagation import SparseOperator, sparse_enough


def bag_of_words(n: int = 40, f: int = 80, density: float = 0.05, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, f, generator=g) * (torch.rand(n, f, generator=g) < density)
    x[3] = 0.0  # a row without words
    return x


def random_graph(n: int, m: int, seed: int) -> torch.Tensor:
    return torch.randint(0, n, (2, m), generator=torch.Generator().manual_seed(seed))


def test_sparse_rows_gather_the_dense_rows():
    x = bag_of_words()
    index = torch.tensor([5, 3, 0, 39, 5, 17])  # a repeat and an empty row
    rows = SparseRows(x)[index]
    assert rows.layout == torch.sparse_coo and rows.is_coalesced()
    assert torch.equal(rows.to_dense(), x[index])
    assert torch.equal(rows.coalesce().indices(), torch.sparse_coo_tensor(
        rows.indices(), rows.values(), rows.shape).coalesce().indices())  # really in coalesced order
    assert sparse_enough(x) and not sparse_enough(torch.randn(40, 80)) and not sparse_enough(x[:, :10])


@pytest.mark.parametrize("make", [lambda: MaskFeature(0.4), lambda: AdaptiveMaskFeature(0.4)])
def test_column_masks_on_sparse_features_equal_the_dense_masks_and_leave_the_input(make):
    x = bag_of_words()
    edge_index = random_graph(40, 200, seed=1)
    sparse = x.to_sparse()
    before = sparse.clone()
    dense_view, sparse_view = make(), make()
    torch.manual_seed(3)
    expected = dense_view(Data(x=x, edge_index=edge_index)).x
    if isinstance(sparse_view, AdaptiveMaskFeature):  # a mini-batch's masks: the whole graph's probabilities
        sparse_view.fit(Data(x=x, edge_index=edge_index))
        dense_view.fit(Data(x=x, edge_index=edge_index))
        torch.manual_seed(3)
        expected = dense_view(Data(x=x, edge_index=edge_index, n_id=torch.arange(40))).x
    torch.manual_seed(3)
    got = sparse_view(Data(x=sparse, edge_index=edge_index, n_id=torch.arange(40))).x
    assert got.layout == torch.sparse_coo and torch.equal(got.to_dense(), expected)
    assert (expected == 0).sum() > (x == 0).sum()  # something was masked
    assert torch.equal(sparse.to_dense(), before.to_dense())


def test_dropout_on_sparse_features_drops_stored_entries_at_rate_p():
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(200, 100, generator=g) < 0.2).float()
    sparse = x.to_sparse()
    torch.manual_seed(0)
    got = DropoutFeature(0.3)(Data(x=sparse)).x.to_dense()
    kept = got != 0
    assert torch.equal(got[kept], x[kept]) and not (kept & (x == 0)).any()  # a subset, values unchanged
    rate = 1 - kept.sum().item() / (x != 0).sum().item()
    assert abs(rate - 0.3) < 0.03  # 4,000 entries: 5 standard deviations
    assert torch.equal(sparse.to_dense(), x)


def test_noise_makes_sparse_features_dense_with_the_dense_draws():
    x = bag_of_words()
    torch.manual_seed(5)
    expected = GaussianNoise(0.1)(Data(x=x)).x
    torch.manual_seed(5)
    got = GaussianNoise(0.1)(Data(x=x.to_sparse())).x
    assert got.layout == torch.strided and torch.equal(got, expected)


def test_the_operator_of_coalesced_sparse_features_equals_the_general_one():
    x = bag_of_words(30, 70, seed=2).to_sparse()
    h = torch.randn(70, 5, dtype=torch.float32)
    fast, general = SparseOperator.from_coalesced(x), SparseOperator(x.indices(), x.values(), tuple(x.shape))
    assert torch.allclose(fast.matrix.to_dense(), general.matrix.to_dense())
    assert torch.allclose(fast.transpose.to_dense(), general.transpose.to_dense())
    assert torch.allclose(fast @ h, x.to_dense() @ h, atol=1e-6)


@pytest.mark.parametrize("conv", ["gcn", "sage"])
def test_an_encoder_gives_sparse_features_the_dense_values_and_gradients(conv):
    torch.manual_seed(0)
    x = bag_of_words()  # float32: GCN's propagation matrix has the default dtype
    edge_index = random_graph(40, 200, seed=1)
    encoder = GNNEncoder(80, 16, 8, conv=conv)
    twin = copy.deepcopy(encoder)
    dense_out, sparse_out = encoder(x, edge_index), twin(x.to_sparse(), edge_index)
    assert torch.allclose(dense_out, sparse_out, atol=1e-5)
    dense_out.square().sum().backward()
    sparse_out.square().sum().backward()
    for a, b in zip(encoder.parameters(), twin.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-5)
    if conv == "gcn":  # the layer-wise inference too
        assert torch.allclose(twin.eval().inference(x.to_sparse(), edge_index), encoder.eval()(x, edge_index),
                              atol=1e-5)


@pytest.mark.parametrize("pyg", [False, True])
def test_the_loader_gives_sparse_rows_only_when_asked_and_sparse_enough(pyg, monkeypatch):
    import graphcl.data.neighbors

    if pyg and not pyg_sampler_available():
        pytest.skip("PyG's sampler needs pyg-lib or torch-sparse")
    monkeypatch.setattr(graphcl.data.neighbors, "pyg_sampler_available", lambda: pyg)
    data = Data(x=bag_of_words(), y=torch.arange(40), edge_index=random_graph(40, 200, seed=1))
    for batch in NeighborBatches(data, [3, 3], batch_size=16, seed=0, sparse_features=True):
        assert batch.x.layout == torch.sparse_coo and torch.equal(batch.x.to_dense(), data.x[batch.n_id])
        assert torch.equal(batch.y, data.y[batch.n_id])
    for batch in NeighborBatches(data, [3, 3], batch_size=16, seed=0):
        assert batch.x.layout == torch.strided and torch.equal(batch.x, data.x[batch.n_id])
    data.x = torch.randn(40, 80)  # dense features stay dense
    for batch in NeighborBatches(data, [3, 3], batch_size=16, seed=0, sparse_features=True):
        assert batch.x.layout == torch.strided


class _DenseOnly(torch.nn.Module):
    """A user's transform that says nothing about sparse features."""

    def forward(self, data):
        return data


@pytest.mark.parametrize("batch_size", [32, None])
@pytest.mark.parametrize("method", ["grace", "gca", "bgrl"])
def test_a_step_on_sparse_features_equals_the_dense_step(method, batch_size):
    from graphcl.methods import build_method

    torch.manual_seed(0)
    n = 120
    from torch_geometric.utils import coalesce, remove_self_loops

    edge_index = coalesce(remove_self_loops(random_graph(n, 700, seed=2))[0], num_nodes=n)
    data = Data(x=bag_of_words(n, 90, seed=4), edge_index=edge_index)
    sizes = {"out_channels": 8, "batch_size": batch_size, "num_neighbors": [4, 4] if batch_size else None}
    sizes.update({"hidden_channels": 16} if method == "bgrl" else {"projection_channels": 8})
    model = build_method(method, 90, **sizes)
    assert model.takes_sparse_features()
    twin = copy.deepcopy(model)
    twin.takes_sparse_features = lambda: False  # the dense path, otherwise the same model
    losses = []
    for m in (model, twin):
        torch.manual_seed(1)
        m.setup(data)
        m.start_epoch(data)
        loss = m.loss(data)
        loss.backward()
        losses.append(loss)
    if batch_size:  # mini-batches: sparse rows gathered; full batch: the views drawn from the sparse form
        assert model._loader._sparse_rows is not None and twin._loader._sparse_rows is None
    else:
        assert model.view_input(data).x.layout == torch.sparse_coo and twin.view_input(data) is data
        assert model.view_input(data).x is model.view_input(data).x  # converted once
    assert torch.allclose(losses[0], losses[1], atol=1e-5)
    for a, b in zip(model.parameters(), twin.parameters()):
        assert (a.grad is None) == (b.grad is None)
        if a.grad is not None:
            assert torch.allclose(a.grad, b.grad, atol=1e-5)


def test_sparse_features_need_every_augmenter_and_the_encoder_to_take_them():
    from graphcl.methods import build_method

    assert accepts_sparse_features(Compose([MaskFeature(0.2), DropoutFeature(0.1)]))
    assert not accepts_sparse_features(Compose([MaskFeature(0.2), _DenseOnly()]))
    model = build_method("grace", 90, out_channels=8, batch_size=32)
    model.view_2 = Compose([model.view_2, _DenseOnly()])
    assert not model.takes_sparse_features()


def test_dense_features_keep_the_dense_views():
    from graphcl.methods import build_method

    data = Data(x=torch.randn(30, 80), edge_index=random_graph(30, 100, seed=0))
    model = build_method("grace", 80, out_channels=8)
    assert model.view_input(data) is data


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("batch_size", [32, None])
def test_sparse_features_on_cuda_equal_the_dense_step(batch_size):
    from torch_geometric.utils import coalesce, remove_self_loops

    from graphcl.methods import build_method

    torch.manual_seed(0)
    edge_index = coalesce(remove_self_loops(random_graph(120, 700, seed=2))[0], num_nodes=120)
    data = Data(x=bag_of_words(120, 90, seed=4), edge_index=edge_index).to("cuda")
    model = build_method("grace", 90, out_channels=8, projection_channels=8, batch_size=batch_size,
                         num_neighbors=[4, 4] if batch_size else None).to("cuda")
    twin = copy.deepcopy(model)
    twin.takes_sparse_features = lambda: False
    losses = []
    for m in (model, twin):
        torch.manual_seed(1)
        m.setup(data)
        m.start_epoch(data)
        losses.append(m.loss(data))
    assert losses[0].device.type == "cuda" and torch.allclose(losses[0], losses[1], atol=1e-5)
