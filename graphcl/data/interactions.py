r"""User-item interaction data (implicit feedback) as a bipartite :class:`~torch_geometric.data.Data`.

The graph has ``num_users + num_items`` nodes, users first, items offset by ``num_users``;
``edge_index`` holds every *training* interaction in both directions (what LightGCN propagates
over). The interactions themselves are kept as ``(user, item)`` id pairs without offsets:
``train_pairs`` ``[2, E_train]``, ``test_pairs`` ``[2, E_test]`` and, after
:func:`split_validation`, ``val_pairs``. No ``x`` (embeddings are learned), no ``y``.

Formats read:

* LightGCN's ``train.txt`` / ``test.txt``: a line per user, ``user item item ...`` (0-based ids);
  a user with no items on a line has none in that split.
* LightGCL's pickled sparse matrices ``trnMat.pkl`` / ``tstMat.pkl`` (``scipy.sparse`` users x items).

Handling of bad input (:func:`interaction_graph`): negative ids and ids beyond given counts raise;
a pair in both train and test raises (the test set would leak into training); duplicate pairs
within a split are merged, with a warning that counts them; users without test items are
simply not evaluated; an empty test split raises.
"""
from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from graphcl.errors import InvalidGraphError

__all__ = ["read_lightgcn_file", "read_lightgcl_matrix", "interaction_graph", "split_validation", "first_users",
           "bipartite_edge_index", "is_interaction_folder", "load_interaction_folder"]


def read_lightgcn_file(path: str | Path) -> Tensor:
    """``(user, item)`` pairs ``[2, E]`` of a LightGCN-format file (one line per user)."""
    users, items = [], []
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            fields = line.split()
            if not fields:
                continue
            try:
                ids = [int(f) for f in fields]
            except ValueError:
                raise InvalidGraphError(f"{path}, line {number}: expected integer ids 'user item item ...', "
                                        f"got {line.strip()[:60]!r}") from None
            users.extend([ids[0]] * (len(ids) - 1))
            items.extend(ids[1:])
    return torch.tensor([users, items], dtype=torch.long).view(2, -1)


def read_lightgcl_matrix(path: str | Path) -> tuple[Tensor, tuple[int, int]]:
    """``(pairs [2, E], (num_users, num_items))`` of one of LightGCL's pickled ``scipy.sparse``
    matrices (``trnMat.pkl``, ``tstMat.pkl``; non-zero entries are interactions). Unpickling runs
    code from the file: load only files you trust."""
    import scipy.sparse as sp

    with open(path, "rb") as handle:
        matrix = pickle.load(handle)
    if not sp.issparse(matrix):
        raise InvalidGraphError(f"{path}: expected a pickled scipy.sparse matrix, got {type(matrix).__name__}")
    coo = sp.coo_matrix(matrix)
    coo.eliminate_zeros()
    pairs = torch.from_numpy(np.stack([coo.row, coo.col]).astype(np.int64))
    return pairs, (int(coo.shape[0]), int(coo.shape[1]))


def _unique_pairs(pairs: Tensor, num_items: int, split: str) -> Tensor:
    key = pairs[0] * num_items + pairs[1]
    unique_key = torch.unique(key)
    if unique_key.numel() < key.numel():
        warnings.warn(f"{key.numel() - unique_key.numel()} duplicate {split} interactions merged "
                      "(implicit feedback: an interaction counts once)", stacklevel=3)
    return torch.stack([unique_key // num_items, unique_key % num_items])


def bipartite_edge_index(pairs: Tensor, num_users: int) -> Tensor:
    """Both directions of the ``(user, item)`` pairs over users ``0..M-1`` and items ``M..M+N-1``."""
    user, item = pairs[0], pairs[1] + num_users
    return torch.cat([torch.stack([user, item]), torch.stack([item, user])], dim=1)


def interaction_graph(train: Tensor, test: Tensor, num_users: int | None = None, num_items: int | None = None,
                      name: str | None = None) -> Data:
    """The bipartite graph of ``train`` with the pairs of both splits (see the module docstring).

    Args:
        train, test: ``(user, item)`` pairs ``[2, E]``.
        num_users, num_items: counts (default: one more than the largest id in either split).
    """
    for split, pairs in (("train", train), ("test", test)):
        if pairs.dim() != 2 or pairs.size(0) != 2:
            raise InvalidGraphError(f"{split} pairs must have shape [2, E] (user, item), got {tuple(pairs.shape)}")
        if pairs.numel() and int(pairs.min()) < 0:
            raise InvalidGraphError(f"{split} interactions hold a negative id; ids are 0-based user / item indices")
    if train.size(1) == 0:
        raise InvalidGraphError("the training split has no interactions")
    if test.size(1) == 0:
        raise InvalidGraphError("the test split has no interactions: nothing to evaluate; check the test file")
    both = torch.cat([train, test], dim=1)
    num_users = int(both[0].max()) + 1 if num_users is None else int(num_users)
    num_items = int(both[1].max()) + 1 if num_items is None else int(num_items)
    for split, pairs in (("train", train), ("test", test)):
        if int(pairs[0].max()) >= num_users or int(pairs[1].max()) >= num_items:
            raise InvalidGraphError(f"{split} interactions refer to user {int(pairs[0].max())} / item "
                                    f"{int(pairs[1].max())}, beyond {num_users} users / {num_items} items")
    train, test = _unique_pairs(train, num_items, "train"), _unique_pairs(test, num_items, "test")
    overlap = np.intersect1d((train[0] * num_items + train[1]).numpy(), (test[0] * num_items + test[1]).numpy())
    if overlap.size:
        raise InvalidGraphError(f"{overlap.size} interactions are in both the training and the test split "
                                f"(e.g. user {overlap[0] // num_items}, item {overlap[0] % num_items}); the test "
                                "set must hold unseen interactions")
    data = Data(edge_index=bipartite_edge_index(train, num_users), num_nodes=num_users + num_items)
    data.num_users, data.num_items = num_users, num_items
    data.train_pairs, data.test_pairs = train, test
    if name is not None:
        data.name = name
    return data


def split_validation(data: Data, fraction: float = 0.1, seed: int = 0) -> Data:
    """A copy of ``data`` with ``fraction`` of every user's training interactions moved to
    ``val_pairs`` (``floor(fraction * n_u)`` of a user's ``n_u``, chosen with a fixed seed; users
    with too few interactions keep them all) and ``edge_index`` rebuilt from the rest, so model
    selection never looks at the test split. The input is not modified."""
    if not 0.0 < fraction < 1.0:
        raise InvalidGraphError(f"fraction must be in (0, 1), got {fraction}")
    if "val_pairs" in data:
        raise InvalidGraphError("the graph already has a validation split (val_pairs)")
    pairs = data.train_pairs
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(pairs.size(1), generator=g)
    order = order[torch.sort(pairs[0, order], stable=True).indices]  # grouped by user, random within a user
    user = pairs[0, order]
    counts = torch.bincount(user, minlength=data.num_users)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(user.numel()) - starts[user]
    to_val = rank < torch.floor(fraction * counts.double()).long()[user]
    val, train = pairs[:, order[to_val]], pairs[:, order[~to_val]]
    out = data.clone()
    out.train_pairs, out.val_pairs = train, val
    out.edge_index = bipartite_edge_index(train, data.num_users)
    return out


def is_interaction_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds LightGCN's ``train.txt`` + ``test.txt`` or LightGCL's ``trnMat.pkl`` +
    ``tstMat.pkl``."""
    folder = Path(folder)
    return any((folder / a).is_file() and (folder / b).is_file()
               for a, b in (("train.txt", "test.txt"), ("trnMat.pkl", "tstMat.pkl")))


def load_interaction_folder(folder: str | Path, name: str | None = None) -> Data:
    """A folder holding LightGCN's ``train.txt`` + ``test.txt`` or LightGCL's ``trnMat.pkl`` + ``tstMat.pkl``."""
    folder = Path(folder)
    if (folder / "train.txt").exists() and (folder / "test.txt").exists():
        return interaction_graph(read_lightgcn_file(folder / "train.txt"), read_lightgcn_file(folder / "test.txt"),
                                 name=name)
    if (folder / "trnMat.pkl").exists() and (folder / "tstMat.pkl").exists():
        train, shape = read_lightgcl_matrix(folder / "trnMat.pkl")
        test, test_shape = read_lightgcl_matrix(folder / "tstMat.pkl")
        if shape != test_shape:
            raise InvalidGraphError(f"{folder}: trnMat.pkl is {shape} but tstMat.pkl is {test_shape}")
        return interaction_graph(train, test, *shape, name=name)
    raise InvalidGraphError(f"{folder} holds neither train.txt + test.txt (LightGCN format) nor trnMat.pkl + "
                            "tstMat.pkl (LightGCL format)")


def first_users(data: Data, num_users: int) -> Data:
    """The sub-dataset of users ``0..num_users-1`` and the items they have training interactions
    with (items renumbered in order; test and validation pairs on other items dropped): a small
    real-data graph for smoke runs."""
    if num_users < 1:
        raise InvalidGraphError(f"num_users must be >= 1, got {num_users}")
    train = data.train_pairs[:, data.train_pairs[0] < num_users]
    items = torch.unique(train[1])
    remap = torch.full((data.num_items,), -1, dtype=torch.long)
    remap[items] = torch.arange(items.numel())

    def keep(pairs: Tensor) -> Tensor:
        pairs = pairs[:, pairs[0] < num_users]
        pairs = torch.stack([pairs[0], remap[pairs[1]]])
        return pairs[:, pairs[1] >= 0]

    out = interaction_graph(keep(train), keep(data.test_pairs), num_users, items.numel(),
                            name=data.get("name"))
    if "val_pairs" in data:
        out.val_pairs = keep(data.val_pairs)
    return out
