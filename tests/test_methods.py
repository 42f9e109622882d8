"""Every method: loss finite and falling on a tiny planted graph; the training loop's features."""
import json

import pytest
import torch

from graphcl.errors import InvalidArgumentError, InvalidGraphError, UnknownNameError
from graphcl.experiment import run_experiment, write_records
from graphcl.methods import build_method, method_names
from graphcl.train import train

from conftest import planted_graph

SMOKE = {
    "grace": {"embedding_dim": 16, "projection_dim": 16, "tau": 0.5},
    "gca": {"embedding_dim": 16, "projection_dim": 16, "tau": 0.5, "drop_scheme": "degree"},
    "gca-pagerank": {"embedding_dim": 16, "projection_dim": 16, "tau": 0.5, "drop_scheme": "pagerank"},
    "gca-evc": {"embedding_dim": 16, "projection_dim": 16, "tau": 0.5, "drop_scheme": "evc"},
}


@pytest.mark.parametrize("case", sorted(SMOKE))
def test_method_loss_finite_and_falling(case, tiny_graph):
    name = case.split("-")[0]
    model = build_method(name, tiny_graph.num_features, **SMOKE[case])
    result = train(model, tiny_graph, epochs=60, lr=0.01, seed=0, progress=False)
    losses = torch.tensor(result.losses)
    assert torch.isfinite(losses).all()
    assert losses[-10:].mean() < losses[:10].mean() - 0.05
    z = model.embed(tiny_graph)
    assert z.shape == (tiny_graph.num_nodes, 16) and not z.requires_grad


def test_every_registered_method_has_a_smoke_case():
    assert set(method_names()) <= {c.split("-")[0] for c in SMOKE}


def test_training_is_reproducible_under_a_seed(tiny_graph):
    runs = []
    for _ in range(2):
        model = build_method("grace", tiny_graph.num_features, embedding_dim=8, projection_dim=8)
        runs.append(train(model, tiny_graph, epochs=5, lr=0.01, seed=7, progress=False).losses)
    assert runs[0] == runs[1]


def test_checkpoint_resume_continues_the_same_run(tiny_graph, tmp_path):
    def fresh():
        return build_method("grace", tiny_graph.num_features, embedding_dim=8, projection_dim=8)
    full = train(fresh(), tiny_graph, epochs=10, lr=0.01, seed=1, progress=False).losses
    ckpt = tmp_path / "run.pt"
    first = train(fresh(), tiny_graph, epochs=10, lr=0.01, seed=1, progress=False, checkpoint=ckpt,
                  checkpoint_every=5)
    assert first.epochs == 10 and ckpt.exists()
    # A run interrupted after 5 epochs: rewrite the checkpoint from a 5-epoch run, then resume to 10.
    ckpt.unlink()
    train(fresh(), tiny_graph, epochs=5, lr=0.01, seed=1, progress=False, checkpoint=ckpt)
    resumed = train(fresh(), tiny_graph, epochs=10, lr=0.01, seed=1, progress=False, checkpoint=ckpt)
    assert resumed.resumed_from_epoch == 5 and resumed.epochs == 10
    assert resumed.losses == pytest.approx(full, rel=1e-5)


def test_early_stopping_on_training_loss(tiny_graph):
    model = build_method("grace", tiny_graph.num_features, embedding_dim=8, projection_dim=8)
    result = train(model, tiny_graph, epochs=500, lr=0.0, seed=0, patience=5, progress=False)
    assert result.stopped_early and result.epochs < 500


def test_run_experiment_writes_records(tiny_graph, tmp_path):
    records = run_experiment("grace", tiny_graph, seeds=[0, 1], epochs=3, evals=["node", "cluster"],
                             overrides={"embedding_dim": 8, "projection_dim": 8}, progress=False)
    assert [r["seed"] for r in records] == [0, 1]
    for r in records:
        assert {"accuracy", "micro_f1", "macro_f1", "acc", "nmi", "ari", "f1"} <= set(r["metrics"])
        assert r["train_seconds"] > 0 and r["peak_memory_mb"] > 0 and r["epochs"] == 3
        assert r["config"]["embedding_dim"] == 8 and "torch" in r["versions"]
    write_records(records, tmp_path / "out.json")
    assert len(json.loads((tmp_path / "out.json").read_text())) == 2


@pytest.mark.parametrize("mutate,error,match", [
    (lambda d: setattr(d, "x", d.x[:0]) or setattr(d, "edge_index", d.edge_index[:, :0]) or setattr(d, "num_nodes", 0),
     InvalidGraphError, "empty"),
    (lambda d: d.edge_index.__setitem__((0, 0), 10_000), InvalidGraphError, "outside"),
    (lambda d: d.x.__setitem__((3, 2), float("nan")), InvalidGraphError, "NaN"),
    (lambda d: setattr(d, "edge_index", torch.cat([d.edge_index, d.edge_index[:, :2]], 1)), InvalidGraphError,
     "duplicate"),
])
def test_bad_graphs_get_clear_errors(mutate, error, match):
    data = planted_graph()
    mutate(data)
    model = build_method("grace", 16, embedding_dim=8, projection_dim=8)
    with pytest.raises(error, match=match):
        train(model, data, epochs=1, lr=0.01, progress=False)


def test_unknown_method_and_parameter():
    with pytest.raises(UnknownNameError, match="grace"):
        build_method("gracee", 4)
    with pytest.raises(InvalidArgumentError, match="tau"):
        build_method("grace", 4, tau_=0.3)
