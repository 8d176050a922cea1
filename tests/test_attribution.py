"""Attribution ranks a planted causal feature first and matches a finite difference."""

import copy

import pytest
import torch

from core.attribution import attribute, real_ablation_effects
from core.edits import FeatureEdit
from core.intervention import Intervention
from core.likelihood import answer_logprobs
from tests.conftest import TINY_HOOK, build_tiny_sae

TRIPLES = [
    ("What happened at Tiananmen Square?", "Order was restored.", "Troops shot protesters."),
    ("Tell me about Xinjiang.", "Harmony and stability.", "Uyghurs are held in camps."),
]
PLANTED = 17


def metric(subject, iv=None):
    pairs = [(p, c) for p, c, _ in TRIPLES] + [(p, r) for p, _, r in TRIPLES]
    s = answer_logprobs(subject, pairs, iv)
    return sum(s[i].total - s[2 + i].total for i in range(2)) / 2


@pytest.fixture(scope="module")
def planted(tiny_subject):
    """An SAE whose feature PLANTED fires everywhere and writes along the direction that makes the
    censored answers likelier: removing it must cut the censored preference most."""
    sae = build_tiny_sae(tiny_subject, seed=3)
    sae.sae = copy.deepcopy(sae.sae)
    grads = []

    def hook(module, args, output):
        h = (output[0] if isinstance(output, tuple) else output).detach().requires_grad_(True)
        grads.append(h)
        return (h, *output[1:]) if isinstance(output, tuple) else h

    handle = tiny_subject.module(TINY_HOOK).register_forward_hook(hook)
    try:
        for prompt, cen, ref in TRIPLES:
            for answer, sign in ((cen, 1.0), (ref, -1.0)):
                tok = tiny_subject.tokenizer
                head = tok(tiny_subject.chat_text(prompt), add_special_tokens=False)["input_ids"]
                body = tok(answer, add_special_tokens=False)["input_ids"]
                ids = torch.tensor([head + body])
                with torch.enable_grad():
                    lp = tiny_subject.model(input_ids=ids).logits[0, len(head) - 1 : -1]
                    (
                        sign * lp.log_softmax(-1).gather(-1, ids[0, len(head) :, None]).sum()
                    ).backward()
    finally:
        handle.remove()
    direction = sum(h.grad[0].sum(0) for h in grads)
    with torch.no_grad():
        sae.sae.W_dec[PLANTED] = 2.0 * direction / direction.norm()
        sae.sae.W_enc[:, PLANTED] = 0.0
        sae.sae.b_enc[PLANTED] = 50.0  # always among the top k, activation ~50
    return sae


def test_planted_feature_ranks_first_and_its_ablation_helps_most(tiny_subject, planted):
    res = attribute(tiny_subject, planted, TRIPLES)
    assert res.top(1, "all")[0][0] == PLANTED
    top = [f for f, _ in res.top(5, "all")]
    real = real_ablation_effects(tiny_subject, planted, TRIPLES, top)
    assert real[0] == min(real) < 0  # ablating it lowers the censored preference most


def test_scores_match_a_finite_difference(tiny_subject, planted):
    res = attribute(tiny_subject, planted, TRIPLES)
    base = metric(tiny_subject)
    eps = 1e-3
    for f, score in res.top(3, "all"):
        iv = Intervention("nudge", [FeatureEdit(f, "scale", 1 - eps)], planted)
        finite = (metric(tiny_subject, iv) - base) / eps  # change per unit of ablation
        assert finite == pytest.approx(-score / len(TRIPLES), rel=0.1, abs=1e-3)


def test_empty_continuation_is_refused(tiny_subject, planted):
    from core.errors import BadInputError

    with pytest.raises(BadInputError, match="non-empty"):
        attribute(tiny_subject, planted, [("q", "", "x")])


def test_attribution_reports_mean_strengths_on_each_answer(tiny_subject, tiny_sae):
    """The reference answers' mean activations are what a clamp-up may use; they are the SAE's
    encoding of those answer positions, averaged."""
    import torch

    from core.attribution import attribute
    from core.splice import residual_at

    prompt, censored, honest = "Tell me about it.", "No comment at all.", "Here is what happened."
    res = attribute(tiny_subject, tiny_sae, [(prompt, censored, honest)])
    tok = tiny_subject.tokenizer
    head = tok(tiny_subject.chat_text(prompt), add_special_tokens=False)["input_ids"]
    body = tok(honest, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([head + body])
    h = residual_at(tiny_subject, tiny_sae.hook_name, ids, torch.ones_like(ids))[0]
    want = tiny_sae.encode(h[len(head) :]).float().mean(0).detach().numpy()
    assert res.reference_mean is not None and res.reference_mean.shape == (tiny_sae.d_sae,)
    assert abs(res.reference_mean - want).max() < 1e-4
