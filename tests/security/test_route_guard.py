"""Every route that may write is guarded: found by walking the app's route table, so routes
added later are covered without touching this file."""

import tempfile

import pytest
from bs4 import BeautifulSoup

from app.config import Settings
from app.main import create_app
from tests.conftest import TEST_PASSWORD, make_user
from tests.security.routewalk import unsafe_routes

# /login is the only write open to anonymous visitors; it checks its own CSRF token (below).
ANONYMOUS_ALLOWED = {("POST", "/login")}


def _routes():
    # The route table does not depend on the database; a throwaway settings object is enough.

    with tempfile.TemporaryDirectory() as tmp:
        from app import migrate

        migrate.upgrade(f"sqlite:///{tmp}/r.sqlite3")
        app = create_app(Settings(var_dir=tmp, database_url=f"sqlite:///{tmp}/r.sqlite3"))
        routes = unsafe_routes(app)
        app.state.engine.dispose()
    return routes


ROUTES = _routes()
IDS = [f"{m} {t}" for m, _, t in ROUTES]


def _detail(r) -> str:
    if r.headers.get("content-type", "").startswith("application/json"):
        return str(r.json().get("detail"))
    return BeautifulSoup(r.text, "html.parser").select_one("main").get_text(" ", strip=True)


def test_the_walk_finds_the_known_writes():
    found = {(m, t) for m, _, t in ROUTES}
    assert ("POST", "/logout") in found
    assert ("POST", "/login") in found
    assert len(found) >= 3


@pytest.mark.parametrize(
    ("method", "path", "template"), ROUTES, ids=[f"{m} {t}" for m, _, t in ROUTES]
)
def test_anonymous_cannot_write(client, method, path, template):
    if (method, template) in ANONYMOUS_ALLOWED:
        pytest.skip("open by design")
    r = client.request(method, path, follow_redirects=False)
    assert r.status_code in (401, 403), (r.status_code, r.text[:300])


@pytest.mark.parametrize(
    ("method", "path", "template"), ROUTES, ids=[f"{m} {t}" for m, _, t in ROUTES]
)
def test_signed_in_without_csrf_cannot_write(admin_client, method, path, template):
    # An admin passes every role check, so only the missing CSRF token can refuse this.
    r = admin_client.request(method, path, follow_redirects=False)
    assert r.status_code == 403, (r.status_code, r.text[:300])
    if (method, template) not in ANONYMOUS_ALLOWED:
        assert "CSRF" in _detail(r)


def test_signed_in_with_csrf_gets_past_the_guard(admin_client):
    """The other side: the same token makes the guard let a request through."""
    r = admin_client.post("/logout", data={"csrf_token": admin_client.csrf}, follow_redirects=False)
    assert r.status_code == 303


def test_login_refuses_a_post_without_its_token(client, settings):
    make_user(settings, username="ed")
    r = client.post("/login", data={"username": "ed", "password": TEST_PASSWORD})
    assert r.status_code == 403
