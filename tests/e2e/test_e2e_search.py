"""Search: type, see highlighted live results, follow one; the URL reproduces the view."""

import re

import pytest
from browser_kit import wait_htmx_idle
from playwright.sync_api import expect


@pytest.fixture(autouse=True)
def _needs_search(page, watcher):
    watcher.expected_status.add(404)
    if page.request.get("/search").status == 404:
        pytest.skip("no /search page in this build")
    watcher.expected_status.discard(404)


def test_live_search_highlights_and_history(page):
    page.goto("/")
    page.keyboard.press("/")
    box = page.locator("[data-search-box]").first
    expect(box).to_be_focused()
    box.fill("test")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=test"))
    expect(page.locator(".search-hit").first).to_be_visible()

    # Typing in the search page's own box updates the results without a page load.
    q = page.locator("#search-q")
    marker = page.evaluate("() => (window.__same_page = Math.random())")
    q.fill("")
    q.press_sequentially("hallucination", delay=30)
    expect(page).to_have_url(re.compile(r"q=hallucination"))
    wait_htmx_idle(page)
    assert page.evaluate("() => window.__same_page") == marker, "results swapped in place"
    expect(page.locator("#search-total")).to_contain_text("hallucination")
    marks = page.locator(".search-hit mark")
    expect(marks.first).to_be_visible()
    for text in marks.all_inner_texts()[:10]:
        assert text.lower().startswith("hallucinat"), text

    hit = page.locator(".search-hit[data-kind=paper] a.hit-title").first
    title = hit.inner_text()
    hit.click()
    expect(page).to_have_url(re.compile(r"/papers/"))
    expect(page.locator("h1")).to_have_text(title)
    page.go_back()
    expect(page).to_have_url(re.compile(r"q=hallucination"))
    expect(page.locator("#search-q")).to_have_value("hallucination")
    expect(page.locator(".search-hit mark").first).to_be_visible()


def test_bad_query_is_a_helpful_message_not_an_error(page):
    page.goto("/search?q=title%3A%22unclosed")
    expect(page.locator("h1")).to_have_text("Search")
    expect(page.locator("#search-results")).to_be_visible()


def test_nojs_search_form(nojs_page):
    page = nojs_page
    page.goto("/search")
    page.locator("#search-q").fill("benchmark")
    page.locator("#search-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"q=benchmark"))
    expect(page.locator(".search-hit mark").first).to_be_visible()
