r"""SDCN's fully connected autoencoder and its reconstruction pretraining (SCGC, SCGC*, PamC).

Bo et al., "Structural Deep Clustering Network" (WWW 2020): encoder ``in -> 500 -> 500 -> 2000 -> n_z``
and the mirrored decoder, ReLU after every hidden layer, none on ``z`` or on the reconstruction;
pretrained by mean-squared reconstruction error with Adam (lr 1e-3, 30 epochs, batch 256).
Deep clustering methods start from the pretrained weights and initialise cluster centres by
k-means on the pretrained embeddings. Pretrained weights are cached per dataset, configuration
and seed under ``$GRAPHCL_DATA/pretrained/``.
"""
from __future__ import annotations

import hashlib
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
from graphcl.errors import InvalidArgumentError

log = logging.getLogger(__name__)


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers of the given sizes with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class SDCNAutoencoder(nn.Module):
    r"""SDCN's autoencoder: ``x [N, F] -> z [N, n_z] -> x_hat [N, F]``.

    Args:
        in_channels: feature size ``F``.
        embedding_dim: ``n_z`` (10 in SDCN / SCGC / PamC).
        hidden: encoder layer sizes (``(500, 500, 2000)``); the decoder mirrors them.
        decoder: build the decoder (SCGC keeps it and adds the reconstruction loss; SCGC* and
            PamC use the encoder only).
        checkpoint_rows: when set and gradients are on, run the encoder and decoder on blocks of
            this many rows under activation checkpointing: only each block's input is kept for
            the backward pass, which recomputes the block's hidden layers (one extra forward
            pass). Every layer acts on a row alone, so the result is unchanged; the hidden
            activations held at once shrink from ``N x (500 + 500 + 2000)`` floats per pass
            to one block's. ``None``: plain forward pass.
    """

    def __init__(self, in_channels: int, embedding_dim: int = 10, hidden: Sequence[int] = (500, 500, 2000),
                 decoder: bool = True, checkpoint_rows: int | None = None) -> None:
        super().__init__()
        if in_channels < 1 or embedding_dim < 1 or any(h < 1 for h in hidden):
            raise InvalidArgumentError(f"layer sizes must be positive, got {in_channels}, {list(hidden)}, "
                                       f"{embedding_dim}")
        if checkpoint_rows is not None and checkpoint_rows < 1:
            raise InvalidArgumentError(f"checkpoint_rows must be a positive number of rows or None, "
                                       f"got {checkpoint_rows}")
        self.in_channels, self.embedding_dim, self.hidden = in_channels, embedding_dim, tuple(hidden)
        self.checkpoint_rows = checkpoint_rows
        self.encoder = _mlp([in_channels, *hidden, embedding_dim])
        self.decoder = _mlp([embedding_dim, *reversed(hidden), in_channels]) if decoder else None

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


def feature_fingerprint(x: Tensor) -> str:
    """A short hash of a feature matrix (shape and values), to key cached pretrained weights."""
    digest = hashlib.sha1(str(tuple(x.shape)).encode())
    digest.update(x.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def pretrained_autoencoder(x: Tensor, *, seed: int, embedding_dim: int = 10,
                           hidden: Sequence[int] = (500, 500, 2000), epochs: int = 30, batch_size: int = 256,
                           lr: float = 1e-3, cache_dir: str | os.PathLike | None = None,
                           progress: bool = False) -> tuple[SDCNAutoencoder, list[float] | None]:
    """An autoencoder pretrained on ``x`` with ``seed``, loaded from the cache when it was trained before.

    The cache file name holds a fingerprint of ``x`` and every setting, so a changed dataset or
    configuration never loads stale weights. ``cache_dir`` defaults to ``<GRAPHCL_DATA>/pretrained``.

    Returns:
        ``(model, losses)``: ``losses`` is the per-epoch reconstruction loss, ``None`` when loaded.
    """
    if cache_dir is None:
        from graphcl.data.cache import cache_root
        cache_dir = cache_root() / "pretrained"
    key = (f"sdcn-ae-{feature_fingerprint(x)}-z{embedding_dim}-h{'x'.join(map(str, hidden))}"
           f"-e{epochs}-b{batch_size}-lr{lr:g}-seed{seed}.pt")
    path = Path(cache_dir) / key
    model = SDCNAutoencoder(x.size(1), embedding_dim, hidden, decoder=True).to(x.device)
    if path.exists():
        model.load_state_dict(torch.load(path, map_location=x.device, weights_only=True))
        log.info("loaded pretrained autoencoder %s", path)
        return model, None
    losses = pretrain_autoencoder(model, x, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                                  progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # concurrent runs may pretrain the same key
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, path)
    log.info("pretrained autoencoder saved to %s (final reconstruction loss %.5f)", path, losses[-1])
    return model, losses
