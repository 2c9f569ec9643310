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

from synthmir.infer.timeline import read_timeline_midi
from synthmir.infer.web import create_app
from tests.conftest import chromium
from tests.infer.test_web import running_server
from tests.progression import PROGRESSION

# A synthetic microphone (a beeping tone) that needs no permission prompt.
FAKE_MICROPHONE = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
SCREENSHOT_COPY = Path("/tmp/synthmir_web.png")  # where a person can look at the last run
CHORDS_SCREENSHOT_COPY = Path("/tmp/synthmir_web_chords.png")

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

    with running_server(create_app(model_dir, workdir=tmp_path)) as url:  # no harmony model
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
        expect(page.locator("#chords-status")).to_contain_text("No harmony model")

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


def test_page_draws_the_chords_and_the_instrument_over_time(browser, tiny_run, chords_run,
                                                            progression_wav, tmp_path):
    best = (tiny_run / "results" / "best_model").read_text().strip()
    labels = json.loads((tiny_run / "results" / "models" / best / "preprocessing.json")
                        .read_text())["label_names"]
    app = create_app(tiny_run / "results" / "models" / best,
                     harmony_model=chords_run / "results" / "models" / "tinyharmony")
    with running_server(app) as url:
        page = browser.new_page(viewport={"width": 900, "height": 1000})
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.goto(url + "/")
        expect(page.locator("#harmony-model")).to_contain_text("tinyharmony")
        page.set_input_files("#file", str(progression_wav))
        expect(page.locator("#chords-body")).to_be_visible(timeout=60_000)
        # The progression's chords, drawn over time: names above, a bar per pitch class.
        names = page.locator("#chords-svg text.name").all_text_contents()
        assert [n for n in names if n in {"C", "Am", "F", "G7"}] == [
            name for _, name in PROGRESSION]
        bars = page.locator("#chords-svg rect.pc")
        assert bars.count() >= sum(len(set(p % 12 for p in pitches)) for pitches, _ in PROGRESSION)
        assert page.locator("#chords-table tbody tr").count() >= len(PROGRESSION)
        # tinyharmony decides one set per 0.5-s hop: no change shorter than that
        expect(page.locator("#chords-status")).to_contain_text("changes of 0.5 s or longer")
        # The MIDI download is the chord timeline as a .mid file.
        with page.expect_download() as download:
            page.click("#midi")
        assert download.value.suggested_filename == "progression_chords.mid"
        saved = tmp_path / "chords.mid"
        download.value.save_as(saved)
        assert [s.pitch_classes for s in read_timeline_midi(saved) if s.pitch_classes][:4] == [
            tuple(sorted({p % 12 for p in pitches})) for pitches, _ in PROGRESSION]
        # A long file: the instrument over time, in the model's labels.
        expect(page.locator("#over-time")).to_be_visible()
        assert page.locator("#instrument-svg rect").count() >= 1
        assert set(page.locator("#instrument-legend span").all_text_contents()) <= {
            *labels, "silence"}
        screenshot = tmp_path / "synthmir_web_chords.png"
        page.screenshot(path=str(screenshot), full_page=True)
        shutil.copyfile(screenshot, CHORDS_SCREENSHOT_COPY)
        page.close()
    assert problems == []
