"""Several server processes share state: what one writes, the others serve (issue 6, item 6).

Real uvicorn processes on free loopback ports over one var dir and one database: SQLite + the
Whoosh index directory, and (when the suite runs on PostgreSQL) PostgreSQL + the PostgreSQL
search backend, the way `docker compose up --scale app=N` runs. An import through one process
(Bearer token, POST /api/v1/imports) is found, search included, through the other.
"""

import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import httpx
import pytest

from app.config import PROJECT_ROOT
from tests.conftest import make_token
from tests.search.conftest import use_backend

WORD = "zyzzogeton"
BIB = """
@article{{{key}1,
  title = {{Oracles for {word} Pipelines {n}}},
  author = {{Quist, Ada and Rook, Ben}},
  journal = {{Journal of Testing}},
  year = {{2024}},
  abstract = {{We study {word} behaviour in model pipelines.}}
}}
@inproceedings{{{key}2,
  title = {{Fuzzing {word} Agents {n}}},
  author = {{Stone, Cy}},
  booktitle = {{ICSE}},
  year = {{2025}}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(settings, backend: str) -> dict:
    return {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "SURVEYKB_VAR_DIR": str(settings.var_dir),
        "SURVEYKB_DATABASE_URL": settings.database_url,
        "SURVEYKB_SEARCH_BACKEND": backend,
    }


@contextmanager
def serving(env: dict, args: list[str], port: int, timeout: float = 60.0):
    """A server process; yields its base URL once /api/v1/healthz answers; stopped after."""
    log = open(os.path.join(env["SURVEYKB_VAR_DIR"], f"server-{port}.log"), "w")
    proc = subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log.flush()
                raise AssertionError(open(log.name).read()[-3000:])
            try:
                if httpx.get(f"{base}/api/v1/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("server did not start: " + open(log.name).read()[-3000:])
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def uvicorn(port: int, workers: int = 1) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]


def import_and_wait(base: str, token: str, bib: str, poll: str | None = None) -> dict:
    """POST the file to `base`, poll the job (through `poll`, another process) until done."""
    auth = {"Authorization": f"Bearer {token}"}
    r = httpx.post(
        f"{base}/api/v1/imports",
        files={"file": ("new.bib", bib.encode(), "application/x-bibtex")},
        headers=auth,
        timeout=30,
    )
    assert r.status_code == 202, r.text
    job = r.json()["id"]
    deadline = time.monotonic() + 60
    while True:
        body = httpx.get(f"{poll or base}/api/v1/imports/{job}", headers=auth, timeout=10).json()
        if body["status"] in ("done", "failed"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_a_write_through_one_process_is_served_by_the_other(settings, mini, backend):
    use_backend(settings, backend)
    token = make_token(settings)
    env = env_for(settings, backend)
    pa, pb = free_port(), free_port()
    with serving(env, uvicorn(pa), pa) as a, serving(env, uvicorn(pb), pb) as b:
        assert httpx.get(f"{b}/api/v1/search", params={"q": WORD}).json()["total"] == 0
        papers_before = httpx.get(f"{b}/api/v1/papers").json()["total"]
        done = import_and_wait(a, token, BIB.format(key="proc", word=WORD, n=1), poll=b)
        assert done["status"] == "done", done
        body = httpx.get(f"{b}/api/v1/search", params={"q": WORD, "kind": "paper"}).json()
        assert sorted(i["citekey"] for i in body["items"]) == ["proc1", "proc2"]
        assert httpx.get(f"{b}/api/v1/papers").json()["total"] == papers_before + 2
        assert httpx.get(f"{b}/api/v1/papers/proc2").json()["venue"] == "ICSE"
        body = httpx.get(f"{b}/api/v1/papers", params={"q": f"author:Quist {WORD}"}).json()
        assert [p["citekey"] for p in body["items"]] == ["proc1"]
        # and the first process sees its own write too
        body = httpx.get(f"{a}/api/v1/search", params={"q": WORD, "kind": "paper"}).json()
        assert body["total"] == 2


def test_two_workers_under_concurrent_reads_and_imports_lose_nothing(settings, mini):
    """`surveykb serve --workers 2` (SQLite + Whoosh): reads and imports at once, no error."""
    token = make_token(settings)
    backend = "postgres" if settings.database_url.startswith("postgresql") else "whoosh"
    use_backend(settings, backend)
    env = env_for(settings, backend)
    port = free_port()
    cmd = [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"]
    errors: list[str] = []
    stop = threading.Event()

    def reader(base: str) -> None:
        paths = ["/", "/papers?phase=data", f"/search?q={WORD}", "/api/v1/papers"]
        with httpx.Client(base_url=base, timeout=30) as c:
            n = 0
            while not stop.is_set() and n < 400:
                r = c.get(paths[n % len(paths)])
                if r.status_code != 200:
                    errors.append(f"{r.request.url} -> {r.status_code}")
                n += 1

    with serving(env, cmd, port) as base:
        readers = [threading.Thread(target=reader, args=(base,)) for _ in range(4)]
        for t in readers:
            t.start()
        results: list[dict] = []
        importers = [
            threading.Thread(
                target=lambda i=i: results.append(
                    import_and_wait(base, token, BIB.format(key=f"w{i}x", word=WORD, n=i))
                )
            )
            for i in range(3)
        ]
        for t in importers:
            t.start()
        for t in importers:
            t.join()
        stop.set()
        for t in readers:
            t.join()
        assert errors == []
        assert [r["status"] for r in results] == ["done"] * 3, [
            r["counts"].get("error") for r in results
        ]
        # every worker answers with all six papers, in the database and in search
        for _ in range(6):
            body = httpx.get(
                f"{base}/api/v1/search", params={"q": WORD, "kind": "paper", "per_page": 50}
            ).json()
            assert sorted(i["citekey"] for i in body["items"]) == sorted(
                f"w{i}x{j}" for i in range(3) for j in (1, 2)
            )
