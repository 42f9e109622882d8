"""The GraphCL sides of a side-by-side run (unsupervised TU setting): graphcl's ``graphcl`` against the
official Shen-Lab/GraphCL ``unsupervised_TU/gsimclr.py``, on MUTAG or NCI1.

The official side runs the unmodified ``__main__`` block of gsimclr.py (its README's command:
``--lr 0.01 --local --num-gc-layers 3``, hidden 32 by default, batch 128, here ``--aug random4``),
executed from its own source with its globals set: ``epochs = 20`` becomes the requested count,
``__file__`` points into a temporary folder so that its ``data/<NAME>`` root is writable (the TU
raw files are copied there from the mirror; PyG processes them on the first run), and its
``print`` stamps the end of each epoch at its ``Epoch N, Loss`` line (and writes everything, its
per-batch loss included, to /dev/null). Its evaluation (``encoder.get_embeddings`` of the whole set
and ``evaluate_embedding``'s SVM search at epochs 10 and 20) is replaced by nothing; its first
``get_embeddings`` call, before the first epoch, starts the clock, so building the datasets is not
an epoch. The run stops at the last epoch's stamp (the log file it would then append to is not
written). Its augmentation runs in ``Dataset.get`` on the main process (no loader workers), per
graph, with a dense adjacency; its per-batch renumbering of the augmented view (a Python loop
over nodes and edges) is in its epoch, as in the original. ``patches/GraphCL.diff`` lets
aug.py run on PyG 2.x / torch >= 2.6 (no change to what it computes).

graphcl's side: ``graphcl.runner.configure("graphcl", dataset)`` (``configs/graphcl.yaml``: GIN 3 x
32, sum pooling of every layer, projection head, lr 0.01, batch 128, tau 0.2; one view the graph,
the other one augmentation per graph among four, as ``random4``) and ``graphcl.train.train``, one
stamp per ``on_epoch_end``; its epochs start after ``setup`` (the data loader).

Differences that remain (the two implementations', not the harness's): graphcl's loader reshuffles
every epoch (until session 19 it also dropped the last partial batch: MUTAG 1 step of 128 graphs per
epoch against the official 2 steps, 128 + 60; now both see every graph), ``graphs_per_epoch`` is
reported; graphcl's
augmentations all use ratio 0.2 (the paper's), the official random4 drops / masks 10 % of the nodes,
removes 10 % of the edges (adds none) and keeps a subgraph of ~20 % of the nodes; the official code
adds a self-loop to (almost) every node of both views; graphcl's loss is symmetric (both
directions), the official ``loss_cal`` one-directional.
"""
from __future__ import annotations

import builtins
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

#: The official README's command (go.sh), with the augmentation graphcl's configuration mirrors.
OFFICIAL_ARGS = ["--lr", "0.01", "--local", "--num-gc-layers", "3", "--aug", "random4"]
OFFICIAL_BATCH = 128  # gsimclr.py's batch_size


class _Done(Exception):
    """Raised by the stamping ``print`` after the last requested epoch."""


def run_ours(dataset: str, epochs: int, seed: int, stamps: list[float]) -> dict:
    from graphcl.data import load_dataset
    from graphcl.methods import build_method
    from graphcl.runner import configure
    from graphcl.train import train

    params, settings, data = configure("graphcl", load_dataset(dataset), epochs=epochs)
    model = build_method("graphcl", data.num_features, **params)
    setup = model.setup

    def timed_setup(graphs) -> None:  # the epochs start once the loader is built
        setup(graphs)
        stamps[0] = time.perf_counter()

    model.setup = timed_setup
    train(model, data, epochs=epochs, lr=settings.lr, weight_decay=settings.weight_decay, seed=seed, patience=None,
          progress=False, on_epoch_end=lambda epoch, loss: stamps.append(time.perf_counter()))
    loader = model._loader
    steps = len(loader)
    graphs = steps * loader.batch_size if loader.drop_last else len(data)
    return {"graphs": len(data), "steps_per_epoch": steps, "graphs_per_epoch": graphs}


def _stage_raw(dataset: str, root: Path) -> str:
    """Copy the TU raw files of ``dataset`` to ``root/<NAME>/<NAME>/raw`` (gsimclr.py's layout:
    ``data/<DS>`` is the dataset root, PyG reads ``<root>/<DS>/raw``); the official name."""
    from graphcl.data.cache import mirror_root
    from graphcl.data.registry import get_dataset_info

    info = get_dataset_info(dataset)
    if info.family != "tu":
        raise SystemExit(f"graphcl: {dataset} is not a TU dataset (try mutag or nci1)")
    name = info.options["pyg_name"]
    raw = root / name / name / "raw"
    raw.mkdir(parents=True)
    mirror = mirror_root()
    files = [f for f in info.files if f.name.startswith("raw/")]
    if mirror is not None and all(f.mirror and (mirror / f.mirror).is_file() for f in files):
        for f in files:
            shutil.copyfile(mirror / f.mirror, raw / Path(f.name).name)
    else:  # graphcl's own staged copy (from its cache, or fetched)
        from graphcl.data import load_dataset

        shutil.copytree(load_dataset(dataset).raw_dir, raw, dirs_exist_ok=True)
    return name


def run_official(code: Path, dataset: str, epochs: int, seed: int, stamps: list[float]) -> dict:
    import numpy as np

    folder = code / "unsupervised_TU"
    if "self.data.keys()" not in (folder / "aug.py").read_text():
        raise SystemExit(f"{folder}/aug.py is not patched for PyG 2.x: delete {code} and let official.prepare "
                         "export it again (patches/GraphCL.diff)")
    work = Path(tempfile.mkdtemp(prefix="graphcl-official-graphcl-"))
    name = _stage_raw(dataset, work / "data")
    source = (folder / "gsimclr.py").read_text()
    if source.count("    epochs = 20\n") != 1:
        raise SystemExit("gsimclr.py: its `epochs = 20` line was not found")
    source = source.replace("    epochs = 20\n", f"    epochs = {epochs}\n")
    sys.path.insert(0, str(folder))
    sys.argv = ["gsimclr.py", "--DS", name, *OFFICIAL_ARGS, "--seed", str(seed)]
    import evaluate_embedding  # noqa: E402  (the official modules: their evaluation is switched off)
    import gin  # noqa: E402

    def no_embeddings(self, loader):  # the evaluation's pass over the whole set
        if len(stamps) == 1:  # the call before the first epoch: training starts now
            stamps[0] = time.perf_counter()
        return np.zeros((0, 1)), np.zeros(0)

    gin.Encoder.get_embeddings = no_embeddings
    evaluate_embedding.evaluate_embedding = lambda embeddings, labels, *args, **kwargs: (0.0, 0.0)
    devnull = open(os.devnull, "w")

    def stamp(*args, **kwargs):
        kwargs["file"] = devnull  # formatted as in the original (the per-batch loss too), not shown
        builtins.print(*args, **kwargs)
        if args and isinstance(args[0], str) and args[0].startswith("Epoch "):
            stamps.append(time.perf_counter())
            if len(stamps) > epochs:
                raise _Done

    scope = {"__name__": "__main__", "__file__": str(work / "gsimclr.py"), "__builtins__": builtins, "print": stamp}
    try:
        exec(compile(source, str(folder / "gsimclr.py"), "exec"), scope)
    except _Done:
        pass
    finally:
        devnull.close()
        shutil.rmtree(work)
    graphs = len(scope["dataset"])
    return {"graphs": graphs, "steps_per_epoch": math.ceil(graphs / OFFICIAL_BATCH), "graphs_per_epoch": graphs}
