"""One render() for pages and their fragments (DESIGN.md convention 5).

A page is one template; an HTMX request that is not a boost or a history restore gets only the
named block of that same template. Every response varies on HX-Request so caches never serve a
fragment where a page was asked for.
"""

from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from jinja2_fragments import render_block
from markupsafe import Markup, escape

from app import __version__
from app.config import PROJECT_ROOT

env = Environment(
    loader=FileSystemLoader(str(PROJECT_ROOT / "templates")),
    autoescape=select_autoescape(["html", "xml", "svg"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _safe_url(value: str | None) -> str | None:
    """Only http(s) URLs become links; anything else (javascript:, data:) is dropped."""
    if not value:
        return None
    v = str(value).strip()
    return v if v.lower().startswith(("http://", "https://")) else None


def _authors(names: list[str], limit: int = 6) -> str:
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[: limit - 1]) + f", … {names[-1]} ({len(names)} authors)"


def _nl2p(text: str) -> Markup:
    parts = [p.strip() for p in str(text or "").split("\n\n") if p.strip()]
    return Markup("".join(f"<p>{escape(p)}</p>" for p in parts))


env.filters["safe_url"] = _safe_url
env.filters["authors"] = _authors
env.filters["nl2p"] = _nl2p
env.filters["urlq"] = lambda v: quote(str(v), safe="")
env.globals["version"] = __version__


def _macros() -> dict[str, Any]:
    module = env.get_template("_macros.html").module
    return {k: v for k, v in vars(module).items() if not k.startswith("_")}


def is_fragment_request(request: Request) -> bool:
    h = request.headers
    return (
        h.get("hx-request") == "true"
        and h.get("hx-boosted") != "true"
        and h.get("hx-history-restore-request") != "true"
    )


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    block: str | None = "content",
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render the full page, or only `block` for an HTMX fragment request."""
    ctx = {"request": request, **context}
    if block and is_fragment_request(request):
        # A block rendered alone does not run the template's top-level {% from ... import %},
        # so the shared macros are passed in explicitly.
        ctx = {**_macros(), **ctx}
        html = render_block(env, template, block, ctx)
    else:
        html = env.get_template(template).render(ctx)
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers["Vary"] = "HX-Request"
    return response
