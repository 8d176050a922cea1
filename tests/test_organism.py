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
