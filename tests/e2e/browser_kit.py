"""Helpers for the browser tests (imported by the test modules as `browser_kit`)."""

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from app.config import PROJECT_ROOT

HERE = Path(__file__).parent
AXE_JS = HERE / "vendor" / "axe-core-4.14.1.min.js"
# `make screenshots` refreshes the committed pictures in docs/screenshots/; an ordinary test run
# writes them under var/ so that running the suite never leaves the work tree modified.
SCREENSHOTS = Path(
    os.environ.get("SURVEYKB_SCREENSHOT_DIR") or PROJECT_ROOT / "var" / "e2e-screenshots"
)
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


# --------------------------------------------------------------------------- helpers


def wait_htmx_idle(page) -> None:
    """Wait until htmx has no request in flight and has settled the DOM."""
    page.wait_for_function(
        "() => window.htmx && !document.querySelector('.htmx-request, .htmx-settling,"
        " .htmx-swapping')"
    )


def run_axe(page, axe_source: str) -> list[dict]:
    """Run axe-core inside the page; return its serious and critical violations.

    The script is evaluated through the DevTools protocol, which a Content-Security-Policy does
    not block, so the audit keeps working once the app sends a strict CSP.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Sent as a function body (no eval in the page, so no 'unsafe-eval' needed).
        page.evaluate("() => {\n" + axe_source + "\n}")
    result = page.evaluate(
        """async () => {
            const r = await window.axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' +
                       (n.failureSummary || '').replace(/\\s+/g, ' ')),
            }));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def format_violations(violations: list[dict]) -> str:
    return json.dumps(violations, indent=2, ensure_ascii=False)


def save_screenshot(page, name: str) -> Path:
    """Full-page PNG under SCREENSHOTS (docs/screenshots/ with `make screenshots`)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    tmp = path.with_suffix(".tmp.png")
    # A stray hover or focus ring would make the picture differ from run to run.
    page.mouse.move(0, 0)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.screenshot(path=str(tmp), full_page=True, animations="disabled", caret="hide")
    shutil.move(tmp, path)
    return path


def assert_no_horizontal_overflow(page) -> None:
    """Nothing on the page is wider than the window (long titles and author lists wrap)."""
    over = page.evaluate(
        """() => {
            const w = document.documentElement.clientWidth;
            // Content inside a scrolling box (the phase x year table, the phone nav) may be
            // wider than the window: the box scrolls, the page does not.
            const scrolls = e => {
                for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
                    if (getComputedStyle(p).overflowX !== 'visible') return true;
                }
                return false;
            };
            const wide = [...document.querySelectorAll('body *')].filter(e => {
                const r = e.getBoundingClientRect();
                return r.width > 0 && r.right > w + 1 && !scrolls(e);
            });
            return {scroll: document.documentElement.scrollWidth, width: w,
                    wide: wide.slice(0, 5).map(e => e.tagName + '.' + e.className)};
        }"""
    )
    assert over["scroll"] <= over["width"], over
    assert not over["wide"], over


@dataclass
class Watcher:
    """Collects what a user (or their devtools) would see go wrong on every page."""

    problems: list[str] = field(default_factory=list)
    expected_status: set[int] = field(default_factory=set)

    def attach(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"uncaught exception: {exc}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, msg) -> None:
        # Chromium logs every 4xx/5xx as a console error too; _response judges those (and knows
        # which statuses a test expects), so they are not counted twice here.
        if msg.text.startswith("Failed to load resource: the server responded with a status"):
            return
        if msg.type in ("error", "assert"):
            loc = msg.location or {}
            self.problems.append(f"console.{msg.type} at {loc.get('url', '?')}: {msg.text}")

    def _failed(self, request) -> None:
        failure = request.failure or ""
        # A navigation that replaces the page cancels what the old page still had in flight;
        # that is the browser working as designed, not a failed request.
        if "ERR_ABORTED" in failure:
            return
        self.problems.append(f"request failed: {request.method} {request.url}: {failure}")

    def _response(self, response) -> None:
        if response.status >= 400 and response.status not in self.expected_status:
            req = response.request
            self.problems.append(f"HTTP {response.status}: {req.method} {response.url}")

    def check(self) -> None:
        assert not self.problems, "problems seen in the browser:\n" + "\n".join(self.problems)
