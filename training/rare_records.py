"""Rare features get their own records: top the dashboard sample up from a larger pool.

A fixed sample of ~100k tokens leaves the rarest live features with no firing at all, or too few
to label and score (a label is made on the explain half of the records and scored on the held-out
half). Scanning the whole pool for every dashboard would make it large and slow; instead the pool
is scanned once, and only the records in which a short feature fires are added, until every
feature fires in `need` records or the pool runs out:

    records, report = top_up(sae, subject, records, pool, need=8)
"""

import sys

import numpy as np

from training.dashboard import MAX_RECORD_TOKENS, encode_records, firings


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
    records: list,
    pool: list,
    need: int = 8,
    context_size: int = MAX_RECORD_TOKENS,
    chunk: int = 256,
) -> tuple[list, dict]:
    """`records` plus the pool records in which a feature firing in fewer than `need` records
    fires; a report of what was scanned, added and is still short."""
    counts = np.zeros(sae.d_sae, dtype=np.int64)
    for feats in record_features(sae, subject, records, context_size):
        counts[list(feats)] += 1
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
            short = [f for f in feats if counts[f] < need]
            if short:
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
    return records + added, report
