"""The page in a real headless Chromium (Debian's package, driven by Playwright) against a real uvicorn.

No browser is downloaded: Playwright drives /usr/bin/chromium. In CI (CI=true) a missing Chromium or
Playwright fails the test with what to install; elsewhere the test is skipped.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import AD, SAMPLE, SERVED

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}


def _missing(what: str) -> None:
    message = (f"{what} is needed for the browser test: apt-get install -y chromium, and "
               "pip install playwright (no browser download; /usr/bin/chromium is used)")
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright")
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        _missing("Debian's chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.problems = problems
    try:
        yield pg
    finally:
        context.close()


@pytest.mark.parametrize("profile", SERVED)
def test_each_profile_highlights_its_sample(page: Any, server: str, profile: str, tmp_path: Path) -> None:
    page.goto(f"{server}/")
    page.select_option("#profile", profile)
    page.fill("#text", SAMPLE[profile])
    page.click("#submit")
    page.wait_for_selector("#legend li[data-indicator]")
    assert page.locator("#document mark.hit").count() >= 1
    assert page.locator("#legend li[data-indicator]").count() >= 1
    page.screenshot(path=str(tmp_path / f"page-{profile}.png"), full_page=True)
    assert page.problems == []


@pytest.fixture()
def _needs_recruitment() -> None:
    if "recruitment" not in SERVED:
        pytest.skip("the recruitment taxonomy is not shipped")


@pytest.mark.usefixtures("_needs_recruitment")
def test_pasting_an_ad_shows_highlighted_evidence_and_a_legend(page: Any, server: str, tmp_path: Path) -> None:
    page.goto(f"{server}/")
    page.select_option("#profile", "recruitment")
    page.fill("#text", AD)
    page.focus("#submit")
    page.keyboard.press("Enter")  # the keyboard alone is enough
    page.wait_for_selector("#legend li[data-indicator]")

    assert page.is_visible("#result")
    assert "indicators present" in page.inner_text("#verdict").lower()
    assert float(page.inner_text("#score")) > 0
    legend = page.inner_text("#legend")
    assert "RC01" in legend and "RC02" in legend and "Recruitment fees" in legend

    marks = page.locator("#document mark.hit")
    assert marks.count() >= 3
    indicators = set(page.eval_on_selector_all("#document mark.hit", "ms => ms.map(m => m.dataset.indicator)"))
    assert {"RC01", "RC02"} <= indicators
    # The highlighted words are the evidence text (overlapping evidence, such as a model term inside a
    # rule span, splits a mark, so only the start is fixed).
    passport = page.locator('#document mark.hit[data-indicator="RC02"]').first
    assert passport.inner_text().startswith("We keep your")
    title = passport.get_attribute("title") or ""
    assert "Deposit, bond or document handover" in title and "RC02/" in title and "asserted" in title
    assert "source rule" in title
    # Indicators get different colours.
    colours = page.eval_on_selector_all(
        "#document mark.hit:not(.muted)", "ms => ms.map(m => getComputedStyle(m).backgroundColor)")
    assert len(set(colours)) >= 2

    # A negated hit is shown differently: struck through and grey, and says so.
    muted = page.locator("#document mark.muted").first
    assert "line-through" in muted.evaluate("m => getComputedStyle(m).textDecorationLine")
    assert "negated" in (muted.get_attribute("title") or "")

    # Keyboard: tab from the result heading to the first highlight shows its details.
    page.focus("#result-title")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") == "MARK"
    assert page.is_visible("#detail")
    detail = page.inner_text("#detail")
    assert "rule" in detail and "source" in detail
    page.keyboard.press("Escape")
    assert page.is_hidden("#detail")

    shot = tmp_path / "page-desktop.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert page.problems == []  # no script errors, no CSP violations


@pytest.mark.usefixtures("_needs_recruitment")
def test_the_page_is_readable_at_phone_width(browser: Any, server: str, tmp_path: Path) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, device_scale_factor=2)
    try:
        page = context.new_page()
        page.goto(f"{server}/")
        page.fill("#text", AD)
        page.click("#submit")
        page.wait_for_selector("#legend li[data-indicator]")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"page scrolls sideways by {overflow}px at phone width"
        page.screenshot(path=str(tmp_path / "page-phone.png"), full_page=True)
    finally:
        context.close()


@pytest.mark.usefixtures("_needs_recruitment")
def test_uploading_a_file_screens_it(page: Any, server: str, tmp_path: Path) -> None:
    ad = tmp_path / "job-ad.txt"
    ad.write_text(AD, encoding="utf-8")
    page.goto(f"{server}/")
    page.set_input_files("#file", str(ad))
    assert "job-ad.txt" in page.inner_text("#file-hint")
    page.click("#submit")
    page.wait_for_selector("#legend li[data-indicator]")
    assert page.inner_text("#result-id") == "job-ad.txt"
    assert page.locator('#document mark.hit[data-indicator="RC02"]').count() >= 1
    page.screenshot(path=str(tmp_path / "page-upload.png"), full_page=True)
    assert page.problems == []


def test_an_error_is_shown_in_words(page: Any, server: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    page.goto(f"{server}/")
    page.click("#submit")
    assert "Paste some text" in page.inner_text("#status")
    page.set_input_files("#file", str(broken))
    page.click("#submit")
    page.locator("#status", has_text="unreadable_pdf").wait_for()  # (wait_for_function would need unsafe-eval)
    assert page.is_hidden("#result")
