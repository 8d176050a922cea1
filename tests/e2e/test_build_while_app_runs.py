"""A dataset build from the CLI while the app runs: the open app's Dataset tab shows its rows."""

import os
import subprocess
import sys

from gradio_client import Client

from tests.app_server import REPO

BUILD = ["-m", "data_builder", "build", "--offline", "--model", "tiny", "--max-new-tokens", "8",
         "--batch-size", "4", "--control-tokens", "0"]  # fmt: skip


def build(data, limit: int) -> None:
    env = {**os.environ, "CENSORSCOPE_DATA": str(data), "HF_HUB_OFFLINE": "1"}
    env.pop("CHROMA_URL", None)
    subprocess.run(
        [sys.executable, *BUILD, "--limit", str(limit)], cwd=REPO, env=env, check=True,
        capture_output=True, timeout=300,
    )  # fmt: skip


def test_rows_of_a_build_show_in_the_running_app(app):
    url, data, _ = app
    client = Client(url, verbose=False)
    status, *_ = client.predict(api_name="/dataset")
    assert "no dataset built yet" in status  # the app has opened the (empty) store
    build(data, 8)
    status, *_plots, table = client.predict(api_name="/dataset")
    assert "8 answers" in status and len(table["data"]) == 8
    prompt = table["data"][0][5]
    near = client.predict(prompt, 3, "prompts", api_name="/nearest")
    assert near["data"][0][2] == prompt and near["data"][0][0] > 0.99

    build(data, 12)  # a second build adds to the store the app has read from already
    status, *_plots, table = client.predict(api_name="/dataset")
    assert "12 answers" in status and len(table["data"]) == 12
    near = client.predict(prompt, 20, "prompts", api_name="/nearest")
    assert len(near["data"]) == 12
