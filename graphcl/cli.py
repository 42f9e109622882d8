"""The ``graphcl`` command: ``graphcl train METHOD --dataset NAME ...``, ``graphcl bench SUITE``,
``graphcl datasets``."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from typing import Sequence

from graphcl.configs import config_names, parse_override
from graphcl.errors import GraphclError, InvalidArgumentError


def _launch(nproc: int) -> int:
    """``graphcl train ... --nproc K``: the same command in K processes under torchrun."""
    import subprocess

    if nproc < 1:
        raise InvalidArgumentError(f"--nproc must be >= 1, got {nproc}")
    argv = sys.argv[1:]
    index = argv.index("--nproc")
    argv = argv[:index] + argv[index + 2:]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               "-m", "graphcl", *argv]
    return subprocess.run(command).returncode


def _train(args: argparse.Namespace) -> int:
    if args.nproc and args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _launch(args.nproc)
    from graphcl.data import load_dataset
    from graphcl.distributed import init_from_env, rank
    from graphcl.methods import get_method_class
    from graphcl.records import ORACLE_FLAG, Table, write_records
    from graphcl.runner import run
    from graphcl.tasks import get_task

    init_from_env()
    data = load_dataset(args.dataset)
    overrides = dict(parse_override(s) for s in args.set)
    task = get_task(get_method_class(args.method).task)
    evals = args.eval if args.eval is not None else task.default_evals
    records = run(args.method, data, seeds=args.seeds, epochs=args.epochs, evals=evals if rank() == 0 else ["none"],
                  split=args.split, device=args.device, overrides=overrides, patience=args.patience,
                  checkpoint_dir=args.checkpoint_dir, resume=args.resume, auto=args.auto,
                  progress=not args.quiet and rank() == 0)
    if rank() != 0:  # rank 0 evaluates and reports
        return 0
    metrics = task.table_metrics(evals, records[0].metrics) + ["train_seconds", "peak_memory_mb"]
    table = Table(["run", "seeds", *metrics])
    table.add(run=task.describe(args.method, records[0].dataset, records[0].config, evals), seeds=len(records), **{m: (m, records) for m in metrics})
    print()
    print(table.markdown())
    if any(m.startswith("q_") for m in metrics):
        print("\nacc/nmi/ari/f1: k-means on the embeddings; q_*: the method's own clusters (argmax of Q)")
    if any(m.startswith("oracle_") for m in metrics):
        print(f"oracle_*: {ORACLE_FLAG} (the papers' protocol, for comparison only)")
    print("\nmean ± std over seeds; scores in %, train_seconds in s, peak_memory_mb in MiB "
          f"({'process RSS' if args.device == 'cpu' else 'device allocations'})")
    if args.out:
        write_records(records, args.out)
        print(f"records written to {args.out}")
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from graphcl.data import list_datasets

    rows = list_datasets()
    print(f"{'name':24} {'available':14} {'nodes':>9} {'edges':>10} {'features':>9} {'classes':>8}")
    for info in rows:
        print(f"{info.name:24} {info.available_locally:14} {_fmt(info.num_nodes):>9} {_fmt(info.num_edges):>10} "
              f"{_fmt(info.num_features):>9} {_fmt(info.num_classes):>8}")
    print("\nA path to a folder or file (edge list + features + labels, SDCN, .npy/.zip, .pt) works "
          "wherever a dataset name does.")
    return 0


def _fmt(v: int | None) -> str:
    return "?" if v is None else f"{v:,}"


def build_parser(method_names: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command line; ``method_names``: the registered methods (default: the built-in ones, listed
    from their configs so that ``--help`` starts without importing torch)."""
    parser = argparse.ArgumentParser(prog="graphcl", description="Graph contrastive learning on PyG.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("--plugin", action="append", default=[], metavar="FILE_OR_MODULE",
                        help="import a .py file or module that registers methods (repeatable)")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a method on a dataset and print its evaluation table")
    t.add_argument("method", choices=method_names or config_names())
    t.add_argument("--dataset", required=True, help="registered name (see `graphcl datasets`) or a path")
    t.add_argument("--seeds", type=int, nargs="+", default=[0])
    t.add_argument("--epochs", type=int, help="override the config's number of epochs")
    t.add_argument("--eval", nargs="+", metavar="EVAL",
                   help="evaluations of the method's task (default: the task's own): node, cluster, oracle, "
                        "stopped (deep clustering), graph (TU protocol), rank (recommenders), none")
    t.add_argument("--split", choices=["public", "random"], help="node classification split (default: config)")
    t.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    t.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override config entries")
    t.add_argument("--patience", type=int, help="early stopping on the training loss")
    t.add_argument("--checkpoint-dir", help="save / resume checkpoints in this folder")
    t.add_argument("--resume", choices=["auto", "force", "fresh"], default="auto",
                   help="with --checkpoint-dir: auto (default) resumes a checkpoint of the same settings and data "
                        "and refuses any other; force loads it anyway; fresh retrains and overwrites it")
    t.add_argument("--auto", action=argparse.BooleanOptionalAction, default=None,
                   help="choose the settings label-free from the config's auto: grid (default: only on datasets "
                        "without a section in the method's config; --auto: always, ignoring the section)")
    t.add_argument("--out", help="write the per-seed records to this JSON file")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--nproc", type=int, help="train in this many processes (torch.distributed through torchrun; "
                   "mini-batch methods split the seed nodes across them)")
    t.set_defaults(func=_train)

    b = sub.add_parser("bench", help="run a benchmark suite and write its tables")
    suites = b.add_subparsers(dest="suite", required=True)
    from graphcl.bench import clustering
    c = suites.add_parser("clustering", help="clustering ACC/NMI/ARI/F1, final vs oracle epoch selection",
                          description=clustering.__doc__.splitlines()[0])
    clustering.add_arguments(c)
    c.set_defaults(func=clustering.main)
    from graphcl.bench import hetero
    h = suites.add_parser("hetero", help="MEOW / AdaMEOW on the HeCo datasets: Macro/Micro-F1, AUC, NMI, ARI",
                          description=hetero.__doc__.splitlines()[0])
    hetero.add_arguments(h)
    h.set_defaults(func=hetero.main)

    from graphcl.bench import graph
    g = suites.add_parser("graph", help="GraphCL vs an untrained GIN on TU datasets: 10-fold SVM / LogReg accuracy",
                          description=graph.__doc__.splitlines()[0])
    graph.add_arguments(g)
    g.set_defaults(func=graph.main)
    from graphcl.bench import node
    n = suites.add_parser("node", help="node methods x Planetoid / Amazon / Coauthor: probe accuracy and k-means "
                          "ACC / NMI of the same embeddings", description=node.__doc__.splitlines()[0])
    node.add_arguments(n)
    n.set_defaults(func=node.main)
    from graphcl.bench import rec
    r = suites.add_parser("rec", help="LightGCN / LightGCL on Gowalla: full-ranking Recall / NDCG @20 / @40",
                          description=rec.__doc__.splitlines()[0])
    rec.add_arguments(r)
    r.set_defaults(func=rec.main)

    d = sub.add_parser("datasets", help="list registered datasets and whether they are available locally")
    d.set_defaults(func=_datasets)
    return parser


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings on the command line: one line, no Python source."""
    return f"graphcl: warning: {message}\n"


def _load_plugins(argv: Sequence[str]) -> list[str] | None:
    """Import the ``--plugin`` modules before the parser lists the registered methods; their names
    with the built-in ones (``None`` without plugins)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--plugin", action="append", default=[])
    known, _ = pre.parse_known_args(argv)
    if not known.plugin:
        return None
    from graphcl.methods import load_plugin, method_names

    for source in known.plugin:
        load_plugin(source)
    return method_names()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        names = _load_plugins(argv)
    except GraphclError as err:
        print(f"graphcl: error: {err}", file=sys.stderr)
        return 2
    parser = build_parser(names)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    formatwarning, warnings.formatwarning = warnings.formatwarning, _one_line_warning
    try:
        return args.func(args)
    except GraphclError as err:
        print(f"graphcl: error: {err}", file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = formatwarning


if __name__ == "__main__":
    sys.exit(main())
