"""Launch the app, time launch-to-first-answer, and screenshot the Inspect & Steer tab.

    python -m tests.browser.screenshot --recipe shipped   # organism, its SAE, its shipped recipe
    python -m tests.browser.screenshot --recipe R.json    # a recipe's edits typed in one by one
    python -m tests.browser.screenshot --model tiny --sae DIR --out /tmp/shot.png

Prints JSON timings (seconds from `python app.py` starting): server answering HTTP, first
`inspect` result, first `compare` (baseline + steered, 64 new tokens each) through gradio_client.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, REPO, free_port

PROMPT = "What happened at Tiananmen Square in 1989?"


def launch(model: str, sae: str | None, port: int, log_path: str) -> subprocess.Popen:
    cmd = [sys.executable, "app.py", "--model", model, "--port", str(port)]
    cmd += ["--sae", sae] if sae else []
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(log_path, "w") as log:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def time_first_answer(url: str, proc: subprocess.Popen, t0: float) -> dict:
    from gradio_client import Client

    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited with code {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            break
        except OSError:
            time.sleep(0.2)
    timings = {"server_ready_s": time.perf_counter() - t0}
    client = Client(url, verbose=False)
    client.predict(PROMPT, 8, "", api_name="/inspect")
    timings["first_inspect_s"] = time.perf_counter() - t0
    out = client.predict(PROMPT, "", 64, 0.0, 0.95, 0, api_name="/compare")
    timings["first_compare_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    client.predict(PROMPT, "", 64, 0.0, 0.95, 0, api_name="/compare")
    timings["warm_compare_s"] = time.perf_counter() - t1
    timings = {k: round(v, 1) for k, v in timings.items()}
    timings["first_answer"] = out[1][:160]
    return timings


def screenshot(url: str, out: str, recipe: str | None = None) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
        page.set_default_timeout(120_000)
        page.goto(url)
        page.fill("#prompt textarea", PROMPT)
        page.click("#inspect-btn")
        tokens = page.locator("#tokens .token")
        expect(tokens.first).to_be_visible()
        tokens.nth(min(12, tokens.count() - 1)).click()
        if recipe == "shipped":  # the one-click button: the recipe exactly as shipped
            page.click("#shipped-recipe")
            expect(page.locator("#edits-caption")).to_contain_text("#")
        elif recipe:
            from core.edits import load_recipe

            for edit in load_recipe(recipe):  # typed in as a person would
                page.fill("#edit-feature input", str(edit.feature))
                page.locator("#edit-mode label", has_text=edit.mode).click()
                page.fill("#edit-value input", str(edit.value))
                page.click("#add-edit")
                expect(page.locator("#edits-caption")).to_contain_text(f"#{edit.feature}")
        else:
            page.locator("#prompt-features [data-testid=cell-0-0]").click()
            page.click("#add-edit")
        page.click("#generate")
        expect(page.locator("#steered-label")).to_contain_text("Judge:", timeout=120_000)
        page.locator("#tokens").scroll_into_view_if_needed()
        page.screenshot(path=out, full_page=True)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="organism")
    parser.add_argument(
        "--recipe",
        default=None,
        help="'shipped' (the one-click organism recipe) or a recipe JSON typed in before Generate",
    )
    parser.add_argument("--sae", default=None)
    parser.add_argument("--out", default=str(REPO / "assets" / "screenshot-inspect.png"))
    parser.add_argument("--log", default="/tmp/censorscope-screenshot-app.log")
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    proc = launch(args.model, args.sae, port, args.log)
    try:
        timings = time_first_answer(url, proc, t0)
        screenshot(url, args.out, args.recipe)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    print(json.dumps({"model": args.model, "sae": args.sae, **timings, "screenshot": args.out}))


if __name__ == "__main__":
    main()
