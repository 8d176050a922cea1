"""The real app on a free loopback port (tiny model + tiny SAE folder) and a headless chromium.

pytest -m browser tests/browser    # needs Debian chromium at /usr/bin/chromium
"""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.app_server import REPO, free_port, running_app, wait_for  # noqa: F401  (shared)

expect.set_options(timeout=30_000)  # a busy 2-core machine: the app's first answer takes seconds

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ADMIN_TOKEN = "browser-test-token"


@pytest.fixture(scope="session")
def app_url(tiny_sae_dir, tmp_path_factory):
    """`python app.py --model tiny --sae DIR` on a free loopback port, with an admin token."""
    args = ["--model", "tiny", "--sae", str(tiny_sae_dir)]
    with running_app(tmp_path_factory.mktemp("app"), args, admin_token=ADMIN_TOKEN) as started:
        yield started[0]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = "Debian chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):  # scripts/test.sh installs it: missing in CI is a failure
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(app_url)
    page.wait_for_selector("#inspect-btn")
    yield page
    context.close()
