"""App handlers called as plain functions on the tiny model: what each tab shows for good and bad input."""

import json
import math
from pathlib import Path

import gradio as gr
import pytest

from ui import render, runtime


@pytest.fixture
def rt(tiny_subject, tiny_sae, tmp_path, monkeypatch):
    monkeypatch.setenv("CENSORSCOPE_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("CHROMA_URL", raising=False)
    monkeypatch.delenv("CENSORSCOPE_ADMIN_TOKEN", raising=False)
    return runtime.set_runtime(tiny_subject, tiny_sae)


def select(index=None, row_value=None):
    return gr.SelectData(None, {"index": index, "value": None, "row_value": row_value})


# --- Inspect & Steer --------------------------------------------------------------------------


def test_inspect_colours_every_token_and_lists_prompt_features(rt):
    from ui.inspect_tab import on_inspect

    spans, caption, table, state, token_rows, raw = on_inspect("What happened in 1989?", 5)
    assert len(spans) == len(state["tokens"]) > 5
    scores = [s for _, s in spans if s is not None]
    assert scores and max(scores) == 1.0 and all(0 < s <= 1 for s in scores)
    assert "strongest feature" in caption
    specials = set(rt.subject.tokenizer.all_special_ids)  # attention sinks: never coloured
    pairs = zip(spans, state["tokens"], strict=True)
    assert all(s is None for (_, s), t in pairs if t["id"] in specials)
    assert table[0][1] == max(row[1] for row in table)  # ranked by max activation
    assert token_rows == [] and raw is state


def test_inspect_colours_by_a_chosen_feature(rt):
    from ui.inspect_tab import on_inspect

    _, _, table, _, _, _ = on_inspect("What happened in 1989?", 5)
    feature = table[0][0]
    spans, caption, _, state, _, _ = on_inspect("What happened in 1989?", 5, str(feature))
    assert f"feature #{feature}" in caption
    trace = state["traces"][str(feature)]
    peak = trace.index(max(trace))
    assert spans[peak][1] == 1.0


@pytest.mark.parametrize(
    "prompt,top_k,trace,message",
    [
        ("   ", 5, "", "prompt is empty"),
        ("x" * 20_001, 5, "", "limit is 20,000"),
        ("hi", 5, "256", "feature id must be in 0..255"),
        ("hi", 5, "1.5", "whole number"),
        ("hi", 0, "", "top-k must be in 1..100"),
    ],
)
def test_inspect_refuses_bad_input_with_a_message(rt, prompt, top_k, trace, message):
    from ui.inspect_tab import on_inspect

    with pytest.raises(gr.Error, match=message):
        on_inspect(prompt, top_k, trace)


def test_clicking_a_token_lists_its_top_features(rt):
    from ui.inspect_tab import on_feature_pick, on_inspect, on_token_select

    *_, state, _, _ = on_inspect("Tell me about Taiwan.", 4)
    caption, rows = on_token_select(state, select(index=3))
    assert caption.startswith("Token 3")
    assert [r[0] for r in rows] == [t["feature"] for t in state["tokens"][3]["top"]]
    assert on_token_select(None, select(index=0)) == ("Inspect a prompt first.", [])
    assert on_feature_pick(select(index=[0, 1], row_value=[17, 0.5, ""])) == 17


def test_recipe_edits_add_update_remove_and_validate(rt):
    from ui.inspect_tab import on_add_edit, on_recipe_change, on_remove_edit

    recipe = on_add_edit("", 5, "ablate", 0, "all")
    recipe = on_add_edit(recipe, 9, "clamp", 4.5, "generated")
    recipe = on_add_edit(recipe, 9, "clamp", 6.0, "generated")  # same spot: updated, not doubled
    rows, caption, _ = on_recipe_change(recipe)
    assert [r[:4] for r in rows] == [[5, "ablate", 0.0, "all"], [9, "clamp", 6.0, "generated"]]
    assert caption == "Recipe: ablate #5, #9 =6 on generated"
    assert json.loads(on_remove_edit(recipe, 5))["edits"][0]["feature"] == 9
    for feature, mode, value, message in [
        (256, "ablate", 0, "feature id must be in 0..255"),
        (-1, "ablate", 0, "feature id must be in 0..255"),
        (None, "ablate", 0, "feature id is empty"),
        (3, "clamp", math.nan, "finite"),
        (3, "scale", 1e9, "beyond"),
        (3, "explode", 1, "mode must be one of"),
    ]:
        with pytest.raises(gr.Error, match=message):
            on_add_edit(recipe, feature, mode, value, "all")
    assert on_recipe_change("{not json")[1].startswith("⚠️ the recipe is not valid JSON")
    assert "out of range" in on_recipe_change('[{"feature": 999}]')[1]


def test_recipe_export_then_import_round_trips(rt, tmp_path):
    from ui.inspect_tab import on_add_edit, on_export_recipe, on_import_recipe

    recipe = on_add_edit(on_add_edit("", 1, "ablate", 0, "all"), 2, "scale", 0.5, "prompt")
    path = on_export_recipe(recipe, "a prompt")
    saved = json.loads(Path(path).read_text())
    assert saved["hook_name"] == rt.sae.hook_name and saved["prompt"] == "a prompt"
    assert render.parse_recipe(on_import_recipe(path)[0]) == render.parse_recipe(recipe)
    bad = tmp_path / "bad.json"
    bad.write_text('{"edits": [{"feature": 1, "mode": "clamp", "value": "inf"}]}')
    with pytest.raises(gr.Error, match="finite"):
        on_import_recipe(str(bad))
    with pytest.raises(gr.Error, match="recipe is empty"):
        on_export_recipe("", "p")


def test_generate_streams_both_sides_with_the_same_seed_then_judges(rt):
    from core.generate import GenerationSettings, generate_batch
    from ui.inspect_tab import on_generate

    updates = list(on_generate("What happened in 1989?", "", 6, 0.0, 0.95, 7))
    assert len(updates) >= 4  # token by token, then judged
    b_reason, b_answer, b_label, s_reason, s_answer, s_label, diff, *_, status = updates[-1]
    plain = generate_batch(rt.subject, ["What happened in 1989?"], GenerationSettings(6, seed=7))
    assert b_answer == s_answer == plain[0].answer  # no edits: steered equals baseline
    assert "Judge:" in b_label and "Judge:" in s_label
    assert status.startswith("Done (seed 7)") and "identical" in status
    assert all(kind is None for _, kind in diff)


def test_generate_refuses_bad_settings_before_running(rt):
    from ui.inspect_tab import on_generate

    for args, message in [
        (("", "", 6, 0.0, 0.95, 0), "prompt is empty"),
        (("hi", '[{"feature": 300}]', 6, 0.0, 0.95, 0), "out of range"),
        (("hi", "", 0, 0.0, 0.95, 0), "max new tokens must be in 1..2048"),
        (("hi", "", 6, 9.0, 0.95, 0), "temperature"),
        (("hi", "", 6, 0.0, 0.95, -1), "seed"),
    ]:
        with pytest.raises(gr.Error, match=message):
            list(on_generate(*args))


def test_word_diff_marks_removed_and_added_words():
    spans = render.word_diff("I cannot discuss that topic.", "I can discuss that topic now.")
    assert "".join(t for t, k in spans if k != "added") == "I cannot discuss that topic."
    assert "".join(t for t, k in spans if k != "removed") == "I can discuss that topic now."
    assert ("cannot ", "removed") in spans


# --- Features ---------------------------------------------------------------------------------


def test_feature_lookup_without_dashboard_says_so_and_shows_logit_lens(rt):
    from ui.features_tab import on_feature

    summary, contexts, hist, lens = on_feature(3)
    assert "### Feature #3" in summary and "Not available yet" in summary
    assert len(lens) == 10 and lens[0][1] >= lens[-1][1] and lens[0][3] <= 0
    with pytest.raises(gr.Error, match="feature id must be in 0..255"):
        on_feature(1000)


def test_ranked_features_then_add_one_to_the_recipe(rt):
    from ui.features_tab import on_add_to_recipe, on_add_top, on_feature, on_rank_load

    status, rows = on_rank_load()
    assert "sensitive vs" in status and rows
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    feature = rows[0][1]
    assert "Censorship score: rank **#1**" in on_feature(feature)[0]
    recipe, note = on_add_to_recipe("", feature, "ablate", 0)
    assert render.parse_recipe(recipe)[0].feature == feature and str(feature) in note
    recipe, _ = on_add_top(recipe, 3)  # one click: the top 3 ablated, the first not doubled
    assert [e.feature for e in render.parse_recipe(recipe)] == [r[1] for r in rows[:3]]


# --- Dataset ----------------------------------------------------------------------------------


def test_dataset_tab_without_a_dataset_says_how_to_build_one(rt):
    from ui.dataset_tab import on_dataset_load

    status, *plots, rows = on_dataset_load()
    assert "Not available yet" in status and "no dataset built yet" in status
    assert plots == [None] * 4 and rows == []


# --- Admin ------------------------------------------------------------------------------------


def admin_handlers():
    from ui import admin_tab as a

    return [
        (a.on_admin_unlock, ()),
        (a.on_job_start, ("train", "--preset tiny")),
        (a.on_jobs_refresh, ("",)),
        (a.on_job_cancel, ("job-1",)),
        (a.on_sae_switch, ("/nowhere",)),
    ]


def test_admin_is_disabled_without_the_env_var(rt):
    for handler, args in admin_handlers():
        with pytest.raises(gr.Error, match="admin is disabled"):
            handler("anything", *args)


def test_every_admin_handler_checks_the_token(rt, monkeypatch):
    monkeypatch.setenv("CENSORSCOPE_ADMIN_TOKEN", "s3cret")
    for handler, args in admin_handlers():
        for token in ("", None, "s3cre", "s3cret ", "S3CRET"):
            with pytest.raises(gr.Error, match="wrong admin token"):
                handler(token, *args)
    assert "unlocked" in admin_handlers()[0][0]("s3cret")[0]


def test_switch_sae_live_and_a_mismatched_sae_keeps_the_old_one(
    rt, tiny_sae_dir, tmp_path, monkeypatch
):
    from core.sae import make_sae, save_sae
    from ui.admin_tab import on_sae_switch

    monkeypatch.setenv("CENSORSCOPE_ADMIN_TOKEN", "s3cret")
    message, header = on_sae_switch("s3cret", str(tiny_sae_dir))
    assert rt.sae.path == str(tiny_sae_dir) and "switched SAE" in message and "tiny" in header
    wrong = save_sae(make_sae(7, 16, 2, "model.layers.1"), tmp_path / "wrong", {})
    with pytest.raises(gr.Error, match="belongs to another model"):
        on_sae_switch("s3cret", str(wrong))
    assert rt.sae.path == str(tiny_sae_dir)


def test_double_clicked_train_starts_one_job_and_cancel_twice_is_harmless(
    rt, tmp_path, monkeypatch
):
    import time

    from ui import admin_tab

    monkeypatch.setenv("CENSORSCOPE_JOBS", str(tmp_path / "jobs"))
    monkeypatch.setenv("CENSORSCOPE_ADMIN_TOKEN", "s3cret")
    with pytest.raises(gr.Error, match="bad arguments for the SAE training run"):
        admin_tab.on_job_start("s3cret", "train", "--preset nope")
    with pytest.raises(gr.Error, match="job kind"):
        admin_tab.on_job_start("s3cret", "rm -rf", "")
    message, job_id = admin_tab.on_job_start("s3cret", "train", "--preset tiny --check")
    assert job_id in message
    with pytest.raises(gr.Error, match="a job is already running"):
        admin_tab.on_job_start("s3cret", "train", "--preset tiny --check")
    table, progress, log, _ = admin_tab.on_jobs_refresh("s3cret", job_id)
    assert len(table) == 1 and table[0][:2] == [job_id, "train"]
    assert table[0][5] == "--preset tiny --check"
    assert admin_tab.on_job_cancel("s3cret", job_id)
    deadline = time.monotonic() + 30
    while admin_tab.on_jobs_refresh("s3cret", job_id)[0][0][2] not in ("cancelled", "done"):
        assert time.monotonic() < deadline, "the cancelled job never ended"
        time.sleep(0.3)
    assert "already ended" in admin_tab.on_job_cancel("s3cret", job_id)
    with pytest.raises(gr.Error, match="is not a job id"):
        admin_tab.on_job_cancel("s3cret", "../../etc")


def test_feature_lookup_reads_the_training_dashboard(rt, tiny_subject, tiny_sae_dir, tmp_path):
    import shutil

    from core.sae import load_sae
    from training.corpus import chat_prompts
    from training.dashboard import build_dashboard
    from ui.features_tab import on_feature

    folder = shutil.copytree(tiny_sae_dir, tmp_path / "sae")
    sae = load_sae(folder, tiny_subject)
    sensitive, neutral = chat_prompts()
    build_dashboard(sae, tiny_subject, sensitive + neutral, folder, n_tokens=2048, context_size=32)
    runtime.set_runtime(tiny_subject, sae)
    feature = next(f for f in range(sae.d_sae) if "No activating" not in on_feature(f)[1])
    summary, contexts, hist, lens = on_feature(feature)
    assert "Density: fires on" in summary and "Not available" not in summary
    assert contexts.count("class='ctx'") >= 1 and "rgba(239,68,68" in contexts
    assert hist is not None and len(lens) == 10


def test_dataset_tab_shows_plots_table_search_and_neighbours(rt):
    from core.store import get_embedder
    from ui.dataset_tab import on_dataset_load, on_dataset_search, on_nearest

    store = rt.store()
    labels = ["refusal", "party_line", "not_censored", "deflection", "partial", "refusal"]
    prompts = [f"Question {i} about Tiananmen" for i in range(5)] + ["How do I bake bread?"]
    answers = [f"Answer {i}: I cannot discuss that." for i in range(5)] + ["Mix flour and water."]
    embed = get_embedder()
    pids = [f"p{i}" for i in range(6)]
    store.add("prompts", pids, prompts, [{"topic": "t"}] * 6, embed(prompts))
    metas = [
        {"prompt_id": pid, "prompt": p, "topic": "t", "label": lab, "answer_chars": len(a)}
        for pid, p, a, lab in zip(pids, prompts, answers, labels, strict=True)
    ]
    store.add("answers", [f"a{i}" for i in range(6)], answers, metas, embed(answers))
    status, *plots, rows = on_dataset_load()
    assert "6 answers" in status and all(p is not None for p in plots)
    assert len(rows) == 6
    assert list(on_dataset_search("bread", "any")["label"]) == ["refusal"]
    assert len(on_dataset_search("", "party_line")) == 1
    near = on_nearest("flour and water", 2, "answers")
    assert near.iloc[0]["text"] == "Mix flour and water." and len(near) == 2
    with pytest.raises(gr.Error, match="type some text"):
        on_nearest("  ", 2, "answers")


def test_training_metrics_plot_follows_the_jobs_run_folder(tmp_path):
    from ui.admin_tab import metrics_figure, run_dir_of

    argv = ["python", "-m", "training", "train", "--preset", "tiny", "--run-dir", str(tmp_path)]
    run_dir = run_dir_of({"kind": "train", "argv": argv})
    assert run_dir == tmp_path
    assert metrics_figure(run_dir) is None  # no metrics yet: no plot, no error
    rows = [{"step": s, "tokens": 64 * s, "l0": 8.0, "explained_variance": s / 10} for s in (1, 2)]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    fig = metrics_figure(run_dir)
    assert [t.text for t in fig.layout.annotations] == ["explained_variance", "l0"]
    assert run_dir_of({"kind": "build", "argv": ["python", "-m", "data_builder", "build"]}) is None


def test_the_shipped_recipe_loads_only_for_its_own_sae(rt):
    """The organism's recipe button refuses another SAE rather than loading wrong features."""
    from core.recipe_origin import RecipeMismatch
    from ui.inspect_tab import on_shipped_recipe

    with pytest.raises((gr.Error, RecipeMismatch), match="made elsewhere|made for SAE"):
        on_shipped_recipe()


def test_ranking_puts_stored_causal_scores_first(rt, monkeypatch):
    """With attribution scores in the SAE's card, the table ranks by them, contrast beside."""
    from ui.features_tab import on_add_top, on_rank_load

    _, plain = on_rank_load()
    planted = plain[-1][1]  # the contrast ranking's last feature
    monkeypatch.setitem(
        rt.sae.card, "causal_scores", {"what": "test", "answer": {str(planted): 5.0, "3": 1.0}}
    )
    status, rows = on_rank_load()
    assert "causal score" in status and rows[0][1] == planted and rows[0][2] == 5.0
    recipe, _ = on_add_top("", 1)  # "ablate the top n" follows the table's order
    assert render.parse_recipe(recipe)[0].feature == planted
