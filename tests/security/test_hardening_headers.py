"""Security headers, a CSP the pages actually satisfy, body size limits, no stack traces."""

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from app.main import create_app
from app.security import CSP

PAGES = ["/", "/papers", "/papers/alpha2022", "/phases/requirements", "/search?q=goals", "/login"]


@pytest.mark.parametrize("path", [*PAGES, "/api/v1/phases", "/nowhere", "/static/css/site.css"])
def test_every_answer_carries_the_security_headers(client, path):
    r = client.get(path)
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["x-frame-options"] == "DENY"


def test_csp_forbids_inline_script_and_framing():
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-eval" not in CSP and "'unsafe-inline'" not in directives["script-src"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_no_inline_script(client, path):
    """What the CSP would block: inline <script>, on* handlers, javascript: URLs, hx-on."""
    page = BeautifulSoup(client.get(path).text, "html.parser")
    for script in page.find_all("script"):
        assert script.get("src", "").startswith("/static/") and not script.string
    for el in page.find_all(True):
        for name in el.attrs:
            assert not name.startswith(("on", "hx-on")), (path, name)
    config = page.select_one('meta[name="htmx-config"]')["content"]
    assert '"allowEval": false' in config and '"includeIndicatorStyles": false' in config


def test_api_docs_page_gets_its_own_policy(client):
    r = client.get("/docs")
    assert r.status_code == 200
    assert "cdn.jsdelivr.net" in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_a_body_over_the_limit_gets_413_with_a_clear_message(settings, mini):
    settings.max_upload_mb = 1
    big = b"x" * (1024 * 1024 + 10)
    with TestClient(create_app(settings)) as c:
        r = c.post("/api/v1/lists", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert r.json() == {"detail": "The request is too large: the limit is 1 MB."}
        r = c.post("/login", content=big, headers={"content-type": "text/plain"})
        assert r.status_code == 413
        page = BeautifulSoup(r.text, "html.parser")
        assert "the limit is 1 MB" in page.select_one("main").get_text()


def test_a_chunked_body_over_the_limit_gets_413(settings, mini):
    settings.max_upload_mb = 1

    def chunks():
        for _ in range(40):
            yield b"y" * 65536

    with TestClient(create_app(settings)) as c:
        r = c.post(
            "/login",
            content=chunks(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert r.status_code == 413


def test_errors_never_show_a_stack_trace(settings, mini):
    app = create_app(settings)

    def boom():
        raise RuntimeError("secret internals /etc/passwd")

    app.add_api_route("/api/v1/_boom", boom)
    app.add_api_route("/_boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/v1/_boom")
        assert r.status_code == 500
        assert r.json() == {"detail": "An unexpected error occurred. It has been logged."}
        r = c.get("/_boom")
        assert r.status_code == 500
        assert "Traceback" not in r.text and "secret internals" not in r.text


@pytest.mark.parametrize("path", ["/papers?q=%00", "/papers?tag=a%00b", "/search?q=%00"])
def test_nul_in_the_address_is_a_clear_400(client, path):
    r = client.get(path)
    assert r.status_code == 400
    assert "NUL" in BeautifulSoup(r.text, "html.parser").select_one("main").get_text()
    r = client.get("/api/v1" + path)
    assert r.status_code == 400 and "NUL" in r.json()["detail"]


def test_nul_in_a_json_or_form_body_is_a_clear_400(editor_client):
    h = {"X-CSRF-Token": editor_client.csrf, "content-type": "application/json"}
    r = editor_client.post("/api/v1/lists", content=b'{"name": "a\\u0000b"}', headers=h)
    assert r.status_code == 400 and "NUL" in r.json()["detail"]
    # An escaped backslash before "u0000" is ordinary text.
    r = editor_client.post("/api/v1/lists", content=b'{"name": "a\\\\u0000b"}', headers=h)
    assert r.status_code == 201, r.text
    r = editor_client.post("/lists", data={"name": "a\x00b", "csrf_token": editor_client.csrf})
    assert r.status_code == 400


def test_a_500_carries_the_security_headers(settings, mini):
    """ServerErrorMiddleware answers from outside SecurityMiddleware: the headers must still be
    there on the HTML page and on the JSON answer, and the exception must not show."""
    app = create_app(settings)

    def boom():
        raise RuntimeError("secret internals /etc/passwd")

    app.add_api_route("/api/v1/_boom", boom)
    app.add_api_route("/_boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        for path in ("/_boom", "/api/v1/_boom"):
            r = c.get(path)
            assert r.status_code == 500
            assert r.headers["content-security-policy"] == CSP
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["referrer-policy"] == "same-origin"
            assert r.headers["x-frame-options"] == "DENY"
            assert "secret internals" not in r.text and "Traceback" not in r.text
        assert "html" in c.get("/_boom").headers["content-type"]
        assert c.get("/api/v1/_boom").json() == {
            "detail": "An unexpected error occurred. It has been logged."
        }
