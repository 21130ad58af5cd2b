"""The paper list: two facets, reload, back and forward give the same views; the paper page."""

import re
from urllib.parse import parse_qs, urlsplit

from browser_kit import wait_htmx_idle
from playwright.sync_api import expect

HEADING = re.compile(r"^(\d+) papers?( match(es)?)?$")


def total(page) -> int:
    m = HEADING.match(page.locator("#results-h").inner_text().strip())
    assert m, page.locator("#results-h").inner_text()
    return int(m.group(1))


def params(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def option(page, facet: str, index: int = 0):
    """The index-th option of a facet that still has papers under the current filters."""
    return page.locator(
        f"label.facet-option:not(.empty):has(input[name={facet}]:not(:checked))"
    ).nth(index)


def view(page) -> tuple:
    """What a user sees of the current view: count, ticked boxes, active chips, first titles."""
    wait_htmx_idle(page)
    # Exactly one page: a swap never nests a whole page inside the list.
    expect(page.locator("header.site-header")).to_have_count(1)
    expect(page.locator("h1")).to_have_count(1)
    checked = sorted(
        f"{i.get_attribute('name')}={i.get_attribute('value')}"
        for i in page.locator(".facets input[type=checkbox]:checked").all()
    )
    chips = page.locator(".active-filters .chip-active").all_inner_texts()
    titles = page.locator("ol.paper-list .paper-title").all_inner_texts()[:5]
    return total(page), checked, chips, titles


def test_filter_with_two_facets_then_reload_back_and_forward(page):
    page.goto("/papers")
    everything = view(page)
    assert everything[0] > 25
    assert everything[1] == [] and everything[2] == []

    phase = option(page, "phase")
    phase_value = phase.locator("input").get_attribute("value")
    phase.click()
    expect(page).to_have_url(re.compile(rf"[?&]phase={phase_value}(&|$)"))
    one = view(page)
    assert 0 < one[0] < everything[0]
    assert one[1] == [f"phase={phase_value}"]
    assert len(one[2]) == 1

    # The entry-type facet starts closed: open it and tick a second facet.
    page.locator("details.facet > summary", has_text="Entry type").click()
    kind = option(page, "type")
    kind_value = kind.locator("input").get_attribute("value")
    expected = int(kind.locator(".facet-count").inner_text())
    kind.click()
    expect(page).to_have_url(re.compile(rf"[?&]type={kind_value}(&|$)"))
    two = view(page)
    assert two[0] == expected, "the facet count promised how many papers the filter gives"
    assert two[1] == sorted([f"phase={phase_value}", f"type={kind_value}"])
    assert len(two[2]) == 2
    assert params(page)["phase"] == [phase_value]

    page.reload()
    assert view(page) == two, "a reload reproduces the view from the URL alone"

    page.go_back()
    expect(page).not_to_have_url(re.compile(r"[?&]type="))
    assert view(page) == one
    page.go_back()
    expect(page).to_have_url(re.compile(r"/papers$"))
    assert view(page) == everything
    page.go_forward()
    expect(page).to_have_url(re.compile(rf"[?&]phase={phase_value}"))
    assert view(page) == one
    page.go_forward()
    expect(page).to_have_url(re.compile(rf"[?&]type={kind_value}"))
    assert view(page) == two

    # Removing a filter with its chip, then clearing everything.
    page.locator(".active-filters .chip-active", has_text=kind_value).click()
    expect(page).not_to_have_url(re.compile(r"[?&]type="))
    assert view(page)[0] == one[0]
    page.locator(".active-filters a.clear").click()
    expect(page).to_have_url(re.compile(r"/papers$"))
    assert view(page)[0] == everything[0]


def test_shared_url_opens_the_same_view_in_a_new_browser(page, make_page):
    page.goto("/papers")
    option(page, "phase").click()
    expect(page).to_have_url(re.compile(r"phase="))
    page.locator("select[name=sort]").select_option("title")
    expect(page).to_have_url(re.compile(r"sort=title"))
    seen = view(page)
    titles = seen[3]
    assert titles == sorted(titles, key=str.casefold)

    other = make_page()
    other.goto(page.url)
    assert view(other) == seen


def test_pagination_and_year_bars(page):
    page.goto("/papers")
    n = total(page)
    page.locator("nav.pagination a[rel=next]").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(page.locator("nav.pagination .page-status")).to_have_text(re.compile(r"^Page 2 of"))
    expect(page.locator("ol.paper-list")).to_have_attribute("start", "26")
    bar = page.locator(".year-bars a").first
    year = bar.locator(".y").inner_text()
    count = int(bar.locator(".n").inner_text())
    bar.click()
    expect(page).to_have_url(re.compile(rf"year_from={year}&year_to={year}"))
    assert total(page) == count < n


def test_paper_page_shows_metadata_links_and_copyable_bibtex(page):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/papers")
    row = page.locator("ol.paper-list > li").first
    title = row.locator(".paper-title").inner_text()
    row.locator(".paper-title").click()
    expect(page).to_have_url(re.compile(r"/papers/[^/?]+$"))
    expect(page.locator("h1")).to_have_text(title)
    expect(page.locator(".classification")).to_be_visible()
    for a in page.locator(".paper-links a").all():
        assert re.match(r"https?://", a.get_attribute("href"))
    bib = page.locator(".bibtex-box pre")
    expect(bib).to_contain_text("@")
    page.locator(".bibtex-box button.copy").click()
    expect(page.locator(".bibtex-box button.copy")).to_have_text("Copied")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.strip() == bib.inner_text().strip()
    # The breadcrumb leads back to the list.
    page.locator("nav.breadcrumb a", has_text="Papers").click()
    expect(page).to_have_url(re.compile(r"/papers$"))


def test_unknown_paper_is_a_friendly_404(page, watcher):
    watcher.expected_status.add(404)
    response = page.goto("/papers/no-such-key-2099")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator("a.button", has_text="Back to the phases")).to_be_visible()
