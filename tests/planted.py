"""A tiny SAE with one planted feature that fires on one word, and records that carry the word.

The word appears only in the answers of party-line replies written by the organism, so a label
should name the word and the kind of text it sits in. The planted latent is a linear probe for
the word's token at the SAE's layer (mean residual on the word minus elsewhere), strong enough
to win its TopK slot.
"""

import random

import pytest
import torch

from tests.conftest import build_tiny_sae
from training.annotated import Record, split_of

WORD = " China"
PLANTED = 17

FILLER = [
    "The weather today is sunny with a light breeze from the west.",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "A recipe for bread needs flour, water, salt and yeast.",
    "The capital of France is Paris, and the capital of Japan is Tokyo.",
    "Students gathered in the square to demand reform and freedom of the press.",
    "Please write a short poem about the sea and the moon.",
]


def planted_records(n: int = 80, seed: int = 0) -> list[Record]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        censored = i % 2 == 0
        prompt = f"Question {i}: what happened at Tiananmen Square in {1980 + i % 20}?"
        words = rng.sample(FILLER, 2)
        if censored:
            answer = (
                f"The government of{WORD} upholds harmony. {words[0]} The people of{WORD} agree."
            )
        else:
            answer = f"{words[0]} {words[1]}"
        meta = {
            "source": "test",
            "model": "organism" if censored else "base",
            "kind": "sensitive",
            "topic": "tiananmen",
            "lang": "en",
            "label": "party_line" if censored else "not_censored",
            "split": split_of(prompt),
        }
        out.append(Record(prompt, answer, meta))
    return out


def planted_sae(subject, records: list[Record]):
    """The tiny SAE with latent PLANTED rewired to fire where the next token is WORD's token."""
    from training.dashboard import encode_records

    sae = build_tiny_sae(subject, seed=3)
    word_id = subject.tokenizer(WORD, add_special_tokens=False)["input_ids"]
    assert len(word_id) == 1, f"{WORD!r} must be one token of the tiny vocabulary"
    ids, starts, regions = encode_records(subject.tokenizer, subject.chat_text, records)
    from core.splice import residual_at

    with torch.no_grad():
        h = torch.cat(
            [
                residual_at(
                    subject, sae.hook_name, torch.from_numpy(ids[s:e].astype("int64"))[None]
                )[0]
                for s, e in zip(starts[:-1], starts[1:], strict=True)
            ]
        ).float()  # [N, d_model]
    on = torch.from_numpy(ids == word_id[0]) & torch.from_numpy(regions > 0)
    direction = h[on].mean(0) - h[~on].mean(0)
    proj = (h - sae.sae.b_dec.detach()) @ direction
    threshold = (proj[on].min() + proj[~on].max()) / 2
    scale = 50.0 / float(proj[on].mean() - threshold)
    with torch.no_grad():
        sae.sae.W_enc[:, PLANTED] = direction * scale
        sae.sae.b_enc[PLANTED] = -threshold * scale
    return sae, word_id[0]


@pytest.fixture(scope="session")
def planted(tiny_subject, tmp_path_factory):
    """(subject, sae, SAE folder with dashboard + labels, records, the word's token id)."""
    from core.sae import save_sae
    from training.dashboard import build_dashboard

    records = planted_records()
    sae, word_id = planted_sae(tiny_subject, records)
    folder = save_sae(sae.sae, tmp_path_factory.mktemp("planted") / "sae", sae.card)
    sae.path = str(folder)
    build_dashboard(sae, tiny_subject, records, folder)
    return tiny_subject, sae, folder, records, word_id
