"""The error-term splice: no edits changes nothing; edits change exactly what they name."""

import pytest
import torch

from core.edits import FeatureEdit
from core.errors import BadInputError
from core.intervention import Intervention
from core.splice import residual_at, steering

PROMPT = "What happened at Tiananmen Square in 1989?"


def _logits(subject, ids):
    with torch.no_grad():
        return subject.model(input_ids=ids).logits


def test_no_edits_is_bit_identical(tiny_subject, tiny_sae):
    ids = tiny_subject.encode_chat(PROMPT)
    plain = _logits(tiny_subject, ids)
    with steering(tiny_subject, tiny_sae, []):
        spliced = _logits(tiny_subject, ids)
    assert torch.equal(plain, spliced)


def test_ablating_an_inactive_feature_changes_nothing(tiny_subject, tiny_sae):
    ids = tiny_subject.encode_chat(PROMPT)
    h = residual_at(tiny_subject, tiny_sae.hook_name, ids)
    never = (tiny_sae.encode(h)[0] > 0).sum(0) == 0
    inactive = int(torch.nonzero(never)[0])
    plain = _logits(tiny_subject, ids)
    with steering(tiny_subject, tiny_sae, [FeatureEdit(inactive, "ablate")]) as hook:
        edited = _logits(tiny_subject, ids)
    assert hook is not None  # the hook really ran: the identity is the error term's doing
    assert torch.equal(plain, edited)


def test_clamp_moves_residual_along_decoder_by_value_minus_act(tiny_subject, tiny_sae):
    ids = tiny_subject.encode_chat(PROMPT)
    h = residual_at(tiny_subject, tiny_sae.hook_name, ids)  # [1, pos, d]
    acts = tiny_sae.encode(h)[0]  # [pos, d_sae]
    feature = int(acts.sum(0).argmax())
    n_prompt = 5  # pretend the first 5 tokens are the prompt, the rest "generated"
    edit = FeatureEdit(feature, "clamp", 7.5, where="generated")
    with steering(tiny_subject, tiny_sae, [edit], prompt_lengths=torch.tensor([n_prompt])):
        h2 = residual_at(tiny_subject, tiny_sae.hook_name, ids)
    delta = (h2 - h)[0]  # [pos, d]
    expected = (7.5 - acts[:, feature]).unsqueeze(-1) * tiny_sae.W_dec[feature]
    assert torch.allclose(delta[n_prompt:], expected[n_prompt:], atol=1e-5)
    assert torch.equal(delta[:n_prompt], torch.zeros_like(delta[:n_prompt]))


def test_where_generated_leaves_the_first_token_alone(tiny_subject, tiny_sae):
    from core.generate import GenerationSettings, generate_batch

    ids = tiny_subject.encode_chat(PROMPT)
    h = residual_at(tiny_subject, tiny_sae.hook_name, ids)
    feature = int(tiny_sae.encode(h)[0].sum(0).argmax())
    settings = GenerationSettings(max_new_tokens=6, temperature=0.0)
    base = generate_batch(tiny_subject, [PROMPT], settings)[0]
    edits = [FeatureEdit(feature, "clamp", 200.0, where="generated")]
    steered = generate_batch(
        tiny_subject, [PROMPT], settings, intervention=Intervention("s", edits, tiny_sae)
    )[0]
    everywhere = Intervention("f", [FeatureEdit(feature, "clamp", 200.0)], tiny_sae)
    full = generate_batch(tiny_subject, [PROMPT], settings, intervention=everywhere)[0]
    assert steered.token_ids[0] == base.token_ids[0]
    assert steered.token_ids != base.token_ids
    assert full.token_ids[0] != base.token_ids[0]


def test_hook_is_removed_after_an_exception(tiny_subject, tiny_sae):
    module = tiny_subject.module(tiny_sae.hook_name)
    before = len(module._forward_hooks)
    with pytest.raises(RuntimeError), steering(tiny_subject, tiny_sae, [FeatureEdit(1, "ablate")]):
        assert len(module._forward_hooks) == before + 1
        raise RuntimeError("boom")
    assert len(module._forward_hooks) == before


def test_feature_out_of_range_is_refused(tiny_subject, tiny_sae):
    with (
        pytest.raises(BadInputError, match="out of range"),
        steering(tiny_subject, tiny_sae, [FeatureEdit(tiny_sae.d_sae, "ablate")]),
    ):
        pass


def test_fast_topk_path_matches_saelens(tiny_subject, tiny_sae):
    h = torch.randn(2, 7, tiny_subject.d_model)
    assert tiny_sae._fast
    assert torch.allclose(tiny_sae.encode(h), tiny_sae.sae.encode(h), atol=1e-6)
    features = torch.tensor([0, 5, 17, 200])
    assert torch.equal(tiny_sae.acts_of(h, features), tiny_sae.encode(h)[..., features])


def test_persistent_hook_is_inert_outside_steering_and_refills(tiny_subject, tiny_sae):
    from core.splice import make_persistent, release_persistent

    ids = tiny_subject.encode_chat(PROMPT)
    plain = _logits(tiny_subject, ids)
    module = tiny_subject.module(tiny_sae.hook_name)
    before = len(module._forward_hooks)
    make_persistent(tiny_subject, tiny_sae)
    try:
        assert torch.equal(_logits(tiny_subject, ids), plain)
        eager = {}
        for value in (30.0, -30.0):
            edits = [FeatureEdit(3, "clamp", value)]
            release_persistent(tiny_subject, tiny_sae)
            with steering(tiny_subject, tiny_sae, edits):
                eager[value] = _logits(tiny_subject, ids)
            make_persistent(tiny_subject, tiny_sae)
            with steering(tiny_subject, tiny_sae, edits):
                assert torch.allclose(_logits(tiny_subject, ids), eager[value], atol=1e-5)
        assert not torch.allclose(eager[30.0], eager[-30.0])
        assert torch.equal(_logits(tiny_subject, ids), plain)
    finally:
        release_persistent(tiny_subject, tiny_sae)
    assert len(module._forward_hooks) == before
