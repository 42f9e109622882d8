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

from graphcl.distributed import average_gradients, gather_objects, rank, world_size
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
    #: The epoch a checkpoint resumed from (0: trained from scratch); ``train_seconds`` then counts
    #: the training before the checkpoint too.
    resumed_from_epoch: int = 0
    #: With ``restore_best``: the epoch whose weights were restored (the lowest training loss).
    restored_epoch: int | None = None


#: ``train(resume=...)``: what an existing checkpoint file is used for.
RESUME_MODES = ("auto", "force", "fresh")


def _changes(saved: dict | None, current: dict | None) -> str:
    """``key a -> b`` for every entry that differs between two training descriptions."""
    saved, current = saved or {}, current or {}
    keys = sorted(set(saved) | set(current), key=str)
    diffs = [f"{k} {saved.get(k, '(unset)')!r} -> {current.get(k, '(unset)')!r}" for k in keys
             if saved.get(k) != current.get(k)]
    return ", ".join(diffs[:6]) + (f" and {len(diffs) - 6} more" if len(diffs) > 6 else "") if diffs else "unknown"


def _load_checkpoint(path: Path, device: torch.device, identity: dict | None, epochs: int, resume: str) -> dict | None:
    """The checkpoint's state when it may be resumed, ``None`` to start fresh; a checkpoint made under other
    settings or data, or with more epochs than asked for, is refused unless ``resume='force'``."""
    if resume == "fresh" or not path.exists():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as error:  # a truncated or foreign file: say which and what to do
        raise InvalidArgumentError(f"checkpoint {path} cannot be read ({type(error).__name__}); delete it or use "
                                   "--resume fresh") from None
    if not isinstance(state, dict) or "model" not in state:
        raise InvalidArgumentError(f"{path} is not a graphcl checkpoint; delete it or use --resume fresh")
    if resume == "force":
        return state
    if identity is not None and state.get("identity") != identity:
        raise InvalidArgumentError(f"checkpoint {path} was trained under other settings or data (changed: "
                                   f"{_changes(state.get('identity'), identity)}); use another --checkpoint-dir, "
                                   "--resume fresh to retrain, or --resume force to load it anyway")
    if state.get("world_size", 1) != world_size():
        raise InvalidArgumentError(f"checkpoint {path} was trained by {state.get('world_size', 1)} processes, this run has "
                                   f"{world_size()}; resume with --nproc {state.get('world_size', 1)}, or --resume fresh")
    if state["epoch"] > epochs:
        raise InvalidArgumentError(f"checkpoint {path} holds {state['epoch']} epochs, more than the {epochs} asked "
                                   f"for; ask for --epochs {state['epoch']} or more, or --resume fresh")
    return state


def learning_rate_factor(epoch: int, epochs: int, schedule: str, warmup_epochs: int) -> float:
    r"""The multiple of the base learning rate in ``epoch`` (0-based) of ``epochs``: 1 for
    ``'constant'``; for ``'cosine'`` (BGRL, G-BT) :math:`e / W` during the ``W`` warm-up epochs, then
    :math:`\frac12 \big(1 + \cos(\pi \frac{e - W}{E - W})\big)`."""
    if schedule == "constant":
        return 1.0
    if epoch < warmup_epochs:
        return epoch / warmup_epochs
    span = max(epochs - warmup_epochs, 1)
    return 0.5 * (1.0 + math.cos(math.pi * min(epoch - warmup_epochs, span) / span))


def train(method: Method, data: Data, *, epochs: int, lr: float, weight_decay: float = 0.0,
          optimizer: str = "adam", lr_schedule: str = "constant", warmup_epochs: int = 0,
          device: str | torch.device = "cpu", seed: int | None = None, patience: int | None = None,
          min_delta: float = 0.0, restore_best: bool = False, checkpoint: str | os.PathLike | None = None,
          checkpoint_every: int = 50,
          identity: dict | None = None, resume: str = "auto", progress: bool = True, description: str | None = None,
          on_epoch_end: Callable[[int, float], None] | None = None) -> TrainResult:
    """Train ``method`` on ``data`` with Adam for ``epochs`` epochs: one full-batch step per epoch, or
    the :meth:`Method.start_epoch` mini-batch steps of a mini-batch method (the epoch's loss is
    their mean).

    Args:
        method: a registered :class:`~graphcl.methods.Method`.
        data: the graph; moved to ``device`` for training.
        epochs: number of epochs.
        lr, weight_decay: the optimizer's learning rate (the peak under a schedule) and weight decay.
        optimizer: ``'adam'`` or ``'adamw'`` (decoupled weight decay).
        lr_schedule, warmup_epochs: ``'constant'``, or ``'cosine'``: :func:`learning_rate_factor`
            per epoch.
        device: where to train (CPU by default).
        seed: seeds Python, NumPy and torch before the model is (re)initialised.
        patience: stop when the training loss has not improved by ``min_delta`` for this many epochs
            (early stopping on the training loss only, never on labels); ``None`` disables it.
            Training also stops when :meth:`Method.converged` says so (e.g. deep clustering's
            ``stop_tol``).
        restore_best: at the end, reload the weights of the epoch with the lowest training loss
            (DGI's and MVGRL's official codes; label-free). Their copy is kept in memory and in
            the checkpoint.
        checkpoint: path of a checkpoint file; if it exists the run resumes from it, and it is
            rewritten every ``checkpoint_every`` epochs and at the end.
        identity: a JSON-able description of everything the trained weights depend on besides the
            number of epochs (the runner's: method, parameters, training settings, seed, a hash of
            the data); stored in the checkpoint, and a checkpoint with another identity is refused.
        resume: ``'auto'`` (resume a checkpoint of the same identity and at most ``epochs`` epochs,
            refuse any other), ``'force'`` (resume whatever the file holds) or ``'fresh'`` (ignore and
            overwrite it).
        progress: show a tqdm progress bar with the loss.
        description: the bar's label (default: the method's name).
        on_epoch_end: called as ``on_epoch_end(epoch, loss)`` after every epoch (e.g. for logging, or
            validation); a true return value stops training (e.g. early stopping on validation data).

    Returns:
        A :class:`TrainResult`; the method is trained in place.
    """
    if epochs < 0:
        raise InvalidArgumentError(f"epochs must be >= 0, got {epochs}")
    if resume not in RESUME_MODES:
        raise InvalidArgumentError(f"resume must be one of {RESUME_MODES}, got {resume!r}")
    dev = _resolve_device(device)
    if seed is not None:
        seed_everything(seed)
        for module in method.modules():
            if module is not method and hasattr(module, "reset_parameters"):
                module.reset_parameters()
    method.to(dev)
    data = to_device(data, dev)
    if optimizer not in ("adam", "adamw"):
        raise InvalidArgumentError(f"optimizer must be 'adam' or 'adamw', got {optimizer!r}")
    if lr_schedule not in ("constant", "cosine"):
        raise InvalidArgumentError(f"lr_schedule must be 'constant' or 'cosine', got {lr_schedule!r}")
    method.plan_training(epochs)
    method.setup(data)
    optimizer = (torch.optim.AdamW if optimizer == "adamw" else torch.optim.Adam)(
        method.parameters(), lr=lr, weight_decay=weight_decay)
    result = TrainResult()
    best, since_best = math.inf, 0
    best_state: dict | None = None  # restore_best: (epoch, weights) of the lowest loss so far
    start_epoch = 0
    path = Path(checkpoint) if checkpoint is not None else None
    state = _load_checkpoint(path, dev, identity, epochs, resume) if path is not None else None
    earlier_seconds = 0.0
    if state is not None:
        try:
            method.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as error:
            first = str(error).strip().splitlines()[0]
            raise InvalidArgumentError(f"checkpoint {path} does not fit this model ({first}); use another "
                                       "--checkpoint-dir or --resume fresh") from None
        result.losses = state["losses"]
        start_epoch = result.resumed_from_epoch = state["epoch"]
        best, since_best = state.get("best", math.inf), state.get("since_best", 0)
        best_state = state.get("best_model")
        earlier_seconds = state.get("train_seconds", 0.0)
        result.stopped_early = bool(state.get("stopped_early", False))
        rng_ranks = state.get("rng_ranks", [])
        torch.set_rng_state(rng_ranks[rank()] if rank() < len(rng_ranks) else state["rng"])
        log.info("resumed from %s at epoch %d", path, start_epoch)

    def save(epoch: int) -> None:
        """Rank 0 writes the weights and optimizer (the same on every rank) and every rank's RNG state."""
        if path is None:
            return
        rng_ranks = gather_objects(torch.get_rng_state())
        if rank() != 0:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        torch.save({"model": method.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                    "losses": result.losses, "best": best, "since_best": since_best, "identity": identity,
                    "stopped_early": result.stopped_early, "best_model": best_state, "train_seconds": earlier_seconds + time.perf_counter() - t0,
                    "rng": rng_ranks[0], "rng_ranks": rng_ranks, "world_size": world_size()}, tmp)
        os.replace(tmp, path)

    method.train()
    last = start_epoch if result.stopped_early else epochs  # an early-stopped checkpoint is finished
    bar = tqdm(range(start_epoch, last), desc=description or f"{method.name or type(method).__name__}", disable=not progress,
               initial=start_epoch, total=epochs, dynamic_ncols=True)
    t0 = time.perf_counter()
    completed = start_epoch
    with PeakMemory(dev) as mem:
        for epoch in bar:
            for group in optimizer.param_groups:
                group["lr"] = lr * learning_rate_factor(epoch, epochs, lr_schedule, warmup_epochs)
            steps, total = method.start_epoch(data), 0.0
            for _ in range(steps):
                optimizer.zero_grad(set_to_none=True)
                loss = method.loss(data)
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"the loss became {loss.item()} at epoch {epoch + 1}; lower the learning rate or raise the "
                        "temperature, and check the features for extreme values")
                loss.backward()
                average_gradients(method.parameters())  # over the ranks of a torch.distributed group
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
                if restore_best:
                    best_state = (completed, {k: v.detach().clone() for k, v in method.state_dict().items()})
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
    if restore_best and best_state is not None:
        result.restored_epoch, weights = best_state
        method.load_state_dict(weights)
        log.info("restored the weights of epoch %d (the lowest training loss)", result.restored_epoch)
    result.epochs = completed
    result.train_seconds = earlier_seconds + time.perf_counter() - t0
    result.peak_memory_mb = mem.peak_mb
    save(result.epochs)
    method.eval()
    return result
