"""Clustering suite (same as ``graphcl bench clustering``): methods x datasets x seeds, final vs oracle.

    python benchmarks/clustering.py                                   # everything, 10 seeds
    python benchmarks/clustering.py --methods scgc-star pamc --datasets acm cite --seeds 3
    python benchmarks/clustering.py --quick                           # ~1 minute smoke run

Writes benchmarks/results/clustering.{md,csv}, clustering_tsne.png and records/clustering-*.json.
"""
import argparse
import sys
from pathlib import Path

from graphcl.bench import clustering

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    clustering.add_arguments(parser)
    parser.set_defaults(out=str(Path(__file__).resolve().parent / "results"))
    sys.exit(clustering.main(parser.parse_args()))
