"""Run the search contract against both backends.

`backend` is parametrized: `whoosh` always; `postgres` only when the suite runs on PostgreSQL
(SURVEYKB_TEST_DATABASE_URL, see tests/pgtest.py), else it is skipped. Test modules opt in with
`pytestmark = pytest.mark.usefixtures("backend")` or by taking `backend` as an argument; it
must come before `client` so the app is created with the chosen backend.
"""

import pytest
from sqlalchemy import create_engine, text

BACKENDS = ["whoosh", "postgres"]


def clear_pg_search(url: str) -> None:
    """Empty the PostgreSQL search tables (the per-test TRUNCATE covers only the models)."""
    eng = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with eng.begin() as conn:
            conn.execute(text("TRUNCATE search_doc, search_word, search_state"))
    finally:
        eng.dispose()


def use_backend(settings, name: str) -> str:
    if name == "postgres":
        if not settings.database_url.startswith("postgresql"):
            pytest.skip("the postgres search backend needs SURVEYKB_TEST_DATABASE_URL")
        clear_pg_search(settings.database_url)
    settings.search_backend = name
    return name


@pytest.fixture(params=BACKENDS)
def backend(request, settings) -> str:
    """The search backend of this test's `settings` (and so of `client`)."""
    return use_backend(settings, request.param)


@pytest.fixture(params=BACKENDS)
def shipped_backend(request, shipped_settings) -> str:
    """The same, for `shipped_settings`."""
    return use_backend(shipped_settings, request.param)
