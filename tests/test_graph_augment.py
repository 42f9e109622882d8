"""Per-graph augmenters on batches of graphs: invariants checked graph by graph."""
import math

import networkx as nx
import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.utils import to_undirected

from graphcl.augment import DropNodes, GrowSubgraph, MaskNodeFeatures, PerGraphChoice, PerturbEdges
from graphcl.errors import InvalidArgumentError, InvalidGraphError


def ring_with_chords(n: int, seed: int) -> Data:
    """A connected undirected graph; x carries each node's global id so tests can trace nodes."""
    g = torch.Generator().manual_seed(seed)
    ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
    chords = torch.randint(0, n, (2, n // 2), generator=g)
    chords = chords[:, chords[0] != chords[1]]
    return Data(edge_index=to_undirected(torch.cat([ring, chords], 1), num_nodes=n), num_nodes=n,
                y=torch.tensor([seed % 2]))


def make_batch(sizes=(5, 12, 30, 7, 50, 3)) -> Batch:
    graphs = [ring_with_chords(n, i) for i, n in enumerate(sizes)]
    batch = Batch.from_data_list(graphs)
    batch.x = torch.arange(batch.num_nodes, dtype=torch.float).unsqueeze(1)  # global node id as the feature
    return batch


def graph_of(batch: Batch, node_ids: torch.Tensor, original: Batch) -> torch.Tensor:
    return original.batch[node_ids.long()]


def per_graph(batch: Batch):
    for g in range(batch.num_graphs):
        nodes = (batch.batch == g).nonzero().view(-1)
        yield g, nodes


def check_structure(out: Batch, original: Batch) -> None:
    """Nodes stay in their graph, edges stay inside a graph, ptr / batch consistent, y kept."""
    assert out.num_graphs == original.num_graphs and torch.equal(out.y, original.y)
    ids = out.x[:, 0].long()
    assert torch.equal(original.batch[ids], out.batch)
    assert torch.equal(out.ptr, torch.cat([torch.zeros(1, dtype=torch.long),
                                           torch.cumsum(torch.bincount(out.batch, minlength=out.num_graphs), 0)]))
    row, col = out.edge_index
    assert torch.equal(out.batch[row], out.batch[col])
    # every kept edge existed in the original graph (node ids mapped back)
    original_edges = set(map(tuple, original.edge_index.t().tolist()))
    mapped = set(zip(ids[row].tolist(), ids[col].tolist()))
    assert mapped <= original_edges


def test_drop_nodes_removes_the_per_graph_count_with_their_edges_and_leaves_the_input():
    batch = make_batch()
    before = batch.edge_index.clone()
    torch.manual_seed(0)
    out = DropNodes(0.2)(batch)
    assert torch.equal(batch.edge_index, before) and batch.num_nodes == 107
    check_structure(out, batch)
    counts = torch.bincount(out.batch, minlength=batch.num_graphs)
    expected = torch.tensor([n - math.floor(0.2 * n) for n in (5, 12, 30, 7, 50, 3)])
    assert torch.equal(counts, expected)
    # dropped nodes took all their edges: the kept edges are exactly the original ones among kept nodes
    ids = set(out.x[:, 0].long().tolist())
    induced = {(u, v) for u, v in batch.edge_index.t().tolist() if u in ids and v in ids}
    kept = {(int(out.x[u, 0]), int(out.x[v, 0])) for u, v in out.edge_index.t().tolist()}
    assert kept == induced


def test_each_graph_gets_its_own_draw():
    batch = Batch.from_data_list([ring_with_chords(20, 1)] * 8)
    batch.x = torch.arange(batch.num_nodes, dtype=torch.float).unsqueeze(1) % 20  # local ids
    torch.manual_seed(1)
    out = DropNodes(0.5)(batch)
    kept = {tuple(out.x[out.batch == g, 0].long().tolist()) for g in range(8)}
    assert len(kept) > 1


def test_perturb_edges_removes_and_adds_within_each_graph():
    batch = make_batch()
    torch.manual_seed(2)
    out = PerturbEdges(0.3)(batch)
    row, col = out.edge_index
    assert torch.equal(batch.batch[row], batch.batch[col])  # added edges stay inside their graph
    assert not (row == col).any()
    und_before = {tuple(sorted(e)) for e in batch.edge_index.t().tolist()}
    und_after = {tuple(sorted(e)) for e in out.edge_index.t().tolist()}
    assert {(u, v) for u, v in out.edge_index.t().tolist()} == {(v, u) for u, v in out.edge_index.t().tolist()}
    removed_total, k_total = 0, 0
    for g, nodes in per_graph(batch):
        before_g = {e for e in und_before if batch.batch[e[0]] == g}
        after_g = {e for e in und_after if batch.batch[e[0]] == g}
        k = math.floor(0.3 * len(before_g))
        removed = len(before_g - after_g)  # fewer than k when a removed edge was drawn again
        assert removed <= k and len(after_g) <= len(before_g)  # at most as many added as removed
        removed_total, k_total = removed_total + removed, k_total + k
    assert removed_total >= 0.8 * k_total
    assert und_after - und_before  # something was added


def test_mask_node_features_masks_the_per_graph_count():
    batch = make_batch()
    batch.x = torch.ones(batch.num_nodes, 4)
    torch.manual_seed(3)
    out = MaskNodeFeatures(0.25, fill="zero")(batch)
    changed = (out.x == 0).all(1)
    for g, nodes in per_graph(batch):
        assert int(changed[nodes].sum()) == math.floor(0.25 * nodes.numel())
    assert torch.equal(batch.x, torch.ones(batch.num_nodes, 4))
    noisy = MaskNodeFeatures(0.25)(batch)
    assert (noisy.x != 1).any(1).sum() == changed.sum()
    with pytest.raises(InvalidGraphError, match="node features"):
        MaskNodeFeatures(0.2)(Batch.from_data_list([ring_with_chords(4, 0)]))


def test_grown_subgraph_is_connected_and_has_the_target_size():
    batch = make_batch()
    torch.manual_seed(4)
    out = GrowSubgraph(0.2)(batch)
    check_structure(out, batch)
    for g, nodes in per_graph(out):
        n_g = int((batch.batch == g).sum())
        assert nodes.numel() == math.ceil(0.8 * n_g)
        sub = nx.Graph()
        sub.add_nodes_from(nodes.tolist())
        sub.add_edges_from(e for e in out.edge_index.t().tolist() if out.batch[e[0]] == g)
        assert nx.is_connected(sub)


def test_grown_subgraph_stops_at_its_component():
    two_parts = Data(edge_index=to_undirected(torch.tensor([[0, 1, 3], [1, 2, 4]]), num_nodes=5), num_nodes=5)
    batch = Batch.from_data_list([two_parts])
    batch.x = torch.arange(5, dtype=torch.float).unsqueeze(1)
    torch.manual_seed(0)
    for _ in range(5):
        out = GrowSubgraph(0.1)(batch)
        kept = set(out.x[:, 0].long().tolist())
        assert kept in ({0, 1, 2}, {3, 4})


def test_per_graph_choice_mixes_augmenters_across_graphs():
    batch = make_batch(sizes=(20,) * 40)
    torch.manual_seed(5)
    out = PerGraphChoice([DropNodes(0.5), MaskNodeFeatures(0.5, fill="zero")])(batch)
    counts = torch.bincount(out.batch, minlength=40)
    dropped = counts == 10
    assert dropped.any() and (~dropped).any() and ((counts == 10) | (counts == 20)).all()
    for g in (~dropped).nonzero().view(-1).tolist():  # the others were masked instead
        assert int((out.x[out.batch == g] == 0).all(1).sum()) >= 10
    with pytest.raises(InvalidArgumentError, match="per-graph"):
        PerGraphChoice([])


def test_bad_batches_get_clear_errors():
    with pytest.raises(InvalidGraphError, match="Batch"):
        DropNodes(0.2)(ring_with_chords(5, 0))
    empty = Batch.from_data_list([ring_with_chords(4, 0), Data(edge_index=torch.zeros(2, 0, dtype=torch.long),
                                                               num_nodes=0, y=torch.tensor([0]))])
    with pytest.raises(InvalidGraphError, match="graph 1 of the batch has no nodes"):
        DropNodes(0.2)(empty)


def test_chained_augmenters_keep_the_batch_consistent_for_graphs_without_features():
    """Graphs without x store num_nodes; every augmenter must keep it equal to the real count."""
    batch = Batch.from_data_list([ring_with_chords(n, i) for i, n in enumerate((9, 15, 4, 30) * 5)])
    assert "num_nodes" in batch and batch.x is None
    torch.manual_seed(6)
    out = PerGraphChoice([DropNodes(0.3), GrowSubgraph(0.3), PerturbEdges(0.3)])(batch)
    assert out.num_nodes == out.batch.numel() == int(out.ptr[-1])
    assert int(out.edge_index.max()) < out.num_nodes
    again = GrowSubgraph(0.5)(DropNodes(0.5)(batch))
    assert again.num_nodes == again.batch.numel()
