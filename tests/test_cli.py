"""`python -m core inspect|steer --json` prints the documented JSON; errors are one clear line."""

import json
import subprocess
import sys

import pytest

from core.__main__ import main

PROMPT = "What happened at Tiananmen Square in 1989?"


def _run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_inspect_json_shape(capsys, tiny_sae_dir):
    code, out, _ = _run(
        capsys,
        "inspect",
        "--model",
        "tiny",
        "--sae",
        str(tiny_sae_dir),
        "--prompt",
        PROMPT,
        "--top-k",
        "3",
        "--trace",
        "5",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    assert {"model", "sae", "hook_name", "tokens", "prompt_top", "traces", "seconds"} <= set(data)
    assert all({"index", "token", "id", "top"} <= set(t) for t in data["tokens"])
    assert len(data["traces"]["5"]) == len(data["tokens"])


def test_steer_json_shape_and_identity_without_edits(capsys, tiny_sae_dir):
    code, out, _ = _run(
        capsys,
        "steer",
        "--model",
        "tiny",
        "--sae",
        str(tiny_sae_dir),
        "--prompt",
        PROMPT,
        "--max-new-tokens",
        "5",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    assert {"baseline", "steered", "edits", "settings", "timings", "identical"} <= set(data)
    assert data["edits"] == [] and data["identical"] is True
    assert data["baseline"]["text"] == data["steered"]["text"]


def test_steer_with_edits_records_them(capsys, tiny_sae_dir):
    code, out, _ = _run(
        capsys,
        "steer",
        "--model",
        "tiny",
        "--sae",
        str(tiny_sae_dir),
        "--prompt",
        PROMPT,
        "--ablate",
        "3",
        "--clamp",
        "4=2.5",
        "--max-new-tokens",
        "4",
        "--json",
    )
    assert code == 0
    edits = json.loads(out)["edits"]
    assert edits == [
        {"feature": 3, "mode": "ablate", "value": 0.0, "where": "all"},
        {"feature": 4, "mode": "clamp", "value": 2.5, "where": "all"},
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--prompt", ""], "empty"),
        (["--prompt", PROMPT, "--ablate", "999999"], "out of range"),
        (["--prompt", PROMPT, "--clamp", "1=nan"], "finite"),
    ],
)
def test_steer_bad_input_is_one_clear_line(capsys, tiny_sae_dir, args, message):
    code, out, err = _run(
        capsys,
        "steer",
        "--model",
        "tiny",
        "--sae",
        str(tiny_sae_dir),
        "--max-new-tokens",
        "3",
        *args,
    )
    assert code == 2 and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("error:") and message in last and "Traceback" not in err


def test_sae_of_another_model_is_refused_by_name(capsys, tmp_path):
    from core.sae import make_sae, save_sae

    folder = save_sae(make_sae(576, 64, 4, "model.layers.3"), tmp_path / "wide", {})
    code, _, err = _run(
        capsys, "inspect", "--model", "tiny", "--sae", str(folder), "--prompt", PROMPT
    )
    assert code == 2 and "another model" in err


@pytest.mark.slow
def test_embedded_default_end_to_end_through_the_cli():
    cmd = [
        sys.executable,
        "-m",
        "core",
        "steer",
        "--prompt",
        PROMPT,
        "--max-new-tokens",
        "24",
        "--json",
    ]
    plain = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    assert plain["identical"] and plain["baseline"]["n_tokens"] > 0
    insp = subprocess.run(
        [sys.executable, "-m", "core", "inspect", "--prompt", PROMPT, "--top-k", "3", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    top = json.loads(insp.stdout)["prompt_top"][0]["feature"]
    steered = json.loads(
        subprocess.run(
            cmd + ["--clamp", f"{top}=60"], capture_output=True, text=True, check=True
        ).stdout
    )
    assert steered["baseline"]["text"] == plain["baseline"]["text"]
    assert steered["steered"]["text"] != steered["baseline"]["text"]
