"""Baseline vs steered: the same prompt, seed and sampling settings, with and without edits.

result = compare(subject, sae, "What happened at Tiananmen Square?", edits)
for update in stream_compare(subject, sae, prompt, edits): print(update.steered)
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from core.edits import FeatureEdit
from core.generate import Generation, GenerationSettings, generate_batch, stream_generate
from core.model import split_reasoning


@dataclass
class CompareResult:
    prompt: str
    baseline: Generation
    steered: Generation
    edits: list[FeatureEdit]
    settings: GenerationSettings
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return self.baseline.text == self.steered.text


def compare(
    subject, sae, prompt: str, edits: list[FeatureEdit], settings: GenerationSettings | None = None
) -> CompareResult:
    settings = settings or GenerationSettings()
    t0 = time.perf_counter()
    baseline = generate_batch(subject, [prompt], settings)[0]
    t1 = time.perf_counter()
    steered = generate_batch(subject, [prompt], settings, edits=edits, sae=sae)[0]
    t2 = time.perf_counter()
    timings = {
        "baseline_s": t1 - t0,
        "steered_s": t2 - t1,
        "baseline_tokens_per_s": baseline.n_tokens / max(t1 - t0, 1e-9),
        "steered_tokens_per_s": steered.n_tokens / max(t2 - t1, 1e-9),
    }
    return CompareResult(prompt, baseline, steered, list(edits), settings, timings)


@dataclass
class CompareUpdate:
    """Snapshot while streaming: text so far of each side and which side is generating."""

    baseline: str
    steered: str
    phase: str  # "baseline" | "steered" | "done"

    def split(self, side: str) -> tuple[str | None, str]:
        return split_reasoning(getattr(self, side))


def stream_compare(
    subject, sae, prompt: str, edits: list[FeatureEdit], settings: GenerationSettings | None = None
) -> Iterator[CompareUpdate]:
    """Stream the baseline, then the steered answer, token by token."""
    settings = settings or GenerationSettings()
    baseline = ""
    for baseline in stream_generate(subject, prompt, settings):
        yield CompareUpdate(baseline, "", "baseline")
    steered = ""
    for steered in stream_generate(subject, prompt, settings, edits=edits, sae=sae):
        yield CompareUpdate(baseline, steered, "steered")
    yield CompareUpdate(baseline, steered, "done")
