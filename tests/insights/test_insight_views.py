"""Insight views against hand counts on the mini survey (tests/fixtures/mini).

Mini survey, accepted links only:
  requirements: mini2024survey, alpha2022, beta2023, epsilon2021      (4 papers)
  data:         mini2024survey, gamma2023, delta2024, epsilon2021     (4 papers)
  evaluation:   mini2024survey, delta2024                             (2 papers)
  vague-goals: alpha, beta · conflicting-needs: beta · noisy-labels: gamma, delta
  flaky-oracles: delta
"""

import csv
import io
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select
from sqlmodel import Session

from app.db import make_engine, session_scope
from app.models import Challenge, Paper, PaperChallenge, Phase
from app.services.insights import safe_cell, to_csv

SVG_NS = "{http://www.w3.org/2000/svg}"


def soup(r):
    assert r.status_code == 200, r.text[:500]
    return BeautifulSoup(r.text, "html.parser")


def api_total(client, href: str) -> int:
    """How many papers the /papers list behind a link holds (same filters via the JSON API)."""
    parts = urlsplit(href)
    assert parts.path == "/papers", href
    return client.get(f"/api/v1/papers?{parts.query}&per_page=1").json()["total"]


def matrix_counts(page) -> dict:
    out = {}
    for tr in page.select("#matrix-table tbody tr[data-challenge]"):
        for td in tr.select("td[data-phase]"):
            out[(tr["data-challenge"], td["data-phase"])] = int(td.a.get_text())
    return out


HAND_MATRIX = {
    ("vague-goals", "requirements"): 2,
    ("vague-goals", "data"): 0,
    ("vague-goals", "evaluation"): 0,
    ("conflicting-needs", "requirements"): 1,
    ("conflicting-needs", "data"): 0,
    ("conflicting-needs", "evaluation"): 0,
    ("noisy-labels", "requirements"): 0,
    ("noisy-labels", "data"): 2,  # gamma2023, delta2024
    ("noisy-labels", "evaluation"): 1,  # delta2024 is also an evaluation paper
    ("flaky-oracles", "requirements"): 0,
    ("flaky-oracles", "data"): 1,
    ("flaky-oracles", "evaluation"): 1,
}


def test_matrix_table_matches_hand_counts(client):
    page = soup(client.get("/insights/matrix"))
    assert matrix_counts(page) == HAND_MATRIX
    # rows grouped by phase, in lifecycle order
    groups = [th.get_text(strip=True) for th in page.select("#matrix-table tr.group th")]
    assert groups == ["Requirements engineering", "Dataset construction", "Testing and evaluation"]
    foot = [td.get_text(strip=True) for td in page.select("#matrix-table tfoot td[data-phase]")]
    assert foot == ["4", "4", "2"]
    assert page.select_one(".gap-count").get_text() == "0"


def test_every_matrix_link_lists_exactly_its_papers(client):
    page = soup(client.get("/insights/matrix"))
    cells = page.select("#matrix-table tbody td[data-phase] a")
    assert len(cells) == 12
    for a in cells:
        assert api_total(client, a["href"]) == int(a.get_text())
    svg_cells = page.select("svg.insight-chart a.cell")
    assert len(svg_cells) == 12
    assert {a["href"] for a in svg_cells} == {a["href"] for a in cells}


def test_matrix_svg_is_accessible(client):
    """Inline, the chart is a named group of links (role=img would hide its links from
    assistive technology: axe 'nested-interactive'); each link is named by its <title>.
    The downloaded file, shown as a picture, is role=img."""
    page = soup(client.get("/insights/matrix"))
    svg = page.select_one("figure svg.insight-chart")
    assert svg["role"] == "group"
    ids = svg["aria-labelledby"].split()
    assert svg.select_one(f"#{ids[0]}").name == "title"
    assert "4 challenges" in svg.select_one(f"#{ids[1]}").get_text()
    names = [a.find("title").get_text() for a in svg.select("a")]
    assert "Noisy labels × Testing and evaluation: 1 paper" in names


def _add_challenge_without_papers(settings):
    eng = make_engine(settings.database_url)
    with session_scope(eng) as s:
        phase = s.exec(select(Phase).where(Phase.slug == "evaluation")).scalars().one()
        s.add(
            Challenge(
                survey_id=phase.survey_id,
                phase_id=phase.id,
                slug="unstudied",
                title="Nobody studies this",
                position=5,
            )
        )
    eng.dispose()


def test_empty_own_phase_cell_is_an_open_gap(client, settings):
    _add_challenge_without_papers(settings)
    page = soup(client.get("/insights/matrix"))
    assert page.select_one(".gap-count").get_text() == "1"
    row = page.select_one("#matrix-table tr[data-challenge=unstudied]")
    gap_cells = row.select("td.gap")
    assert [td["data-phase"] for td in gap_cells] == ["evaluation"]
    assert gap_cells[0].select_one(".gap-mark")
    # the other challenges' empty off-phase cells are not gaps
    assert len(page.select("#matrix-table td.gap")) == 1
    assert len(page.select("svg a.cell.gap")) == 1


def test_suggested_links_are_not_counted(client, settings):
    eng = make_engine(settings.database_url)
    with session_scope(eng) as s:
        paper = s.exec(select(Paper).where(Paper.citekey == "epsilon2021")).scalars().one()
        ch = s.exec(select(Challenge).where(Challenge.slug == "vague-goals")).scalars().one()
        s.add(PaperChallenge(paper_id=paper.id, challenge_id=ch.id, origin="suggested", score=0.9))
    eng.dispose()
    assert matrix_counts(soup(client.get("/insights/matrix"))) == HAND_MATRIX


def test_years_stacked_by_phase(client):
    page = soup(client.get("/insights/years"))
    table = {}
    for tr in page.select("#bars-table tbody tr"):
        table[tr["data-key"]] = {
            td["data-phase"]: int(td.a.get_text()) for td in tr.select("td[data-phase]")
        } | {"papers": int(tr.select_one("td.total").get_text())}
    assert table == {
        "2021": {"requirements": 1, "data": 1, "evaluation": 0, "papers": 1},
        "2022": {"requirements": 1, "data": 0, "evaluation": 0, "papers": 1},
        "2023": {"requirements": 1, "data": 1, "evaluation": 0, "papers": 2},
        "2024": {"requirements": 1, "data": 2, "evaluation": 2, "papers": 2},
    }
    for a in page.select("#bars-table td a"):
        assert api_total(client, a["href"]) == int(a.get_text())
    # one SVG segment per non-empty cell, each a link to the same filtered list
    segs = page.select("svg.insight-chart a.bar")
    assert len(segs) == 8  # non-empty (year, phase) cells
    assert {a["href"] for a in segs} <= {a["href"] for a in page.select("#bars-table td a")}


def test_venues_top_n(client):
    page = soup(client.get("/insights/venues"))
    rows = {
        tr["data-key"]: int(tr.select_one("td.total").get_text())
        for tr in page.select("#bars-table tbody tr")
    }
    assert rows == {"ICSE": 2, "IEEE Software": 2, "arXiv": 1}
    ieee = page.select_one('#bars-table tr[data-key="IEEE Software"]')
    assert [int(td.get_text()) for td in ieee.select("td[data-phase]")] == [1, 1, 1]
    for a in page.select("#bars-table td a"):
        assert api_total(client, a["href"]) == int(a.get_text())
    one = soup(client.get("/insights/venues?top=1"))
    assert len(one.select("#bars-table tbody tr")) == 1
    assert "3 more papers in other venues" in one.select_one("figcaption").get_text()
    assert soup(client.get("/insights/venues?top=junk")).select("#bars-table tbody tr")


def test_traceability_of_a_phase(client):
    page = soup(client.get("/insights/trace/requirements"))
    links = {
        (tr["data-challenge"], tr["data-direction"]): [
            int(td.get_text()) for td in tr.select("td") if td.a and td.a.get_text().isdigit()
        ]
        for tr in page.select("#trace-table tr[data-challenge][data-direction]")
    }
    # [challenge papers, direction papers, papers on both]
    assert links == {
        ("vague-goals", "goal-templates"): [2, 1, 1],
        ("vague-goals", "stakeholder-workshops"): [2, 1, 1],
        ("conflicting-needs", "stakeholder-workshops"): [1, 1, 1],
    }
    svg = page.select_one("svg.insight-chart")
    assert len(svg.select("a.link path")) == 3
    assert len(svg.select("a.challenge")) == 2 and len(svg.select("a.direction")) == 2
    for a in page.select('#trace-table td a[href^="/papers"]'):
        assert api_total(client, a["href"]) == int(a.get_text())


def test_traceability_lists_unlinked_items_and_picks_phases(client):
    page = soup(client.get("/insights/trace/evaluation"))
    rows = page.select("#trace-table tr.unlinked")
    assert [r["data-challenge"] for r in rows] == ["flaky-oracles"]
    r = client.get("/insights/trace?phase=data", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/insights/trace/data"
    r = client.get("/insights/trace?phase=<x>", follow_redirects=False)
    assert r.headers["location"] == "/insights/trace/requirements"
    assert client.get("/insights/trace/nope").status_code == 404


@pytest.mark.parametrize(
    "url",
    ["/insights/matrix", "/insights/years", "/insights/venues", "/insights/trace/requirements"],
)
def test_svg_export_is_a_standalone_image(client, url):
    r = client.get(f"{url}{'&' if '?' in url else '?'}format=svg")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("image/svg+xml")
    assert "attachment" in r.headers["content-disposition"]
    root = ET.fromstring(r.content)
    assert root.tag == f"{SVG_NS}svg" and root.get("role") == "img"
    assert root.find(f"{SVG_NS}title").text
    assert root.findall(f".//{SVG_NS}a")
    page = soup(client.get(url))
    assert page.select_one(f'a[data-format=svg][href="{url}?format=svg"]') or page.select_one(
        "a[data-format=svg]"
    )


def test_csv_exports(client):
    r = client.get("/insights/matrix?format=csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == [
        "phase",
        "challenge",
        "challenge_slug",
        "Requirements engineering",
        "Dataset construction",
        "Testing and evaluation",
        "papers",
    ]
    assert rows[3] == ["Dataset construction", "Noisy labels", "noisy-labels", "0", "2", "1", "2"]
    years = list(csv.reader(io.StringIO(client.get("/insights/years?format=csv").text)))
    assert years[-1] == ["2024", "1", "2", "2", "2"]
    trace = list(
        csv.reader(io.StringIO(client.get("/insights/trace/requirements?format=csv").text))
    )
    assert trace[1] == ["Vague goals", "2", "Goal templates", "1", "1"]
    venues = list(csv.reader(io.StringIO(client.get("/insights/venues?format=csv").text)))
    assert [r[0] for r in venues[1:]] == ["ICSE", "IEEE Software", "arXiv"]


def test_csv_cells_are_neutralised_against_formulas(client, settings):
    eng = make_engine(settings.database_url)
    with Session(eng) as s:
        ch = s.exec(select(Challenge).where(Challenge.slug == "vague-goals")).scalars().one()
        ch.title = '=HYPERLINK("http://evil","x")'
        s.add(ch)
        s.commit()
    eng.dispose()
    rows = list(csv.reader(io.StringIO(client.get("/insights/matrix?format=csv").text)))
    assert rows[1][1] == '\'=HYPERLINK("http://evil","x")'
    for bad in ("=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(bad) == "'" + bad
    assert safe_cell(-3) == "-3" and safe_cell("a=b") == "a=b"
    assert to_csv([["-x", 1]]) == "'-x,1\r\n"


def test_insights_are_linked_from_nav_home_and_phase_pages(client):
    home = soup(client.get("/"))
    assert home.select_one('nav[aria-label=Main] a[href="/insights"]')
    assert home.select_one('main a[href="/insights/matrix"]')
    phase = soup(client.get("/phases/data"))
    assert phase.select_one('main a[href="/insights/trace/data"]')
    index = soup(client.get("/insights"))
    assert len(index.select('a[href^="/insights/trace/"]')) == 3
    assert index.select_one('nav[aria-label=Main] a[aria-current="page"]')["href"] == "/insights"
