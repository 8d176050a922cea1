"""What anonymous users see carries no server paths, and exports leave no temp folders behind."""

import json
import tempfile
from pathlib import Path

import pytest

from ui import runtime


@pytest.fixture
def rt(tiny_subject, tiny_sae_dir, tmp_path, monkeypatch):
    from core.sae import load_sae

    monkeypatch.setenv("CENSORSCOPE_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("CHROMA_URL", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    return runtime.set_runtime(tiny_subject, load_sae(tiny_sae_dir, tiny_subject))


def test_feature_lookup_shows_no_server_path(rt, tiny_sae_dir):
    from ui.features_tab import on_feature

    summary, *_ = on_feature(3)
    assert "no dashboard data" in summary
    assert str(tiny_sae_dir.parent) not in summary and "/tmp" not in summary


def test_exported_recipe_names_the_sae_without_its_server_path(rt, tiny_sae_dir):
    from ui.inspect_tab import on_add_edit, on_export_recipe

    saved = json.loads(
        Path(on_export_recipe(on_add_edit("", 1, "ablate", 0, "all"), "p")).read_text()
    )
    assert saved["sae"] == tiny_sae_dir.name and saved["hook_name"] == rt.sae.hook_name


def test_exports_share_one_temp_folder(rt, tmp_path):
    from ui.inspect_tab import on_add_edit, on_export_recipe

    recipe = on_add_edit("", 1, "ablate", 0, "all")
    paths = {on_export_recipe(recipe, "p") for _ in range(3)}
    assert len(paths) == 3 and all(Path(p).name == "steering-recipe.json" for p in paths)
    assert [p.name for p in (tmp_path / "tmp").iterdir()] == ["censorscope-exports"]


def test_public_path_keeps_repository_and_data_paths_relative(tmp_path, monkeypatch):
    from core.paths import REPO_ROOT, public_path, public_text

    monkeypatch.setenv("CENSORSCOPE_DATA", str(tmp_path / "data"))
    assert public_path(REPO_ROOT / "assets" / "sae" / "embedded") == "assets/sae/embedded"
    assert public_path(tmp_path / "data" / "runs" / "x" / "sae") == "data/runs/x/sae"
    assert public_path("/srv/secret/place/my-sae") == "my-sae"
    text = f"the chroma store at {tmp_path / 'data' / 'chroma'} stopped answering"
    assert public_text(text) == "the chroma store at data/chroma stopped answering"
