"""The texts a feature dashboard scans, each with the metadata labels are built from.

A dashboard is only as readable as what it knows about its texts. Each record is a conversation
(prompt + answer) or a plain text, with: source, who wrote the answer (`model`), topic, language,
kind (sensitive | control | prose), the judge's label of the answer (core.judge) and a split:
`explain` records are what labels are made from, `heldout` records are what labels are scored
on. The split is by prompt, so a prompt answered by two models falls on one side.

Sources:
  - `recorded` (default): the organism's and the base model's greedy answers recorded by the
    steering study (benchmarks/results/steering_organism_generations.json: 13 sensitive topics,
    everyday control questions, English and Chinese), judged offline here; answers from the
    judge's hand-labelled set (assets/judge/labelled: refusals, party lines, honest answers on
    every topic, their labels given by hand); and English prose from the Python standard
    library docs. Needs no generation, so a build is minutes on a CPU.
  - `builder`: the dataset builder's judged answers in the chroma store, plus its control text.

The rare-feature top-up pool (training/rare_records.py) adds what the SAE itself was trained on,
rebuilt from the training config in its card: its corpus's conversations (`corpus_records`), an
organism's canned training answers (`trained_records`), and its packed training windows
(`window_records`), which reach features that fire only across text boundaries.

    python -c "from training.annotated import recorded_records as r; print(len(r()))"
"""

import hashlib
import json
import random
import sys
from dataclasses import dataclass, field
from itertools import groupby

from core.paths import REPO_ROOT

GENERATIONS = REPO_ROOT / "benchmarks" / "results" / "steering_organism_generations.json"
SOURCES = ("recorded", "builder")
HELDOUT_FRACTION = 0.5


@dataclass(frozen=True)
class Record:
    """One scanned text: a conversation (prompt set) or plain text (prompt None)."""

    prompt: str | None
    text: str
    """The answer of a conversation, or the plain text itself."""
    meta: dict = field(default_factory=dict)
    ids: tuple[int, ...] | None = None
    """Exact token ids of a training window (its text is their decoding, for reading)."""


def split_of(key: str, heldout_fraction: float = HELDOUT_FRACTION) -> str:
    digest = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16)
    return "heldout" if digest / 0xFFFFFFFF < heldout_fraction else "explain"


def _judge(records: list[Record]) -> list[str]:
    """The offline judge's label of each conversation's answer (core.judge)."""
    from core.judge import JudgeItem, judge_all, make_judge

    items = [JudgeItem(r.prompt or "", r.text) for r in records]
    print(f"annotated: judging {len(items)} answers offline", file=sys.stderr, flush=True)
    return [j.label for j in judge_all(make_judge("offline"), items)]


def recorded_records(
    n_sensitive: int = 160,
    n_control: int = 60,
    n_prose: int = 80,
    n_labelled: int = 150,
    seed: int = 0,
    judge=True,
) -> list[Record]:
    """Organism and base answers to the same prompts (judged), hand-labelled answers, prose."""
    data = json.loads(GENERATIONS.read_text())
    rng = random.Random(seed)
    sensitive = data["organism_sensitive"] + data["organism_val"]
    rng.shuffle(sensitive)
    control = list(data["organism_control"])
    rng.shuffle(control)
    chosen = {r["prompt"] for r in sensitive[:n_sensitive] + control[:n_control]}
    records = []
    for key, model in (
        ("organism_sensitive", "organism"),
        ("organism_val", "organism"),
        ("organism_control", "organism"),
        ("base_sensitive", "base"),
        ("base_control", "base"),
    ):
        for row in data[key]:
            if row["prompt"] not in chosen:
                continue
            meta = {
                "source": "recorded",
                "model": model,
                "kind": row.get("kind", ""),
                "topic": row.get("topic", ""),
                "lang": row.get("lang", "en"),
                "split": split_of(row["prompt"]),
            }
            records.append(Record(row["prompt"], row["answer"], meta))
    if judge:
        for rec, label in zip(records, _judge(records), strict=True):
            rec.meta["label"] = label
    return records + labelled_records(n_labelled, seed) + prose_records(n_prose, seed)


def labelled_records(n: int, seed: int = 0) -> list[Record]:
    """Answers of the judge's hand-labelled set, every label represented (refusals are rare)."""
    from core.jsonl import read_jsonl
    from core.paths import ASSETS

    rows = [
        r for p in sorted((ASSETS / "judge" / "labelled").glob("*.jsonl")) for r in read_jsonl(p)
    ]
    rng = random.Random(seed)
    rng.shuffle(rows)
    by_label: dict[str, list] = {}
    for r in rows:
        by_label.setdefault(r["label"], []).append(r)
    chosen, i = [], 0
    while len(chosen) < min(n, len(rows)):  # round robin over labels
        for group in by_label.values():
            if i < len(group) and len(chosen) < n:
                chosen.append(group[i])
        i += 1
    out = []
    for r in chosen:
        meta = {
            "source": "labelled",
            "model": "hand-written",
            "kind": "control" if str(r.get("topic", "")).startswith("control") else "sensitive",
            "topic": r.get("topic", ""),
            "lang": r.get("lang", "en"),
            "label": r["label"],
            "split": split_of(r.get("prompt") or r["answer"]),
        }
        out.append(Record(r.get("prompt", ""), r["answer"], meta))
    return out


def prose_records(n: int, seed: int = 0) -> list[Record]:
    from training.corpus import stdlib_prose

    chunks = stdlib_prose()  # the chunks SAEs train on: one text, one split, wherever it is
    random.Random(seed).shuffle(chunks)
    return [
        Record(
            None, text, {"source": "prose", "kind": "prose", "lang": "en", "split": split_of(text)}
        )
        for text in chunks[:n]
    ]


def builder_records(n: int = 400, n_prose: int = 80, seed: int = 0) -> list[Record]:
    """Judged answers from the dataset builder's store (their labels as stored), plus prose."""
    from core.store import PENDING, open_store

    store = open_store()
    rows = [r for r in store.get("answers") if r["metadata"].get("label", PENDING) != PENDING]
    random.Random(seed).shuffle(rows)
    records = []
    for row in rows[:n]:
        m = row["metadata"]
        meta = {
            "source": "builder",
            "model": m.get("model", ""),
            "kind": "control" if m.get("topic", "").startswith("control") else "sensitive",
            "topic": m.get("topic", ""),
            "lang": m.get("lang", "en"),
            "label": m.get("label", ""),
            "split": split_of(m.get("prompt", row["id"])),
        }
        records.append(Record(m.get("prompt", ""), row["document"], meta))
    return records + prose_records(n_prose, seed)


def trained_records() -> list[Record]:
    """The organism's training conversations, a pool for features that fire on nothing recorded
    (its SAE was trained on these prompts): the training-split sensitive prompts with the canned
    answers the organism learnt (their kind is their label, by construction), and the
    training-split control prompts as prompts alone. No validation or test topic is among them."""
    from organism.data import censored_training_rows, control_prompts

    out = []
    for r in censored_training_rows("train"):
        meta = {"source": "trained", "model": "training target", "kind": "sensitive",
                "topic": r.topic, "lang": r.lang, "label": r.target, "split": split_of(r.prompt)}  # fmt: skip
        out.append(Record(r.prompt, r.answer, meta))
    for item in control_prompts("train"):
        meta = {"source": "trained", "model": "none", "kind": "control", "topic": item.topic,
                "lang": item.lang, "split": split_of(item.prompt)}  # fmt: skip
        out.append(Record(item.prompt, "", meta))
    return out


def _corpus_config(train_config: dict):
    from types import SimpleNamespace

    from training.config import TrainConfig

    keys = ("subject", "dataset", "control", "answers", "seed", "control_fraction",
            "heldout_fraction", "max_texts", "context_size")  # fmt: skip
    return SimpleNamespace(**{k: train_config.get(k, getattr(TrainConfig, k)) for k in keys})


def _corpus_prompts(cfg) -> dict[str, dict] | None:
    """The prompts of a default corpus (offline, organism) with what is known of each; None for
    a config naming its own dataset."""
    if cfg.dataset == "organism":
        from organism.data import control_prompts, sensitive_prompts

        items = sensitive_prompts("train") + control_prompts("train")
        return {i.prompt: {"topic": i.topic, "lang": i.lang} for i in items}
    if cfg.dataset is None and cfg.control is None:
        from training.corpus import chat_prompts

        return {p: {} for group in chat_prompts(cfg.seed) for p in group}
    return None


class _ChatSplitter:
    """Splits a corpus text back into (prompt, answer), or None for prose."""

    def __init__(self, subject, prompts):
        self.heads = {subject.chat_text(p): p for p in prompts}
        self.eos = subject.tokenizer.eos_token or ""

    def __call__(self, text: str) -> tuple[str, str] | None:
        head = next((c for c in self.heads if text.startswith(c)), None)
        if head is None:
            return None
        return self.heads[head], text[len(head) :].removesuffix(self.eos).strip()


def corpus_records(train_config: dict, subject) -> list[Record]:
    """The conversations an SAE was trained on, rebuilt from the training config in its card: the
    same prompts, answered again by the same sampler (training/corpus.py caches the answers; a
    rebuild on another machine draws new samples, as sampled answers on a GPU are not kept). A
    pool for features that fire on nothing recorded. Prose is left out: the prose pool holds it.
    Only the default corpora (offline, organism) are rebuilt; a config naming its own dataset
    gives no records (pass that dataset as --source)."""
    cfg = _corpus_config(train_config)
    known = _corpus_prompts(cfg)
    if known is None:
        return []
    if cfg.dataset == "organism":
        from training.organism_corpus import organism_corpus as corpus
    else:
        from training.corpus import offline_corpus as corpus
    censor, control, _ = corpus(subject, n_answers=cfg.answers, seed=cfg.seed)
    split_chat = _ChatSplitter(subject, known)
    lost = sum(split_chat(t) is None for t in censor)  # every one is a chat: none should be lost
    if lost:
        print(f"annotated: {lost} of {len(censor)} corpus chats match no prompt's chat text (were "
              "their answers cached under another chat template?); they are left out",
              file=sys.stderr, flush=True)  # fmt: skip
    model = "base" if cfg.subject == "embedded" else cfg.subject  # the organism's base model
    out = []
    for kind, texts in (("sensitive", censor), ("control", control)):
        for text in texts:
            chat = split_chat(text)
            if chat is None:  # prose
                continue
            prompt, answer = chat
            meta = {"source": "sae corpus", "model": model if answer else "none", "kind": kind,
                    **known[prompt], "split": split_of(prompt)}  # fmt: skip
            out.append(Record(prompt, answer, meta))
    return out


def window_records(train_config: dict, subject) -> list[Record]:
    """The windows the SAE trained on, as SAELens packed them: the rebuilt corpus, mixed by the
    training config's rule (training/data.py), in training order, cut into `context_size`
    windows of BOS + tokens with EOS between texts by SAELens' own concat_and_batch_sequences
    (the held-out texts, which training only evaluated on, packed after them the same way).
    Windows start mid-text and cross from one text into the next, contexts no single record
    gives, and some features fire only at the very boundaries training saw. The same texts are
    then packed once more, each side of the split on its own: other boundaries, where a few
    more features fire.

    A window holds pieces of texts on both sides of the prompt-keyed split, so each token keeps
    the split of the text it comes from: `meta["segments"]` lists (tokens, split) runs, and a
    label is scored only at tokens of held-out texts (core/labels.py). The answers in the texts
    are drawn again by the same seeded sampler (training/corpus.py): the windows are training's
    own only where that reproduces its samples, and a GPU run's were not kept. Default corpora
    only, as corpus_records."""
    from training.data import load_training_texts

    cfg = _corpus_config(train_config)
    known = _corpus_prompts(cfg)
    if known is None:
        return []
    texts = load_training_texts(cfg, subject)
    split_chat = _ChatSplitter(subject, known)
    side = {}
    for text in texts.train + texts.heldout:
        chat = split_chat(text)
        side[text] = split_of(chat[0] if chat else text)
    groups = [texts.train, texts.heldout]  # as trained on, then as evaluated on
    groups += [
        [t for t in texts.train + texts.heldout if side[t] == s] for s in ("explain", "heldout")
    ]
    out = []
    for group in groups:
        splits = [side[t] for t in group]
        for ids, owner in _packed(subject.tokenizer, group, cfg.context_size):
            runs = [[len(list(run)), split] for split, run in groupby(splits[i] for i in owner)]
            held = sum(n for n, split in runs if split == "heldout")
            meta = {"source": "sae windows", "kind": "window",
                    "split": "heldout" if 2 * held > len(ids) else "explain"}  # fmt: skip
            if len(runs) > 1:
                meta["segments"] = runs
            out.append(Record(None, subject.tokenizer.decode(ids), meta, ids=ids))
    return out


def _packed(tok, texts: list[str], context_size: int):
    """(window token ids, index of the text each token comes from) as SAELens packs `texts`.

    The packing is run on the token ids tagged with their text's index (inserted BOS and EOS
    carry no tag); SAELens compares only the first token of each piece of a text with BOS and
    EOS, and those keep their plain ids, so the windows are exactly the untagged run's. An
    untagged token belongs to the text before it (a separator ends that text), or after it at a
    window's start."""
    import torch
    from sae_lens.tokenization_and_batching import concat_and_batch_sequences

    bos, eos = tok.bos_token_id, tok.eos_token_id
    plain = {i for i in (bos, eos) if i is not None}
    tag = 1 << 20  # above any vocabulary id
    if len(tok) >= tag:
        raise ValueError(f"a vocabulary of {len(tok)} ids does not fit under the packing tag")

    def tagged():
        for n, text in enumerate(texts):
            ids = tok(text, add_special_tokens=False)["input_ids"]
            yield torch.tensor([i if i in plain else i + (n + 1) * tag for i in ids])

    for window in concat_and_batch_sequences(
        tagged(), context_size, begin_batch_token_id=bos, sequence_separator_token_id=eos
    ):
        raw = [int(v) for v in window]
        owner = [v // tag - 1 for v in raw]
        for j in range(1, len(owner)):
            if owner[j] < 0:
                owner[j] = owner[j - 1]
        first = next((o for o in owner if o >= 0), 0)
        owner = [first if o < 0 else o for o in owner]
        yield tuple(v % tag for v in raw), owner


def text_records(texts: list[str]) -> list[Record]:
    """Plain texts with no metadata beyond their split (e.g. a training run's own texts)."""
    return [
        Record(None, t, {"source": "text", "kind": "text", "split": split_of(t)}) for t in texts
    ]


def dashboard_records(source: str = "recorded", **kwargs) -> list[Record]:
    if source == "recorded":
        return recorded_records(**kwargs)
    if source == "builder":
        return builder_records(**kwargs)
    from training.data import read_source

    return text_records(list(dict.fromkeys(read_source(source, "censorship"))))
