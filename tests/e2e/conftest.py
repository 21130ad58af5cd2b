"""Browser end-to-end tests: Debian's Chromium, driven by Playwright, against a real uvicorn.

One server per test session (fresh var dir, migrated with `surveykb db upgrade`, loaded with the
shipped survey by `surveykb load-survey`) and one browser; every test gets its own browser
context. Every page a test opens is watched: a console error, an uncaught exception, a request
that fails or answers 4xx/5xx fails the test (unless the test says it expects that status).

The whole package is skipped, with the reason printed, when /usr/bin/chromium is absent. No
browser is ever downloaded (`playwright install` is never needed).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT

sys.path.insert(0, str(Path(__file__).parent))
from browser_kit import AXE_JS, DESKTOP, HERE, Watcher  # noqa: E402

CHROMIUM = Path(os.environ.get("SURVEYKB_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-dev-shm-usage",
]

SKIP_REASON = (
    f"browser end-to-end tests skipped: no Chromium at {CHROMIUM} "
    "(install Debian's package: apt-get install -y chromium)"
)


def _have_browser() -> bool:
    if not CHROMIUM.exists():
        return False
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


HAVE_BROWSER = _have_browser()


# `make test` runs the suite a second time against PostgreSQL when one answers; the browser
# tests drive their own SQLite-backed server, so they run only in the first pass.
SECOND_PASS = bool(os.environ.get("SURVEYKB_TEST_DATABASE_URL"))


def pytest_collection_modifyitems(config, items):
    if HAVE_BROWSER and not SECOND_PASS:
        return
    reason = SKIP_REASON if not HAVE_BROWSER else "browser tests ran in the SQLite pass"
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(skip)


def pytest_report_header(config):
    return f"e2e: {'Chromium ' + str(CHROMIUM) if HAVE_BROWSER else SKIP_REASON}"


# --------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/api/v1/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"uvicorn did not become healthy in {timeout}s:\n{log.read_text()}")


@dataclass
class Server:
    url: str
    var_dir: Path
    env: dict
    log: Path

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run `surveykb ARGS` against this server's database."""
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )


@contextmanager
def running_server(var: Path):
    """Migrate and load a fresh var dir with the CLI, serve it with uvicorn, stop it after."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYKB_")}
    env.update({"SURVEYKB_VAR_DIR": str(var), "PYTHONUNBUFFERED": "1"})
    log = var / "uvicorn.log"
    port = _free_port()
    srv = Server(url=f"http://127.0.0.1:{port}", var_dir=var, env=env, log=log)
    for step in (("db", "upgrade"), ("load-survey",)):
        done = srv.cli(*step, check=False)
        assert done.returncode == 0, f"surveykb {' '.join(step)} failed:\n{done.stderr}"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory"]
            + ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(srv.url, proc, log)
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    """The shipped survey, served for the whole session; tests may add lists, not papers."""
    if not HAVE_BROWSER:
        pytest.skip(SKIP_REASON)
    with running_server(tmp_path_factory.mktemp("e2e-var")) as srv:
        yield srv


@pytest.fixture(scope="module")
def own_server(tmp_path_factory) -> Server:
    """A server of the module's own, for tests that add papers (the screenshots stay stable)."""
    if not HAVE_BROWSER:
        pytest.skip(SKIP_REASON)
    with running_server(tmp_path_factory.mktemp("e2e-own-var")) as srv:
        yield srv


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _new_page(browser, server, watcher: Watcher, **context_args):
    args = {"viewport": DESKTOP, "base_url": server.url, "locale": "en-GB", **context_args}
    context = browser.new_context(**args)
    context.set_default_timeout(10_000)
    context.on("page", watcher.attach)
    return context, context.new_page()


@pytest.fixture
def watcher() -> Watcher:
    return Watcher()


@pytest.fixture
def page(browser, server, watcher):
    """A desktop page with JavaScript on; the test fails on any console error or bad request."""
    context, pg = _new_page(browser, server, watcher)
    yield pg
    context.close()
    watcher.check()


@pytest.fixture
def nojs_page(browser, server, watcher):
    """A page with JavaScript disabled, watched the same way."""
    context, pg = _new_page(browser, server, watcher, java_script_enabled=False)
    yield pg
    context.close()
    watcher.check()


@pytest.fixture
def make_page(browser, server, watcher):
    """Factory for pages with other context options (viewport, colour scheme, ...)."""
    contexts = []

    def make(on=None, **context_args):
        context, pg = _new_page(browser, on or server, watcher, **context_args)
        contexts.append(context)
        return pg

    yield make
    for c in contexts:
        c.close()
    watcher.check()


@pytest.fixture(scope="session")
def axe_source() -> str:
    return AXE_JS.read_text(encoding="utf-8")
