"""The MEOW sides of a side-by-side run: graphcl's ``meow`` against the official jianxiangyu/MEOW
``code_meow`` (``python main.py acm``, its ``params.py`` settings) on heco-acm.

The official side runs the unmodified ``train()`` of its main.py, imported as a module with the
official arguments (``sys.argv``), on its own files: the mirror's ``MEOW/acm`` folder (the official
repository's ``data/acm``), whose features, labels, splits and ``pa.txt`` / ``ps.txt`` are
byte-identical to the HeCo files graphcl's heco-acm loads, and whose ``pap.npz`` / ``psp.npz`` /
``nei_a.npz`` / ``nei_s.npz`` are the path counts and incidences graphcl builds from those
relations. Patched for the CPU only (``patches/MEOW.diff``: no ``.cuda()``, faiss's CPU
``IndexFlatIP`` for its GPU twin, ``np.float`` -> ``float``; faiss-cpu must be installed). Its
epochs are stamped where main.py prints ``Epoch:`` (the start of each) and ``Start to save
embeds.`` (after the last), so its setup (PathSim, masks, model) is not an epoch; what follows the
loop (saving the embeddings, k-means NMI / ARI, the logistic-regression probes) is replaced by
nothing. The loss-patience stop is set past the last epoch on both sides: both train exactly
``epochs`` epochs.

graphcl's side: ``graphcl.runner.configure("meow", heco-acm)`` (``configs/meow.yaml``: the same
official ACM settings) and ``graphcl.train.train``, one stamp per ``on_epoch_end``; its epochs
start after ``setup`` (meta-path adjacencies, PathSim, masks), as the official ones do.
"""
from __future__ import annotations

import builtins
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

#: graphcl dataset -> the official dataset name (its ``main.py`` argument and ``data/<name>`` folder).
OFFICIAL_DATASET = {"heco-acm": "acm"}


def run_ours(dataset: str, epochs: int, seed: int, stamps: list[float]) -> None:
    from graphcl.data import load_dataset
    from graphcl.methods import build_method
    from graphcl.runner import configure
    from graphcl.tasks import get_task
    from graphcl.train import train

    params, settings, data = configure("meow", load_dataset(dataset), epochs=epochs)
    model = build_method("meow", get_task("hetero").in_channels(data), **params)
    setup = model.setup

    def timed_setup(graph) -> None:  # the epochs start once the fixed views are built
        setup(graph)
        stamps[0] = time.perf_counter()

    model.setup = timed_setup
    train(model, data, epochs=epochs, lr=settings.lr, weight_decay=settings.weight_decay, seed=seed, patience=None,
          progress=False, on_epoch_end=lambda epoch, loss: stamps.append(time.perf_counter()))


def _official_data(dataset: str) -> Path:
    from graphcl.data.cache import mirror_root

    name = OFFICIAL_DATASET.get(dataset)
    if name is None:
        raise SystemExit(f"meow: no official data layout for {dataset} (known: {', '.join(OFFICIAL_DATASET)})")
    root = mirror_root()
    folder = root / "MEOW" / name if root is not None else None
    if folder is None or not (folder / "pap.npz").exists():
        raise SystemExit(f"meow: the official side reads the mirror's MEOW/{name} folder; set GRAPHCL_MIRROR")
    return folder


def run_official(code: Path, dataset: str, epochs: int, seed: int, stamps: list[float]) -> None:
    import faiss
    import torch

    name, folder = OFFICIAL_DATASET.get(dataset), _official_data(dataset)
    faiss.omp_set_num_threads(torch.get_num_threads())
    work = Path(tempfile.mkdtemp(prefix="graphcl-official-meow-"))
    (work / "data").mkdir()
    (work / "data" / name).symlink_to(folder, target_is_directory=True)  # main.py reads ../data/<name>/
    (work / "run" / "embeds" / name).mkdir(parents=True)  # and writes ./embeds/<name>/<turn>.pkl
    sys.path.insert(0, str(code / "code_meow"))
    # utils/params.py reads the dataset from argv[1] at import; the loss patience is set past the run.
    sys.argv = ["main.py", name, "--seed", str(seed), "--nb_epochs", str(epochs), "--patience", str(epochs + 1)]
    cwd = os.getcwd()
    os.chdir(work / "run")
    try:
        with contextlib.redirect_stdout(sys.stderr):  # the official progress prints; stdout carries the JSON
            import main as their_main  # noqa: E402  (the official main.py: arguments and seeds at import)

            def stamp(*args, **kwargs):
                if args and args[0] in ("Epoch:", "Start to save embeds."):
                    stamps.append(time.perf_counter())
                builtins.print(*args, **kwargs)

            their_main.print = stamp
            their_main.run_kmeans = lambda *args, **kwargs: None  # k-means NMI / ARI of the embeddings
            their_main.evaluate = lambda *args, **kwargs: None  # the logistic-regression probes
            their_main.train()
    finally:
        os.chdir(cwd)
        shutil.rmtree(work)  # the link to the mirror's folder goes, not the folder
    del stamps[0]  # the official epochs are stamped at their start: setup is not an epoch
