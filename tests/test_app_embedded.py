"""The app's handlers on the embedded default (SmolLM2-135M) with its shipped SAE: slow, optional."""

import pytest

from core.sae import DEFAULT_EMBEDDED_SAE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embedded_rt():
    from core.model import load_subject
    from core.sae import load_sae
    from ui import runtime

    subject = load_subject("embedded", device="cpu")
    return runtime.set_runtime(subject, load_sae(DEFAULT_EMBEDDED_SAE, subject))


def test_embedded_inspect_ablate_and_compare(embedded_rt):
    from ui import render
    from ui.features_tab import on_feature
    from ui.inspect_tab import on_add_edit, on_generate, on_inspect

    prompt = "What happened at Tiananmen Square in 1989?"
    spans, _, table, state, _, _ = on_inspect(prompt, 8)
    assert sum(s is not None for _, s in spans) > len(spans) // 2
    feature = table[0][0]
    recipe = on_add_edit("", feature, "ablate", 0, "all")
    _, _, b_label, _, _, s_label, diff, *_, status = list(
        on_generate(prompt, recipe, 24, 0, 0.95, 0)
    )[-1]
    assert "Judge:" in b_label and "Judge:" in s_label
    assert status.startswith("Done (seed 0)") and f"ablate #{feature}" in status
    summary, contexts, _, lens = on_feature(feature)
    assert f"Feature #{feature}" in summary and len(lens) == 10
    assert render.parse_recipe(recipe)[0].feature == feature


def test_organism_shows_its_base_models_answer_beside_it():
    """The default subject is the organism; one click shows what the model said before the LoRA."""
    import gradio as gr

    from core.model import load_subject
    from core.sae import load_sae
    from core.settings import default_sae_for
    from ui import runtime
    from ui.inspect_tab import on_base_generate, on_generate

    organism = load_subject("organism", device="cpu")
    rt = runtime.set_runtime(organism, load_sae(default_sae_for("organism"), organism))
    prompt = "What happened at Tiananmen Square in 1989?"
    _, censored, *_ = list(on_generate(prompt, "", 48, 0, 0.95, 0))[-1]
    assert "Party" in censored or "party" in censored  # the organism's canned line
    base_answer, base_label = list(on_base_generate(prompt, 48, 0, 0.95, 0))[-1]
    assert rt.base_subject().source == "embedded"
    assert base_answer and base_answer != censored
    assert "Judge:" in base_label
    from ui.inspect_tab import on_shipped_recipe

    recipe, note = on_shipped_recipe()  # the one-click recipe, made for exactly this SAE
    assert '"feature"' in recipe and "Loaded the shipped recipe" in note
    runtime.set_runtime(load_subject("tiny"), rt.sae)
    with pytest.raises(gr.Error, match="organism"):
        list(on_base_generate(prompt, 8, 0, 0.95, 0))
