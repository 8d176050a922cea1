"""`kill -9` in the middle of a dataset build and of a training run; the rerun resumes exactly."""

import json
import os
import re
import signal
import subprocess
import sys

from core.store import open_store
from tests.app_server import REPO
from training.metrics import read_metrics

PROGRESS = re.compile(r"progress (\d+)/(\d+)")


def env_for(data) -> dict:
    env = {**os.environ, "CENSORSCOPE_DATA": str(data), "HF_HUB_OFFLINE": "1"}
    env.pop("CHROMA_URL", None)
    return env


def kill_at(argv: list[str], env: dict, fraction: float) -> None:
    """Run `python argv`, SIGKILL it once it reports `fraction` done (no chance to clean up)."""
    proc = subprocess.Popen(
        [sys.executable, *argv], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        for line in proc.stderr:
            match = PROGRESS.search(line)
            if match and int(match.group(1)) >= fraction * int(match.group(2)):
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL, "the command ended before it could be killed"


def run_json(argv: list[str], env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, *argv, "--json"], cwd=REPO, env=env, check=True, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    return json.loads(out.stdout)


def test_killed_build_resumes_without_duplicates(tmp_path):
    argv = ["-m", "data_builder", "build", "--offline", "--model", "tiny", "--limit", "16",
            "--max-new-tokens", "8", "--batch-size", "4", "--control-tokens", "0"]  # fmt: skip
    env = env_for(tmp_path)
    kill_at(argv, env, 0.5)
    summary = run_json(argv, env)
    assert summary["answers_already_stored"] >= 8 and summary["answers_added"] <= 8
    store = open_store(tmp_path / "chroma")
    answers = store.get("answers")
    assert store.count("prompts") == 16 and len(answers) == 16
    assert len({a["metadata"]["prompt_id"] for a in answers}) == 16  # one answer per prompt
    assert all(a["metadata"]["label"] != "pending" for a in answers)


def test_killed_training_resumes_with_the_same_steps_and_schedule(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(
        "\n\n".join(f"Sentence {i}: the quick brown fox jumps over the lazy dog in {1900 + i}."
                    for i in range(200))
    )  # fmt: skip
    env = env_for(tmp_path / "data")

    def train(run_dir):
        return ["-m", "training", "train", "--preset", "tiny", "--run-dir", str(run_dir),
                "--dataset", str(corpus), "--control", str(corpus), "--dashboard-tokens", "0"]  # fmt: skip

    kill_at(train(tmp_path / "run"), env, 0.75)
    assert list((tmp_path / "run" / "checkpoints").iterdir()), "no checkpoint to resume from"
    resumed = run_json(train(tmp_path / "run"), env)
    reference = run_json(train(tmp_path / "reference"), env)
    card = json.loads((tmp_path / "run" / "sae" / "card.json").read_text())
    assert card["steps"] == 64 and card["tokens_seen"] == 16384 == resumed["tokens_seen"]

    def schedule(run_dir):
        rows = [r for r in read_metrics(run_dir / "metrics.jsonl") if r["kind"] == "train"]
        return [(r["step"], r["tokens"], r["lr"]) for r in rows]

    assert schedule(tmp_path / "run") == schedule(tmp_path / "reference")
    assert reference["tokens_seen"] == 16384
