"""One build, start to end: prompts -> dedupe -> answers -> judgements -> control text.

Every stage resumes from what the store holds. Things that can fail for a person's reasons (no API
key, dead chroma server, empty topic list) fail before the slow stages start.

    python -m data_builder build --offline --limit 200
"""

import time

from core.judge_llm import LlmJudge
from core.judge_offline import OfflineJudge
from core.store import get_embedder, open_store
from data_builder.config import BuildConfig
from data_builder.control import control_stage
from data_builder.dedupe import mean_pairwise_cosine
from data_builder.prompts import endpoint, load_topics
from data_builder.stages import _log, answer_stage, judge_stage, prompt_stage


def make_judge(config: BuildConfig):
    if config.judge_kind() == "llm":
        return LlmJudge(endpoint(config, config.judge_model))
    return OfflineJudge()


def build(config: BuildConfig, subject=None, generate=None, store=None) -> dict:
    """Run every stage; returns a JSON-able summary. `generate` replaces core.generate (tests)."""
    started = time.perf_counter()
    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
    store = store or open_store(config.chroma_path, config.chroma_url)
    config.save()
    if not config.prompt_file:
        load_topics(config.topics_file)  # an empty or broken topic list stops the run here
    judge = make_judge(config)  # a missing API key stops the run before the model loads
    embed = get_embedder()
    summary: dict = {"store": store.where, "judge": getattr(judge, "name", "offline")}

    _log(f"prompts: source {config.generator_kind()}, store {store.where}")
    summary.update(prompt_stage(store, embed, config))

    if subject is None:
        from core.model import load_subject

        subject = load_subject(config.model)
    summary["model"] = subject.name
    t0 = time.perf_counter()
    summary.update(answer_stage(store, subject, embed, config, generate=generate))
    t1 = time.perf_counter()
    summary.update(judge_stage(store, judge, rejudge=config.rejudge))
    t2 = time.perf_counter()
    summary["answer_seconds"] = round(t1 - t0, 2)
    summary["judge_seconds"] = round(t2 - t1, 2)
    if summary["answers_added"]:
        summary["prompts_per_minute"] = round(60 * summary["answers_added"] / (t2 - t0), 2)

    if config.control_tokens:
        summary.update(
            control_stage(
                store,
                embed,
                config.control_kind(),
                config.control_tokens,
                lambda text: len(subject.tokenizer(text, add_special_tokens=False)["input_ids"]),
                auto=config.control_source == "auto",
            )
        )
    prompts = store.get("prompts", embeddings=True)
    if prompts:
        import numpy as np

        cos = mean_pairwise_cosine(np.stack([p["embedding"] for p in prompts]))
        summary["mean_pairwise_cosine"] = None if cos is None else round(cos, 4)
        summary["topics"] = len({p["metadata"].get("topic") for p in prompts})
    summary["counts"] = store.counts()
    summary["seconds"] = round(time.perf_counter() - started, 2)
    return summary
