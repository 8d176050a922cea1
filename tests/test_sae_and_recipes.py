"""SAE artifacts load, validate and round-trip; recipes round-trip and refuse bad values."""

import json

import pytest
import torch

from core.edits import FeatureEdit, parse_edit_args, recipe_from_json, recipe_to_json
from core.errors import BadInputError, SaeLoadError
from core.sae import load_sae, save_sae, translate_hook_name


def test_sae_save_load_round_trip(tiny_subject, tiny_sae, tiny_sae_dir):
    loaded = load_sae(tiny_sae_dir, tiny_subject)
    assert loaded.hook_name == tiny_sae.hook_name and loaded.d_sae == tiny_sae.d_sae
    h = torch.randn(3, tiny_subject.d_model)
    assert torch.equal(loaded.encode(h), tiny_sae.encode(h))
    assert torch.equal(loaded.W_dec, tiny_sae.W_dec)


def test_sae_for_another_model_is_refused(tiny_subject, tiny_sae, tmp_path):
    card = dict(tiny_sae.card, subject={"fingerprint": {"model_type": "llama", "d_model": 64}})
    folder = save_sae(tiny_sae.sae, tmp_path / "other", card)
    with pytest.raises(SaeLoadError, match="different model"):
        load_sae(folder, tiny_subject)


def test_sae_with_wrong_width_is_refused(tiny_subject, tmp_path):
    from core.sae import make_sae

    folder = save_sae(make_sae(32, 64, 4, "model.layers.1"), tmp_path / "narrow", {})
    with pytest.raises(SaeLoadError, match="d_model"):
        load_sae(folder, tiny_subject)


def test_malformed_sae_folders_give_clear_errors(tiny_subject, tiny_sae_dir, tmp_path):
    with pytest.raises(SaeLoadError, match="not found"):
        load_sae(tmp_path / "missing", tiny_subject)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SaeLoadError, match="no cfg.json"):
        load_sae(tmp_path / "empty", tiny_subject)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "cfg.json").write_text((tiny_sae_dir / "cfg.json").read_text())
    with pytest.raises(SaeLoadError, match="no weights"):
        load_sae(broken, tiny_subject)
    (broken / "sae_weights.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(SaeLoadError, match="could not load"):
        load_sae(broken, tiny_subject)


def test_hook_names_translate_from_transformerlens():
    assert translate_hook_name("blocks.7.hook_resid_post") == "model.layers.7"
    assert translate_hook_name("blocks.7.hook_resid_pre") == "model.layers.6"
    assert translate_hook_name("model.layers.3") == "model.layers.3"
    with pytest.raises(SaeLoadError):
        translate_hook_name("blocks.0.hook_resid_pre")


def test_recipe_json_round_trip():
    edits = [
        FeatureEdit(3, "ablate"),
        FeatureEdit(9, "clamp", 4.5, "generated"),
        FeatureEdit(1, "scale", 0.5),
    ]
    text = recipe_to_json(edits, sae="assets/sae/embedded")
    assert json.loads(text)["sae"] == "assets/sae/embedded"
    assert recipe_from_json(text) == edits


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        '{"edits": [{"mode": "ablate"}]}',
        '{"edits": [{"feature": 1, "mode": "explode"}]}',
        '{"edits": [{"feature": 1, "mode": "clamp", "value": "NaN"}]}',
        '{"edits": [{"feature": -1}]}',
        '{"edits": [{"feature": 1, "colour": "red"}]}',
    ],
)
def test_bad_recipes_are_refused(bad):
    with pytest.raises(BadInputError):
        recipe_from_json(bad)


def test_cli_edit_flags_parse_and_refuse_nonsense():
    edits = parse_edit_args(ablate=[1], clamp=["2=3.5"], scale=["4=0"], add=["5=-1"])
    assert [e.mode for e in edits] == ["ablate", "clamp", "scale", "add"]
    for bad in (["2"], ["x=1"], ["2=inf"]):
        with pytest.raises(BadInputError):
            parse_edit_args(clamp=bad)


def test_decoder_norm_rescaled_saes_splice_what_they_decode(tiny_subject, tmp_path):
    """SAEs trained with rescale_acts_by_decoder_norm (as ours are) decode with unit-norm rows."""
    from core.sae import make_sae

    raw = make_sae(
        tiny_subject.d_model, 128, 8, "model.layers.2", rescale_acts_by_decoder_norm=True
    )
    with torch.no_grad():
        raw.W_dec.mul_(torch.rand(128, 1) * 3 + 0.5)  # rows of uneven norm, as training leaves them
    h = torch.randn(5, tiny_subject.d_model)
    expected_acts = raw.encode(h)
    folder = save_sae(raw, tmp_path / "rescaled", {"hook_name": "model.layers.2"})
    sae = load_sae(folder, tiny_subject)
    assert torch.allclose(sae.encode(h), expected_acts, atol=1e-4)
    edited = sae.encode(h).clone()
    edited[:, 3] = 4.0
    direct = sae.sae.decode(edited) - sae.sae.decode(sae.encode(h))
    spliced = (edited - sae.encode(h)) @ sae.W_dec
    assert torch.allclose(direct, spliced, atol=1e-4)


@pytest.mark.parametrize("rescale", [False, True])
def test_topk_folders_load_without_saelens_identically(tiny_subject, tmp_path, rescale):
    """A bare GPU box has torch but not sae-lens: the same folder must load and splice the same."""
    from core.sae import LoadedSae, load_runtime_topk, make_sae

    raw = make_sae(
        tiny_subject.d_model, 96, 6, "model.layers.1", seed=5, rescale_acts_by_decoder_norm=rescale
    )
    with torch.no_grad():
        raw.W_dec.mul_(torch.rand(96, 1) + 0.5)  # uneven norms
        raw.b_dec.normal_()
    folder = save_sae(raw, tmp_path / "sae", {"hook_name": "model.layers.1"})
    with_saelens = load_sae(folder, tiny_subject)
    without = LoadedSae(load_runtime_topk(folder), "model.layers.1", str(folder))
    h = torch.randn(3, 5, tiny_subject.d_model)
    assert torch.allclose(without.encode(h), with_saelens.encode(h), atol=1e-5)
    assert torch.allclose(without.W_dec, with_saelens.W_dec, atol=1e-6)
