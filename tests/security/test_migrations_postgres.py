"""The same migrations run on PostgreSQL: up to head with no drift, down to base, up again.
Runs when SURVEYKB_TEST_DATABASE_URL is set (`make test` sets it when a server answers)."""

import pytest
from sqlalchemy import inspect

from app import migrate
from app.db import make_engine
from tests.pgtest import PG_URL, PgServer

pytestmark = pytest.mark.skipif(not PG_URL, reason="SURVEYKB_TEST_DATABASE_URL is not set")


def test_migrations_on_postgres():
    server = PgServer(PG_URL)
    try:
        url = server.url(server.create("migrations"))
        migrate.upgrade(url)
        engine = make_engine(url)
        assert engine.dialect.name == "postgresql"
        tables = set(inspect(engine).get_table_names())
        assert {"paper", "user", "apitoken", "loginfailure", "readinglist"} <= tables
        assert migrate.is_current(engine, url)
        migrate.check(url)
        migrate.downgrade(url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(url)
        assert migrate.is_current(engine, url)
        engine.dispose()
    finally:
        server.drop_all()
