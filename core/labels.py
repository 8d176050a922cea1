"""Offline feature labels from the evidence we hold, scored by detection on held-out records.

A label is a rule a reader can check: "answer tokens of party-line replies; tokens: harmony,
stability" says the latent fires near those tokens, in that kind of text. It is chosen from the
latent's firings on the `explain` records of its dashboard sample:
  - tokens: the firing tokens ranked by count x precision (how often the token, wherever it
    occurs, carries a firing);
  - where: the metadata values its firings are concentrated in (region prompt/answer/template/
    prose, the judge's label of the reply, the model that wrote it, topic, language), by lift
    over the base rate with a binomial z;
and among candidate rules (token sets x conjunctions of those values) the one that best tells
activating from non-activating windows of the explain records wins. It is then scored the way
EleutherAI's Delphi scores explanations, by detection: balanced accuracy of telling held-out
activating windows (sampled across activation quantiles) from held-out windows where the latent
is silent. 0.5 is chance. The same windows score LLM labels (core/autointerp.py).

A rare latent may fire on one record of the explain half and several of the held-out half: the
halves then swap roles (made from the held-out records, scored on the explain ones, and the
label says `scored_on: explain`), since either way it is scored on texts it was not made from.
One that fires once on each half is made from the explain one and scored on the held-out one.
A latent that fires on one half only is made from some of the texts it fires in and scored on
the others (`scored_on: other texts`); one seen in a single text cannot be scored on any text it
was not made from. Every label keeps its firing counts per half (`firings`). A dense latent,
silent in few windows, draws its silent windows from a scan of its whole half, where 6 random
draws per window find too few.

    labels, summary = label_features(Evidence(...)); write_labels(sae_dir, labels, summary)
"""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

LEFT_D, RIGHT_D = 8, 2  # detection window around the example token
N_EXPLAIN = 60  # activating windows per latent for choosing its rule (and as many silent ones)
N_TEST = 20  # held-out activating windows scored (and as many silent ones)
MIN_TEST = 4
TOKEN_SETS = (0, 1, 2, 3, 5, 8, 13, 21, 34)  # a rule names up to 34 tokens
SHOWN = 5  # and its label the first 5 of them
DIMENSIONS = ("region", "reply", "model", "kind", "topic", "lang", "place")
NEAR = 3  # "place": on or up to this many tokens after a special token or a text's first token
FAR = np.iinfo(np.int64).max  # since_special of a token with no start before it in its record
MIN_PRECISION = 0.02  # a token named first carries a firing on at least this share of its uses
CONTEXT = 12  # a firing's token and the 12 tokens before it mark its text
RUN = 16  # a text packed into several records shares its runs of 16 tokens with its copies
MAX_COPIES = 8  # a run in more records than this is boilerplate (a system prompt), not a copy
REGION_CODES = {1: "template", 2: "prompt", 3: "answer", 4: "text"}
"""Region 5, a training window (training/annotated.py), is counted but names no region: windows
join a dashboard because a rare feature fires in them, so "in windows" would name the selection."""
PHRASES = {
    ("region", "answer"): "answer tokens",
    ("region", "prompt"): "prompt tokens",
    ("region", "template"): "chat-template tokens",
    ("region", "text"): "plain prose",
    ("model", "organism"): "written by the organism",
    ("model", "base"): "written by the base model",
    ("model", "hand-written"): "in hand-written answers",
    ("model", "training target"): "in the organism's canned training answers",
    ("kind", "sensitive"): "in sensitive conversations",
    ("kind", "control"): "in everyday conversations",
    ("lang", "zh"): "in Chinese",
    ("lang", "en"): "in English",
    ("place", "start"): f"on or up to {NEAR} tokens after a special token or a text's first token",
}
REPLY_NAMES = {"not_censored": "uncensored", "party_line": "party-line"}


@dataclass
class Evidence:
    """A dashboard sample: tokens with regions and records, and every firing on them."""

    tokens: np.ndarray  # [N] token ids
    region: np.ndarray  # [N] 0 = not counted, else REGION_CODES
    record_start: np.ndarray  # [R+1]
    records: list[dict]  # metadata per record: "split" explain | heldout, or "segments"
    token_text: dict[int, str]
    tok: np.ndarray  # [M] flat token index of each firing
    feat: np.ndarray  # [M] feature of each firing
    val: np.ndarray  # [M] activation of each firing
    d_sae: int
    special_ids: tuple = ()
    """The tokenizer's special tokens: where texts and turns start ("place")."""
    codes: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    _runs: tuple | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        n = len(self.tokens)
        self.record_of = np.searchsorted(self.record_start, np.arange(n), side="right") - 1
        heldout = token_heldout(self.records, self.record_start)
        self.heldout = heldout & (self.region > 0)
        self.explain = ~heldout & (self.region > 0)
        conv = np.isin(self.region, (2, 3))
        answer = self.region == 3
        per_record = {
            "reply": ("label", answer),
            "model": ("model", answer),
            "kind": ("kind", conv),
            "topic": ("topic", conv),
            "lang": ("lang", conv),
        }
        region_vals = sorted(REGION_CODES.values())
        self.values["region"] = region_vals
        codes = np.full(n, -1)
        for code, name in REGION_CODES.items():
            codes[self.region == code] = region_vals.index(name)
        self.codes["region"] = codes
        self.values["place"] = ["start"]
        self.codes["place"] = np.where(
            (self.region > 0) & (since_special(self.tokens, self.record_start, self.special_ids,
                                               self.text_starts()) <= NEAR),
            0, -1,
        )  # fmt: skip
        for dim, (key, where) in per_record.items():
            vals = sorted({str(r.get(key)) for r in self.records if r.get(key)})
            index = {v: i for i, v in enumerate(vals)}
            rec_code = np.array([index.get(str(r.get(key)), -1) for r in self.records])
            self.values[dim] = vals
            self.codes[dim] = np.where(where, rec_code[self.record_of], -1)
        keys: dict[str, int] = {}
        vocab = {  # a token holding part of a character is no readable evidence
            int(i): keys.setdefault(token_key(t), len(keys))
            for i, t in self.token_text.items()
            if "\ufffd" not in t
        }
        self.key_names = list(keys)
        self.key_index = keys
        self.key_of = np.array([vocab.get(int(t), -1) for t in self.tokens])
        # Labels show each key in its commonest spelling ('China', not 'china').
        freq = np.bincount(self.tokens[self.region > 0], minlength=max(vocab, default=0) + 1)
        best: dict[int, tuple[int, str]] = {}
        for i, k in vocab.items():
            n = int(freq[i]) if i < len(freq) else 0
            if k not in best or n > best[k][0]:
                best[k] = (n, self.token_text[i].strip() or self.key_names[k])
        self.display = {self.key_names[k]: text for k, (_, text) in best.items()}
        order = np.argsort(self.feat, kind="stable")
        self._by_feat = order
        counts = np.bincount(self.feat, minlength=self.d_sae)
        self._starts = np.concatenate([[0], np.cumsum(counts)])

    def text_starts(self) -> np.ndarray:
        """[R] bool: does the record begin a text? A training window (training/annotated.py)
        may begin mid-text, so only a special token marks a start in it."""
        return np.array([r.get("kind") != "window" for r in self.records], bool)

    def runs(self) -> tuple[np.ndarray, np.ndarray]:
        """[N] a hash of the RUN tokens from each token on in its record (0 where fewer are
        left), and [N] bool: is that run in at most MAX_COPIES records (a copy's, not
        boilerplate's)? Computed once, for the latents seen on one half only."""
        if self._runs is None:
            n, m = len(self.tokens), max(len(self.tokens) - RUN + 1, 0)
            h = np.zeros(m, np.uint64)
            ids = self.tokens.astype(np.uint64)
            for j in range(RUN):  # a polynomial hash, wrapping at 2**64
                h = h * np.uint64(1_000_003) + ids[j : j + m]
            ok = self.record_of[:m] == self.record_of[RUN - 1 :][:m]
            pairs = np.unique(
                np.stack([h[ok], self.record_of[:m][ok].astype(np.uint64)], 1), axis=0
            )
            hashes, n_records = np.unique(pairs[:, 0], return_counts=True)
            runs = np.zeros(n, np.uint64)
            runs[:m][ok] = h[ok]
            rare = np.zeros(n, bool)
            rare[:m] = ok & np.isin(h, hashes[n_records <= MAX_COPIES])
            self._runs = (runs, rare)
        return self._runs

    def firing(self, f: int) -> tuple[np.ndarray, np.ndarray]:
        """(flat token indices, values) where latent f fires, by token index."""
        idx = self._by_feat[self._starts[f] : self._starts[f + 1]]
        order = np.argsort(self.tok[idx], kind="stable")
        return self.tok[idx][order], self.val[idx][order]


def token_heldout(records: list[dict], record_start: np.ndarray) -> np.ndarray:
    """[N] bool: does each token come from a held-out text? A record's "split" says, or for a
    training window (training/annotated.py) the (tokens, split) runs of its "segments"."""
    out = np.zeros(int(record_start[-1]), bool)
    for r, meta in enumerate(records):
        s, e = int(record_start[r]), int(record_start[r + 1])
        runs = meta.get("segments") or [[e - s, meta.get("split")]]
        at = s
        for n, split in runs:
            out[at : min(at + n, e)] = split == "heldout"
            at += n
    return out


def since_special(
    tokens: np.ndarray, record_start: np.ndarray, special_ids, text_starts=None
) -> np.ndarray:
    """[N] tokens since the last special token of the record, or since the record's start where
    `text_starts` (default: every record) says it begins a text; 0 on it. A token with neither
    before it in its record is FAR away."""
    n = len(tokens)
    starts = record_start[:-1]
    opens = np.ones(len(starts), bool) if text_starts is None else np.asarray(text_starts, bool)
    mark = np.isin(tokens, np.asarray(list(special_ids), dtype=np.int64))
    mark[starts[opens & (starts < record_start[1:])]] = True  # an empty record marks nothing
    last = np.maximum.accumulate(np.where(mark, np.arange(n), -1))
    first = starts[np.searchsorted(record_start, np.arange(n), side="right") - 1]
    return np.where(last >= first, np.arange(n) - last, FAR)


def token_key(text: str) -> str:
    """Tokens compared as words: ' Stability' and 'stability' are one key."""
    key = text.strip().lower()
    if key:
        return key
    return text.replace("\n", "↵").replace(" ", "␣").replace("\t", "⇥") or "∅"


@dataclass(frozen=True)
class Rule:
    keys: tuple[str, ...] = ()
    """Any of these token keys within the window (empty: no token condition)."""
    where: tuple[tuple[str, str], ...] = ()
    """(dimension, value) pairs that must hold at the window's example token."""

    def describe(self, display: dict | None = None) -> str:
        phrases = [
            phrase(d, v) for d, v in sorted(self.where, key=lambda x: DIMENSIONS.index(x[0]))
        ]
        text = " ".join(phrases)
        if self.keys:
            tokens = "tokens: " + ", ".join((display or {}).get(k, k) for k in self.keys[:SHOWN])
            if len(self.keys) > SHOWN:
                tokens += f" and {len(self.keys) - SHOWN} more"
            text = f"{text}; {tokens}" if text else tokens
        return text or "no token or metadata pattern found"

    def to_json(self) -> dict:
        return {"tokens": list(self.keys), "where": dict(self.where)}


def phrase(dim: str, value: str) -> str:
    if (dim, value) in PHRASES:
        return PHRASES[(dim, value)]
    if dim == "reply":
        return f"in {REPLY_NAMES.get(value, value.replace('_', ' '))} replies"
    if dim == "topic":
        return "on " + value.replace("control_", "").replace("_", " ").title()
    return f"{dim} {value}"


@dataclass
class Windows:
    centre: np.ndarray
    start: np.ndarray
    end: np.ndarray
    active: np.ndarray  # bool: the latent fires at the centre


def sample_windows(ev: Evidence, f: int, split_mask: np.ndarray, n: int, rng) -> Windows | None:
    """Up to n activating windows (stratified over activation deciles, as Delphi samples) and as
    many silent ones (no firing anywhere in the window), from the tokens in `split_mask`."""
    pos_all, vals = ev.firing(f)
    inside = split_mask[pos_all]
    pos, vals = pos_all[inside], vals[inside]
    if len(pos) == 0:
        return None
    order = np.argsort(vals, kind="stable")
    picked = []
    for chunk in np.array_split(order, min(10, len(order))):
        take = max(1, n // 10)
        picked.extend(rng.choice(chunk, size=min(take, len(chunk)), replace=False).tolist())
    centres_pos = pos[np.array(picked[:n])]
    pool = np.flatnonzero(split_mask)
    if len(pool) == 0:
        return None
    candidates = rng.choice(pool, size=min(6 * n, len(pool)))
    s, e = _bounds(ev, candidates)
    quiet = np.searchsorted(pos_all, s) == np.searchsorted(pos_all, e)
    centres_neg = np.unique(candidates[quiet])
    rng.shuffle(centres_neg)
    if len(centres_neg) < len(centres_pos):  # a dense latent: every silent window of the half
        s, e = _bounds(ev, pool)
        rest = np.setdiff1d(pool[np.searchsorted(pos_all, s) == np.searchsorted(pos_all, e)],
                            centres_neg)  # fmt: skip
        rng.shuffle(rest)
        centres_neg = np.concatenate([centres_neg, rest])
    k = min(len(centres_pos), len(centres_neg))
    if k == 0:
        return None
    centre = np.concatenate([centres_pos[:k], centres_neg[:k]])
    start, end = _bounds(ev, centre)
    return Windows(centre, start, end, np.r_[np.ones(k, bool), np.zeros(k, bool)])


def _bounds(ev: Evidence, centre: np.ndarray):
    rec = ev.record_of[centre]
    return (
        np.maximum(ev.record_start[rec], centre - LEFT_D),
        np.minimum(ev.record_start[rec + 1], centre + RIGHT_D + 1),
    )


def predict(ev: Evidence, rule: Rule, w: Windows) -> np.ndarray:
    """Does the rule say the latent is active in each window?"""
    ok = np.ones(len(w.centre), bool)
    for dim, value in rule.where:
        vals = ev.values[dim]
        code = vals.index(value) if value in vals else -2
        ok &= ev.codes[dim][w.centre] == code
    if rule.keys:
        ids = [ev.key_index[k] for k in rule.keys if k in ev.key_index]
        width = LEFT_D + RIGHT_D + 1
        pos = w.start[:, None] + np.arange(width)
        inside = pos < w.end[:, None]
        keys = ev.key_of[np.minimum(pos, len(ev.tokens) - 1)]
        ok &= (np.isin(keys, ids) & inside).any(axis=1)
    return ok


def accuracy(ev: Evidence, rule: Rule, w: Windows) -> float:
    """Balanced detection accuracy (the windows hold as many active as silent ones)."""
    return float((predict(ev, rule, w) == w.active).mean())


def associations(ev: Evidence, positions: np.ndarray, base: np.ndarray) -> list[dict]:
    """Per dimension, the value the firings concentrate in: share, lift over base, binomial z."""
    out = []
    n, n_base = len(positions), int(base.sum())
    for dim in DIMENSIONS:
        codes = ev.codes[dim]
        k = len(ev.values[dim])
        if k == 0 or n == 0:
            continue
        hit = np.bincount(codes[positions][codes[positions] >= 0], minlength=k)
        ref = np.bincount(codes[base][codes[base] >= 0], minlength=k)
        p0 = ref / max(n_base, 1)
        share = hit / n
        lift = np.where(p0 > 0, share / np.maximum(p0, 1e-12), 0)
        z = (hit - n * p0) / np.sqrt(np.maximum(n * p0 * (1 - p0), 1e-12))
        best = int(np.argmax(np.where(share >= 0.5, lift, 0)))
        if share[best] >= 0.5 and lift[best] >= 1.3 and hit[best] >= 3:
            out.append({"dim": dim, "value": ev.values[dim][best], "share": float(share[best]),
                        "lift": float(lift[best]), "z": float(z[best])})  # fmt: skip
    return sorted(out, key=lambda a: -a["lift"])


def top_tokens(ev: Evidence, positions: np.ndarray, base: np.ndarray, n: int = 8) -> list[dict]:
    keys = ev.key_of[positions]
    keys = keys[keys >= 0]
    if len(keys) == 0:
        return []
    hit = np.bincount(keys, minlength=len(ev.key_names))
    ref = np.bincount(ev.key_of[base & (ev.key_of >= 0)], minlength=len(ev.key_names))
    precision = hit / np.maximum(ref, 1)
    score = hit * precision
    order = np.argsort(-score, kind="stable")
    enough = hit >= min(2, len(positions))
    if not (enough & (precision >= MIN_PRECISION)).any():
        # A latent that fires on common tokens in a few contexts only: its commonest tokens are
        # still its readable evidence, and the rule's score says how little they predict.
        order = np.argsort(-hit, kind="stable")
    else:
        enough &= precision >= MIN_PRECISION
    return [
        {
            "token": ev.key_names[i],
            "share": float(hit[i] / len(positions)),
            "precision": float(precision[i]),
        }  # fmt: skip
        for i in order[:n]
        if enough[i] and hit[i] > 0
    ]


def candidate_rules(tokens: list[dict], assoc: list[dict]) -> list[Rule]:
    keys = tuple(t["token"] for t in tokens)
    wheres: list[tuple] = [()]
    wheres += [((a["dim"], a["value"]),) for a in assoc]
    wheres += [tuple((a["dim"], a["value"]) for a in assoc[:i]) for i in range(2, len(assoc) + 1)]
    rules = []
    sizes = sorted({m for m in TOKEN_SETS if m <= len(keys)} | {len(keys)})  # and all of them
    for where in dict.fromkeys(wheres):
        for m in sizes:
            if m or where:
                rules.append(Rule(keys[:m], where))
    return rules


def label_feature(ev: Evidence, f: int, rng) -> dict | None:
    """The offline label of latent f: rule, text, statistic and held-out detection score."""
    pos_all, _ = ev.firing(f)
    if len(pos_all) == 0:
        return None
    n_explain, n_heldout = int(ev.explain[pos_all].sum()), int(ev.heldout[pos_all].sum())
    if n_explain >= 1 and n_heldout >= 1 and (n_explain >= 2 or n_heldout == 1):
        fit_mask, test_mask, scored_on = ev.explain, ev.heldout, "heldout"
    elif n_explain == 1 and n_heldout >= 2:  # a rare latent: the halves swap roles
        fit_mask, test_mask, scored_on = ev.heldout, ev.explain, "explain"
    elif (texts := split_texts(ev, pos_all)) is not None:  # one half only, several texts
        fit_mask, scored_on = texts, "other texts"
        test_mask = (ev.region > 0) & ~fit_mask
    else:  # one text only: nothing to score on, made from every firing
        fit_mask, test_mask, scored_on = ev.region > 0, None, None
    fit_pos = pos_all[fit_mask[pos_all]]
    tokens = top_tokens(ev, fit_pos, fit_mask, n=max(TOKEN_SETS))
    assoc = associations(ev, fit_pos, fit_mask)
    fit = sample_windows(ev, f, fit_mask, N_EXPLAIN, rng)
    rules = candidate_rules(tokens, assoc)
    if fit is None or not rules:
        best, fit_acc = Rule(tuple(t["token"] for t in tokens[:3])), None
    else:
        scored = [
            (accuracy(ev, r, fit), -len(r.keys) - 2 * len(r.where), i) for i, r in enumerate(rules)
        ]
        fit_acc, _, i = max(scored)
        best = rules[i]
    text = best.describe(ev.display)
    if best.keys and all(t["precision"] < MIN_PRECISION for t in tokens[: len(best.keys)]):
        text += f" (on under {MIN_PRECISION:.0%} of their occurrences)"
    if not best.where and assoc:
        text += " (mostly " + " ".join(phrase(a["dim"], a["value"]) for a in assoc[:2]) + ")"
    stats = "; ".join(
        [f"{a['share']:.0%} {a['value']} (lift {a['lift']:.1f}x, z {a['z']:.0f})" for a in assoc[:3]]
        + [f"'{ev.display.get(t['token'], t['token'])}' {t['share']:.0%} (precision {t['precision']:.2f})" for t in tokens[:3]]
    )  # fmt: skip
    out = {"text": text, "source": "offline", "rule": best.to_json(), "stats": stats,
           "explain_accuracy": None if fit_acc is None else round(fit_acc, 3),
           "detection": None, "n_test": 0,
           "firings": {"explain": n_explain, "heldout": n_heldout}}  # fmt: skip
    test = None if test_mask is None else sample_windows(ev, f, test_mask, N_TEST, rng)
    if test is not None:  # scored however few; the summary's headline needs MIN_TEST
        out["detection"] = round(accuracy(ev, best, test), 3)
        out["n_test"] = len(test.centre)
        if scored_on in ("explain", "other texts"):
            out["scored_on"] = scored_on
    return out


def split_texts(ev: Evidence, positions: np.ndarray) -> np.ndarray | None:
    """For a latent seen on one half of the split only: [N] bool, the tokens of that half to make
    its label from; it is scored on the rest (the other half, where it is silent, and the texts
    of its half it was not made from). None where it fires in one text only.

    A text may sit in several records (its record of the dataset and the training windows it
    was packed into, each cut and joined to other texts in its own way), so records are one
    text's where they share a firing's token with the 12 tokens before it (or with as many as
    its record holds, where the record cuts them), or a run of 16 tokens found in at most 8
    records. What follows a firing marks no text: a prompt's template may follow it in many.
    The label is made from the first half of those texts (by record), and every record of the
    others is left out of it."""
    rec = ev.record_of[positions]
    records = list(dict.fromkeys(rec.tolist()))  # union-find over the records it fires in
    group = {r: r for r in records}

    def root(r):
        while group[r] != r:
            group[r] = group[group[r]]
            r = group[r]
        return r

    first: dict = {}

    def union(a, b):
        group[root(a)] = root(b)

    def join(r, key):
        union(r, first.setdefault(key, r))

    keys = [tuple(ev.tokens[max(int(ev.record_start[r]), p - CONTEXT) : p + 1].tolist())
            for p, r in zip(positions.tolist(), rec.tolist(), strict=True)]  # fmt: skip
    for key, r in zip(keys, rec.tolist(), strict=True):
        join(r, key)
    for cut, r in zip(keys, rec.tolist(), strict=True):
        if len(cut) <= CONTEXT:  # cut by its record's start: the copy may hold what came before
            for key, other in zip(keys, rec.tolist(), strict=True):
                if key[-len(cut) :] == cut:
                    union(r, other)
    runs, rare = ev.runs()
    for r in records:
        s, e = int(ev.record_start[r]), int(ev.record_start[r + 1])
        for h in np.unique(runs[s:e][rare[s:e]]).tolist():
            join(r, h)  # an int: no token key is one
    roots = list(dict.fromkeys(root(r) for r in records))  # by first record
    if len(roots) < 2:
        return None
    held = set(roots[(len(roots) + 1) // 2 :])
    held_records = [r for r in records if root(r) in held]
    half = ev.explain if ev.explain[positions].any() else ev.heldout
    return half & ~np.isin(ev.record_of, held_records)


def label_features(ev: Evidence, seed: int = 0, progress=None) -> tuple[dict, dict]:
    """Labels of every latent that fires in the sample, and a summary with a shuffled control."""
    labels: dict[int, dict] = {}
    for f in range(ev.d_sae):  # its own draws: no latent's windows depend on another's path
        lab = label_feature(ev, f, np.random.default_rng([seed, f]))
        if lab is not None:
            labels[f] = lab
        if progress and f % 500 == 0:
            progress(f, ev.d_sae)
    return labels, summarise(ev, labels, np.random.default_rng([seed, ev.d_sae]))


def summarise(ev: Evidence, labels: dict, rng) -> dict:
    """Mean detection accuracy, and the same with each label applied to another latent."""
    scored = [f for f, lab in labels.items() if lab["n_test"] >= 2 * MIN_TEST]
    acc = np.array([labels[f]["detection"] for f in scored])
    shuffled = []
    if len(scored) > 1:
        others = rng.permutation(scored)
        for f, g in zip(scored, others, strict=True):
            if f == g:
                continue
            w = sample_windows(ev, f, ev.heldout, N_TEST, rng)  # swapped ones have only 2
            if w is not None:
                rule = labels[g]["rule"]
                shuffled.append(
                    accuracy(ev, Rule(tuple(rule["tokens"]), tuple(rule["where"].items())), w)
                )
    return {
        "method": "offline rule from top tokens and metadata association on the explain "
        "records; detection = balanced accuracy on held-out records' windows "
        f"({N_TEST} activating across activation deciles + as many silent; 0.5 = chance); a "
        "rare latent firing once on the explain half and more often on the held-out one is made "
        "from the held-out half and scored on the explain one; one seen on one half only is made "
        "from some of its texts there and scored on the others; a dense latent is scored against "
        "the silent windows a scan of the whole half finds",
        "live": len(labels),
        "labelled": len(labels),
        "scored": sum(lab["detection"] is not None for lab in labels.values()),
        "scored_on_explain_half": sum(lab.get("scored_on") == "explain" for lab in labels.values()),
        "on_one_half_only": sum(min(lab["firings"].values()) == 0 for lab in labels.values()),
        "scored_on_other_texts_of_one_half": sum(
            lab.get("scored_on") == "other texts" for lab in labels.values()
        ),
        "scored_on_at_least_8_windows": len(scored),
        "mean_detection_note": f"over latents scored on at least {2 * MIN_TEST} windows",
        "mean_detection": round(float(acc.mean()), 3) if len(acc) else None,
        "median_detection": round(float(np.median(acc)), 3) if len(acc) else None,
        "share_at_least_0.7": round(float((acc >= 0.7).mean()), 3) if len(acc) else None,
        "shuffled_mean_detection": round(float(np.mean(shuffled)), 3) if shuffled else None,
        "records": len(ev.records),
        "tokens": int((ev.region > 0).sum()),
    }


def score_phrase(label: dict) -> str:
    """How a label was scored, or why it was not, in words (the app and the HTML page)."""
    score, n = label.get("detection"), label.get("n_test", 0)
    seen = label.get("firings") or {}
    few = "" if n >= 2 * MIN_TEST else ", too few for the mean"
    if score is not None and label.get("scored_on") == "other texts":
        side = "explain" if seen.get("explain") else "held-out"
        return (
            f"detection {score:.2f} on {n} windows of other texts than its label was made "
            f"from{few}: it fires in {side} texts only; 0.5 = chance"
        )
    if score is not None and label.get("scored_on") == "explain":
        return (
            f"detection {score:.2f} on {n} windows of the explain half{few}: it fires once "
            "there, so its label was made from the held-out half; 0.5 = chance"
        )
    if score is not None:
        return f"detection {score:.2f} on {n} held-out windows{few}; 0.5 = chance"
    if not seen:
        return "not scored: no held-out windows"
    n_explain, n_heldout = seen.get("explain", 0), seen.get("heldout", 0)
    if n_explain == 0 or n_heldout == 0:
        side = "an explain" if n_explain else "a held-out"
        count = (
            "its one firing is"
            if n_explain + n_heldout == 1
            else (f"all {n_explain + n_heldout} of its firings are")
        )
        return (
            f"not scored: {count} in {side} text, so there is no other text to score its label on"
        )
    return (
        "not scored: it fires in nearly every window of the texts it could be scored on, "
        "leaving no silent one to compare"
    )


def write_labels(sae_dir: Path, labels: dict, summary: dict, key: str = "offline") -> None:
    """Store labels in the SAE's card.json (atomically): `labels` holds the text shown in the
    app, `label_details` the offline ones with their scores, `llm_labels` the LLM ones."""
    path = Path(sae_dir) / "card.json"
    card = json.loads(path.read_text()) if path.exists() else {}
    if key == "offline":
        card["label_details"] = {str(f): lab for f, lab in sorted(labels.items())}
    else:
        card.setdefault("llm_labels", {}).update({str(f): lab for f, lab in sorted(labels.items())})
    card.setdefault("labels_summary", {})[key] = summary
    card["labels"] = shown_labels(card)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(card_text(card))
    os.replace(tmp, path)


def card_text(card: dict) -> str:
    """card.json with one latent per line in the label maps: small, and diffs stay readable."""
    lines = []
    for key, value in card.items():
        if key in ("labels", "label_details", "llm_labels") and isinstance(value, dict):
            inner = ",\n".join(
                f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False, separators=(',', ':'))}"
                for k, v in value.items()
            )
            lines.append(f" {json.dumps(key)}: {{\n{inner}\n }}" if value else f' "{key}": {{}}')
        else:
            body = json.dumps(value, indent=1, ensure_ascii=False).replace("\n", "\n ")
            lines.append(f" {json.dumps(key)}: {body}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def shown_labels(card: dict) -> dict[str, str]:
    """Per latent, the label with the better detection score, one on at least 8 windows before
    any on fewer (offline on ties)."""
    out = {}
    llm = card.get("llm_labels", {})
    for f, lab in card.get("label_details", {}).items():
        best = lab
        other = llm.get(f)
        if other and _weight(other) > _weight(lab):
            best = other
        out[f] = best["text"]
    for f, lab in llm.items():
        out.setdefault(f, lab["text"])
    return dict(sorted(out.items(), key=lambda kv: int(kv[0])))


def _weight(label: dict) -> tuple[bool, float]:
    """A score on enough windows beats any score on a few (a swapped label's 2, say)."""
    return (label.get("n_test", 0) >= 2 * MIN_TEST, label.get("detection") or 0.0)
