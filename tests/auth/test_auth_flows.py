"""Accounts end to end: sign-in form, session cookie, CSRF, roles, Bearer tokens, throttle."""

import os
import stat
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from fastapi import Request
from fastapi.testclient import TestClient

from app.auth import AdminDep, CurrentUser, EditorDep
from app.db import make_engine, session_scope
from app.main import create_app
from app.services import auth as auth_service
from tests.conftest import TEST_PASSWORD, csrf_of, make_token, make_user, sign_in


def soup(r):
    return BeautifulSoup(r.text, "html.parser")


def with_probes(app):
    """Routes guarded by the dependencies, to observe them exactly."""

    def who(user: CurrentUser):
        return {"user": user.username if user else None}

    def edit(request: Request, user: EditorDep):
        return {"user": user.username, "role": user.role}

    def admin(user: AdminDep):
        return {"user": user.username}

    app.add_api_route("/api/v1/_probe/who", who, methods=["GET"])
    app.add_api_route("/api/v1/_probe/edit", edit, methods=["POST"])
    app.add_api_route("/api/v1/_probe/admin", admin, methods=["POST"])
    app.add_api_route("/_probe/edit", edit, methods=["GET", "POST"])
    return app


@pytest.fixture
def app(settings, mini):
    return with_probes(create_app(settings))


@pytest.fixture
def anon(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def ed(app, settings):
    make_user(settings, username="ed", role="editor")
    with TestClient(app) as c:
        sign_in(c, "ed")
        yield c


def test_login_page_is_a_form_with_csrf_and_header_offers_sign_in(anon):
    r = anon.get("/login")
    assert r.status_code == 200
    page = soup(r)
    form = page.select_one("form.auth-form")
    assert form["method"] == "post" and form["action"] == "/login"
    assert form.select_one("input[name=csrf_token]")["value"]
    assert form.select_one("input[name=password][type=password]")
    nav = [a.get_text(strip=True) for a in page.select("header nav a")]
    assert "Sign in" in nav
    assert "hx-headers" not in page.body.attrs  # anonymous pages carry no token


def test_sign_in_sets_a_hardened_cookie_and_goes_to_next(anon, settings):
    make_user(settings, username="ed")
    token = csrf_of(anon.get("/login"))
    r = anon.post(
        "/login",
        data={"username": "ed", "password": TEST_PASSWORD, "csrf_token": token, "next": "/papers"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/papers"
    cookie = r.headers["set-cookie"].lower()
    assert "surveykb_session=" in cookie
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    page = soup(anon.get("/papers"))
    assert page.select_one(".nav-username").get_text() == "ed"
    assert page.select_one("form.signout-form button").get_text() == "Sign out"
    assert '"X-CSRF-Token"' in page.body["hx-headers"]


def test_cookie_is_secure_over_https(settings, mini):
    make_user(settings, username="ed")
    with TestClient(create_app(settings), base_url="https://testserver") as c:
        token = csrf_of(c.get("/login"))
        r = c.post(
            "/login",
            data={"username": "ed", "password": TEST_PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
    assert r.status_code == 303
    assert "secure" in r.headers["set-cookie"].lower()


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil", "x"])
def test_next_never_leaves_the_site(anon, settings, target):
    make_user(settings, username="ed")
    token = csrf_of(anon.get("/login"))
    r = anon.post(
        "/login",
        data={"username": "ed", "password": TEST_PASSWORD, "csrf_token": token, "next": target},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"


def test_wrong_password_shows_the_form_again(anon, settings):
    make_user(settings, username="ed")
    token = csrf_of(anon.get("/login"))
    r = anon.post("/login", data={"username": "ed", "password": "nope-nope", "csrf_token": token})
    assert r.status_code == 401
    page = soup(r)
    assert page.select_one(".auth-error").get_text() == "Wrong username or password."
    assert page.select_one("input[name=username]")["value"] == "ed"
    assert "set-cookie" not in r.headers or "uid" not in r.headers.get("set-cookie", "")
    assert soup(anon.get("/")).select_one(".nav-username") is None


def test_sign_in_without_the_form_token_is_refused(anon, settings):
    make_user(settings, username="ed")
    r = anon.post("/login", data={"username": "ed", "password": TEST_PASSWORD})
    assert r.status_code == 403
    assert "expired" in soup(r).select_one(".auth-error").get_text()


def test_failed_sign_ins_are_throttled_per_username_and_address(anon, settings):
    make_user(settings, username="ed")
    make_user(settings, username="other")
    token = csrf_of(anon.get("/login"))
    for _ in range(auth_service.THROTTLE_MAX_FAILURES):
        r = anon.post(
            "/login", data={"username": "ed", "password": "wrong-pw", "csrf_token": token}
        )
        assert r.status_code == 401
    # Now even the right password waits.
    r = anon.post("/login", data={"username": "ed", "password": TEST_PASSWORD, "csrf_token": token})
    assert r.status_code == 429
    assert "Too many failed sign-ins" in soup(r).select_one(".auth-error").get_text()
    # Another account from the same address is not locked out.
    r = anon.post(
        "/login",
        data={"username": "other", "password": TEST_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303


def test_throttle_forgets_failures_after_the_window(settings):
    make_user(settings, username="ed")
    eng = make_engine(settings.database_url)
    with session_scope(eng) as s:
        for _ in range(auth_service.THROTTLE_MAX_FAILURES):
            with pytest.raises(auth_service.Unauthorized):
                auth_service.authenticate(s, username="ed", password="bad-pass", ip="1.2.3.4")
        with pytest.raises(auth_service.TooManyRequests):
            auth_service.authenticate(s, username="ed", password=TEST_PASSWORD, ip="1.2.3.4")
        for row in s.exec(auth_service.select(auth_service.LoginFailure)).all():
            row.created_at = row.created_at - auth_service.THROTTLE_WINDOW - timedelta(seconds=1)
            s.add(row)
        s.flush()
        user = auth_service.authenticate(s, username="ed", password=TEST_PASSWORD, ip="1.2.3.4")
        assert user.username == "ed"
    eng.dispose()


def test_sign_out_needs_csrf_and_ends_the_session(ed):
    assert ed.post("/logout", follow_redirects=False).status_code == 403
    r = ed.post("/logout", data={"csrf_token": ed.csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert ed.get("/api/v1/_probe/who").json() == {"user": None}


def test_anonymous_writes_are_refused_per_surface(anon):
    r = anon.post("/api/v1/_probe/edit")
    assert r.status_code == 401 and "detail" in r.json()
    r = anon.get("/_probe/edit?x=1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2F_probe%2Fedit%3Fx%3D1"
    r = anon.post("/_probe/edit")
    assert r.status_code == 401
    assert soup(r).select_one("h1").get_text() == "Sign-in required"


def test_cookie_writes_need_the_csrf_token_by_header_or_form(ed):
    r = ed.post("/api/v1/_probe/edit")
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    assert ed.post("/api/v1/_probe/edit", headers={"X-CSRF-Token": "forged"}).status_code == 403
    r = ed.post("/api/v1/_probe/edit", headers={"X-CSRF-Token": ed.csrf})
    assert r.status_code == 200 and r.json() == {"user": "ed", "role": "editor"}
    r = ed.post("/_probe/edit", data={"csrf_token": ed.csrf})
    assert r.status_code == 200


def test_roles(ed, settings, app):
    r = ed.post("/api/v1/_probe/admin", headers={"X-CSRF-Token": ed.csrf})
    assert r.status_code == 403
    make_user(settings, username="root", role="admin")
    with TestClient(app) as c:
        sign_in(c, "root")
        assert c.post("/api/v1/_probe/admin", headers={"X-CSRF-Token": c.csrf}).status_code == 200
        assert c.post("/api/v1/_probe/edit", headers={"X-CSRF-Token": c.csrf}).status_code == 200


def test_bearer_tokens_skip_csrf_and_bad_tokens_are_anonymous(anon, settings):
    token = make_token(settings, username="robot")
    r = anon.post("/api/v1/_probe/edit", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["user"] == "robot"
    bad = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    r = anon.post("/api/v1/_probe/edit", headers={"Authorization": f"Bearer {bad}"})
    assert r.status_code == 401
    # Only the hash is stored.
    eng = make_engine(settings.database_url)
    with session_scope(eng) as s:
        rows = s.exec(auth_service.select(auth_service.ApiToken)).all()
        assert [r.token_hash for r in rows] == [auth_service.token_digest(token)]
        assert token not in {r.token_hash for r in rows}
    eng.dispose()


def test_changing_the_password_ends_existing_sessions(ed, settings):
    assert ed.get("/api/v1/_probe/who").json() == {"user": "ed"}
    eng = make_engine(settings.database_url)
    with session_scope(eng) as s:
        user = auth_service.get_user(s, username="ed")
        auth_service.set_password(s, user=user, password="a whole new password")
    eng.dispose()
    assert ed.get("/api/v1/_probe/who").json() == {"user": None}


def test_one_time_sign_in_link_works_once(anon, settings):
    eng = make_engine(settings.database_url)
    with session_scope(eng) as s:
        boot = auth_service.bootstrap_admin(s)
        assert boot.user.role == "admin"
        assert auth_service.bootstrap_admin(s) is None  # users exist now
    eng.dispose()
    r = anon.get(f"/login/once/{boot.signin_token}", follow_redirects=False)
    assert r.status_code == 303
    assert anon.get("/api/v1/_probe/who").json() == {"user": "admin"}
    anon.cookies.clear()
    r = anon.get(f"/login/once/{boot.signin_token}")
    assert r.status_code == 401
    assert "already used" in soup(r).select_one(".auth-error").get_text()
    # It never works as an API token.
    r = anon.post("/api/v1/_probe/edit", headers={"Authorization": f"Bearer {boot.signin_token}"})
    assert r.status_code == 401


def test_expired_sign_in_link_is_refused(anon, settings):
    user = make_user(settings, username="ed")
    eng = make_engine(settings.database_url)
    with session_scope(eng) as s:
        token = auth_service.create_signin_token(
            s, user=s.get(auth_service.User, user.id), ttl=timedelta(seconds=-1)
        )
    eng.dispose()
    r = anon.get(f"/login/once/{token}")
    assert r.status_code == 401 and "expired" in soup(r).select_one(".auth-error").get_text()


def test_secret_key_is_generated_once_private_and_survives_restart(settings, mini):
    make_user(settings, username="ed")
    with TestClient(create_app(settings)) as c:
        sign_in(c, "ed")
        cookies = dict(c.cookies)
    key_file = settings.var_dir / "secret_key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    with TestClient(with_probes(create_app(settings)), cookies=cookies) as c2:
        assert c2.get("/api/v1/_probe/who").json() == {"user": "ed"}


def test_users_are_validated(settings):
    eng = make_engine(settings.database_url)
    with session_scope(eng) as s:
        with pytest.raises(auth_service.BadRequest):
            auth_service.create_user(s, username="x", password="short")
        with pytest.raises(auth_service.BadRequest):
            auth_service.create_user(s, username="<script>", password="long enough")
        with pytest.raises(auth_service.BadRequest):
            auth_service.create_user(s, username="x", password="long enough", role="god")
        u = auth_service.create_user(s, username="x", password="long enough")
        assert u.password_hash.startswith("$argon2")
        with pytest.raises(auth_service.Conflict):
            auth_service.create_user(s, username="x", password="long enough")
    eng.dispose()
