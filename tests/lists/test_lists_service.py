"""Reading lists: service rules and the public, read-only pages."""

import pytest
from bs4 import BeautifulSoup
from sqlmodel import Session

from app.db import session_scope
from app.errors import BadRequest, Conflict, NotFound
from app.services import lists


@pytest.fixture
def picked(engine, mini):
    with session_scope(engine) as s:
        rl = lists.create_list(s, name="Must  read!", description="Start here.\n\nThen go on.")
        for key in ("delta2024", "alpha2022", "gamma2023"):
            lists.add_paper(s, rl, key)
        lists.update_item(s, rl, "alpha2022", note="Key <b>paper</b>", status="read")
        lists.create_list(s, name="Data", filter={"phase": ["data"], "year_from": "2023"})
        lists.create_list(s, name="Secret", public=False)
    return "must-read"


def order(engine, slug):
    from app.services.export import records_for

    with Session(engine) as s:
        ids, _ = lists.list_paper_ids(s, lists.get_list(s, slug))
        return [r.citekey for r in records_for(s, ids)]


def test_slug_name_and_conflicts(engine, picked):
    with session_scope(engine) as s:
        assert lists.get_list(s, "must-read").name == "Must read!"
        assert lists.create_list(s, name="Must read!").slug == "must-read-2"
        with pytest.raises(Conflict):
            lists.create_list(s, name="x", slug="must-read")
        with pytest.raises(BadRequest):
            lists.create_list(s, name="   ")
        with pytest.raises(BadRequest):
            lists.create_list(s, name="x", slug="Bad Slug")
        with pytest.raises(NotFound):
            lists.add_paper(s, lists.get_list(s, "must-read"), "no-such-paper")


def test_add_is_idempotent_and_order_moves(engine, picked):
    assert order(engine, "must-read") == ["delta2024", "alpha2022", "gamma2023"]
    with session_scope(engine) as s:
        rl = lists.get_list(s, "must-read")
        _, created = lists.add_paper(s, rl, "delta2024")
        assert not created
        lists.move_item(s, rl, "gamma2023", "up")
    assert order(engine, "must-read") == ["delta2024", "gamma2023", "alpha2022"]
    with session_scope(engine) as s:
        rl = lists.get_list(s, "must-read")
        lists.move_item(s, rl, "delta2024", "up")  # already first: stays
        lists.move_item(s, rl, "delta2024", "down")
        lists.remove_paper(s, rl, "alpha2022")
        with pytest.raises(BadRequest):
            lists.update_item(s, rl, "gamma2023", status="done")
    assert order(engine, "must-read") == ["gamma2023", "delta2024"]


def test_live_list_grows_with_new_papers(engine, picked):
    from app.bibtex import parse_bibtex, to_record
    from app.services.papers import upsert_paper

    assert sorted(order(engine, "data")) == ["delta2024", "gamma2023", "mini2024survey"]
    bib = "@article{new2025, title={New}, author={A, B}, year={2025}}"
    with session_scope(engine) as s:
        paper, _ = upsert_paper(s, to_record(parse_bibtex(bib).entries[0]))
        from sqlalchemy import select

        from app.models import PaperPhase, Phase

        phase = s.exec(select(Phase).where(Phase.slug == "data")).scalars().one()
        s.add(PaperPhase(paper_id=paper.id, phase_id=phase.id, origin="curated"))
    assert "new2025" in order(engine, "data")


def test_lists_page_and_public_list_page(client, picked):
    soup = BeautifulSoup(client.get("/lists").text, "html.parser")
    cards = {c["id"]: c for c in soup.select(".list-card")}
    assert set(cards) == {"list-must-read", "list-data"}  # the private list is not shown
    assert cards["list-must-read"].select_one(".list-count").text == "3"
    assert cards["list-data"].select_one(".list-count").text == "3"
    assert soup.select_one('nav a[href="/lists"]')["aria-current"] == "page"

    r = client.get("/lists/must-read")
    assert r.status_code == 200
    soup = BeautifulSoup(r.text, "html.parser")
    items = soup.select(".list-item")
    assert [li["id"] for li in items] == ["item-delta2024", "item-alpha2022", "item-gamma2023"]
    alpha = items[1]
    assert alpha.select_one(".note").text == "Key <b>paper</b>"  # escaped, shown as text
    assert alpha.select_one(".status").text == "read"
    assert not soup.select(".item-tools")  # anonymous visitors get no edit controls
    menu = soup.select_one("details.export-menu")
    assert (
        menu.select_one('a[data-format="bibtex"]')["href"] == "/export?list=must-read&format=bibtex"
    )


def test_private_list_hidden_and_unknown_404(client, picked):
    assert client.get("/lists/secret").status_code == 404
    assert client.get("/lists/nope").status_code == 404
    assert client.get("/api/v1/lists/secret").status_code == 404
    assert client.get("/api/v1/export?list=secret").status_code == 404


def test_list_export_keeps_order_and_notes(client, picked):
    md = client.get("/api/v1/export?list=must-read&format=markdown").text
    assert md.startswith("# Reading list: Must read!")
    assert "  > Key <b>paper</b>" not in md and "Key \\<b\\>paper\\</b\\>" in md
    import csv
    import io

    rows = list(
        csv.DictReader(
            io.StringIO(client.get("/api/v1/export?list=must-read&format=csv").text, newline="")
        )
    )
    assert [r["citekey"] for r in rows] == ["delta2024", "alpha2022", "gamma2023"]
    assert rows[1]["status"] == "read" and rows[1]["note"] == "Key <b>paper</b>"
    r = client.get("/api/v1/export?list=must-read&format=bibtex")
    assert 'filename="surveykb-list-must-read.bib"' in r.headers["content-disposition"]
    assert "annote = {Key <b>paper</b>}" in r.text


def test_api_read_lists(client, picked):
    body = client.get("/api/v1/lists").json()
    assert body["total"] == 2
    assert {i["slug"]: i["count"] for i in body["items"]} == {"data": 3, "must-read": 3}
    detail = client.get("/api/v1/lists/must-read").json()
    assert [i["citekey"] for i in detail["items"]] == ["delta2024", "alpha2022", "gamma2023"]
    assert detail["items"][1]["status"] == "read"
    assert client.get("/api/v1/lists/data").json()["kind"] == "filter"


def test_writes_need_sign_in(client, picked):
    assert client.post("/api/v1/lists", json={"name": "x"}).status_code in (401, 403)
    assert client.delete("/api/v1/lists/must-read").status_code in (401, 403)
    assert client.post("/lists", data={"name": "x"}).status_code in (401, 403)
    assert client.post("/lists/must-read/items/alpha2022/remove").status_code in (401, 403)
    assert client.get("/api/v1/dump").status_code in (401, 403)
    assert len(client.get("/api/v1/lists/must-read").json()["items"]) == 3
