"""The real app (`python app.py`) on a free loopback port, for tests that talk to it over HTTP.

Slower than the handler tests (the app takes a few seconds to start); each module starts one.
"""

from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.app_server import running_app

ADMIN_TOKEN = "e2e-test-token"


@contextmanager
def tiny_app(tmp: Path, sae_dir: Path, model: str = "tiny", **env_overrides):
    """Yield (url, data folder, log path) of the app on `model` and `sae_dir`, admin enabled."""
    args = ["--model", model, "--sae", str(sae_dir)]
    with running_app(tmp, args, admin_token=ADMIN_TOKEN, **env_overrides) as started:
        yield started


@pytest.fixture(scope="module")
def app(tiny_sae_dir, tmp_path_factory):
    """(url, data folder, log) of the app on the tiny model and the tiny SAE."""
    with tiny_app(tmp_path_factory.mktemp("app"), tiny_sae_dir) as started:
        yield started
