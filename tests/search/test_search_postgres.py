"""The PostgreSQL search backend beyond the shared contract (test_search_pages.py runs that on
both backends): its query language mapping, its consistency with the database under concurrent
writers, stale marking, start-up rebuild and the CLI. Skipped unless the suite runs on
PostgreSQL (SURVEYKB_TEST_DATABASE_URL)."""

import os
import subprocess
import sys
import threading

import pytest
from sqlalchemy import inspect, select
from sqlmodel import Session

from app import migrate
from app.config import PROJECT_ROOT
from app.db import make_engine
from app.main import create_app
from app.models import Paper
from app.search.documents import expected_ids
from app.search.postgres_backend import PostgresIndex
from app.services.indexing import check, rebuild, sync_papers
from tests.search.conftest import use_backend


def test_migration_creates_search_tables_only_on_postgresql(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    migrate.upgrade(url)
    eng = make_engine(url)
    assert not {"search_doc", "search_word", "search_state"} & set(inspect(eng).get_table_names())
    eng.dispose()


@pytest.fixture
def pg(settings, engine, mini):
    use_backend(settings, "postgres")
    assert {"search_doc", "search_state"} <= set(inspect(engine).get_table_names())
    migrate.check(settings.database_url)  # the search tables are not model drift
    index = PostgresIndex(settings.database_url)
    with Session(engine) as s:
        rebuild(s, index)
    return index


def keys(index, q, **kw) -> list[str]:
    return [h.key for h in index.search(q, per_page=50, **kw).hits]


@pytest.mark.parametrize(
    "q, want",
    [
        ("author:Muller", {"alpha2022"}),
        ("title:oracle", {"delta2024", "flaky-oracles"}),
        ("year:2023", None),
        ("year:>2023 kind:paper", None),
        ("flaky -kind:challenge", None),
        ("challenge:flaky-oracles", None),
        ("orac*", None),
    ],
)
def test_qualifiers_map_to_sql(pg, engine, q, want):
    got = set(keys(pg, q))
    assert got, q
    if want is not None:
        assert got == want
    with Session(engine) as s:
        years = dict(s.exec(select(Paper.citekey, Paper.year)).all())
    if q == "year:2023":
        assert got == {k for k, y in years.items() if y == 2023}
    if q.startswith("year:>2023"):
        assert got == {k for k, y in years.items() if y and y > 2023}
    if q.startswith("flaky -kind"):
        assert [h.kind for h in pg.search(q).hits] == ["paper"]


@pytest.mark.parametrize(
    "q", ["", "AND OR", "title:", "-", "*", ")(", "\x00", "a" * 2000, "year:[x TO", "the", "'"]
)
def test_junk_never_raises(pg, q):
    pg.search(q)
    pg.ranked_ids(q)


def _writer(url: str, seed: int, errors: list) -> None:
    engine = make_engine(url)
    index = PostgresIndex(url)
    try:
        for n in range(15):
            with Session(engine) as s:
                ids = list(s.exec(select(Paper.id)).scalars())
                if n % 3 == 2 and ids:
                    p = s.get(Paper, ids[(seed + n) % len(ids)])
                    if p is None:
                        continue
                    p.title = f"Updated by {seed} at {n}"
                else:
                    p = Paper(citekey=f"w{seed}-{n}", title=f"Worker {seed} paper {n}")
                s.add(p)
                s.commit()
                pid = p.id
            with Session(engine) as s:
                if not sync_papers(s, index, [pid]):
                    errors.append(f"sync failed in {seed}")
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        engine.dispose()


def test_concurrent_writers_keep_the_index_equal_to_the_database(pg, settings, engine):
    errors: list = []
    threads = [
        threading.Thread(target=_writer, args=(settings.database_url, i, errors)) for i in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Session(engine) as s:
        assert pg.ids() == expected_ids(s)
        titles = {p.citekey: p.title for p in s.exec(select(Paper)).scalars()}
    for key, title in titles.items():
        hits = pg.search(f"citekey:{key}").hits
        assert [h.title for h in hits] == [title]


def test_stale_marker_and_start_up_rebuild(pg, settings, engine):
    app = create_app(settings)
    assert isinstance(app.state.index, PostgresIndex)
    assert check(Session(engine), app.state.index).ok
    pg.remove(["paper:1"])
    pg.mark_stale("test")
    assert not check(Session(engine), pg).ok
    app = create_app(settings)  # another process starting: sees the marker, rebuilds
    assert not app.state.index.is_stale()
    assert check(Session(engine), app.state.index).ok


def test_cli_check_and_reindex(pg, settings):
    env = {
        **os.environ,
        "SURVEYKB_VAR_DIR": str(settings.var_dir),
        "SURVEYKB_DATABASE_URL": settings.database_url,
        "SURVEYKB_SEARCH_BACKEND": "postgres",
    }

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert cli("check").returncode == 0
    pg.remove(["paper:2"])
    r = cli("check")
    assert r.returncode == 1 and "paper:2" in r.stdout
    assert cli("reindex").returncode == 0
    assert cli("check").returncode == 0
