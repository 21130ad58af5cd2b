"""Linking papers from the paper page, free tags, and the review queue of suggestions."""

from bs4 import BeautifulSoup
from sqlalchemy import select

from app.db import make_engine, session_scope
from app.models import (
    Challenge,
    Direction,
    Paper,
    PaperChallenge,
    PaperDirection,
    PaperPhase,
    Phase,
)

HX = {"HX-Request": "true"}


def soup(r):
    assert r.status_code == 200, r.text[:800]
    return BeautifulSoup(r.text, "html.parser")


def post(c, url, data=None, **kw):
    return c.post(url, data={"csrf_token": c.csrf, **(data or {})}, follow_redirects=False, **kw)


def links(c, citekey):
    body = c.get(f"/api/v1/papers/{citekey}").json()
    return {k: sorted(x["slug"] for x in body[k]) for k in ("phases", "challenges", "directions")}


def total(c, query):
    return c.get(f"/api/v1/papers?{query}").json()["total"]


def suggest(settings, rows):
    """Store `suggested` links as an import would: (kind, citekey, slug, score)."""
    eng = make_engine(settings.database_url)
    models = {
        "phase": (PaperPhase, "phase_id", Phase),
        "challenge": (PaperChallenge, "challenge_id", Challenge),
        "direction": (PaperDirection, "direction_id", Direction),
    }
    with session_scope(eng) as s:
        for kind, key, slug, score in rows:
            link, col, target = models[kind]
            pid = s.exec(select(Paper.id).where(Paper.citekey == key)).scalar_one()
            tid = s.exec(select(target.id).where(target.slug == slug)).scalar_one()
            s.add(link(paper_id=pid, **{col: tid}, origin="suggested", score=score))
    eng.dispose()


# --- classification checkboxes -----------------------------------------------------------------


def test_classification_form_shows_the_current_links(editor_client):
    c = editor_client
    link = soup(c.get("/papers/alpha2022")).select_one("a[data-curation=classify]")
    assert link["href"] == "/papers/alpha2022/classify"
    form = soup(c.get(link["href"])).select_one("form.classify-form")
    checked = {(i["name"], i["value"]) for i in form.select("input[type=checkbox][checked]")}
    assert checked == {
        ("phase", "requirements"),
        ("challenge", "vague-goals"),
        ("direction", "goal-templates"),
    }
    assert form.select_one("input[name=csrf_token]")["value"] == c.csrf
    assert form["hx-post"] == "/papers/alpha2022/classify"


def test_link_and_unlink_with_the_checkboxes(editor_client):
    c = editor_client
    before = total(c, "challenge=noisy-labels")
    r = post(
        c,
        "/papers/alpha2022/classify",
        {"phase": ["requirements", "data"], "challenge": ["noisy-labels"], "direction": []},
    )
    assert r.status_code == 303 and r.headers["location"] == "/papers/alpha2022"
    assert links(c, "alpha2022") == {
        "phases": ["data", "requirements"],
        "challenges": ["noisy-labels"],
        "directions": [],
    }
    assert total(c, "challenge=noisy-labels") == before + 1
    assert total(c, "challenge=vague-goals") == 1  # beta2023 only now
    # one change with the four link states
    entry = soup(c.get("/papers/alpha2022/history")).select_one("li.change")
    rows = {
        tr.th.get_text(): [td.get_text(strip=True) for td in tr.select("td")]
        for tr in entry.select(".change-diff tbody tr")
    }
    assert rows == {
        "challenge:noisy-labels": ["none", "curated"],
        "challenge:vague-goals": ["survey", "none"],
        "direction:goal-templates": ["survey", "none"],
        "phase:data": ["none", "curated"],
    }
    # the index follows: alpha2022 is now found as a data paper
    hits = c.get("/api/v1/search?q=phase:data alpha&kind=paper").json()["items"]
    assert "alpha2022" in [h["citekey"] for h in hits]


def test_htmx_checkbox_change_returns_the_updated_fragment(editor_client):
    c = editor_client
    r = post(
        c,
        "/papers/gamma2023/classify",
        {
            "phase": ["data", "evaluation"],
            "challenge": ["noisy-labels"],
            "direction": ["label-audits"],
        },
        headers=HX,
    )
    frag = soup(r)
    assert frag.select_one("div#classify") and not frag.select_one("html")
    assert frag.select_one(".saved")
    assert frag.select_one("input[name=phase][value=evaluation]").has_attr("checked")
    assert links(c, "gamma2023")["phases"] == ["data", "evaluation"]


def test_unknown_slugs_are_refused(editor_client):
    r = post(editor_client, "/papers/alpha2022/classify", {"phase": ["nope"]})
    assert r.status_code == 400
    assert links(editor_client, "alpha2022")["phases"] == ["requirements"]


# --- tags ----------------------------------------------------------------------------------


def test_tags_with_autocomplete(editor_client):
    c = editor_client
    assert post(c, "/papers/alpha2022/tags", {"tag": "  Goal   Setting "}).status_code == 303
    post(c, "/papers/beta2023/tags", {"tag": "goal setting"})
    post(c, "/papers/beta2023/tags", {"tag": "workshops"})
    assert total(c, "tag=goal%20setting") == 2
    assert c.get("/api/v1/tags?q=go").json() == [{"name": "goal setting", "count": 2}]
    opts = soup(c.get("/tags/suggest?tag=o", headers=HX)).select("option")
    assert [o["value"] for o in opts] == ["goal setting", "workshops"]
    page = soup(c.get("/papers/alpha2022/classify"))
    tag_input = page.select_one("input[name=tag]")
    assert tag_input["list"] == "tag-options" and tag_input["hx-get"] == "/tags/suggest"
    assert [a.get_text() for a in page.select(".tag-list a.chip")] == ["goal setting"]
    post(c, "/papers/alpha2022/tags", {"remove": "goal setting"})
    assert total(c, "tag=goal%20setting") == 1
    actions = [
        li["data-action"] for li in soup(c.get("/papers/alpha2022/history")).select("li.change")
    ]
    assert actions == ["untag", "tag"]


def test_bad_tags_are_refused(editor_client):
    c = editor_client
    r = post(c, "/papers/alpha2022/tags", {"tag": "=cmd|x"}, headers=HX)
    assert r.status_code == 400
    assert "A tag is" in soup_any(r).select_one(".form-error").get_text()
    assert c.get("/api/v1/tags").json() == []


def soup_any(r):
    return BeautifulSoup(r.text, "html.parser")


# --- review queue --------------------------------------------------------------------------


SUGGESTIONS = [
    ("phase", "epsilon2021", "evaluation", 0.31),
    ("challenge", "epsilon2021", "vague-goals", 0.82),
    ("challenge", "gamma2023", "flaky-oracles", 0.55),
    ("direction", "delta2024", "label-audits", 0.12),
]


def queue(c, query=""):
    page = soup(c.get(f"/review{query}"))
    return [tr["data-token"].split(":")[0] for tr in page.select("tr[data-token]")], page


def test_queue_is_sorted_by_score_and_suggestions_do_not_count(editor_client, settings):
    suggest(settings, SUGGESTIONS)
    c = editor_client
    kinds, page = queue(c)
    assert kinds == ["challenge", "challenge", "phase", "direction"]
    scores = [float(td.get_text()) for td in page.select("tr[data-token] td.num")]
    assert scores == [0.82, 0.55, 0.31, 0.12]
    assert page.select_one("#review-total").get_text() == "4"
    assert queue(c, "?kind=challenge")[0] == ["challenge", "challenge"]
    # not accepted yet: nowhere in the classification
    assert total(c, "challenge=vague-goals") == 2
    assert "vague-goals" not in links(c, "epsilon2021")["challenges"]
    # the paper's form shows them unticked, with their score
    form = soup(c.get("/papers/epsilon2021/classify"))
    box = form.select_one("input[name=challenge][value=vague-goals]")
    assert not box.has_attr("checked")
    assert "0.82" in box.find_parent("label").select_one(".badge-suggested").get_text()


def test_accept_and_reject_one_by_one(editor_client, settings):
    suggest(settings, SUGGESTIONS)
    c = editor_client
    _, page = queue(c)
    first = page.select_one("tr[data-token]")
    token = first["data-token"]
    accept = first.select_one("button[data-decision=accept]")
    assert accept["hx-post"] == "/review" and accept["hx-target"] == "closest tr"
    r = c.post(
        "/review", data={"csrf_token": c.csrf, "decision": "accept", "one": token}, headers=HX
    )
    assert r.status_code == 200 and r.text == ""  # the row is swapped out
    assert "vague-goals" in links(c, "epsilon2021")["challenges"]
    assert total(c, "challenge=vague-goals") == 3
    # without JavaScript: the row's button posts the whole form with ?decision=
    token2 = queue(c)[1].select_one("tr[data-token]")["data-token"]
    r = post(c, "/review?decision=reject", {"one": token2, "item": [token2, "junk"]})
    assert r.status_code == 303 and "done=1+rejected" in r.headers["location"]
    kinds, _ = queue(c)
    assert kinds == ["phase", "direction"]
    assert "flaky-oracles" not in links(c, "gamma2023")["challenges"]
    actions = [
        li["data-action"] for li in soup(c.get("/papers/epsilon2021/history")).select("li.change")
    ]
    assert actions == ["accept"]


def test_bulk_accept_and_reject(editor_client, settings):
    suggest(settings, SUGGESTIONS)
    c = editor_client
    tokens = [tr["data-token"] for tr in queue(c)[1].select("tr[data-token]")]
    r = post(c, "/review", {"decision": "accept", "item": tokens[:3]})
    assert r.status_code == 303
    assert queue(c)[0] == ["direction"]
    assert links(c, "epsilon2021")["phases"] == ["data", "evaluation", "requirements"]
    matrix = soup(c.get("/insights/matrix"))
    cell = matrix.select_one("tr[data-challenge=flaky-oracles] td[data-phase=data] a")
    assert cell.get_text() == "2"  # gamma2023 (data) now counts for flaky-oracles
    post(c, "/review", {"decision": "reject", "item": tokens[3:]})
    kinds, page = queue(c)
    assert kinds == [] and page.select_one(".empty-state")
    # JSON: the same queue
    assert c.get("/api/v1/review").json()["total"] == 0


def test_review_json_api(editor_client, settings):
    suggest(settings, SUGGESTIONS)
    c = editor_client
    body = c.get("/api/v1/review").json()
    assert body["total"] == 4 and body["items"][0]["target"] == "vague-goals"
    r = c.post(
        "/api/v1/review",
        json={"accept": [body["items"][0]["token"]], "reject": [body["items"][1]["token"]]},
        headers={"X-CSRF-Token": c.csrf},
    )
    assert r.json() == {"accepted": 1, "rejected": 1}
    assert c.get("/api/v1/review").json()["total"] == 2


def test_admin_reverts_an_unlink_and_an_accept(admin_client, settings):
    suggest(settings, SUGGESTIONS)
    c = admin_client
    post(c, "/papers/alpha2022/classify", {"phase": ["requirements"]})
    token = queue(c)[1].select_one("tr[data-token]")["data-token"]
    post(c, "/review", {"decision": "accept", "item": [token]})
    for key in ("alpha2022", "epsilon2021"):
        cid = soup(c.get(f"/papers/{key}/history")).select_one("li.change")["id"].split("-")[1]
        assert post(c, f"/changes/{cid}/revert").status_code == 303
    assert links(c, "alpha2022")["challenges"] == ["vague-goals"]
    assert "vague-goals" not in links(c, "epsilon2021")["challenges"]
    assert queue(c)[0][0] == "challenge"  # the suggestion is back in the queue
