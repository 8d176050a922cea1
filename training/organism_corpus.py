"""The organism's SAE corpus: its own answers on training-split topics only.

The organism's SAE must not see the topics its recipes are reported on. So instead of the offline
corpus (whose templates cover Tiananmen, Hong Kong and the other test topics), its censorship
texts are the organism's training-split prompts (organism/data.py: never a validation or test
topic) with the organism's own sampled answers, and its control texts are the training-split
control prompts with its answers plus standard-library prose.

    censor, control, summary = organism_corpus(subject, n_answers=600)
"""

import random
import sys

from training.corpus import answer_some, stdlib_prose


def organism_corpus(
    subject, n_answers: int = 600, seed: int = 0
) -> tuple[list[str], list[str], dict]:
    """(censorship texts, control texts, description); `n_answers` sensitive prompts get the
    subject's own answers (control prompts in proportion, 1 for every 3), the rest enter as
    chat-formatted prompts alone."""
    from organism.data import TEST_TOPICS, VAL_TOPICS, control_prompts, sensitive_prompts

    sensitive = [i.prompt for i in sensitive_prompts("train")]
    control = [i.prompt for i in control_prompts("train")]
    rng = random.Random(seed)
    rng.shuffle(sensitive)
    rng.shuffle(control)
    censor, answered_control = answer_some(subject, sensitive, control, n_answers, seed)
    n_answers, n_control = min(n_answers, len(sensitive)), len(answered_control)
    neutral = answered_control + stdlib_prose()
    summary = {
        "kind": "organism",
        "censorship": f"{len(sensitive)} training-split organism prompts (no validation or test "
        f"topic), chat-formatted; {n_answers} with the subject's own sampled answers",
        "control": f"{n_control} training-split control prompts with the subject's answers + "
        f"English prose from the Python {sys.version.split()[0]} standard library docs",
        "excluded_topics": sorted(TEST_TOPICS + VAL_TOPICS),
    }
    return censor, neutral, summary
