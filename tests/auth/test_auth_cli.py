"""`surveykb user create`, `token create`, `bootstrap`, and SURVEYKB_PRIVATE."""

import re

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app import cli as cli_module
from app.main import create_app
from tests.conftest import make_token, make_user, sign_in


@pytest.fixture
def run(settings, monkeypatch):
    monkeypatch.setattr(cli_module, "get_settings", lambda: settings)
    runner = CliRunner()

    def _run(*args, input=None):
        return runner.invoke(cli_module.cli, list(args), input=input)

    return _run


def test_bootstrap_creates_admin_once_and_prints_a_working_link(run, settings, mini):
    r = run("bootstrap", "--port", "8123")
    assert r.exit_code == 0, r.output
    m = re.search(r"http://127\.0\.0\.1:8123(/login/once/\S+)", r.output)
    assert m, r.output
    again = run("bootstrap")
    assert "Accounts exist" in again.output and "/login/once/" not in again.output
    with TestClient(create_app(settings)) as c:
        page = BeautifulSoup(c.get(m.group(1)).text, "html.parser")
        assert page.select_one(".nav-username").get_text() == "admin"


def test_user_create_prompts_and_token_create_prints_a_bearer_token(run, settings, mini):
    r = run("user", "create", "alice", "--admin", input="s3cret-enough\ns3cret-enough\n")
    assert r.exit_code == 0, r.output
    assert "Created admin 'alice'" in r.output
    assert run("user", "create", "alice", "--password", "whatever-long").exit_code == 2
    assert run("user", "create", "bob", "--password", "short").exit_code == 2
    r = run("token", "create", "alice", "--name", "ci")
    token = r.output.strip().splitlines()[-1]
    assert token.startswith("skb_")
    assert run("token", "create", "nobody").exit_code == 2
    with TestClient(create_app(settings)) as c:
        r = c.post("/logout", headers={"Authorization": f"Bearer {token}"}, follow_redirects=False)
        assert r.status_code == 303  # a Bearer write, no CSRF needed
        sign_in(c, "alice", "s3cret-enough")


def test_private_mode_needs_sign_in_for_reading(settings, mini):
    settings.private = True
    make_user(settings, username="ed")
    token = make_token(settings, username="robot")
    with TestClient(create_app(settings)) as c:
        r = c.get("/papers", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
        assert c.get("/api/v1/phases").status_code == 401
        assert (
            c.get("/api/v1/phases", headers={"Authorization": "Bearer skb_nope"}).status_code == 401
        )
        assert (
            c.get("/api/v1/phases", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        )
        assert c.get("/login").status_code == 200
        assert c.get("/static/css/site.css").status_code == 200
        sign_in(c, "ed")
        assert c.get("/papers").status_code == 200


def test_public_mode_reads_anonymously(client):
    assert client.get("/papers").status_code == 200
    assert client.get("/api/v1/phases").status_code == 200
