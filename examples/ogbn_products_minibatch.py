"""Mini-batch GRACE on ogbn-products (2.4 M nodes, 62 M edges) with neighbour sampling.

    python examples/ogbn_products_minibatch.py --epochs 5 --device cuda
    python examples/ogbn_products_minibatch.py --root /data/ogb --batch-size 2048 --num-neighbors 10 5

Each step trains on the sampled computation graphs of ``--batch-size`` seed nodes (``--num-neighbors``
per layer; PyG's NeighborLoader where pyg-lib / torch-sparse is installed, else graphcl's sampler),
contrasting the seeds' two augmented views. The embeddings of every node are then computed layer by
layer (:meth:`graphcl.encoders.GNNEncoder.inference`) and scored by a linear probe on OGB's
sales-ranking split (test accuracy at the best validation accuracy). The dataset comes through
``ogb`` (downloaded on first use, about 1.4 GB).
"""
import argparse

from graphcl.data import load_dataset
from graphcl.eval import node_classification
from graphcl.methods import build_method
from graphcl.train import train


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="folder holding ogbn_products/ (default: the graphcl cache)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=1024, help="seed nodes per step")
    parser.add_argument("--num-neighbors", type=int, nargs="+", default=[10, 10], help="fan-out per layer")
    parser.add_argument("--num-workers", type=int, default=0, help="sampling processes (PyG's loader)")
    parser.add_argument("--out-channels", type=int, default=256)
    parser.add_argument("--tau", type=float, default=0.5)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-check-stats", action="store_true",
                        help="skip the catalogue's statistics check (for a custom copy in OGB format)")
    args = parser.parse_args(argv)

    data = load_dataset("ogbn-products", root=args.root, check_stats=not args.no_check_stats)
    print(f"ogbn-products: {data.num_nodes:,} nodes, {data.num_edges:,} edges, {data.num_features} features")
    model = build_method("grace", data.num_features, out_channels=args.out_channels,
                         projection_channels=args.out_channels, tau=args.tau, drop_edge_1=0.2, drop_edge_2=0.3,
                         drop_feature_1=0.1, drop_feature_2=0.2, batch_size=args.batch_size,
                         num_neighbors=args.num_neighbors, num_workers=args.num_workers)
    result = train(model, data, epochs=args.epochs, lr=args.lr, weight_decay=1e-5, device=args.device,
                   seed=args.seed)
    metrics = node_classification(model.embed(data.to(args.device)).cpu(), data.cpu(), split="public",
                                  seed=args.seed)
    print(f"test accuracy {metrics['accuracy']:.4f} (validation {metrics['val_accuracy']:.4f}); "
          f"{result.train_seconds:.0f} s, peak memory {result.peak_memory_mb:.0f} MiB")
    return metrics


if __name__ == "__main__":
    main()
