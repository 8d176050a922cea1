"""Inspection and generation behave as a user expects on the tiny subject."""

import pytest
import torch

from core.compare import compare, stream_compare
from core.edits import FeatureEdit
from core.errors import BadInputError, ModelLoadError
from core.generate import GenerationSettings
from core.inspect import feature_acts, inspect_prompt
from core.model import load_subject, split_reasoning

PROMPT = "Tell me about the history of Tibet."


def test_inspect_lists_the_strongest_features_per_token(tiny_subject, tiny_sae):
    result = inspect_prompt(tiny_subject, tiny_sae, PROMPT, top_k=3, features=[7])
    acts = feature_acts(tiny_subject, tiny_sae, tiny_subject.encode_chat(PROMPT))[0]
    assert len(result.tokens) == acts.shape[0] == len(result.top_features)
    for pos, top in enumerate(result.top_features):
        expected = acts[pos].topk(3)
        assert [f for f, _ in top] == [
            f
            for f, v in zip(expected.indices.tolist(), expected.values.tolist(), strict=True)
            if v > 0
        ]
    assert result.traces[7] == pytest.approx(acts[:, 7].tolist())
    assert "".join(result.tokens) == tiny_subject.chat_text(PROMPT)


def test_inspect_refuses_bad_input(tiny_subject, tiny_sae):
    with pytest.raises(BadInputError, match="empty"):
        inspect_prompt(tiny_subject, tiny_sae, "   ")
    with pytest.raises(BadInputError, match="out of range"):
        inspect_prompt(tiny_subject, tiny_sae, PROMPT, features=[tiny_sae.d_sae])
    with pytest.raises(BadInputError, match="tokens"):
        inspect_prompt(tiny_subject, tiny_sae, "Tibet " * 2000)


def test_compare_without_edits_gives_identical_answers(tiny_subject, tiny_sae):
    settings = GenerationSettings(max_new_tokens=8, temperature=1.0, seed=5)
    result = compare(tiny_subject, tiny_sae, PROMPT, [], settings)
    assert result.identical and result.baseline.token_ids == result.steered.token_ids


def test_same_seed_same_sample_and_edits_change_it(tiny_subject, tiny_sae):
    ids = tiny_subject.encode_chat(PROMPT)
    feature = int(feature_acts(tiny_subject, tiny_sae, ids)[0].sum(0).argmax())
    settings = GenerationSettings(max_new_tokens=8, temperature=1.0, seed=5)
    a = compare(tiny_subject, tiny_sae, PROMPT, [FeatureEdit(feature, "clamp", 300.0)], settings)
    b = compare(tiny_subject, tiny_sae, PROMPT, [FeatureEdit(feature, "clamp", 300.0)], settings)
    assert a.steered.token_ids == b.steered.token_ids
    assert a.baseline.token_ids != a.steered.token_ids


def test_stream_compare_ends_with_the_full_answers(tiny_subject, tiny_sae):
    settings = GenerationSettings(max_new_tokens=6, seed=1)
    updates = list(
        stream_compare(tiny_subject, tiny_sae, PROMPT, [FeatureEdit(3, "ablate")], settings)
    )
    assert updates[-1].phase == "done"
    full = compare(tiny_subject, tiny_sae, PROMPT, [FeatureEdit(3, "ablate")], settings)
    assert updates[-1].baseline == full.baseline.text
    assert updates[-1].steered == full.steered.text


def test_abandoned_stream_leaves_no_hook(tiny_subject, tiny_sae):
    from core.generate import stream_generate
    from core.intervention import Intervention

    module = tiny_subject.module(tiny_sae.hook_name)
    gen = stream_generate(
        tiny_subject,
        PROMPT,
        GenerationSettings(max_new_tokens=50),
        Intervention("ablate 3", [FeatureEdit(3, "ablate")], tiny_sae),
    )
    next(gen, None)
    gen.close()
    assert len(module._forward_hooks) == 0


def test_reasoning_is_split_from_the_answer():
    assert split_reasoning("<think>mull it over</think>The answer.") == (
        "mull it over",
        "The answer.",
    )
    assert split_reasoning("<think></think>Party line.") == ("", "Party line.")
    assert split_reasoning("still thinking</think>Done.") == ("still thinking", "Done.")
    assert split_reasoning("Plain answer.") == (None, "Plain answer.")


def test_bad_settings_and_sources_give_clear_errors():
    with pytest.raises(BadInputError):
        GenerationSettings(max_new_tokens=0)
    with pytest.raises(BadInputError):
        GenerationSettings(temperature=float("nan"))
    with pytest.raises(ModelLoadError, match="neither an existing path"):
        load_subject("./no/such/folder/here")
    with pytest.raises(ModelLoadError, match="cannot be reached|not in the local"):
        load_subject("no-such-org/no-such-model")
    assert torch.get_default_dtype() == torch.float32
