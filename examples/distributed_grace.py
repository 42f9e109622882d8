"""Mini-batch GRACE trained by several processes with torch.distributed (launch it with torchrun).

    torchrun --standalone --nproc-per-node 2 examples/distributed_grace.py --dataset cora --epochs 20
    torchrun --standalone --nproc-per-node 4 examples/distributed_grace.py --dataset coauthor-cs --device cuda
    # two machines, 4 GPUs each (run on both; HOST is the first machine):
    torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\
        examples/distributed_grace.py --dataset coauthor-physics --device cuda

Every process joins the group torchrun describes (``gloo`` on CPU, ``nccl`` on GPUs,
:func:`graphcl.distributed.init_from_env`), takes its share of the seed nodes, samples their
neighbourhoods, and contrasts its seeds' projections against the seeds of every process (the loss
gathers them with their gradients); the gradients are averaged over the processes after each
step, so every process holds the same weights. Process 0 then embeds every node layer by layer
and scores the embeddings with a linear probe. Without torchrun it trains in one process.
"""
import argparse

import torch

from graphcl.data import load_dataset
from graphcl.distributed import init_from_env, rank, world_size
from graphcl.eval import node_classification
from graphcl.methods import build_method
from graphcl.train import train


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cora", help="a registered name or a path to your own graph")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=512, help="seed nodes per step and process")
    parser.add_argument("--num-neighbors", type=int, nargs="+", default=[10, 10], help="fan-out per layer")
    parser.add_argument("--out-channels", type=int, default=128)
    parser.add_argument("--tau", type=float, default=0.4)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (each process takes cuda:LOCAL_RANK)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    init_from_env()
    device = torch.device(f"cuda:{torch.cuda.current_device()}") if args.device == "cuda" else torch.device("cpu")
    data = load_dataset(args.dataset)
    model = build_method("grace", data.num_features, out_channels=args.out_channels,
                         projection_channels=args.out_channels, tau=args.tau, batch_size=args.batch_size,
                         num_neighbors=args.num_neighbors)
    result = train(model, data, epochs=args.epochs, lr=args.lr, weight_decay=1e-5, device=device, seed=args.seed,
                   progress=rank() == 0)
    if rank() != 0:
        return None
    split = "public" if data.get("train_mask") is not None else "random"
    metrics = node_classification(model.embed(data.to(device)).cpu(), data.cpu(), split=split, seed=args.seed)
    print(f"{world_size()} processes: test accuracy {metrics['accuracy']:.4f} ({split} split), final loss "
          f"{result.losses[-1]:.4f}, {result.train_seconds:.1f} s, peak memory {result.peak_memory_mb:.0f} MiB")
    return metrics


if __name__ == "__main__":
    try:
        main()
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
