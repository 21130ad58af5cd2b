"""Creating and editing reading lists as a signed-in editor: HTML forms (no JS), HTMX, JSON."""

import json

import pytest
from bs4 import BeautifulSoup


def soup(r):
    return BeautifulSoup(r.text, "html.parser")


def order(client, slug):
    return [li["id"][5:] for li in soup(client.get(f"/lists/{slug}")).select(".list-item")]


@pytest.fixture
def ed(editor_client, mini):
    return editor_client


def form_post(client, url, data=None, **kw):
    return client.post(url, data={"csrf_token": client.csrf, **(data or {})}, **kw)


def test_save_view_as_live_list(ed):
    page = soup(ed.get("/papers?phase=data&year_from=2023"))
    save = page.select_one("a.save-view")
    assert save["href"] == "/lists/new?phase=data&year_from=2023"
    form_page = soup(ed.get(save["href"]))
    form = form_page.select_one("form.list-form")
    hidden = {i["name"]: i["value"] for i in form.select("input[type=hidden]")}
    assert hidden["phase"] == "data" and hidden["year_from"] == "2023"
    assert hidden["csrf_token"] == ed.csrf
    data = {**hidden, "name": "Recent data papers", "kind": "live", "public": "1"}
    r = ed.post("/lists", data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/lists/recent-data-papers"
    assert sorted(order(ed, "recent-data-papers")) == ["delta2024", "gamma2023", "mini2024survey"]
    body = ed.get("/api/v1/lists/recent-data-papers").json()
    assert body["kind"] == "filter" and body["filter"]["phase"] == ["data"]


def test_snapshot_then_reorder_note_status_remove_without_js(ed):
    r = form_post(
        ed,
        "/lists",
        {"name": "Picked", "kind": "snapshot", "phase": "requirements", "sort": "title"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    first = order(ed, "picked")
    assert first == ["mini2024survey", "alpha2022", "beta2023", "epsilon2021"]
    page = soup(ed.get("/lists/picked"))
    up = page.select_one("#item-beta2023 form:has(button.move-up)")
    assert up["action"] == "/lists/picked/items/beta2023/move"
    assert page.select_one("#item-mini2024survey button.move-up").has_attr("disabled")
    r = form_post(ed, up["action"], {"direction": "up"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/lists/picked#item-beta2023"
    assert order(ed, "picked") == ["mini2024survey", "beta2023", "alpha2022", "epsilon2021"]
    form_post(ed, "/lists/picked/items/epsilon2021", {"note": "Skim <only>", "status": "reading"})
    item = soup(ed.get("/lists/picked")).select_one("#item-epsilon2021")
    assert item.select_one(".note").text == "Skim <only>"
    assert item.select_one(".status").text == "reading"
    form_post(ed, "/lists/picked/items/alpha2022/remove")
    assert order(ed, "picked") == ["mini2024survey", "beta2023", "epsilon2021"]


def test_htmx_move_returns_the_items_fragment(ed):
    form_post(ed, "/lists", {"name": "H", "kind": "snapshot", "type": "article"})
    assert order(ed, "h") == ["delta2024", "alpha2022"]
    r = form_post(
        ed, "/lists/h/items/alpha2022/move", {"direction": "up"}, headers={"HX-Request": "true"}
    )
    assert r.status_code == 200
    frag = soup(r)
    assert frag.select_one("#list-items") is not None and frag.select_one("html") is None
    assert [li["id"] for li in frag.select(".list-item")] == ["item-alpha2022", "item-delta2024"]


def test_add_from_paper_with_htmx_one_click(ed):
    form_post(ed, "/lists", {"name": "Reading"})
    r = ed.get("/lists/add?paper=gamma2023", headers={"HX-Request": "true"})
    choice = soup(r).select_one("form[action='/lists/reading/items']")
    data = {i["name"]: i["value"] for i in choice.select("input[type=hidden]")}
    r = ed.post(choice["action"], data=data, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "Added to" in soup(r).select_one(".added").text
    assert order(ed, "reading") == ["gamma2023"]
    # without JS: a page with the same choices, and the form redirects back to the paper
    page = soup(ed.get("/lists/add?paper=gamma2023"))
    assert page.select_one("h1").text.startswith("Add “Gamma")
    assert page.select_one("form[action='/lists/reading/items']") is None  # already in it
    assert page.select_one(".add-list-choices .chip").text.strip() == "✓ Reading"
    r = ed.post(choice["action"], data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/papers/gamma2023"
    assert order(ed, "reading") == ["gamma2023"]


def test_edit_and_delete_list(ed):
    form_post(ed, "/lists", {"name": "Tmp", "public": "1"})
    form_post(ed, "/lists/tmp/edit", {"name": "Renamed", "description": "Why", "public": ""})
    assert ed.get("/api/v1/lists/tmp").json()["name"] == "Renamed"
    assert ed.get("/api/v1/lists/tmp").json()["public"] is False
    r = form_post(ed, "/lists/tmp/delete", follow_redirects=False)
    assert r.status_code == 303 and ed.get("/lists/tmp").status_code == 404


def test_forms_without_csrf_are_refused(ed):
    r = ed.post("/lists", data={"name": "No token"})
    assert r.status_code in (400, 403)
    assert ed.get("/lists/no-token").status_code == 404


def test_json_crud(ed):
    h = {"X-CSRF-Token": ed.csrf}
    r = ed.post("/api/v1/lists", json={"name": "API list", "description": "d"}, headers=h)
    assert r.status_code == 201 and r.json()["slug"] == "api-list"
    assert (
        ed.post("/api/v1/lists", json={"name": "x", "slug": "api-list"}, headers=h).status_code
        == 409
    )
    for key in ("alpha2022", "beta2023", "gamma2023"):
        assert (
            ed.post("/api/v1/lists/api-list/items", json={"citekey": key}, headers=h).status_code
            == 201
        )
    assert (
        ed.post(
            "/api/v1/lists/api-list/items", json={"citekey": "alpha2022"}, headers=h
        ).status_code
        == 200
    )
    assert (
        ed.post("/api/v1/lists/api-list/items", json={"citekey": "nope"}, headers=h).status_code
        == 404
    )
    r = ed.patch(
        "/api/v1/lists/api-list/items/gamma2023", json={"move": "top", "status": "read"}, headers=h
    )
    assert r.status_code == 200 and r.json()["status"] == "read"
    assert (
        ed.patch(
            "/api/v1/lists/api-list/items/gamma2023", json={"status": "done"}, headers=h
        ).status_code
        == 422
    )
    items = ed.get("/api/v1/lists/api-list").json()["items"]
    assert [i["citekey"] for i in items] == ["gamma2023", "alpha2022", "beta2023"]
    assert ed.delete("/api/v1/lists/api-list/items/alpha2022", headers=h).status_code == 204
    r = ed.patch("/api/v1/lists/api-list", json={"filter": {"phase": ["data"]}}, headers=h)
    assert r.json()["kind"] == "filter" and r.json()["total"] == 4
    assert ed.delete("/api/v1/lists/api-list", headers=h).status_code == 204
    assert ed.get("/api/v1/lists/api-list").status_code == 404


def test_dump_endpoint_for_signed_in_users(ed):
    r = ed.get("/api/v1/dump")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    data = json.loads(r.text)
    assert data["format"] == "surveykb-dump" and len(data["papers"]) == 6


def test_add_controls_only_for_signed_in_users(ed, client):
    page = soup(ed.get("/papers"))
    links = page.select(".paper-row a.add-to-list-link")
    assert len(links) == 6 and links[0]["href"].startswith("/lists/add?paper=")
    detail = soup(ed.get("/papers/alpha2022"))
    assert detail.select_one("a.add-to-list-link")["href"] == "/lists/add?paper=alpha2022"
    assert not soup(client.get("/papers")).select("a.add-to-list-link")
    assert not soup(client.get("/papers/alpha2022")).select("a.add-to-list-link")
    # anonymous: the chooser page sends to sign-in
    r = client.get("/lists/add?paper=alpha2022", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
