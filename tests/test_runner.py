"""The runner: checkpoints never return a model trained under other settings, settings are typed
before anything runs, and its messages are one line each."""
import warnings

import pytest
import torch

from graphcl.cli import main as cli_main
from graphcl.errors import InvalidArgumentError
from graphcl.methods import build_method
from graphcl.runner import CollapseWarning, run

from conftest import planted_graph

SMALL = {"out_channels": 8, "projection_channels": 8}


def grace(graph, tmp_path, epochs=3, **changes):
    options = {"epochs": epochs, "evals": ["none"], "progress": False, "checkpoint_dir": tmp_path / "ckpt"}
    options.update({k: changes.pop(k) for k in ("resume", "seeds") if k in changes})
    (record, *_) = run("grace", graph, overrides={**SMALL, **changes}, **options)
    return record


def test_a_checkpoint_of_other_settings_is_refused_not_returned(tiny_graph, tmp_path):
    first = grace(tiny_graph, tmp_path, tau=0.4)
    with pytest.raises(InvalidArgumentError, match=r"other settings or data \(changed: tau 0.4 -> 0.9\)"):
        grace(tiny_graph, tmp_path, tau=0.9)
    fresh = grace(tiny_graph, tmp_path, tau=0.9, resume="fresh")  # retrained under tau 0.9
    assert "resumed_from_epoch" not in fresh.extra and fresh.final_loss != first.final_loss
    assert fresh.final_loss == pytest.approx(grace(tiny_graph, tmp_path / "other", tau=0.9).final_loss)
    forced = grace(tiny_graph, tmp_path, tau=0.4, resume="force")  # loads the tau-0.9 weights, as asked
    assert forced.extra["resumed_from_epoch"] == 3


def test_a_checkpoint_of_other_data_or_sizes_is_refused_in_one_line(tiny_graph, tmp_path):
    grace(tiny_graph, tmp_path)
    other = planted_graph(seed=1)
    with pytest.raises(InvalidArgumentError, match="changed: data"):
        grace(other, tmp_path)
    with pytest.raises(InvalidArgumentError, match="out_channels 8 -> 16"):
        grace(tiny_graph, tmp_path, out_channels=16)
    with pytest.raises(InvalidArgumentError, match="does not fit this model"):  # no state_dict traceback
        grace(tiny_graph, tmp_path, out_channels=16, resume="force")


def test_fewer_epochs_than_a_checkpoint_holds_are_refused_and_more_continue_training(tiny_graph, tmp_path):
    grace(tiny_graph, tmp_path, epochs=4)
    with pytest.raises(InvalidArgumentError, match="holds 4 epochs, more than the 2 asked for"):
        grace(tiny_graph, tmp_path, epochs=2)
    longer = grace(tiny_graph, tmp_path, epochs=6)
    straight = grace(tiny_graph, tmp_path / "straight", epochs=6)
    assert longer.epochs == 6 and longer.extra["resumed_from_epoch"] == 4
    assert longer.final_loss == pytest.approx(straight.final_loss, rel=1e-5)


def test_a_resumed_run_counts_the_seconds_of_all_its_training(tiny_graph, tmp_path, monkeypatch):
    import graphcl.train as training
    clock = iter(range(0, 10_000, 5))  # every perf_counter call moves 5 s
    monkeypatch.setattr(training.time, "perf_counter", lambda: float(next(clock)))
    first = grace(tiny_graph, tmp_path, epochs=2)
    again = grace(tiny_graph, tmp_path, epochs=2)  # finished: nothing left to train
    assert first.train_seconds > 0 and again.train_seconds > first.train_seconds
    assert again.extra["resumed_from_epoch"] == 2 and again.epochs == 2


def test_settings_are_typed_and_ranged_before_anything_runs(tiny_graph):
    import yaml

    for text, expected in (("tau=abc", "grace: tau='abc' is not float"),
                           ("lr=abc", "run setting lr"),
                           ("tau=-1", "tau=-1 is out of range; it must be > 0"),
                           ("num_layers=2.5", "num_layers=2.5 is not int"),
                           ("drop_edge_1=1.5", "drop_edge_1=1.5 is out of range"),
                           ("epochs=-3", "epochs must be >= 0")):
        with pytest.raises(InvalidArgumentError, match=expected.replace("(", r"\(")):
            key, value = text.split("=")
            run("grace", tiny_graph, evals=["none"], overrides={"epochs": 1, key: yaml.safe_load(value)}, progress=False)
    with pytest.raises(InvalidArgumentError, match=r"cluster_counts=3 is not list\[int\]"):
        build_method("meow", None, metapaths=[["a", "b", "a"]], cluster_counts=3)
    with pytest.raises(InvalidArgumentError, match="does not take"):
        build_method("grace", 4, taus=0.5)


def test_cli_reports_a_typed_setting_in_one_line(tmp_path, capsys):
    import numpy as np
    data = planted_graph()
    folder = tmp_path / "g"
    folder.mkdir()
    np.savetxt(folder / "edges.txt", data.edge_index.t().numpy(), fmt="%d")
    np.save(folder / "features.npy", data.x.numpy())
    assert cli_main(["train", "grace", "--dataset", str(folder), "--set", "tau=abc", "--eval", "none"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "graphcl: error: grace: tau='abc' is not float"


def test_collapse_is_one_warning_per_run_and_none_for_an_untrained_encoder(tiny_graph):
    options = {"seeds": [0, 1], "evals": ["none"], "progress": False}
    with pytest.warns(CollapseWarning) as caught:
        run("grace", tiny_graph, epochs=2, overrides={**SMALL, "lr": 50.0}, **options)
    assert len(caught) == 1 and "seed 0 (1.000), 1 (1.000)" in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CollapseWarning)
        records = run("grace", tiny_graph, epochs=0, overrides=SMALL, **{**options, "evals": ["node"]})
    assert records[0].epochs == 0 and 0 <= records[0].metrics["accuracy"] <= 1


def test_heterogeneous_runs_take_meta_paths_from_the_schema_when_none_are_configured():
    from test_methods import HETERO_SMOKE, tiny_hetero_graph
    params = {k: v for k, v in HETERO_SMOKE["meow"][1].items() if k not in ("metapaths", "nei_max", "adj_mask")}
    (record,) = run("meow", tiny_hetero_graph(), epochs=1, evals=["cluster"], overrides=params, progress=False)
    assert record.config["metapaths"] == [["paper", "author", "paper"], ["paper", "venue", "paper"]]
    no_target = tiny_hetero_graph()
    del no_target.target_node_type
    with pytest.raises(Exception, match="target node type"):
        run("meow", no_target, epochs=1, overrides=params, progress=False)


def test_the_command_line_prints_the_collapse_warning_once_on_one_line(tmp_path):
    import subprocess
    import sys

    import numpy as np
    data = planted_graph()
    folder = tmp_path / "g"
    folder.mkdir()
    np.savetxt(folder / "edges.txt", data.edge_index.t().numpy(), fmt="%d")
    np.save(folder / "features.npy", data.x.numpy())
    done = subprocess.run([sys.executable, "-m", "graphcl", "train", "grace", "--dataset", str(folder), "--seeds", "0",
                           "1", "--epochs", "2", "--eval", "none", "--quiet", "--set", "out_channels=8",
                           "projection_channels=8", "lr=50"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "collapsed" in line]
    assert len(lines) == 1 and lines[0].startswith("graphcl: warning: grace on g: the embeddings collapsed")
    assert "warnings.warn" not in done.stderr and "run(" not in done.stderr  # no Python source line


def test_an_unconfigured_dataset_gets_settings_chosen_label_free_and_said(tiny_graph):
    from graphcl.eval import modularity
    from graphcl.runner import AutoConfigWarning
    from test_methods import TINY_AE

    small = {k: v for k, v in TINY_AE.items() if k not in ("order", "tau")}
    with pytest.warns(AutoConfigWarning, match="no settings for this dataset in its config; chose .*order="):
        (record,) = run("scgc-star", tiny_graph, epochs=3, evals=["cluster"], overrides=small, progress=False)
    report = record.extra["auto_config"]
    assert report["score"] == "held-out modularity" and report["held_out_edges"] > 0
    assert len(report["scores"]) == 4
    assert all(record.config[k] == v for k, v in report["chosen"].items())
    # After the grid, the feature candidates (as given, structural features appended, low-pass
    # smoothed) at the grid's best combination; the features as given score as that combination did.
    features = report["features"]
    assert [f for f, _ in features] == [{}, {"structural_features": "degree+lappe"}, {"smooth_features": 2}]
    grid_best, grid_score = max(report["scores"], key=lambda s: s[1])
    best_feature, best_score = max(features, key=lambda s: s[1])
    assert features[0][1] == grid_score
    margin = 0.01  # scgc-star.yaml's feature_margin
    assert report["chosen"] == ({**grid_best, **best_feature} if best_score > grid_score + margin else grid_best)
    # The score is the modularity of the candidate's own final clusters (labels unused): retrain the chosen one.
    (again,) = run("scgc-star", tiny_graph, epochs=3, evals=["cluster"], overrides={**small, **report["chosen"]},
                   progress=False, auto=False)
    assert "auto_config" not in again.extra
    # Settings the user gives are not searched; all of them given: no search at all.
    (fixed,) = run("scgc-star", tiny_graph, epochs=3, evals=["cluster"], progress=False,
                   overrides={**small, "order": 2, "tau": 0.5, "structural_features": "none"})
    assert fixed.extra["auto_config"]["scores"] == [] and fixed.config["order"] == 2
    with pytest.raises(InvalidArgumentError, match="no auto: grid"):
        run("grace", tiny_graph, epochs=1, overrides=SMALL, auto=True, progress=False)


def test_feature_candidates_that_prepare_the_same_features_are_trained_once(tiny_graph, monkeypatch):
    import graphcl.runner
    from graphcl.runner import auto_configure
    from test_methods import TINY_AE

    trained = []
    monkeypatch.setattr(graphcl.runner, "train", lambda model, data, **kw: trained.append(data.x) or
                        graphcl.train.train(model, data, **kw))
    bare = planted_graph()
    del bare.x
    small = {k: v for k, v in TINY_AE.items() if k not in ("order", "tau")}
    # Without features, as given = degree+lappe appended = smoothed-then-degree+lappe: one training.
    _, report = auto_configure("scgc-star", bare, overrides={**small, "order": 1, "tau": 1.0}, epochs=2)
    assert len(trained) == 1 and len({score for _, score in report["features"]}) == 1
    assert "x" not in bare
    trained.clear()
    _, given = auto_configure("scgc-star", tiny_graph, overrides={**small, "order": 1, "tau": 1.0}, epochs=2)
    assert len(trained) == 3 and [x.size(1) for x in trained] == [tiny_graph.num_features,
                                                                    tiny_graph.num_features + 32,
                                                                    tiny_graph.num_features]


def test_a_graph_without_features_trains_on_structural_ones_and_the_record_says_so(tiny_graph):
    bare = planted_graph()
    del bare.x
    (record,) = run("grace", bare, epochs=3, evals=["node"], overrides=SMALL, progress=False)
    assert record.config["structural_features"] == "degree+lappe" and 0 <= record.metrics["accuracy"] <= 1
    assert "x" not in bare
    (chosen,) = run("grace", tiny_graph, epochs=3, evals=["none"], overrides={**SMALL, "structural_features": "degree"},
                    progress=False)
    assert chosen.config["structural_features"] == "degree"
    with pytest.raises(InvalidArgumentError, match="structural_features must be"):
        run("grace", tiny_graph, epochs=1, overrides={**SMALL, "structural_features": "rwpe"}, progress=False)


def test_held_out_edges_are_whole_undirected_edges_hidden_from_the_search_graph(tiny_graph):
    from graphcl.runner import _hold_out_edges
    from torch_geometric.utils import is_undirected

    before = tiny_graph.edge_index.clone()
    search, held = _hold_out_edges(tiny_graph, 0.1, seed=0)
    assert torch.equal(tiny_graph.edge_index, before)  # the input is untouched
    pairs = lambda e: {(int(min(a, b)), int(max(a, b))) for a, b in e.t().tolist() if a != b}
    assert len(pairs(held)) == held.size(1) == round(0.1 * len(pairs(before)))
    assert not pairs(held) & pairs(search.edge_index) and pairs(held) | pairs(search.edge_index) == pairs(before)
    assert is_undirected(search.edge_index) and search.num_nodes == tiny_graph.num_nodes
    assert torch.equal(_hold_out_edges(tiny_graph, 0.1, seed=0)[1], held)  # the seed fixes them
    assert not torch.equal(_hold_out_edges(tiny_graph, 0.1, seed=1)[1], held)
    with pytest.raises(InvalidArgumentError, match="holds out no edge"):
        _hold_out_edges(tiny_graph, 1e-6, seed=0)


def test_the_progress_label_names_the_seed_and_estimates_the_time_left():
    from graphcl.runner import _progress_label

    assert _progress_label("grace", "cora", 0, 5, 0, 1, 0.0) == "grace cora seed 1/5"
    assert _progress_label("grace", "cora", 1, 5, 0, 1, 60.0) == "grace cora seed 2/5 (about 4 min left)"
    assert _progress_label("pamc", "acm", 2, 3, 1, 5, 10.0) == "pamc acm seed 3/3 restart 2/5"
    assert _progress_label("grace", "cora", 2, 3, 0, 1, 20.0) == "grace cora seed 3/3 (about 10 s left)"


def test_the_node_probe_takes_its_learning_rate_and_weight_decay_from_the_run_settings(tiny_graph, monkeypatch):
    import graphcl.tasks.node as node_task

    seen = {}
    real = node_task.node_classification

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(node_task, "node_classification", spy)
    run("grace", tiny_graph, epochs=1, evals=["node"], progress=False,
        overrides={**SMALL, "eval_lr": 0.05, "eval_weight_decay": 1e-4})
    assert seen["lr"] == 0.05 and seen["weight_decay"] == 1e-4
