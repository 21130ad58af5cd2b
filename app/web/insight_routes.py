"""Insight views (read-only, public): HTML page with SVG + table, or `?format=svg|csv`.

Every view is scoped to one survey: `?survey=slug`, or the default survey without it."""

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from app.deps import SessionDep
from app.models import Survey
from app.services import browse, insights
from app.web.rendering import env, render
from app.web.routes import survey_qs

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


@dataclass
class Scope:
    """The survey a view shows: `slug` is None for the default survey (plain URLs), and `qs`
    is the query string ("" or "survey=x") that keeps links in it."""

    survey: object
    slug: str | None
    qs: str
    surveys: list

    def url(self, path: str) -> str:
        if not self.qs:
            return path
        return f"{path}{'&' if '?' in path else '?'}{self.qs}"


def _scope(request: Request, session) -> Scope:
    wanted = request.query_params.get("survey", "").strip()[:80] or None
    survey = browse.resolve_survey(session, wanted)  # 404 for an unknown survey
    qs = survey_qs(session, survey)
    surveys = session.exec(select(Survey).order_by(Survey.id)).scalars().all()
    return Scope(survey, survey.slug if qs else None, qs, surveys if len(surveys) > 1 else [])


def _base(sc: Scope) -> dict:
    return {"nav": "insights", "scope": sc, "sq": sc.qs}


def _top(request: Request) -> int:
    try:
        return min(100, max(1, int(request.query_params.get("top", 15))))
    except (TypeError, ValueError):
        return 15


@router.get("/insights")
def insights_index(request: Request, session: SessionDep):
    sc = _scope(request, session)
    ctx = {
        **_base(sc),
        "counts": insights.summary_counts(session, sc.slug),
        "phases": insights.phase_list(session, sc.slug),
    }
    return render(request, "insights/index.html", ctx)


@router.get("/insights/matrix")
def matrix_view(request: Request, session: SessionDep):
    sc = _scope(request, session)
    m = insights.phase_challenge_matrix(session, sc.slug)
    ctx = {
        **_base(sc),
        "view": "matrix",
        "view_title": "Phase × challenge matrix",
        "export_base": sc.url("/insights/matrix"),
        "m": m,
        "L": insights.matrix_layout(m),
    }
    name = "phase-challenge-matrix"
    return _export(request, name, "insights/matrix.svg", ctx, m.csv_rows) or render(
        request, "insights/matrix.html", ctx
    )


def _bars(
    request: Request, sc: Scope, s: insights.Stacked, title: str, name: str, base: str, **extra
):
    ctx = {
        **_base(sc),
        "view": "years" if s.kind == "year" else "venues",
        "view_title": title,
        "export_base": sc.url(base),
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
    sc = _scope(request, session)
    s = insights.papers_per_year(session, sc.slug)
    title = "Papers per phase and year"
    return _bars(request, sc, s, title, "papers-per-year", "/insights/years")


@router.get("/insights/venues")
def venues_view(request: Request, session: SessionDep):
    sc = _scope(request, session)
    top = _top(request)
    s = insights.papers_per_venue(session, top=top, survey=sc.slug)
    base = f"/insights/venues?top={top}"
    return _bars(request, sc, s, "Papers per venue", "papers-per-venue", base, top=top)


@router.get("/insights/trace")
def trace_index(request: Request, session: SessionDep):
    """?phase=slug (the form) or the first phase; a redirect keeps one URL per phase."""
    sc = _scope(request, session)
    phases = insights.phase_list(session, sc.slug)
    wanted = request.query_params.get("phase", "")
    slugs = [p.slug for p in phases]
    if not slugs:
        return RedirectResponse(sc.url("/insights"), status_code=303)
    slug = wanted if wanted in slugs else slugs[0]
    return RedirectResponse(sc.url(f"/insights/trace/{slug}"), status_code=303)


@router.get("/insights/trace/{slug}")
def trace_view(slug: str, request: Request, session: SessionDep):
    sc = _scope(request, session)
    t = insights.traceability(session, slug, sc.slug)
    ctx = {
        **_base(sc),
        "view": "trace",
        "view_title": f"Traceability: {t.phase.name}",
        "export_base": sc.url(f"/insights/trace/{t.phase.slug}"),
        "t": t,
        "L": insights.trace_layout(t),
        "phases": insights.phase_list(session, sc.slug),
    }
    name = f"traceability-{t.phase.slug}"
    return _export(request, name, "insights/trace.svg", ctx, t.csv_rows) or render(
        request, "insights/trace.html", ctx
    )
