"""Staged writes: a reader sees the old or the new folder, never half of one; failures change nothing."""

import pytest

from core.atomic import staged_dir, write_text_atomic


def test_staged_folder_replaces_the_target_only_when_complete(tmp_path):
    target = tmp_path / "artifact"
    with staged_dir(target) as stage:
        (stage / "a.txt").write_text("one")
        assert not target.exists()  # nothing visible until the block ends
    assert (target / "a.txt").read_text() == "one"
    with staged_dir(target) as stage:
        (stage / "b.txt").write_text("two")
        assert (target / "a.txt").exists()  # the old version serves meanwhile
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifact"]


def test_a_failed_write_leaves_the_old_folder_and_no_staging(tmp_path):
    target = tmp_path / "artifact"
    target.mkdir()
    (target / "keep.txt").write_text("old")
    (tmp_path / "artifact.staging").mkdir()  # a writer that crashed earlier
    (tmp_path / "artifact.staging" / "junk").write_text("half")
    with pytest.raises(OSError, match="disk full"), staged_dir(target) as stage:
        assert list(stage.iterdir()) == []  # the crashed writer's leftovers are gone
        (stage / "new.txt").write_text("half written")
        raise OSError(28, "disk full")
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifact"]


def test_atomic_text_write_leaves_no_temp_file(tmp_path):
    path = write_text_atomic(tmp_path / "sub" / "state.json", '{"a": 1}')
    write_text_atomic(path, '{"a": 2}')
    assert path.read_text() == '{"a": 2}' and [p.name for p in path.parent.iterdir()] == [
        "state.json"
    ]
