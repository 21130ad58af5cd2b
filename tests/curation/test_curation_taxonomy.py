"""Curating challenges and directions in the browser: permissions, slugs, history, revert."""

import pytest
from bs4 import BeautifulSoup

HX = {"HX-Request": "true"}


def soup(r):
    assert r.status_code == 200, r.text[:800]
    return BeautifulSoup(r.text, "html.parser")


def post(c, url, data=None, **kw):
    return c.post(url, data={"csrf_token": c.csrf, **(data or {})}, follow_redirects=False, **kw)


def challenge_order(c, phase):
    chs = c.get(f"/api/v1/phases/{phase}").json()["challenges"]
    return [ch["slug"] for ch in chs if not ch["retired"]]


def search_titles(c, q, kind):
    body = c.get(f"/api/v1/search?q={q}&kind={kind}").json()
    return [i.get("title") for i in body["items"]]


# --- permissions -----------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in_and_cannot_write(client):
    r = client.get("/challenges/vague-goals/edit", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    r = client.post("/challenges/vague-goals/edit", data={"title": "x"}, follow_redirects=False)
    assert r.status_code == 401
    assert client.get("/review", follow_redirects=False).status_code == 303
    # reading the history is public, and shows no revert buttons
    page = soup(client.get("/challenges/vague-goals/history"))
    assert not page.select("form[action$='/revert']")


def test_anonymous_pages_show_no_curation_tools(client):
    assert not soup(client.get("/phases/requirements")).select("[data-curation]")
    assert not soup(client.get("/challenges/vague-goals")).select("[data-curation]")
    assert not soup(client.get("/papers/alpha2022")).select("[data-curation]")


def test_a_write_without_the_csrf_token_is_refused(editor_client):
    r = editor_client.post(
        "/challenges/vague-goals/edit", data={"title": "Hijacked"}, follow_redirects=False
    )
    assert r.status_code == 403
    assert challenge_order(editor_client, "requirements")[0] == "vague-goals"
    assert editor_client.get("/api/v1/challenges/vague-goals").json()["title"] == "Vague goals"


def test_editors_cannot_revert(editor_client):
    post(editor_client, "/challenges/vague-goals/edit", {"title": "Vaguer goals"})
    change = soup(editor_client.get("/challenges/vague-goals/history")).select_one("li.change")
    assert not change.select("form[action$='/revert']")
    r = post(editor_client, f"/changes/{change['id'].split('-')[1]}/revert")
    assert r.status_code == 403


# --- create / edit / retire / reorder ----------------------------------------------------------


def test_create_a_challenge_from_the_phase_page(editor_client):
    c = editor_client
    page = soup(c.get("/phases/data"))
    new = page.select_one("a[data-curation=new-challenge]")
    form = soup(c.get(new["href"])).select_one("form.curation-form")
    assert form["action"] == "/phases/data/new"
    r = post(
        c, "/phases/data/new", {"kind": "challenge", "title": "Data drift", "description": "x"}
    )
    assert r.status_code == 303 and r.headers["location"] == "/challenges/data-drift"
    assert challenge_order(c, "data") == ["noisy-labels", "data-drift"]
    item = c.get("/api/v1/challenges/data-drift").json()
    assert item["source"] == "editorial"
    # a second one with the same title gets its own slug
    r = post(c, "/phases/data/new", {"kind": "challenge", "title": "Data drift"})
    assert r.headers["location"] == "/challenges/data-drift-2"
    # and the search index knows it at once
    assert "Data drift" in search_titles(c, "drift", "challenge")


def test_create_a_direction_that_addresses_challenges(editor_client):
    c = editor_client
    r = post(
        c,
        "/phases/requirements/new",
        {"kind": "direction", "title": "Goal linting", "addresses": ["vague-goals"]},
    )
    assert r.headers["location"] == "/directions/goal-linting"
    assert c.get("/api/v1/directions/goal-linting").json()["challenges"] == ["vague-goals"]
    trace = soup(c.get("/insights/trace/requirements"))
    assert trace.select_one('tr[data-challenge=vague-goals][data-direction="goal-linting"]')


def test_bad_input_re_renders_the_form_with_the_problem(editor_client):
    c = editor_client
    r = post(c, "/phases/data/new", {"kind": "challenge", "title": "  "})
    assert r.status_code == 400
    assert (
        "must not be empty" in BeautifulSoup(r.text, "html.parser").select_one(".form-error").text
    )
    r = post(c, "/phases/data/new", {"kind": "challenge", "title": "X", "slug": "vague-goals"})
    assert r.status_code == 409
    page = BeautifulSoup(r.text, "html.parser")
    assert "already used" in page.select_one(".form-error").text
    assert page.select_one("input[name=title]")["value"] == "X"  # what was typed is kept
    r = post(
        c, "/phases/data/new", {"kind": "direction", "title": "Y", "addresses": ["vague-goals"]}
    )
    assert r.status_code == 400  # vague-goals is not a challenge of the data phase


def test_edit_keeps_the_slug_and_records_before_and_after(editor_client):
    c = editor_client
    edit = soup(c.get("/challenges/vague-goals")).select_one("a[data-curation=edit]")
    assert edit["href"] == "/challenges/vague-goals/edit"
    r = post(
        c,
        "/challenges/vague-goals/edit",
        {"title": "Goals nobody can check", "description": "New words.", "source": "survey"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/challenges/vague-goals"
    page = soup(c.get("/challenges/vague-goals"))
    assert page.select_one("h1").get_text() == "Goals nobody can check"
    hist = soup(c.get("/challenges/vague-goals/history", headers=HX))
    entry = hist.select_one("li.change")
    assert entry["data-action"] == "update"
    assert entry.select_one(".change-head strong").get_text() == "ed"
    rows = {
        tr.th.get_text(): [td.get_text(strip=True) for td in tr.select("td")]
        for tr in entry.select(".change-diff tbody tr")
    }
    assert rows == {
        "title": ["Vague goals", "Goals nobody can check"],
        "description": ["Goals are hard to state.", "New words."],
    }
    assert "Goals nobody can check" in search_titles(c, "nobody", "challenge")
    # the paper documents carry the new title too (a paper linked to it is found by it)
    hits = c.get("/api/v1/search?q=nobody&kind=paper").json()["items"]
    assert {h["citekey"] for h in hits} >= {"alpha2022", "beta2023"}


def test_saving_an_unchanged_form_records_nothing(editor_client):
    c = editor_client
    post(
        c,
        "/challenges/vague-goals/edit",
        {"title": "Vague goals", "source": "survey", "description": "Goals are hard to state."},
    )
    assert soup(c.get("/challenges/vague-goals/history")).select_one("p.empty")


def test_retire_keeps_the_url_with_a_notice_and_leaves_the_views(editor_client):
    c = editor_client
    r = post(c, "/challenges/flaky-oracles/retire")
    assert r.status_code == 303
    page = soup(c.get("/challenges/flaky-oracles"))
    assert "retired" in page.select_one(".notice").get_text()
    overview = {p["slug"]: p["challenge_count"] for p in c.get("/api/v1/phases").json()}
    assert overview["evaluation"] == 0
    matrix = soup(c.get("/insights/matrix"))
    assert not matrix.select("tr[data-challenge=flaky-oracles]")
    post(c, "/challenges/flaky-oracles/restore")
    assert not soup(c.get("/challenges/flaky-oracles")).select(".notice")
    actions = [
        li["data-action"]
        for li in soup(c.get("/challenges/flaky-oracles/history")).select("li.change")
    ]
    assert actions == ["restore", "retire"]


def test_reorder_within_a_phase(editor_client):
    c = editor_client
    phase = soup(c.get("/phases/requirements"))
    forms = phase.select("#challenge-vague-goals form.move-form")
    assert [f.select_one("input[name=to]")["value"] for f in forms] == ["up", "down"]
    post(c, "/challenges/vague-goals/move", {"to": "down"})
    assert challenge_order(c, "requirements") == ["conflicting-needs", "vague-goals"]
    post(c, "/challenges/vague-goals/move", {"to": "down"})  # already last: nothing happens
    assert challenge_order(c, "requirements") == ["conflicting-needs", "vague-goals"]
    hist = soup(c.get("/changes")).select("li.change")
    assert [li["data-action"] for li in hist] == ["reorder"]


# --- revert (admin) ----------------------------------------------------------------------------


def _change_ids(c, url):
    return [int(li["id"].split("-")[1]) for li in soup(c.get(url)).select("li.change")]


def test_admin_reverts_an_edit_once(admin_client):
    c = admin_client
    post(c, "/challenges/noisy-labels/edit", {"title": "Wrong labels"})
    (cid,) = _change_ids(c, "/challenges/noisy-labels/history")
    form = soup(c.get("/challenges/noisy-labels/history")).select_one(f"#change-{cid} form")
    assert form["action"] == f"/changes/{cid}/revert"
    r = post(c, f"/changes/{cid}/revert")
    assert r.status_code == 303 and r.headers["location"] == "/challenges/noisy-labels/history"
    assert c.get("/api/v1/challenges/noisy-labels").json()["title"] == "Noisy labels"
    page = soup(c.get("/challenges/noisy-labels/history"))
    assert [li["data-action"] for li in page.select("li.change")] == ["revert", "update"]
    assert "reverted" in page.select_one(f"#change-{cid}")["class"]
    assert not page.select_one(f"#change-{cid} form")
    assert post(c, f"/changes/{cid}/revert").status_code == 409
    assert "Noisy labels" in search_titles(c, "noisy", "challenge")


def test_revert_refuses_to_undo_later_work(admin_client):
    c = admin_client
    post(c, "/challenges/noisy-labels/edit", {"title": "First"})
    post(c, "/challenges/noisy-labels/edit", {"title": "Second"})
    later, first = _change_ids(c, "/challenges/noisy-labels/history")
    assert post(c, f"/changes/{first}/revert").status_code == 409
    assert c.get("/api/v1/challenges/noisy-labels").json()["title"] == "Second"
    assert post(c, f"/changes/{later}/revert").status_code == 303
    assert post(c, f"/changes/{first}/revert").status_code == 303
    assert c.get("/api/v1/challenges/noisy-labels").json()["title"] == "Noisy labels"


@pytest.mark.parametrize("action", ["create", "reorder"])
def test_revert_a_creation_or_a_reorder(admin_client, action):
    c = admin_client
    if action == "create":
        post(c, "/phases/data/new", {"kind": "challenge", "title": "Temporary"})
        (cid,) = _change_ids(c, "/challenges/temporary/history")
        post(c, f"/changes/{cid}/revert")
        item = c.get("/api/v1/challenges/temporary")
        assert item.status_code == 200 and item.json()["retired"] is True  # URL kept, retired
    else:
        post(c, "/challenges/conflicting-needs/move", {"to": "up"})
        assert challenge_order(c, "requirements") == ["conflicting-needs", "vague-goals"]
        (cid,) = _change_ids(c, "/phases/requirements/history")
        r = post(c, f"/changes/{cid}/revert")
        assert r.headers["location"] == "/phases/requirements/history"
        assert challenge_order(c, "requirements") == ["vague-goals", "conflicting-needs"]
