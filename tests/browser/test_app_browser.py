"""The app in a real browser: inspect, pick a feature, ablate it, compare; admin refusals; API."""

import json

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN_TOKEN

pytestmark = pytest.mark.browser


def test_inspect_pick_ablate_and_compare(page):
    page.fill("#prompt textarea", "What happened at Tiananmen Square in 1989?")
    page.click("#inspect-btn")
    tokens = page.locator("#tokens .token")
    expect(tokens.first).to_be_visible()
    assert tokens.count() > 5
    # coloured by activation: at least one token has a non-transparent background
    styles = [tokens.nth(i).get_attribute("style") or "" for i in range(tokens.count())]
    assert any("background" in s for s in styles), styles[:5]

    tokens.nth(6).click()
    expect(page.get_by_text("Token 6 ")).to_be_visible()
    expect(page.locator("#token-features [data-testid=cell-0-0]")).to_be_visible()

    cell = page.locator("#prompt-features [data-testid=cell-0-0]")
    fid = cell.inner_text().strip()
    cell.click()
    expect(page.locator("#edit-feature input")).to_have_value(fid)
    page.get_by_label("ablate").check()
    page.click("#add-edit")
    expect(page.get_by_text(f"Recipe: ablate #{fid}")).to_be_visible()

    page.click("#generate")
    status = page.locator("#gen-status")
    expect(status).to_contain_text("Done (seed 0)", timeout=60_000)
    expect(status).to_contain_text(f"ablate #{fid}")
    expect(page.locator("#baseline-label")).to_contain_text("Judge:")
    expect(page.locator("#steered-label")).to_contain_text("Judge:")
    expect(page.locator("#baseline textarea")).to_be_visible()
    expect(page.locator("#steered textarea")).to_be_visible()


def test_bad_input_shows_a_message_and_the_app_keeps_serving(page):
    page.fill("#prompt textarea", "   ")
    page.click("#inspect-btn")
    expect(page.get_by_text("the prompt is empty").first).to_be_visible()
    page.fill("#prompt textarea", "Hello there")
    page.click("#inspect-btn")
    expect(page.locator("#tokens .token").first).to_be_visible()


def test_admin_refuses_a_wrong_token_and_accepts_the_right_one(page):
    page.get_by_role("tab", name="Admin").click()
    page.fill("#admin-token input", "not-the-token")
    page.click("#admin-unlock")
    expect(page.get_by_text("wrong admin token").first).to_be_visible()
    expect(page.locator("#job-start")).to_be_hidden()
    page.fill("#admin-token input", ADMIN_TOKEN)
    page.click("#admin-unlock")
    expect(page.locator("#admin-status")).to_contain_text("Admin unlocked")
    expect(page.locator("#job-start")).to_be_visible()


def test_gradio_client_inspect_compare_and_admin_refusal(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    spans, caption, table, _token_table, raw = client.predict(
        "What is the capital of France?", 4, "", api_name="/inspect"
    )
    assert raw["tokens"] and "tokens in" in caption
    feature = table["data"][0][0]
    recipe = json.dumps({"edits": [{"feature": feature, "mode": "clamp", "value": 5.0}]})
    out = client.predict(
        "What is the capital of France?", recipe, 8, 0.0, 0.95, 3, api_name="/compare"
    )
    assert out[-1].startswith("Done (seed 3)")
    assert f"#{feature} =5" in out[-1]
    with pytest.raises(Exception, match="wrong admin token"):
        client.predict("", "train", "--preset tiny", api_name="/admin_start")
    with pytest.raises(Exception, match="wrong admin token"):
        client.predict("guess", "", api_name="/admin_switch_sae")


def test_features_and_dataset_tabs_say_what_is_missing(page):
    page.get_by_role("tab", name="Features").click()
    page.fill("#feature-id input", "3")
    page.click("#feature-lookup")
    expect(page.get_by_text("Feature #3")).to_be_visible()
    expect(page.get_by_text("no dashboard data for this SAE").first).to_be_visible()
    page.get_by_role("tab", name="Dataset").click()
    expect(page.get_by_text("no dataset built yet").first).to_be_visible()
