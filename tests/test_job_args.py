"""Admin job arguments: only allowlisted flags, paths inside the data folder, values checked first."""

import gradio as gr
import pytest

from core.errors import BadInputError
from ui import runtime
from ui.job_args import checked_job_args


@pytest.fixture
def data(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("CENSORSCOPE_DATA", str(folder))
    monkeypatch.setenv("CENSORSCOPE_JOBS", str(folder / "jobs"))
    return folder


@pytest.fixture
def outside(tmp_path):
    """A folder outside the data folder with a file someone cares about."""
    folder = tmp_path / "precious"
    folder.mkdir()
    (folder / "keep.txt").write_text("secret line one\nsecret line two\n")
    return folder


def test_default_arguments_pass_unchanged(data):
    assert checked_job_args("train", ["--preset", "tiny"]) == ["--preset", "tiny"]
    assert checked_job_args("build", ["--offline", "--limit", "200"]) == [
        "--offline", "--limit", "200",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "kind,flag",
    [
        ("train", "--output"),
        ("train", "--run-dir"),
        ("train", "--dataset"),
        ("train", "--control"),
        ("build", "--prompt-file"),
        ("build", "--topics-file"),
        ("build", "--control-source"),
    ],
)
def test_paths_outside_the_data_folder_are_refused(data, outside, kind, flag):
    target = outside / "keep.txt" if flag in ("--prompt-file", "--topics-file") else outside
    with pytest.raises(BadInputError, match="only use paths inside"):
        checked_job_args(kind, ["--offline", flag, str(target)] if kind == "build" else
                         ["--preset", "tiny", flag, str(target)])  # fmt: skip
    with pytest.raises(BadInputError, match="only use paths inside"):
        checked_job_args(kind, [f"{flag}=../../{target.name}"])


def test_a_symlink_in_the_data_folder_does_not_lead_out(data, outside):
    (data / "link.txt").symlink_to(outside / "keep.txt")
    with pytest.raises(BadInputError, match="only use paths inside"):
        checked_job_args("build", ["--offline", "--prompt-file", str(data / "link.txt")])


def test_paths_inside_the_data_folder_are_accepted_as_absolute_paths(data):
    prompts = data / "prompts.txt"
    prompts.write_text("What happened in 1989?\n")
    argv = checked_job_args("build", ["--offline", "--prompt-file", str(prompts)])
    assert argv == ["--offline", "--prompt-file", str(prompts.resolve())]
    argv = checked_job_args("train", ["--preset", "tiny", "--run-dir", str(data / "runs" / "a")])
    assert argv[-1] == str((data / "runs" / "a").resolve())
    with pytest.raises(BadInputError, match="inside the data folder's runs/"):
        checked_job_args("train", ["--preset", "tiny", "--output", str(data / "chroma")])


@pytest.mark.parametrize(
    "kind,argv,message",
    [
        ("build", ["--api-base-url", "http://attacker.example"], "not allowed"),
        ("build", ["--api-key-env", "AWS_SECRET"], "not allowed"),
        ("build", ["--chroma-path", "/tmp/x"], "not allowed"),
        ("train", ["--extra", '{"checkpoint_path": "/"}'], "not allowed"),
        ("train", ["--out", "/tmp/x"], "not allowed"),  # argparse would expand the abbreviation
        ("train", ["train", "--preset", "tiny"], "argument 'train' is not allowed"),
        ("train", ["--name", "../../etc"], "--name must be letters"),
        ("train", ["--seed", "--output"], "needs a value"),
        ("train", ["--subject", "/etc"], "only use paths inside"),
        ("build", ["--limit", "-3"], "limit must be at least 1"),
        ("build", ["--limit", "many"], "invalid int value"),
        ("train", ["--preset", "tiny", "--k", "0"], "k must be >= 1"),
        ("train", ["--preset", "nope"], "invalid choice"),
    ],
)
def test_refused_arguments_say_why(data, kind, argv, message):
    with pytest.raises(BadInputError, match=message):
        checked_job_args(kind, argv)


def test_admin_start_refuses_before_any_job_exists(
    data, outside, tiny_subject, tiny_sae, monkeypatch
):
    from ui.admin_tab import on_job_start

    monkeypatch.setenv("CENSORSCOPE_ADMIN_TOKEN", "s3cret")
    runtime.set_runtime(tiny_subject, tiny_sae)
    for kind, args in [
        ("train", f"--preset tiny --output {outside}"),
        ("build", f"--offline --prompt-file {outside / 'keep.txt'}"),
        ("build", "--offline --limit -3"),
    ]:
        with pytest.raises(gr.Error, match="not allowed|only use paths|at least 1"):
            on_job_start("s3cret", kind, args)
    assert (outside / "keep.txt").exists()
    assert not (data / "jobs").exists() or not any((data / "jobs").iterdir())
