"""Multi-process training (torch.distributed, gloo on CPU): the loss and every gradient of a
2-rank run equal the single-process ones on the union of the ranks' batches."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from graphcl.distributed import average_gradients, gather, is_distributed
from graphcl.losses import InfoNCE

B, D, F = 6, 4, 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _inputs():
    g = torch.Generator().manual_seed(0)
    x1, x2 = torch.randn(2 * B, F, generator=g, dtype=torch.float64), torch.randn(2 * B, F, generator=g,
                                                                                 dtype=torch.float64)
    weight = torch.randn(F, D, generator=g, dtype=torch.float64)
    return x1, x2, weight


def _rank_step(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=2)
    try:
        x1, x2, weight = _inputs()
        w = torch.nn.Parameter(weight.clone())
        rows = slice(rank * B, (rank + 1) * B)  # this rank's batch
        loss = InfoNCE(0.5, gather_distributed=True)(x1[rows] @ w, x2[rows] @ w)
        loss.backward()
        average_gradients([w])
        grad, w.grad = w.grad.clone(), None
        # the first 4 rows of each rank's batch are anchors, the other 2 extra negatives
        extra = InfoNCE(0.5, gather_distributed=True)(x1[rows] @ w, x2[rows] @ w, anchors=4)
        extra.backward()
        average_gradients([w])
        Path(out, f"{rank}.json").write_text(json.dumps({"loss": loss.item(), "grad": grad.tolist(),
                                                         "gathered": list(gather(x1[rows]).shape),
                                                         "extra": extra.item(), "extra_grad": w.grad.tolist()}))
    finally:
        torch.distributed.destroy_process_group()


def test_two_ranks_give_the_loss_and_gradients_of_one_process_on_the_union(tmp_path):
    mp.spawn(_rank_step, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    x1, x2, weight = _inputs()
    w = torch.nn.Parameter(weight.clone())
    reference = InfoNCE(0.5)(x1 @ w, x2 @ w)
    reference.backward()
    order = torch.tensor([0, 1, 2, 3, 6, 7, 8, 9, 4, 5, 10, 11])  # both ranks' anchors, then their negatives
    v = torch.nn.Parameter(weight.clone())
    extra = InfoNCE(0.5)(x1[order] @ v, x2[order] @ v, anchors=8)
    extra.backward()
    for rank in (0, 1):
        got = json.loads((tmp_path / f"{rank}.json").read_text())
        assert got["gathered"] == [2 * B, F]
        assert abs(got["loss"] - reference.item()) < 1e-6
        assert torch.allclose(torch.tensor(got["grad"], dtype=torch.float64), w.grad, atol=1e-6)
        assert abs(got["extra"] - extra.item()) < 1e-6
        assert torch.allclose(torch.tensor(got["extra_grad"], dtype=torch.float64), v.grad, atol=1e-6)
    assert not is_distributed() and gather(x1) is x1  # outside a group: the tensor itself


def test_graphcl_train_with_nproc_2_runs_torchrun_and_rank_0_writes_one_record(tmp_path):
    from conftest import write_graph_folder

    folder = write_graph_folder(tmp_path / "g")
    out = tmp_path / "records.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def train(epochs: int, nproc: int = 2) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "graphcl", "train", "grace", "--dataset", str(folder), "--epochs",
                               str(epochs), "--eval", "none", "--quiet", "--nproc", str(nproc), "--out", str(out),
                               "--checkpoint-dir", str(tmp_path / "checkpoints"), "--set", "out_channels=8",
                               "projection_channels=8", "batch_size=16", "num_neighbors=[4,4]"],
                              capture_output=True, text=True, timeout=600, env=env)

    def records() -> list:
        loaded = json.loads(out.read_text())
        return loaded if isinstance(loaded, list) else loaded.get("records", [loaded])

    done = train(2)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(records()) == 1 and records()[0]["config"]["batch_size"] == 16
    assert done.stdout.count("records written to") == 1  # rank 0 only
    (checkpoint,) = (tmp_path / "checkpoints").iterdir()
    state = torch.load(checkpoint, weights_only=False)
    assert state["world_size"] == 2 and len(state["rng_ranks"]) == 2 and state["epoch"] == 2
    done = train(3)  # both ranks resume rank 0's checkpoint, each with its own random state
    assert done.returncode == 0, done.stderr[-3000:]
    assert records()[0].get("resumed_from_epoch") == 2 and torch.load(checkpoint, weights_only=False)["epoch"] == 3
    done = train(4, nproc=1)
    assert done.returncode != 0 and "trained by 2 processes, this run has 1; resume with --nproc 2" in done.stderr


def test_distributed_grace_example_runs_under_torchrun(tmp_path):
    from conftest import write_graph_folder

    folder = write_graph_folder(tmp_path / "g")
    example = Path(__file__).resolve().parents[1] / "examples" / "distributed_grace.py"
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                           str(example), "--dataset", str(folder), "--epochs", "2", "--batch-size", "16",
                           "--num-neighbors", "4", "4", "--out-channels", "8"],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("2 processes: test accuracy") == 1  # process 0 reports
