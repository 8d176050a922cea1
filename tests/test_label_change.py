"""Comparing two builds' cards reports what changed in their labels, as the README quotes it."""

import json

import pytest


def entry(text, detection, n_test, explain=5, heldout=5, tokens=("a",)):
    return {"text": text, "source": "offline", "rule": {"tokens": list(tokens), "where": {}},
            "detection": detection, "n_test": n_test,
            "firings": {"explain": explain, "heldout": heldout}}  # fmt: skip


def write(path, details):
    path.write_text(json.dumps({"label_details": details}))
    return str(path)


def test_change_counts_new_scores_texts_and_the_steady_mean(tmp_path):
    from benchmarks.label_change import change, details

    old = {"1": entry("tokens: a", 0.8, 40), "2": entry("tokens: b", None, 0, 0, 1),
           "3": entry("tokens: c, d", 0.6, 6, tokens=("c", "d"))}  # fmt: skip
    new = {"1": entry("tokens: a", 0.9, 40), "2": entry("tokens: b", 0.5, 8, 2, 4),
           "3": entry("tokens: c, e", 0.7, 12, tokens=("c", "e")),
           "4": entry("tokens: z", None, 0, 1, 0)}  # fmt: skip
    out = change(
        details(write(tmp_path / "old.json", old)), details(write(tmp_path / "new.json", new))
    )
    assert out["texts_changed"] == 1 and out["texts_changed_keep_first_token"] == 1
    assert out["texts_changed_keep_shown_tokens"] == 0  # "d" became "e" among the shown tokens
    assert out["texts_changed_by_firings"]["0 to 19"] == {"features": 3, "texts_changed": 1}
    assert out["newly_labelled"] == [4] and out["lost"] == [] and out["lost_score"] == []
    assert list(out["newly_scored"]) == ["2"]
    assert out["reached_8_windows"] == [2, 3]
    # only feature 1 is scored on 8 windows both times
    assert out["scored_on_8_windows_both_times"] == 1
    assert out["mean_detection_of_those"] == {"old": 0.8, "new": 0.9}
    assert out["still_unscored"] == {"4": {"explain": 1, "heldout": 0}}


def test_a_score_that_went_away_is_reported(tmp_path):
    from benchmarks.label_change import change, details

    old = {"5": entry("tokens: a", 0.9, 40)}
    new = {"5": entry("tokens: a", None, 0, 0, 1)}
    out = change(details(write(tmp_path / "o.json", old)), details(write(tmp_path / "n.json", new)))
    assert out["lost_score"] == [5] and out["scored_on_8_windows_both_times"] == 0
    assert out["mean_detection_of_those"] == {"old": None, "new": None}


def test_wrong_arguments_say_how_to_call_it():
    from benchmarks.label_change import main

    with pytest.raises(SystemExit, match="usage"):
        main(["only_one.json"])
