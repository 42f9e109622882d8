"""Methods composed from objects: ``encoder=``, ``augmenters=``, ``projector=``, ``loss=`` instead of names.

Each method trains with parts it would not build itself, and parts equal to the defaults give
exactly the losses of the method built by name (same seed: the same modules in the same order).
"""
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.data import Data, HeteroData
from torch_geometric.utils import to_undirected

from graphcl.augment import (AdaptiveDropEdge, AdaptiveMaskFeature, Compose, DropEdge, DropNodes, GrowSubgraph,
                             MaskFeature, MaskNodeFeatures, PerturbEdges)
from graphcl.encoders import GINGraphEncoder, GNNEncoder, MLPEncoder, ProjectionHead, StandardizedGCN
from graphcl.errors import InvalidArgumentError
from graphcl.losses import (DCL, DCLW, GraphNTXent, InfoNCE, MetaNodeContrast, MultiPositiveInfoNCE,
                            NeighbourContrast)
from graphcl.methods import GCA, GRACE, SCGC, GraphCL, HeCoStyle, PamC, SCGCStar, build_method
from graphcl.train import train

from conftest import planted_graph

#: A small autoencoder and a short pretraining for the deep clustering methods.
TINY_AE = {"out_channels": 4, "hidden_channels": [32, 32, 64], "num_clusters": 3, "pretrain_epochs": 1,
           "pretrain_batch_size": 32, "kmeans_init": 2, "order": 2}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Pretrained autoencoders go to a per-test folder."""
    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path / "cache"))


def losses_of(model, data, epochs: int = 5) -> list[float]:
    return train(model, data, epochs=epochs, lr=0.01, seed=0, progress=False).losses


def assert_falling(losses: list[float]) -> None:
    values = torch.tensor(losses)
    assert torch.isfinite(values).all()
    first, last = values[:10].mean(), values[-10:].mean()
    assert last < first - min(0.05, 0.05 * abs(first)), (first, last)


def grace_views(pe1, pe2, pf1, pf2):
    return Compose([DropEdge(pe1), MaskFeature(pf1)]), Compose([DropEdge(pe2), MaskFeature(pf2)])


# ----------------------------------------------------------------------------------- GRACE / GCA
@pytest.mark.parametrize("encoder", ["gat", "mlp"])
def test_grace_trains_with_its_own_encoder_augmenters_and_dcl(encoder):
    data = planted_graph()
    enc = (GNNEncoder(16, 32, 16, conv="gat", heads=2) if encoder == "gat" else MLPEncoder(16, 32, 16))
    views = (Compose([DropEdge(0.3), MaskFeature(0.2)]), Compose([DropEdge(0.1), MaskFeature(0.3)]))
    loss = DCL(tau=0.5)
    model = GRACE(16, encoder=enc, augmenters=views, loss=loss)
    assert model.encoder is enc and model.criterion is loss and (model.view_1, model.view_2) == views
    assert model.projector.lin1.in_features == 16  # sized by the encoder's out_channels
    assert_falling(losses_of(model, data, epochs=60))
    assert model.embed(data).shape == (120, 16)


def test_grace_with_default_parts_as_objects_gives_the_same_losses():
    data = planted_graph()
    by_name = GRACE(16, out_channels=16, projection_channels=8, tau=0.5)
    parts = GRACE(16, encoder=GNNEncoder(16, 32, 16, 2, conv="gcn", act="relu"),
                  augmenters=grace_views(0.2, 0.4, 0.3, 0.4), projector=ProjectionHead(16, 8, 16),
                  loss=InfoNCE(0.5))
    expected = losses_of(by_name, data)
    assert losses_of(parts, data) == expected
    assert torch.equal(by_name.embed(data), parts.embed(data))
    # build_method passes the objects too
    again = build_method("grace", 16, out_channels=16, projection_channels=8, loss=InfoNCE(0.5))
    assert losses_of(again, data) == expected


def test_grace_loss_dclw_and_a_custom_projector():
    data = planted_graph()
    model = GRACE(16, out_channels=16, projector=nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 8)),
                  loss=DCLW(tau=0.5, sigma=0.5))
    losses = losses_of(model, data, epochs=3)
    assert all(torch.isfinite(torch.tensor(losses)))


def test_grace_rejects_parts_that_are_not_objects():
    with pytest.raises(InvalidArgumentError, match="loss"):
        GRACE(16, loss="dcl")
    with pytest.raises(InvalidArgumentError, match="encoder must be a torch.nn.Module"):
        GRACE(16, encoder="gat")
    with pytest.raises(InvalidArgumentError, match="augmenters must be a tuple of 2 transforms"):
        GRACE(16, augmenters=(DropEdge(0.2),))
    with pytest.raises(InvalidArgumentError, match="augmenters must be a tuple of 2 transforms"):
        GRACE(16, augmenters=DropEdge(0.2))
    with pytest.raises(InvalidArgumentError, match="forward_operator"):
        GRACE(16, svd_rank=4, encoder=MLPEncoder(16, 32, 16))


def test_gca_with_default_parts_as_objects_gives_the_same_losses():
    data = planted_graph()

    def view(pe, pf):
        return Compose([AdaptiveMaskFeature(pf, centrality="pagerank", threshold=0.7),
                        AdaptiveDropEdge(pe, centrality="pagerank", threshold=0.7)])

    by_name = GCA(16, out_channels=16, projection_channels=8, drop_scheme="pagerank")
    parts = GCA(16, encoder=GNNEncoder(16, 32, 16, 2, act="prelu"), augmenters=(view(0.3, 0.1), view(0.4, 0.0)),
                projector=ProjectionHead(16, 8, 16), loss=InfoNCE(0.4))
    assert losses_of(parts, data) == losses_of(by_name, data)
    assert torch.equal(by_name.embed(data), parts.embed(data))


def test_gca_trains_with_its_own_encoder_and_loss():
    data = planted_graph()
    model = GCA(16, out_channels=16, projection_channels=16, encoder=GNNEncoder(16, 32, 16, conv="sage"),
                loss=DCL(tau=0.5))
    assert_falling(losses_of(model, data, epochs=60))


# ----------------------------------------------------------------------------------- GraphCL
def small_graphs(count: int = 40) -> list[Data]:
    """Rings with random chords (class 1 denser), one-hot node features."""
    graphs = []
    for i in range(count):
        n, label = 6 + i % 5, i % 2
        g = torch.Generator().manual_seed(i)
        ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
        extra = torch.randint(0, n, (2, n * (1 + label)), generator=g)
        extra = extra[:, extra[0] != extra[1]]
        x = F.one_hot(torch.randint(0, 3, (n,), generator=g), 3).float()
        graphs.append(Data(x=x, edge_index=to_undirected(torch.cat([ring, extra], 1), num_nodes=n),
                           y=torch.tensor([label])))
    return graphs


def test_graphcl_with_default_parts_as_objects_gives_the_same_losses():
    graphs = small_graphs()
    by_name = GraphCL(3, hidden_channels=8, num_layers=2, batch_size=10)
    d = 16
    parts = GraphCL(3, batch_size=10, encoder=GINGraphEncoder(3, 8, 2),
                    augmenters=[DropNodes(0.2), PerturbEdges(0.2), GrowSubgraph(0.2), MaskNodeFeatures(0.2)],
                    projector=nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d)), loss=GraphNTXent(0.2))
    assert losses_of(parts, graphs, epochs=3) == losses_of(by_name, graphs, epochs=3)
    assert torch.equal(by_name.embed(graphs), parts.embed(graphs))


def test_graphcl_trains_with_its_own_augmenters_and_loss():
    graphs = small_graphs(60)
    model = GraphCL(3, hidden_channels=8, batch_size=20, augment_both=True,
                    augmenters=[DropNodes(0.1), GrowSubgraph(0.3)], loss=GraphNTXent(0.5))
    losses = losses_of(model, graphs, epochs=15)
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]
    single = GraphCL(3, hidden_channels=8, batch_size=20, augmenters=DropNodes(0.2))  # one transform, used as is
    assert isinstance(single.augment, DropNodes)
    assert all(torch.isfinite(torch.tensor(losses_of(single, graphs, epochs=2))))
    with pytest.raises(InvalidArgumentError, match="augmenters must be a tuple of one or more transforms"):
        GraphCL(3, augmenters=[])
    with pytest.raises(InvalidArgumentError, match="projector must be a torch.nn.Module"):
        GraphCL(3, projector="mlp")


# ----------------------------------------------------------------------------------- deep clustering
@pytest.mark.parametrize("cls, contrast", [(SCGCStar, NeighbourContrast), (SCGC, NeighbourContrast),
                                           (PamC, MetaNodeContrast)])
def test_deep_clustering_with_its_contrast_as_an_object_gives_the_same_losses(cls, contrast):
    data = planted_graph()
    by_name = cls(16, tau=0.5, **TINY_AE)
    loss = contrast(0.5)
    parts = cls(16, loss=loss, **TINY_AE)
    assert parts.criterion is loss
    assert losses_of(parts, data) == losses_of(by_name, data)


def test_deep_clustering_trains_with_another_contrast():
    data = planted_graph()
    model = build_method("scgc-star", 16, loss=NeighbourContrast(0.25, chunk_size=17), **TINY_AE)
    assert_falling(losses_of(model, data, epochs=60))
    with pytest.raises(InvalidArgumentError, match="loss"):
        build_method("pamc", 16, loss="meta-nodes", **TINY_AE)


# ----------------------------------------------------------------------------------- heterogeneous
def small_hetero_graph() -> HeteroData:
    """30 papers in 3 classes, 12 authors mostly writing within one class, 3 featureless venues."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(3).repeat_interleave(10)
    data = HeteroData()
    data["paper"].x = torch.randn(3, 8, generator=g)[y] * 2 + torch.randn(30, 8, generator=g)
    data["paper"].y = y
    data["author"].x = torch.randn(12, 4, generator=g)
    data["venue"].num_nodes = 3
    pa = [(p, a) for p in range(30) for a in range(12)
          if (a % 3 == y[p] and torch.rand(1, generator=g) < 0.4) or torch.rand(1, generator=g) < 0.03]
    pa = torch.tensor(pa).t()
    pv = torch.stack([torch.arange(30), y])
    data["paper", "to", "author"].edge_index, data["author", "to", "paper"].edge_index = pa, pa.flip(0)
    data["paper", "to", "venue"].edge_index, data["venue", "to", "paper"].edge_index = pv, pv.flip(0)
    data.target_node_type = "paper"
    return data


def test_heco_style_with_default_parts_as_objects_gives_the_same_losses():
    data = small_hetero_graph()
    settings = {"metapaths": [["paper", "author", "paper"], ["paper", "venue", "paper"]], "hidden_channels": 8,
                "out_channels": 8, "num_positives": 3, "dropout": 0.1}
    by_name = HeCoStyle(None, tau=0.5, lam=0.5, **settings)
    parts = HeCoStyle(None, encoder=StandardizedGCN(8, 8, 8, 0.1), loss=MultiPositiveInfoNCE(0.5, 0.5), **settings)
    assert losses_of(parts, data) == losses_of(by_name, data)
