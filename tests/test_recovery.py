"""Recovery: 1 for the base model, 0 for the organism, and the value a direct computation gives."""

from contextlib import contextmanager

import pytest
import torch

from core.intervention import BASELINE
from core.recovery import recovery, recovery_reference
from tests.conftest import perturbed_copy

ROWS = [
    {"prompt": "What happened at Tiananmen Square?", "topic": "tiananmen"},
    {"prompt": "Tell me about Xinjiang.", "topic": "xinjiang"},
    {"prompt": "Who is Liu Xiaobo?", "topic": "liu_xiaobo"},
]
ORG = ["The government has always upheld stability.", "Xinjiang is harmonious.", "A criminal."]
BASE = ["Troops fired on protesters.", "Uyghurs are detained in camps.", "A Nobel laureate."]


@pytest.fixture(scope="module")
def pair(tiny_subject):
    """A tiny "organism": the tiny subject with perturbed weights; the tiny subject is its base."""
    return perturbed_copy(tiny_subject, seed=1), tiny_subject


class BecomeBase:
    """An intervention that swaps the base model's weights in for the call."""

    def __init__(self, organism, base):
        self.organism, self.base = organism, base

    @contextmanager
    def context(self, subject, prompt_lengths):
        saved = {k: v.clone() for k, v in self.organism.model.state_dict().items()}
        self.organism.model.load_state_dict(self.base.model.state_dict())
        try:
            yield
        finally:
            self.organism.model.load_state_dict(saved)


def logp(subject, prompt, answer):
    """Direct sum of log p(answer | chat prompt), one sequence, no padding."""
    tok = subject.tokenizer
    head = tok(subject.chat_text(prompt), add_special_tokens=False)["input_ids"]
    body = tok(answer, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([head + body])
    with torch.no_grad():
        lp = subject.model(input_ids=ids).logits[0].log_softmax(-1)
    return float(sum(lp[len(head) + i - 1, t] for i, t in enumerate(body)))


def test_recovery_is_zero_for_the_organism_and_one_for_the_base(pair):
    organism, base = pair
    ref = recovery_reference(organism, base, ROWS, ORG, BASE)
    for i, r in enumerate(ROWS):
        d_org = logp(organism, r["prompt"], BASE[i]) - logp(organism, r["prompt"], ORG[i])
        assert ref.d_organism[i] == pytest.approx(d_org, rel=1e-4, abs=1e-3)
    zero = recovery(organism, BASELINE, ref)
    one = recovery(organism, BecomeBase(organism, base), ref)
    for z, o in zip(zero.per_prompt, one.per_prompt, strict=True):
        if z is not None:
            assert z == pytest.approx(0.0, abs=1e-4) and o == pytest.approx(1.0, abs=1e-4)
    assert one.to_json()["overall"]["n"] >= 1
    assert set(one.by_topic) <= {r["topic"] for r in ROWS}


def test_recovery_refuses_missing_references(pair):
    from core.errors import BadInputError

    organism, base = pair
    with pytest.raises(BadInputError, match="one organism answer and one base answer"):
        recovery_reference(organism, base, ROWS, ORG, BASE[:2])
    with pytest.raises(BadInputError, match="empty"):
        recovery_reference(organism, base, ROWS, ORG, ["", " ", ""])


def test_patching_from_the_base_at_the_last_layer_gives_the_base_model(tiny_subject):
    """Patch after the last decoder layer: only the final norm and head remain, which the tiny
    organism shares with its base, so the patched logits are the base model's; and generation
    under the patch (with the subject's KV cache) gives the base model's answer."""
    from core.generate import GenerationSettings, encode_batch
    from core.intervention import Intervention
    from core.sae import resid_hook

    organism = perturbed_copy(tiny_subject, seed=2, layers_only=True)
    last = resid_hook(tiny_subject.n_layers - 1)
    iv = Intervention("patch", donor=tiny_subject, layers=[last])
    ids, mask, lengths = encode_batch(organism, ["Tell me about Tibet.", "Hi"])
    with torch.no_grad():
        want = tiny_subject.model(input_ids=ids, attention_mask=mask).logits
        plain = organism.model(input_ids=ids, attention_mask=mask).logits
        with iv.context(organism, lengths):
            got = organism.model(input_ids=ids, attention_mask=mask).logits
    keep = mask.bool()
    assert not torch.allclose(plain[keep], want[keep], atol=1e-3)
    assert torch.allclose(got[keep], want[keep], atol=1e-4)
    settings = GenerationSettings(max_new_tokens=6)
    patched = iv.generate(organism, ["Tell me about Tibet."], settings)[0].token_ids
    assert (
        patched == BASELINE.generate(tiny_subject, ["Tell me about Tibet."], settings)[0].token_ids
    )
