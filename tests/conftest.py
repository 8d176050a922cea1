"""Shared fixtures: a tiny Qwen3 subject and a tiny TopK SAE spliced at one of its layers."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TINY_HOOK = "model.layers.2"


@pytest.fixture(scope="session")
def tiny_subject():
    from core.model import load_subject

    return load_subject("tiny", device="cpu")


def build_tiny_sae(subject, d_sae: int = 256, k: int = 8, seed: int = 0, hook: str = TINY_HOOK):
    from core.sae import LoadedSae, make_sae, subject_fingerprint

    raw = make_sae(subject.d_model, d_sae, k, hook, seed=seed)
    card = {
        "hook_name": hook,
        "subject": {"source": "tiny", "fingerprint": subject_fingerprint(subject)},
    }
    return LoadedSae(sae=raw, hook_name=hook, path="<memory>", card=card)


@pytest.fixture(scope="session")
def tiny_sae(tiny_subject):
    return build_tiny_sae(tiny_subject)


@pytest.fixture(scope="session")
def tiny_sae_dir(tiny_subject, tiny_sae, tmp_path_factory):
    from core.sae import save_sae

    return save_sae(tiny_sae.sae, tmp_path_factory.mktemp("sae") / "tiny", tiny_sae.card)


from tests.planted import planted  # noqa: E402, F401  (fixture: a tiny SAE with a planted feature)
