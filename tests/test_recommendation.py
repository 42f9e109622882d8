"""Full-ranking Recall@K / NDCG@K against a brute-force computation."""
import math

import pytest
import torch

from graphcl.errors import InvalidArgumentError
from graphcl.eval.recommendation import PairIndex, evaluate_ranking, top_k_items


def brute_force(user_emb, item_emb, heldout, known, ks):
    scores = user_emb @ item_emb.t()
    known_set = {tuple(p) for k in known for p in k.t().tolist()}
    truth = {}
    for u, i in heldout.t().tolist():
        truth.setdefault(u, set()).add(i)
    out = {f"{m}_{k}": [] for k in ks for m in ("recall", "ndcg")}
    for u, items in truth.items():
        candidates = [i for i in range(item_emb.size(0)) if (u, i) not in known_set]
        ranked = sorted(candidates, key=lambda i: -float(scores[u, i]))
        for k in ks:
            top = ranked[:k]
            hits = [1.0 if i in items else 0.0 for i in top]
            out[f"recall_{k}"].append(sum(hits) / len(items))
            dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
            idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(items))))
            out[f"ndcg_{k}"].append(dcg / idcg)
    return {key: sum(v) / len(v) for key, v in out.items()}


@pytest.mark.parametrize("seed,batch", [(0, 3), (1, 100), (2, 1)])
def test_recall_and_ndcg_equal_brute_force(seed, batch):
    g = torch.Generator().manual_seed(seed)
    m, n = 17, 30
    user_emb, item_emb = torch.randn(m, 4, generator=g), torch.randn(n, 4, generator=g)
    keys = torch.randperm(m * n, generator=g)[:200]
    pairs = torch.stack([keys // n, keys % n])
    train, val, test = pairs[:, :120], pairs[:, 120:150], pairs[:, 150:]
    for heldout, known in ((val, [train]), (test, [train, val])):
        got = evaluate_ranking(user_emb, item_emb, heldout, known, ks=(3, 5), batch_size=batch)
        expected = brute_force(user_emb, item_emb, heldout, known, (3, 5))
        assert got == pytest.approx(expected, abs=1e-12)


def test_known_items_are_never_ranked_and_bad_k_is_refused():
    user_emb, item_emb = torch.ones(2, 1), torch.arange(5.0)[:, None]  # higher item id, higher score
    known = PairIndex(torch.tensor([[0, 0], [4, 3]]), 2)
    assert torch.equal(top_k_items(user_emb, item_emb, 2, known), torch.tensor([[2, 1], [4, 3]]))
    with pytest.raises(InvalidArgumentError, match="exceeds"):
        top_k_items(user_emb, item_emb, 6)
    with pytest.raises(InvalidArgumentError, match="no user"):
        evaluate_ranking(user_emb, item_emb, torch.zeros(2, 0, dtype=torch.long), [torch.tensor([[0], [1]])], ks=(2,))
