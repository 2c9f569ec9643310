"""The page in a real browser: Debian's Chromium driven by Playwright, against the tiny model.

Playwright cannot download its own browsers here, so it launches /usr/bin/chromium
(installed by `make setup-test`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import expect

from synthmir.infer.web import create_app
from tests.conftest import chromium
from tests.infer.test_web import running_server

# A synthetic microphone (a beeping tone) that needs no permission prompt.
FAKE_MICROPHONE = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
SCREENSHOT_COPY = Path("/tmp/synthmir_web.png")  # where a person can look at the last run

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture(scope="module")
def browser():
    with chromium(*FAKE_MICROPHONE) as browser:
        yield browser


def test_page_classifies_a_rendered_clip(browser, tiny_run, tmp_path):
    clips = pd.read_csv(tiny_run / "data" / "tiny" / "clips.csv")
    clip = tiny_run / "data" / "tiny" / clips["file"].iloc[0]
    best = (tiny_run / "results" / "best_model").read_text().strip()
    model_dir = tiny_run / "results" / "models" / best
    labels = json.loads((model_dir / "preprocessing.json").read_text())["label_names"]
    bad = tmp_path / "not_audio.wav"
    bad.write_bytes(b"this is not audio" * 100)

    with running_server(create_app(model_dir)) as url:
        page = browser.new_page(viewport={"width": 900, "height": 900})
        problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))

        page.goto(url + "/")
        # Playwright's wait_for_function evaluates strings, which the page's CSP forbids;
        # expect() polls without eval.
        expect(page.locator("#model")).to_contain_text(best)

        # A bad file: the server's one-line error appears, no result.
        with page.expect_response("**/api/v1/predict") as response:
            page.set_input_files("#file", str(bad))
        assert response.value.status == 400
        page.wait_for_selector("#error", state="visible")
        assert "not readable" in page.text_content("#error")
        problems = [p for p in problems if "400" not in p]  # the browser logs the 400 itself

        page.set_input_files("#file", str(clip))
        page.wait_for_selector("#result", state="visible")
        label = page.text_content("#label")
        assert label in labels
        assert page.is_hidden("#error")
        rows = page.locator(".bar-row")
        assert rows.count() == len(labels)
        # Bars are ranked, the predicted one first and highlighted, widths as probabilities.
        assert rows.first.locator(".bar-name").text_content() == label
        assert "chosen" in rows.first.get_attribute("class")
        widths = [rows.nth(i).locator(".bar-fill").evaluate("e => e.getBoundingClientRect().width")
                  for i in range(rows.count())]
        assert widths[0] > 0 and widths == sorted(widths, reverse=True)
        assert "1 window" in page.text_content("#meta")
        assert page.get_attribute("#player", "src").startswith("blob:")
        assert page.is_visible("#player")

        screenshot = tmp_path / "synthmir_web.png"
        page.screenshot(path=str(screenshot), full_page=True)
        shutil.copyfile(screenshot, SCREENSHOT_COPY)

        # Record from the (fake) microphone: MediaRecorder -> WAV in the page -> upload.
        page.click("#record")
        expect(page.locator("#record")).to_contain_text("Stop")
        page.wait_for_timeout(1500)
        with page.expect_response("**/api/v1/predict") as response:
            page.click("#record")
        assert response.value.status == 200, response.value.text()
        expect(page.locator("#filename")).to_have_text("recording.wav")
        expect(page.locator("#status")).to_be_empty()
        assert page.text_content("#label") in labels
        page.close()

    assert problems == []
    # Everything the page loaded came from this server (or the page's own blob: audio).
    assert all(u.startswith((url, "blob:", "data:")) for u in requested), requested
