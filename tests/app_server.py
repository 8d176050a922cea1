"""`python app.py` on a free loopback port, for the browser and end-to-end tests.

with running_app(tmp, ["--model", "tiny", "--sae", str(sae_dir)], admin_token="t") as (url, data, log):
    ...
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the app did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


@contextmanager
def running_app(
    tmp: Path,
    args: list[str],
    admin_token: str | None = None,
    timeout: float = 90.0,
    **env_overrides: str,
) -> Iterator[tuple[str, Path, Path]]:
    """Yield (url, data folder, log path) of `python app.py ARGS` with its own data folder; the
    settings of the environment it runs in (model, SAE, chroma server) do not leak in."""
    port = free_port()
    data = tmp / "data"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "CENSORSCOPE_DATA": str(data), "GRADIO_ANALYTICS_ENABLED": "False",
           "NO_PROXY": "127.0.0.1,localhost", **env_overrides}  # fmt: skip
    for key in ("CHROMA_URL", "CENSORSCOPE_ADMIN_TOKEN", "CENSORSCOPE_MODEL", "CENSORSCOPE_SAE"):
        if key not in env_overrides:
            env.pop(key, None)
    if admin_token:
        env["CENSORSCOPE_ADMIN_TOKEN"] = admin_token
    log = tmp / "app.log"
    cmd = [sys.executable, "app.py", *args, "--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(url, proc, log, timeout)
        yield url, data, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
