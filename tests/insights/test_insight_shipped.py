"""The insight views agree with the rest of the app on the real shipped survey."""

import csv
import io

from bs4 import BeautifulSoup


def soup(r):
    assert r.status_code == 200, r.text[:500]
    return BeautifulSoup(r.text, "html.parser")


def test_matrix_totals_agree_with_the_api(shipped_client):
    c = shipped_client
    phases = c.get("/api/v1/phases").json()
    want_rows, want_phase = {}, {}
    for p in phases:
        want_phase[p["slug"]] = p["paper_count"]
        for ch in c.get(f"/api/v1/phases/{p['slug']}").json()["challenges"]:
            if not ch.get("retired"):
                want_rows[ch["slug"]] = ch["paper_count"]
    page = soup(c.get("/insights/matrix"))
    rows = {
        tr["data-challenge"]: int(tr.select_one("td.total").get_text())
        for tr in page.select("#matrix-table tbody tr[data-challenge]")
    }
    assert rows == want_rows and len(rows) >= 30
    foot = {
        td["data-phase"]: int(td.get_text())
        for td in page.select("#matrix-table tfoot td[data-phase]")
    }
    assert foot == want_phase
    # a challenge's own-phase cell equals its total (its papers are all in its phase)
    for tr in page.select("#matrix-table tbody tr[data-challenge]"):
        home = tr.select_one("td.home")
        assert int(home.a.get_text()) <= int(tr.select_one("td.total").get_text())


def test_years_agree_with_the_home_page_table(shipped_client):
    c = shipped_client
    home = soup(c.get("/"))
    want = {
        tr.th.a["href"].rsplit("/", 1)[1]: int(tr.select_one("td.total").get_text())
        for tr in home.select("table.matrix tbody tr")
    }
    rows = list(csv.reader(io.StringIO(c.get("/insights/years?format=csv").text)))
    head, body = rows[0], rows[1:]
    names = {p["name"]: p["slug"] for p in c.get("/api/v1/phases").json()}
    got = {names[h]: sum(int(r[i]) for r in body) for i, h in enumerate(head) if h in names}
    assert got == want


def test_trace_links_agree_with_the_api(shipped_client):
    c = shipped_client
    for p in c.get("/api/v1/phases").json():
        detail = c.get(f"/api/v1/phases/{p['slug']}").json()
        want = {(ch, d["slug"]) for d in detail["directions"] for ch in d["challenges"]}
        page = soup(c.get(f"/insights/trace/{p['slug']}"))
        got = {
            (tr["data-challenge"], tr["data-direction"])
            for tr in page.select("#trace-table tr[data-challenge][data-direction]")
        }
        assert got == want, p["slug"]
        assert len(page.select("svg.insight-chart a.link")) == len(want)
