"""Build feature dashboards: what makes each SAE latent fire, what it writes out, what it means.

Over annotated texts (training/annotated.py: conversations with topic, judged label, language,
model; plus prose), for every latent: the top activating windows and examples at lower activation
levels (tokens shaded by the latent's activation), an activation histogram, the density, the
median and 99th percentile of its non-zero activations (the steering sliders' marks), the output
tokens its decoder direction promotes and suppresses (W_dec -> final norm -> W_U), and an offline
label scored by detection on held-out records (core/labels.py), written into the SAE's card.

Written into `<sae>/dashboard/`: `features.safetensors`, `tokens.json`, `records.json` (the store
core/dashboard.py reads) and `index.html` (one page, open it in a browser).

SAEDashboard / sae-vis expect TransformerLens models and hub loading, so this is our own, small.

    python -m training dashboard --sae assets/organism/sae --subject organism
    python -m training dashboard --sae assets/sae/embedded
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

from core.atomic import staged_dir
from core.dashboard import (  # noqa: F401  (re-exported: the reading half lives in core)
    DASHBOARD_DIR,
    HTML_FILE,
    N_BINS,
    RECORDS_FILE,
    STORE_FILE,
    TOKENS_FILE,
    FeatureDashboard,
    TopContext,
    _read,
    load_feature_dashboard,
    load_store,
    read_card,
)
from core.errors import BadInputError
from core.splice import residual_at
from training.annotated import Record, text_records

N_TOP = 8  # top windows kept per latent
N_LEVELS, PER_LEVEL = 3, 2  # lower activation levels shown, and windows per level
LEFT, RIGHT = 9, 2  # tokens shown before / after the example token
N_LOGITS = 10
MAX_RECORD_TOKENS = 192


# ---------------------------------------------------------------- the scanned tokens


def encode_records(
    tokenizer, chat_text, records: list[Record], max_len: int = MAX_RECORD_TOKENS, seen=None
):
    """Records -> (flat token ids [N], record starts [R+1], regions [N]) as numpy arrays.

    Regions: 1 chat template, 2 prompt, 3 answer, 4 plain text, 5 a record with exact token ids
    (a training window, training/annotated.py window_records, or a sampled text,
    training/sampled_pool.py); 0 marks tokens left out of every
    statistic: special tokens (attention sinks with outsized activations, as in training) and
    tokens whose whole prefix was already scanned (same prefix, same activation: a prompt that
    two models answered counts once, and so does the shared chat template). `seen`, a set of
    prefix hashes, carries that over from an earlier call, and gains this call's prefixes.
    """
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    sink = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else None
    ids_all, regions_all, starts = [], [], [0]
    seen = set() if seen is None else seen
    for rec in records:
        if rec.ids is not None:  # whole, as trained on; its first token is BOS or a sink
            ids, regions = list(rec.ids), [0] + [5] * (len(rec.ids) - 1)
        elif rec.prompt is not None:
            chat = chat_text(rec.prompt)
            at = chat.rfind(rec.prompt)
            enc = tokenizer(chat, add_special_tokens=False, return_offsets_mapping=True)
            ids = list(enc["input_ids"])
            regions = [
                2 if at <= a and b <= at + len(rec.prompt) and b > a else 1
                for a, b in enc["offset_mapping"]
            ]
            answer = tokenizer(rec.text, add_special_tokens=False)["input_ids"]
            ids += answer
            regions += [3] * len(answer)
        else:
            body = tokenizer(rec.text, add_special_tokens=False)["input_ids"]
            ids = ([sink] if sink is not None else []) + body
            regions = ([0] if sink is not None else []) + [4] * len(body)
        if rec.ids is None:
            ids, regions = ids[:max_len], regions[:max_len]
        prefix = 0
        for i, tid in enumerate(ids):
            prefix = hash((prefix, tid))
            if tid in special or prefix in seen:
                regions[i] = 0
            seen.add(prefix)
        ids_all += ids
        regions_all += regions
        starts.append(starts[-1] + len(ids))
    return (
        np.asarray(ids_all, dtype=np.int32),
        np.asarray(starts, dtype=np.int64),
        np.asarray(regions_all, dtype=np.uint8),
    )


def hook_activations(subject, hook_name: str, tokens: torch.Tensor) -> torch.Tensor:
    """Residual activations [batch, pos, d_model] at `hook_name`; the forward stops there."""
    return residual_at(subject, hook_name, tokens.to(subject.device)).float()


@torch.no_grad()
def firings(sae, subject, tokens, starts, regions, batch_size: int = 16):
    """All non-zero (flat token, feature, value) over the records, counted tokens only.

    Records run one per row (right-padded, so causal attention never sees the padding); returns
    numpy arrays sorted by flat token index.
    """
    lengths = np.diff(starts)
    order = np.argsort(-lengths, kind="stable")  # similar lengths share a batch: less padding
    pad = subject.tokenizer.pad_token_id or 0
    tok_out, feat_out, val_out = [], [], []
    for b in range(0, len(order), batch_size):
        rows = order[b : b + batch_size]
        width = int(lengths[rows].max())
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, r in enumerate(rows):
            s, e = int(starts[r]), int(starts[r + 1])
            ids[j, : e - s] = torch.from_numpy(tokens[s:e].astype(np.int64))
            mask[j, : e - s] = 1
        h = residual_at(subject, sae.hook_name, ids.to(subject.device), mask.to(subject.device))
        acts = sae.encode(h.float().to(sae.W_dec.device)).float().cpu()  # [b, pos, d_sae]
        for j, r in enumerate(rows):
            s, e = int(starts[r]), int(starts[r + 1])
            a = acts[j, : e - s]
            a[torch.from_numpy(regions[s:e] == 0)] = 0
            nz = a.nonzero()
            tok_out.append(nz[:, 0].numpy() + s)
            feat_out.append(nz[:, 1].numpy())
            val_out.append(a[nz[:, 0], nz[:, 1]].numpy())
        print(f"dashboard: {min(b + batch_size, len(order))}/{len(order)} records", file=sys.stderr)
    tok = np.concatenate(tok_out).astype(np.int64)
    feat = np.concatenate(feat_out).astype(np.int64)
    val = np.concatenate(val_out).astype(np.float32)
    o = np.argsort(tok, kind="stable")
    return tok[o], feat[o], val[o]


@torch.no_grad()
def logit_effects(sae, subject, n: int = N_LOGITS, chunk: int = 512):
    """Top promoted / suppressed token ids and values per latent: W_dec, final norm scale, W_U."""
    w_u = subject.model.get_output_embeddings().weight.float()  # [vocab, d_model]
    norm = getattr(getattr(subject.model, "model", None), "norm", None)
    gamma = norm.weight.float() if norm is not None and hasattr(norm, "weight") else None
    out = {k: [] for k in ("pos_ids", "pos_vals", "neg_ids", "neg_vals")}
    w_dec = sae.W_dec.float().to(w_u.device)  # [d_sae, d_model]
    for start in range(0, w_dec.shape[0], chunk):
        d = w_dec[start : start + chunk]
        if gamma is not None:
            d = d * gamma  # RMSNorm's learned scale sits between the residual and W_U
        logits = d @ w_u.T  # [chunk, vocab]
        pos = logits.topk(n, dim=-1)
        neg = (-logits).topk(n, dim=-1)
        out["pos_ids"].append(pos.indices.cpu())
        out["pos_vals"].append(pos.values.cpu())
        out["neg_ids"].append(neg.indices.cpu())
        out["neg_vals"].append(-neg.values.cpu())
    return {k: torch.cat(v).numpy() for k, v in out.items()}


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level BPE alphabet, reversed: token characters back to bytes."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), 256)]
    chars, n = list(keep), 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(keep, chars, strict=True)}


def token_strings(tokenizer, ids) -> tuple[dict[int, str], dict[int, str]]:
    """(decoded text of each id, hex bytes of ids that decode to part of a character)."""
    text = {int(i): tokenizer.decode([int(i)]) for i in ids}
    table = _byte_decoder()
    partial = {}
    for i, s in text.items():
        if "\ufffd" in s:
            piece = tokenizer.convert_ids_to_tokens(i) or ""
            if piece and all(c in table for c in piece):
                partial[i] = bytes(table[c] for c in piece).hex()
    return text, partial


# ---------------------------------------------------------------- per-latent statistics


def _usual_range(val, order, starts, counts) -> tuple[np.ndarray, np.ndarray]:
    """(median, p99) of each latent's non-zero activations; `order` sorts the firings by latent,
    then value, and latent f's run in it begins at starts[f] and is counts[f] long."""
    median = np.zeros(len(counts), np.float32)
    p99 = np.zeros(len(counts), np.float32)
    live = counts > 0
    median[live] = val[order[starts[live] + (counts[live] - 1) // 2]]
    p99[live] = val[order[starts[live] + np.floor(0.99 * (counts[live] - 1)).astype(int)]]
    return median, p99


def feature_stats(tok, feat, val, d_sae: int, n_counted: int, seed: int = 0) -> dict:
    """Density, max, histogram, median, p99 and example token slots of every latent."""
    counts = np.bincount(feat, minlength=d_sae)
    order = np.lexsort((val, feat))  # by feature, then ascending value
    starts = np.cumsum(counts) - counts
    max_act = np.zeros(d_sae, np.float32)
    np.maximum.at(max_act, feat, val)
    bins = np.clip((val / np.maximum(max_act[feat], 1e-12) * N_BINS).astype(int), 0, N_BINS - 1)
    hist = np.bincount(feat * N_BINS + bins, minlength=d_sae * N_BINS).reshape(d_sae, N_BINS)
    median, p99 = _usual_range(val, order, starts, counts)
    live = counts > 0
    n_ex = N_TOP + N_LEVELS * PER_LEVEL
    ex_pos = np.full((d_sae, n_ex), -1, np.int64)  # index into the sorted firings
    ex_level = np.zeros((d_sae, n_ex), np.uint8)
    rng = np.random.default_rng(seed)
    for f in np.flatnonzero(live):
        s, n = int(starts[f]), int(counts[f])
        top = order[s + max(n - N_TOP, 0) : s + n][::-1]
        ex_pos[f, : len(top)] = top
        rest = n - len(top)  # ranks 0..rest-1 hold the lower activations, ascending
        slot = len(top)
        for level in range(1, N_LEVELS + 1):  # 1: 50-75%, 2: 25-50%, 3: 0-25% of the rest
            lo, hi = rest * (3 - level) // 4, rest * (4 - level) // 4
            if hi <= lo:
                continue
            pick = rng.choice(np.arange(lo, hi), size=min(PER_LEVEL, hi - lo), replace=False)
            for p in sorted(pick, reverse=True):
                ex_pos[f, slot], ex_level[f, slot] = order[s + p], level
                slot += 1
    return {
        "density": (counts / max(n_counted, 1)).astype(np.float32),
        "max_activation": max_act,
        "median": median,
        "p99": p99,
        "hist_counts": hist.astype(np.uint16 if hist.max(initial=0) < 2**16 else np.int32),
        "ex_pos": ex_pos,
        "ex_level": ex_level,
    }


def example_windows(tok, feat, val, ex_pos, max_act, starts, d_sae: int):
    """uint8 activations (255 = the latent's max) over each example's window, from the firings."""
    n_feat, n_ex = ex_pos.shape
    width = LEFT + 1 + RIGHT
    flat = np.where(ex_pos >= 0, tok[np.maximum(ex_pos, 0)], 0)  # [F, n_ex] token index
    rec = np.searchsorted(starts, flat, side="right") - 1
    w_start = np.maximum(starts[rec], flat - LEFT)
    w_end = np.minimum(starts[rec + 1], flat + RIGHT + 1)
    pos = w_start[..., None] + np.arange(width)  # [F, n_ex, width]
    inside = (pos < w_end[..., None]) & (ex_pos >= 0)[..., None]
    keys = tok * d_sae + feat
    key_order = np.argsort(keys, kind="stable")
    sorted_keys = keys[key_order]
    query = pos * d_sae + np.arange(n_feat)[:, None, None]
    found = np.minimum(np.searchsorted(sorted_keys, query.reshape(-1)), len(sorted_keys) - 1)
    hit = (sorted_keys[found] == query.reshape(-1)).reshape(query.shape) & inside
    values = np.where(hit, val[key_order[found]].reshape(query.shape), 0.0)
    scaled = np.round(values / np.maximum(max_act, 1e-12)[:, None, None] * 255)
    return flat, np.clip(scaled, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- building


def as_records(texts) -> list[Record]:
    """Records as given; plain strings become text records (a training run's own texts)."""
    if all(isinstance(t, Record) for t in texts):
        return list(texts)
    return text_records([str(t) for t in texts])


def _top_up(sae, subject, records, fired, starts, pool, need, context_size):
    """Add the pool records rare features need (training/rare_records.py); only the added
    records run through the model, the sample's firings are kept."""
    from core.labels import token_heldout
    from training.rare_records import records_per_feature, top_up

    tok, feat, val = fired
    heldout = token_heldout([r.meta for r in records], starts)
    counts = records_per_feature(tok, feat, starts, sae.d_sae, heldout)
    added, report = top_up(sae, subject, counts, records, as_records(list(pool)), need,
                           context_size)  # fmt: skip
    n = len(records)
    records = records + added
    encoded = encode_records(  # whole list: the added records' regions see the sample's prefixes
        subject.tokenizer, subject.chat_text, records, max_len=max(context_size, 16)
    )
    tok_ids, starts, regions = encoded
    if added:
        s0 = int(starts[n])
        t2, f2, v2 = firings(sae, subject, tok_ids[s0:], starts[n:] - s0, regions[s0:])
        tok, feat, val = (np.concatenate(p) for p in ((tok, t2 + s0), (feat, f2), (val, v2)))
    return records, encoded, (tok, feat, val), report


MIN_SAMPLE_FIRINGS = 20


def _sample_ranges(stats: dict, fired, d_sae: int) -> None:
    """Median and p99 from the sample alone where a latent fires there often enough.

    Top-up records join because a rare latent fires in them, so for every other latent they are
    a biased draw (training windows, for one, hold activations the app's chats rarely reach);
    the app's colouring threshold and the sliders' marks should describe ordinary text. Density,
    histogram and max stay those of every scanned token, one count over one total."""
    _, feat, val = fired
    counts = np.bincount(feat, minlength=d_sae)
    order = np.lexsort((val, feat))
    median, p99 = _usual_range(val, order, np.cumsum(counts) - counts, counts)
    enough = counts >= MIN_SAMPLE_FIRINGS
    stats["median"] = np.where(enough, median, stats["median"])
    stats["p99"] = np.where(enough, p99, stats["p99"])


def build_dashboard(
    sae,
    subject,
    texts,
    sae_dir: str | Path,
    n_tokens: int = 100_000,
    context_size: int = MAX_RECORD_TOKENS,
    label: bool = True,
    pool=None,
    need: int = 8,
) -> Path:
    """Compute the dashboard of `sae` (a core.sae.LoadedSae) over `texts` (Records or strings,
    until about `n_tokens` tokens), write store + HTML, and the offline labels into card.json.
    With a `pool` of further records, those in which a feature firing in fewer than `need`
    records fires are added (training/rare_records.py), so rare features get labels too."""
    records = as_records(list(texts))
    tok_ids, starts, regions = encode_records(
        subject.tokenizer, subject.chat_text, records, max_len=max(context_size, 16)
    )
    keep = int(np.searchsorted(starts, n_tokens, side="right"))  # whole records only
    records = records[: max(keep, 1)]
    tok_ids, regions = tok_ids[: starts[len(records)]], regions[: starts[len(records)]]
    starts = starts[: len(records) + 1]
    if int((regions > 0).sum()) == 0:
        raise BadInputError("the dashboard texts are empty after tokenisation")
    tok, feat, val = firings(sae, subject, tok_ids, starts, regions)
    d_sae = sae.d_sae
    top_up_report = None
    sample = (tok, feat, val)
    if pool:
        records, (tok_ids, starts, regions), (tok, feat, val), top_up_report = _top_up(
            sae, subject, records, (tok, feat, val), starts, pool, need, context_size
        )
    n_counted = int((regions > 0).sum())
    stats = feature_stats(tok, feat, val, d_sae, n_counted)
    if top_up_report:
        _sample_ranges(stats, sample, d_sae)
    ex_pos, ex_level = stats.pop("ex_pos"), stats.pop("ex_level")
    ex_token, ex_window = example_windows(
        tok, feat, val, ex_pos, stats["max_activation"], starts, d_sae
    )
    ex_value = np.where(ex_pos >= 0, val[np.maximum(ex_pos, 0)], 0).astype(np.float16)
    ex_token = np.where(ex_pos >= 0, ex_token, -1)
    effects = logit_effects(sae, subject)
    used = set(np.unique(tok_ids).tolist()) | set(np.unique(effects["pos_ids"]).tolist())
    used |= set(np.unique(effects["neg_ids"]).tolist())
    tok_text, partial = token_strings(subject.tokenizer, sorted(used))

    final = Path(sae_dir) / DASHBOARD_DIR
    from safetensors.numpy import save_file

    with staged_dir(final) as out:  # renamed in whole: the app never reads half a dashboard
        save_file(
            {
                "tokens": tok_ids,
                "record_start": starts.astype(np.int64),
                "region": regions,
                **stats,
                "ex_token": ex_token.astype(np.int32),
                "ex_value": ex_value,
                "ex_level": ex_level,
                "ex_window": ex_window,
                "pos_ids": effects["pos_ids"].astype(np.int32),
                "pos_vals": effects["pos_vals"].astype(np.float16),
                "neg_ids": effects["neg_ids"].astype(np.int32),
                "neg_vals": effects["neg_vals"].astype(np.float16),
            },
            str(out / STORE_FILE),
            metadata={
                "version": "2",
                "n_tokens": str(n_counted),
                "n_records": str(len(records)),
                "hook_name": sae.hook_name,
                "left": str(LEFT),
                "right": str(RIGHT),
            },
        )
        tokens_json = {"text": tok_text, "bytes": partial}
        (out / TOKENS_FILE).write_text(json.dumps(tokens_json, ensure_ascii=False))
        (out / RECORDS_FILE).write_text(json.dumps([r.meta for r in records], ensure_ascii=False))
        if label:
            from core.labels import Evidence, label_features, write_labels

            special = tuple(getattr(subject.tokenizer, "all_special_ids", []) or [])
            evidence = Evidence(tok_ids, regions, starts, [r.meta for r in records], tok_text,
                                tok, feat, val, d_sae, special)  # fmt: skip
            labels, summary = label_features(evidence)
            if top_up_report is not None:
                summary["top_up"] = top_up_report
            write_labels(Path(sae_dir), labels, summary)
        from training.dashboard_html import write_html

        _read.cache_clear()
        write_html(Path(sae_dir), out, out / HTML_FILE)
    _read.cache_clear()
    return final


def relabel_dashboard(sae, subject, sae_dir: str | Path) -> dict:
    """Make the offline labels again over the records the stored dashboard holds, and render its
    page again: after a change to how labels are made, without scanning the pool anew. The
    firings are computed again from the stored tokens, so the labels are the ones a full build
    with the same records would make, up to the numerics of other batch shapes (an activation
    at the TopK threshold may fall either way). Returns the new summary."""
    from core.labels import label_features, write_labels
    from training.dashboard_html import write_html
    from training.llm_labels import evidence_from_store

    sae_dir = Path(sae_dir)
    before = read_card(sae_dir).get("labels_summary", {}).get("offline", {})
    labels, summary = label_features(evidence_from_store(subject, sae, sae_dir))
    if "top_up" in before:  # the records are the ones that top-up chose
        summary["top_up"] = before["top_up"]
    write_labels(sae_dir, labels, summary)
    folder = sae_dir / DASHBOARD_DIR
    write_html(sae_dir, folder, folder / HTML_FILE)
    return summary
