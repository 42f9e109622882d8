"""The clustering benchmark suite end to end (``graphcl bench clustering --quick``) on the mirror."""
import csv
import json

import pytest

from graphcl.cli import main


@pytest.mark.mirror
def test_clustering_bench_quick_writes_tables_records_and_plot(mirror, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path / "cache"))
    out = tmp_path / "results"
    assert main(["bench", "clustering", "--quick", "--out", str(out)]) == 0
    md = (out / "clustering.md").read_text()
    assert "oracle ⚠" in md and "Quick smoke run" in md
    rows = list(csv.DictReader((out / "clustering.csv").open()))
    methods = {r["method"] for r in rows}
    assert methods == {"kmeans-raw", "grace", "gca", "scgc", "scgc-star", "pamc"}
    for r in rows:
        assert 0.0 <= float(r["acc_mean"]) <= 1.0 and int(r["seeds"]) == 2 and r["device"] == "cpu"
    modes = {r["mode"] for r in rows if r["method"] == "pamc"}
    assert modes == {"pretrained (k-means)", "final (argmax q)", "final (k-means)",
                     "stopped (argmax q, < 0.1 % changed)", "oracle ⚠ best epoch by test ACC"}
    records = json.loads((out / "records" / "clustering-dblp.json").read_text())
    pamc = [r for r in records if r["method"] == "pamc"]
    # Oracle mode picks the best test ACC among the evaluated epochs, which include the final one.
    for r in pamc:
        oracle = r["metrics"]["oracle_acc"]
        assert oracle == pytest.approx(max(r["acc_curve"]), abs=1e-5)  # the curve is stored rounded
        assert oracle >= r["metrics"]["q_acc"] and oracle >= r["metrics"]["stopped_acc"]
        assert 0 <= r["stop_epoch"] <= r["epochs"]
    assert (out / "clustering_tsne.png").stat().st_size > 10_000
    # Records of separate runs merge into one table without training anything.
    merged = tmp_path / "merged"
    assert main(["bench", "clustering", "--combine", str(out), "--out", str(merged)]) == 0
    assert list(csv.DictReader((merged / "clustering.csv").open())) == rows


@pytest.mark.mirror
def test_seed_chunks_run_apart_merge_into_one_table(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path / "cache"))
    for first in (0, 2):
        assert main(["bench", "clustering", "--methods", "kmeans-raw", "--datasets", "dblp", "--seeds", "2",
                     "--first-seed", str(first), "--out", str(tmp_path / f"from{first}")]) == 0
    path = tmp_path / "from2" / "records" / "clustering-dblp.json"
    records = json.loads(path.read_text())
    assert [r["seed"] for r in records] == [2, 3] and {r["device"] for r in records} == {"cpu"}
    records[0]["versions"] = {"torch": "2.11.0+cu130"}  # as if trained elsewhere: combining must keep it
    path.write_text(json.dumps(records))
    assert main(["bench", "clustering", "--combine", str(tmp_path / "from0"), str(tmp_path / "from2"),
                 "--out", str(tmp_path / "merged")]) == 0
    (row,) = list(csv.DictReader((tmp_path / "merged" / "clustering.csv").open()))
    assert row["seeds"] == "4" and row["device"] == "cpu"
    merged = json.loads((tmp_path / "merged" / "records" / "clustering-dblp.json").read_text())
    assert [r["versions"] for r in merged if r["seed"] == 2] == [{"torch": "2.11.0+cu130"}]


@pytest.mark.mirror
def test_suite_overrides_reach_run_settings_as_well_as_method_parameters(mirror, tmp_path, monkeypatch):
    # --set lr=... / smooth_features=... are run settings, not constructor arguments: they must not be dropped.
    from graphcl.bench.clustering import load_runs, run_suite

    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path / "cache"))
    overrides = {"lr": 0.0005, "smooth_features": 2, "alpha": 0.7, "pretrain_epochs": 1, "pretrain_restarts": 2,
                 "train_restarts": 2, "order": 1, "num_heads": 3}  # order 1: Cora's IAC order 8 costs seconds per setup
    (run,) = run_suite(["scgc-star"], ["cora"], [0], tmp_path / "out", epochs=1, overrides=overrides, progress=False,
                       tsne_points=300)
    assert run.config["lr"] == 0.0005 and run.config["smooth_features"] == 2 and run.config["alpha"] == 0.7
    assert "num_heads" not in run.config  # a key the method does not take is left out
    # Every training and pretraining restart's modularity is recorded and survives the records' round trip.
    restarts = run.extra["restart_modularity"]
    assert sorted(restarts) == ["0", "1000"] and run.seed == 0
    kept = run.extra["restart_seed"]
    assert restarts[str(kept)] == max(restarts.values())
    assert sorted(run.extra["pretrain_modularity"]) == [str(kept), str(kept + 100000)]
    (loaded,) = [r for r in load_runs(tmp_path / "out") if r.method == "scgc-star"]
    assert loaded.extra["pretrain_modularity"] == run.extra["pretrain_modularity"]
    assert loaded.extra["restart_modularity"] == restarts and loaded.extra["restart_seed"] == kept


def test_combine_names_a_folder_without_records(tmp_path, capsys):
    assert main(["bench", "clustering", "--combine", str(tmp_path), "--out", str(tmp_path / "out")]) != 0
    assert "no clustering records" in capsys.readouterr().err


def test_bench_rejects_unknown_methods(tmp_path):
    from graphcl.errors import InvalidArgumentError
    from graphcl.bench.clustering import run_suite
    with pytest.raises(InvalidArgumentError, match="unknown methods"):
        run_suite(["pamcc"], ["dblp"], [0], tmp_path)


@pytest.mark.mirror
def test_unavailable_datasets_are_skipped_with_a_note(mirror, tmp_path, monkeypatch):
    from graphcl.bench.clustering import BASELINE, run_suite
    from graphcl.errors import DatasetUnavailableError
    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path / "cache"))
    runs = run_suite([BASELINE], ["hhar", "dblp"], [0], tmp_path / "out", progress=False)  # hhar.txt has no source
    assert {r.dataset for r in runs} == {"dblp"}
    assert "Skipped, not available on this machine: hhar" in (tmp_path / "out" / "clustering.md").read_text()
    with pytest.raises(DatasetUnavailableError, match="none of the datasets"):
        run_suite([BASELINE], ["hhar"], [0], tmp_path / "out2", progress=False)


def test_tuning_sees_validation_labels_only():
    import importlib.util
    from pathlib import Path

    import torch
    from torch_geometric.data import Data
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "tune_clustering.py"
    spec = importlib.util.spec_from_file_location("tune_clustering", path)
    tune = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tune)
    y = torch.arange(40) % 4
    val = torch.zeros(40, dtype=torch.bool)
    val[::5] = True
    data = Data(x=torch.randn(40, 3), y=y.clone(), val_mask=val)
    hidden, how = tune.validation_only(data)
    assert torch.equal(hidden.y[val], y[val]) and bool((hidden.y[~val] == -1).all())
    assert torch.equal(data.y, y) and hidden.num_classes == 4 and "8 validation nodes" in how
    del data.val_mask
    hidden, how = tune.validation_only(data)
    assert int((hidden.y >= 0).sum()) == 4 and "10 %" in how
    assert torch.equal(tune.validation_only(data)[0].y, hidden.y)  # the same nodes every time


@pytest.mark.mirror
def test_hetero_bench_quick_writes_the_heco_protocol_table(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path / "cache"))
    out = tmp_path / "results"
    assert main(["bench", "hetero", "--quick", "--methods", "meow", "--out", str(out)]) == 0
    md = (out / "hetero.md").read_text()
    assert "Quick smoke run" in md and md.count("| heco-acm | meow |") == 3  # one row per split
    (record,) = json.loads((out / "records" / "hetero-meow-heco-acm.json").read_text())
    metrics = record["metrics"]
    for k in (20, 40, 60):
        for m in ("macro_f1", "micro_f1", "auc"):
            assert 0.0 <= metrics[f"{m}_{k}"] <= 1.0
    assert 0.0 <= metrics["nmi"] <= 1.0 and -1.0 <= metrics["ari"] <= 1.0 and record["epochs"] == 2


@pytest.mark.mirror
def test_hetero_bench_set_chooses_the_encoder_epoch_on_validation(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path / "cache"))
    out = tmp_path / "results"
    assert main(["bench", "hetero", "--quick", "--methods", "meow", "--epochs", "3", "--set", "select_epoch=val",
                 "eval_every=1", "--out", str(out)]) == 0
    md = (out / "hetero.md").read_text()
    assert "select_epoch" in md and md.count("| heco-acm | meow | val |") == 3
    (record,) = json.loads((out / "records" / "hetero-meow-heco-acm.json").read_text())
    assert record["best_epoch"] in (1, 2, 3) and [e for e, *_ in record["val_curve"]] == [1, 2, 3]
    assert set(record["best_epochs"]) == {"20", "40", "60"} and all(len(c) == 4 for c in record["val_curve"])


def test_hetero_combine_groups_record_files_by_dataset_and_method(tmp_path, capsys):
    def record(method, dataset, seed, f1):
        metrics = {f"{m}_{k}": f1 for m in ("macro_f1", "micro_f1", "auc") for k in (20, 40, 60)}
        return {"method": method, "dataset": dataset, "seed": seed, "metrics": {**metrics, "nmi": 0.5, "ari": 0.4},
                "epochs": 10 + seed, "train_seconds": 1.0, "peak_memory_mb": 100.0, "device": "cpu"}
    (tmp_path / "a.json").write_text(json.dumps([record("meow", "heco-acm", 0, 0.88), record("meow", "heco-acm", 1, 0.90)]))
    (tmp_path / "b.json").write_text(json.dumps([record("meow", "heco-dblp", 0, 0.91)]))
    out = tmp_path / "out"
    assert main(["bench", "hetero", "--combine", str(tmp_path / "a.json"), str(tmp_path / "b.json"),
                 "--note", "Two runs.", "--out", str(out)]) == 0
    md = (out / "hetero.md").read_text()
    assert "Two runs." in md
    assert "| heco-acm | meow | loss | 20 | 2 | 10/11 | 89.00 ± 1.00 |" in md
    assert "| heco-dblp | meow | loss | 20 | 1 | 10 | 91.00" in md
    # A run whose epochs were chosen on validation (it carries best_epochs) is its own row, even for a
    # seed that is also among the loss-stopped runs; its epochs column lists each split's chosen epochs.
    # Older runs with one best_epoch for every split are `val20`, their 40 / 60 rows flagged.
    epochs = {"20": 7, "40": 5, "60": 9}
    (tmp_path / "v.json").write_text(json.dumps([{**record("meow", "heco-acm", 0, 0.92), "best_epoch": 7,
                                                   "best_epochs": epochs},
                                                  {**record("meow", "heco-acm", 1, 0.92), "best_epoch": 8,
                                                   "best_epochs": {**epochs, "20": 8}, "device": "cuda"}]))
    (tmp_path / "old.json").write_text(json.dumps([{**record("meow", "heco-acm", 0, 0.90), "best_epoch": 6}]))
    assert main(["bench", "hetero", "--combine", str(tmp_path / "a.json"), str(tmp_path / "v.json"),
                 str(tmp_path / "old.json"), "--out", str(out)]) == 0
    md = (out / "hetero.md").read_text()
    assert "| heco-acm | meow | loss | 20 | 2 | 10/11 | 89.00 ± 1.00 |" in md
    assert "| heco-acm | meow | val | 20 | 2 | 7/8 | 92.00 ± 0.00 |" in md and "| cpu ×1, cuda ×1 |" in md
    assert "| heco-acm | meow | val | 40 | 2 | 5/5 | 92.00 ± 0.00 |" in md
    assert "| heco-acm | meow | val20 | 20 | 1 | 6 | 90.00" in md and "| heco-acm | meow | val20 ⚠ | 40 | 1 | 6 |" in md
    assert "| 100.0 ± 0.0 | cpu | " in md  # one device: named alone
    (tmp_path / "c.json").write_text(json.dumps([record("meow", "heco-acm", 1, 0.5)]))
    assert main(["bench", "hetero", "--combine", str(tmp_path / "a.json"), str(tmp_path / "c.json"), "--out",
                 str(out)]) == 2
    assert "seed 1 appears twice" in capsys.readouterr().err


@pytest.mark.mirror
def test_rec_bench_quick_writes_the_table_and_the_validation_plot(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path / "cache"))
    out = tmp_path / "results"
    assert main(["bench", "rec", "--quick", "--out", str(out)]) == 0
    md = (out / "recommendation.md").read_text()
    assert "Quick smoke run" in md and "| gowalla | lightgcn | 1 |" in md and "| gowalla | lightgcl | 1 |" in md
    assert (out / "recommendation.png").stat().st_size > 0
    (record,) = json.loads((out / "records" / "rec-lightgcl-gowalla.json").read_text())
    assert set(record["metrics"]) == {"recall_20", "ndcg_20", "recall_40", "ndcg_40", "val_recall_20"}
    assert all(0.0 <= v <= 1.0 for v in record["metrics"].values())
    assert [e for e, _ in record["val_curve"]] == [1, 2] and record["epochs"] == 2


@pytest.mark.mirror
def test_graph_bench_quick_writes_the_tu_table(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path / "cache"))
    out = tmp_path / "results"
    assert main(["bench", "graph", "--quick", "--out", str(out)]) == 0
    md = (out / "graph_classification.md").read_text()
    assert "Quick smoke run" in md and "| mutag | graphcl | 1 |" in md and "| mutag | gin-untrained | 1 |" in md
    assert "| mutag | infograph | 1 |" in md and "89.01 ± 1.13" in md  # InfoGraph beside its published number
    (record,) = json.loads((out / "records" / "graph-graphcl-mutag.json").read_text())
    assert 0.5 <= record["metrics"]["svm_accuracy"] <= 1.0 and record["epochs"] == 2


@pytest.mark.mirror
def test_node_bench_quick_scores_the_same_embeddings_by_probe_and_k_means(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path / "cache"))
    out = tmp_path / "results"
    assert main(["bench", "node", "--quick", "--methods", "dgi", "cca-ssg", "--out", str(out)]) == 0
    md = (out / "node.md").read_text()
    assert "Quick smoke run" in md and "| cora | dgi | public | 1 | 2 |" in md and "| cora | cca-ssg | public | 1 |" in md
    assert "| 82.3 |" in md  # DGI's published Cora accuracy beside ours
    (record,) = json.loads((out / "records" / "node-cca-ssg-cora.json").read_text())
    assert {"accuracy", "acc", "nmi"} <= set(record["metrics"]) and record["epochs"] == 2
    assert 0.3 <= record["metrics"]["accuracy"] <= 1.0 and 0.0 <= record["metrics"]["nmi"] <= 1.0
