"""Data layer: registry, catalogue, cache/mirror staging, offline errors, user graph files.

Tests that need the raw-file mirror read ``GRAPHCL_MIRROR`` (a relative path is resolved against
the current directory, then the repository root) and skip when it is unset or missing. Every
test runs with a temporary ``GRAPHCL_DATA`` and with the network probe replaced, so nothing is
downloaded and nothing waits on a socket.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch_geometric.data import Data

from graphcl.data import cache, get_dataset_info, list_datasets, load_dataset, registry
from graphcl.data.catalogue import _STAT_NAMES, DatasetInfo, RawFile, _read_catalogue
from graphcl.errors import (
    DatasetIntegrityError,
    DatasetUnavailableError,
    InvalidGraphError,
    UnknownNameError,
)

REPO = Path(__file__).resolve().parents[1]
REAL_PROBE = cache._probe_host

ALL_NAMES = {
    "cora", "citeseer", "pubmed", "citationfull-cora", "citationfull-cora_ml", "citationfull-citeseer",
    "citationfull-dblp", "citationfull-pubmed", "amazon-photo", "amazon-computers", "coauthor-cs",
    "coauthor-physics", "wikics", "ogbn-arxiv", "ogbn-products", "acm", "dblp", "cite", "usps", "hhar", "reut",
    "heco-acm", "heco-dblp", "heco-aminer", "heco-freebase", "gowalla", "mutag", "proteins", "nci1", "imdb-binary",
}

# name -> (num_nodes, num_edges, num_features, num_classes), from the mirror README / PyG docs.
EXPECTED = {
    "cora": (2708, 10556, 1433, 7),
    "citeseer": (3327, 9104, 3703, 6),
    "amazon-photo": (7650, 238162, 745, 8),
    "coauthor-cs": (18333, 163788, 6805, 15),
    "citationfull-dblp": (17716, 105734, 1639, 4),
    "acm": (3025, 2 * 13128, 1870, 3),
    "cite": (3327, 2 * 4552, 3703, 6),
    "dblp": (4057, 2 * 3528, 334, 4),
}


def _resolve_mirror() -> Path | None:
    value = os.environ.get("GRAPHCL_MIRROR")
    if not value:
        return None
    path = Path(value).expanduser()
    for candidate in ([path] if path.is_absolute() else [Path.cwd() / path, REPO / path]):
        if candidate.is_dir():
            return candidate.resolve()
    return None


def _no_network(host: str, port: int, timeout: float) -> None:
    raise cache._DownloadError(f"cannot reach {host}:{port} (network disabled in tests)")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fresh cache, no mirror, no network unless a test opts in."""
    monkeypatch.setenv("GRAPHCL_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("GRAPHCL_MIRROR", raising=False)
    monkeypatch.delenv("GRAPHCL_OFFLINE", raising=False)
    monkeypatch.setenv("GRAPHCL_DOWNLOAD_TIMEOUT", "2")
    monkeypatch.setattr(cache, "_probe_host", _no_network)


@pytest.fixture(scope="module")
def mirror_dir() -> Path:
    path = _resolve_mirror()
    if path is None:
        pytest.skip("raw-file mirror not available: set GRAPHCL_MIRROR to a folder laid out like ../shared/datasets")
    return path


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the load tests of this module, so each dataset is staged once."""
    return tmp_path_factory.mktemp("graphcl_cache")


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch, mirror_dir: Path, shared_cache: Path) -> Path:
    monkeypatch.setenv("GRAPHCL_MIRROR", str(mirror_dir))
    monkeypatch.setenv("GRAPHCL_DATA", str(shared_cache))
    return mirror_dir


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


# ------------------------------------------------------------------------------------------
# Catalogue and names (no mirror needed)
# ------------------------------------------------------------------------------------------

def test_catalogue_is_complete_and_well_formed() -> None:
    catalogue = _read_catalogue()
    assert set(catalogue) == ALL_NAMES
    for name, info in catalogue.items():
        assert name == name.lower() and info.family in registry._LOADERS, name
        assert info.source and info.licence and info.citation and info.description, name
        assert info.files and info.cache_dir, name
        for raw in info.files:
            assert raw.mirror is None or (raw.sha256 and len(raw.sha256) == 64), (name, raw)
        for key in _STAT_NAMES:
            assert isinstance(getattr(info, key), int), (name, key)


def test_names_are_case_insensitive_with_aliases() -> None:
    assert get_dataset_info("Cora").name == "cora"
    assert get_dataset_info("PHOTO").name == "amazon-photo"
    assert get_dataset_info("computers").name == "amazon-computers"
    assert get_dataset_info("OGBN-ArXiv").name == "ogbn-arxiv"


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(UnknownNameError) as info:
        load_dataset("corra")
    message = str(info.value)
    assert "'cora'" in message and "graphcl datasets" in message
    assert isinstance(info.value, LookupError)


# ------------------------------------------------------------------------------------------
# Registered datasets from the mirror
# ------------------------------------------------------------------------------------------

@pytest.mark.mirror
@pytest.mark.parametrize("name", list(EXPECTED))
def test_mirror_dataset_loads_with_expected_stats(mirror: Path, name: str) -> None:
    data = load_dataset(name)
    num_nodes, num_edges, num_features, num_classes = EXPECTED[name]
    assert (data.num_nodes, data.num_edges, data.num_features, data.num_classes) == (
        num_nodes, num_edges, num_features, num_classes)
    assert data.name == name
    assert data.x.dtype == torch.float32 and data.edge_index.dtype == torch.long
    assert data.y.dtype == torch.long and data.y.dim() == 1
    assert int(data.y.min()) == 0 and int(data.y.max()) == num_classes - 1
    assert data.is_undirected()
    if get_dataset_info(name).family == "sdcn":
        assert not data.has_self_loops() and data.is_coalesced()
    if name in ("cora", "citeseer"):
        train = {"cora": 140, "citeseer": 120}[name]
        assert (int(data.train_mask.sum()), int(data.val_mask.sum()), int(data.test_mask.sum())) == (train, 500, 1000)


@pytest.mark.mirror
def test_mirror_is_never_written(mirror_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GRAPHCL_MIRROR", str(mirror_dir))
    before = _snapshot(mirror_dir)
    for name in ("cora", "dblp"):  # plain copies and a zip member written out as text
        load_dataset(name)
    assert _snapshot(mirror_dir) == before
    staged = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert staged and not any(p.is_symlink() for p in staged)
    assert all(mirror_dir not in p.resolve().parents for p in staged)


@pytest.mark.mirror
def test_list_datasets_reports_availability(mirror_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHCL_MIRROR", str(mirror_dir))
    status = {info.name: info for info in list_datasets()}
    assert set(status) == ALL_NAMES
    assert status["cora"].available_locally == "mirror"
    assert status["cora"].num_nodes == 2708 and status["cora"].family == "planetoid"
    assert status["wikics"].available_locally == "download only"
    assert status["hhar"].available_locally == "missing"  # features neither in the mirror nor downloadable
    load_dataset("cora")
    assert {i.name: i for i in list_datasets()}["cora"].available_locally == "cache"


@pytest.mark.mirror
def test_sdcn_features_missing_offline(mirror_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GRAPHCL_MIRROR", str(mirror_dir))
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset("usps")
    assert time.perf_counter() - start < 10
    message = str(info.value)
    folder = tmp_path / "cache" / "SDCN" / "usps"
    assert "usps.txt" in message and str(folder) in message
    assert "usps_label.txt" not in message  # staged from the mirror, so not missing
    assert (folder / "usps_label.txt").is_file() and (folder / "usps_graph.txt").is_file()


# ------------------------------------------------------------------------------------------
# Offline and integrity errors
# ------------------------------------------------------------------------------------------

def test_download_only_dataset_offline_names_file_and_folder(tmp_path: Path) -> None:
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset("wikics")
    assert time.perf_counter() - start < 10
    message = str(info.value)
    assert "raw/data.json" in message and str(tmp_path / "cache" / "WikiCS") in message
    assert "wiki-cs-dataset" in message  # the canonical source


def test_offline_switch_refuses_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHCL_OFFLINE", "1")
    with pytest.raises(DatasetUnavailableError, match="GRAPHCL_OFFLINE"):
        load_dataset("citationfull-cora")


def test_unreachable_host_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "_probe_host", REAL_PROBE)  # the real probe, against a closed local port
    start = time.perf_counter()
    with pytest.raises(cache._DownloadError, match="127.0.0.1"):
        with cache._network_guard(["http://127.0.0.1:9/data.json"]):
            pass
    assert time.perf_counter() - start < 5


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A local HTTP server (the canonical-source stand-in) and the folder it serves."""
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(cache, "_probe_host", REAL_PROBE)
    www = tmp_path / "www"
    www.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", www
    finally:
        server.shutdown()
        server.server_close()


def test_download_from_canonical_source(local_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    base, www = local_server
    x, edges, labels = _toy()
    np.savetxt(www / "toy.txt", x)
    np.savetxt(www / "toy_graph.txt", edges, fmt="%d")
    with zipfile.ZipFile(www / "labels.zip", "w") as archive:
        archive.writestr("inner/toy_label.txt", "\n".join(map(str, labels)))
    graph_sha = hashlib.sha256((www / "toy_graph.txt").read_bytes()).hexdigest()
    info = DatasetInfo(
        name="toy", family="sdcn", cache_dir="SDCN/toy", options={"sdcn_name": "toy"},
        files=(RawFile("toy.txt", url=f"{base}/toy.txt"),
               RawFile("toy_label.txt", url=f"{base}/labels.zip", url_member="inner/toy_label.txt"),
               RawFile("toy_graph.txt", url=f"{base}/toy_graph.txt", url_sha256=graph_sha)),
        num_nodes=6, num_edges=10, num_features=3, num_classes=3)
    monkeypatch.setattr(registry, "get_dataset_info", lambda name: info)
    _check_toy(load_dataset("toy"), "toy")
    folder = tmp_path / "cache" / "SDCN" / "toy"
    assert sorted(p.name for p in folder.iterdir()) == ["toy.txt", "toy_graph.txt", "toy_label.txt"]

    shutil.rmtree(folder)  # a source whose bytes changed is refused, and nothing is cached
    bad = replace(info, files=info.files[:2] + (replace(info.files[2], url_sha256="0" * 64),))
    monkeypatch.setattr(registry, "get_dataset_info", lambda name: bad)
    with pytest.raises(DatasetIntegrityError, match="checksum mismatch"):
        load_dataset("toy")
    assert not (folder / "toy_graph.txt").exists()

    shutil.rmtree(folder)
    missing = replace(info, files=(replace(info.files[0], url=f"{base}/nope.txt"),) + info.files[1:])
    monkeypatch.setattr(registry, "get_dataset_info", lambda name: missing)
    with pytest.raises(DatasetUnavailableError, match="404") as err:
        load_dataset("toy")
    assert "toy.txt" in str(err.value) and str(folder) in str(err.value)


@pytest.mark.mirror
def test_mirror_checksum_mismatch(mirror_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "mirror"
    shutil.copytree(mirror_dir / "Planetoid" / "Cora", fake / "Planetoid" / "Cora")
    corrupt = fake / "Planetoid" / "Cora" / "raw" / "ind.cora.y"
    corrupt.chmod(0o644)
    corrupt.write_bytes(corrupt.read_bytes() + b"\0")
    monkeypatch.setenv("GRAPHCL_MIRROR", str(fake))
    with pytest.raises(DatasetIntegrityError, match="sha256") as info:
        load_dataset("cora")
    assert "ind.cora.y" in str(info.value)
    assert not (tmp_path / "cache" / "Planetoid" / "Cora" / "raw" / "ind.cora.y").exists()


@pytest.mark.mirror
def test_stat_mismatch(mirror: Path, monkeypatch: pytest.MonkeyPatch, shared_cache: Path) -> None:
    real = registry.get_dataset_info("cora")
    monkeypatch.setattr(registry, "get_dataset_info", lambda name: replace(real, num_edges=real.num_edges + 2))
    with pytest.raises(DatasetIntegrityError) as info:
        load_dataset("cora")
    message = str(info.value)
    assert "num_edges: expected 10558, found 10556" in message
    assert str(shared_cache / "Planetoid" / "Cora") in message
    assert load_dataset("cora", check_stats=False).num_edges == 10556


# ------------------------------------------------------------------------------------------
# User graphs
# ------------------------------------------------------------------------------------------

def _toy(n: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.arange(n * 3, dtype=np.float64).reshape(n, 3)
    edges = np.array([[0, 1], [1, 2], [2, 0], [3, 4], [4, 5], [5, 5], [1, 0]])  # a self-loop, a duplicate
    labels = np.array([1, 1, 1, 2, 2, 3])  # 1-based
    return x, edges, labels


def _check_toy(data: Data, name: str) -> None:
    assert data.num_nodes == 6 and data.num_features == 3 and data.x.dtype == torch.float32
    assert data.edge_index.size(1) == 10  # 5 distinct undirected edges, self-loop dropped
    assert data.is_undirected() and not data.has_self_loops() and data.is_coalesced()
    assert data.y.tolist() == [0, 0, 0, 1, 1, 2] and data.num_classes == 3
    assert data.name == name


def test_user_edge_list_folder(tmp_path: Path) -> None:
    x, edges, labels = _toy()
    folder = tmp_path / "mygraph"
    folder.mkdir()
    (folder / "edges.csv").write_text("src,dst\n" + "\n".join(f"{a},{b}" for a, b in edges) + "\n")
    np.save(folder / "features.npy", x)
    (folder / "labels.txt").write_text("\n".join(map(str, labels)) + "\n")
    _check_toy(load_dataset(str(folder)), "mygraph")

    (folder / "edges.csv").unlink()
    (folder / "features.npy").unlink()
    (folder / "edges.txt").write_text("# comment\n" + "\n".join(f"{a} {b} 1.0" for a, b in edges))
    np.savetxt(folder / "features.txt", x)
    _check_toy(load_dataset(folder), "mygraph")


def test_user_sdcn_folder(tmp_path: Path) -> None:
    x, edges, labels = _toy()
    folder = tmp_path / "toy"
    folder.mkdir()
    np.savetxt(folder / "toy.txt", x)
    np.savetxt(folder / "toy_label.txt", labels, fmt="%d")
    np.savetxt(folder / "toy_graph.txt", edges, fmt="%d")
    _check_toy(load_dataset(str(folder)), "toy")


@pytest.mark.parametrize("layout", ["folder", "zip", "sparse"])
def test_user_npy_format(tmp_path: Path, layout: str) -> None:
    x, edges, labels = _toy()
    adj = np.zeros((6, 6))
    adj[edges[:, 0], edges[:, 1]] = 1
    folder = tmp_path / "npy"
    folder.mkdir()
    np.save(folder / "toy_feat.npy", x)
    np.save(folder / "toy_label.npy", labels)
    if layout == "sparse":
        sp.save_npz(folder / "toy_adj.npz", sp.csr_matrix(adj))
    else:
        np.save(folder / "toy_adj.npy", adj)
    path = folder
    if layout == "zip":
        path = tmp_path / "toy.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for member in folder.iterdir():
                archive.write(member, f"toy/{member.name}")
    _check_toy(load_dataset(str(path)), "toy")


def test_user_pt_file(tmp_path: Path) -> None:
    x, edges, labels = _toy()
    data = Data(x=torch.tensor(x), edge_index=torch.tensor(edges.T), y=torch.tensor(labels),
                train_mask=torch.ones(6, dtype=torch.bool))
    path = tmp_path / "toy.pt"
    torch.save(data, path)
    loaded = load_dataset(str(path))
    _check_toy(loaded, "toy")
    assert loaded.train_mask.all()


def test_user_edge_out_of_range(tmp_path: Path) -> None:
    x, edges, _ = _toy()
    folder = tmp_path / "bad"
    folder.mkdir()
    np.save(folder / "features.npy", x)
    (folder / "edges.txt").write_text("0 1\n1 6\n")
    with pytest.raises(InvalidGraphError) as info:
        load_dataset(str(folder))
    message = str(info.value)
    assert "edges.txt" in message and "node 6" in message and "features.npy has 6 rows" in message


def test_user_label_count_mismatch_and_empty_edges(tmp_path: Path) -> None:
    x, edges, labels = _toy()
    folder = tmp_path / "bad"
    folder.mkdir()
    np.save(folder / "features.npy", x)
    np.savetxt(folder / "edges.txt", edges, fmt="%d")
    np.save(folder / "labels.npy", labels[:4])
    with pytest.raises(InvalidGraphError, match="labels.npy has 4 labels but .*features.npy has 6"):
        load_dataset(str(folder))
    (folder / "labels.npy").unlink()
    (folder / "edges.txt").write_text("src dst\n")
    with pytest.raises(InvalidGraphError, match="edges.txt.*empty"):
        load_dataset(str(folder))


def test_unrecognised_folder(tmp_path: Path) -> None:
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "readme.md").write_text("hi")
    with pytest.raises(InvalidGraphError, match="not a recognised graph layout"):
        load_dataset(str(tmp_path / "stuff"))


# ------------------------------------------------------------------------------------------
# OGB through an explicit root (tiny hand-made copy in OGB's raw layout)
# ------------------------------------------------------------------------------------------

def _write_tiny_arxiv(root: Path, n: int = 30, e: int = 60) -> None:
    rng = np.random.default_rng(0)
    base = root / "ogbn_arxiv"
    (base / "raw").mkdir(parents=True)
    (base / "split" / "time").mkdir(parents=True)

    def write(path: Path, rows: np.ndarray) -> None:
        with gzip.open(path, "wt") as f:
            for row in np.atleast_1d(rows):
                f.write(",".join(map(str, np.atleast_1d(row))) + "\n")

    write(base / "raw" / "edge.csv.gz", rng.integers(0, n, (e, 2)))
    write(base / "raw" / "node-feat.csv.gz", rng.normal(size=(n, 128)).round(3))
    write(base / "raw" / "node-label.csv.gz", np.arange(n) % 40)
    write(base / "raw" / "num-node-list.csv.gz", np.array([n]))
    write(base / "raw" / "num-edge-list.csv.gz", np.array([e]))
    write(base / "raw" / "node_year.csv.gz", rng.integers(2010, 2020, n))
    perm = rng.permutation(n)
    write(base / "split" / "time" / "train.csv.gz", perm[:20])
    write(base / "split" / "time" / "valid.csv.gz", perm[20:25])
    write(base / "split" / "time" / "test.csv.gz", perm[25:])
    (base / "RELEASE_v1.txt").write_text("v1\n")


def test_ogbn_arxiv_from_root(tmp_path: Path) -> None:
    pytest.importorskip("ogb")
    _write_tiny_arxiv(tmp_path / "ogb")
    with pytest.raises(DatasetIntegrityError, match="num_nodes: expected 169343, found 30"):
        load_dataset("ogbn-arxiv", root=tmp_path / "ogb")
    data = load_dataset("ogbn-arxiv", root=tmp_path / "ogb", check_stats=False)
    assert data.num_nodes == 30 and data.y.dim() == 1 and data.num_classes == 40
    assert (int(data.train_mask.sum()), int(data.val_mask.sum()), int(data.test_mask.sum())) == (20, 5, 5)
    assert data.is_undirected() and data.name == "ogbn-arxiv"


def test_planted_partition_draws_block_structured_edges_and_features():
    from graphcl.data import planted_partition

    data = planted_partition(2_000, num_blocks=4, avg_degree=10, num_features=8, inside=0.8, seed=1)
    assert data.x.shape == (2_000, 8) and data.edge_index.shape == (2, 20_000) and data.y.max() == 3
    src, dst = data.edge_index
    assert torch.equal(data.edge_index[:, :10_000].flip(0), data.edge_index[:, 10_000:])  # both directions
    same = (data.y[src] == data.y[dst]).float().mean().item()
    assert 0.8 + 0.2 / 4 - 0.02 < same < 0.8 + 0.2 / 4 + 0.02  # planted fraction plus chance hits
    centres = torch.stack([data.x[data.y == b].mean(0) for b in range(4)])
    assert torch.cdist(centres, centres).fill_diagonal_(float("inf")).min() > 0.5  # block-correlated features
    assert torch.equal(planted_partition(2_000, num_blocks=4, seed=1).edge_index,
                       planted_partition(2_000, num_blocks=4, seed=1).edge_index)
    from graphcl.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="planted_partition"):
        planted_partition(0)
