"""Rare features get their own records: top the dashboard sample up from a larger pool.

A fixed sample of ~100k tokens leaves the rarest live features with no firing at all, or too few
to label and score (a label is made on the explain half of the records and scored on the held-out
half). Scanning the whole pool for every dashboard would make it large and slow; instead the pool
is scanned once, and only the records in which a short feature fires are added, until every
feature fires in `need` records or the pool runs out:

    added, report = top_up(sae, subject, counts, records, pool, need=8)
"""

import sys

import numpy as np

from training.dashboard import MAX_RECORD_TOKENS, encode_records, firings


def records_per_feature(tok, feat, starts, d_sae: int) -> np.ndarray:
    """[d_sae] how many records each feature fires in, from the firings of those records."""
    rec = np.searchsorted(starts, tok, side="right") - 1
    pairs = np.unique(rec.astype(np.int64) * d_sae + feat.astype(np.int64))
    return np.bincount(pairs % d_sae, minlength=d_sae)


def record_features(sae, subject, records, context_size: int = MAX_RECORD_TOKENS) -> list[set]:
    """The set of features that fire (on counted tokens) in each record."""
    if not records:
        return []
    ids, starts, regions = encode_records(
        subject.tokenizer, subject.chat_text, records, max_len=max(context_size, 16)
    )
    tok, feat, _ = firings(sae, subject, ids, starts, regions)
    rec = np.searchsorted(starts, tok, side="right") - 1
    out: list[set] = [set() for _ in records]
    for r, f in set(zip(rec.tolist(), feat.tolist(), strict=True)):
        out[r].add(f)
    return out


def top_up(
    sae,
    subject,
    counts: np.ndarray,
    records: list,
    pool: list,
    need: int = 8,
    context_size: int = MAX_RECORD_TOKENS,
    chunk: int = 256,
) -> tuple[list, dict]:
    """The pool records (not already among `records`) in which a feature firing in fewer than
    `need` records fires; `counts` [d_sae] is how many of `records` each feature fires in
    (records_per_feature). Also a report of what was scanned, added and is still short."""
    counts = counts.copy()
    before_silent = int((counts == 0).sum())
    before_short = int((counts < need).sum())
    seen = {(r.prompt, r.text) for r in records}
    pool = [r for r in pool if (r.prompt, r.text) not in seen]
    added, scanned = [], 0
    for start in range(0, len(pool), chunk):
        if not (counts < need).any():
            break
        part = pool[start : start + chunk]
        scanned += len(part)
        for rec, feats in zip(part, record_features(sae, subject, part, context_size), strict=True):
            if any(counts[f] < need for f in feats):
                added.append(rec)
                counts[list(feats)] += 1
        print(
            f"rare top-up: scanned {scanned}/{len(pool)} pool records, added {len(added)}, "
            f"{int((counts < need).sum())} features still under {need}",
            file=sys.stderr,
            flush=True,
        )
    report = {
        "need": need,
        "pool_records": len(pool),
        "scanned": scanned,
        "added": len(added),
        "silent_before": before_silent,
        "silent_after": int((counts == 0).sum()),
        "short_before": before_short,
        "short_after": int((counts < need).sum()),
    }
    return added, report
