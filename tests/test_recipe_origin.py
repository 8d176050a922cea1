"""Recipes carry their SAE and subject; one made for another SAE is refused unless forced."""

import json

import pytest

from core.edits import FeatureEdit, recipe_to_json
from core.recipe_origin import RecipeMismatch, check_origin, recipe_meta, recipe_origin
from tests.conftest import build_tiny_sae


def test_a_recipe_made_here_imports_and_one_from_another_sae_is_refused(tiny_subject, tiny_sae):
    text = recipe_to_json([FeatureEdit(3, "clamp", 2.0)], **recipe_origin(tiny_sae, tiny_subject))
    meta = recipe_meta(text)
    assert json.loads(text)["sae_fingerprint"] == meta["sae_fingerprint"]
    assert check_origin(meta, tiny_sae, tiny_subject) == []
    other = build_tiny_sae(tiny_subject, seed=5)  # same shapes, other features
    with pytest.raises(RecipeMismatch, match="made for SAE"):
        check_origin(meta, other, tiny_subject)
    warnings = check_origin(meta, other, tiny_subject, force=True)
    assert len(warnings) == 1 and "other features" in warnings[0]


def test_a_bare_list_of_edits_passes_with_a_warning(tiny_subject, tiny_sae):
    meta = recipe_meta('[{"feature": 1}]')
    assert meta == {}
    assert "no SAE fingerprint" in check_origin(meta, tiny_sae, tiny_subject)[0]


def test_the_fingerprint_is_of_the_decoder_as_stored_not_as_folded(tiny_subject):
    """A recipe searched on a GPU must load on a CPU: folding the decoder norms rounds differently
    on each, so the fingerprint is taken from the weights before the fold."""
    from types import SimpleNamespace

    import torch

    from core.recipe_origin import sae_fingerprint
    from core.sae import LoadedSae, make_sae
    from tests.conftest import TINY_HOOK

    raw = make_sae(tiny_subject.d_model, 64, 4, TINY_HOOK, rescale_acts_by_decoder_norm=True)
    with torch.no_grad():
        raw.W_dec.mul_(3.0)  # rows far from unit norm, as SAELens leaves them
    as_stored = SimpleNamespace(W_dec=raw.W_dec.detach().clone(), hook_name=TINY_HOOK)
    loaded = LoadedSae(sae=raw, hook_name=TINY_HOOK, path="<memory>")
    assert not torch.equal(loaded.W_dec.detach(), as_stored.W_dec)  # the fold happened
    assert sae_fingerprint(loaded) == sae_fingerprint(as_stored)
