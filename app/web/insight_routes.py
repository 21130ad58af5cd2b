"""Insight views (read-only, public): HTML page with SVG + table, or `?format=svg|csv`."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app.deps import SessionDep
from app.services import insights
from app.web.rendering import env, render

router = APIRouter(include_in_schema=False)
SVG_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def _export(request: Request, name: str, svg_template: str, ctx: dict, csv_rows) -> Response | None:
    """The SVG or CSV download when `format` asks for one; None for the HTML page."""
    fmt = request.query_params.get("format", "")
    if fmt == "svg":
        body = SVG_HEAD + env.get_template(svg_template).render({**ctx, "standalone": True})
        return Response(
            body,
            media_type="image/svg+xml",
            headers={"Content-Disposition": f'attachment; filename="{name}.svg"'},
        )
    if fmt == "csv":
        return Response(
            insights.to_csv(csv_rows()),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return None


def _top(request: Request) -> int:
    try:
        return min(100, max(1, int(request.query_params.get("top", 15))))
    except (TypeError, ValueError):
        return 15


@router.get("/insights")
def insights_index(request: Request, session: SessionDep):
    ctx = {
        "nav": "insights",
        "counts": insights.summary_counts(session),
        "phases": insights.phase_list(session),
    }
    return render(request, "insights/index.html", ctx)


@router.get("/insights/matrix")
def matrix_view(request: Request, session: SessionDep):
    m = insights.phase_challenge_matrix(session)
    ctx = {
        "nav": "insights",
        "view": "matrix",
        "view_title": "Phase × challenge matrix",
        "export_base": "/insights/matrix",
        "m": m,
        "L": insights.matrix_layout(m),
    }
    name = "phase-challenge-matrix"
    return _export(request, name, "insights/matrix.svg", ctx, m.csv_rows) or render(
        request, "insights/matrix.html", ctx
    )


def _bars(request: Request, s: insights.Stacked, title: str, name: str, base: str, **extra):
    ctx = {
        "nav": "insights",
        "view": "years" if s.kind == "year" else "venues",
        "view_title": title,
        "export_base": base,
        "s": s,
        "L": insights.stacked_layout(s, horizontal=s.kind == "venue"),
        "legend_phases": s.phases,
        "colour": insights.colour,
        **extra,
    }
    return _export(request, name, "insights/bars.svg", ctx, s.csv_rows) or render(
        request, "insights/bars.html", ctx
    )


@router.get("/insights/years")
def years_view(request: Request, session: SessionDep):
    s = insights.papers_per_year(session)
    return _bars(request, s, "Papers per phase and year", "papers-per-year", "/insights/years")


@router.get("/insights/venues")
def venues_view(request: Request, session: SessionDep):
    top = _top(request)
    s = insights.papers_per_venue(session, top=top)
    base = f"/insights/venues?top={top}"
    return _bars(request, s, "Papers per venue", "papers-per-venue", base, top=top)


@router.get("/insights/trace")
def trace_index(request: Request, session: SessionDep):
    """?phase=slug (the form) or the first phase; a redirect keeps one URL per phase."""
    phases = insights.phase_list(session)
    wanted = request.query_params.get("phase", "")
    slugs = [p.slug for p in phases]
    if not slugs:
        return RedirectResponse("/insights", status_code=303)
    slug = wanted if wanted in slugs else slugs[0]
    return RedirectResponse(f"/insights/trace/{slug}", status_code=303)


@router.get("/insights/trace/{slug}")
def trace_view(slug: str, request: Request, session: SessionDep):
    t = insights.traceability(session, slug)
    ctx = {
        "nav": "insights",
        "view": "trace",
        "view_title": f"Traceability: {t.phase.name}",
        "export_base": f"/insights/trace/{t.phase.slug}",
        "t": t,
        "L": insights.trace_layout(t),
        "phases": insights.phase_list(session),
    }
    name = f"traceability-{t.phase.slug}"
    return _export(request, name, "insights/trace.svg", ctx, t.csv_rows) or render(
        request, "insights/trace.html", ctx
    )
