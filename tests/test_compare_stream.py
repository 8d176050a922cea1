"""Baseline and steered answers stream at the same time and end as the one-at-a-time answers."""

import threading
from contextlib import contextmanager

from core.compare import compare, stream_compare
from core.edits import FeatureEdit
from core.generate import GenerationSettings, can_stream_together
from core.inspect import feature_acts

PROMPT = "Tell me about the history of Tibet."


def strong_edit(subject, sae):
    """A clamp on the prompt's most active feature: enough to change the tiny model's answer."""
    feature = int(feature_acts(subject, sae, subject.encode_chat(PROMPT))[0].sum(0).argmax())
    return [FeatureEdit(feature, "clamp", 300.0)]


@contextmanager
def forward_threads(subject):
    """The thread of every forward pass through the model, in order."""
    seen: list[int] = []
    handle = subject.module("model.layers.0").register_forward_hook(
        lambda *_: seen.append(threading.get_ident())
    )
    try:
        yield seen
    finally:
        handle.remove()


def switches(threads: list[int]) -> int:
    return sum(a != b for a, b in zip(threads, threads[1:], strict=False))


def test_both_sides_run_at_once_and_end_as_separate_runs_would(tiny_subject, tiny_sae):
    settings = GenerationSettings(max_new_tokens=32, seed=1, ignore_eos=True)
    edits = strong_edit(tiny_subject, tiny_sae)
    assert can_stream_together(tiny_subject, tiny_sae, settings)
    with forward_threads(tiny_subject) as threads:
        updates = list(stream_compare(tiny_subject, tiny_sae, PROMPT, edits, settings))
    assert len(set(threads)) == 2 and switches(threads) > 1  # interleaved, not one then the other
    final = updates[-1]
    assert final.phase == "done" and {u.phase for u in updates[:-1]} == {"both"}
    one_by_one = compare(tiny_subject, tiny_sae, PROMPT, edits, settings)
    assert final.baseline == one_by_one.baseline.text  # the hook steered only its own thread
    assert final.steered == one_by_one.steered.text != final.baseline


def test_sampling_streams_one_side_after_the_other_to_stay_reproducible(tiny_subject, tiny_sae):
    settings = GenerationSettings(max_new_tokens=12, temperature=1.0, seed=5, ignore_eos=True)
    edits = strong_edit(tiny_subject, tiny_sae)
    assert not can_stream_together(tiny_subject, tiny_sae, settings)
    with forward_threads(tiny_subject) as threads:
        updates = list(stream_compare(tiny_subject, tiny_sae, PROMPT, edits, settings))
    assert switches(threads) == 0
    phases = [u.phase for u in updates]
    assert phases[-1] == "done" and "steered" in phases
    assert "baseline" not in phases[phases.index("steered") :]
    one_by_one = compare(tiny_subject, tiny_sae, PROMPT, edits, settings)
    assert updates[-1].steered == one_by_one.steered.text
    assert updates[-1].baseline == one_by_one.baseline.text


def test_stream_keeps_the_raw_text_the_judge_reads(tiny_subject, tiny_sae):
    from core.compare import stream_compare
    from core.edits import FeatureEdit
    from core.generate import GenerationSettings, _strip_special

    settings = GenerationSettings(max_new_tokens=6, ignore_eos=True)
    *_, last = stream_compare(tiny_subject, tiny_sae, "Hello", [FeatureEdit(3, "ablate")], settings)
    assert set(last.raw) == {"baseline", "steered"}
    for side in ("baseline", "steered"):
        assert _strip_special(tiny_subject.tokenizer, last.raw[side]) == getattr(last, side)
