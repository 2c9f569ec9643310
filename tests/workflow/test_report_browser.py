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

#: Where a person can look at the last run's screenshots, by viewport width.
SCREENSHOT_COPIES = {width: Path(f"/tmp/synthmir_report_{width}.png") for width in (800, 1280)}

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

# Distinct colours of an image, counted on a canvas: a plot with nothing drawn has one or two.
DISTINCT_COLOURS = """img => {
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    const context = canvas.getContext("2d");
    context.drawImage(img, 0, 0);
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length; i += 28) {
        seen.add(data[i] << 16 | data[i + 1] << 8 | data[i + 2]);
    }
    return seen.size; }"""


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def _open(browser, report: Path, width: int, problems: list[str], outside: list[str]):
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    def block(route):  # anything but the file itself is a leak (data: URIs never get here)
        outside.append(route.request.url)
        route.abort()

    page.route(lambda url: not url.startswith("file:"), block)
    page.goto(report.as_uri(), wait_until="load")
    return page


def _screenshot(page, width: int, tmp_path: Path) -> None:
    path = tmp_path / f"report_{width}.png"
    page.screenshot(path=str(path))
    shutil.copyfile(path, SCREENSHOT_COPIES[width])


def test_summary_above_the_fold_tables_flags_and_plots(browser, tiny_run, tmp_path):
    report = tiny_run / "results" / "report.html"
    board = pd.read_csv(tiny_run / "results" / "leaderboard.csv")
    best = (tiny_run / "results" / "best_model").read_text().strip()
    problems: list[str] = []
    outside: list[str] = []
    page = _open(browser, report, 1280, problems, outside)
    _screenshot(page, 1280, tmp_path)

    # The summary, with the best model and its figure, fits the first screen.
    summary = page.locator("table.summary-table")
    box = summary.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 800, box
    assert best in summary.locator("tr.best").text_content()
    assert "%" in summary.locator("tr.best td.err").text_content()

    # One table per task, each model in its own task's table, with the flags it was given.
    for target, rows in board.groupby("target"):
        table = page.locator(f"#table-{target}")
        assert table.is_visible()
        assert [table.locator(f'tr[data-model="{m}"]').count() for m in rows["model"]] == [1] * len(
            rows)
        for _, row in rows.iterrows():
            shown = table.locator(f'tr[data-model="{row["model"]}"] .flag').all_text_contents()
            expected = [] if pd.isna(row["flags"]) else row["flags"].split("; ")
            assert shown == expected, row["model"]
        assert "95 %" in table.locator("td.err").first.get_attribute("title")

    # Every plot is drawn, none empty; an untrained model has no learning curves.
    plots = page.eval_on_selector_all(
        "figure img", f"els => els.map(i => [i.alt, i.complete && i.naturalWidth > 0, "
        f"({DISTINCT_COLOURS})(i)])")
    assert len(plots) >= 8, plots
    assert [alt for alt, loaded, colours in plots if not loaded or colours < 8] == []
    assert page.locator("figure:not(:has(img))").count() == 0
    untrained = board.loc[board["flags"].fillna("").str.contains("not trained"), "model"]
    for model in untrained:
        article = page.locator(f'article:has([id="model-{model}"])')
        assert article.locator("[data-plot]").count() > 0
        assert article.locator('[data-plot="learning_curves"]').count() == 0

    sources = page.eval_on_selector_all("audio", "els => els.map(a => a.currentSrc || a.src)")
    assert sources and all(s.startswith("data:audio/ogg;base64,") for s in sources)
    duration = page.eval_on_selector("audio", """a => new Promise((ok, fail) => {
        if (a.readyState >= 1) return ok(a.duration);
        a.addEventListener("loadedmetadata", () => ok(a.duration));
        a.addEventListener("error", () => fail(a.error && a.error.message));
        a.load(); })""")
    assert 0.5 < duration < 10

    # Clicking a header sorts its table (the per-class table, by F1, then reversed).
    f1 = page.locator("table.per-class").first
    for order in (sorted, lambda v: sorted(v, reverse=True)):
        f1.locator("th", has_text="F1").click()
        values = [float(v) for v in f1.locator("tbody td:nth-child(4)").all_text_contents()]
        assert values == order(values)
    page.close()
    assert problems == [] and outside == []


def test_no_sideways_overflow_at_800_px(browser, tiny_run, tmp_path):
    problems: list[str] = []
    page = _open(browser, tiny_run / "results" / "report.html", 800, problems, [])
    _screenshot(page, 800, tmp_path)
    widths = page.evaluate("[document.documentElement.scrollWidth, "
                           "document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], widths
    # Wide tables scroll inside their own box instead of widening the page.
    assert page.locator("table.summary-table").bounding_box()["width"] <= 800
    page.close()
    assert problems == []
