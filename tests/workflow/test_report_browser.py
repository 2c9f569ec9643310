"""results/report.html as a person sees it: the tiny run's page in headless Chromium.

Playwright cannot download its own browsers here, so it launches /usr/bin/chromium
(installed by `make setup-test`). The page is opened from a file:// URL, as by double-click.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import chromium

SCREENSHOT_COPY = Path("/tmp/synthmir_report.png")  # where a person can look at the last run

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def test_report_loads_offline_with_every_image_and_clip(browser, tiny_run, tmp_path):
    report = tiny_run / "results" / "report.html"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    # Anything but the file itself (data: URIs never reach the router) is a leak: block it.
    outside: list[str] = []

    def block(route):
        outside.append(route.request.url)
        route.abort()

    page.route(lambda url: not url.startswith("file:"), block)

    page.goto(report.as_uri(), wait_until="load")
    screenshot = tmp_path / "report.png"
    page.screenshot(path=str(screenshot), full_page=True)
    shutil.copyfile(screenshot, SCREENSHOT_COPY)

    images = page.eval_on_selector_all(
        "img", "els => els.map(i => [i.alt, i.complete && i.naturalWidth > 0])")
    assert len(images) >= 8, images
    assert [alt for alt, ok in images if not ok] == []

    sources = page.eval_on_selector_all("audio", "els => els.map(a => a.currentSrc || a.src)")
    assert sources and all(s.startswith("data:audio/ogg;base64,") for s in sources)
    # The first clip decodes: Chromium reads its length from the embedded Ogg/Vorbis.
    duration = page.eval_on_selector("audio", """a => new Promise((ok, fail) => {
        if (a.readyState >= 1) return ok(a.duration);
        a.addEventListener("loadedmetadata", () => ok(a.duration));
        a.addEventListener("error", () => fail(a.error && a.error.message));
        a.load(); })""")
    assert 0.5 < duration < 10

    board = pd.read_csv(tiny_run / "results" / "leaderboard.csv")
    best = (tiny_run / "results" / "best_model").read_text().strip()
    table = page.text_content("#leaderboard-table")
    for model in board["model"]:
        assert model in table
        assert page.is_visible(f'[id="model-{model}"]')
    assert best in page.text_content("#leaderboard-table tr.best")

    # Clicking a header sorts its table (the per-class table, by F1, then reversed).
    f1 = page.locator("table.per-class").first
    f1.locator("th", has_text="F1").click()
    values = [float(v) for v in f1.locator("tbody td:nth-child(4)").all_text_contents()]
    assert values == sorted(values)
    f1.locator("th", has_text="F1").click()
    values = [float(v) for v in f1.locator("tbody td:nth-child(4)").all_text_contents()]
    assert values == sorted(values, reverse=True)

    assert problems == []
    assert outside == []
    page.close()
