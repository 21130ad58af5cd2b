"""A fresh world per test: its own SQLite file and var dir, migrated with Alembic, real HTTP."""

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app import migrate
from app.config import PROJECT_ROOT, Settings
from app.db import make_engine, session_scope
from app.main import create_app
from app.services.taxonomy import load_survey
from app.taxonomy import read_survey_dir

FIXTURES = Path(__file__).parent / "fixtures"
MINI = FIXTURES / "mini"
SHIPPED = PROJECT_ROOT / "data" / "surveys" / "se4llm"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Path:
    """One migrated, empty SQLite file; each test copies it (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("template") / "empty.sqlite3"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def _settings(var: Path) -> Settings:
    return Settings(var_dir=var, database_url=f"sqlite:///{var / 'surveykb.sqlite3'}")


@pytest.fixture(scope="session")
def pg_server():
    """With SURVEYKB_TEST_DATABASE_URL: a PgServer (tests/pgtest.py) and a migrated database
    for this session, all dropped at the end; without it, None (SQLite files)."""
    from tests.pgtest import PG_URL, PgServer

    if not PG_URL:
        yield None
        return
    server = PgServer(PG_URL)
    # A pristine migrated database nobody connects to (CREATE DATABASE ... TEMPLATE needs
    # that), and the one the tests use, emptied before each test.
    server.pristine = server.create("empty")
    migrate.upgrade(server.url(server.pristine))
    server.empty = server.create("main", template=server.pristine)
    yield server
    server.drop_all()


@pytest.fixture
def settings(tmp_path, migrated_template, pg_server) -> Settings:
    var = tmp_path / "var"
    var.mkdir()
    if pg_server is not None:
        from tests.pgtest import truncate_all

        url = pg_server.url(pg_server.empty)
        truncate_all(url)
        s = Settings(var_dir=var, database_url=url)
    else:
        shutil.copy(migrated_template, var / "surveykb.sqlite3")
        s = _settings(var)
    s.ensure_dirs()
    return s


@pytest.fixture
def engine(settings):
    eng = make_engine(settings.database_url)
    yield eng
    eng.dispose()


def load(engine, path: Path):
    with session_scope(engine) as session:
        return load_survey(session, read_survey_dir(path))


@pytest.fixture
def mini(engine):
    """The hand-counted mini survey, loaded."""
    return load(engine, MINI)


@pytest.fixture(scope="session")
def shipped_template(tmp_path_factory, migrated_template, pg_server) -> Path | str:
    """The shipped survey loaded once: a SQLite file, or a PostgreSQL template database."""
    if pg_server is not None:
        name = pg_server.create("shipped", template=pg_server.pristine)
        eng = make_engine(pg_server.url(name))
        load(eng, SHIPPED)
        eng.dispose()
        return name
    path = tmp_path_factory.mktemp("shipped") / "shipped.sqlite3"
    shutil.copy(migrated_template, path)
    eng = make_engine(f"sqlite:///{path}")
    load(eng, SHIPPED)
    eng.dispose()
    return path


@pytest.fixture
def shipped_settings(tmp_path, shipped_template, pg_server):
    var = tmp_path / "var"
    var.mkdir()
    if pg_server is not None:
        name = pg_server.create(f"s{len(pg_server.created)}", template=shipped_template)
        s = Settings(var_dir=var, database_url=pg_server.url(name))
        s.ensure_dirs()
        yield s
        pg_server.drop(name)
        return
    shutil.copy(shipped_template, var / "surveykb.sqlite3")
    s = _settings(var)
    s.ensure_dirs()
    yield s


@pytest.fixture
def client(settings, mini):
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def shipped_client(shipped_settings):
    with TestClient(create_app(shipped_settings)) as c:
        yield c


HX = {"HX-Request": "true"}


# --- accounts (app/auth.py): signed-in clients and API tokens ---------------------------------

TEST_PASSWORD = "correct horse battery staple"


def make_user(settings, username: str = "editor", role: str = "editor", password=TEST_PASSWORD):
    """Create (or fetch) a user in the test database."""
    from app.services import auth as auth_service

    eng = make_engine(settings.database_url)
    try:
        with session_scope(eng) as session:
            user = auth_service.get_user(session, username=username)
            if user is None:
                user = auth_service.create_user(
                    session, username=username, password=password, role=role
                )
            return user
    finally:
        eng.dispose()


def make_token(settings, username: str = "robot", role: str = "editor") -> str:
    """A Bearer token (plaintext) for `username`, created with that role if missing."""
    from app.services import auth as auth_service

    make_user(settings, username=username, role=role)
    eng = make_engine(settings.database_url)
    try:
        with session_scope(eng) as session:
            user = auth_service.get_user(session, username=username)
            return auth_service.create_api_token(session, user=user, name="test")[1]
    finally:
        eng.dispose()


def csrf_of(response) -> str:
    """The CSRF token in a page's hidden form field."""
    from bs4 import BeautifulSoup

    field = BeautifulSoup(response.text, "html.parser").select_one("input[name=csrf_token]")
    return field["value"] if field else ""


def sign_in(client, username: str, password: str = TEST_PASSWORD):
    """Sign `client` in through the real form; sets and returns client.csrf."""
    r = client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf_of(client.get("/login")),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    client.csrf = csrf_of(client.get("/login"))
    return client.csrf


@pytest.fixture
def editor_client(settings, mini):
    """A TestClient over the mini survey, signed in as editor 'ed'; `.csrf` is its token."""
    make_user(settings, username="ed", role="editor")
    with TestClient(create_app(settings)) as c:
        sign_in(c, "ed")
        yield c


@pytest.fixture
def admin_client(settings, mini):
    """A TestClient over the mini survey, signed in as admin 'root'; `.csrf` is its token."""
    make_user(settings, username="root", role="admin")
    with TestClient(create_app(settings)) as c:
        sign_in(c, "root")
        yield c
