"""Generation with optional steering: batched answers and token-by-token streaming.

Every call seeds torch with `settings.seed` right before generating, so a baseline and a steered
run with the same settings differ only by the edits. The subject's lock serialises use of the one
shared model: hooks registered for one request never touch another's generation.

    gens = generate_batch(subject, ["What happened in 1989?"], GenerationSettings(seed=1))
"""

import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from core.errors import BadInputError
from core.model import Subject, check_prompt, split_reasoning
from core.splice import make_persistent


def model_lock(subject: Subject) -> threading.RLock:
    """The subject's re-entrant lock: hooks of one request never see another's forward."""
    return subject.lock


@dataclass(frozen=True)
class GenerationSettings:
    """Sampling settings shared by the baseline and the steered run."""

    max_new_tokens: int = 128
    """How many tokens to generate at most."""
    temperature: float = 0.0
    """0 means greedy decoding; above 0, sampling at this temperature."""
    top_p: float = 0.95
    """Nucleus sampling mass (ignored when greedy)."""
    seed: int = 0
    """Torch seed set before each generation."""
    system: str | None = None
    """Optional system prompt."""
    cache: str = "auto"
    """KV cache: auto (static + compiled decoding on CUDA, dynamic on CPU) | static | dynamic."""
    ignore_eos: bool = False
    """Always generate max_new_tokens (benchmarks)."""

    def __post_init__(self):
        if self.cache not in ("auto", "static", "dynamic"):
            raise BadInputError(f"cache must be auto, static or dynamic, got {self.cache!r}")
        if not 1 <= int(self.max_new_tokens) <= 8192:
            raise BadInputError(f"max_new_tokens must be in 1..8192, got {self.max_new_tokens}")
        if not 0.0 <= float(self.temperature) <= 5.0:
            raise BadInputError(f"temperature must be in 0..5, got {self.temperature}")
        if not 0.0 < float(self.top_p) <= 1.0:
            raise BadInputError(f"top_p must be in (0, 1], got {self.top_p}")

    def generate_kwargs(self, tokenizer, device_type: str = "cpu") -> dict:
        kwargs = {
            "max_new_tokens": int(self.max_new_tokens),
            "pad_token_id": tokenizer.pad_token_id,
        }
        cache = self.cache
        if cache == "auto":
            cache = "static" if device_type == "cuda" else "dynamic"
        if cache == "static":
            # transformers compiles the decoding step (CUDA graphs) when the cache is static.
            kwargs["cache_implementation"] = "static"
        if self.ignore_eos:
            kwargs["min_new_tokens"] = int(self.max_new_tokens)
        if self.temperature > 0:
            kwargs.update(
                do_sample=True, temperature=float(self.temperature), top_p=float(self.top_p)
            )
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs


@dataclass
class Generation:
    """One generated answer."""

    prompt: str
    text: str
    """Everything the model wrote (special tokens removed)."""
    reasoning: str | None
    """Inside <think>...</think>; None when the model wrote no reasoning block."""
    answer: str
    """The text after the reasoning."""
    n_tokens: int
    seconds: float
    token_ids: list[int] | None = None
    """Generated token ids (padding removed)."""
    raw_answer: str = ""
    """The answer as emitted, special tokens kept: what the judge reads (an end-of-turn at once,
    an invented chat turn are evidence of a broken answer)."""


def _check_intervention(intervention) -> None:
    if intervention is not None and intervention.edits and intervention.sae is None:
        raise BadInputError("steering edits need an SAE; load one with --sae")


def _prepare(subject: Subject, intervention, settings: GenerationSettings) -> None:
    """Compiled decoding recompiles whenever hooks change; give SAE edits one hook it can keep."""
    kwargs = settings.generate_kwargs(subject.tokenizer, subject.device.type)
    edits = intervention is not None and intervention.edits and intervention.sae is not None
    if edits and kwargs.get("cache_implementation") == "static":
        make_persistent(subject, intervention.sae)


def _seed(seed: int) -> None:
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def encode_batch(subject: Subject, prompts: list[str], system: str | None = None):
    """Left-padded chat-formatted batch: (input_ids, attention_mask, prompt_lengths)."""
    for p in prompts:
        check_prompt(p)
    texts = [subject.chat_text(p, system) for p in prompts]
    tok = subject.tokenizer
    side = tok.padding_side
    tok.padding_side = "left"
    try:
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tok.padding_side = side
    lengths = enc["attention_mask"].sum(dim=1)
    if int(lengths.max()) > subject.max_context:
        raise BadInputError(
            f"a prompt is {int(lengths.max())} tokens after chat formatting; this model takes at "
            f"most {subject.max_context}"
        )
    device = subject.device
    return enc["input_ids"].to(device), enc["attention_mask"].to(device), lengths


@torch.no_grad()
def generate_batch(
    subject: Subject,
    prompts: list[str],
    settings: GenerationSettings | None = None,
    batch_size: int = 8,
    intervention=None,
) -> list[Generation]:
    """Answer each prompt (batched, left padding), steered by `intervention` if given
    (core.intervention.Intervention: SAE edits, a direction, a donor patch)."""
    settings = settings or GenerationSettings()
    _check_intervention(intervention)
    results: list[Generation] = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        ids, mask, lengths = encode_batch(subject, chunk, settings.system)
        t0 = time.perf_counter()
        _prepare(subject, intervention, settings)
        hooks = intervention.context(subject, lengths) if intervention else nullcontext()
        with model_lock(subject), hooks:
            _seed(settings.seed)
            out = subject.model.generate(
                input_ids=ids,
                attention_mask=mask,
                **settings.generate_kwargs(subject.tokenizer, subject.device.type),
            )
        seconds = time.perf_counter() - t0
        new = out[:, ids.shape[1] :]
        for prompt, row in zip(chunk, new, strict=True):
            keep = (
                row[row != subject.tokenizer.pad_token_id]
                if subject.tokenizer.pad_token_id is not None
                else row
            )
            raw = subject.tokenizer.decode(keep, skip_special_tokens=False)
            text = _strip_special(subject.tokenizer, raw)
            reasoning, answer = split_reasoning(text)
            results.append(
                Generation(
                    prompt,
                    text,
                    reasoning,
                    answer,
                    int(keep.numel()),
                    seconds / len(chunk),
                    keep.tolist(),
                    raw_answer=split_reasoning(raw)[1],
                )
            )
    return results


def _strip_special(tokenizer, text: str) -> str:
    """Drop special tokens except the <think> markers, which split_reasoning needs."""
    for token in tokenizer.all_special_tokens:
        if token not in ("<think>", "</think>"):
            text = text.replace(token, "")
    return text.strip()


def stream_generate(
    subject: Subject,
    prompt: str,
    settings: GenerationSettings | None = None,
    intervention=None,
) -> Iterator[str]:
    """Yield the text generated so far after each new token."""
    for _, texts in stream_sides(subject, prompt, {"text": intervention}, settings):
        yield texts["text"]


def stream_sides(
    subject: Subject,
    prompt: str,
    sides: dict[str, tuple],
    settings: GenerationSettings | None = None,
    together: bool = False,
    raw: dict[str, str] | None = None,
) -> Iterator[tuple[str, dict[str, str]]]:
    """Generate one answer per side (name -> core.intervention.Intervention, or None for the
    plain model); yield (the side that just grew, every side's text so far).

    together=True runs the sides at the same time, each in its own thread (the steering hook
    steers only the thread that registered it); otherwise one after the other. Either way one
    worker holds the subject's lock for all of them: a streaming consumer may be resumed on a
    different thread at every step (Gradio does this), and a lock must be released by the
    thread that took it. `raw`, if given, is kept up to date with every side's text as emitted
    (special tokens included), which is what the judge should read.
    """
    from queue import Queue

    from transformers import StoppingCriteria, StoppingCriteriaList, TextStreamer

    settings = settings or GenerationSettings()
    for iv in sides.values():
        _check_intervention(iv)
    ids, mask, lengths = encode_batch(subject, [prompt], settings.system)
    pieces: Queue = Queue()  # (side, text piece), (side, None) when the side ends
    error: list[BaseException] = []
    cancel = threading.Event()

    class _Cancelled(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return cancel.is_set()

    class _ToQueue(TextStreamer):
        def __init__(self, side):
            super().__init__(subject.tokenizer, skip_prompt=True, skip_special_tokens=False)
            self.side = side

        def on_finalized_text(self, text, stream_end=False):
            if text:
                pieces.put((self.side, text))

    def run_side(side, iv):
        try:
            with torch.no_grad(), iv.context(subject, lengths) if iv else nullcontext():
                _seed(settings.seed)
                subject.model.generate(
                    input_ids=ids,
                    attention_mask=mask,
                    streamer=_ToQueue(side),
                    stopping_criteria=StoppingCriteriaList([_Cancelled()]),
                    **settings.generate_kwargs(subject.tokenizer, subject.device.type),
                )
        except BaseException as err:  # surfaced in the caller's thread below
            error.append(err)
            cancel.set()
        finally:
            pieces.put((side, None))

    def run_all():
        with model_lock(subject):
            if not together:
                for side, iv in sides.items():
                    run_side(side, iv)
                return
            threads = [
                threading.Thread(target=run_side, args=(side, iv), daemon=True)
                for side, iv in sides.items()
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

    for iv in sides.values():
        _prepare(subject, iv, settings)
    worker = threading.Thread(target=run_all, daemon=True)
    worker.start()
    texts = {side: "" for side in sides}
    running = set(sides)
    try:
        while running:
            side, piece = pieces.get()
            if piece is None:
                running.discard(side)
                continue
            texts[side] += piece
            if raw is not None:
                raw.update(texts)
            yield side, {k: _strip_special(subject.tokenizer, v) for k, v in texts.items()}
    finally:  # a consumer that stops early must not leave hooks running on the model
        cancel.set()
        worker.join()
    if error:
        raise error[0]


def can_stream_together(subject: Subject, sae, settings: GenerationSettings) -> bool:
    """Whether a baseline and a steered run may share the model at the same time.

    Only for greedy decoding with a dynamic cache: sampling draws from torch's one global RNG,
    which two threads would interleave (the same seed would no longer give the same answer),
    and compiled static-cache decoding keeps one persistent hook that steers every thread.
    """
    kwargs = settings.generate_kwargs(subject.tokenizer, subject.device.type)
    persistent = sae is not None and id(sae) in subject.steering_hooks
    return settings.temperature == 0 and "cache_implementation" not in kwargs and not persistent
