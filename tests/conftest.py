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


@pytest.fixture
def settings(tmp_path, migrated_template) -> Settings:
    var = tmp_path / "var"
    var.mkdir()
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
def shipped_template(tmp_path_factory, migrated_template) -> Path:
    path = tmp_path_factory.mktemp("shipped") / "shipped.sqlite3"
    shutil.copy(migrated_template, path)
    eng = make_engine(f"sqlite:///{path}")
    load(eng, SHIPPED)
    eng.dispose()
    return path


@pytest.fixture
def shipped_settings(tmp_path, shipped_template) -> Settings:
    var = tmp_path / "var"
    var.mkdir()
    shutil.copy(shipped_template, var / "surveykb.sqlite3")
    s = _settings(var)
    s.ensure_dirs()
    return s


@pytest.fixture
def client(settings, mini):
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def shipped_client(shipped_settings):
    with TestClient(create_app(shipped_settings)) as c:
        yield c


HX = {"HX-Request": "true"}
