r"""The unsupervised TU graph-classification protocol: classifiers on frozen graph embeddings.

For each of 10 stratified folds (shuffled with the seed), a classifier is fit on the other nine
folds and scored on the held-out one; its regularisation ``C`` is chosen among
:math:`10^{-3}, \dots, 10^{3}` by an inner 5-fold cross-validation on the training folds only
(scikit-learn's ``GridSearchCV``), so the held-out fold never picks a hyper-parameter. Reported:
mean and standard deviation of the fold accuracies, for an RBF SVM on the embeddings as they are
(InfoGraph / GraphCL's ``svc_classify``) and for logistic regression on standardised embeddings
(the scaler fit on the training folds only; unscaled sum-pooled features make L-BFGS crawl at
large ``C``: minutes per fold on PROTEINS).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from graphcl.errors import InvalidArgumentError

__all__ = ["graph_classification"]

_C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)


def graph_classification(embeddings, labels, seed: int = 0, folds: int = 10, inner_folds: int = 5,
                         c_grid: Sequence[float] = _C_GRID, classifiers: Sequence[str] = ("svm", "logreg"),
                         n_jobs: int | None = None) -> dict[str, float]:
    """``{svm_accuracy, svm_accuracy_std, logreg_accuracy, logreg_accuracy_std}`` (fractions) of
    10-fold cross-validation with an inner grid search over ``C`` (module docstring).

    ``n_jobs``: the (outer fold, classifier) searches run in this many processes (joblib; ``-1``:
    one per core, ``None``: in this process); every search is independent, so the scores do not
    depend on it.

    Shapes: ``embeddings [G, d]``, ``labels [G]``.
    """
    x = np.asarray(embeddings.detach().cpu() if hasattr(embeddings, "detach") else embeddings, dtype=np.float64)
    y = np.asarray(labels.cpu() if hasattr(labels, "cpu") else labels).reshape(-1)
    if x.shape[0] != y.shape[0]:
        raise InvalidArgumentError(f"{x.shape[0]} embeddings but {y.shape[0]} labels")
    if y.dtype == np.bool_:
        y = y.astype(np.int64)
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0):
        raise InvalidArgumentError(f"graph labels must be class ids 0..C-1, got values from {y.min()} to {y.max()} "
                                   f"({y.dtype}); renumber them (e.g. np.unique(y, return_inverse=True))")
    counts = np.bincount(y)
    if (counts > 0).sum() < 2:
        raise InvalidArgumentError(f"graph classification needs graphs of at least two classes; all {y.size} graphs "
                                   "have the same label")
    if counts[counts > 0].min() < folds:
        raise InvalidArgumentError(f"a class has {counts[counts > 0].min()} graphs, fewer than the {folds} folds")
    smallest = int(counts[counts > 0].min())
    if smallest - -(-smallest // folds) < inner_folds:  # its part of the training folds, for the inner CV
        raise InvalidArgumentError(f"a class has {smallest} graphs: its part of the training folds is too small for "
                                   f"the {inner_folds}-fold inner cross-validation choosing C")
    if not np.isfinite(x).all():
        raise InvalidArgumentError("the graph embeddings hold NaN or Inf; the encoder diverged")
    outer = StratifiedKFold(folds, shuffle=True, random_state=seed)
    jobs = [(name, train, test) for train, test in outer.split(x, y) for name in classifiers]
    accuracies = Parallel(n_jobs=n_jobs)(delayed(_fold_accuracy)(name, x, y, train, test, inner_folds, c_grid, seed)
                                         for name, train, test in jobs)
    scores: dict[str, list[float]] = {c: [] for c in classifiers}
    for (name, _, _), accuracy in zip(jobs, accuracies):
        scores[name].append(accuracy)
    out = {}
    for name, values in scores.items():
        out[f"{name}_accuracy"] = float(np.mean(values))
        out[f"{name}_accuracy_std"] = float(np.std(values))
    return out


def _fold_accuracy(name: str, x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, inner_folds: int,
                   c_grid: Sequence[float], seed: int) -> float:
    """Held-out accuracy of classifier ``name`` with ``C`` chosen by inner cross-validation on ``train``."""
    models = {"svm": lambda: SVC(),
              "logreg": lambda: Pipeline([("scale", StandardScaler()), ("logreg", LogisticRegression(max_iter=1000))])}
    grids = {"svm": {"C": list(c_grid)}, "logreg": {"logreg__C": list(c_grid)}}
    inner = StratifiedKFold(inner_folds, shuffle=True, random_state=seed)
    search = GridSearchCV(models[name](), grids[name], cv=inner, scoring="accuracy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(x[train], y[train])
    return float((search.predict(x[test]) == y[test]).mean())
