"""Load benchmark: a live `surveykb serve` on loopback, 1 and 2 workers, SQLite + Whoosh and
(when a server answers on 127.0.0.1:5432) PostgreSQL + its search backend.

Prints figures, asserts nothing. For each configuration: the shipped survey is loaded into a
throwaway var dir (and a throwaway PostgreSQL database, dropped afterwards), the server is
started, and every endpoint gets a fixed number of requests from a pool of client threads
(bounded by a time cap); reported are requests/s, p50/p95/p99 latency, the error count (must
be 0), and the ratio of requests/s to the same-run baseline (`/api/v1/healthz`, a trivial
endpoint). One BibTeX import (Bearer token) runs while the mixed phase loads the server.

    .venv/bin/python bench/load_bench.py [--requests 300] [--concurrency 8] [--cap 20]
        [--workers 1,2] [--no-pg]

The client threads share the machine with the server, so absolute figures understate what a
separate client would measure; ratios between rows of one run are the meaningful part.
"""

import argparse
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ENDPOINTS = [
    ("baseline /api/v1/healthz", "/api/v1/healthz"),
    ("static css", "/static/css/site.css"),
    ("home /", "/"),
    ("/papers 2 facets", "/papers?phase=data&year_from=2022"),
    ("/search?q=", "/search?q=prompt+injection"),
    ("/search field query", "/search?q=author:liu+year:2023..2024"),
    ("/api/v1/papers", "/api/v1/papers?per_page=25"),
    ("/api/v1/export bibtex", "/api/v1/export?format=bibtex&phase=data"),
]
MIX = [p for name, p in ENDPOINTS if not name.startswith(("baseline", "static"))]
BIB = """@article{{loadbench{n},
  title = {{Load Benchmark Entry {n} on Oracle Testing}},
  author = {{Bench, Ada}}, journal = {{Bench Journal}}, year = {{2025}}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_available() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), 1).close()
        return True
    except OSError:
        return False


def run(env: dict, *args: str) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if r.returncode != 0:
        raise SystemExit(f"surveykb {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def prepare(var: Path, database_url: str, backend: str) -> tuple[dict, str]:
    """Migrate, load the shipped survey, create a token: (env, token)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SURVEYKB_VAR_DIR": str(var),
        "SURVEYKB_DATABASE_URL": database_url,
        "SURVEYKB_SEARCH_BACKEND": backend,
    }
    run(env, "db", "upgrade")
    run(env, "load-survey")
    from app.db import make_engine, session_scope
    from app.services import auth as auth_service

    eng = make_engine(database_url)
    with session_scope(eng) as s:
        user = auth_service.create_user(s, username="bench", password="bench-password-1")
        token = auth_service.create_api_token(s, user=user, name="bench")[1]
    eng.dispose()
    return env, token


class Server:
    def __init__(self, env: dict, workers: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(Path(env["SURVEYKB_VAR_DIR"]) / f"serve-{workers}.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(self.port)]
            + ["--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.base + "/api/v1/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start; see {self.log.name}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def load(base: str, paths: list[str], n: int, concurrency: int, cap: float) -> dict:
    """n GETs spread over the paths by `concurrency` threads, stopped at `cap` seconds."""
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(n))
    deadline = time.monotonic() + cap

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=30) as c:
            while time.monotonic() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                try:
                    r = c.get(paths[i % len(paths)])
                    ok = r.status_code == 200
                except httpx.HTTPError as exc:
                    ok, r = False, exc
                dt = time.perf_counter() - t0
                with lock:
                    lat.append(dt)
                    if not ok:
                        errors.append(str(getattr(r, "status_code", r)))

    # warm-up: one request per path (templates, searcher, caches)
    with httpx.Client(base_url=base, timeout=30) as c:
        for p in paths:
            c.get(p)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")

    return {
        "n": len(lat),
        "rps": len(lat) / wall if wall else 0.0,
        "p50": statistics.median(lat) * 1000 if lat else float("nan"),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "errors": len(errors),
    }


def import_once(base: str, token: str, n: int) -> str:
    r = httpx.post(
        base + "/api/v1/imports",
        files={"file": ("bench.bib", BIB.format(n=n).encode(), "application/x-bibtex")},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    if r.status_code != 202:
        return f"import answered {r.status_code}"
    job = r.json()["id"]
    for _ in range(300):
        body = httpx.get(
            f"{base}/api/v1/imports/{job}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        if body["status"] in ("done", "failed"):
            return body["status"]
        time.sleep(0.1)
    return "timeout"


def bench_config(label: str, env: dict, token: str, workers: int, args) -> None:
    server = Server(env, workers)
    try:
        print(f"\n== {label}, {workers} worker(s), {args.concurrency} client threads")
        print(
            f"{'endpoint':28} {'req':>5} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
            f"{'p99 ms':>8} {'errors':>6} {'vs base':>8}"
        )
        base_rps = None
        for name, path in ENDPOINTS:
            r = load(server.base, [path], args.requests, args.concurrency, args.cap)
            base_rps = base_rps or r["rps"]
            print(
                f"{name:28} {r['n']:5d} {r['rps']:8.1f} {r['p50']:8.1f} {r['p95']:8.1f} "
                f"{r['p99']:8.1f} {r['errors']:6d} {r['rps'] / base_rps:8.3f}"
            )
        status: list[str] = []
        imp = threading.Thread(
            target=lambda: status.append(import_once(server.base, token, workers))
        )
        imp.start()
        r = load(server.base, MIX, args.requests * 2, args.concurrency, args.cap)
        imp.join()
        print(
            f"{'mixed + 1 import':28} {r['n']:5d} {r['rps']:8.1f} {r['p50']:8.1f} "
            f"{r['p95']:8.1f} {r['p99']:8.1f} {r['errors']:6d} {r['rps'] / base_rps:8.3f}"
            f"   import: {status[0] if status else '?'}"
        )
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=300, help="requests per endpoint")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--cap", type=float, default=20.0, help="seconds per endpoint at most")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL configuration")
    args = ap.parse_args()
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="surveykb-load-"))
    try:
        var = tmp / "sqlite"
        var.mkdir()
        env, token = prepare(var, f"sqlite:///{var / 'surveykb.sqlite3'}", "whoosh")
        for w in workers:
            bench_config("SQLite + Whoosh", env, token, w, args)
        if not args.no_pg and pg_available():
            from sqlalchemy import create_engine, text
            from sqlalchemy.engine import make_url

            name = f"surveykb_bench_{secrets.token_hex(4)}"
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
                var = tmp / "pg"
                var.mkdir()
                env, token = prepare(var, url, "postgres")
                for w in workers:
                    bench_config("PostgreSQL + PostgreSQL FTS", env, token, w, args)
            finally:
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        else:
            print("\n(no PostgreSQL on 127.0.0.1:5432 or --no-pg: PostgreSQL rows skipped)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
