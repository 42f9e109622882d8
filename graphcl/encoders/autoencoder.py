r"""SDCN's fully connected autoencoder and its reconstruction pretraining (SCGC, SCGC*, PamC).

Bo et al., "Structural Deep Clustering Network" (WWW 2020): encoder ``in -> 500 -> 500 -> 2000 -> n_z``
and the mirrored decoder, ReLU after every hidden layer, none on ``z`` or on the reconstruction;
pretrained by mean-squared reconstruction error with Adam (lr 1e-3, 30 epochs, batch 256).
Deep clustering methods start from the pretrained weights and initialise cluster centres by
k-means on the pretrained embeddings. Pretrained weights are cached per features, configuration
and seed under ``<cache root>/pretrained/`` (:func:`graphcl.data.cached_file`).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint
from tqdm.auto import tqdm

from graphcl.checks import check_features
from graphcl.data import atomic_save, cache_key, cached_file
from graphcl.encoders.propagation import SparseInput
from graphcl.errors import InvalidArgumentError

__all__ = ["SDCNAutoencoder", "pretrain_autoencoder", "pretrained_autoencoder"]

log = logging.getLogger(__name__)


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers of the given sizes with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU(inplace=True))  # on the linear layer's own output: nothing else reads it
    return nn.Sequential(*layers)


class SDCNAutoencoder(nn.Module):
    r"""SDCN's autoencoder: ``x [N, F] -> z [N, n_z] -> x_hat [N, F]``.

    Args:
        in_channels: feature size ``F``.
        out_channels: ``n_z`` (10 in SDCN / SCGC / PamC).
        hidden_channels: encoder hidden layer sizes (``(500, 500, 2000)``); the decoder mirrors them.
        decoder: build the decoder (SCGC keeps it and adds the reconstruction loss; SCGC* and
            PamC use the encoder only).
        checkpoint_rows: when set and gradients are on, run the encoder and decoder on blocks of
            this many rows under activation checkpointing: only each block's input is kept for
            the backward pass, which recomputes the block's hidden layers (one extra forward
            pass). Every layer acts on a row alone, so the result is unchanged; the hidden
            activations held at once shrink from ``N x (500 + 500 + 2000)`` floats per pass
            to one block's. ``None``: plain forward pass.
    """

    def __init__(self, in_channels: int, out_channels: int = 10,
                 hidden_channels: Sequence[int] = (500, 500, 2000), decoder: bool = True,
                 checkpoint_rows: int | None = None) -> None:
        super().__init__()
        if in_channels == 0:
            raise InvalidArgumentError("in_channels is 0: the node features have no columns; every node needs at "
                                       "least one feature (e.g. torch_geometric.transforms.OneHotDegree)")
        if in_channels < 1 or out_channels < 1 or any(h < 1 for h in hidden_channels):
            raise InvalidArgumentError(f"layer sizes must be positive, got {in_channels}, {list(hidden_channels)}, "
                                       f"{out_channels}")
        if checkpoint_rows is not None and checkpoint_rows < 1:
            raise InvalidArgumentError(f"checkpoint_rows must be a positive number of rows or None, "
                                       f"got {checkpoint_rows}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.hidden_channels = tuple(hidden_channels)
        self.checkpoint_rows = checkpoint_rows
        self._sparse_input = SparseInput()
        self.encoder = _mlp([in_channels, *hidden_channels, out_channels])
        self.decoder = _mlp([out_channels, *reversed(hidden_channels), in_channels]) if decoder else None

    def reset_parameters(self) -> None:
        for layer in self.modules():
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()

    def _rowwise(self, layers: nn.Module, x: Tensor) -> Tensor:
        if self.checkpoint_rows is None or not torch.is_grad_enabled():
            return layers(x)
        return torch.cat([checkpoint(layers, block, use_reentrant=False)
                          for block in x.split(self.checkpoint_rows)])

    def encode(self, x: Tensor) -> Tensor:
        if self.checkpoint_rows is None or not torch.is_grad_enabled():  # sparse features: a sparse first layer
            first, *rest = self.encoder
            return nn.Sequential(*rest)(self._sparse_input.linear(first, x))
        return self._rowwise(self.encoder, x)

    def forward(self, x: Tensor) -> tuple[Tensor | None, Tensor]:
        """``(x_hat, z)``; ``x_hat`` is ``None`` without a decoder."""
        z = self.encode(x)
        return (self._rowwise(self.decoder, z) if self.decoder is not None else None), z


def pretrain_autoencoder(model: SDCNAutoencoder, x: Tensor, *, epochs: int = 30, batch_size: int = 256,
                         lr: float = 1e-3, seed: int = 0, progress: bool = False) -> list[float]:
    r"""Train ``model`` (with its decoder) to reconstruct ``x``: mini-batch Adam on :math:`\lVert \hat x - x\rVert^2`.

    Shuffling and initialisation come from ``seed`` through a private generator state, so the
    caller's random stream is unchanged. Returns the mean reconstruction loss of every epoch.
    """
    if model.decoder is None:
        raise InvalidArgumentError("pretraining needs the decoder; build SDCNAutoencoder(..., decoder=True)")
    check_features(x)
    devices = [x.device] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        model.reset_parameters()
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        generator = torch.Generator().manual_seed(seed)
        losses = []
        model.train()
        for _ in tqdm(range(epochs), desc="pretrain autoencoder", disable=not progress):
            order = torch.randperm(x.size(0), generator=generator).to(x.device)
            total = 0.0
            for start in range(0, x.size(0), batch_size):
                batch = x[order[start:start + batch_size]]
                x_hat, _ = model(batch)
                loss = F.mse_loss(x_hat, batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * batch.size(0)
            losses.append(total / x.size(0))
    return losses


def pretrained_autoencoder(x: Tensor, *, seed: int, out_channels: int = 10,
                           hidden_channels: Sequence[int] = (500, 500, 2000), epochs: int = 30,
                           batch_size: int = 256, lr: float = 1e-3, cache_dir: str | os.PathLike | None = None,
                           progress: bool = False) -> tuple[SDCNAutoencoder, list[float] | None]:
    """An autoencoder pretrained on ``x`` with ``seed``, loaded from the cache when it was trained before.

    The cache file name holds :func:`graphcl.data.cache_key` of ``x`` (shape and values) and every
    setting, so a changed dataset or configuration never loads stale weights. ``cache_dir``
    defaults to ``<cache root>/pretrained`` (:func:`graphcl.data.cached_file`).

    Returns:
        ``(model, losses)``: ``losses`` is the per-epoch reconstruction loss, ``None`` when loaded.
    """
    name = (f"sdcn-ae-{cache_key(x)}-z{out_channels}-h{'x'.join(map(str, hidden_channels))}"
            f"-e{epochs}-b{batch_size}-lr{lr:g}-seed{seed}.pt")
    path = Path(cache_dir) / name if cache_dir is not None else cached_file("pretrained", name)
    model = SDCNAutoencoder(x.size(1), out_channels, hidden_channels, decoder=True).to(x.device)
    if path.exists():
        model.load_state_dict(torch.load(path, map_location=x.device, weights_only=True))
        log.info("loaded pretrained autoencoder %s", path)
        return model, None
    losses = pretrain_autoencoder(model, x, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                                  progress=progress)
    atomic_save(model.state_dict(), path)  # concurrent runs may pretrain the same key
    log.info("pretrained autoencoder saved to %s (final reconstruction loss %.5f)", path, losses[-1])
    return model, losses
