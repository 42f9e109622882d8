"""Checks of the parts a method accepts as objects (``encoder=``, ``augmenters=``, ``loss=``, ...)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from graphcl.checks import float_features, parameter_dtype

from graphcl.errors import InvalidArgumentError


def check_module(method: str, name: str, value: Any, example: str) -> None:
    """``value`` is ``None`` or an ``nn.Module``; anything else (e.g. a name from ``--set``) raises."""
    if value is not None and not isinstance(value, nn.Module):
        raise InvalidArgumentError(f"{method}: {name} must be a torch.nn.Module such as {example} (or left unset to "
                                   f"build it from the settings), got {type(value).__name__}")


def check_transforms(method: str, name: str, value: Any, count: int | None, example: str) -> None:
    """``value`` is ``None`` or a sequence of callables (of length ``count`` when given)."""
    if value is None:
        return
    if (isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value
            or (count is not None and len(value) != count) or not all(callable(t) for t in value)):
        size = f"{count} transforms" if count is not None else "one or more transforms"
        raise InvalidArgumentError(f"{method}: {name} must be a tuple of {size}, e.g. {example}; "
                                   f"got {value!r}")


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """``module`` in eval mode inside the block, back in its previous mode after it (also on errors)."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


@torch.no_grad()
def encoder_embeddings(method: nn.Module, encoder: nn.Module, data: Data) -> Tensor:
    """``encoder``'s embeddings of every node of ``data`` in eval mode, ``[N, d]``, detached: layer by
    layer where the encoder has a layer-wise ``inference``
    (:meth:`graphcl.encoders.GNNEncoder.inference`); ``method`` is put back in its mode."""
    x = float_features(data.x, parameter_dtype(method))  # integer / float64 features as the model's dtype
    with eval_mode(method):
        if hasattr(encoder, "inference"):
            return encoder.inference(x, data.edge_index, data.get("edge_weight")).detach()
        return encoder(x, data.edge_index, data.get("edge_weight")).detach()
