"""The default app (organism + its shipped SAE) in a browser: search features, read a dashboard
without admin, steer with a strength slider, and read the answers' tokens by feature."""

import pytest
from playwright.sync_api import expect

from tests.app_server import running_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def default_app(tmp_path_factory):
    """`python app.py` with no flags: the organism and its shipped SAE, no admin token."""
    with running_app(tmp_path_factory.mktemp("default-app"), [], timeout=180) as started:
        yield started[0]


@pytest.fixture
def page(browser, default_app):
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(default_app)
    page.wait_for_selector("#inspect-btn")
    yield page
    context.close()


def test_search_finds_features_and_the_dashboard_shows_without_admin(page):
    page.get_by_role("tab", name="Features").click()
    page.locator("#feature-search").locator("textarea, input").first.fill("stability")
    page.click("#feature-search-btn")
    first = page.locator("#feature-hits [data-testid=cell-0-3]")
    expect(first).to_contain_text("stability", timeout=180_000)
    page.locator("#feature-hits [data-testid=cell-0-0]").click()
    summary = page.locator("#feature-summary")
    expect(summary).to_contain_text("Offline label", timeout=30_000)
    expect(summary).to_contain_text("held-out windows")
    expect(summary).to_contain_text("99th percentile")
    contexts = page.locator("#feature-contexts")
    expect(contexts).to_contain_text("Top activating contexts")
    expect(contexts).to_contain_text("Activation level")
    expect(page.get_by_text("Not available yet")).to_have_count(0)


def test_slider_steers_and_the_answers_are_coloured_by_the_feature(page):
    page.fill("#prompt textarea", "What happened at Tiananmen Square in 1989?")
    page.click("#inspect-btn")
    cell = page.locator("#prompt-features [data-testid=cell-0-0]")
    expect(cell).to_be_visible(timeout=120_000)
    fid = cell.inner_text().strip()
    cell.click()
    expect(page.locator("#edit-feature input")).to_have_value(fid, timeout=20_000)
    page.locator("#edit-mode").get_by_label("clamp").check()
    page.fill("#edit-value input", "2")
    page.click("#add-edit")
    expect(page.locator("#edits-caption")).to_contain_text(f"#{fid} =2", timeout=20_000)
    slider = page.locator("#strength-0")
    expect(slider).to_contain_text("observed: median", timeout=20_000)
    expect(page.locator("#strength-marks-0")).to_contain_text("p99")
    number = slider.locator("input[type=number]")
    number.fill("3.5")
    number.press("Tab")  # leaving the box releases the slider
    expect(page.locator("#edits-caption")).to_contain_text(f"#{fid} =3.5", timeout=20_000)

    page.fill("#trace textarea", fid)
    page.click("#generate")
    expect(page.locator("#gen-status")).to_contain_text("Done (seed 0)", timeout=180_000)
    tokens = page.locator("#baseline-tokens .tok")
    assert tokens.count() > 3
    assert tokens.first.get_attribute("title").startswith(f"#{fid} = ")
    expect(page.locator("#steered-tokens .tok").first).to_be_visible()
    expect(page.locator("#answer-caption")).to_contain_text(f"Feature #{fid} over the answers")
