"""Near-duplicate removal and the diversity number: cosine similarity of MiniLM embeddings.

Greedy and order-preserving: a candidate is kept when its cosine similarity to every prompt kept
so far (stored earlier or kept in this run) is at most the threshold. The same candidates in the
same order give the same result, which is what makes the prompt stage resumable.

    python -c "from data_builder.dedupe import greedy_dedupe; help(greedy_dedupe)"
"""

import numpy as np


def greedy_dedupe(
    vecs: np.ndarray, kept: np.ndarray | None, threshold: float, room: int | None = None
) -> tuple[list[int], np.ndarray, int]:
    """Indices of `vecs` [n, d] to keep, the updated kept matrix [k, d], and how many were seen.

    `kept` holds unit vectors already in the store; `room` caps how many new rows are kept.
    """
    kept = np.zeros((0, vecs.shape[1]), dtype=np.float32) if kept is None else kept
    keep: list[int] = []
    new_rows: list[np.ndarray] = []
    seen = 0
    for i, vec in enumerate(vecs):
        if room is not None and len(keep) >= room:
            break
        seen += 1
        best = float((kept @ vec).max()) if len(kept) else -1.0
        if new_rows:
            best = max(best, float((np.stack(new_rows) @ vec).max()))
        if best <= threshold:
            keep.append(i)
            new_rows.append(vec)
    if new_rows:
        kept = np.concatenate([kept, np.stack(new_rows)])
    return keep, kept, seen


def mean_pairwise_cosine(vecs: np.ndarray, max_rows: int = 3000, seed: int = 0) -> float | None:
    """Mean cosine similarity over distinct pairs (a random subset above `max_rows` rows).

    The original study measured ~0.7 on its prompts and wanted lower: lower is more diverse.
    """
    if len(vecs) < 2:
        return None
    if len(vecs) > max_rows:
        pick = np.random.default_rng(seed).choice(len(vecs), max_rows, replace=False)
        vecs = vecs[pick]
    sims = vecs @ vecs.T  # [n, n]
    n = len(vecs)
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))
