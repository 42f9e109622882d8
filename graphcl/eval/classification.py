"""Node classification by a linear probe on frozen embeddings."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score
from torch import Tensor
from torch_geometric.data import Data

from graphcl.checks import check_features, check_labels
from graphcl.errors import InvalidArgumentError, InvalidGraphError

Split = tuple[Tensor, Tensor, Tensor]


def random_split(num_nodes: int, train_ratio: float = 0.1, val_ratio: float = 0.1, seed: int = 0) -> Split:
    """A random ``train / val / test`` split of node indices (default 10/10/80) drawn from ``seed``.

    Uses its own generator, so it does not disturb (and is not disturbed by) the training RNG.
    """
    if not (0 < train_ratio and 0 < val_ratio and train_ratio + val_ratio < 1):
        raise InvalidArgumentError(f"need 0 < train_ratio, val_ratio and train+val < 1, got {train_ratio}, {val_ratio}")
    perm = torch.randperm(num_nodes, generator=torch.Generator().manual_seed(seed))
    n_train, n_val = int(round(train_ratio * num_nodes)), int(round(val_ratio * num_nodes))
    return perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:]


def public_split(data: Data) -> Split:
    """The split stored in ``data.train_mask / val_mask / test_mask`` (e.g. Planetoid's public split)."""
    masks = [data.get(k) for k in ("train_mask", "val_mask", "test_mask")]
    if any(m is None for m in masks):
        raise InvalidGraphError(f"dataset {data.get('name', '')!r} has no public split (train/val/test masks); "
                                "use --split random")
    masks = [m if m.dim() == 1 else m[:, 0] for m in masks]  # multi-split masks (WikiCS): first split
    return tuple(m.nonzero().flatten() for m in masks)


def linear_probe(embeddings: Tensor, y: Tensor, split: Split, *, epochs: int = 1000, lr: float = 0.01,
                 weight_decay: float = 0.0, eval_every: int = 20, normalize: bool | None = None,
                 seed: int = 0) -> dict[str, float]:
    r"""Logistic regression on frozen embeddings; test scores at the best validation accuracy.

    A linear layer :math:`\hat y = \mathrm{softmax}(W z + b)` is trained full-batch with Adam on
    the training nodes (cross-entropy). Every ``eval_every`` epochs it is scored on the validation
    nodes; the reported test accuracy, micro-F1 and macro-F1 are those of the evaluation with the
    highest validation accuracy (earliest on ties). Test labels never influence the choice.
    This is the protocol of GCA's ``log_regression``; ``normalize=True`` first L2-normalises the
    rows, as GRACE's own evaluation does, and ``normalize=None`` tries both and keeps the one with
    the higher validation accuracy.

    Args:
        embeddings: ``[N, d]`` frozen node embeddings.
        y: ``[N]`` class indices.
        split: ``(train_idx, val_idx, test_idx)``.

    Returns:
        ``{'accuracy', 'micro_f1', 'macro_f1', 'val_accuracy', 'probe_epoch', 'probe_normalized'}``
        (scores as fractions in [0, 1]).
    """
    check_features(embeddings, "embeddings")
    y = check_labels(y, embeddings.size(0))
    train_idx, val_idx, test_idx = (torch.as_tensor(s).long() for s in split)
    for name, idx in (("train", train_idx), ("val", val_idx), ("test", test_idx)):
        if idx.numel() == 0:
            raise InvalidArgumentError(f"the {name} split is empty")
        if bool((y[idx] < 0).any()):
            raise InvalidGraphError(f"the {name} split holds nodes without labels (y < 0); remove them from the split")
    z = embeddings.detach().float()
    flags = (False, True) if normalize is None else (bool(normalize),)
    views = torch.stack([F.normalize(z, dim=1) if flag else z for flag in flags])  # [V, N, d]
    runs, _ = _train_probes(views, y.to(z.device), train_idx.to(z.device), val_idx.to(z.device), test_idx.to(z.device),
                         epochs=epochs, lr=lr, weight_decay=weight_decay, eval_every=eval_every, seed=seed)
    for run, flag in zip(runs, flags):
        run["probe_normalized"] = float(flag)
    return max(runs, key=lambda r: r["val_accuracy"])  # the first (raw) wins ties


def _train_probes(views: Tensor, y: Tensor, train_idx: Tensor, val_idx: Tensor, test_idx: Tensor, *, epochs: int,
                  lr: float, weight_decay: float, eval_every: int, seed: int
                  ) -> tuple[list[dict[str, float]], tuple[Tensor, Tensor]]:
    """One logistic regression per view ``views [V, N, d]``, trained side by side: the gradient of
    the mean cross-entropy in closed form (``W.grad = (softmax(XW^T + b) - Y)^T X / n``) and
    Adam's update written out as ``torch.optim.Adam`` applies it, so that a probe costs a few tensor
    operations per step instead of an autograd graph and an optimizer call.

    Returns:
        each view's scores at its best validation accuracy, and the final ``(weight [V, C, d],
        bias [V, 1, C])``.
    """
    num_views, _, dim = views.shape
    num_classes = int(y.max()) + 1
    bound = (6 / (dim + num_classes)) ** 0.5
    weight = torch.empty(num_views, num_classes, dim)
    for v in range(num_views):  # each view's initialisation as a probe of its own would draw it
        weight[v].uniform_(-bound, bound, generator=torch.Generator().manual_seed(seed))
    weight = weight.to(views.device)
    bias = torch.zeros(num_views, 1, num_classes, device=views.device)
    x_train, y_train = views[:, train_idx], y[train_idx]
    x_val, y_val, x_test, y_test = views[:, val_idx], y[val_idx], views[:, test_idx], y[test_idx].cpu().numpy()
    target = F.one_hot(y_train, num_classes).to(views.dtype)[None]  # [1, n, C]
    n = x_train.size(1)
    params = [weight, bias]
    first = [torch.zeros_like(t) for t in params]
    second = [torch.zeros_like(t) for t in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    best = [{"val_accuracy": -1.0} for _ in range(num_views)]
    for epoch in range(1, epochs + 1):
        logits = torch.baddbmm(bias, x_train, weight.transpose(1, 2))  # [V, n, C]
        residual = (logits.softmax(-1) - target) / n
        grads = [torch.bmm(residual.transpose(1, 2), x_train), residual.sum(1, keepdim=True)]
        correction1, correction2 = 1 - beta1 ** epoch, 1 - beta2 ** epoch
        for param, grad, m, s in zip(params, grads, first, second):
            if weight_decay:
                grad = grad + weight_decay * param
            m.mul_(beta1).add_(grad, alpha=1 - beta1)
            s.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            param.addcdiv_(m, (s.sqrt() / correction2 ** 0.5).add_(eps), value=-lr / correction1)
        if epoch % eval_every == 0 or epoch == epochs:
            val_pred = torch.baddbmm(bias, x_val, weight.transpose(1, 2)).argmax(-1)
            val_accuracy = (val_pred == y_val).float().mean(1).tolist()
            for v in range(num_views):
                if val_accuracy[v] > best[v]["val_accuracy"]:
                    pred = (x_test[v] @ weight[v].T + bias[v]).argmax(1).cpu().numpy()
                    best[v] = {"accuracy": float((pred == y_test).mean()),
                               "micro_f1": float(f1_score(y_test, pred, average="micro")),
                               "macro_f1": float(f1_score(y_test, pred, average="macro")),
                               "val_accuracy": val_accuracy[v], "probe_epoch": epoch}
    return best, (weight, bias)


def node_classification(embeddings: Tensor, data: Data, split: str = "public", seed: int = 0,
                        **probe_kwargs) -> dict[str, float]:
    """Linear-probe node classification with a named split protocol.

    Args:
        split: ``'public'`` (the dataset's own masks, e.g. Planetoid 20 per class) or
            ``'random'`` (10/10/80 drawn from ``seed``).
    """
    y = check_labels(data.get("y"), data.num_nodes)
    if split == "public":
        idx = public_split(data)
    elif split == "random":
        labelled = (y >= 0).nonzero().flatten()
        tr, va, te = random_split(labelled.numel(), seed=seed)
        idx = (labelled[tr], labelled[va], labelled[te])
    else:
        raise InvalidArgumentError(f"unknown split {split!r}; use 'public' or 'random'")
    return linear_probe(embeddings, y, idx, seed=seed, **probe_kwargs)


def _split_sizes(split: Split) -> tuple[int, int, int]:
    """Sizes of a split (for logs and records)."""
    return tuple(int(np.asarray(s).size) for s in split)


def _macro_f1(pred: Tensor, y: Tensor, num_classes: int) -> Tensor:
    """Macro-F1 of each row of ``pred [R, M]`` against ``y [M]`` (classes absent from both score 0,
    as scikit-learn's ``f1_score(average='macro')`` over the classes present in ``y`` or ``pred``)."""
    onehot_p = F.one_hot(pred, num_classes).float()          # [R, M, C]
    onehot_y = F.one_hot(y, num_classes).float()[None]        # [1, M, C]
    tp = (onehot_p * onehot_y).sum(1)
    predicted, actual = onehot_p.sum(1), onehot_y.sum(1)
    f1 = 2 * tp / (predicted + actual).clamp_min(1e-12)
    present = (predicted + actual) > 0
    return (f1 * present).sum(1) / present.sum(1).clamp_min(1)


def heco_protocol(embeddings: Tensor, y: Tensor, train_mask: Tensor, val_mask: Tensor, test_mask: Tensor, *,
                  lr: float = 0.01, weight_decay: float = 0.0, runs: int = 50, iterations: int = 200,
                  seed: int = 0) -> dict[str, float]:
    """Node classification as HeCo / MEOW evaluate: logistic regression on frozen embeddings.

    ``runs`` independent probes (a linear layer, Xavier init, Adam with ``lr`` and
    ``weight_decay``, full-batch cross-entropy on the training nodes for ``iterations`` steps) are
    trained side by side. For each probe the test Macro-F1 is read at the step with the best
    validation Macro-F1, the test Micro-F1 (= accuracy) and the one-vs-rest AUC of the softmax at
    the step with the best validation Micro-F1 (HeCo's ``evaluate``). Test labels choose nothing.
    A class absent from the test split (labels with a gap) has no AUC: the average runs over the
    classes present; a test split of a single class raises.

    Returns:
        ``macro_f1``, ``micro_f1``, ``auc`` (means over the runs, fractions) and their ``*_std``.
    """
    from sklearn.metrics import roc_auc_score

    check_features(embeddings, "embeddings")
    y = check_labels(y, embeddings.size(0))
    for name, mask in (("train", train_mask), ("val", val_mask), ("test", test_mask)):
        if int(mask.sum()) == 0:
            raise InvalidArgumentError(f"the {name} split is empty")
        if (y[mask] < 0).any():
            raise InvalidArgumentError(f"the {name} split holds unlabelled nodes (y < 0)")
    x = embeddings.detach().float()
    num_classes = int(y.max()) + 1
    test_classes = torch.unique(y[test_mask]).cpu().numpy()
    if test_classes.size < 2:
        raise InvalidArgumentError(f"the test split holds a single class ({int(test_classes[0])}): AUC needs at least "
                                   "two; give the test split nodes of several classes")
    g = torch.Generator().manual_seed(seed)
    bound = (6.0 / (x.size(1) + num_classes)) ** 0.5
    weight = ((torch.rand(runs, x.size(1), num_classes, generator=g) * 2 - 1) * bound).to(x.device).requires_grad_()
    bias = torch.zeros(runs, 1, num_classes, device=x.device, requires_grad=True)
    opt = torch.optim.Adam([weight, bias], lr=lr, weight_decay=weight_decay)
    parts = {name: (x[mask], y[mask]) for name, mask in (("train", train_mask), ("val", val_mask),
                                                           ("test", test_mask))}
    x_train, y_train = parts["train"]
    # Per probe, the best validation score so far and the test scores at that step (the first step
    # reaching the best, as an argmax over the whole history would pick).
    best = {key: torch.full((runs,), -1.0, device=x.device) for key in ("val_macro", "val_micro")}
    macro = torch.zeros(runs, device=x.device)
    micro = torch.zeros(runs, device=x.device)
    proba = torch.zeros(runs, int(test_mask.sum()), num_classes, device=x.device)
    for _ in range(iterations):
        opt.zero_grad()
        logits = torch.baddbmm(bias, x_train.expand(runs, -1, -1), weight)  # [R, M, C]
        F.cross_entropy(logits.transpose(1, 2), y_train.expand(runs, -1), reduction="none").mean(1).sum().backward()
        opt.step()
        with torch.no_grad():
            scores = {}
            for part in ("val", "test"):
                xs, ys = parts[part]
                out = torch.baddbmm(bias, xs.expand(runs, -1, -1), weight)
                pred = out.argmax(2)
                scores[f"{part}_macro"] = _macro_f1(pred, ys, num_classes)
                scores[f"{part}_micro"] = (pred == ys).float().mean(1)
            better_macro = scores["val_macro"] > best["val_macro"]
            better_micro = scores["val_micro"] > best["val_micro"]
            best["val_macro"] = torch.where(better_macro, scores["val_macro"], best["val_macro"])
            best["val_micro"] = torch.where(better_micro, scores["val_micro"], best["val_micro"])
            macro = torch.where(better_macro, scores["test_macro"], macro)
            micro = torch.where(better_micro, scores["test_micro"], micro)
            proba[better_micro] = out.softmax(2)[better_micro]
    macro, micro = macro.cpu(), micro.cpu()
    y_test = parts["test"][1].cpu().numpy()
    aucs = []
    for p in proba.double().cpu().numpy():
        p = p / p.sum(1, keepdims=True)
        if test_classes.size < num_classes:  # a class absent from the test split has no AUC: average the others
            aucs.append(float(np.mean([roc_auc_score(y_test == c, p[:, c]) for c in test_classes])))
        else:
            aucs.append(roc_auc_score(y_test, p, multi_class="ovr", labels=np.arange(num_classes))
                        if num_classes > 2 else roc_auc_score(y_test, p[:, 1]))
    auc = torch.tensor(aucs)
    return {"macro_f1": float(macro.mean()), "micro_f1": float(micro.mean()), "auc": float(auc.mean()),
            "macro_f1_std": float(macro.std(unbiased=False)), "micro_f1_std": float(micro.std(unbiased=False)),
            "auc_std": float(auc.std(unbiased=False))}
