"""Full-page screenshots of the main pages into docs/screenshots/ (`make screenshots`).

Each shot also checks what a reader would notice at a glance: nothing wider than the window
(long titles and author lists wrap), and the page is not blank.
"""

import pytest
from browser_kit import PHONE, assert_no_horizontal_overflow, save_screenshot, wait_htmx_idle
from playwright.sync_api import expect

FILTERED = "/papers?phase=evaluation&type=inproceedings"


def _shoot(page, url: str, name: str, prepare=None) -> None:
    page.goto(url)
    wait_htmx_idle(page)
    if prepare:
        prepare(page)
        wait_htmx_idle(page)
    expect(page.locator("main h1").first).to_be_visible()
    page.evaluate("() => document.fonts.ready")
    assert_no_horizontal_overflow(page)
    save_screenshot(page, name)


def _expand_first_challenge(page) -> None:
    page.locator("details.challenge summary").first.click()
    expect(page.locator("details.challenge .expansion-content").first).to_be_visible()


def _first_paper_url(page) -> str:
    page.goto(FILTERED)
    return page.locator("ol.paper-list .paper-title").first.get_attribute("href")


@pytest.mark.parametrize(
    "variant,context_args",
    [
        ("", {}),
        ("-dark", {"color_scheme": "dark"}),
        ("-390", {"viewport": PHONE, "is_mobile": True, "has_touch": True}),
    ],
)
def test_screenshots_of_the_main_pages(make_page, variant, context_args):
    page = make_page(**context_args)
    _shoot(page, "/", f"home{variant}")
    _shoot(page, FILTERED, f"papers-filtered{variant}")
    _shoot(page, "/phases/evaluation", f"phase{variant}", _expand_first_challenge)
    _shoot(page, _first_paper_url(page), f"paper{variant}")
    if page.request.get("/search?q=hallucination").ok:
        _shoot(page, "/search?q=hallucination", f"search{variant}")
