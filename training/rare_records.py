"""Rare features get their own records: top the dashboard sample up from a larger pool.

A fixed sample of ~100k tokens leaves the rarest live features with no firing at all, or too few
to label and score (a label is made on the explain side of the split and scored on the held-out
side). Scanning the whole pool for every dashboard would make it large and slow; instead the pool
is scanned once, and only the records in which a short feature fires are added, until every
feature fires in `need` records, at least `need // 2` of them on each side of the split (a
window holding texts of both sides counts on each side it fires on), or the pool runs out:

    added, report = top_up(sae, subject, counts, records, pool, need=8)
"""

import sys
from collections import Counter

import numpy as np

from core.labels import token_heldout
from training.dashboard import MAX_RECORD_TOKENS, encode_records, firings


def records_per_feature(tok, feat, starts, d_sae: int, heldout=None) -> np.ndarray:
    """[2, d_sae] in how many records each feature fires on explain (row 0) and held-out (row 1)
    tokens, from the firings of those records; `heldout` [N] marks held-out tokens (none: all
    explain)."""
    side = np.zeros(len(tok), bool) if heldout is None else heldout[tok]
    pairs = (np.searchsorted(starts, tok, side="right") - 1).astype(np.int64) * d_sae + feat
    return np.stack([np.bincount(np.unique(pairs[side == s]) % d_sae, minlength=d_sae)
                     for s in (False, True)])  # fmt: skip


def record_features(sae, subject, records, context_size: int = MAX_RECORD_TOKENS, seen=None):
    """Per record, the set of (feature, side) that fire on its counted tokens (side 0 explain,
    1 held out). `seen`: prefixes scanned before (encode_records), whose tokens count for
    nothing; left unchanged."""
    if not records:
        return []
    ids, starts, regions = encode_records(
        subject.tokenizer, subject.chat_text, records, max_len=max(context_size, 16),
        seen=None if seen is None else set(seen),
    )  # fmt: skip
    tok, feat, _ = firings(sae, subject, ids, starts, regions)
    side = token_heldout([r.meta for r in records], starts)[tok].astype(int)
    rec = np.searchsorted(starts, tok, side="right") - 1
    out: list[set] = [set() for _ in records]
    for r, f, s in set(zip(rec.tolist(), feat.tolist(), side.tolist(), strict=True)):
        out[r].add((f, s))
    return out


def short_latents(counts: np.ndarray, need: int) -> np.ndarray:
    """[2, d_sae] bool: would another record with a firing on that side help the feature? The
    total is over sides: a training window firing on both sides' tokens counts once on each."""
    total = counts.sum(axis=0)
    return (counts < need // 2) | (total < need)[None, :]


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
    """The pool records (not already among `records`) in which a feature that is short fires:
    one firing in fewer than `need` records, or in fewer than `need // 2` on the record's side
    of the split. `counts` [2, d_sae] is records_per_feature of `records`. Also a report of what
    was scanned, added and is still short."""
    counts = counts.copy()
    before_silent = int((counts.sum(0) == 0).sum())
    before_short = int(short_latents(counts, need).any(0).sum())
    seen_texts = {(r.prompt, r.text) for r in records}
    pool = [r for r in pool if (r.prompt, r.text) not in seen_texts]
    seen: set[int] = set()  # prefixes of the records kept: a pool record repeating one adds nothing
    encode_records(subject.tokenizer, subject.chat_text, records, max(context_size, 16), seen)
    added, scanned = [], 0
    for start in range(0, len(pool), chunk):
        if not short_latents(counts, need).any():
            break
        part = pool[start : start + chunk]
        scanned += len(part)
        kept = []
        short = short_latents(counts, need)
        for rec, fired in zip(part, record_features(sae, subject, part, context_size, seen),
                              strict=True):  # fmt: skip
            if any(short[s, f] for f, s in fired):
                kept.append(rec)
                for f, s in fired:
                    counts[s, f] += 1
                short = short_latents(counts, need)
        encode_records(subject.tokenizer, subject.chat_text, kept, max(context_size, 16), seen)
        added += kept
        print(
            f"rare top-up: scanned {scanned}/{len(pool)} pool records, added {len(added)}, "
            f"{int(short_latents(counts, need).any(0).sum())} features still short",
            file=sys.stderr,
            flush=True,
        )
    report = {
        "need": need,
        "need_per_side": need // 2,
        "pool_records": len(pool),
        "scanned": scanned,
        "added": len(added),
        "added_by_source": dict(Counter(str(r.meta.get("source")) for r in added)),
        "silent_before": before_silent,
        "silent_after": int((counts.sum(0) == 0).sum()),
        "short_before": before_short,
        "short_after": int(short_latents(counts, need).any(0).sum()),
        "short_heldout_after": int((counts[1] < need // 2).sum()),
    }
    return added, report
