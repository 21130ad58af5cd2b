"""HTML pages and their HTMX fragments, asserted with selectors over the hand-counted survey."""

import pytest
from bs4 import BeautifulSoup

from tests.conftest import HX


def soup(resp) -> BeautifulSoup:
    return BeautifulSoup(resp.text, "html.parser")


def texts(nodes) -> list[str]:
    return [" ".join(n.get_text(" ", strip=True).split()) for n in nodes]


def test_home_lists_phases_in_order_with_counts(client):
    r = client.get("/")
    assert r.status_code == 200
    s = soup(r)
    cards = s.select(".phase-card")
    assert texts(c.select_one(".phase-name") for c in cards) == [
        "Requirements engineering",
        "Dataset construction",
        "Testing and evaluation",
    ]
    req = cards[0].select(".counts li")
    assert texts(req) == ["2 challenges", "2 directions", "4 papers"]
    assert cards[0].select_one(".counts a[href='/papers?phase=requirements']")


def test_home_phase_year_table_links_to_filtered_lists(client):
    s = soup(client.get("/"))
    head = texts(s.select("table.matrix thead th"))
    assert head == ["Phase", "2021", "2022", "2023", "2024", "All years"]
    rows = {texts(tr.select("th"))[0]: texts(tr.select("td")) for tr in s.select("tbody tr")}
    assert rows["Requirements engineering"] == ["1", "1", "1", "1", "4"]
    assert rows["Dataset construction"] == ["1", "·", "1", "2", "4"]
    assert rows["Testing and evaluation"] == ["·", "·", "·", "2", "2"]
    link = s.select_one("a[href='/papers?phase=data&year_from=2024&year_to=2024']")
    assert link is not None and link.get_text() == "2"
    # The link's target shows exactly those papers.
    r = client.get("/papers?phase=data&year_from=2024&year_to=2024")
    titles = texts(soup(r).select(".paper-list .paper-title"))
    assert sorted(titles) == [
        "A Mini Survey of Testing Things",
        "Delta: Flaky Oracles for Language Models",
    ]


def test_empty_database_home_explains_how_to_load(settings):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(settings)) as c:
        s = soup(c.get("/"))
    assert "No survey loaded yet" in s.select_one("h1").get_text()
    assert "load-survey" in s.select_one(".empty-state").get_text()


def test_phase_page_shows_challenges_directions_and_badges(client):
    r = client.get("/phases/requirements")
    s = soup(r)
    assert s.select_one("h1").get_text(strip=True) == "Requirements engineering"
    challenges = s.select("#challenges details.challenge")
    assert [c["id"] for c in challenges] == ["challenge-vague-goals", "challenge-conflicting-needs"]
    assert texts(challenges[0].select(".badge")) == ["survey"]
    assert texts(challenges[1].select(".badge")) == ["editorial"]
    assert texts(challenges[0].select(".count")) == ["2 papers"]
    # expands in place: the body asks htmx for the challenge's fragment when opened
    exp = challenges[0].select_one(".expansion")
    assert exp["hx-get"] == "/challenges/vague-goals"
    assert "toggle" in exp["hx-trigger"]
    # ...and works without JavaScript through a plain link
    assert exp.select_one("a[href='/challenges/vague-goals']")
    dirs = s.select("#directions article.direction")
    assert texts(d.select_one("h3 a") for d in dirs) == ["Goal templates", "Stakeholder workshops"]
    addressed = texts(dirs[1].select(".item-foot .chip-challenge"))
    assert addressed == ["Vague goals", "Conflicting needs"] or addressed == [
        "Conflicting needs",
        "Vague goals",
    ]


def test_challenge_fragment_and_full_page(client):
    full = client.get("/challenges/vague-goals")
    assert full.headers["vary"] == "HX-Request"
    fs = soup(full)
    assert fs.select_one("html") and fs.select_one("h1").get_text(strip=True) == "Vague goals"
    frag = client.get("/challenges/vague-goals", headers=HX)
    assert frag.headers["vary"] == "HX-Request"
    assert "<html" not in frag.text
    s = soup(frag)
    assert sorted(texts(s.select(".paper-title"))) == [
        "Alpha: Stating Goals for Models",
        "Beta: Workshops with Stakeholders",
    ]
    assert sorted(texts(s.select(".link-list a"))) == ["Goal templates", "Stakeholder workshops"]


def test_direction_page_lists_addressed_challenges_and_papers(client):
    s = soup(client.get("/directions/stakeholder-workshops"))
    assert sorted(texts(s.select(".link-list a"))) == ["Conflicting needs", "Vague goals"]
    assert texts(s.select(".paper-title")) == ["Beta: Workshops with Stakeholders"]
    assert s.select_one(".badge-editorial")


def test_boosted_and_history_restore_requests_get_full_pages(client):
    for extra in ({"HX-Boosted": "true"}, {"HX-History-Restore-Request": "true"}):
        r = client.get("/papers?phase=data", headers={**HX, **extra})
        assert "<html" in r.text and r.headers["vary"] == "HX-Request"


@pytest.mark.parametrize(
    "url, block_marker",
    [
        ("/", ".phase-card"),
        ("/phases/data", "#challenges"),
        ("/directions/label-audits", ".expansion-content"),
        ("/papers", "#results-h"),
        ("/papers/alpha2022", ".bibtex-box"),
    ],
)
def test_every_page_has_a_fragment_form(client, url, block_marker):
    full = client.get(url)
    frag = client.get(url, headers=HX)
    assert full.status_code == frag.status_code == 200
    assert "<html" in full.text and "<html" not in frag.text
    assert soup(frag).select_one(block_marker) is not None
    assert full.headers["vary"] == frag.headers["vary"] == "HX-Request"


def test_paper_page_shows_metadata_links_and_bibtex(client):
    s = soup(client.get("/papers/alpha2022"))
    assert s.select_one("h1").get_text(strip=True) == "Alpha: Stating Goals for Models"
    assert s.select_one(".byline").get_text(strip=True) == "Jörg Müller, Jane Smith"
    assert s.select_one("a[href='https://doi.org/10.1109/ms.2022.1']")
    assert texts(s.select(".classification .chip")) == ["Requirements engineering"]
    assert texts(s.select(".classification .challenge-links a")) == ["Vague goals"]
    assert texts(s.select(".classification .direction-links a")) == ["Goal templates"]
    pre = s.select_one(".bibtex-box pre")
    assert pre.get_text().startswith("@article{alpha2022,")
    # the knowledge base's own link fields are not part of the entry users copy
    assert "phases" not in pre.get_text() and "challenges =" not in pre.get_text()
    assert (
        pre.get_text().rstrip().endswith("}") and "abstract = {We study goals.}" in pre.get_text()
    )
    btn = s.select_one(".bibtex-box button.copy")
    assert btn["data-copy-target"] == pre["id"]


def test_paper_page_arxiv_link_for_eprint(client):
    s = soup(client.get("/papers/mini2024survey"))
    assert s.select_one("a[href='https://arxiv.org/abs/2401.00001']")


@pytest.mark.parametrize("url", ["/papers/nope", "/phases/nope", "/challenges/x", "/no/such/page"])
def test_not_found_pages_are_styled(client, url):
    r = client.get(url)
    assert r.status_code == 404
    s = soup(r)
    assert s.select_one(".error-page .error-code").get_text() == "404"
    assert s.select_one("header.site-header")  # the site's own layout, not a bare error


def test_junk_query_parameters_never_500(client):
    for q in ["page=abc", "page=-4", "per_page=100000", "year_from=20x", "sort=evil", "page=99"]:
        r = client.get(f"/papers?{q}")
        assert r.status_code == 200, q
