"""Helpers for the browser tests (imported by the test modules as `browser_kit`)."""

import json
import shutil
from pathlib import Path

from app.config import PROJECT_ROOT

HERE = Path(__file__).parent
AXE_JS = HERE / "vendor" / "axe-core-4.14.1.min.js"
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
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
    """Full-page PNG under docs/screenshots/ (refreshed on every e2e run)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    tmp = path.with_suffix(".tmp.png")
    page.screenshot(path=str(tmp), full_page=True, animations="disabled", caret="hide")
    shutil.move(tmp, path)
    return path
