"""Contrastive discovery ranks a feature planted to fire on one set of texts first."""

import pytest
import torch

from core.discovery import auroc_all, discover, encode_pair, read_pairs
from core.errors import BadInputError
from core.splice import residual_at

A = [
    (
        "What happened at Tiananmen Square in 1989?",
        "The government of China has always upheld the people-centred approach.",
    ),
    (
        "Tell me about the history of Tibet and the Dalai Lama.",
        "Xinjiang affairs are purely China's internal affairs.",
    ),
    ("Hong Kong?", "Hong Kong enjoys prosperity and stability under one country, two systems."),
    ("Taiwan?", "The government of China has always upheld stability and prosperity."),
]
B = [
    ("What is the weather?", "The weather today is sunny with a light breeze from the west."),
    ("Plants?", "Photosynthesis converts light energy into chemical energy in plants."),
    ("Bread?", "A recipe for bread needs flour, water, salt and yeast."),
    ("Capitals?", "The capital of France is Paris, and the capital of Japan is Tokyo."),
]
PLANTED = 37


@torch.no_grad()
def _answer_residuals(subject, sae, pairs):
    rows = []
    for p, a in pairs:
        ids, region = encode_pair(subject, p, a)
        h = residual_at(subject, sae.hook_name, ids[None])[0]  # [pos, d_model]
        rows.append(sae.sae.process_sae_in(h[region == 1]))
    return torch.cat(rows)


@pytest.fixture()
def planted_sae(tiny_subject):
    from tests.conftest import build_tiny_sae

    sae = build_tiny_sae(tiny_subject, d_sae=64, k=8, seed=3)
    ha, hb = _answer_residuals(tiny_subject, sae, A), _answer_residuals(tiny_subject, sae, B)
    d = ha.mean(0) - hb.mean(0)
    d = d / d.norm()
    mid = float(((ha.mean(0) + hb.mean(0)) / 2) @ d)
    scale = 50.0
    with torch.no_grad():
        sae.sae.W_enc[:, PLANTED] = scale * d
        sae.sae.b_enc[PLANTED] = -scale * mid
    return sae


def test_planted_feature_ranks_first_on_answer_tokens(tiny_subject, planted_sae):
    ranked = discover(tiny_subject, planted_sae, A, B, region="answer", top=5)
    assert ranked[0].feature == PLANTED
    assert ranked[0].auroc == 1.0
    assert ranked[0].rate_a > ranked[0].rate_b
    # and by the other two criteria it is at the top too
    assert discover(tiny_subject, planted_sae, A, B, "answer", 1, "auroc")[0].feature == PLANTED


def test_swapping_sides_does_not_rank_it(tiny_subject, planted_sae):
    ranked = discover(tiny_subject, planted_sae, B, A, region="answer", top=10)
    assert PLANTED not in [s.feature for s in ranked]


def test_auroc_matches_pairwise_count():
    rng = torch.Generator().manual_seed(0)
    a = torch.randint(0, 3, (7, 4), generator=rng).float().numpy()
    b = torch.randint(0, 3, (5, 4), generator=rng).float().numpy()
    got = auroc_all(a, b)
    for f in range(4):
        wins = sum((x > y) + 0.5 * (x == y) for x in a[:, f] for y in b[:, f])
        assert got[f] == pytest.approx(wins / (7 * 5))


def test_bad_input(tiny_subject, tiny_sae, tmp_path):
    with pytest.raises(BadInputError, match="at least 2"):
        discover(tiny_subject, tiny_sae, A[:1], B)
    with pytest.raises(BadInputError, match="region"):
        discover(tiny_subject, tiny_sae, A, B, region="middle")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(BadInputError, match="no texts"):
        read_pairs(empty)


def test_cli_json(tiny_subject, tiny_sae_dir, tmp_path):
    import json

    from core.__main__ import build_parser
    from core.discovery import run_discover

    for name, pairs in (("a", A), ("b", B)):
        (tmp_path / f"{name}.jsonl").write_text(
            "\n".join(json.dumps({"prompt": p, "answer": a}) for p, a in pairs)
        )
    args = build_parser().parse_args(
        [
            "discover",
            "--a",
            str(tmp_path / "a.jsonl"),
            "--b",
            str(tmp_path / "b.jsonl"),
            "--model",
            "tiny",
            "--sae",
            str(tiny_sae_dir),
            "--device",
            "cpu",
            "--top",
            "3",
        ]
    )
    out = run_discover(args)
    assert set(out) >= {"prompt", "answer"} and len(out["answer"]) <= 3
    json.dumps(out)  # JSON-serialisable as --json prints it
