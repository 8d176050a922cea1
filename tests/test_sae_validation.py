"""Broken SAE folders are refused on load with a clear message; the app keeps its old SAE."""

import json
import shutil

import gradio as gr
import pytest

from core.errors import SaeLoadError
from core.sae import load_sae
from ui import runtime


def _cfg(folder, **changes):
    cfg = json.loads((folder / "cfg.json").read_text())
    (folder / "cfg.json").write_text(json.dumps({**cfg, **changes}))


def _poison(folder, name, value):
    from safetensors.torch import load_file, save_file

    path = folder / "sae_weights.safetensors"
    weights = load_file(str(path))
    weights[name].view(-1)[3] = value
    save_file(weights, str(path))


def _no_weights(folder):
    (folder / "sae_weights.safetensors").unlink()


BROKEN = {
    "k0": (lambda f: _cfg(f, k=0), "k = 0; a TopK SAE needs k in 1..256"),
    "k_too_big": (lambda f: _cfg(f, k=257), "k = 257; a TopK SAE needs k in 1..256"),
    "nan_decoder": (lambda f: _poison(f, "W_dec", float("nan")), "NaN or infinite value.* W_dec"),
    "inf_encoder": (lambda f: _poison(f, "W_enc", float("inf")), "NaN or infinite value.* W_enc"),
    "no_weights": (_no_weights, "no weights"),
}


@pytest.fixture
def broken(tiny_sae_dir, tmp_path):
    """name -> a copy of the good tiny SAE folder broken in one way."""
    folders = {}
    for name, (breaker, _) in BROKEN.items():
        folder = shutil.copytree(tiny_sae_dir, tmp_path / name)
        breaker(folder)
        folders[name] = folder
    folders["staging"] = shutil.copytree(tiny_sae_dir, tmp_path / "sae.staging")
    return folders


@pytest.mark.parametrize("name", [*BROKEN, "staging"])
def test_broken_sae_is_refused_with_the_reason(tiny_subject, broken, name):
    message = BROKEN[name][1] if name in BROKEN else "half-written artifact"
    with pytest.raises(SaeLoadError, match=message):
        load_sae(broken[name], tiny_subject)


def test_writer_may_read_back_its_own_staging_folder(tiny_subject, broken):
    assert load_sae(broken["staging"], tiny_subject, staging=True).d_sae == 256


def test_app_refuses_to_switch_and_keeps_serving_the_old_sae(
    tiny_subject, tiny_sae, broken, monkeypatch
):
    from ui.admin_tab import on_sae_switch
    from ui.inspect_tab import on_inspect

    monkeypatch.setenv("CENSORSCOPE_ADMIN_TOKEN", "s3cret")
    rt = runtime.set_runtime(tiny_subject, tiny_sae)
    for folder in broken.values():
        with pytest.raises(gr.Error, match=str(folder.name)):
            on_sae_switch("s3cret", str(folder))
        assert rt.sae is tiny_sae
    spans, *_ = on_inspect("Is Taiwan a country?", 3)
    assert spans and any(score for _, score in spans)


def test_cli_prints_one_line_instead_of_a_traceback(broken, capsys):
    from core.__main__ import main

    code = main(["inspect", "--model", "tiny", "--sae", str(broken["k_too_big"]), "--prompt", "hi"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: the SAE at") and "k = 257" in err
