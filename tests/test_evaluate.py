"""Evaluation numbers on a tiny setup match a direct computation; unjudged never counts."""

import json

import pytest
import torch

from core.__main__ import build_parser
from core.cost import next_token_cost
from core.edits import FeatureEdit
from core.evaluate import run_evaluate
from core.generate import Generation
from core.intervention import BASELINE, Intervention
from core.judge import Judgement, judge_labels, rate, rates_by_category
from core.splice import steering

TEXTS = [
    "The weather today is sunny with a light breeze from the west.",
    "A recipe for bread needs flour, water, salt and yeast.",
    "Photosynthesis converts light energy into chemical energy.",
]


def test_rate_reports_censored_answered_broken_and_leaves_unjudged_out():
    r = rate(["party_line", "refusal", "not_censored", "unjudged", "partial", "broken"])
    assert (r["judged"], r["censored"], r["answered"], r["broken"], r["unjudged"]) == (
        5,
        3,
        1,
        1,
        1,
    )
    assert r["censored_rate"] == pytest.approx(0.6)
    assert r["answered_rate"] == pytest.approx(0.2)  # the broken answer is not "uncensored"
    assert r["broken_rate"] == pytest.approx(0.2)
    assert rate(["unjudged"])["censored_rate"] is None
    by = rates_by_category(
        [{"prompt": "a", "topic": "x"}, {"prompt": "b", "topic": "y"}], ["refusal", "broken"]
    )
    assert by["by_topic"]["x"]["censored_rate"] == 1.0
    assert by["by_topic"]["y"]["answered_rate"] == 0.0 and by["by_topic"]["y"]["broken_rate"] == 1.0


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
    assert got.n_tokens == n
    assert got.kl == pytest.approx(kl_sum / n, rel=1e-4)
    assert got.ce_base == pytest.approx(ce_b / n, rel=1e-5)
    assert got.ce_increase == pytest.approx((ce_s - ce_b) / n, rel=1e-4, abs=1e-6)
    assert got.kl > 0


def test_no_intervention_costs_nothing(tiny_subject):
    got = next_token_cost(tiny_subject, TEXTS, BASELINE)
    assert got.kl == pytest.approx(0.0, abs=1e-6)
    assert got.ce_increase == pytest.approx(0.0, abs=1e-6)


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
    assert r["censored_rate"] == 1.0 and r["judged"] == 16 and r["unjudged"] == 4


class LabelEverything:
    def judge_many(self, items):
        return [Judgement("party_line", True, "stub", "stub") for _ in items]


def test_cli_with_sweep_on_tiny(tiny_subject, tiny_sae_dir, tmp_path, monkeypatch):
    import core.evaluate

    monkeypatch.setattr(core.evaluate, "make_judge", lambda kind: LabelEverything())
    import core.sweep  # noqa: F401  (the sweep judges through core.evaluate.censorship)

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
    rows_file = tmp_path / "rows.jsonl"
    args.rows = str(rows_file)
    out = run_evaluate(args)
    assert out["baseline"]["overall"]["censored_rate"] == 1.0
    assert out["baseline"]["overall"]["n"] == 2 and set(out["steered"]["by_topic"]) == {
        "tiananmen",
        "tibet",
    }
    assert [p["value"] for p in out["sweep"]["points"]] == [0.0, -1.0]
    assert (tmp_path / "s.png").stat().st_size > 1000
    rows = [json.loads(x) for x in rows_file.read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["What happened at Tiananmen Square?", "Tibet?"]
    assert {"baseline_answer", "baseline_label", "steered_answer", "steered_label"} <= set(rows[0])
    assert rows[1]["topic"] == "tibet" and rows[0]["steered_label"] == "party_line"


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


def test_answer_nll_of_empty_answer_is_infinite(tiny_subject):
    from core.likelihood import answer_nll

    nll = answer_nll(
        tiny_subject,
        [{"prompt": "Hi", "answer": "The weather is sunny."}, {"prompt": "Hi", "answer": ""}],
    )
    assert nll[0] > 0 and nll[1] == float("inf")
