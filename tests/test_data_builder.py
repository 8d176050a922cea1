"""The dataset builder end to end on the tiny model: build, resume, report, export, bad input.

pytest tests/test_data_builder.py            # add -m slow for the embedded-model run
"""

import json

import pytest

from core.errors import BadInputError
from core.store import open_store
from data_builder.__main__ import main
from data_builder.config import BuildConfig
from data_builder.pipeline import build

FAST = {
    "offline": True,
    "model": "tiny",
    "max_new_tokens": 8,
    "batch_size": 4,
    "control_tokens": 400,
}


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("CENSORSCOPE_DATA", str(tmp_path))
    monkeypatch.delenv("CHROMA_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return tmp_path


def answers_are_unique(store):
    rows = store.get("answers")
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({r["metadata"]["prompt_id"] for r in rows}) == len(rows)  # one answer per prompt
    return rows


def test_offline_build_report_export(data, tiny_subject):
    config = BuildConfig(limit=12, **FAST)
    first = build(config, subject=tiny_subject)
    assert first["prompts_added"] == 12 and first["answers_added"] == 12 and first["judged"] == 12
    assert first["control_added"] > 0 and first["control_tokens"] >= 400
    assert 0 < first["mean_pairwise_cosine"] < 0.6 and first["topics"] == 12
    assert json.loads((data / "chroma" / "build_config.json").read_text())["limit"] == 12

    again = build(config, subject=tiny_subject)  # a re-run adds nothing anywhere
    assert (
        again["prompts_added"],
        again["answers_added"],
        again["judged"],
        again["control_added"],
    ) == (0, 0, 0, 0)
    store = open_store()
    assert store.counts() == first["counts"]
    rows = answers_are_unique(store)
    assert all(r["metadata"]["label"] != "pending" for r in rows)
    rejudged = build(BuildConfig(limit=12, rejudge=True, **FAST), subject=tiny_subject)
    assert rejudged["answers_added"] == 0 and rejudged["judged"] == 12

    from data_builder.browse import nearest, table
    from data_builder.report import figures

    assert main(["report"]) == 0
    report = data / "report"
    for name in ("categories", "umap_questions", "umap_answers", "answer_length", "topics"):
        assert (report / f"{name}.png").stat().st_size > 5_000
    assert "plotly" in (report / "report.html").read_text()
    summary = json.loads((report / "summary.json").read_text())
    assert summary["answers"] == 12 and summary["topics"] == 12
    assert set(figures(store)) == {
        "categories",
        "umap_questions",
        "umap_answers",
        "answer_length",
        "topics",
    }

    assert main(["export"]) == 0
    from data_builder.export import load_training_texts

    ds = load_training_texts()
    assert ds.num_rows == 12 + first["counts"]["control"]
    assert set(ds["kind"]) == {"prompt_answer", "control"}
    assert load_training_texts(kinds=("control",)).num_rows == first["counts"]["control"]

    assert len(table(store)) == 12 and len(table(store, query="zzz-no-match")) == 0
    hits = nearest(rows[0]["metadata"]["prompt"], k=3, collection="prompts", store=store)
    assert hits.iloc[0]["text"] == rows[0]["metadata"]["prompt"]


def test_interrupted_build_resumes_without_duplicates(data, tiny_subject):
    from core.generate import generate_batch

    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the third batch
        return generate_batch(*args, **kwargs)

    config = BuildConfig(limit=16, **FAST)
    with pytest.raises(KeyboardInterrupt):
        build(config, subject=tiny_subject, generate=flaky)
    store = open_store()
    assert store.count("prompts") == 16
    assert store.count("answers") == 8  # the two finished batches are stored, the third is not
    resumed = build(config, subject=tiny_subject)
    assert resumed["answers_added"] == 8 and resumed["answers_already_stored"] == 8
    assert len(answers_are_unique(store)) == 16
    assert resumed["judged"] == 16  # answers stored before the interrupt were judged on resume


def test_shipped_offline_prompt_set_is_large_and_diverse():
    from core.store import get_embedder
    from data_builder.dedupe import greedy_dedupe, mean_pairwise_cosine
    from data_builder.prompts import offline_candidates

    cands = offline_candidates()
    vecs = get_embedder()([c.prompt for c in cands])
    keep, _, _ = greedy_dedupe(vecs, None, BuildConfig().dedupe_threshold)
    kept = [cands[i] for i in keep]
    assert len(kept) >= 500
    assert len({c.topic for c in kept}) >= 40
    assert {c.lang for c in kept} == {"en", "zh"} and len({c.style for c in kept}) >= 8
    assert mean_pairwise_cosine(vecs[keep]) < 0.5
    assert offline_candidates() == cands  # deterministic: the resume logic relies on it
    assert len({c.topic for c in cands[:46]}) == 46  # any prefix covers the topics round-robin


def test_config_is_validated_and_never_saves_the_key(data, monkeypatch):
    for bad in (
        {"dedupe_threshold": 1.5},
        {"limit": 0},
        {"offline": True, "judge": "llm"},
        {"prompt_file": str(data / "missing.txt")},
        {"control_source": "/no/such/dir"},
    ):
        with pytest.raises(BadInputError):
            BuildConfig(**bad)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    path = BuildConfig(offline=True).save()
    assert "sk-very-secret" not in path.read_text()
    assert json.loads(path.read_text())["api_key_env"] == "OPENAI_API_KEY"


def test_bad_input_gets_a_message_and_exit_2(data, capsys):
    from data_builder.prompts import read_prompt_file

    bad = data / "prompts.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"prompt": \n')
    with pytest.raises(BadInputError, match="line 2"):
        read_prompt_file(bad)
    good = data / "prompts.txt"
    good.write_text("# comment\nWhat happened in 1989?\n\nWho is Ai Weiwei?\n")
    assert [c.prompt for c in read_prompt_file(good)] == [
        "What happened in 1989?",
        "Who is Ai Weiwei?",
    ]

    empty = data / "topics.json"
    empty.write_text("[]")
    cases = [
        (["build", "--offline", "--model", "tiny", "--prompt-file", str(bad)], "line 2"),
        (["build", "--offline", "--model", "tiny", "--topics-file", str(empty)], "topic list"),
        (["build", "--generator", "llm", "--model", "tiny"], "no API key"),
        (["report"], "no answers yet"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err


def test_dead_chroma_server_from_cli(data, capsys, monkeypatch):
    from tests.test_store import free_port

    monkeypatch.setenv("CHROMA_URL", f"http://127.0.0.1:{free_port()}")
    assert main(["build", "--offline", "--model", "tiny"]) == 2
    assert "cannot reach the chroma server" in capsys.readouterr().err


def test_ctrl_c_in_cli_exits_130(data, capsys, monkeypatch):
    import data_builder.pipeline

    def interrupted(config):
        raise KeyboardInterrupt

    monkeypatch.setattr(data_builder.pipeline, "build", interrupted)
    assert main(["build", "--offline"]) == 130
    assert "run the same command to resume" in capsys.readouterr().err


@pytest.mark.slow
def test_offline_build_on_embedded_model(data):
    from core.model import load_subject

    subject = load_subject("embedded")
    config = BuildConfig(offline=True, limit=3, max_new_tokens=24, batch_size=3, control_tokens=200)
    summary = build(config, subject=subject)
    assert summary["answers_added"] == 3 and summary["judged"] == 3
    rows = answers_are_unique(open_store())
    assert all(r["document"].strip() for r in rows)  # SmolLM2 really answers
    assert build(config, subject=subject)["answers_added"] == 0


@pytest.mark.slow
def test_sigint_mid_build_keeps_rows_and_resumes(data, tmp_path, tiny_subject):
    """A real Ctrl-C (SIGINT) to the CLI while it answers, against a real chroma server."""
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time

    from tests.test_store import free_port, start_chroma, stop

    n = 64  # enough that the build is still answering when the signal lands, on a busy machine
    port = free_port()
    server = start_chroma(tmp_path / "server", port)
    env = {**os.environ, "CHROMA_URL": f"http://127.0.0.1:{port}"}
    argv = [
        sys.executable,
        "-m",
        "data_builder",
        "build",
        "--offline",
        "--model",
        "tiny",
        "--limit",
        str(n),
        "--batch-size",
        "2",
        "--max-new-tokens",
        "24",
        "--control-tokens",
        "50",
    ]
    try:
        store = open_store(url=env["CHROMA_URL"])
        # A test run earlier in this process may leave SIGINT ignored, and a child inherits an
        # ignored SIGINT (Python then never raises KeyboardInterrupt): give it a terminal's.
        proc = subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        lines: list[bytes] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, b"")))
        reader.start()
        deadline = time.time() + 120
        # the CLI prints a progress line after each stored batch (what background jobs read)
        while not any(b"progress" in x for x in list(lines)) and time.time() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        reader.join(timeout=10)
        err = b"".join(lines)
        assert proc.returncode == 130, err.decode()[-500:]
        assert b"run the same command to resume" in err
        stored = len(store.get("answers"))
        assert 2 <= stored < n  # interrupted mid-way, finished batches kept
        config = BuildConfig(
            offline=True, model="tiny", limit=n, batch_size=2, max_new_tokens=24,
            control_tokens=50, chroma_url=env["CHROMA_URL"],
        )  # fmt: skip
        summary = build(config, subject=tiny_subject)
        assert summary["answers_added"] == n - stored
        assert summary["answers_already_stored"] == stored
        assert len(answers_are_unique(store)) == n
    finally:
        stop(server)


def test_the_judge_reads_what_the_model_emitted_special_tokens_included(data, tiny_subject):
    """An end-of-turn at once, then a new turn: the shown answer looks fine, the raw one is not."""
    from core.generate import Generation

    def leaky(subject, prompts, settings, batch_size=8):
        shown = "Sure, here is a short poem about the sea and its waves."
        raw = "<|im_end|>" + shown
        return [Generation(p, shown, None, shown, 12, 0.0, None, raw) for p in prompts]

    build(BuildConfig(limit=4, **FAST), subject=tiny_subject, generate=leaky)
    rows = open_store().get("answers")
    assert rows and {r["metadata"]["label"] for r in rows} == {"broken"}
    assert all("leakage" in r["metadata"]["rationale"] for r in rows)
    assert all(not r["document"].startswith("<|im_end|>") for r in rows)  # shown as read
