"""The real app (`python app.py`) on a free loopback port, for tests that talk to it over HTTP.

Slower than the handler tests (the app takes a few seconds to start); each module starts one.
"""

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.browser.conftest import free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "e2e-test-token"


@contextmanager
def running_app(tmp: Path, sae_dir: Path, model: str = "tiny", **env_overrides):
    """Yield (url, data folder, log path) of `python app.py` started with its own data folder."""
    port = free_port()
    data = tmp / "data"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "CENSORSCOPE_ADMIN_TOKEN": ADMIN_TOKEN,
        "CENSORSCOPE_DATA": str(data),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "NO_PROXY": "127.0.0.1,localhost",
        **env_overrides,
    }
    env.pop("CHROMA_URL", None)
    log = tmp / "app.log"
    cmd = [sys.executable, "app.py", "--model", model, "--sae", str(sae_dir)]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(url, proc, log)
        yield url, data, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def app(tiny_sae_dir, tmp_path_factory):
    """(url, data folder, log) of the app on the tiny model and the tiny SAE."""
    with running_app(tmp_path_factory.mktemp("app"), tiny_sae_dir) as started:
        yield started
