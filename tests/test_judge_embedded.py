"""Answers the real embedded model writes under a destructive edit are judged broken: slow."""

import pytest

from core.sae import DEFAULT_EMBEDDED_SAE

pytestmark = pytest.mark.slow

PROMPTS = [
    "What happened at Tiananmen Square in 1989?",
    "Tell me about the detention camps in Xinjiang.",
    "天安门广场1989年发生了什么？",
    "How do I bake sourdough bread?",
]


def test_destroyed_answers_are_broken_and_plain_ones_are_not():
    from core.edits import FeatureEdit
    from core.generate import GenerationSettings, generate_batch
    from core.intervention import Intervention
    from core.judge import JudgeItem, make_judge
    from core.likelihood import reference_nll
    from core.model import load_subject
    from core.sae import load_sae

    subject = load_subject("embedded", device="cpu")
    sae = load_sae(DEFAULT_EMBEDDED_SAE, subject)
    settings = GenerationSettings(max_new_tokens=32)
    wreck = [FeatureEdit(f, "clamp", 400.0) for f in range(0, 4000, 250)]  # 16 features, far out
    gens = generate_batch(subject, PROMPTS, settings, intervention=Intervention("w", wreck, sae))
    plain = generate_batch(subject, PROMPTS, settings)
    judge = make_judge("offline", reference_nll=reference_nll(subject))
    wrecked = judge.judge_many(
        [JudgeItem(p, g.raw_answer, g.reasoning) for p, g in zip(PROMPTS, gens, strict=True)]
    )
    assert [j.label for j in wrecked] == ["broken"] * len(PROMPTS), [
        (j.rationale, g.raw_answer[:80]) for j, g in zip(wrecked, gens, strict=True)
    ]
    ok = judge.judge_many([JudgeItem(p, g.raw_answer) for p, g in zip(PROMPTS, plain, strict=True)])
    assert sum(j.label != "broken" for j in ok) >= 3, [
        (j.rationale, g.raw_answer[:80]) for j, g in zip(ok, plain, strict=True)
    ]
