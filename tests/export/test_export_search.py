"""The search page's Export menu exports the matching papers, best first."""

import csv
import io
from urllib.parse import parse_qs, urlsplit

from bs4 import BeautifulSoup


def test_search_results_export(client):
    r = client.get("/search?q=delta")
    soup = BeautifulSoup(r.text, "html.parser")
    menu = soup.select_one("details.export-menu")
    assert menu is not None
    href = menu.select_one('a[data-format="csv"]')["href"]
    q = parse_qs(urlsplit(href).query)
    assert q["q"] == ["delta"] and q["format"] == ["csv"]
    rows = list(csv.DictReader(io.StringIO(client.get(href).text, newline="")))
    hits = [li["data-id"] for li in soup.select("li.search-hit[data-kind=paper]")]
    assert len(rows) == len(hits) and rows[0]["citekey"] == "delta2024"


def test_papers_text_query_export_matches_view_order(client):
    for query in ("q=data", "q=data&sort=title", "q=oracles&phase=evaluation"):
        soup = BeautifulSoup(client.get(f"/papers?{query}").text, "html.parser")
        shown = [a["href"].rsplit("/", 1)[1] for a in soup.select(".paper-list a.paper-title")]
        href = soup.select_one('details.export-menu a[data-format="csv"]')["href"]
        rows = list(csv.DictReader(io.StringIO(client.get(href).text, newline="")))
        assert shown and [r["citekey"] for r in rows] == shown, query
