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


def perturbed_copy(subject, seed: int = 1, scale: float = 0.5, layers_only: bool = False):
    """A tiny "organism": a copy of `subject` with noise on its weights (only the decoder layers'
    with `layers_only`), so `subject` can play its base model."""
    import copy

    import torch

    other = copy.copy(subject)
    other.model = copy.deepcopy(subject.model)
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in other.model.named_parameters():
            if not layers_only or ".layers." in name:
                p.add_(scale * torch.randn_like(p) * p.std().clamp(min=1e-3))
    return other
