"""The one training loop shared by every method."""
from __future__ import annotations

import copy
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch_geometric import seed_everything
from torch_geometric.data import Data, Dataset
from tqdm.auto import tqdm

from graphcl.errors import InvalidArgumentError
from graphcl.methods.base import Method
from graphcl.profiling import PeakMemory

log = logging.getLogger(__name__)


def _resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """``'cpu'``, ``'cuda'``, ``'cuda:1'``, ``'mps'`` or ``'auto'`` -> a usable ``torch.device``."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgumentError("--device cuda was asked for but no CUDA device is available; use --device cpu")
    return dev


def to_device(data: Data, device: str | torch.device) -> Data:
    """``data`` on ``device`` as a new object: PyG's ``Data.to`` moves the caller's object in place.
    A dataset (or list) of graphs stays where it is (graph-level methods move each mini-batch)."""
    if isinstance(data, (Dataset, list, tuple)):
        return data
    return copy.copy(data).to(_resolve_device(device))


@dataclass
class TrainResult:
    """What a training run produced besides the trained method."""
    losses: list[float] = field(default_factory=list)
    epochs: int = 0
    train_seconds: float = 0.0
    peak_memory_mb: float = 0.0
    stopped_early: bool = False
    resumed_from_epoch: int = 0


def train(method: Method, data: Data, *, epochs: int, lr: float, weight_decay: float = 0.0,
          device: str | torch.device = "cpu", seed: int | None = None, patience: int | None = None,
          min_delta: float = 0.0, checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 50,
          progress: bool = True, on_epoch_end: Callable[[int, float], None] | None = None) -> TrainResult:
    """Train ``method`` on ``data`` with Adam for ``epochs`` epochs: one full-batch step per epoch, or
    the :meth:`Method.start_epoch` mini-batch steps of a mini-batch method (the epoch's loss is
    their mean).

    Args:
        method: a registered :class:`~graphcl.methods.Method`.
        data: the graph; moved to ``device`` for training.
        epochs: number of epochs.
        lr, weight_decay: Adam settings.
        device: where to train (CPU by default).
        seed: seeds Python, NumPy and torch before the model is (re)initialised.
        patience: stop when the training loss has not improved by ``min_delta`` for this many epochs
            (early stopping on the training loss only, never on labels); ``None`` disables it.
            Training also stops when :meth:`Method.converged` says so (e.g. deep clustering's
            ``stop_tol``).
        checkpoint: path of a checkpoint file; if it exists the run resumes from it, and it is
            rewritten every ``checkpoint_every`` epochs and at the end.
        progress: show a tqdm progress bar with the loss.
        on_epoch_end: called as ``on_epoch_end(epoch, loss)`` after every epoch (e.g. for logging, or
            validation); a true return value stops training (e.g. early stopping on validation data).

    Returns:
        A :class:`TrainResult`; the method is trained in place.
    """
    if epochs < 0:
        raise InvalidArgumentError(f"epochs must be >= 0, got {epochs}")
    dev = _resolve_device(device)
    if seed is not None:
        seed_everything(seed)
        for module in method.modules():
            if module is not method and hasattr(module, "reset_parameters"):
                module.reset_parameters()
    method.to(dev)
    data = to_device(data, dev)
    method.setup(data)
    optimizer = torch.optim.Adam(method.parameters(), lr=lr, weight_decay=weight_decay)
    result = TrainResult()
    best, since_best = math.inf, 0
    start_epoch = 0
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.exists():
        state = torch.load(path, map_location=dev, weights_only=False)
        method.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        result.losses = state["losses"]
        start_epoch = result.resumed_from_epoch = state["epoch"]
        best, since_best = state.get("best", math.inf), state.get("since_best", 0)
        torch.set_rng_state(state["rng"])
        log.info("resumed from %s at epoch %d", path, start_epoch)

    def save(epoch: int) -> None:
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        torch.save({"model": method.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                    "losses": result.losses, "best": best, "since_best": since_best,
                    "rng": torch.get_rng_state()}, tmp)
        os.replace(tmp, path)

    method.train()
    bar = tqdm(range(start_epoch, epochs), desc=f"{method.name or type(method).__name__}", disable=not progress,
               initial=start_epoch, total=epochs, dynamic_ncols=True)
    t0 = time.perf_counter()
    completed = start_epoch
    with PeakMemory(dev) as mem:
        for epoch in bar:
            steps, total = method.start_epoch(data), 0.0
            for _ in range(steps):
                optimizer.zero_grad(set_to_none=True)
                loss = method.loss(data)
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"the loss became {loss.item()} at epoch {epoch + 1}; lower the learning rate or raise the "
                        "temperature, and check the features for extreme values")
                loss.backward()
                optimizer.step()
                total += float(loss.detach())
            value = total / steps
            completed = epoch + 1
            result.losses.append(value)
            bar.set_postfix(loss=f"{value:.4f}")
            if on_epoch_end is not None and on_epoch_end(completed, value):
                result.stopped_early = True
                log.info("stopped at epoch %d by the caller (on_epoch_end)", completed)
                break
            if value < best - min_delta:
                best, since_best = value, 0
            else:
                since_best += 1
            if completed % checkpoint_every == 0:
                save(completed)
            if patience is not None and since_best >= patience:
                result.stopped_early = True
                log.info("early stop at epoch %d: no loss improvement for %d epochs", completed, patience)
                break
            if method.converged():
                result.stopped_early = True
                log.info("stopped at epoch %d: the method reports convergence", completed)
                break
    bar.close()
    result.epochs = completed
    result.train_seconds = time.perf_counter() - t0
    result.peak_memory_mb = mem.peak_mb
    save(result.epochs)
    method.eval()
    return result
