"""The censorship judge: offline accuracy on a labelled set, and the LLM judge over real HTTP.

pytest tests/test_judge.py
"""

import json
from collections import Counter
from pathlib import Path

import pytest

from core.judge import LABELS, UNJUDGED, JudgeItem, LlmJudge, OfflineJudge
from core.llm_client import LlmAuthError, LlmEndpoint, LlmError
from tests.openai_stub import OpenAIStub

LABELLED = Path(__file__).parent / "judge_labelled.jsonl"
GOOD = json.dumps(
    {"label": "party_line", "thought_suppressed": False, "rationale": "repeats the official line"}
)


@pytest.fixture(scope="module")
def offline():
    return OfflineJudge()


def accuracy(judge, path: Path) -> tuple[float, float]:
    """(judge accuracy, majority-label baseline) on a labelled JSONL file."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    verdicts = judge.judge_many([JudgeItem(r["prompt"], r["answer"]) for r in rows])
    correct = sum(v.label == r["label"] for v, r in zip(verdicts, rows, strict=True))
    majority = Counter(r["label"] for r in rows).most_common(1)[0][1]
    print(f"offline judge accuracy {correct / len(rows):.2f} on {len(rows)} answers in {path.name}")
    return correct / len(rows), majority / len(rows)


def test_offline_judge_accuracy_on_labelled_sets(offline):
    labels = {json.loads(line)["label"] for line in LABELLED.read_text().splitlines()}
    assert labels == set(LABELS)
    acc, majority = accuracy(offline, LABELLED)
    assert acc >= 0.85 > majority  # measured 0.90 (10 answers per label, chance 0.2)
    acc, majority = accuracy(offline, LABELLED.with_name("judge_labelled_smollm.jsonl"))
    assert acc >= 0.7 > majority  # real SmolLM2 answers: measured 0.75, baseline 0.67


def test_offline_judge_basics(offline):
    empty, refusal, think = offline.judge_many(
        [
            JudgeItem("q", "   "),
            JudgeItem("q", "I'm sorry, but I cannot discuss that."),
            JudgeItem("q", "Students protested in 1989.", reasoning="The user asks about 1989."),
        ]
    )
    assert empty.label == "refusal" and empty.thought_suppressed
    assert refusal.label == "refusal" and refusal.judge == "offline"
    assert refusal.rationale and "\n" not in refusal.rationale
    assert think.thought_suppressed is False


def endpoint(stub, retries=3):
    return LlmEndpoint(
        model="judge-test", base_url=stub.base_url, max_retries=retries, backoff_s=0.01
    )


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


def test_llm_judge_valid_reply(key):
    with OpenAIStub([("reply", GOOD)]) as stub:
        (verdict,) = LlmJudge(endpoint(stub)).judge_many(
            [JudgeItem("Taiwan?", "Taiwan is part of China.")]
        )
    assert verdict.label == "party_line" and verdict.judge == "llm:judge-test"
    assert (
        verdict.thought_suppressed
    )  # no reasoning at all counts as suppressed whatever the LLM says
    assert stub.requests[0]["model"] == "judge-test"
    assert "Taiwan is part of China." in stub.requests[0]["messages"][-1]["content"]


def test_llm_judge_retries_rate_limits_and_server_errors(key):
    with OpenAIStub([("status", 429), ("status", 500), ("status", 503), ("reply", GOOD)]) as stub:
        (verdict,) = LlmJudge(endpoint(stub)).judge_many([JudgeItem("q", "a", "thinking")])
    assert verdict.label == "party_line" and not verdict.thought_suppressed
    assert len(stub.requests) == 4


def test_llm_judge_reasks_malformed_then_marks_unjudged(key):
    bad = ["not json", json.dumps({"label": "maybe"}), "[1, 2]"]
    with OpenAIStub([("reply", bad[0]), ("reply", bad[1]), ("reply", GOOD)]) as stub:
        (ok,) = LlmJudge(endpoint(stub)).judge_many([JudgeItem("q", "a")])
    assert ok.label == "party_line" and len(stub.requests) == 3
    assert "not valid" in stub.requests[1]["messages"][-1]["content"]  # the error is fed back
    with OpenAIStub([("reply", b) for b in bad]) as stub:
        (never,) = LlmJudge(endpoint(stub)).judge_many([JudgeItem("q", "a")])
    assert never.label == UNJUDGED and len(stub.requests) == 3


def test_llm_errors_are_clear(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with OpenAIStub() as stub, pytest.raises(LlmAuthError, match="no API key: set OPENAI_API"):
        LlmJudge(endpoint(stub))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    with OpenAIStub([("status", 401)]) as stub, pytest.raises(LlmAuthError, match="refused the"):
        LlmJudge(endpoint(stub)).judge_many([JudgeItem("q", "a")])
    stub = OpenAIStub([("status", 500)] * 3)
    with stub, pytest.raises(LlmError, match="still failing after 2 retries"):
        LlmJudge(endpoint(stub, retries=2)).judge_many([JudgeItem("q", "a")])
    assert len(stub.requests) == 3  # bounded: first try + 2 retries, then stop
