"""Shared fixtures: a tiny synthetic graph with planted communities, and the dataset mirror."""
import os
from pathlib import Path

import pytest
import torch
from threadpoolctl import threadpool_limits
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, remove_self_loops, stochastic_blockmodel_graph, to_undirected

# The tests' graphs are tiny: one thread for torch and the BLAS libraries. With two each on a loaded 2-core
# machine, the many small scikit-learn fits of the TU protocol ran 10-35x slower.
torch.set_num_threads(1)
threadpool_limits(1)


def planted_graph(num_blocks: int = 3, block_size: int = 40, num_features: int = 16, seed: int = 0) -> Data:
    """A stochastic block model with class-dependent features (a graph a GNN can learn from)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    edge_index = stochastic_blockmodel_graph([block_size] * num_blocks,
                                             torch.full((num_blocks, num_blocks), 0.01).fill_diagonal_(0.2))
    edge_index = coalesce(to_undirected(remove_self_loops(edge_index)[0]))
    y = torch.arange(num_blocks).repeat_interleave(block_size)
    centres = torch.randn(num_blocks, num_features, generator=g)
    x = centres[y] + 0.8 * torch.randn(len(y), num_features, generator=g)
    data = Data(x=x, edge_index=edge_index, y=y, num_nodes=len(y))
    data.name = "planted"
    return data


@pytest.fixture
def tiny_graph() -> Data:
    return planted_graph()


@pytest.fixture
def mirror() -> Path:
    """The read-only raw-file mirror (GRAPHCL_MIRROR); tests using it skip when it is absent."""
    path = os.environ.get("GRAPHCL_MIRROR")
    if not path or not Path(path).is_dir():
        pytest.skip("GRAPHCL_MIRROR is not set to a folder of raw dataset files")
    return Path(path).resolve()


def write_graph_folder(folder):
    """:func:`planted_graph` as a user folder (edges.txt, features.npy, labels.npy); returns the folder."""
    import numpy as np

    data = planted_graph()
    folder.mkdir(parents=True)
    np.savetxt(folder / "edges.txt", data.edge_index.t().numpy(), fmt="%d")
    np.save(folder / "features.npy", data.x.numpy())
    np.save(folder / "labels.npy", data.y.numpy())
    return folder
