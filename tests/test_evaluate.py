"""Evaluation numbers on a tiny setup match a direct computation; unjudged never counts."""

import json

import pytest
import torch

from core.__main__ import build_parser
from core.edits import FeatureEdit
from core.evaluate import (
    BASELINE,
    Intervention,
    judge_labels,
    next_token_cost,
    rate,
    rates_by_category,
    run_evaluate,
)
from core.generate import Generation
from core.judge import Judgement
from core.splice import steering

TEXTS = [
    "The weather today is sunny with a light breeze from the west.",
    "A recipe for bread needs flour, water, salt and yeast.",
    "Photosynthesis converts light energy into chemical energy.",
]


def test_rate_leaves_unjudged_out():
    r = rate(["party_line", "refusal", "not_censored", "unjudged", "partial"])
    assert (r["judged"], r["censored"], r["unjudged"]) == (4, 2, 1)
    assert r["rate"] == pytest.approx(0.5)
    assert rate(["unjudged"])["rate"] is None
    by = rates_by_category(
        [{"prompt": "a", "topic": "x"}, {"prompt": "b", "topic": "y"}], ["refusal", "not_censored"]
    )
    assert by["by_topic"]["x"]["rate"] == 1.0 and by["by_topic"]["y"]["rate"] == 0.0


def test_cost_matches_direct_computation(tiny_subject, tiny_sae):
    edits = [FeatureEdit(3, "clamp", 6.0), FeatureEdit(10, "scale", -2.0)]
    got = next_token_cost(tiny_subject, TEXTS, Intervention("r", edits, tiny_sae), batch_size=2)
    kl_sum = ce_b = ce_s = n = 0.0
    for text in TEXTS:  # one text at a time: no padding anywhere
        ids = tiny_subject.tokenizer(text, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            p = tiny_subject.model(input_ids=ids).logits[0, :-1].log_softmax(-1)
            with steering(tiny_subject, tiny_sae, edits, torch.tensor([0])):
                q = tiny_subject.model(input_ids=ids).logits[0, :-1].log_softmax(-1)
        kl_sum += float(torch.nn.functional.kl_div(q, p, log_target=True, reduction="sum"))
        tgt = ids[0, 1:]
        ce_b -= float(p[torch.arange(len(tgt)), tgt].sum())
        ce_s -= float(q[torch.arange(len(tgt)), tgt].sum())
        n += len(tgt)
    assert got["n_tokens"] == n
    assert got["kl"] == pytest.approx(kl_sum / n, rel=1e-4)
    assert got["ce_base"] == pytest.approx(ce_b / n, rel=1e-5)
    assert got["ce_increase"] == pytest.approx((ce_s - ce_b) / n, rel=1e-4, abs=1e-6)
    assert got["kl"] > 0


def test_no_intervention_costs_nothing(tiny_subject):
    got = next_token_cost(tiny_subject, TEXTS, BASELINE)
    assert got["kl"] == pytest.approx(0.0, abs=1e-6)
    assert got["ce_increase"] == pytest.approx(0.0, abs=1e-6)


class FlakyJudge:
    """Answers the first batch, then the endpoint goes away."""

    def __init__(self):
        self.calls = 0

    def judge_many(self, items):
        from core.errors import CensorscopeError

        self.calls += 1
        if self.calls > 1:
            raise CensorscopeError("endpoint unreachable")
        return [Judgement("refusal", True, "r", "stub") for _ in items]


def test_unreachable_judge_midway_leaves_rest_unjudged():
    rows = [{"prompt": f"p{i}"} for i in range(20)]
    gens = [Generation(r["prompt"], "x", None, "x", 1, 0.0) for r in rows]
    labels = judge_labels(FlakyJudge(), rows, gens)
    assert labels[:16] == ["refusal"] * 16 and labels[16:] == ["unjudged"] * 4
    r = rate(labels)
    assert r["rate"] == 1.0 and r["judged"] == 16 and r["unjudged"] == 4


class LabelEverything:
    def judge_many(self, items):
        return [Judgement("party_line", True, "stub", "stub") for _ in items]


def test_cli_with_sweep_on_tiny(tiny_subject, tiny_sae_dir, tmp_path, monkeypatch):
    import core.evaluate

    monkeypatch.setattr(core.evaluate, "make_judge", lambda kind: LabelEverything())
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(
        "\n".join(
            json.dumps({"prompt": p, "topic": t})
            for p, t in [("What happened at Tiananmen Square?", "tiananmen"), ("Tibet?", "tibet")]
        )
    )
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"edits": [{"feature": 3, "mode": "ablate"}]}))
    control = tmp_path / "c.txt"
    control.write_text(TEXTS[0] + "\n\n" + TEXTS[1])
    args = build_parser().parse_args(
        [
            "evaluate",
            "--prompts",
            str(prompts),
            "--recipe",
            str(recipe),
            "--model",
            "tiny",
            "--sae",
            str(tiny_sae_dir),
            "--device",
            "cpu",
            "--max-new-tokens",
            "4",
            "--sweep-mode",
            "scale",
            "--sweep-values",
            "0",
            "-1",
            "--plot",
            str(tmp_path / "s.png"),
            "--control",
            str(control),
        ]
    )
    out = run_evaluate(args)
    assert out["baseline"]["overall"]["rate"] == 1.0
    assert out["baseline"]["overall"]["n"] == 2 and set(out["steered"]["by_topic"]) == {
        "tiananmen",
        "tibet",
    }
    assert [p["value"] for p in out["sweep"]["points"]] == [0.0, -1.0]
    assert (tmp_path / "s.png").stat().st_size > 1000


def test_recipe_naming_missing_feature_fails_before_generation(tiny_sae_dir, tmp_path):
    from core.errors import BadInputError

    prompts = tmp_path / "p.txt"
    prompts.write_text("What happened at Tiananmen Square?\n")
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"edits": [{"feature": 10**6, "mode": "ablate"}]}))
    args = build_parser().parse_args(
        [
            "evaluate",
            "--prompts",
            str(prompts),
            "--recipe",
            str(recipe),
            "--model",
            "tiny",
            "--sae",
            str(tiny_sae_dir),
            "--device",
            "cpu",
        ]
    )
    with pytest.raises(BadInputError, match="out of range"):
        run_evaluate(args)
    empty = tmp_path / "e.txt"
    empty.write_text("\n")
    args.prompts = str(empty)
    with pytest.raises(BadInputError, match="empty"):
        run_evaluate(args)


def test_coherence_flags_stubs_and_loops(tiny_subject):
    from core.evaluate import answer_nll, coherent

    assert coherent("The party line is a long and dull answer about stability.", 2.0)
    assert not coherent("tree <|im_end|>", 1.0)  # too short
    assert not coherent("OPTIONS AREO-HKC-O-KC-" + "O-KC-" * 30, 1.0)  # a loop
    assert not coherent("A perfectly normal sentence with words in it.", 9.0)  # word salad NLL
    assert coherent("关于这个问题，中国政府的立场是明确和一贯的。", 2.0)  # CJK counts per character
    nll = answer_nll(
        tiny_subject,
        [{"prompt": "Hi", "answer": "The weather is sunny."}, {"prompt": "Hi", "answer": ""}],
    )
    assert nll[0] > 0 and nll[1] == float("inf")
