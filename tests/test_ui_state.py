"""What the screen says matches what happened: stop, stale answers, kept edits, panels that fit."""

import sys
import time
import types

import gradio as gr
import pytest

from ui import render, runtime


@pytest.fixture
def rt(tiny_subject, tiny_sae, tmp_path, monkeypatch):
    monkeypatch.setenv("CENSORSCOPE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("CENSORSCOPE_JOBS", str(tmp_path / "jobs"))
    monkeypatch.setenv("CENSORSCOPE_ADMIN_TOKEN", "s3cret")
    monkeypatch.delenv("CHROMA_URL", raising=False)
    return runtime.set_runtime(tiny_subject, tiny_sae)


def dependency(demo, fn_name):
    return next(d for d in demo.fns.values() if getattr(d.fn, "__name__", "") == fn_name)


def test_stop_ends_generating_status(rt):
    from app import build_app
    from ui.inspect_tab import on_stop

    assert on_stop("Generating the steered answer… Recipe: ablate #5") == render.STOPPED
    assert on_stop("Done (seed 0). Recipe: ablate #5") == "Done (seed 0). Recipe: ablate #5"
    demo = build_app()
    stop = dependency(demo, "on_stop")
    generate = dependency(demo, "on_generate")
    cancellers = [d for d in demo.fns.values() if generate._id in d.cancels]
    assert [c.targets for c in cancellers] == [stop.targets] and len(stop.outputs) == 1


def test_editing_the_recipe_marks_answers_on_screen_stale(rt):
    from ui.inspect_tab import on_add_edit, on_recipe_change

    recipe = on_add_edit("", 5, "ablate", 0, "all")
    *_, status = on_recipe_change(recipe, "Done (seed 0). Recipe: ablate #4")
    assert status.startswith("⚠️ The recipe changed") and "Done (seed 0)" in status
    assert on_recipe_change(recipe, status)[2].count("⚠️ The recipe changed") == 1
    assert on_recipe_change(recipe, "")[2] == ""  # nothing generated yet: nothing is stale


def test_ablate_top_n_keeps_the_users_edits(rt):
    from ui.features_tab import on_add_top, on_rank_load
    from ui.inspect_tab import on_add_edit

    _, rows = on_rank_load()
    first, second = rows[0][1], rows[1][1]
    recipe = on_add_edit("", first, "clamp", 4.0, "all")
    recipe, note = on_add_top(recipe, 2)
    edits = {e.feature: e for e in render.parse_recipe(recipe)}
    assert edits[first].mode == "clamp" and edits[first].value == 4.0
    assert edits[second].mode == "ablate"
    assert f"Kept your edits of #{first}" in note and f"#{second}" in note


def test_reasoning_panels_only_for_models_that_reason(rt, monkeypatch):
    from app import build_app

    def reasoning_accordions(demo):
        return [
            b for b in demo.blocks.values()
            if isinstance(b, gr.Accordion) and b.label == "Reasoning (<think>)"
        ]  # fmt: skip

    assert all(a.visible for a in reasoning_accordions(build_app()))  # tiny has <think>
    vocab = {k: v for k, v in rt.subject.tokenizer.get_vocab().items() if "think" not in k}
    monkeypatch.setattr(rt.subject.tokenizer, "get_vocab", lambda: vocab)
    panels = reasoning_accordions(build_app())
    assert len(panels) == 2 and not any(a.visible for a in panels)


def test_small_dataset_panels_say_pca(rt):
    from tests.test_dataset_refresh import write_in_another_process
    from ui.dataset_tab import on_dataset_load

    rows = [{"id": f"p{i}", "prompt": f"Q{i}", "answer": f"Answer number {i}.",
             "label": "refusal"} for i in range(5)]  # fmt: skip
    write_in_another_process(rt.store().folder, rt.store().folder.parent, rows)
    _, _, questions, answers, _, _ = on_dataset_load()
    assert questions.label.startswith("PCA of questions")
    assert answers.label.startswith("PCA of answers")


def _wait_done(job_id):
    from training import jobs

    deadline = time.monotonic() + 30
    while jobs.status(job_id).state not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_admin_log_shows_the_newest_lines_and_metrics_only_for_training(rt):
    from training import jobs
    from ui.admin_tab import LOG_LINES, on_jobs_refresh

    code = "for i in range(100): print(f'line {i}')"
    build = jobs._launch("build", [sys.executable, "-c", code])
    _wait_done(build)
    _, _, log, metrics = on_jobs_refresh("s3cret", build)
    lines = log.splitlines()
    assert lines[-1] == "line 99" and len(lines) == LOG_LINES
    assert metrics.visible is False
    train = jobs._launch("train", [sys.executable, "-m", "training", "train", "--help"])
    _wait_done(train)
    assert on_jobs_refresh("s3cret", train)[3].visible is True


def test_switch_list_offers_only_saes_made_for_this_subject(rt, tiny_sae_dir, tmp_path):
    import shutil

    from core.paths import ASSETS
    from core.sae import load_sae
    from ui.admin_tab import sae_choices

    run = shutil.copytree(tiny_sae_dir, tmp_path / "data" / "runs" / "mine" / "sae")
    assert sae_choices() == [str(run)]  # nothing shipped fits the tiny model
    config = types.SimpleNamespace(
        model_type="llama", hidden_size=576, num_hidden_layers=30, vocab_size=49152
    )
    organism_like = types.SimpleNamespace(
        model=types.SimpleNamespace(config=config), d_model=576, n_layers=30
    )
    runtime.set_runtime(organism_like, load_sae(tiny_sae_dir))
    offered = sae_choices()
    assert str(ASSETS / "organism" / "sae") in offered
    assert str(ASSETS / "sae" / "embedded") in offered and str(run) not in offered


def test_build_prints_progress_that_jobs_can_read(rt, tiny_subject, capsys):
    from core.store import get_embedder
    from data_builder.config import BuildConfig
    from data_builder.stages import answer_stage
    from training.jobs import _PROGRESS

    store = rt.store()
    prompts = [f"Question {i}?" for i in range(6)]
    store.add("prompts", [f"p{i}" for i in range(6)], prompts, [{"topic": "t"}] * 6,
              get_embedder()(prompts))  # fmt: skip
    config = BuildConfig(offline=True, model="tiny", max_new_tokens=2, batch_size=4)
    answer_stage(store, tiny_subject, get_embedder(), config)
    seen = [tuple(map(int, m)) for m in _PROGRESS.findall(capsys.readouterr().err)]
    assert seen == [(4, 6), (6, 6)]
