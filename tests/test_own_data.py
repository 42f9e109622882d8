"""Own data of every kind: the examples of docs/own-data.md run as written, each kind trains and
evaluates end to end through ``graphcl train``, and bad input gets one-line errors.

Every test runs in a fresh working folder with a temporary ``GRAPHCL_DATA``; the registered raw
folder needs the mirror (``GRAPHCL_MIRROR``), the SMILES examples RDKit.
"""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.data import Data, InMemoryDataset

from graphcl.cli import main as cli_main
from graphcl.data import graph_sets, load_dataset
from graphcl.errors import DatasetIntegrityError, DatasetUnavailableError, InvalidGraphError, UnknownNameError

DOC = Path(__file__).resolve().parents[1] / "docs" / "own-data.md"
_BLOCK = re.compile(r"^<!-- test(?:: (\w+))? -->\n```python\n(.*?)^```", re.M | re.S)


def doc_examples() -> dict[str, tuple[str | None, str]]:
    """``title -> (requirement or None, code)`` of every ``<!-- test -->`` block of docs/own-data.md,
    titled by the ``###`` heading above it."""
    text = DOC.read_text(encoding="utf-8")
    out = {}
    for match in _BLOCK.finditer(text):
        title = re.findall(r"^### (.+)$", text[: match.start()], re.M)[-1]
        out[title] = (match.group(1), match.group(2))
    return out


EXAMPLES = doc_examples()


def _title(word: str) -> str:
    return next(t for t in EXAMPLES if word in t)


@pytest.fixture(autouse=True)
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working folder and cache for every test."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path / "cache"))
    monkeypatch.chdir(work)
    return work


def run_example(title: str, request: pytest.FixtureRequest) -> None:
    """Run one example of the doc in the current folder (skipping when its requirement is absent)."""
    needs, code = EXAMPLES[title]
    if needs == "rdkit" and importlib.util.find_spec("rdkit") is None:
        pytest.skip("RDKit is not installed (pip install 'graphcl[smiles]')")
    if needs == "mirror":
        request.getfixturevalue("mirror")
    exec(compile(code, f"{DOC.name}: {title}", "exec"), {"__name__": "own_data_example"})


# ------------------------------------------------------------------------------------------
# The documentation's examples
# ------------------------------------------------------------------------------------------

def test_every_python_example_of_the_own_data_section_is_tested() -> None:
    section = DOC.read_text(encoding="utf-8").split("## Your own data", 1)[1]
    assert section.count("```python") == len(EXAMPLES) >= 10


@pytest.mark.parametrize("title", list(EXAMPLES))
def test_doc_example_runs(title: str, request: pytest.FixtureRequest) -> None:
    run_example(title, request)


# ------------------------------------------------------------------------------------------
# Each kind end to end through `graphcl train`
# ------------------------------------------------------------------------------------------

def train_cli(method: str, dataset: str, *extra: str) -> list[dict]:
    """``graphcl train METHOD --dataset DATASET --epochs 2 ...`` -> its records. BLAS and torch run
    on one thread: the evaluations' hundreds of tiny fits (scikit-learn's, the linear probe's) are
    several times slower with two threads each on a busy two-core machine."""
    from threadpoolctl import threadpool_limits

    out = Path("records.json").resolve()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1, user_api="blas"):
            code = cli_main(["train", method, "--dataset", dataset, "--epochs", "2", "--quiet", "--out", str(out),
                             *extra])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    return json.loads(out.read_text())


@pytest.mark.parametrize("word, path, name", [("TU-format", "RINGS/", "RINGS"), ("list of", "graphs.pt", "graphs"),
                                              ("SMILES", "molecules.csv", "molecules")])
def test_graphcl_trains_on_a_set_of_graphs(word: str, path: str, name: str, request: pytest.FixtureRequest) -> None:
    run_example(_title(word), request)
    records = train_cli("graphcl", path, "--set", "hidden_channels=8", "batch_size=4")
    assert records[0]["dataset"] == name
    metrics = records[0]["metrics"]
    assert 0.0 <= metrics["svm_accuracy"] <= 1.0 and 0.0 <= metrics["logreg_accuracy"] <= 1.0


def test_meow_trains_on_a_heterogeneous_folder(request: pytest.FixtureRequest) -> None:
    run_example(_title("heterogeneous"), request)
    records = train_cli("meow", "movies/", "--eval", "node", "cluster", "--set",
                        "metapaths=[[movie,actor,movie],[movie,director,movie]]", "hidden_channels=8",
                        "out_channels=8", "cluster_counts=[2,3]", "nei_max=5", "adj_mask=0.1")
    metrics = records[0]["metrics"]
    assert records[0]["dataset"] == "movies"
    assert {"macro_f1_20", "micro_f1_20", "auc_20", "nmi", "ari"} <= set(metrics)
    assert "macro_f1_40" not in metrics  # one user split, evaluated as the 20 split only


def test_lightgcn_trains_on_an_interaction_folder(request: pytest.FixtureRequest) -> None:
    run_example(_title("interactions"), request)
    records = train_cli("lightgcn", "ratings/", "--set", "out_channels=8", "eval_every=1")
    assert records[0]["dataset"] == "ratings" and 0.0 <= records[0]["metrics"]["recall_20"] <= 1.0


@pytest.mark.mirror
def test_grace_trains_on_a_registered_raw_folder(request: pytest.FixtureRequest) -> None:
    run_example(_title("registered"), request)
    records = train_cli("grace", "cora_files/", "--eval", "node", "--set", "out_channels=8", "projection_channels=8")
    assert records[0]["dataset"] == "cora" and 0.0 < records[0]["metrics"]["accuracy"] <= 1.0


# ------------------------------------------------------------------------------------------
# Detection and staging
# ------------------------------------------------------------------------------------------

@pytest.mark.mirror
def test_registered_raw_folder_is_staged_and_never_written(mirror: Path, tmp_path: Path) -> None:
    source = mirror / "TUDataset" / "MUTAG"
    before = {p: p.stat().st_mtime_ns for p in source.rglob("*")}
    dataset = load_dataset(source)  # the mirror's own folder, given as a path
    assert dataset.catalogue_name == "mutag" and len(dataset) == 188
    assert (tmp_path / "cache" / "TUDataset" / "MUTAG" / "raw" / "MUTAG_A.txt").is_file()
    assert {p: p.stat().st_mtime_ns for p in source.rglob("*")} == before
    shutil.copytree(source / "raw", "mine")
    (Path("mine") / "MUTAG_graph_labels.txt").write_text(  # other contents: a user's own TU folder
        (source / "raw" / "MUTAG_graph_labels.txt").read_text().replace("-1", "0"))
    own = load_dataset("mine/")
    assert own.catalogue_name == "MUTAG" and len(own) == 188 and own.num_classes == 2


@pytest.mark.mirror
def test_registered_raw_folder_under_the_mirrors_file_name(mirror: Path, tmp_path: Path) -> None:
    data = load_dataset(mirror / "Amazon" / "Computers")  # raw/amazon_cs.npz, checksum of the catalogue
    assert data.name == "amazon-computers" and data.num_nodes == 13752
    assert (tmp_path / "cache" / "Amazon" / "Computers" / "raw" / "amazon_electronics_computers.npz").is_file()


@pytest.mark.mirror
def test_registered_file_names_with_other_contents_are_refused(mirror: Path) -> None:
    shutil.copytree(mirror / "Planetoid" / "Cora" / "raw", "cora")
    Path("cora/ind.cora.y").write_bytes(b"not the real file")
    with pytest.raises(DatasetIntegrityError, match="registered dataset 'cora' but ind.cora.y differs"):
        load_dataset("cora/")


def test_tu_folder_is_staged_into_the_cache_and_left_untouched(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    run_example(_title("TU-format"), request)
    before = sorted(p.name for p in Path("RINGS").rglob("*"))
    dataset = load_dataset("RINGS/")
    assert sorted(p.name for p in Path("RINGS").rglob("*")) == before  # no processed/ in the user's folder
    staged = list((tmp_path / "cache" / "own").glob("RINGS-*/RINGS/raw/RINGS_A.txt"))
    assert len(staged) == 1
    assert dataset.num_features == 3  # no node labels: one-hot degree up to 2
    Path("RINGS/raw/RINGS_graph_labels.txt").write_text("0\n" * 40)  # other contents: another cache folder
    assert load_dataset("RINGS/").num_classes == 1
    assert len(list((tmp_path / "cache" / "own").glob("RINGS-*"))) == 2


def test_pt_list_keeps_labels_per_graph_and_degree_features() -> None:
    ring = torch.tensor([[0, 1, 2], [1, 2, 0]])
    torch.save([Data(edge_index=ring, num_nodes=3, y=torch.tensor([5])),
                Data(edge_index=ring, num_nodes=4, y=torch.tensor(7))], "plain.pt")
    dataset = load_dataset("plain.pt")
    assert [int(g.y) for g in dataset] == [0, 1] and dataset[1].x.shape == (4, 2)  # degrees 0..1 one-hot
    assert load_dataset(Path("plain.pt").resolve()).catalogue_name == "plain"
    graphs = [Data(x=torch.ones(3, 2) * g, edge_index=ring, y=torch.tensor([g % 2])) for g in range(4)]
    InMemoryDataset.save(graphs, "saved.pt")  # PyG's processed-file format
    saved = load_dataset("saved.pt")
    assert len(saved) == 4 and torch.equal(saved[3].x, graphs[3].x) and [int(g.y) for g in saved] == [0, 1, 0, 1]


def test_hetero_folder_with_heco_splits_counts_and_named_relations() -> None:
    root = Path("lib")
    (root / "edges").mkdir(parents=True)
    (root / "splits").mkdir()
    (root / "meta.json").write_text(json.dumps({"target": "paper", "num_nodes": {"venue": 4}, "name": "library"}))
    np.save(root / "edges" / "paper__written_by__author.npy", np.array([[0, 1, 2, 3], [0, 1, 1, 2]]))
    np.savetxt(root / "edges" / "paper__venue.csv", [[0, 0], [1, 0], [2, 3], [3, 3]], fmt="%d", delimiter=",")
    np.save(root / "labels.npy", np.array([3, 3, 5, -1]))
    for part, ids in (("train", [0]), ("val", [1]), ("test", [2, 3])):
        np.save(root / "splits" / f"{part}_40.npy", np.array(ids))
    data = load_dataset("lib/")
    assert data.name == "library" and data.num_classes == 2 and data["paper"].y.tolist() == [0, 0, 1, -1]
    assert (data["paper"].num_nodes, data["author"].num_nodes, data["venue"].num_nodes) == (4, 3, 4)
    assert ("author", "rev_written_by", "paper") in data.edge_types and ("venue", "to", "paper") in data.edge_types
    assert data["paper"].test_mask_40.tolist() == [False, False, True, True] and "train_mask_20" not in data["paper"]


# ------------------------------------------------------------------------------------------
# Errors: one line, naming the path and what is wrong
# ------------------------------------------------------------------------------------------

def _one_line(info: pytest.ExceptionInfo) -> str:
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_path_says_so() -> None:
    for missing in ("nope/", "./nope", "nope.pt", Path("nope")):
        with pytest.raises(DatasetUnavailableError) as info:
            load_dataset(missing)
        assert _one_line(info) == f"no such file or folder: {missing}"
    with pytest.raises(UnknownNameError, match="unknown dataset 'coraa'"):
        load_dataset("coraa")


@pytest.mark.parametrize("content, found", [
    (b"garbage", "is not a file written by torch.save"),
    ({"weight": torch.ones(2)}, "holds a dict with keys ['weight'], not a graph"),
    (torch.ones(3), "holds a torch.Tensor, not a graph"),
    ([1, 2], "holds a list of 2 items (int), not a graph"),
    (b"", "is empty"),
    (Fraction(1, 3), "holds a fractions.Fraction object (reading it would run code from the file)"),
])
def test_pt_that_is_not_a_graph_says_what_it_holds(content, found) -> None:
    if isinstance(content, bytes):
        Path("bad.pt").write_bytes(content)
    else:
        torch.save(content, "bad.pt")
    with pytest.raises(InvalidGraphError) as info:
        load_dataset("bad.pt")
    message = _one_line(info)
    assert message.startswith(f"bad.pt {found}") and "accepted: a torch_geometric Data" in message
    assert "weights_only" not in message


def test_unrecognised_folder_and_file_list_the_layouts() -> None:
    Path("stuff").mkdir()
    (Path("stuff") / "notes.md").write_text("hi")
    Path("graph.gml").write_text("graph []")
    for path in ("stuff/", "graph.gml"):
        with pytest.raises(InvalidGraphError) as info:
            load_dataset(path)
        message = _one_line(info)
        assert "not a recognised graph" in message and "TU <NAME>_A.txt" in message and "meta.json" in message


def test_smiles_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    Path("a.csv").write_text("smiles,label\nCCO,0\nC1CC,1\n")
    Path("b.csv").write_text("name,mass\nethanol,46\n")
    Path("c.csv").write_text("smiles,label\nCCO,0.5\n")
    if importlib.util.find_spec("rdkit") is not None:
        with pytest.raises(InvalidGraphError, match=r"a.csv, line 3: invalid SMILES 'C1CC'"):
            load_dataset("a.csv")
        with pytest.raises(InvalidGraphError, match="needs a header with a `smiles` column"):
            load_dataset("b.csv")
        with pytest.raises(InvalidGraphError, match="label 0.5 is not a class id"):
            load_dataset("c.csv")
    monkeypatch.setattr(graph_sets.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset("a.csv")
    assert 'pip install "graphcl[smiles]"' in _one_line(info)


def test_graph_list_and_tu_errors() -> None:
    ring = torch.tensor([[0, 1], [1, 0]])
    torch.save([Data(x=torch.ones(2, 3), edge_index=ring, y=torch.tensor([0])),
                Data(edge_index=ring, num_nodes=2, y=torch.tensor([1]))], "mixed.pt")
    with pytest.raises(InvalidGraphError, match="graph 1 has no node features x but graph 0 has"):
        load_dataset("mixed.pt")
    torch.save([Data(x=torch.ones(2, 3), edge_index=ring, y=torch.tensor([0, 1]))] * 2, "nodelabels.pt")
    with pytest.raises(InvalidGraphError, match="graph 0 has 2 labels in y"):
        load_dataset("nodelabels.pt")
    Path("BAD").mkdir()
    Path("BAD/BAD_A.txt").write_text("1, 2\n2, 9\n")
    Path("BAD/BAD_graph_indicator.txt").write_text("1\n1\n2\n")
    with pytest.raises(InvalidGraphError, match=r"BAD_A.txt: node 9 is outside 1..3"):
        load_dataset("BAD/")
    Path("BAD/BAD_A.txt").write_text("1, 2\n2, 3\n")
    with pytest.raises(InvalidGraphError, match=r"BAD_A.txt, line 2: the edge 2, 3 joins two graphs"):
        load_dataset("BAD/")
    Path("BAD/BAD_A.txt").write_text("1, 2\n2, 1\n")
    Path("BAD/BAD_graph_labels.txt").write_text("0\n")
    with pytest.raises(InvalidGraphError) as info:
        load_dataset("BAD/")
    assert "BAD_graph_labels.txt: 1 labels for 2 graphs" in _one_line(info)


def test_hetero_errors() -> None:
    root = Path("h")
    (root / "edges").mkdir(parents=True)
    np.savetxt(root / "edges" / "paper__author.txt", [[0, 0], [1, 1]], fmt="%d")
    with pytest.raises(InvalidGraphError, match="needs meta.json naming the target node type"):
        load_dataset("h/")
    (root / "meta.json").write_text(json.dumps({"target": "paper", "num_nodes": {"author": 1}}))
    with pytest.raises(InvalidGraphError, match=r"paper__author.txt: author id 1 is outside 0..0"):
        load_dataset("h/")
    (root / "meta.json").write_text(json.dumps({"target": "paper"}))
    np.savetxt(root / "edges" / "a__b__c__d.txt", [[0, 0]], fmt="%d")
    with pytest.raises(InvalidGraphError, match="name edge files <source type>__<destination type>"):
        load_dataset("h/")
    (root / "edges" / "a__b__c__d.txt").unlink()
    (root / "splits").mkdir()
    np.savetxt(root / "splits" / "train_20.txt", [0], fmt="%d")
    with pytest.raises(InvalidGraphError, match="split 20 has train but not all of train, val, test"):
        load_dataset("h/")
