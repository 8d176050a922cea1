"""Feature search: a word or a meaning finds the feature whose label and contexts carry it."""

import json
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
