"""LightGCL's SVD view: normalised adjacencies, the low-rank operator against dense SVDs."""
import pytest
import torch
from torch_geometric.data import Data, HeteroData
from torch_geometric.utils import to_undirected

from graphcl.augment import LowPassFeatures, LowRankOperator, SVDView, normalized_adjacency, normalized_biadjacency, svd_operator
from graphcl.errors import InvalidArgumentError, InvalidGraphError


def random_graph(n=30, m=150, seed=0):
    g = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, n, (2, m), generator=g)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    return to_undirected(edge_index, num_nodes=n)


def test_normalized_adjacency_equals_the_dense_gcn_formula():
    n = 30
    edge_index = random_graph(n)
    a = torch.zeros(n, n)
    a[edge_index[0], edge_index[1]] = 1
    a = a + torch.eye(n)
    d = a.sum(1).pow(-0.5)
    assert torch.allclose(normalized_adjacency(edge_index, n).to_dense(), d[:, None] * a * d[None], atol=1e-6)


def test_normalized_biadjacency_equals_the_dense_formula_and_merges_duplicates():
    g = torch.Generator().manual_seed(1)
    pairs = torch.stack([torch.randint(0, 12, (60,), generator=g), torch.randint(0, 9, (60,), generator=g)])
    r = torch.zeros(12, 9)
    r[pairs[0], pairs[1]] = 1
    du, di = r.sum(1).clamp_min(1).pow(-0.5), r.sum(0).clamp_min(1).pow(-0.5)
    assert torch.allclose(normalized_biadjacency(pairs, 12, 9).to_dense(), du[:, None] * r * di[None], atol=1e-6)


@pytest.mark.parametrize("rank", [1, 4, 8])
def test_svd_operator_equals_the_dense_truncated_svd(rank):
    g = torch.Generator().manual_seed(rank)
    pairs = torch.stack([torch.randint(0, 40, (300,), generator=g), torch.randint(0, 25, (300,), generator=g)])
    matrix = normalized_biadjacency(pairs, 40, 25)
    dense = matrix.to_dense().double()
    u, s, vh = torch.linalg.svd(dense)
    assert s[rank - 1] - s[rank] > 1e-3  # a unique truncation
    reference = (u[:, :rank] * s[:rank]) @ vh[:rank]
    torch.manual_seed(0)
    op = svd_operator(matrix.double(), rank, niter=6)
    assert op.shape == (40, 25) and op.rank == rank
    assert torch.allclose(op.to_dense(), reference, atol=1e-4)  # randomized: close, not exact
    x, y = torch.randn(25, 3, dtype=torch.float64), torch.randn(40, 3, dtype=torch.float64)
    assert torch.allclose(op @ x, reference @ x, atol=1e-3)
    assert torch.allclose(op.T @ y, reference.t() @ y, atol=1e-3)
    with pytest.raises(InvalidArgumentError, match="cannot multiply"):
        op @ y
    with pytest.raises(InvalidArgumentError, match="exceeds"):
        svd_operator(matrix, 26)


def test_low_rank_operator_passes_gradients_to_its_input():
    op = LowRankOperator(torch.randn(6, 2), torch.randn(4, 2))
    x = torch.randn(4, 3, requires_grad=True)
    (op @ x).sum().backward()
    assert torch.allclose(x.grad, op.to_dense().t() @ torch.ones(6, 3), atol=1e-5)


def test_svd_view_adds_cached_factors_and_leaves_its_input():
    n = 30
    data = Data(x=torch.randn(n, 4), edge_index=random_graph(n), num_nodes=n)
    before = data.edge_index.clone()
    view = SVDView(rank=3, niter=6)
    torch.manual_seed(0)
    out = view(data)
    assert torch.equal(data.edge_index, before) and "svd_us" not in data
    assert out.svd_us.shape == out.svd_v.shape == (n, 3)
    again = view(data)
    assert again.svd_us is out.svd_us  # computed once per graph
    dense = normalized_adjacency(data.edge_index, n).to_dense().double()
    u, s, vh = torch.linalg.svd(dense)
    assert s[2] - s[3] > 1e-3
    assert torch.allclose(SVDView.operator(out).to_dense().double(), (u[:, :3] * s[:3]) @ vh[:3], atol=1e-4)
    other = view(Data(x=data.x, edge_index=random_graph(n, seed=5), num_nodes=n))
    assert other.svd_us is not out.svd_us
    with pytest.raises(InvalidGraphError, match="SVDView first"):
        SVDView.operator(data)
    with pytest.raises(InvalidGraphError, match="HeteroData"):
        view(HeteroData())
    with pytest.raises(InvalidArgumentError, match="rank"):
        SVDView(rank=0)
    with pytest.raises(InvalidGraphError, match="outside"):
        view(Data(edge_index=torch.tensor([[0, 5], [5, 0]]), num_nodes=3))


def test_gcn_encoder_with_the_full_normalised_adjacency_as_operator_equals_message_passing():
    from graphcl.encoders import GNNEncoder
    n = 30
    edge_index = random_graph(n)
    x = torch.randn(n, 5)
    encoder = GNNEncoder(5, 8, 4, num_layers=2).eval()
    dense = normalized_adjacency(edge_index, n).to_dense()
    assert torch.allclose(encoder.forward_operator(x, dense), encoder(x, edge_index), atol=1e-5)
    with pytest.raises(InvalidArgumentError, match="gcn"):
        GNNEncoder(5, 8, 4, conv="sage").forward_operator(x, dense)


def test_grace_with_the_svd_view_trains_loss_finite_and_falling():
    from graphcl.methods import build_method
    from graphcl.train import train
    n = 60
    g = torch.Generator().manual_seed(0)
    data = Data(x=torch.randn(n, 12, generator=g), edge_index=random_graph(n, 300), num_nodes=n)
    method = build_method("grace", 12, out_channels=16, projection_channels=16, svd_rank=4)
    result = train(method, data, epochs=30, lr=0.01, seed=0, progress=False)
    assert all(torch.isfinite(torch.tensor(result.losses))) and result.losses[-1] < result.losses[0]
    assert method.svd_view.factors(data.edge_index, n).rank == 4  # cached, built once
    with pytest.raises(InvalidArgumentError, match="gcn"):
        build_method("grace", 12, conv="gat", svd_rank=4)


@pytest.mark.parametrize("steps", [0, 1, 3])
def test_low_pass_features_equal_dense_powers_of_the_gcn_adjacency_and_leave_the_input(steps):
    n = 30
    edge_index = random_graph(n)
    directed = edge_index[:, edge_index[0] < edge_index[1]]  # one direction only: the transform symmetrises
    x = torch.randn(n, 5, generator=torch.Generator().manual_seed(steps))
    data = Data(x=x.clone(), edge_index=directed.clone(), num_nodes=n)
    out = LowPassFeatures(steps)(data)
    a = torch.zeros(n, n)
    a[edge_index[0], edge_index[1]] = 1
    a = a + torch.eye(n)
    d = a.sum(1).pow(-0.5)
    expected = torch.linalg.matrix_power(d[:, None] * a * d[None], steps) @ x
    assert torch.allclose(out.x, expected, atol=1e-5)
    assert torch.equal(data.x, x) and torch.equal(data.edge_index, directed)
    assert out.edge_index is data.edge_index


def test_low_pass_features_smooth_towards_the_neighbours():
    # two cliques with opposite features plus noise: smoothing shrinks the within-clique spread.
    blocks = [torch.combinations(torch.arange(b, b + 10)).t() for b in (0, 10)]
    edge_index = to_undirected(torch.cat(blocks, 1), num_nodes=20)
    x = torch.cat([torch.ones(10, 3), -torch.ones(10, 3)]) + torch.randn(20, 3, generator=torch.Generator().manual_seed(0))
    smooth = LowPassFeatures(2)(Data(x=x, edge_index=edge_index, num_nodes=20)).x
    assert smooth[:10].std(0).max() < 0.2 * x[:10].std(0).min()
    assert (smooth[:10].mean(0) > 0).all() and (smooth[10:].mean(0) < 0).all()


def test_low_pass_features_check_their_input():
    with pytest.raises(InvalidGraphError, match="features"):
        LowPassFeatures(2)(Data(edge_index=torch.tensor([[0], [1]]), num_nodes=2))
    with pytest.raises(InvalidArgumentError, match="steps"):
        LowPassFeatures(-1)


def test_smooth_features_run_setting_filters_a_copy_and_rejects_heterogeneous_graphs():
    from graphcl.runner import configure

    n = 30
    data = Data(x=torch.randn(n, 4), edge_index=random_graph(n), num_nodes=n, y=torch.arange(n) % 3)
    x = data.x.clone()
    _, run, out = configure("scgc-star", data, overrides={"smooth_features": 2})
    assert run.smooth_features == 2
    assert torch.allclose(out.x, LowPassFeatures(2)(data).x) and torch.equal(data.x, x)
    hetero = HeteroData()
    hetero["paper"].x = torch.randn(4, 3)
    hetero.target_node_type = "paper"
    with pytest.raises(InvalidArgumentError, match="homogeneous"):
        configure("meow", hetero, overrides={"smooth_features": 2})


@pytest.mark.parametrize("directed", [False, True])
def test_the_gcn_encoder_propagates_sparsely_as_pyg_message_passing_on_any_edge_list(directed):
    # duplicate edges, self-loops, isolated nodes and (directed) one-way edges as GCNConv sees them
    from graphcl.encoders import GNNEncoder, gcn_propagation

    n = 25
    g = torch.Generator().manual_seed(3)
    edge_index = torch.randint(0, n - 3, (2, 90), generator=g)
    edge_index = torch.cat([edge_index, edge_index[:, :10], torch.tensor([[4, 7], [4, 7]])], dim=1)
    if not directed:
        edge_index = torch.cat([edge_index, edge_index.flip(0)], dim=1)
    weight = torch.rand(edge_index.size(1), generator=g)
    x = torch.randn(n, 6, generator=g, requires_grad=True)
    encoder = GNNEncoder(6, 8, 4, num_layers=2, act="prelu")
    assert encoder._sparse_gcn
    for w in (None, weight):
        sparse = encoder(x, edge_index, w)
        grad_sparse = torch.autograd.grad(sparse.square().sum(), (x, *encoder.parameters()))
        encoder._sparse_gcn = False  # PyG's GCNConv message passing
        reference = encoder(x, edge_index, w)
        grad_reference = torch.autograd.grad(reference.square().sum(), (x, *encoder.parameters()))
        encoder._sparse_gcn = True
        assert torch.allclose(sparse, reference, atol=1e-5)
        for a, b in zip(grad_sparse, grad_reference):
            assert torch.allclose(a, b, atol=1e-4)
    assert gcn_propagation(edge_index, n).shape == (n, n)
    assert not GNNEncoder(6, 8, 4, conv="gcn", improved=True)._sparse_gcn  # other normalisations: PyG's path


def test_gcn_propagation_built_in_csr_equals_pyg_gcn_norm_and_its_transpose():
    # random multigraphs: duplicate edges, weighted self-loops, isolated nodes, empty edge lists
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    from graphcl.encoders import gcn_propagation

    g = torch.Generator().manual_seed(0)
    for trial in range(60):
        n = int(torch.randint(1, 20, (), generator=g))
        edge_index = torch.randint(0, n, (2, int(torch.randint(0, 60, (), generator=g))), generator=g)
        weight = torch.rand(edge_index.size(1), generator=g) if trial % 2 else None
        index, values = gcn_norm(edge_index, weight, n, add_self_loops=True)
        reference = torch.zeros(n, n).index_put_((index[1], index[0]), values, accumulate=True)
        operator = gcn_propagation(edge_index, n, weight)
        assert torch.allclose(operator.to_dense(), reference, atol=1e-6)
        assert torch.allclose(operator.transpose.to_dense(), reference.t(), atol=1e-6)
        assert gcn_propagation(edge_index, n, weight, transpose=False).transpose is None


def test_sparse_input_features_meet_the_first_gcn_layer_as_a_sparse_matrix_with_the_same_result():
    from graphcl.encoders import GNNEncoder

    n, f = 40, 80
    g = torch.Generator().manual_seed(5)
    x = torch.rand(n, f, generator=g) * (torch.rand(n, f, generator=g) < 0.05)  # 5 % non-zeros
    edge_index = random_graph(n, 200)
    encoder = GNNEncoder(f, 16, 8)
    sparse = encoder(x, edge_index)
    grads = torch.autograd.grad(sparse.square().sum(), list(encoder.parameters()))
    encoder._sparse_gcn = False  # PyG's GCNConv on the dense features
    dense = encoder(x, edge_index)
    reference = torch.autograd.grad(dense.square().sum(), list(encoder.parameters()))
    assert torch.allclose(sparse, dense, atol=1e-5)
    for a, b in zip(grads, reference):
        assert torch.allclose(a, b, atol=1e-4)


def test_the_autoencoder_meets_sparse_features_with_a_sparse_first_layer_converted_once_per_tensor():
    import copy

    from graphcl.encoders import SDCNAutoencoder

    n, f = 30, 90
    g = torch.Generator().manual_seed(6)
    x = torch.rand(n, f, generator=g) * (torch.rand(n, f, generator=g) < 0.05)
    model = SDCNAutoencoder(f, 4, (16, 8, 12))
    z = model.encode(x)
    grads = torch.autograd.grad(z.square().sum(), list(model.encoder.parameters()))
    reference_z = model.encoder(x)  # the dense layers themselves
    reference = torch.autograd.grad(reference_z.square().sum(), list(model.encoder.parameters()))
    assert torch.allclose(z, reference_z, atol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(grads, reference))
    operator = model._sparse_input._operator
    assert operator is not None and model.encode(x) is not None and model._sparse_input._operator is operator
    x[0, 0] = 7.0  # changed in place: converted again, the new value used
    assert torch.allclose(model.encode(x), model.encoder(x), atol=1e-5) and model._sparse_input._operator is not operator
    twin = copy.deepcopy(model)
    assert twin._sparse_input._operator is None and "_sparse_input" not in "".join(model.state_dict())
    dense = torch.rand(n, f, generator=g)  # 100 % non-zeros: the dense layer
    assert torch.allclose(model.encode(dense), model.encoder(dense), atol=1e-6)
