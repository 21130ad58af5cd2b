"""Accessibility: axe-core inside every main page (light and dark), and keyboard-only use."""

import json
import re
import urllib.error
import urllib.request

import pytest
from browser_kit import format_violations, run_axe, wait_htmx_idle
from playwright.sync_api import expect


def _get(server, path):
    with urllib.request.urlopen(server.url + path, timeout=10) as r:
        return json.load(r)


@pytest.fixture(scope="module")
def pages(server) -> list[str]:
    """One URL of each kind of page, found through the JSON API."""
    phases = _get(server, "/api/v1/phases")
    phases = phases["items"] if isinstance(phases, dict) else phases
    slug = phases[0]["slug"]
    phase = _get(server, f"/api/v1/phases/{slug}")
    challenge = phase["challenges"][0]["slug"]
    direction = phase["directions"][0]["slug"]
    paper = _get(server, "/api/v1/papers?per_page=1")["items"][0]["citekey"]
    urls = [
        "/",
        f"/phases/{slug}",
        f"/challenges/{challenge}",
        f"/directions/{direction}",
        "/papers",
        f"/papers?phase={slug}&type=article&sort=title",
        f"/papers/{paper}",
    ]
    # Pages of features that may not be in every build: audited when they exist.
    for extra in ("/search?q=test+oracle", "/lists", "/login", "/insights", "/import"):
        try:
            urllib.request.urlopen(server.url + extra, timeout=10).close()
        except urllib.error.HTTPError:
            continue  # absent (404) or signed-in only (401/403): not audited anonymously
        urls.append(extra)
    return urls


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_or_critical_axe_violations(make_page, pages, axe_source, scheme):
    page = make_page(color_scheme=scheme)
    found = {}
    for url in pages:
        page.goto(url)
        wait_htmx_idle(page)
        if url.startswith("/phases/"):
            # Audit the expanded state too: the fragment lands inside the page.
            page.locator("details.challenge summary").first.click()
            expect(page.locator("details.challenge .expansion-content").first).to_be_visible()
        violations = run_axe(page, axe_source)
        if violations:
            found[url] = violations
    assert not found, format_violations(found)


def test_axe_finds_a_planted_violation(page, axe_source):
    """The audit can fail: an image without alt text and an unlabeled input are caught."""
    page.goto("/")
    page.evaluate(
        """() => {
            const main = document.querySelector('main');
            main.insertAdjacentHTML('beforeend', '<img src="/static/favicon.svg">');
            main.insertAdjacentHTML('beforeend', '<select></select>');
        }"""
    )
    ids = {v["id"] for v in run_axe(page, axe_source)}
    assert {"image-alt", "select-name"} <= ids


def _focus_outline(page) -> str:
    return page.evaluate(
        """() => {
            const s = getComputedStyle(document.activeElement);
            return s.outlineStyle === 'none' ? 'none' : s.outlineStyle + ' ' + s.outlineWidth;
        }"""
    )


def test_skip_link_and_visible_focus(page):
    page.goto("/papers")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0, "the focused skip link is on screen"
    assert _focus_outline(page) != "none"

    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    # The next Tab lands inside the content, past the header navigation.
    page.keyboard.press("Tab")
    inside = page.evaluate("() => !!document.activeElement.closest('main')")
    assert inside

    # Every stop of the first few tabs shows a focus ring.
    page.goto("/")
    for _ in range(6):
        page.keyboard.press("Tab")
        assert _focus_outline(page) != "none", page.evaluate("document.activeElement.outerHTML")


def test_keyboard_only_filtering(page):
    page.goto("/papers")
    first = page.locator("input[name=phase]").first
    first.focus()
    page.keyboard.press("Space")
    expect(page).to_have_url(re.compile(r"phase="))
    wait_htmx_idle(page)
    # After the swap, focus is not lost to <body>: the ticked box (or its replacement) keeps it.
    expect(page.locator("input[name=phase]:checked")).to_have_count(1)
    page.keyboard.press("Space")
    expect(page).not_to_have_url(re.compile(r"phase="))


def test_challenge_expands_from_the_keyboard(page):
    page.goto("/")
    page.locator(".phase-grid .phase-card-link").first.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/phases/"))
    page.locator("details.challenge summary").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("details.challenge").first).to_have_attribute("open", "")
    expect(page.locator("details.challenge .expansion-content").first).to_be_visible()


def test_slash_focuses_the_search_box(page, watcher):
    watcher.expected_status.add(404)
    probe = page.request.get("/search")
    if probe.status == 404:
        pytest.skip("no /search page yet: '/' has no search box to focus")
    page.goto("/papers")
    page.locator("main").click(position={"x": 5, "y": 5})
    page.keyboard.press("/")
    expect(page.locator("[data-search-box]").first).to_be_focused()
