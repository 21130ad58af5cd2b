"""The Export menu on every list view carries exactly the current view."""

import csv
import io
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup

FORMATS = ["bibtex", "biblatex", "csljson", "ris", "csv", "markdown"]


def menu_links(html):
    soup = BeautifulSoup(html, "html.parser")
    menus = soup.select("details.export-menu")
    assert len(menus) == 1
    return {a["data-format"]: a["href"] for a in menus[0].select("a[data-format]")}


def keys_of_csv(client, href):
    r = client.get(href)
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    return [row["citekey"] for row in csv.DictReader(io.StringIO(r.text, newline=""))]


@pytest.mark.parametrize(
    "query",
    ["", "phase=data&year_from=2023", "venue=ICSE&challenge=vague-goals", "sort=title&type=misc"],
)
def test_papers_menu_links_carry_the_filters(client, query):
    links = menu_links(client.get(f"/papers?{query}").text)
    assert sorted(links) == sorted(FORMATS)
    want = {k: v for k, v in parse_qs(query).items()}
    for fmt, href in links.items():
        got = parse_qs(urlsplit(href).query)
        assert got.pop("format") == [fmt]
        assert got == want
    soup = BeautifulSoup(client.get(f"/papers?{query}&per_page=200").text, "html.parser")
    shown = [a["href"].rsplit("/", 1)[1] for a in soup.select(".paper-list a.paper-title")]
    assert keys_of_csv(client, links["csv"]) == shown


def test_menu_survives_htmx_fragment(client):
    html = client.get("/papers?phase=data", headers={"HX-Request": "true"}).text
    assert parse_qs(urlsplit(menu_links(html)["ris"]).query)["phase"] == ["data"]


@pytest.mark.parametrize(
    "path,param,n",
    [
        ("/phases/data", {"phase": ["data"]}, 4),
        ("/challenges/noisy-labels", {"challenge": ["noisy-labels"]}, 2),
        ("/directions/label-audits", {"direction": ["label-audits"]}, 1),
    ],
)
def test_taxonomy_pages_have_export(client, path, param, n):
    links = menu_links(client.get(path).text)
    q = parse_qs(urlsplit(links["csv"]).query)
    q.pop("format")
    assert q == param
    assert len(keys_of_csv(client, links["csv"])) == n
