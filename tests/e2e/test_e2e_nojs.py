"""The same flows with JavaScript disabled: links and forms alone must carry the user."""

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect


def test_nojs_home_phase_challenge_paper(nojs_page):
    page = nojs_page
    page.goto("/")
    expect(page.locator(".phase-grid > li")).to_have_count(6)
    page.locator(".phase-grid > li .phase-card-link").nth(1).click()
    expect(page).to_have_url(re.compile(r"/phases/[\w-]+$"))
    phase_url = page.url

    # <details> opens natively; without htmx the expansion offers a link to the challenge page.
    details = page.locator("details.challenge").first
    title = details.locator(".item-title").inner_text()
    details.locator("summary").click()
    link = details.locator(".expansion a", has_text="Papers on this challenge")
    expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(re.compile(r"/challenges/[\w-]+$"))
    expect(page.locator("h1")).to_have_text(title)
    expect(page.locator(".expansion-content h2", has_text="Papers")).to_be_visible()

    page.go_back()
    expect(page).to_have_url(phase_url)


def test_nojs_filter_form_apply_reload_back(nojs_page):
    page = nojs_page
    page.goto("/papers")
    apply = page.locator("button[type=submit]:visible", has_text="Apply filters")
    expect(apply).to_have_count(1)
    first = page.locator("#results-h").inner_text()

    page.locator("label.facet-option:has(input[name=phase])").first.click()
    page.locator("details.facet > summary", has_text="Entry type").click()
    page.locator("label.facet-option:not(.empty):has(input[name=type])").first.click()
    apply.click()
    expect(page).to_have_url(re.compile(r"phase=.*type=|type=.*phase="))
    q = parse_qs(urlsplit(page.url).query)
    assert len(q["phase"]) == 1 and len(q["type"]) == 1
    filtered = page.locator("#results-h").inner_text()
    assert filtered != first and "match" in filtered
    expect(page.locator(".active-filters .chip-active")).to_have_count(2)

    page.reload()
    expect(page.locator("#results-h")).to_have_text(filtered)
    expect(page.locator(".facets input:checked")).to_have_count(2)

    # Chips are plain links too.
    page.locator(".active-filters .chip-active").first.click()
    expect(page.locator(".active-filters .chip-active")).to_have_count(1)
    page.go_back()
    expect(page.locator("#results-h")).to_have_text(filtered)


def test_nojs_paper_page_and_pagination(nojs_page):
    page = nojs_page
    page.goto("/papers")
    page.locator("nav.pagination a[rel=next]").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    row = page.locator("ol.paper-list .paper-title").first
    title = row.inner_text()
    row.click()
    expect(page.locator("h1")).to_have_text(title)
    expect(page.locator(".bibtex-box pre")).to_contain_text("@")
