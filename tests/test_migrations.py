"""Migrations build the schema the models describe, on an empty database, and can be undone."""

from sqlalchemy import inspect

from app import migrate
from app.db import make_engine


def test_upgrade_check_and_downgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert {"paper", "phase", "challenge", "direction", "paperphase", "readinglist"} <= tables
    assert migrate.is_current(engine, url)
    migrate.check(url)  # raises if models and migrations drift apart
    migrate.downgrade(url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert not migrate.is_current(engine, url)
    migrate.upgrade(url)
    assert migrate.is_current(engine, url)
    engine.dispose()
