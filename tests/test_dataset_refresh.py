"""Rows another process writes (a build from Admin or the CLI) show up in the open app."""

import json
import subprocess
import sys

import numpy as np
import pytest

from core.paths import REPO_ROOT
from ui import runtime

WRITER = """
import json, sys
import numpy as np
from core.store import open_store
rows = json.loads(open(sys.argv[2]).read())
vecs = np.load(sys.argv[3])
store = open_store(sys.argv[1])
ids = [r["id"] for r in rows]
store.add("prompts", ids, [r["prompt"] for r in rows], [{"topic": "t"}] * len(rows), vecs)
metas = [{"prompt_id": r["id"], "prompt": r["prompt"], "topic": "t", "label": r["label"],
          "answer_chars": len(r["answer"])} for r in rows]
store.add("answers", ["a" + i for i in ids], [r["answer"] for r in rows], metas, vecs)
"""


def write_in_another_process(folder, tmp_path, rows):
    """Add rows to the embedded store at `folder` from a separate Python process."""
    from core.store import get_embedder

    vecs = get_embedder()([r["answer"] for r in rows])
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    np.save(tmp_path / "vecs.npy", vecs)
    subprocess.run(
        [sys.executable, "-c", WRITER, str(folder), str(tmp_path / "rows.json"),
         str(tmp_path / "vecs.npy")],
        cwd=REPO_ROOT, check=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture
def rt(tiny_subject, tiny_sae, tmp_path, monkeypatch):
    monkeypatch.setenv("CENSORSCOPE_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("CHROMA_URL", raising=False)
    return runtime.set_runtime(tiny_subject, tiny_sae)


def test_rows_written_by_another_process_show_in_every_panel(rt, tmp_path):
    from ui.dataset_tab import on_dataset_load, on_dataset_search, on_nearest

    status, *_ = on_dataset_load()
    assert "no dataset built yet" in status  # the app opened the empty store first
    folder = tmp_path / "data" / "chroma"
    labels = ["refusal", "party_line", "not_censored", "deflection", "partial", "refusal"]
    answers = [f"Answer {i}: I cannot discuss that." for i in range(5)] + ["Mix flour and water."]
    rows = [
        {"id": f"p{i}", "prompt": f"Question {i}", "answer": a, "label": lab}
        for i, (a, lab) in enumerate(zip(answers, labels, strict=True))
    ]
    write_in_another_process(folder, tmp_path, rows)
    status, *plots, table = on_dataset_load()
    assert "6 answers" in status and len(table) == 6
    assert list(on_dataset_search("flour", "any")["id"]) == ["ap5"]
    assert on_nearest("flour and water", 1, "answers").iloc[0]["text"] == "Mix flour and water."

    # and again once the app has loaded the vector index: a second build's rows are found too
    more = [{"id": "p9", "prompt": "Tell me about walls", "answer": "The Great Wall is long.",
             "label": "not_censored"}]  # fmt: skip
    write_in_another_process(folder, tmp_path, more)
    near = on_nearest("the great wall", 10, "answers")
    assert len(near) == 7 and near.iloc[0]["text"] == "The Great Wall is long."
    assert "7 answers" in on_dataset_load()[0]
