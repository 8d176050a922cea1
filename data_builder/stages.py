"""The resumable stages of a build: prompts (generate + dedupe), answers, judgements.

Each stage reads what the store already holds, does only what is missing, and writes in small
batches, so an interrupted run loses at most the batch in flight and a re-run adds nothing new.

    python -m data_builder build --offline --limit 200
"""

import json
import sys

import numpy as np
from tqdm import tqdm

from core.judge import UNJUDGED, JudgeItem
from core.llm_client import LlmClient
from core.store import PENDING, Store, content_id
from data_builder.dedupe import greedy_dedupe
from data_builder.prompts import (
    Candidate,
    endpoint,
    llm_candidates,
    load_topics,
    offline_candidates,
    read_prompt_file,
)

CHUNK = 64


def _log(msg: str) -> None:
    print(f"[data_builder] {msg}", file=sys.stderr, flush=True)


def store_candidates(store: Store, embed, cands: list[Candidate], threshold: float, limit, stats):
    """Dedupe `cands` against the store and each other; add the keepers chunk by chunk."""
    stored = store.get("prompts", embeddings=True)
    kept = np.stack([r["embedding"] for r in stored]) if stored else None
    have = {r["id"] for r in stored}
    for start in range(0, len(cands), CHUNK):
        room = None if limit is None else limit - store.count("prompts")
        if room is not None and room <= 0:
            break
        chunk = [c for c in cands[start : start + CHUNK] if content_id(c.prompt) not in have]
        stats["already_stored"] += min(CHUNK, len(cands) - start) - len(chunk)
        if not chunk:
            continue
        vecs = embed([c.prompt for c in chunk])
        keep, kept, seen = greedy_dedupe(vecs, kept, threshold, room)
        stats["dropped_near_duplicates"] += seen - len(keep)
        ids = [content_id(chunk[i].prompt) for i in keep]
        stats["prompts_added"] += store.add(
            "prompts",
            ids,
            [chunk[i].prompt for i in keep],
            [chunk[i].metadata() for i in keep],
            vecs[keep],
        )
        have.update(ids)


def prompt_stage(store: Store, embed, config) -> dict:
    """Fill the prompts collection from the configured source, deduplicated, up to `limit`."""
    stats = {"prompts_added": 0, "dropped_near_duplicates": 0, "already_stored": 0}
    kind = config.generator_kind()
    stats["generator"] = kind
    if config.limit is not None and store.count("prompts") >= config.limit:
        return stats
    if kind == "file":
        cands = read_prompt_file(config.prompt_file)
        store_candidates(store, embed, cands, config.dedupe_threshold, config.limit, stats)
    elif kind == "offline":
        cands = offline_candidates(load_topics(config.topics_file), seed=config.seed)
        store_candidates(store, embed, cands, config.dedupe_threshold, config.limit, stats)
    else:
        topics = load_topics(config.topics_file)
        client = LlmClient(endpoint(config, config.generator_model))
        done = {r["metadata"]["topic"] for r in store.get("prompts", where={"source": "llm"})}
        for topic in tqdm(topics, desc="generate", unit="topic", file=sys.stderr):
            if topic["id"] in done:
                continue  # one topic's prompts are stored in one call, so any row means done
            if config.limit is not None and store.count("prompts") >= config.limit:
                break
            cands = llm_candidates(client, topic, config.prompts_per_topic)
            if not cands:
                _log(f"no valid prompts from the LLM for '{topic['id']}'; it is retried next run")
                continue
            store_candidates(store, embed, cands, config.dedupe_threshold, config.limit, stats)
    return stats


def settings_key(settings) -> str:
    """The generation settings an answer depends on, as a stable string for its id."""
    return json.dumps(
        [settings.max_new_tokens, settings.temperature, settings.top_p, settings.seed]
    )


def answer_stage(store: Store, subject, embed, config, generate=None) -> dict:
    """Answer every stored prompt this subject has not answered with these settings."""
    from core.generate import GenerationSettings, generate_batch

    generate = generate or generate_batch
    settings = GenerationSettings(
        max_new_tokens=config.max_new_tokens, temperature=config.temperature, seed=config.seed
    )
    key = settings_key(settings)
    prompts = sorted(store.get("prompts"), key=lambda r: r["id"])
    for row in prompts:
        row["answer_id"] = content_id(row["id"], subject.name, key)
    have = store.existing_ids("answers", [r["answer_id"] for r in prompts])
    todo = [r for r in prompts if r["answer_id"] not in have]
    added = 0
    bar = tqdm(total=len(todo), desc="answer", unit="prompt", file=sys.stderr)
    try:
        for start in range(0, len(todo), config.batch_size):
            batch = todo[start : start + config.batch_size]
            gens = generate(
                subject, [r["document"] for r in batch], settings, batch_size=config.batch_size
            )
            vecs = embed([g.answer for g in gens])
            metas = [
                {
                    "prompt_id": r["id"],
                    "prompt": r["document"],
                    "topic": r["metadata"].get("topic", ""),
                    "style": r["metadata"].get("style", ""),
                    "lang": r["metadata"].get("lang", ""),
                    "model": subject.name,
                    "settings": key,
                    "reasoning": g.reasoning or "",
                    "has_reasoning": g.reasoning is not None,
                    "n_tokens": g.n_tokens,
                    "answer_chars": len(g.answer),
                    # what the model emitted, special tokens included: the judge reads this
                    "raw_answer": g.raw_answer or g.answer,
                    "label": PENDING,
                }
                for r, g in zip(batch, gens, strict=True)
            ]
            added += store.add(
                "answers", [r["answer_id"] for r in batch], [g.answer for g in gens], metas, vecs
            )
            bar.update(len(batch))
            # the line background jobs read their progress from (training/jobs.py)
            done = min(start + len(batch), len(todo))
            print(f"progress {done}/{len(todo)} prompts answered", file=sys.stderr, flush=True)
    finally:
        bar.close()
    return {"answers_added": added, "answers_already_stored": len(prompts) - len(todo)}


def judge_stage(store: Store, judge, batch_size: int = 16, rejudge: bool = False) -> dict:
    """Judge every stored answer still pending (or left unjudged), or all of them to `rejudge`."""
    where = None if rejudge else {"label": {"$in": [PENDING, UNJUDGED]}}
    rows = store.get("answers", where=where)
    rows.sort(key=lambda r: r["id"])
    counts: dict[str, int] = {}
    bar = tqdm(total=len(rows), desc="judge", unit="answer", file=sys.stderr)
    try:
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            items = [
                JudgeItem(
                    r["metadata"]["prompt"],
                    r["metadata"].get("raw_answer") or r["document"],
                    r["metadata"]["reasoning"] if r["metadata"].get("has_reasoning") else None,
                )
                for r in batch
            ]
            verdicts = judge.judge_many(items)
            store.update_metadata(
                "answers",
                [r["id"] for r in batch],
                [
                    {
                        "label": v.label,
                        "thought_suppressed": v.thought_suppressed,
                        "rationale": v.rationale,
                        "judge": v.judge,
                    }
                    for v in verdicts
                ],
            )
            for v in verdicts:
                counts[v.label] = counts.get(v.label, 0) + 1
            bar.update(len(batch))
    finally:
        bar.close()
    return {"judged": sum(counts.values()), "judged_by_label": counts}
