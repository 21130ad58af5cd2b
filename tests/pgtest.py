"""Throwaway PostgreSQL databases for the test suite (SURVEYKB_TEST_DATABASE_URL).

When the variable is set (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres: a
server and a database to connect to for CREATE/DROP DATABASE), the fixtures in conftest.py run
every test against PostgreSQL instead of a SQLite file: one migrated database per test session,
emptied (TRUNCATE) before each test, and template copies for the shipped survey. Every database
created here is dropped at the end of the session.
"""

import os
import secrets

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

PG_URL = os.environ.get("SURVEYKB_TEST_DATABASE_URL", "").strip()


def _driver_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class PgServer:
    def __init__(self, admin_url: str) -> None:
        self.admin_url = make_url(_driver_url(admin_url))
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self.prefix = f"surveykb_test_{secrets.token_hex(4)}"
        self.created: list[str] = []

    def url(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def create(self, suffix: str, template: str | None = None) -> str:
        name = f"{self.prefix}_{suffix}"
        tpl = f' TEMPLATE "{template}"' if template else ""
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{tpl}'))
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in reversed(list(self.created)):
            self.drop(name)
        self.admin.dispose()


def truncate_all(url: str) -> None:
    """Empty every application table (not alembic_version) and restart the id sequences."""
    eng = create_engine(_driver_url(url))
    try:
        prep = eng.dialect.identifier_preparer
        names = ", ".join(prep.quote(t.name) for t in SQLModel.metadata.sorted_tables)
        with eng.begin() as conn:
            # Fail loudly rather than wait forever on a connection a test left in a transaction.
            conn.execute(text("SET LOCAL lock_timeout = '20s'"))
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        eng.dispose()
