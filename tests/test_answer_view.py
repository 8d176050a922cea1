"""The answers' tokens coloured after Generate, one feature's differences, strength sliders,
and recipes refused next to another SAE: the Inspect & Steer handlers as plain functions."""

import json
import re

import gradio as gr
import pytest

from ui import runtime


@pytest.fixture
def rt(planted, tmp_path, monkeypatch):
    monkeypatch.setenv("CENSORSCOPE_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("CHROMA_URL", raising=False)
    subject, sae, *_ = planted
    return runtime.set_runtime(subject, sae)


def _titles(html: str) -> list[str]:
    return re.findall(r'title="([^"]*)"', html)


def test_generate_ends_with_both_answers_token_coloured(rt):
    from ui.inspect_tab import on_generate

    recipe = json.dumps({"edits": [{"feature": 17, "mode": "ablate"}]})
    *_, last = on_generate("Tell me about China.", recipe, 6, 0.0, 0.95, 0, "17")
    b_tok, s_tok, caption, answers, status = last[7:]
    assert status.startswith("Done (seed 0)")
    assert "answer-tokens" in b_tok and "answer-tokens" in s_tok
    assert "Feature #17 over the answers" in caption and answers["recipe"] == recipe


def test_answer_tokens_show_values_and_where_the_feature_was_ablated(rt):
    from core.edits import FeatureEdit
    from ui.inspect_tab import answer_views

    answer = "The government of China upholds harmony."
    b, s, caption = answer_views("Q?", answer, answer, [FeatureEdit(17, "ablate")], 17)
    assert all(t.startswith("#17 = ") for t in _titles(b))  # hover: the feature's value
    base_vals = [float(t.split()[2]) for t in _titles(b)]
    steered_vals = [float(t.split()[2]) for t in _titles(s)]
    assert max(base_vals) > 1 and set(steered_vals) == {0.0}  # ablated: the model got 0
    changed = b.count(" changed")
    assert changed >= 1 and changed == s.count(" changed")  # the ' China' token, both sides
    assert "the answers are the same tokens" in caption and f"differs at {changed} of" in caption
    other, _, caption = answer_views("Q?", answer, "Something else entirely.", [], 17)
    assert " parted" in other and "part at token 0" in caption
    plain, _, caption = answer_views("Q?", answer, answer, [], None)
    assert "99th percentile" in caption and _titles(plain)[0].startswith("#")


def test_inspect_with_a_dashboard_colours_only_unusual_tokens(rt):
    from core.dashboard import load_store
    from ui.inspect_tab import on_inspect

    spans, caption, _, state, _, _ = on_inspect("The people of China agree.", 5)
    assert "beyond their own 99th percentile" in caption
    p99 = load_store(rt.sae_dir).t["p99"]
    for (_, score), tok in zip(spans, state["tokens"], strict=True):
        beyond = any(t["act"] >= p99[t["feature"]] > 0 for t in tok["top"][:3])
        assert (score is not None) == (
            beyond and tok["id"] not in rt.subject.tokenizer.all_special_ids
        )
    spans, caption, *_ = on_inspect("The people of China agree.", 5, "17")
    assert "feature #17 alone" in caption and max(s or 0 for _, s in spans) > 0


def test_strength_slider_bounds_follow_the_feature_range():
    from ui.inspect_tab import range_marks, strength_range

    assert strength_range("clamp", 0.0, 1.0, 4.0) == (0.0, 8.0)
    assert strength_range("add", 0.0, 1.0, 4.0) == (-8.0, 8.0)
    assert strength_range("clamp", 20.0, 1.0, 4.0) == (0.0, 20.0)  # the value stays reachable
    assert strength_range("scale", 0.5, 1.0, 4.0) == (-3.0, 3.0)
    html = range_marks(0.0, 8.0, 1.0, 4.0)
    assert "left:12.5%" in html and "left:50.0%" in html and "p99 4.00" in html


def test_a_moved_slider_rewrites_that_edit_only(rt):
    from ui.inspect_tab import on_strength

    recipe = json.dumps(
        {"edits": [{"feature": 1, "mode": "ablate"}, {"feature": 2, "mode": "clamp", "value": 1}]}
    )
    out = json.loads(on_strength(recipe, 3.5, 1))["edits"]
    assert out[0]["mode"] == "ablate" and out[1]["value"] == 3.5


def test_add_edit_without_a_feature_adds_nothing(rt):
    from ui.inspect_tab import on_add_edit

    with pytest.raises(gr.Error, match="feature id is empty"):
        on_add_edit("", None, "ablate", 0, "all")


def test_importing_a_recipe_from_another_sae_needs_insisting(rt, tiny_subject, tmp_path):
    from core.edits import FeatureEdit, recipe_to_json
    from core.recipe_origin import recipe_origin
    from tests.conftest import build_tiny_sae
    from ui.inspect_tab import on_import_recipe

    other = build_tiny_sae(tiny_subject, seed=9)
    path = tmp_path / "r.json"
    path.write_text(
        recipe_to_json([FeatureEdit(4, "clamp", 2.0)], **recipe_origin(other, tiny_subject))
    )
    with pytest.raises(gr.Error, match="made for SAE"):
        on_import_recipe(str(path))
    recipe, note = on_import_recipe(str(path), True)
    assert json.loads(recipe)["edits"][0]["feature"] == 4 and "⚠️" in note
