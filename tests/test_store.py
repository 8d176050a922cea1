"""The chroma store: content ids never duplicate, embedded and server modes, dead-server messages.

pytest tests/test_store.py
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.store import StoreError, content_id, get_embedder, open_store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_chroma(path: Path, port: int) -> subprocess.Popen:
    """`chroma run` on loopback, waited for until it answers."""
    chroma = Path(sys.executable).with_name("chroma")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc
        except OSError as err:
            if proc.poll() is not None:
                raise RuntimeError("chroma run exited at start") from err
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("chroma run did not start within 30 s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def embed():
    return get_embedder()


def add_rows(store, embed, texts, topic="t"):
    ids = [content_id(t) for t in texts]
    return store.add(
        "prompts", ids, texts, [{"topic": topic, "source": None}] * len(texts), embed(texts)
    )


def check_store(store, embed):
    texts = [
        "What happened at Tiananmen Square?",
        "Tell me about Tibet.",
        "A bread recipe, please.",
    ]
    assert add_rows(store, embed, texts) == 3
    assert add_rows(store, embed, [*texts, "A new prompt"]) == 1  # re-adding adds only the new one
    assert store.count("prompts") == 4
    rows = store.get("prompts", ids=[content_id(texts[1])], embeddings=True)
    assert rows[0]["document"] == texts[1] and rows[0]["metadata"]["source"] == ""
    assert np.isclose(np.linalg.norm(rows[0]["embedding"]), 1.0, atol=1e-4)
    store.update_metadata("prompts", [content_id(texts[1])], [{"label": "refusal"}])
    meta = store.get("prompts", ids=[content_id(texts[1])])[0]["metadata"]
    assert meta == {"topic": "t", "source": "", "label": "refusal"}  # merged, not replaced
    hits = store.nearest("prompts", embed(["Tiananmen Square 1989"])[0], k=2)
    assert hits[0]["document"] == texts[0] and hits[0]["similarity"] > hits[1]["similarity"]


def test_content_id_is_stable_and_whitespace_insensitive():
    assert content_id("What  happened?\n") == content_id("what happened?")
    assert content_id("a", "b") != content_id("ab") != content_id("b", "a")


def test_embedder_similarity_is_meaningful(embed):
    a, b, c = embed(
        ["The army fired on protesters.", "Soldiers shot at demonstrators.", "I like bread."]
    )
    assert a @ b > 0.5 > a @ c


def test_embedded_store_persists_across_clients(tmp_path, embed):
    check_store(open_store(tmp_path / "chroma"), embed)
    again = open_store(tmp_path / "chroma")
    assert again.count("prompts") == 4


def test_chroma_server_store(tmp_path, embed, monkeypatch):
    port = free_port()
    proc = start_chroma(tmp_path / "server", port)
    try:
        monkeypatch.setenv("CHROMA_URL", f"http://127.0.0.1:{port}")
        store = open_store()
        assert store.where.endswith(str(port))
        check_store(store, embed)
        stop(proc)  # the server dies mid-session: a clear error, not a traceback from httpx
        with pytest.raises(StoreError, match="stopped answering"):
            store.count("prompts")
        proc = start_chroma(tmp_path / "server", port)
        assert open_store().count("prompts") == 4  # nothing stored was lost
    finally:
        stop(proc)


def test_dead_chroma_server_fails_fast(monkeypatch):
    monkeypatch.setenv("CHROMA_URL", f"http://127.0.0.1:{free_port()}")
    start = time.time()
    with pytest.raises(StoreError, match="cannot reach the chroma server"):
        open_store()
    assert time.time() - start < 10
