"""POT's node compactness against the official dense code (VoidHaruhi/POT-GCL GRACE/model.py pot_loss)."""
import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import degree, to_dense_adj, to_scipy_sparse_matrix, to_undirected

from graphcl.encoders import GNNEncoder
from graphcl.errors import InvalidArgumentError
from graphcl.losses import NodeCompactness


def _official_alpha_beta(l, u, alpha):  # my_utils.get_alpha_beta, verbatim but for names
    alpha_L = torch.zeros(l.shape)
    alpha_U, beta_L, beta_U = torch.clone(alpha_L), torch.clone(alpha_L), torch.clone(alpha_L)
    pos_mask = l >= 0
    neg_mask = u <= 0
    alpha_L[pos_mask] = 1
    alpha_U[pos_mask] = 1
    alpha_L[neg_mask] = alpha
    alpha_U[neg_mask] = alpha
    not_mask = ~(pos_mask | neg_mask)
    alpha_not_upp = u[not_mask] - alpha * l[not_mask]
    alpha_not = alpha_not_upp / (u[not_mask] - l[not_mask])
    alpha_L[not_mask] = alpha_not
    alpha_U[not_mask] = alpha_not
    beta_U[not_mask] = (alpha - 1) * u[not_mask] * l[not_mask] / alpha_not_upp
    return alpha_L, alpha_U, beta_L, beta_U


def _official_pot_loss(encoder, z2, x, edge_index, edge_index_1, local_changes):
    """The official pot_loss with node_list = every node in order (dense N x N bounds)."""
    n = x.size(0)
    deg = degree(to_undirected(edge_index)[1], n).numpy()
    A = to_scipy_sparse_matrix(edge_index, num_nodes=n).tocsr()
    A_tilde = A + sp.eye(n)
    conv = encoder.gnn.convs
    act = encoder.gnn.act
    W1, b1 = conv[0].lin.weight.t(), conv[0].bias
    W2, b2 = conv[1].lin.weight.t(), conv[1].bias
    degs_tilde = deg + 1
    max_delete = np.maximum(degs_tilde.astype("int") - 2, 0)
    max_delete = np.minimum(max_delete, np.round(local_changes))
    s = 1 / np.sqrt(degs_tilde - max_delete)
    A_upper = np.float32(np.where(A_tilde.toarray() > 0, s * s[:, None], 0))
    new_edge_index, An = gcn_norm(edge_index, num_nodes=n)
    An = to_dense_adj(new_edge_index, edge_attr=An, max_num_nodes=n)[0].numpy()
    A_lower = np.zeros_like(An)
    A_lower[np.diag_indices_from(A_lower)] = np.diag(An)
    U, L = torch.tensor(A_upper), torch.tensor(np.float32(A_lower))
    XW = conv[0].lin(x)
    H = act(conv[0](x, edge_index))
    HW = conv[1].lin(H)
    z1_U = (U + L) / 2 @ XW + (U - L) / 2 @ XW.abs() + b1
    z1_L = (U + L) / 2 @ XW - (U - L) / 2 @ XW.abs() + b1
    z2_U = (U + L) / 2 @ HW + (U - L) / 2 @ HW.abs() + b2
    z2_L = (U + L) / 2 @ HW - (U - L) / 2 @ HW.abs() + b2
    alpha = 0 if isinstance(act, torch.nn.ReLU) else act.weight.item()
    z2_norm = F.normalize(z2)
    Wcl = z2_norm * (n / (n - 1)) - z2_norm.sum(0) / (n - 1)
    a2L, a2U, b2L, b2U = _official_alpha_beta(z2_L, z2_U, alpha)
    a1L, a1U, b1L, b1U = _official_alpha_beta(z1_L, z1_U, alpha)
    Lambda_2 = torch.where(Wcl >= 0, a2L, a2U) * Wcl
    Delta_2 = torch.where(Wcl >= 0, b2L, b2U)
    W_tilde_2 = Lambda_2 @ W2.T
    b_tilde_2 = torch.diag(Lambda_2 @ (Delta_2 + b2).T)
    Lambda_1 = torch.where(W_tilde_2 >= 0, a1L, a1U) * W_tilde_2
    Delta_1 = torch.where(W_tilde_2 >= 0, b1L, b1U)
    W_tilde_1 = Lambda_1 @ W1.T
    b_tilde_1 = torch.diag(Lambda_1 @ (Delta_1 + b1).T)
    XW_tilde = (x[:, None, :] @ W_tilde_1[:, :, None]).view(-1, 1)
    index, values = gcn_norm(edge_index_1, num_nodes=n)
    An_ptb = torch.sparse_coo_tensor(index, values, (n, n)).to_dense()
    H_tilde = An_ptb @ XW_tilde + b_tilde_1.view(-1, 1)
    score = (An_ptb @ H_tilde + b_tilde_2.view(-1, 1)).squeeze()
    return F.binary_cross_entropy_with_logits(score, torch.ones_like(score))


def _graph(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    edge_index = to_undirected(torch.randint(0, n, (2, 3 * n), generator=g), num_nodes=n)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    x = torch.rand(n, 12, generator=g)
    # an undirected view: the official multiplies by the transpose of the encoder's propagation
    # matrix (gcn_norm's pairs as (row, column)), which equals it on undirected graphs only
    pairs = edge_index[:, edge_index[0] < edge_index[1]]
    view = to_undirected(pairs[:, torch.rand(pairs.size(1), generator=g) > 0.3], num_nodes=n)
    return x, edge_index, view


@pytest.mark.parametrize("act", ["relu", "prelu"])
def test_node_compactness_equals_the_official_dense_pot_loss_with_its_gradients(act):
    torch.manual_seed(0)
    x, edge_index, view = _graph()
    encoder = GNNEncoder(12, 16, 8, num_layers=2, act=act)
    if act == "prelu":
        encoder.gnn.act.weight.data.fill_(0.15)
    other = torch.randn(x.size(0), 8, requires_grad=True)
    deg = degree(to_undirected(edge_index)[1], x.size(0))
    drops = 0.4 * deg
    params = [other, *encoder.parameters()]
    ours = NodeCompactness()(encoder, x, edge_index, [(view, other, drops)])
    grads = torch.autograd.grad(ours, params, allow_unused=True)
    reference = _official_pot_loss(encoder, other, x, edge_index, view, drops.numpy())
    expected = torch.autograd.grad(reference, params, allow_unused=True)
    assert torch.allclose(ours, reference, atol=1e-5)
    for a, b in zip(grads, expected):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.allclose(a, b, atol=1e-5)
    # two views: the mean of their losses (the official (pot_loss_1 + pot_loss_2) / 2)
    second = torch.randn_like(other)
    both = NodeCompactness()(encoder, x, edge_index, [(view, other, drops), (edge_index, second, 0.2 * deg)])
    alone = _official_pot_loss(encoder, second, x, edge_index, edge_index, (0.2 * deg).numpy())
    assert torch.allclose(both, (reference + alone) / 2, atol=1e-5)


def test_node_compactness_refuses_what_it_cannot_bound():
    x, edge_index, view = _graph(12)
    other = torch.randn(12, 8)
    drops = torch.zeros(12)
    with pytest.raises(InvalidArgumentError, match="two-layer GCN"):
        NodeCompactness()(GNNEncoder(12, 16, 8, num_layers=3), x, edge_index, [(view, other, drops)])
    with pytest.raises(InvalidArgumentError, match="two-layer GCN"):
        NodeCompactness()(GNNEncoder(12, 16, 8, conv="gat"), x, edge_index, [(view, other, drops)])
    with pytest.raises(InvalidArgumentError, match="activation"):
        NodeCompactness()(GNNEncoder(12, 16, 8, act="elu"), x, edge_index, [(view, other, drops)])
    with pytest.raises(InvalidArgumentError, match="at least 2 nodes"):
        NodeCompactness()(GNNEncoder(12, 16, 8), x[:1], edge_index[:, :0], [(view[:, :0], other[:1], drops[:1])])


@pytest.mark.parametrize("method", ["grace", "gca"])
def test_grace_and_gca_with_pot_train_and_refuse_what_pot_cannot_bound(method):
    from graphcl.data import planted_partition
    from graphcl.methods import build_method
    from graphcl.methods.grace import expected_edge_drops
    from graphcl.train import train

    data = planted_partition(60, num_blocks=3, avg_degree=6, num_features=10, seed=0)
    data.edge_index = to_undirected(data.edge_index[:, data.edge_index[0] != data.edge_index[1]], num_nodes=60)
    torch.manual_seed(0)
    model = build_method(method, 10, out_channels=8, projection_channels=8, pot_kappa=0.4)
    losses = []
    train(model, data, epochs=30, lr=0.01, seed=0, progress=False, on_epoch_end=lambda e, loss: losses.append(loss))
    assert all(np.isfinite(losses)) and np.mean(losses[-5:]) < np.mean(losses[:5])
    drops = expected_edge_drops(model.view_1, data)
    assert drops.shape == (60,) and (drops >= 0).all()
    edges = [part for part in model.view_1.transforms if hasattr(part, "p") and "Edge" in type(part).__name__][0]
    if method == "grace":  # p times the distinct neighbours
        assert torch.allclose(drops, edges.p * degree(data.edge_index[1], 60))
    else:  # every edge's drop probability, counted at its target
        assert torch.allclose(drops.sum(), edges.drop_probability(data).sum())
    with pytest.raises(InvalidArgumentError, match="pot_kappa"):
        build_method(method, 10, pot_kappa=1.0)
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        build_method(method, 10, pot_kappa=0.4, batch_size=16)
    with pytest.raises(InvalidArgumentError, match="two-layer GCN"):
        build_method(method, 10, pot_kappa=0.4, conv="gat")
