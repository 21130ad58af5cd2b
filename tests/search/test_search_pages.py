"""/search, the q filter on /papers and the JSON API, over the mini survey with its real index."""

import pytest
from bs4 import BeautifulSoup
from sqlmodel import Session

from app.bibtex import parse_bibtex, to_record
from app.services.indexing import sync_papers
from app.services.papers import upsert_paper
from tests.conftest import HX

# Every test here runs against the Whoosh backend and, on PostgreSQL, the PostgreSQL backend.
pytestmark = pytest.mark.usefixtures("backend")


def soup(r):
    assert r.status_code == 200, r.text[:500]
    return BeautifulSoup(r.text, "html.parser")


def hit_ids(page) -> list[str]:
    return [li["data-id"] for li in page.select("li.search-hit")]


def hit_titles(page) -> list[str]:
    return [a.get_text(" ", strip=True) for a in page.select("li.search-hit .hit-title")]


def test_accent_folding_muller_finds_mueller(client):
    page = soup(client.get("/search", params={"q": "Muller"}))
    assert hit_titles(page) == ["Alpha: Stating Goals for Models"]
    marks = [m.get_text() for m in page.select("li.search-hit mark")]
    assert marks == ["Müller"]


def test_stemming_tests_finds_testing(client):
    page = soup(client.get("/search", params={"q": "tests"}))
    assert "A Mini Survey of Testing Things" in hit_titles(page)
    marks = {m.get_text() for m in page.select("li.search-hit .hit-title mark")}
    assert marks == {"Testing"}


def test_kind_filter_and_counts(client):
    page = soup(client.get("/search", params={"q": "flaky"}))
    tabs = {a["data-kind"]: a.select_one(".count").get_text() for a in page.select(".kind-tabs a")}
    assert tabs == {"": "2", "paper": "1", "challenge": "1", "direction": "0"}
    page = soup(client.get("/search", params={"q": "flaky", "kind": "challenge"}))
    assert [li["data-kind"] for li in page.select("li.search-hit")] == ["challenge"]
    assert page.select_one("a.hit-title")["href"] == "/challenges/flaky-oracles"


def test_facets_count_the_hit_set_and_filter(client):
    page = soup(client.get("/search", params={"q": "icse"}))
    assert page.select_one("#search-total")["data-total"] == "2"
    phase = {
        o.select_one("input")["value"]: o.select_one(".facet-count").get_text()
        for o in page.select('[data-facet="phase"] .facet-option')
    }
    assert phase == {"requirements": "1", "data": "1"}
    page = soup(client.get("/search", params={"q": "icse", "phase": "data"}))
    assert hit_titles(page) == ["Gamma: Cleaning Labels at Scale"]
    checked = page.select('[data-facet="phase"] input[checked]')
    assert [i["value"] for i in checked] == ["data"]


def test_year_range_query(client):
    page = soup(client.get("/search", params={"q": "year:2023..2024", "kind": "paper"}))
    assert page.select_one("#search-total")["data-total"] == "4"  # two 2023 + two 2024


def test_htmx_request_gets_only_the_results_fragment(client):
    r = client.get("/search", params={"q": "flaky"}, headers=HX)
    page = soup(r)
    assert page.select_one("header.site-header") is None
    assert page.select("li.search-hit")
    assert r.headers["vary"] == "HX-Request"


def test_live_search_form_is_debounced_and_pushes_url(client):
    page = soup(client.get("/search"))
    form = page.select_one("form#search-form")
    assert form["action"] == "/search" and form["hx-push-url"] == "true"
    assert "delay:" in form["hx-trigger"]
    assert page.select_one("header [data-search-box]")["name"] == "q"
    assert page.select_one('nav a[href="/search"]')["aria-current"] == "page"


def test_bad_query_gets_a_notice_never_a_500(client):
    for q in ['"oracles', "((", "title:", "foo:bar baz", "AND", "year:[2020 TO", "*", "-"]:
        r = client.get("/search", params={"q": q})
        assert r.status_code == 200, q
    page = soup(client.get("/search", params={"q": '"flaky oracles'}))
    assert "plain words" in page.select_one("[data-search-notice]").get_text()
    assert hit_titles(page)


def test_did_you_mean(client):
    page = soup(client.get("/search", params={"q": "oracels"}))
    link = page.select_one("[data-suggestion] a")
    assert link.get_text(strip=True) == "oracles"
    # no hit for the typo: the suggestion's hits are shown, and the page says so
    assert "Showing results for" in page.select_one("[data-search-notice]").get_text()
    assert hit_titles(page)


def test_highlights_escape_html_and_mark_only_matched_words(client, engine):
    bib = (
        "@misc{xss2024, title = {Prompt <script>alert(1)</script> injection attacks}, "
        "author = {Eve, Mallory}, year = {2024}, "
        "abstract = {Attackers inject <b>markup</b> into prompts to subvert agents.}}"
    )
    entry = parse_bibtex(bib).entries[0]
    with Session(engine) as s:
        paper, _ = upsert_paper(s, to_record(entry))
        s.commit()
        pid = paper.id
    index = client.app.state.index
    with Session(engine) as s:
        assert sync_papers(s, index, [pid])
    page = soup(client.get("/search", params={"q": "injection markup"}))
    hit = page.select_one("li.search-hit")
    assert hit.select("script") == [] and hit.select("b") == []
    # only the matched words (and their stem variants) are marked
    assert [m.get_text() for m in hit.select("mark")] == ["injection", "inject", "markup"]
    assert "<script>" in hit.select_one(".hit-title").get_text()


def test_pagination(client):
    page = soup(client.get("/search", params={"q": "year:2020..2025", "per_page": "2"}))
    assert len(page.select("li.search-hit")) == 2
    nxt = page.select_one('.pagination a[rel="next"]')
    assert "page=2" in nxt["href"]
    page2 = soup(client.get(nxt["href"]))
    assert set(hit_ids(page2)).isdisjoint(hit_ids(page))


def test_papers_page_q_filter_with_facets(client):
    page = soup(client.get("/papers", params={"q": "icse"}))
    titles = [a.get_text(strip=True) for a in page.select("a.paper-title")]
    assert sorted(titles) == [
        "Beta: Workshops with Stakeholders",
        "Gamma: Cleaning Labels at Scale",
    ]
    assert page.select_one("input#papers-q")["value"] == "icse"
    page = soup(client.get("/papers", params={"q": "icse", "phase": "data"}))
    assert [a.get_text(strip=True) for a in page.select("a.paper-title")] == [
        "Gamma: Cleaning Labels at Scale"
    ]


def test_api_papers_q_and_search_shape(client):
    body = client.get("/api/v1/papers", params={"q": "Muller"}).json()
    assert [p["citekey"] for p in body["items"]] == ["alpha2022"]
    body = client.get("/api/v1/search", params={"q": "oracle", "kind": "paper"}).json()
    assert body["total"] == 1
    item = body["items"][0]
    assert item["kind"] == "paper" and item["citekey"] == "delta2024"
    assert item["score"] > 0 and "<mark>" in item["highlights"]["title"]
    assert {"items", "total", "page", "per_page", "facets", "suggestion"} <= body.keys()
    body = client.get("/api/v1/search", params={"q": "oracels"}).json()
    assert body["suggestion"] == "oracles"
    assert client.get("/api/v1/search", params={"q": '"(('}).status_code == 200


def test_related_papers_on_the_paper_page(client):
    page = soup(client.get("/papers/delta2024"))
    related = [a["href"] for a in page.select("[data-related] a")]
    assert "/papers/alpha2022" in related  # shares "models" in the title
    assert "/papers/delta2024" not in related
