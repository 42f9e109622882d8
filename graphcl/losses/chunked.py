r"""Row-chunked log-sum-exp over cosine similarities, with recomputation in backward.

This is the shared kernel of every pairwise contrastive loss in graphcl. For anchors
``a`` (``[N, d]``, rows already L2-normalised) and candidate sets ``b^(1), ..., b^(m)``
(each ``[M_c, d]``) it computes, for every anchor ``i``,

.. math::
    \\mathrm{lse}_i = \\log \\sum_{c=1}^{m} \\sum_{k \\in K_c(i)} \\exp(\\langle a_i, b^{(c)}_k \\rangle / \\tau)

where ``K_c(i)`` is every row of ``b^(c)`` except ``k = i`` when ``exclude_diagonal[c]`` is set
(the anchor itself in an intra-view set, or the positive in DCL). With weights
(:class:`graphcl.losses.weighting.NegativeWeights`, constants of the step) each term is
multiplied by :math:`w^{(c)}_{ik}`: the weights' block is written into a buffer and multiplies
the shifted exponentials (no logarithm of the weights is taken; rows whose weighted sum
underflows are recomputed exactly in the log domain).

Memory: the forward pass visits the anchors in row chunks of ``chunk_size`` and keeps only the
``[N]`` result; the backward pass recomputes each chunk's similarities (and weights) from the
saved log-sum-exp, so peak memory is ``O(chunk_size * sum_c M_c)``, never ``O(N^2)``. Forward and
backward each allocate their chunk buffers once and reuse them for every chunk.

Gradient (per chunk, with ``P_ik = exp(s_ik - lse_i) * g_i`` and ``s_ik = <a_i, b_k> / tau``):
``dL/da_i = sum_k P_ik b_k / tau`` and ``dL/db_k = sum_i P_ik a_i / tau``.
"""
from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Callable, Sequence

import torch
from torch import Tensor

if TYPE_CHECKING:
    from graphcl.losses.weighting import NegativeWeights

#: Bytes the chunk buffers of one loss evaluation may hold together (the automatic chunk size).
DEFAULT_MEMORY_BUDGET = 256 * 2 ** 20
#: Weighted candidate sets on the CPU: chunks of about 1 M pairs (at least 128 anchors), so that the
#: similarity, weight and comparison buffers are reused over several chunks and stay in cache. One
#: 64 MiB chunk (all of N = 4,019) cost 0.42 s forward + backward against 0.22 s in chunks of 128-256
#: rows (MEOW's loss, one thread); at N = 20,000 both are within 10 %.
_CPU_WEIGHTED_BLOCK_ELEMENTS = 1 << 20


def auto_chunk_size(num_anchors: int, entries_per_anchor: int, memory_budget: int = DEFAULT_MEMORY_BUDGET,
                    bytes_per_entry: int = 4) -> int:
    """Rows per chunk when each anchor row needs ``entries_per_anchor`` buffer entries (e.g. ``k * N``
    for ``k`` live ``[chunk, N]`` blocks): the largest chunk within ``memory_budget`` bytes, evened
    out so that all chunks have the same size (``N = 2,708`` in chunks of at most 2,065 rows gives
    two of 1,354, not 2,065 + 643)."""
    largest = max(1, min(num_anchors, memory_budget // max(1, bytes_per_entry * entries_per_anchor)))
    chunks = -(-num_anchors // largest)
    return max(1, -(-num_anchors // max(1, chunks)))


class _Claim:
    """Held by an autograd context while the workspace holds its blocks (weak-referenced)."""


class ChunkWorkspace:
    """The ``[slots, rows, N]`` chunk buffers of one loss module, kept between steps.

    A buffer allocated afresh in every step is page-faulted in afresh: on this project's machines
    that cost as much as the exponentials of GRACE's loss on Cora. A loss module owns one workspace
    and hands it to :func:`two_view_logsumexp`; it grows when a larger graph comes and is never in
    a ``state_dict``. While a pending backward keeps its blocks in it (one chunk holding every
    anchor), another forward gets fresh buffers instead, so results never depend on the order of
    calls; the claim lapses when that autograd graph is freed.
    """

    def __init__(self) -> None:
        self._buffer: Tensor | None = None
        self._claim: Callable[[], _Claim | None] = lambda: None

    def take(self, slots: int, rows: int, cols: int, like: Tensor, dtype: torch.dtype) -> tuple[Tensor, _Claim | None]:
        """``[slots, rows, cols]`` buffers and, when they are the shared ones, the claim on them."""
        if self._claim() is not None:  # a pending backward keeps its blocks here
            return like.new_empty(slots, rows, cols, dtype=dtype), None
        size = slots * rows * cols
        buffer = self._buffer
        if buffer is None or buffer.numel() < size or buffer.dtype != dtype or buffer.device != like.device:
            buffer = self._buffer = like.new_empty(size, dtype=dtype)
        claim = _Claim()
        self._claim = weakref.ref(claim)
        return buffer[:size].view(slots, rows, cols), claim

    def release(self, claim: _Claim | None) -> None:
        if claim is not None and self._claim() is claim:
            self._claim = lambda: None

    def __deepcopy__(self, memo: dict) -> "ChunkWorkspace":
        return ChunkWorkspace()  # copies of a loss share nothing and copy no scratch memory

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()


def _accumulation_dtype(t: Tensor) -> torch.dtype:
    """float64 stays float64; float16/bfloat16/float32 accumulate in float32."""
    return torch.float64 if t.dtype == torch.float64 else torch.float32


#: Bound on ``s - lse`` before exponentiating in the weighted backward: where a weight is 0 the
#: difference is unbounded (``exp`` would overflow, and ``inf * 0`` is NaN); where it is positive,
#: ``w e^(s - lse) <= 1`` keeps it under ``-log w``, i.e. under this bound for any ``w > e^-80``.
_WEIGHTED_EXPONENT_LIMIT = 80.0


def _similarity_blocks(anchor_rows: Tensor, rows: slice, candidates: Sequence[Tensor],
                       exclude_diagonal: Sequence[bool], tau: float,
                       workspaces: Sequence[Tensor] | None = None) -> list[Tensor]:
    """Scaled similarities of one anchor chunk against every candidate set (diagonal masked), written
    into ``workspaces`` (one ``[chunk, M_c]`` buffer per set, reused across chunks) when given."""
    blocks = []
    scaled = anchor_rows / tau
    for c, (cand, exclude) in enumerate(zip(candidates, exclude_diagonal)):
        if workspaces is not None and cand.dtype == workspaces[c].dtype:  # 1 / tau on the [chunk, d] factor
            s = torch.mm(scaled, cand.t(), out=workspaces[c][: anchor_rows.size(0)])
        else:
            s = (anchor_rows @ cand.t()).to(_accumulation_dtype(anchor_rows)).div_(tau)
        if exclude:
            idx = torch.arange(rows.start, rows.stop, device=s.device)
            s[idx - rows.start, idx] = float("-inf")
        blocks.append(s)
    return blocks


class _ChunkedLogSumExp(torch.autograd.Function):
    """See :func:`chunked_logsumexp`. Weighted candidate sets multiply the shifted exponentials by
    their weights (no ``log w``); the shift is the row maximum of the unweighted similarities, and
    rows whose weighted sum underflows to 0 are recomputed in the log domain."""

    @staticmethod
    def _workspaces(anchor: Tensor, candidates: Sequence[Tensor], chunk_size: int, weights: tuple | None,
                    workspace: ChunkWorkspace | None) -> tuple[list[Tensor], list[Tensor | None], _Claim | None]:
        """The ``[chunk, M_c]`` similarity buffers (from ``workspace`` where given: one contiguous
        piece per candidate set), the weights' buffers and the claim on the workspace."""
        rows, acc = min(chunk_size, anchor.size(0)), _accumulation_dtype(anchor)
        if workspace is None:
            similarity, claim = [anchor.new_empty(rows, c.size(0), dtype=acc) for c in candidates], None
        else:
            (flat,), claim = workspace.take(1, 1, rows * sum(c.size(0) for c in candidates), anchor, acc)
            ends = torch.tensor([0] + [rows * c.size(0) for c in candidates]).cumsum(0).tolist()
            similarity = [flat[a:b].view(rows, c.size(0)) for a, b, c in zip(ends, ends[1:], candidates)]
        weight = [None if weights is None or w is None else anchor.new_empty(rows, c.size(0), dtype=acc)
                  for c, w in zip(candidates, weights or [None] * len(candidates))]
        return similarity, weight, claim

    @staticmethod
    def forward(ctx, tau: float, chunk_size: int, exclude_diagonal: tuple[bool, ...], weights: tuple | None,
                workspace: ChunkWorkspace | None, anchor: Tensor, *candidates: Tensor) -> Tensor:
        n = anchor.size(0)
        lse = anchor.new_empty(n, dtype=_accumulation_dtype(anchor))
        similarity, weight, claim = _ChunkedLogSumExp._workspaces(anchor, candidates, chunk_size, weights, workspace)
        total = None
        for start in range(0, n, chunk_size):
            rows = slice(start, min(start + chunk_size, n))
            blocks = _similarity_blocks(anchor[rows], rows, candidates, exclude_diagonal, tau, similarity)
            # Streaming combination over candidate sets: one shared max, then sum of partial sums.
            m = torch.stack([b.amax(dim=1) for b in blocks]).amax(dim=0)
            m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
            total = 0
            for c, b in enumerate(blocks):
                b.sub_(m[:, None]).exp_()
                if weight[c] is not None:
                    b.mul_(weights[c].block_into(rows, weight[c][: b.size(0)]))
                total = total + b.sum(dim=1)
            lse[rows] = total.log() + m
        if weights is not None:
            lost = torch.nonzero(lse == float("-inf")).view(-1)  # underflow, or no weighted candidate at all
            if lost.numel():
                lse[lost] = _ChunkedLogSumExp._log_domain(anchor, lost, candidates, exclude_diagonal, tau, weights)
        ctx.tau, ctx.chunk_size, ctx.exclude_diagonal, ctx.weights = tau, chunk_size, exclude_diagonal, weights
        ctx.workspace = workspace
        # One chunk held every anchor: its exponentials exp(s - m) (weighted) serve backward, which then
        # needs no second product; rows whose sum is 0 (underflow) take the recomputing path.
        keep = n and n <= chunk_size and any(ctx.needs_input_grad) and bool((total > 0).all())
        ctx.kept, ctx.claim = (blocks, claim) if keep else (None, None)
        if not keep and workspace is not None:
            workspace.release(claim)
        ctx.save_for_backward(lse, anchor, *candidates, *((total,) if keep else ()))
        return lse

    @staticmethod
    def _log_domain(anchor: Tensor, index: Tensor, candidates: Sequence[Tensor], exclude_diagonal: Sequence[bool],
                    tau: float, weights: tuple) -> Tensor:
        """Exact log-sum-exps of the anchors ``index`` with ``log w`` added to the similarities."""
        terms = []
        for cand, exclude, w in zip(candidates, exclude_diagonal, weights):
            s = (anchor[index] @ cand.t()).to(_accumulation_dtype(anchor)).div_(tau)
            if exclude:
                s[torch.arange(index.numel(), device=s.device), index] = float("-inf")
            if w is not None:
                block = torch.cat([w.block(slice(int(i), int(i) + 1), s.dtype).to(s.device) for i in index])
                s += block.log()
            terms.append(s)
        return torch.logsumexp(torch.cat(terms, dim=1), dim=1)

    @staticmethod
    def backward(ctx, grad_lse: Tensor):
        kept, claim, ctx.kept, ctx.claim = ctx.kept, ctx.claim, None, None  # a second backward recomputes
        lse, anchor, *candidates = ctx.saved_tensors
        candidates, total = candidates[:len(ctx.exclude_diagonal)], candidates[len(ctx.exclude_diagonal):]
        tau, chunk_size, weights, workspace = ctx.tau, ctx.chunk_size, ctx.weights, ctx.workspace
        n = anchor.size(0)
        acc = lse.dtype
        if kept is not None:  # d lse_i / d s_ik = exp(s_ik - m_i) w_ik / total_i, kept from forward
            (total,) = total
            scale = (grad_lse.to(acc) / (tau * total))[:, None]
            a_scaled = anchor.to(acc) * scale
            grads = ((scale * sum(b @ c.to(acc) for b, c in zip(kept, candidates))).to(anchor.dtype),
                     *((b.t() @ a_scaled).to(c.dtype) for b, c in zip(kept, candidates)))
            if workspace is not None:
                workspace.release(claim)
            return (None, None, None, None, None, *grads)
        grad_anchor = torch.zeros_like(anchor, dtype=acc)
        grad_cands = [torch.zeros_like(c, dtype=acc) for c in candidates]
        similarity, weight, claim = _ChunkedLogSumExp._workspaces(anchor, candidates, chunk_size, weights, workspace)
        for start in range(0, n, chunk_size):
            rows = slice(start, min(start + chunk_size, n))
            a = anchor[rows]
            blocks = _similarity_blocks(a, rows, candidates, ctx.exclude_diagonal, tau, similarity)
            scale = (grad_lse[rows].to(acc) / tau)[:, None]
            a_scaled = a.to(acc) * scale
            for c, (block, cand) in enumerate(zip(blocks, candidates)):
                p = block.sub_(lse[rows, None])
                if weight[c] is not None:
                    p.clamp_max_(_WEIGHTED_EXPONENT_LIMIT).exp_().mul_(weights[c].block_into(rows, weight[c][: p.size(0)]))
                else:
                    p.exp_()
                # the row scale goes on the [chunk, d] factors, not on the [chunk, M] block
                grad_anchor[rows] += scale * (p @ cand.to(acc))
                grad_cands[c] += p.t() @ a_scaled
        if workspace is not None:
            workspace.release(claim)
        grads = (grad_anchor.to(anchor.dtype), *(g.to(c.dtype) for g, c in zip(grad_cands, candidates)))
        return (None, None, None, None, None, *grads)


def chunked_logsumexp(anchor: Tensor, candidates: Sequence[Tensor], exclude_diagonal: Sequence[bool],
                      tau: float, chunk_size: int | None = None,
                      weights: Sequence["NegativeWeights | None"] | None = None,
                      memory_budget: int = DEFAULT_MEMORY_BUDGET, workspace: ChunkWorkspace | None = None) -> Tensor:
    """Per-anchor log-sum-exp of ``<a_i, b_k> / tau`` over several candidate sets, in row chunks.

    Args:
        anchor: ``[N, d]`` anchor embeddings (normalise them first for cosine similarity).
        candidates: candidate sets ``[M_c, d]``; pass ``anchor`` itself for intra-view negatives
            (autograd then sums both gradient contributions).
        exclude_diagonal: per candidate set, whether ``k = i`` is left out (requires ``M_c >= N``:
            anchor ``i`` is candidate row ``i``, rows past ``N`` are negatives of every anchor).
        tau: temperature.
        chunk_size: anchors per chunk; ``None`` picks :func:`auto_chunk_size`.
        weights: per candidate set, :class:`~graphcl.losses.weighting.NegativeWeights` over its
            rows (or ``None`` for all ones); a row whose weights are all 0 gives ``-inf``.
        memory_budget: bytes of ``[chunk, M]`` blocks the automatic chunk size may use. When one
            chunk holds every anchor, forward keeps its blocks for backward (no recomputation).
        workspace: the caller's :class:`ChunkWorkspace`, reused across calls so that the blocks are
            not page-faulted in afresh every step (pass one per call whose backward is pending at
            the same time).

    Returns:
        ``[N]`` log-sum-exps (float64 for float64 input, float32 otherwise, also for fp16/bf16).
    """
    if len(candidates) != len(exclude_diagonal):
        raise ValueError("one exclude_diagonal flag is needed per candidate set")
    for cand, exclude in zip(candidates, exclude_diagonal):
        if exclude and cand.size(0) < anchor.size(0):
            raise ValueError("exclude_diagonal needs a candidate set with at least as many rows as anchors")
    if weights is not None:
        if len(weights) != len(candidates):
            raise ValueError("one weights entry (or None) is needed per candidate set")
        for w, cand in zip(weights, candidates):
            if w is not None and (w.num_nodes != cand.size(0) or anchor.size(0) > w.num_nodes):
                raise ValueError(f"weights over {w.num_nodes} nodes do not fit {anchor.size(0)} anchors x "
                                 f"{cand.size(0)} candidates")
        weights = tuple(weights) if any(w is not None for w in weights) else None
    if chunk_size is None:
        num_candidates = sum(c.size(0) for c in candidates)
        entry = torch.finfo(_accumulation_dtype(anchor)).bits // 8
        buffers = 2 if weights is not None else 1  # the similarity blocks (and the weights' blocks)
        chunk_size = auto_chunk_size(anchor.size(0), buffers * num_candidates, memory_budget, bytes_per_entry=entry)
        if weights is not None and anchor.device.type == "cpu":
            chunk_size = min(chunk_size, max(128, auto_chunk_size(anchor.size(0), num_candidates,
                                                                  4 * _CPU_WEIGHTED_BLOCK_ELEMENTS)))
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    return _ChunkedLogSumExp.apply(float(tau), int(chunk_size), tuple(bool(e) for e in exclude_diagonal), weights,
                                   workspace, anchor, *candidates)


class _TwoViewLogSumExp(torch.autograd.Function):
    r"""Both directions of a two-view contrast in one pass; see :func:`two_view_logsumexp`.

    The cross block ``u v^T`` serves view 1 by rows and view 2 by columns. The intra-view blocks
    ``x x^T`` are symmetric: row chunk ``[a, b)`` computes only its strip of the upper triangle
    (columns ``a..N``), whose rows add to the chunk's own sums and whose columns past ``b`` to the
    later rows' (streamed like the cross block's columns); backward uses the same strips with
    :math:`P_{ik} + P_{ki}` per entry. Forward keeps four ``[chunk, N]`` buffers (cross block, its
    exponentials, the two intra-view strips) and backward two, each allocated once and reused for
    every chunk. When one chunk holds every anchor, forward keeps its blocks for backward instead
    of recomputing them."""

    @staticmethod
    def forward(ctx, tau: float, chunk_size: int, intra: bool, exclude_positive: bool,
                workspace: ChunkWorkspace | None, u: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        n = u.size(0)
        acc = _accumulation_dtype(u)
        shared = workspace or ChunkWorkspace()
        cross_rows = u.new_empty(n, dtype=acc)
        cross_cols = _ColumnLogSumExp(n, u, acc)
        intra_rows = [u.new_empty(n, dtype=acc) for _ in range(2 if intra else 0)]
        intra_cols = [_ColumnLogSumExp(n, u, acc) for _ in range(2 if intra else 0)]
        buffers, claim = shared.take(4 if intra else 2, min(chunk_size, n), n, u, acc)
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)
            rows, r = slice(start, stop), stop - start
            (c,) = _similarity_blocks(u[rows], rows, [v], [exclude_positive], tau, [buffers[0]])
            exps = buffers[1, :r]
            cross_cols.add(c, 0, exps)
            cross_rows[rows] = _row_logsumexp(c, exps)
            for side, x in enumerate((u, v) if intra else ()):
                strip = _upper_strip(x, start, stop, tau, buffers[2 + side])  # [r, N - start]
                intra_rows[side][rows] = _row_logsumexp(strip, _shaped(buffers[1], *strip.shape))
                if stop < n:  # entry (i, k), k >= stop, is row k's (k, i) too
                    intra_cols[side].add(strip[:, r:], stop, _shaped(buffers[1], r, n - stop))
        lse_u, lse_v = cross_rows, cross_cols.result()
        if intra:
            lse_u = torch.logaddexp(lse_u, torch.logaddexp(intra_rows[0], intra_cols[0].result()))
            lse_v = torch.logaddexp(lse_v, torch.logaddexp(intra_rows[1], intra_cols[1].result()))
        ctx.tau, ctx.chunk_size, ctx.intra, ctx.exclude_positive = tau, chunk_size, intra, exclude_positive
        ctx.workspace = shared
        # One chunk: its blocks (cross, u-u, v-v) are the whole similarity matrices; keep them.
        if chunk_size >= n and u.dtype == acc and any(ctx.needs_input_grad):
            ctx.blocks, ctx.scratch, ctx.claim = (buffers[0], *buffers[2:]), buffers[1:2], claim
        else:
            ctx.blocks, ctx.scratch, ctx.claim = None, None, None
            shared.release(claim)
        ctx.save_for_backward(lse_u, lse_v, u, v)
        return lse_u, lse_v

    @staticmethod
    def backward(ctx, grad_u_lse: Tensor, grad_v_lse: Tensor):
        lse_u, lse_v, u, v = ctx.saved_tensors
        tau, n, kept, shared = ctx.tau, u.size(0), ctx.blocks, ctx.workspace
        ctx.blocks = None  # consumed below: a second backward (retain_graph) recomputes
        acc = lse_u.dtype
        g_u = (grad_u_lse.to(acc) / tau) if grad_u_lse is not None else torch.zeros_like(lse_u)
        g_v = (grad_v_lse.to(acc) / tau) if grad_v_lse is not None else torch.zeros_like(lse_v)
        u_acc, v_acc = u.to(acc), v.to(acc)
        grad_u, grad_v = torch.zeros_like(u_acc), torch.zeros_like(v_acc)
        if kept is not None:  # the exponentials go into the slot forward used for its own
            buffers, claim = ctx.scratch, ctx.claim
            ctx.scratch = ctx.claim = None
        else:
            buffers, claim = shared.take(2, min(ctx.chunk_size, n), n, u, acc)
        for start in range(0, n, ctx.chunk_size):
            stop = min(start + ctx.chunk_size, n)
            rows, r = slice(start, stop), stop - start
            if kept is not None:
                c = kept[0]
            else:
                (c,) = _similarity_blocks(u[rows], rows, [v], [ctx.exclude_positive], tau, [buffers[1]])
            # d/dS_uv[i, k]: row softmax of view-1 anchor i plus column softmax of view-2 anchor k.
            p = torch.sub(c, lse_v[None, :], out=buffers[0, :r]).exp_().mul_(g_v[None, :])
            p += c.sub_(lse_u[rows, None]).exp_().mul_(g_u[rows, None])
            grad_u[rows].addmm_(p, v_acc)
            grad_v.addmm_(p.t(), u_acc[rows])
            for side, (x, x_acc, lse, g, grad) in enumerate(((u, u_acc, lse_u, g_u, grad_u),
                                                             (v, v_acc, lse_v, g_v, grad_v)) if ctx.intra else ()):
                strip = kept[1 + side] if kept is not None else _upper_strip(x, start, stop, tau, buffers[1])
                # Entry (i, k) of the strip stands for (i, k) and (k, i): P_ik + P_ki.
                by_row = torch.sub(strip, lse[rows, None], out=_shaped(buffers[0], *strip.shape)).exp_()
                q = strip.sub_(lse[None, start:]).exp_().mul_(g[None, start:]).add_(by_row.mul_(g[rows, None]))
                grad[rows].addmm_(q, x_acc[start:])
                if stop < n:
                    grad[stop:].addmm_(q[:, r:].t(), x_acc[rows])
        shared.release(claim)
        return None, None, None, None, None, grad_u.to(u.dtype), grad_v.to(v.dtype)


class _ColumnLogSumExp:
    """Streaming log-sum-exp per column over row blocks: a running maximum and the sum rescaled to it."""

    def __init__(self, n: int, like: Tensor, dtype: torch.dtype) -> None:
        self.max = like.new_full((n,), float("-inf"), dtype=dtype)
        self.sum = like.new_zeros(n, dtype=dtype)

    def add(self, block: Tensor, first: int, buffer: Tensor) -> None:
        """Add ``block [r, m]``'s columns to columns ``first .. first + m`` (``buffer``: ``[r, m]`` scratch)."""
        cols = slice(first, first + block.size(1))
        new_max = torch.maximum(self.max[cols], block.amax(dim=0))
        safe = torch.where(torch.isfinite(new_max), new_max, torch.zeros_like(new_max))
        self.sum[cols] = self.sum[cols] * (self.max[cols] - safe).exp() + \
            torch.sub(block, safe, out=buffer).exp_().sum(dim=0)
        self.max[cols] = new_max

    def result(self) -> Tensor:
        safe = torch.where(torch.isfinite(self.max), self.max, torch.zeros_like(self.max))
        return self.sum.log() + safe


def _shaped(buffer: Tensor, rows: int, cols: int) -> Tensor:
    """A contiguous ``[rows, cols]`` view of the start of a contiguous buffer."""
    return buffer.reshape(-1)[: rows * cols].view(rows, cols)


def _upper_strip(x: Tensor, start: int, stop: int, tau: float, buffer: Tensor) -> Tensor:
    """``x_i^T x_k / tau`` for ``i`` in ``[start, stop)`` and ``k >= start``, a row strip of the upper
    triangle of ``x x^T / tau`` with its diagonal ``-inf``, in ``buffer``: ``[stop - start, N - start]``."""
    r, m = stop - start, x.size(0) - start
    out = _shaped(buffer, r, m)
    if x.dtype == out.dtype:
        torch.mm(x[start:stop] / tau, x[start:].t(), out=out)
    else:
        out.copy_(x[start:stop] @ x[start:].t()).div_(tau)
    diagonal = torch.arange(r, device=x.device)
    out[diagonal, diagonal] = float("-inf")
    return out


def _row_logsumexp(block: Tensor, buffer: Tensor) -> Tensor:
    """``torch.logsumexp(block, dim=1)`` with the exponentials written into ``buffer`` (no allocation)."""
    m = block.amax(dim=1)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    return torch.sub(block, m[:, None], out=buffer[: block.size(0)]).exp_().sum(dim=1).log() + m


def two_view_logsumexp(u: Tensor, v: Tensor, tau: float, intra_view_negatives: bool = True,
                       exclude_positive: bool = False, chunk_size: int | None = None,
                       workspace: ChunkWorkspace | None = None) -> tuple[Tensor, Tensor]:
    r"""Denominators of both directions of a two-view contrast, sharing the cross-view block.

    .. math::
        \mathrm{lse}^{(1)}_i = \log\Big(\sum_{k} e^{s(u_i, v_k)} + \sum_{k \ne i} e^{s(u_i, u_k)}\Big),
        \quad
        \mathrm{lse}^{(2)}_k = \log\Big(\sum_{i} e^{s(u_i, v_k)} + \sum_{j \ne k} e^{s(v_k, v_j)}\Big)

    with :math:`s(a, b) = a^\top b / \tau`, the intra-view sums only when
    ``intra_view_negatives`` and the positive pair ``i = k`` of the cross sums left out when
    ``exclude_positive`` (DCL). The cross-view block :math:`u v^\top / \tau` is computed once per
    row chunk and serves view 1 by rows and view 2 by columns, whose log-sum-exp is accumulated
    over chunks with a streaming (running max, rescaled sum) update; the symmetric intra-view blocks
    are computed as the upper triangle only. Equivalent to two calls of :func:`chunked_logsumexp`
    with the work of 8 instead of 16 ``N x N x d`` products per forward + backward (7 when one
    chunk holds all anchors: its blocks are kept for backward);
    memory stays ``O(chunk_size * N)``, the chunk chosen within
    :data:`DEFAULT_MEMORY_BUDGET` unless ``chunk_size`` is given. ``workspace``: the caller's
    :class:`ChunkWorkspace`, reused across calls (a loss module passes its own).

    Shapes: ``u, v: [N, d]`` (normalised) -> two ``[N]`` tensors.
    """
    if u.shape != v.shape:
        raise ValueError(f"the two views must have the same shape, got {tuple(u.shape)} and {tuple(v.shape)}")
    n = u.size(0)
    if chunk_size is None:  # the forward's buffers: 4 [chunk, N] blocks (2 without intra-view negatives)
        entry = torch.finfo(_accumulation_dtype(u)).bits // 8
        chunk_size = auto_chunk_size(n, (4 if intra_view_negatives else 2) * n, bytes_per_entry=entry)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    return _TwoViewLogSumExp.apply(float(tau), int(chunk_size), bool(intra_view_negatives), bool(exclude_positive),
                                   workspace, u, v)
