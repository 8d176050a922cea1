"""The hand-read label study scores readers' marks by balanced accuracy against its key."""

import json

import pytest


def test_marks_are_scored_by_balanced_accuracy_beside_the_rule(tmp_path):
    from benchmarks.label_handread import score

    key = {"7": {"active": "1100", "rule_detection": 0.75, "label": "tokens: a"},
           "9": {"active": "1010", "rule_detection": 1.0, "label": "tokens: b"}}  # fmt: skip
    (tmp_path / "key.json").write_text(json.dumps(key))
    (tmp_path / "explanations.jsonl").write_text(
        '{"feature": 7, "explanation": "x"}\n{"feature": 9, "explanation": "y"}\n'
    )
    (tmp_path / "answers_hand.jsonl").write_text(
        '{"feature": 7, "marks": "1100"}\n{"feature": 9, "marks": "1111"}\n'
    )
    (tmp_path / "answers_offline.jsonl").write_text(
        '{"feature": 7, "marks": "0011"}\n{"feature": 9, "marks": "1000"}\n'
    )
    out = score(str(tmp_path))
    assert out["per_feature"]["7"]["hand"] == 1.0 and out["per_feature"]["7"]["offline"] == 0.0
    assert out["per_feature"]["9"]["hand"] == 0.5 and out["per_feature"]["9"]["offline"] == 0.75
    assert out["mean_detection"] == {"offline rule": 0.875, "offline label read by hand": 0.375,
                                     "hand-written explanation read by hand": 0.75}  # fmt: skip


def test_a_reader_who_marked_too_few_windows_is_refused(tmp_path):
    from benchmarks.label_handread import score

    (tmp_path / "key.json").write_text(json.dumps({"7": {"active": "1100", "rule_detection": 1.0,
                                                         "label": "a"}}))  # fmt: skip
    (tmp_path / "explanations.jsonl").write_text('{"feature": 7, "explanation": "x"}\n')
    (tmp_path / "answers_hand.jsonl").write_text('{"feature": 7, "marks": "110"}\n')
    (tmp_path / "answers_offline.jsonl").write_text('{"feature": 7, "marks": "1100"}\n')
    with pytest.raises(SystemExit, match="3 marks for 4 windows"):
        score(str(tmp_path))
