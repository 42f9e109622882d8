"""The example scripts and the CLI run end to end (tiny data; real datasets through the mirror)."""
import gzip
import json
import runpy
from pathlib import Path

import numpy as np
import pytest

from graphcl.cli import main as cli_main

from conftest import planted_graph, write_graph_folder

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _write_csv_gz(path: Path, rows: np.ndarray, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = rows.reshape(len(rows), -1)
    with gzip.open(path, "wt") as f:
        for row in rows:
            f.write(",".join(fmt % v for v in row) + "\n")


def write_tiny_ogbn_arxiv(root: Path, num_nodes: int = 120, seed: int = 0, name: str = "ogbn_arxiv",
                          split: str = "time", num_features: int = 128) -> None:
    """A tiny graph in OGB's raw layout for ogbn-arxiv (what ogb downloads and unzips); ``name`` /
    ``split`` / ``num_features`` ``ogbn_products`` / ``sales_ranking`` / 100 for ogbn-products."""
    data = planted_graph(num_blocks=4, block_size=num_nodes // 4, num_features=num_features, seed=seed)
    folder = root / name
    edges = data.edge_index[:, data.edge_index[0] < data.edge_index[1]].t().numpy()  # directed citations
    _write_csv_gz(folder / "raw" / "edge.csv.gz", edges, "%d")
    _write_csv_gz(folder / "raw" / "node-feat.csv.gz", data.x.numpy(), "%.6f")
    _write_csv_gz(folder / "raw" / "node-label.csv.gz", data.y.numpy(), "%d")
    if name == "ogbn_arxiv":
        _write_csv_gz(folder / "raw" / "node_year.csv.gz", 2000 + np.arange(num_nodes) % 20, "%d")
    _write_csv_gz(folder / "raw" / "num-node-list.csv.gz", np.array([num_nodes]), "%d")
    _write_csv_gz(folder / "raw" / "num-edge-list.csv.gz", np.array([len(edges)]), "%d")
    perm = np.random.default_rng(seed).permutation(num_nodes)
    for part_name, part in zip(("train", "valid", "test"), np.split(perm, [num_nodes // 2, 3 * num_nodes // 4])):
        _write_csv_gz(folder / "split" / split / f"{part_name}.csv.gz", np.sort(part), "%d")
    (folder / "RELEASE_v1.txt").write_text("tiny test copy\n")


def run_example(name: str, argv: list[str]):
    module = runpy.run_path(str(EXAMPLES / name))
    return module["main"](argv)


def test_ogbn_arxiv_example_on_tiny_ogb_raw_files(tmp_path):
    write_tiny_ogbn_arxiv(tmp_path)
    metrics = run_example("ogbn_arxiv_grace.py", ["--root", str(tmp_path), "--epochs", "20", "--out-channels", "16",
                                                  "--no-check-stats", "--chunk-size", "7"])
    assert 0.0 <= metrics["accuracy"] <= 1.0
    assert metrics["accuracy"] > 0.5  # four planted classes: chance is 0.25


def test_ogbn_arxiv_example_trains_mini_batches_with_batch_size(tmp_path):
    write_tiny_ogbn_arxiv(tmp_path)
    metrics = run_example("ogbn_arxiv_grace.py", ["--root", str(tmp_path), "--epochs", "6", "--out-channels", "16",
                                                  "--no-check-stats", "--batch-size", "40", "--num-neighbors", "5", "5"])
    assert metrics["accuracy"] > 0.5  # four planted classes: chance is 0.25


def test_ogbn_products_minibatch_example_on_tiny_ogb_raw_files(tmp_path):
    write_tiny_ogbn_arxiv(tmp_path, name="ogbn_products", split="sales_ranking", num_features=100)
    metrics = run_example("ogbn_products_minibatch.py", ["--root", str(tmp_path), "--epochs", "6", "--out-channels",
                                                         "16", "--no-check-stats", "--batch-size", "40",
                                                         "--num-neighbors", "5", "5"])
    assert metrics["accuracy"] > 0.5


@pytest.mark.mirror
def test_planetoid_example_runs_on_cora(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path))
    records = run_example("planetoid_grace.py", ["--dataset", "cora", "--epochs", "3"])
    assert len(records) == 1 and 0 < records[0].metrics["accuracy"] <= 1


def test_cli_train_on_a_user_folder_writes_records(tmp_path, capsys):
    folder = write_graph_folder(tmp_path / "mygraph")
    out = tmp_path / "records.json"
    code = cli_main(["train", "grace", "--dataset", str(folder), "--seeds", "0", "1", "--epochs", "5",
                     "--eval", "node", "cluster", "--set", "out_channels=8", "projection_channels=8", "--quiet",
                     "--out", str(out)])
    assert code == 0
    table = capsys.readouterr().out
    assert "accuracy" in table and "nmi" in table and "±" in table
    records = json.loads(out.read_text())
    assert [r["seed"] for r in records] == [0, 1]
    assert {"accuracy", "acc", "nmi", "ari", "f1"} <= set(records[0]["metrics"])
    assert records[0]["config"]["out_channels"] == 8 and records[0]["peak_memory_mb"] > 0


@pytest.mark.parametrize("method, settings", [
    ("dgi", ["out_channels=8"]), ("mvgrl", ["out_channels=8", "sample_size=60"]),
    ("cca-ssg", ["out_channels=8", "hidden_channels=8"]), ("g-bt", ["out_channels=8"]),
    ("bgrl", ["out_channels=8", "hidden_channels=8", "predictor_channels=8", "optimizer=adamw", "lr_schedule=cosine",
              "warmup_epochs=1"]),
    ("graphmae", ["out_channels=8", "heads=2"])])
def test_cli_trains_every_new_node_method_on_a_user_folder(method, settings, tmp_path, capsys):
    folder = write_graph_folder(tmp_path / "mygraph")
    out = tmp_path / "records.json"
    code = cli_main(["train", method, "--dataset", str(folder), "--epochs", "3", "--eval", "node", "cluster",
                     "--set", *settings, "--quiet", "--out", str(out)])
    assert code == 0 and "accuracy" in capsys.readouterr().out
    (record,) = json.loads(out.read_text())
    assert record["method"] == method and record["epochs"] == 3 and 0 <= record["metrics"]["accuracy"] <= 1


def test_cli_reports_unknown_dataset_cleanly(capsys):
    assert cli_main(["train", "grace", "--dataset", "coraa", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "cora" in err and "graphcl datasets" in err


def test_cli_datasets_lists_registry(capsys):
    assert cli_main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "cora" in out and "ogbn-arxiv" in out and "amazon-photo" in out


def test_custom_method_example_trains_through_graphcl_train_and_a_bench(tmp_path, capsys, monkeypatch):
    """examples/custom_method.py adds a method without editing the package: `graphcl --plugin` finds it by name."""
    from graphcl.methods import get_method_class
    from graphcl.records import read_records
    from graphcl.train import train

    import graphcl.methods.base as registry

    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))  # the plugin's method leaves with the test
    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path / "cache"))
    source = EXAMPLES / "custom_method.py"
    assert len([line for line in source.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith(("#", '"""'))]) < 45
    folder = write_graph_folder(tmp_path / "mygraph")
    out = tmp_path / "records.json"
    assert cli_main(["--plugin", str(source), "train", "grace-au", "--dataset", str(folder), "--seeds", "0",
                     "--epochs", "5", "--eval", "node", "cluster", "--set", "out_channels=8",
                     "projection_channels=8", "t=3.0", "--quiet", "--out", str(out)]) == 0
    assert "grace-au on mygraph" in capsys.readouterr().out
    (record,) = read_records(out)
    assert record.method == "grace-au" and record.config["t"] == 3.0 and 0 <= record.metrics["acc"] <= 1
    assert cli_main(["--plugin", str(source), "bench", "clustering", "--methods", "kmeans-raw", "grace-au",
                     "--datasets", str(folder), "--seeds", "1", "--epochs", "3", "--out", str(tmp_path / "bench")]) == 0
    table = (tmp_path / "bench" / "clustering.md").read_text()
    assert "| grace-au | final (k-means) |" in table and "| grace-au | oracle ⚠" in table
    # The example's loss trains: finite and falling on the planted graph.
    data = planted_graph()
    model = get_method_class("grace-au")(data.num_features, out_channels=16, projection_channels=16)
    losses = train(model, data, epochs=60, lr=0.01, seed=0, progress=False).losses
    assert all(np.isfinite(losses)) and np.mean(losses[-10:]) < np.mean(losses[:10]) - 0.05
    # A plugin that is not there is named in one line.
    assert cli_main(["--plugin", str(tmp_path / "nope.py"), "datasets"]) == 2
    assert "plugin file" in capsys.readouterr().err
