r"""Fixed sparse propagation operators: :math:`Y = A X` for a constant sparse :math:`A` and a dense,
differentiable :math:`X`.

``torch.sparse.mm``'s autograd rebuilds :math:`A^\top` on every backward pass; an operator that
is applied hundreds of times per run (a meta-path's normalised adjacency, a meta-path context's
mean) keeps :math:`A` and :math:`A^\top` as CSR matrices once, and the backward is
:math:`\partial L / \partial X = A^\top\, \partial L / \partial Y`. Measured on a MEOW DBLP
context (4,057 x 14,328, 12.0 M entries, d = 64, one thread): forward + backward 0.65 s, against
4.2 s for ``torch.sparse.mm`` on the CSR matrix and 15.0 s for a gather + ``scatter(reduce='mean')``
(which also materialises an ``[E, d]`` tensor).
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor
from torch_geometric.utils import scatter

__all__ = ["SparseOperator"]


class _Apply(torch.autograd.Function):
    @staticmethod
    def forward(ctx, matrix: Tensor, transpose: Tensor, x: Tensor) -> Tensor:
        ctx.transpose = transpose
        return matrix @ x

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[None, None, Tensor]:
        return None, None, ctx.transpose @ grad


class SparseOperator:
    r"""A constant sparse ``[M, N]`` matrix :math:`A`, applied as ``A @ x`` (``x``: ``[N, d]`` -> ``[M, d]``).

    Duplicate ``(row, col)`` pairs are summed. No gradient flows to :math:`A`'s values.

    Args:
        index: ``[2, E]`` ``(row, col)`` pairs.
        values: ``[E]`` entries.
        shape: ``(M, N)``.
    """

    def __init__(self, index: Tensor, values: Tensor, shape: tuple[int, int]) -> None:
        with warnings.catch_warnings():  # torch's notices that sparse CSR support is in beta
            warnings.simplefilter("ignore", UserWarning)
            coo = torch.sparse_coo_tensor(index, values.detach(), shape).coalesce()
            self.shape = tuple(shape)
            self.matrix = coo.to_sparse_csr()
            self.transpose = coo.t().coalesce().to_sparse_csr()

    @classmethod
    def row_mean(cls, index: Tensor, shape: tuple[int, int]) -> "SparseOperator":
        r"""The mean over each row's columns: :math:`A_{ij} = 1 / |\{j' : (i, j') \in E\}|` for
        :math:`(i, j) \in E` (a row without entries gives zeros, as ``scatter(reduce='mean')``)."""
        count = scatter(torch.ones(index.size(1), device=index.device), index[0], dim=0, dim_size=shape[0])
        return cls(index, 1.0 / count[index[0]], shape)

    @classmethod
    def average(cls, operators: list["SparseOperator"]) -> "SparseOperator":
        r""":math:`\frac1K \sum_k A_k` of operators of one shape."""
        if not operators or any(op.shape != operators[0].shape for op in operators):
            raise ValueError("average() needs one or more operators of the same shape")
        parts = [op.matrix.to_sparse_coo() for op in operators]
        total = sum(parts[1:], parts[0]).coalesce()
        return cls(total.indices(), total.values() / len(operators), operators[0].shape)

    @property
    def nnz(self) -> int:
        return int(self.matrix._nnz())

    def __matmul__(self, x: Tensor) -> Tensor:
        if x.size(0) != self.shape[1]:
            raise ValueError(f"operator of shape {self.shape} cannot multiply {x.size(0)} rows")
        if torch.is_grad_enabled() and x.requires_grad:
            return _Apply.apply(self.matrix, self.transpose, x)
        return self.matrix @ x

    def to_dense(self) -> Tensor:
        """For tests on small operators only."""
        return self.matrix.to_dense()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, nnz={self.nnz})"
