"""GRACE on ogbn-arxiv (169k nodes): the chunked loss keeps memory at O(chunk x N).

    python examples/ogbn_arxiv_grace.py --epochs 100 --device cuda
    python examples/ogbn_arxiv_grace.py --root /data/ogb      # OGB's folder layout under --root
    python examples/ogbn_arxiv_grace.py --batch-size 2048      # mini-batches of sampled subgraphs

The dataset comes through ``ogb`` (downloaded on first use). Node classification uses OGB's
official time split (train / valid / test masks) with a linear probe: test accuracy at the best
validation accuracy.
"""
import argparse

from graphcl.data import load_dataset
from graphcl.eval import node_classification
from graphcl.methods import build_method
from graphcl.train import train


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="folder holding ogbn_arxiv/ (default: the graphcl cache)")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--out-channels", type=int, default=256)
    parser.add_argument("--tau", type=float, default=0.5)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--chunk-size", type=int, help="anchors per loss chunk (default: automatic)")
    parser.add_argument("--batch-size", type=int, help="seed nodes per mini-batch (default: full-batch training)")
    parser.add_argument("--num-neighbors", type=int, nargs="+", default=[10, 10],
                        help="fan-out per layer with --batch-size")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-check-stats", action="store_true",
                        help="skip the catalogue's statistics check (for a custom copy in OGB format)")
    args = parser.parse_args(argv)

    data = load_dataset("ogbn-arxiv", root=args.root, check_stats=not args.no_check_stats)
    print(f"ogbn-arxiv: {data.num_nodes:,} nodes, {data.num_edges:,} edges, {data.num_features} features")
    model = build_method("grace", data.num_features, out_channels=args.out_channels,
                         projection_channels=args.out_channels, tau=args.tau, drop_edge_1=0.2, drop_edge_2=0.3,
                         drop_feature_1=0.1, drop_feature_2=0.2, chunk_size=args.chunk_size,
                         batch_size=args.batch_size, num_neighbors=args.num_neighbors if args.batch_size else None)
    result = train(model, data, epochs=args.epochs, lr=args.lr, weight_decay=1e-5, device=args.device,
                   seed=args.seed)
    metrics = node_classification(model.embed(data.to(args.device)).cpu(), data.cpu(), split="public",
                                  seed=args.seed)
    print(f"test accuracy {metrics['accuracy']:.4f} (validation {metrics['val_accuracy']:.4f}); "
          f"{result.train_seconds:.0f} s, peak memory {result.peak_memory_mb:.0f} MiB")
    return metrics


if __name__ == "__main__":
    main()
