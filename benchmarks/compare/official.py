"""The official implementations, prepared for a side-by-side run: exported from a fetched snapshot
into a folder outside the repository and patched minimally for the CPU where needed
(``patches/<name>.diff``; GRACE needs none: side.py imports its model.py and the step of its train.py;
GCA's only makes its import of ``nni``, a hyper-parameter search service, optional).

The code itself is never committed. A snapshot is a git directory such as the library's
``fetch github:CRIPAC-DIG/GRACE`` gives (``/work/.mirror/CRIPAC-DIG+GRACE/repo``); pass its folder
with ``--official-root`` or set ``GRAPHCL_OFFICIAL_ROOT`` (default: ``../.mirror`` beside the checkout).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
#: name -> (GitHub repository, the patch applied after export or None, the folders exported: all if empty)
OFFICIAL: dict[str, tuple[str, Path | None, tuple[str, ...]]] = {
    "GRACE": ("CRIPAC-DIG/GRACE", None, ()),
    "GCA": ("CRIPAC-DIG/GCA", HERE / "patches" / "GCA.diff", ()),
    # the snapshot lacks its large model files; the patch lets unsupervised_TU/aug.py run on PyG 2.x / torch >= 2.6
    "GraphCL": ("Shen-Lab/GraphCL", HERE / "patches" / "GraphCL.diff", ("unsupervised_TU",)),
    "LightGCL": ("HKUDS/LightGCL", None, ("model.py", "utils.py")),  # its data archives are not needed
    "PAMC": ("gayanku/PAMC", None, ()),
    "SCGC": ("gayanku/SCGC", None, ()),
    "MEOW": ("jianxiangyu/MEOW", HERE / "patches" / "MEOW.diff", ("code_meow",)),  # data: the mirror's MEOW/
    "BGRL": ("nerdslab/bgrl", None, ("bgrl",)),  # its package only: the model, predictor, transforms, schedule
    "GraphMAE": ("THUDM/GraphMAE", None, ("graphmae", "configs.yml")),  # DGL-based: graphmae_side.py
}
#: graphcl method -> the official implementation's name above.
METHOD = {"grace": "GRACE", "gca": "GCA", "lightgcl": "LightGCL", "pamc": "PAMC", "scgc-star": "SCGC",
          "meow": "MEOW", "graphcl": "GraphCL"}


def snapshot_root(root: str | os.PathLike | None = None) -> Path:
    return Path(root or os.environ.get("GRAPHCL_OFFICIAL_ROOT") or HERE.parents[2] / ".mirror")


def prepare(name: str, root: str | os.PathLike | None = None, work: str | os.PathLike | None = None) -> Path:
    """The folder holding the patched official code of ``name`` (exported once, then reused)."""
    repo, patch, folders = OFFICIAL[name]
    git_dir = snapshot_root(root) / repo.replace("/", "+") / "repo"
    if not git_dir.exists():
        raise SystemExit(f"no snapshot of {repo} at {git_dir}: fetch github:{repo} first, or pass --official-root")
    out = Path(work or Path.home() / ".cache" / "graphcl" / "official") / name
    stamp = out / ".patched"
    if stamp.exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "--git-dir", str(git_dir), "archive", "HEAD", *folders], check=True,
                             capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
    if patch is not None:
        subprocess.run(["patch", "-p1", "-d", str(out), "-i", str(patch)], check=True, capture_output=True)
    stamp.write_text(repo)
    return out


def seeds_main(name: str, description: str, run: Callable[[Path, str, int, int | None], dict],
               epochs_help: str) -> None:
    """The command line of a ``*_side.py`` script: prepare ``name``'s official code, then for each seed
    ``run(code, dataset, seed, epochs)`` and append its JSON row to ``runs/compare/<name>-<dataset>.jsonl``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--dataset", default="cora")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, help=epochs_help)
    parser.add_argument("--official-root", help=f"folder holding {OFFICIAL[name][0].replace('/', '+')}/repo "
                                                "(default: the fetch mirror)")
    args = parser.parse_args()
    code = prepare(name, args.official_root)
    out = Path("runs/compare") / f"{name.lower()}-{args.dataset}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        row = run(code, args.dataset, seed, args.epochs)
        print(json.dumps(row), flush=True)
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")
