"""/account/tokens: a signed-in user creates an API token (shown once, works as Bearer) and
revokes it (it stops working); the forms need the CSRF token; strangers are sent to sign in."""

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import make_user, sign_in


def soup(r):
    return BeautifulSoup(r.text, "html.parser")


def test_create_use_and_revoke_a_token(editor_client):
    c = editor_client
    page = soup(c.get("/account/tokens"))
    assert page.select_one("[data-no-tokens]") is not None
    assert page.select_one("form.token-create input[name=csrf_token]")["value"] == c.csrf
    r = c.post("/account/tokens", data={"name": "my script", "csrf_token": c.csrf})
    assert r.status_code == 201
    assert r.headers["cache-control"] == "no-store"
    page = soup(r)
    token = page.select_one("[data-new-token] [data-token]").get_text(strip=True)
    assert token.startswith("skb_")
    rows = page.select("[data-tokens] tbody tr")
    assert [row.select_one("td").get_text() for row in rows] == ["my script"]
    assert token not in soup(c.get("/account/tokens")).get_text()  # shown once only

    with TestClient(c.app) as bot:  # no cookie: the token alone authenticates
        auth = {"Authorization": f"Bearer {token}"}
        ok = bot.post("/api/v1/lists", json={"name": "Via token"}, headers=auth)
        assert ok.status_code in (200, 201), ok.text
        revoke = rows[0].select_one("form")["action"]
        assert c.post(revoke, data={"csrf_token": c.csrf}).status_code == 200  # 303 followed
        assert soup(c.get("/account/tokens")).select_one("[data-no-tokens]") is not None
        gone = bot.post("/api/v1/lists", json={"name": "After revoke"}, headers=auth)
        assert gone.status_code == 401


def test_forms_need_csrf_and_a_signed_in_user(editor_client, settings):
    c = editor_client
    assert c.post("/account/tokens", data={"name": "x"}).status_code == 403
    with TestClient(c.app) as anon:
        r = anon.get("/account/tokens", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
        assert anon.post("/account/tokens", data={"name": "x"}).status_code == 401
    assert soup(c.get("/account/tokens")).select_one("[data-no-tokens]") is not None


def test_one_cannot_revoke_someone_elses_token(settings, mini):
    make_user(settings, username="ann")
    make_user(settings, username="bob")
    app = create_app(settings)
    with TestClient(app) as ann, TestClient(app) as bob:
        sign_in(ann, "ann")
        sign_in(bob, "bob")
        page = soup(ann.post("/account/tokens", data={"name": "ann's", "csrf_token": ann.csrf}))
        action = page.select_one("[data-tokens] tbody tr form")["action"]
        assert bob.post(action, data={"csrf_token": bob.csrf}).status_code == 404
        rows = soup(ann.get("/account/tokens")).select("[data-tokens] tbody tr")
        assert len(rows) == 1
        assert soup(bob.get("/account/tokens")).select_one("[data-no-tokens]") is not None
