"""Browse by phase: home -> phase -> a challenge expanded in place -> a paper."""

import re

from browser_kit import wait_htmx_idle
from playwright.sync_api import expect


def test_home_lists_the_six_phases_and_reaches_a_phase(page):
    page.goto("/")
    expect(page).to_have_title(re.compile("Software Engineering for Large Language Models"))
    cards = page.locator(".phase-grid > li")
    expect(cards).to_have_count(6)
    first = cards.first.locator(".phase-name")
    name = first.inner_text().strip()

    first.click()

    expect(page).to_have_url(re.compile(r"/phases/[\w-]+$"))
    expect(page.locator("h1")).to_have_text(name)
    expect(page.locator("nav.breadcrumb a", has_text="Phases")).to_be_visible()
    # hx-boost swapped the body: the page still has exactly one header and one <main>.
    expect(page.locator("header.site-header")).to_have_count(1)
    expect(page.locator("main")).to_have_count(1)
    expect(page).to_have_title(re.compile(re.escape(name)))

    page.go_back()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator(".phase-grid > li")).to_have_count(6)


def test_phase_year_cell_opens_the_matching_paper_list(page):
    page.goto("/")
    cell = page.locator("table.matrix tbody td:not(.zero):not(.total) a").first
    label = cell.get_attribute("aria-label")  # "N <phase> papers from YYYY"
    n = int(label.split()[0])
    cell.click()
    expect(page).to_have_url(re.compile(r"/papers\?phase=[\w-]+&year_from=\d{4}&year_to=\d{4}"))
    expect(page.locator("#results-h")).to_have_text(re.compile(rf"^{n} papers? match"))
    expect(page.locator("ol.paper-list > li")).to_have_count(min(n, 25))


def _challenge_with_papers(page):
    """A challenge on this phase page whose summary says it has papers."""
    for details in page.locator("details.challenge").all():
        count = details.locator("summary .count").inner_text()
        if int(count.split()[0]) > 0:
            return details, int(count.split()[0])
    raise AssertionError("no challenge with papers on this phase page")


def test_challenge_expands_in_place_with_its_papers_and_directions(page):
    page.goto("/")
    page.locator(".phase-grid > li .phase-card-link").first.click()
    expect(page).to_have_url(re.compile(r"/phases/"))
    url = page.url
    details, n = _challenge_with_papers(page)
    title = details.locator(".item-title").inner_text()
    expect(details.locator(".expansion-content")).to_have_count(0)

    with page.expect_response(re.compile(r"/challenges/[\w-]+$")) as resp:
        details.locator("summary").click()
    assert resp.value.request.headers.get("hx-request") == "true"
    wait_htmx_idle(page)

    body = details.locator(".expansion-content")
    expect(body).to_be_visible()
    expect(body.locator("h2", has_text="Papers")).to_have_text(f"Papers ({n})")
    expect(body.locator(".paper-row")).to_have_count(min(n, 25))
    expect(body.locator("h2", has_text="Directions that address it")).to_be_visible()
    # Only the fragment arrived: no page chrome nested inside the challenge.
    expect(details.locator("header, footer, h1")).to_have_count(0)
    assert page.url == url, "expanding a challenge must not navigate"

    # Collapsing and re-opening does not fetch again (hx-trigger ... once).
    requests = []
    page.on("request", lambda r: requests.append(r.url) if "/challenges/" in r.url else None)
    details.locator("summary").click()
    expect(details).not_to_have_attribute("open", "")
    details.locator("summary").click()
    expect(body).to_be_visible()
    assert requests == []

    # A paper in the expansion leads to its page.
    link = body.locator(".paper-title").first
    paper_title = link.inner_text()
    link.click()
    expect(page).to_have_url(re.compile(r"/papers/[^/?]+$"))
    expect(page.locator("h1")).to_have_text(paper_title)
    page.go_back()
    expect(page).to_have_url(url)
    expect(page.locator("details.challenge .item-title", has_text=title).first).to_be_visible()


def test_phase_pager_walks_the_lifecycle(page):
    page.goto("/")
    page.locator(".phase-grid > li .phase-card-link").first.click()
    seen = [page.locator("h1").inner_text()]
    for _ in range(5):
        page.locator("nav.pager a[rel=next]").click()
        expect(page.locator("h1")).not_to_have_text(seen[-1])
        seen.append(page.locator("h1").inner_text())
    expect(page.locator("nav.pager a[rel=next]")).to_have_count(0)
    assert len(set(seen)) == 6
