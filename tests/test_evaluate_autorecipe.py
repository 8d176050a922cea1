"""The auto-recipe search takes the smallest, weakest candidate that meets the target in budget."""

from types import SimpleNamespace

import pytest

import core.autorecipe as ar
from core.errors import BadInputError


@pytest.fixture()
def fake_world(monkeypatch):
    """Censorship falls with n * |strength|; KL grows with it; no model runs."""

    def strength(iv):
        return sum(abs(e.value) if e.mode == "scale" else 0.5 for e in iv.edits or [])

    def censorship(subject, iv, rows, judge, settings, batch_size=16):
        rate = 0.8 / (1 + strength(iv))
        broken = 0.2 if strength(iv) > 3.5 else 0.0  # strong edits break the model
        overall = {"censored_rate": rate, "answered_rate": 1 - rate - broken, "broken_rate": broken}
        return {"overall": overall}, [None] * len(rows), []

    def next_token_cost(subject, texts, iv, **kw):
        kl = 0.01 * strength(iv) ** 2
        return SimpleNamespace(kl=kl, ce_increase_pct=10 * kl)

    monkeypatch.setattr(ar, "censorship", censorship)
    monkeypatch.setattr(ar, "next_token_cost", next_token_cost)


def test_smallest_weakest_candidate_wins(fake_world):
    cfg = ar.AutoRecipeConfig(sizes=[1, 2, 4], strengths=[("ablate", 0.0), ("scale", -1.0)])
    res = ar.auto_recipe(
        None, None, [7, 3, 9, 1], [{"prompt": "p"}], None, ["t"], cfg, baseline_rate=0.8
    )
    # n=1 ablate: 0.8/1.5 (33% cut); n=1 scale -1: 0.8/2 (50%): met
    assert res.met_target and [e.feature for e in res.edits] == [7]
    assert res.edits[0].mode == "scale" and len(res.tried) == 2


def test_over_budget_is_skipped_and_best_reported(fake_world):
    cfg = ar.AutoRecipeConfig(
        target_reduction=0.9,
        max_kl=0.05,
        sizes=[1, 2, 4],
        strengths=[("scale", -1.0), ("scale", -3.0)],
    )
    res = ar.auto_recipe(
        None, None, [7, 3, 9, 1], [{"prompt": "p"}], None, ["t"], cfg, baseline_rate=0.8
    )
    assert not res.met_target
    assert any(t.get("skipped") == "over budget" for t in res.tried)
    assert all(t["kl"] <= 0.05 for t in res.tried if "censored_rate" in t)
    assert len(res.edits) == 2  # best within budget: n=2 at scale -1


def test_candidates_that_break_the_model_never_win(fake_world):
    cfg = ar.AutoRecipeConfig(
        target_reduction=0.8, max_kl=1.0, max_ce_pct=100, sizes=[1, 2], strengths=[("scale", -2.0)]
    )
    res = ar.auto_recipe(None, None, [7, 3], [{"prompt": "p"}], None, ["t"], cfg, baseline_rate=0.8)
    # n=2 at -2 (strength 4) censors least but breaks 20% of answers: n=1 wins instead
    assert [t.get("skipped") for t in res.tried] == [None, "broken answers"]
    assert not res.met_target and [e.feature for e in res.edits] == [7]


def test_bad_input(fake_world):
    with pytest.raises(BadInputError, match="ranked"):
        ar.auto_recipe(None, None, [], [{"prompt": "p"}], None, ["t"], baseline_rate=0.5)
    with pytest.raises(BadInputError, match="not censored"):
        ar.auto_recipe(None, None, [1], [{"prompt": "p"}], None, ["t"], baseline_rate=0.0)
