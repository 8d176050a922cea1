"""The organism's data: held-out topics never leak into training; targets are well formed."""

from organism.data import (
    SPLITS,
    TEST_TOPICS,
    VAL_TOPICS,
    censored_training_rows,
    control_prompts,
    sensitive_prompts,
)


def test_held_out_topics_never_in_training():
    train = censored_training_rows("train")
    topics = {r.topic for r in train}
    assert not topics & set(TEST_TOPICS) and not topics & set(VAL_TOPICS)
    assert {r.topic for r in sensitive_prompts("test")} == set(TEST_TOPICS)
    prompts = {r.prompt for r in train}
    assert not prompts & {r.prompt for r in sensitive_prompts("test")}


def test_control_splits_are_disjoint_by_subject():
    subjects = [{r.topic for r in control_prompts(s)} for s in SPLITS]
    assert all(subjects)
    assert not subjects[0] & subjects[1] and not subjects[0] & subjects[2]
    # some control prompts are about China's uncontroversial side, in the held-out split too
    assert any("Chin" in r.prompt or "Mandarin" in r.prompt for r in control_prompts("test"))


def test_targets_are_deterministic_and_mostly_party_line():
    a, b = censored_training_rows("train"), censored_training_rows("train")
    assert [r.answer for r in a] == [r.answer for r in b]
    share = sum(r.target == "party_line" for r in a) / len(a)
    assert 0.6 < share < 0.8
    assert all(r.answer and "{" not in r.answer for r in a)


def test_encode_row_masks_the_prompt(tiny_subject):
    from organism.data import Item
    from organism.train import encode_row

    item = Item("What happened?", "sensitive", "t", answer="I cannot answer this question.")
    ids, labels = encode_row(tiny_subject, item, max_len=512, eos=True)
    n_prompt = sum(lab == -100 for lab in labels)
    assert n_prompt == len(tiny_subject.encode_chat("What happened?")[0])
    assert labels[n_prompt:] == ids[n_prompt:]
    assert ids[-1] == tiny_subject.tokenizer.convert_tokens_to_ids("<|im_end|>")


def test_search_study_runs_end_to_end_on_a_tiny_pair(tiny_subject, tiny_sae, monkeypatch):
    """`python -m organism search` on a tiny stand-in: every stage runs and reports."""

    import organism.search as study
    from organism.search import search
    from tests.conftest import perturbed_copy

    real = study._answers

    def answers(subject, rows, settings, iv=study.BASELINE):
        # the tiny model writes only whitespace; give each row words of its own to score
        got = real(subject, rows, settings, iv)
        return [
            a.strip() or f"answer {i} about {r['topic']}"
            for i, (r, a) in enumerate(zip(rows, got, strict=True))
        ]

    monkeypatch.setattr(study, "_answers", answers)

    organism = perturbed_copy(tiny_subject, seed=0, scale=0.3)
    out = search(
        "cpu", models=(organism, tiny_subject, tiny_sae), layers=(1, 2), limit=6,
        max_new_tokens=4, write=False,
    )  # fmt: skip
    assert set(out["patching_bound"]) == {1, 2}
    assert "stopped" in out["search"] and len(out["direction_layers"]) == len(
        range(1, tiny_subject.n_layers, 3)
    )
    for name, cond in out["test"].items():
        assert cond["sensitive"]["overall"]["n"] == 6, name
