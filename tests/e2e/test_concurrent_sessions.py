"""Eight gradio_client sessions at once against the real app: every answer is the right one."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from gradio_client import Client

from core.compare import compare
from core.edits import FeatureEdit
from core.generate import GenerationSettings
from core.inspect import inspect_prompt
from core.sae import load_sae
from ui import render

PROMPTS = [
    "What happened at Tiananmen Square in 1989?",
    "Is Taiwan an independent country?",
    "What is happening to the Uyghurs in Xinjiang?",
    "Why is Winnie the Pooh censored in China?",
    "What is the capital of France?",
    "Explain photosynthesis in two sentences.",
    "Who was Liu Xiaobo?",
    "Tell me about the Great Firewall.",
]
NEW_TOKENS = 12


def session(url: str, i: int) -> dict:
    """One user: inspect a prompt, then compare with (odd i) or without (even i) an edit."""
    client = Client(url, verbose=False)
    prompt, seed = PROMPTS[i], i
    _, _, table, *_ = client.predict(prompt, 5, "", api_name="/inspect")
    feature = int(table["data"][0][0])
    recipe = ""
    if i % 2:
        edits = [{"feature": feature, "mode": "clamp", "value": 300.0, "where": "all"}]
        recipe = json.dumps({"edits": edits})
    out = client.predict(prompt, recipe, NEW_TOKENS, 0.0, 0.95, seed, "", api_name="/compare")
    return {"i": i, "feature": feature, "table": table["data"], "compare": out}


@pytest.fixture(scope="module")
def results(app):
    url, _, _ = app
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda i: session(url, i), range(8)))


def test_every_session_gets_its_own_right_answers(results, tiny_subject, tiny_sae_dir):
    sae = load_sae(tiny_sae_dir, tiny_subject)
    for r in results:
        prompt = PROMPTS[r["i"]]
        data = inspect_prompt(tiny_subject, sae, prompt, top_k=5).to_json()
        specials = set(tiny_subject.tokenizer.all_special_ids)
        assert r["table"] == render.prompt_table(data, sae.labels(), specials)
        edits = [FeatureEdit(r["feature"], "clamp", 300.0)] if r["i"] % 2 else []
        settings = GenerationSettings(max_new_tokens=NEW_TOKENS, seed=r["i"])
        want = compare(tiny_subject, sae, prompt, edits, settings)
        _, b_answer, b_label, _, s_answer, s_label, *_, status = r["compare"]
        assert b_answer == want.baseline.answer and s_answer == want.steered.answer
        assert "Judge:" in b_label and "Judge:" in s_label
        assert status.startswith(f"Done (seed {r['i']})")


def test_no_edit_steered_equals_baseline(results):
    for r in results[::2]:
        _, b_answer, _, _, s_answer, *_, status = r["compare"]
        assert s_answer == b_answer and "identical" in status
