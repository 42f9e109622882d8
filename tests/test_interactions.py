"""User-item interaction data: LightGCN / LightGCL formats, checks, the validation split."""
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from graphcl.data.interactions import (bipartite_edge_index, interaction_graph, load_interaction_folder,
                                       read_lightgcl_matrix, read_lightgcn_file, split_validation)
from graphcl.errors import InvalidGraphError


def pairs(*rows):
    return torch.tensor(rows, dtype=torch.long).t()


def test_lightgcn_files_give_pairs_and_a_bipartite_graph(tmp_path):
    (tmp_path / "train.txt").write_text("0 1 2\n1 0\n2\n3 2 3\n")  # user 2 has no training items
    (tmp_path / "test.txt").write_text("0 0\n1 3\n3 1\n")
    assert torch.equal(read_lightgcn_file(tmp_path / "train.txt"), pairs((0, 1), (0, 2), (1, 0), (3, 2), (3, 3)))
    data = load_interaction_folder(tmp_path, name="toy")
    assert (data.num_users, data.num_items, data.num_nodes) == (4, 4, 8)
    assert torch.equal(data.train_pairs, pairs((0, 1), (0, 2), (1, 0), (3, 2), (3, 3)))
    assert torch.equal(data.test_pairs, pairs((0, 0), (1, 3), (3, 1)))
    # Items offset by the number of users, both directions.
    edges = {tuple(e) for e in data.edge_index.t().tolist()}
    assert edges == {(u, 4 + i) for u, i in data.train_pairs.t().tolist()} | {(4 + i, u) for u, i in
                                                                              data.train_pairs.t().tolist()}
    assert torch.equal(bipartite_edge_index(pairs((1, 0)), 4), torch.tensor([[1, 4], [4, 1]]))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "train.txt").write_text("0 a\n")
    (tmp_path / "bad" / "test.txt").write_text("0 1\n")
    with pytest.raises(InvalidGraphError, match="line 1"):
        load_interaction_folder(tmp_path / "bad")
    (tmp_path / "none").mkdir()
    with pytest.raises(InvalidGraphError, match="neither"):
        load_interaction_folder(tmp_path / "none")


def test_lightgcl_pickles_give_the_same_graph(tmp_path):
    train = sp.coo_matrix((np.ones(3), ([0, 0, 2], [1, 2, 0])), shape=(3, 4))
    test = sp.coo_matrix((np.ones(2), ([1, 2], [3, 1])), shape=(3, 4))
    for name, matrix in (("trnMat.pkl", train), ("tstMat.pkl", test)):
        with open(tmp_path / name, "wb") as handle:
            pickle.dump(matrix, handle)
    read, shape = read_lightgcl_matrix(tmp_path / "trnMat.pkl")
    assert shape == (3, 4) and torch.equal(read, pairs((0, 1), (0, 2), (2, 0)))
    data = load_interaction_folder(tmp_path)
    assert (data.num_users, data.num_items) == (3, 4) and data.test_pairs.size(1) == 2


def test_bad_interactions_get_clear_errors_or_documented_handling():
    with pytest.warns(UserWarning, match="1 duplicate train interactions merged"):
        data = interaction_graph(pairs((0, 1), (0, 1), (1, 0)), pairs((1, 1),))
    assert data.train_pairs.size(1) == 2
    with pytest.raises(InvalidGraphError, match="both the training and the test"):
        interaction_graph(pairs((0, 1), (1, 0)), pairs((0, 1),))
    with pytest.raises(InvalidGraphError, match="beyond 2 users"):
        interaction_graph(pairs((0, 1), (2, 0)), pairs((1, 1),), num_users=2, num_items=3)
    with pytest.raises(InvalidGraphError, match="negative"):
        interaction_graph(pairs((0, -1),), pairs((1, 1),))
    with pytest.raises(InvalidGraphError, match="test split has no interactions"):
        interaction_graph(pairs((0, 1),), torch.zeros(2, 0, dtype=torch.long))


def test_validation_split_takes_a_fixed_fraction_per_user_and_leaves_the_input():
    g = torch.Generator().manual_seed(0)
    keys = torch.randperm(30 * 199, generator=g)[:2000]  # unique pairs, items 0..198
    data = interaction_graph(torch.stack([keys // 199, keys % 199]), pairs((0, 199),), 30, 200)
    before = data.train_pairs.clone()
    out = split_validation(data, 0.2, seed=3)
    assert torch.equal(data.train_pairs, before) and "val_pairs" not in data
    key = lambda p: set((p[0] * 200 + p[1]).tolist())  # noqa: E731
    assert key(out.train_pairs) | key(out.val_pairs) == key(before)
    assert not key(out.train_pairs) & key(out.val_pairs)
    counts = torch.bincount(before[0], minlength=30)
    assert torch.equal(torch.bincount(out.val_pairs[0], minlength=30), torch.floor(0.2 * counts.double()).long())
    assert out.edge_index.size(1) == 2 * out.train_pairs.size(1)
    again = split_validation(data, 0.2, seed=3)
    assert torch.equal(again.val_pairs, out.val_pairs)
    assert not torch.equal(split_validation(data, 0.2, seed=4).val_pairs, out.val_pairs)
    with pytest.raises(InvalidGraphError, match="already"):
        split_validation(out, 0.1)


@pytest.mark.mirror
def test_gowalla_loads_with_the_lightgcn_split(mirror, tmp_path, monkeypatch):
    from graphcl.data import load_dataset
    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path))
    data = load_dataset("gowalla")
    assert (data.num_users, data.num_items) == (29_858, 40_981)
    assert data.train_pairs.size(1) == 810_128 and data.test_pairs.size(1) == 217_242
    assert torch.bincount(data.test_pairs[0], minlength=data.num_users).min() >= 1
