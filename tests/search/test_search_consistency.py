"""The database is the truth: concurrent writers, failures, start-up and the CLI keep the index
equal to it (DESIGN.md section 2)."""

import os
import random
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from app.config import PROJECT_ROOT
from app.main import create_app
from app.models import Paper
from app.search.documents import expected_ids
from app.search.schema import SCHEMA_VERSION
from app.search.whoosh_backend import SCHEMA_MARKER, WhooshIndex
from app.services.indexing import check, load_survey_and_index, rebuild, sync_papers
from app.taxonomy import read_survey_dir
from tests.conftest import MINI

WRITER_SCRIPT = """
import random, sys
from sqlmodel import Session
from sqlalchemy import select
from app.db import make_engine
from app.models import Paper
from app.search.whoosh_backend import WhooshIndex
from app.services.indexing import sync_papers
url, path, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(seed)
engine = make_engine(url)
index = WhooshIndex(path)
for n in range(25):
    with Session(engine) as s:
        ids = list(s.exec(select(Paper.id)).scalars())
        op = rng.choice(["create", "create", "update", "delete"]) if ids else "create"
        if op == "create":
            p = Paper(citekey=f"cli{seed}-{n}", title=f"CLI paper {n} about oracles")
            s.add(p); s.commit(); pid = p.id
        else:
            pid = rng.choice(ids)
            p = s.get(Paper, pid)
            if p is None:
                continue
            if op == "update":
                p.title = f"CLI update {n}"; s.add(p)
            else:
                s.delete(p)
            s.commit()
    with Session(engine) as s:
        assert sync_papers(s, index, [pid]), "index write failed"
print("ok")
"""


def _worker(engine, path: Path, seed: int, errors: list) -> None:
    rng = random.Random(seed)
    index = WhooshIndex(path)  # its own lock handle, like another process
    try:
        for n in range(30):
            with Session(engine) as s:
                ids = list(s.exec(select(Paper.id)).scalars())
                op = rng.choice(["create", "create", "update", "delete"]) if ids else "create"
                if op == "create":
                    p = Paper(citekey=f"w{seed}-{n}", title=f"Worker {seed} paper {n} on testing")
                    s.add(p)
                    s.commit()
                    pid = p.id
                else:
                    pid = rng.choice(ids)
                    p = s.get(Paper, pid)
                    if p is None:
                        continue
                    if op == "update":
                        p.title = f"Updated by {seed} at {n}"
                        s.add(p)
                    else:
                        s.delete(p)
                    s.commit()
            with Session(engine) as s:
                if not sync_papers(s, index, [pid]):
                    errors.append(f"sync failed in worker {seed}")
    except Exception as exc:  # a LockError here would be the bug this test is about
        errors.append(repr(exc))
    finally:
        index.close()


def test_random_concurrent_writes_keep_index_equal_to_database(settings, engine, mini):
    path = settings.index_dir
    with Session(engine) as s:
        rebuild(s, WhooshIndex(path))
    errors: list = []
    threads = [threading.Thread(target=_worker, args=(engine, path, i, errors)) for i in range(2)]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    cli = subprocess.Popen(
        [sys.executable, "-c", WRITER_SCRIPT, settings.database_url, str(path), "7"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for t in threads:
        t.start()
    out, err = cli.communicate(timeout=300)
    for t in threads:
        t.join()
    assert cli.returncode == 0, err[-2000:]
    assert errors == []
    index = WhooshIndex(path)
    with Session(engine) as s:
        db_ids = expected_ids(s)
        titles = {f"paper:{p.id}": p.title for p in s.exec(select(Paper)).scalars()}
    assert index.ids() == db_ids
    assert not index.is_stale()
    # and the latest version of every updated title is what the index holds
    searcher = index._get_searcher()
    for fields in searcher.all_stored_fields():
        if fields["kind"] == "paper":
            assert fields["title"] == titles[fields["id"]]


def test_a_failed_index_write_marks_it_stale_and_start_up_rebuilds(settings, engine, mini):
    app = create_app(settings)
    index = app.state.index
    assert check(Session(engine), index).ok
    with Session(engine) as s:
        p = Paper(citekey="late2025", title="Late paper on oracles")
        s.add(p)
        s.commit()
        pid = p.id
    blocked = WhooshIndex(settings.index_dir, lock_timeout=0.3)
    holder = index._index().writer()  # another writer holds the lock
    try:
        with Session(engine) as s:
            assert sync_papers(s, blocked, [pid]) is False
    finally:
        holder.cancel()
    assert blocked.is_stale()
    diff = check(Session(engine), blocked)
    assert f"paper:{pid}" in diff.missing and not diff.ok
    app2 = create_app(settings)  # start-up sees the marker and rebuilds
    assert not app2.state.index.is_stale()
    assert check(Session(engine), app2.state.index).ok


def test_schema_change_or_missing_index_is_rebuilt_at_start_up(settings, engine, mini):
    create_app(settings)
    (settings.index_dir / SCHEMA_MARKER).write_text("0-old")
    app = create_app(settings)
    assert (settings.index_dir / SCHEMA_MARKER).read_text() == SCHEMA_VERSION
    assert check(Session(engine), app.state.index).ok
    for f in settings.index_dir.iterdir():
        if f.is_file():
            f.unlink()
    app = create_app(settings)
    assert app.state.index.doc_count() > 0
    assert check(Session(engine), app.state.index).ok


def test_load_survey_and_index_then_only_changes(settings, engine):
    index = WhooshIndex(settings.index_dir)
    bundle = read_survey_dir(MINI)
    load_survey_and_index(engine, index, bundle)
    with Session(engine) as s:
        assert index.ids() == expected_ids(s)
    report = load_survey_and_index(engine, index, bundle)
    assert not report.changed
    assert check(Session(engine), index).ok


def _cli(settings, *args):
    env = {
        **os.environ,
        "SURVEYKB_VAR_DIR": str(settings.var_dir),
        "SURVEYKB_DATABASE_URL": settings.database_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_check_and_reindex(settings, engine, mini):
    index = create_app(settings).state.index
    r = _cli(settings, "check")
    assert r.returncode == 0, r.stdout + r.stderr
    index.remove(["paper:1"])
    r = _cli(settings, "check")
    assert r.returncode == 1
    assert "paper:1" in r.stdout
    r = _cli(settings, "reindex")
    assert r.returncode == 0, r.stderr
    assert "documents" in r.stdout
    assert _cli(settings, "check").returncode == 0
