"""Baseline vs steered: the same prompt, seed and sampling settings, with and without edits.

result = compare(subject, sae, "What happened at Tiananmen Square?", edits)
for update in stream_compare(subject, sae, prompt, edits): print(update.steered)
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from core.edits import FeatureEdit
from core.generate import (
    Generation,
    GenerationSettings,
    can_stream_together,
    generate_batch,
    stream_sides,
)
from core.intervention import Intervention
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
    steered = generate_batch(subject, [prompt], settings, intervention=_steered(edits, sae))[0]
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
    phase: str  # "both" | "baseline" | "steered" | "done"
    raw: dict = field(default_factory=dict)
    """Each side's text as emitted, special tokens included (what the judge reads)."""

    def split(self, side: str) -> tuple[str | None, str]:
        return split_reasoning(getattr(self, side))

    def split_raw(self, side: str) -> tuple[str | None, str]:
        return split_reasoning(self.raw.get(side) or getattr(self, side))


def stream_compare(
    subject, sae, prompt: str, edits: list[FeatureEdit], settings: GenerationSettings | None = None
) -> Iterator[CompareUpdate]:
    """Stream the baseline and the steered answer token by token, both at once where that
    gives the same answers as one after the other (greedy decoding, core.generate)."""
    settings = settings or GenerationSettings()
    together = can_stream_together(subject, sae, settings)
    sides = {"baseline": None, "steered": _steered(edits, sae)}
    texts = {"baseline": "", "steered": ""}
    raw: dict[str, str] = {}
    stream = stream_sides(subject, prompt, sides, settings, together=together, raw=raw)
    for side, texts in stream:
        phase = "both" if together else side
        yield CompareUpdate(texts["baseline"], texts["steered"], phase, dict(raw))
    yield CompareUpdate(texts["baseline"], texts["steered"], "done", dict(raw))


def _steered(edits, sae) -> Intervention:
    return Intervention("steered", edits=list(edits), sae=sae)
