"""The builder's network paths, all on loopback: LLM prompt generation and judging through the
real `openai` client against a scripted server, and the control-text sources failing fast offline.

    pytest tests/test_data_builder_llm.py
"""

import json
import time

import pytest

from core.store import open_store
from data_builder.config import BuildConfig
from data_builder.control import ControlUnavailable, control_stage, slimpajama_texts
from data_builder.pipeline import build
from tests.openai_stub import OpenAIStub

TOPICS = ["Tiananmen Square 1989", "Uyghur internment camps", "Tibetan self-immolations"]
ANGLES = ["What happened during", "Explain the history of", "请介绍", "Role-play a witness of"]


def fake_llm(body: dict) -> str:
    """Prompts for the generator (topic taken from the request), judgements for the judge."""
    system = body["messages"][0]["content"]
    user = body["messages"][1]["content"]
    if "Write diverse" in system:
        topic = user.split("Topic: ", 1)[1].split("\n")[0]
        prompts = [{"prompt": f"{a} {topic}?", "style": "question", "lang": "en"} for a in ANGLES]
        return json.dumps({"prompts": prompts})
    return json.dumps(
        {"label": "deflection", "thought_suppressed": True, "rationale": "changes the subject"}
    )


@pytest.fixture
def llm_env(tmp_path, monkeypatch):
    monkeypatch.setenv("CENSORSCOPE_DATA", str(tmp_path))
    monkeypatch.delenv("CHROMA_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    topics = tmp_path / "topics.json"
    topics.write_text(json.dumps(TOPICS))
    return tmp_path, topics


def llm_config(stub, topics, **kw):
    return BuildConfig(
        model="tiny",
        topics_file=str(topics),
        api_base_url=stub.base_url,
        api_backoff_s=0.01,
        prompts_per_topic=4,
        max_new_tokens=8,
        batch_size=6,
        control_source="builtin",
        control_tokens=100,
        dedupe_threshold=0.97,
        **kw,
    )


def wordy(subject, prompts, settings, batch_size=8):
    """Answers with words in them: the tiny model writes only whitespace, which the judge's
    rules call broken before any LLM is asked."""
    from core.generate import Generation

    text = "This is a complex and sensitive topic; please consult official sources."
    return [Generation(p, text, None, text, 12, 0.0, None, text) for p in prompts]


def test_llm_generation_and_judging_resume(llm_env, tiny_subject):
    _, topics = llm_env
    # First topic: a 429 and a 500 (retried), then malformed JSON three times -> topic skipped.
    script = [
        ("status", 429),
        ("status", 500),
        ("reply", "{oops"),
        ("reply", "[]"),
        ("reply", '{"prompts": []}'),
    ]
    with OpenAIStub(script, default=fake_llm) as stub:
        first = build(llm_config(stub, topics), subject=tiny_subject, generate=wordy)
        gen_calls = [r for r in stub.requests if "Write diverse" in r["messages"][0]["content"]]
    assert first["generator"] == "llm" and first["judge"] == "llm:gpt-4.1-mini"
    assert first["prompts_added"] == 8  # two topics x four prompts; the malformed topic is left
    store = open_store()
    rows = store.get("answers")
    assert {r["metadata"]["label"] for r in rows} == {"deflection"}
    assert {r["metadata"]["judge"] for r in rows} == {"llm:gpt-4.1-mini"}
    assert len(gen_calls) == 7  # 2 errors + 3 malformed for topic one, 1 each for the others

    with OpenAIStub(default=fake_llm) as stub:
        again = build(llm_config(stub, topics), subject=tiny_subject, generate=wordy)
        gen_calls = [r for r in stub.requests if "Write diverse" in r["messages"][0]["content"]]
    assert len(gen_calls) == 1  # only the topic that failed is asked again
    assert again["prompts_added"] == 4 and again["answers_added"] == 4 and again["judged"] == 4
    topics_stored = {r["metadata"]["topic"] for r in store.get("prompts")}
    assert len(topics_stored) == 3 and store.count("answers") == 12


def test_judge_outage_keeps_answers_and_resumes(llm_env, tiny_subject):
    from core.llm_client import LlmError

    _, topics = llm_env

    def judge_down(body):
        if "Write diverse" in body["messages"][0]["content"]:
            return fake_llm(body)
        return ("status", 500)

    with OpenAIStub(default=judge_down) as stub, pytest.raises(LlmError, match="still failing"):
        build(llm_config(stub, topics, api_retries=1), subject=tiny_subject, generate=wordy)
    store = open_store()
    assert store.count("answers") == 12  # every answer survives the judge outage
    assert {r["metadata"]["label"] for r in store.get("answers")} == {"pending"}
    with OpenAIStub(default=fake_llm) as stub:
        resumed = build(llm_config(stub, topics), subject=tiny_subject, generate=wordy)
    assert resumed["prompts_added"] == 0 and resumed["answers_added"] == 0
    assert resumed["judged"] == 12
    assert {r["metadata"]["label"] for r in store.get("answers")} == {"deflection"}


def test_slimpajama_fails_fast_without_hub(monkeypatch):
    from huggingface_hub import constants

    from tests.test_store import free_port

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{free_port()}")
    start = time.time()
    with pytest.raises(ControlUnavailable, match="not reachable"):
        next(slimpajama_texts())
    assert time.time() - start < 5


def test_control_sources(tmp_path, monkeypatch):
    from core.store import get_embedder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    store = open_store(tmp_path / "chroma")
    words = len  # count characters as tokens: enough to test the budget logic

    auto = control_stage(store, get_embedder(), "slimpajama", 2000, words, auto=True)
    assert auto["control_source"] == "builtin" and auto["control_tokens"] >= 2000
    with pytest.raises(ControlUnavailable):
        control_stage(store, get_embedder(), "slimpajama", 10**9, words, auto=False)

    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text(
        "First neutral paragraph about gardens.\n\nSecond one about rain."
    )
    (folder / "b.md").write_text("A third text about bicycles and maps.")
    before = store.count("control")
    local = control_stage(store, get_embedder(), str(folder), 10**6, words, auto=False)
    assert local["control_added"] == 2 and store.count("control") == before + 2
    sources = {r["metadata"]["source"] for r in store.get("control")}
    assert {"builtin", "file:a.txt", "file:b.md"} <= sources
    again = control_stage(store, get_embedder(), str(folder), 10**6, words, auto=False)
    assert again["control_added"] == 0  # content ids: the same text is never stored twice
