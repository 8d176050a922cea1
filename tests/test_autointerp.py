"""LLM labels through the real openai client against a local stub: explained, scored, stored."""

import json
import re

from tests.openai_stub import OpenAIStub
from tests.planted import PLANTED, WORD


def _stub_reply(body: dict) -> str:
    """Explains by the marked word; detects by whether the explanation's word is in the text."""
    system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
    if "meticulous AI researcher" in system:
        words = re.findall(r"<<([^>]*)>>", user)
        common = max(set(words), key=words.count).strip()
        return f"It fires on a name.\n[EXPLANATION]: the word {common}"
    explanation = user.split("\n", 1)[0].rsplit(" ", 1)[-1].lower()
    examples = re.findall(r"^Example \d+: (.*)$", user, flags=re.M)
    return json.dumps([int(explanation in e.lower()) for e in examples])


def test_llm_label_of_the_planted_feature_names_it_and_detects_well(planted, monkeypatch, tmp_path):
    import shutil

    from core.llm_client import LlmClient, LlmEndpoint
    from training.llm_labels import run

    subject, sae, shared, _, _ = planted
    folder = shutil.copytree(shared, tmp_path / "sae")  # the card is written: keep ours apart
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    with OpenAIStub(default=_stub_reply) as stub:
        client = LlmClient(LlmEndpoint(model="stub-model", base_url=stub.base_url))
        summary = run(subject, sae, folder, client, [PLANTED, PLANTED + 1])
    card = json.loads((folder / "card.json").read_text())
    lab = card["llm_labels"][str(PLANTED)]
    assert lab["text"] == f"the word {WORD.strip()}" and lab["model"] == "stub-model"
    assert lab["detection"] >= 0.9 and lab["n_test"] >= 8
    assert card["labels_summary"]["llm"]["labelled"] == summary["labelled"] == 2
    assert "offline" in card["labels_summary"]  # the offline labels stay beside them


def test_a_shuffled_explanation_detects_worse(planted, monkeypatch):
    from core.autointerp import detect, detection_accuracy
    from core.llm_client import LlmClient, LlmEndpoint

    monkeypatch.setenv("OPENAI_API_KEY", "test")
    texts = ["the people of China agree", "flour and water", "the government of China", "a poem"]
    active = [True, False, True, False]
    with OpenAIStub(default=_stub_reply) as stub:
        client = LlmClient(LlmEndpoint(model="stub-model", base_url=stub.base_url))
        right = detection_accuracy(detect(client, "the word China", texts), active)
        wrong = detection_accuracy(detect(client, "the word poem", texts), active)
    assert right == 1.0 and wrong < right
