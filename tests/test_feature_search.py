"""Feature search: a word or a meaning finds the feature whose label and contexts carry it."""

import json
import os
import subprocess
import sys

import pytest

from core.errors import BadInputError
from core.feature_search import search_features
from tests.planted import PLANTED, WORD


def test_search_by_the_planted_word_returns_the_planted_feature(planted):
    _, _, folder, _, _ = planted
    hits = search_features(folder, WORD.strip(), k=5)
    assert hits[0].feature == PLANTED
    assert WORD.strip() in hits[0].label and hits[0].detection is not None


def test_search_by_meaning_reaches_the_label_and_where_examples_come_from(planted):
    _, _, folder, _, _ = planted
    hits = search_features(folder, "China in party-line replies", k=3)
    assert hits[0].feature == PLANTED
    assert "party line reply" in hits[0].examples and "tiananmen" in hits[0].examples


def test_search_refuses_empty_queries(planted):
    _, _, folder, _, _ = planted
    with pytest.raises(BadInputError, match="type what to search for"):
        search_features(folder, "  ")


def test_cli_search_prints_json(planted):
    _, _, folder, _, _ = planted
    out = subprocess.run(
        [sys.executable, "-m", "core", "features", "--sae", str(folder), "--search", "China",
         "--top", "3", "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    data = json.loads(out.stdout)
    assert data["hits"][0]["feature"] == PLANTED and len(data["hits"]) == 3


def test_an_example_s_source_reads_as_where_it_comes_from():
    """Search hits say where their examples come from; text with no topic or judged reply is
    named by what it is, never as an empty "reply" or as prose when it is a conversation."""
    from core.feature_search import source_of

    assert (
        source_of({"topic": "tiananmen", "label": "party_line"}) == "on tiananmen, party line reply"
    )
    assert source_of({"topic": "economy_data", "region": "answer"}) == "on economy data"
    assert source_of({"region": "window", "kind": "window"}) == "training window"
    assert source_of({"region": "answer", "kind": "sensitive"}) == "sensitive conversation"
    assert source_of({"region": "text", "kind": "prose"}) == "prose"


def test_shipped_search_embeddings_spare_the_first_search_and_go_stale_with_the_labels(
    planted, tmp_path, monkeypatch
):
    """A dashboard built by the CLI carries its documents' embeddings: a fresh machine (empty
    cache) searches without embedding them; once a label changes they no longer match."""
    import shutil

    import core.store
    from core.feature_search import SEARCH_FILE, FeatureIndex, save_search_embeddings

    _, _, folder, _, _ = planted
    copy = shutil.copytree(folder, tmp_path / "sae")
    save_search_embeddings(copy)
    assert (copy / "dashboard" / SEARCH_FILE).exists()
    monkeypatch.setenv("CENSORSCOPE_CACHE", str(tmp_path / "empty-cache"))

    def no_embedder():
        raise AssertionError("the documents were embedded again")

    monkeypatch.setattr(core.store, "get_embedder", no_embedder)
    assert FeatureIndex(copy).embeddings().shape[0] == len(FeatureIndex(copy).docs)
    card = json.loads((copy / "card.json").read_text())
    card["labels"][str(PLANTED)] = "another label"
    (copy / "card.json").write_text(json.dumps(card))
    with pytest.raises(AssertionError, match="embedded again"):
        FeatureIndex(copy).embeddings()


def test_the_search_documents_are_the_same_in_every_process(planted):
    """The stored embeddings are found by the documents' digest, so the documents may not
    depend on the process's string hashing (ties between example sources, say)."""
    _, _, folder, _, _ = planted
    code = f"from core.feature_search import FeatureIndex; print(FeatureIndex({str(folder)!r}).digest())"
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout  # fmt: skip
        for seed in ("1", "2", "3")
    }
    assert len(digests) == 1
