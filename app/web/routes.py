"""HTML routes: parse the request, call one service, render a page or its fragment."""

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from sqlalchemy import func, select

from app.deps import IndexDep, SessionDep
from app.models import Challenge, Direction, Paper, Phase, Survey
from app.services import browse
from app.services import search as search_service
from app.services.filters import SORTS, PaperFilters
from app.web.rendering import render

router = APIRouter(include_in_schema=False)


def int_param(request: Request, name: str, default: int, lo: int = 1, hi: int = 10**6) -> int:
    """Lenient integer query parameter: junk falls back to the default instead of a 422."""
    try:
        return min(hi, max(lo, int(request.query_params.get(name, default))))
    except (TypeError, ValueError):
        return default


def survey_qs(session, survey) -> str:
    """Query string that scopes links to `survey` ("" for the default survey, whose URLs
    stay unprefixed)."""
    default = browse.default_survey(session)
    if survey is None or default is None or survey.id == default.id:
        return ""
    return urlencode({"survey": survey.slug})


def _survey_home(request: Request, session, survey, surveys: list[dict] | None = None):
    phases = browse.phases_overview(session, survey=survey)
    if survey is None:
        papers = 0
    elif surveys is None or len(surveys) > 1:
        papers = browse.survey_paper_count(session, survey)
    else:  # one survey: every paper counts, as before surveys could be several
        papers = session.exec(select(func.count()).select_from(Paper)).scalar_one()
    totals = {
        "papers": papers,
        "challenges": sum(r["challenges"] for r in phases),
        "directions": sum(r["directions"] for r in phases),
    }
    return render(
        request,
        "home/index.html",
        {
            "nav": "home",
            "survey": survey,
            "surveys": surveys or [],
            "sq": survey_qs(session, survey),
            "phases": phases,
            "table": browse.phase_year_table(session, survey=survey),
            "totals": totals,
        },
    )


@router.get("/")
def home(request: Request, session: SessionDep):
    surveys = browse.list_surveys(session)
    return _survey_home(request, session, browse.default_survey(session), surveys)


@router.get("/surveys")
def surveys_page(request: Request, session: SessionDep):
    return render(
        request, "surveys/index.html", {"nav": "home", "surveys": browse.list_surveys(session)}
    )


@router.get("/surveys/{slug}")
def survey_page(slug: str, request: Request, session: SessionDep):
    return _survey_home(request, session, browse.resolve_survey(session, slug))


def _survey_param(request: Request) -> str | None:
    v = request.query_params.get("survey", "").strip()
    return v[:80] or None


@router.get("/phases/{slug}")
def phase_page(slug: str, request: Request, session: SessionDep):
    ctx = browse.phase_detail(session, slug, survey=_survey_param(request))
    ctx["sq"] = survey_qs(session, ctx["survey"])
    return render(request, "phases/detail.html", {"nav": "home", **ctx})


@router.get("/challenges/{slug}")
def challenge_page(slug: str, request: Request, session: SessionDep):
    ctx = browse.challenge_detail(session, slug, survey=_survey_param(request))
    ctx["sq"] = survey_qs(session, ctx["survey"])
    return render(request, "challenges/detail.html", {"nav": "home", **ctx}, block="expansion")


@router.get("/directions/{slug}")
def direction_page(slug: str, request: Request, session: SessionDep):
    ctx = browse.direction_detail(session, slug, survey=_survey_param(request))
    ctx["sq"] = survey_qs(session, ctx["survey"])
    return render(request, "directions/detail.html", {"nav": "home", **ctx}, block="expansion")


def active_filters(session, f: PaperFilters) -> list[dict]:
    """Chips for the active filters, each with the query string that removes it."""
    labels: dict[str, dict[str, str]] = {"phase": {}, "challenge": {}, "direction": {}}
    survey_id = browse.scope_id(f.survey)
    if f.phase:
        labels["phase"] = dict(
            session.exec(
                select(Phase.slug, Phase.name).where(
                    Phase.slug.in_(f.phase), Phase.survey_id == survey_id
                )
            ).all()
        )
    for name, model in (("challenge", Challenge), ("direction", Direction)):
        values = getattr(f, name)
        if values:
            labels[name] = dict(
                session.exec(
                    select(model.slug, model.title).where(
                        model.slug.in_(values), model.survey_id == survey_id
                    )
                ).all()
            )
    out = []
    for name in ("phase", "challenge", "direction", "venue", "type", "tag"):
        for v in getattr(f, name):
            prefix = {"type": "Type", "tag": "Tag", "venue": "Venue"}.get(name, "")
            label = labels.get(name, {}).get(v, v)
            out.append(
                {"label": f"{prefix}: {label}" if prefix else label, "remove": f.toggle(name, v)}
            )
    if f.year_from is not None or f.year_to is not None:
        label = f"{f.year_from or '…'}–{f.year_to or '…'}"
        if f.year_from == f.year_to:
            label = str(f.year_from)
        out.append({"label": f"Year {label}", "remove": f.query(year_from=None, year_to=None)})
    if f.q:
        out.append({"label": f"Text: {f.q}", "remove": f.query(q=None)})
    if f.survey:
        title = session.exec(select(Survey.title).where(Survey.slug == f.survey)).scalar()
        out.append({"label": f"Survey: {title or f.survey}", "remove": f.query(survey=None)})
    return out


@router.get("/papers")
def papers_page(request: Request, session: SessionDep, index: IndexDep):
    settings = request.app.state.settings
    f = PaperFilters.from_params(request.query_params)
    sort = request.query_params.get("sort", "year")
    sort = sort if sort in SORTS else "year"
    per_page = int_param(request, "per_page", settings.per_page_default, 1, settings.per_page_max)
    page_no = int_param(request, "page", 1)
    ids = order = None
    if f.q:  # full-text hits, ranked by relevance unless a sort was chosen
        ids, ranked, _notice = search_service.paper_ids_for_query(index, f.q)
        order = ranked if "sort" not in request.query_params else None
    page = browse.list_papers(
        session, f, sort=sort, page=page_no, per_page=per_page, ids=ids, order_ids=order
    )
    years = [int(o["value"]) for o in page.facets.get("year", [])]

    def query_fn(**extra):
        base = {"sort": sort if sort != "year" else None}
        if per_page != settings.per_page_default:
            base["per_page"] = per_page
        return f.query(**{**base, **extra})

    return render(
        request,
        "papers/list.html",
        {
            "nav": "papers",
            "page": page,
            "filters": f,
            "sort": sort,
            "sorts": SORTS,
            "per_page": per_page,
            "default_per_page": settings.per_page_default,
            "query_fn": query_fn,
            "active": active_filters(session, f),
            "year_min": min(years) if years else None,
            "year_max": max(years) if years else None,
        },
        block="results",
    )


@router.get("/papers/{citekey}")
def paper_page(citekey: str, request: Request, session: SessionDep, index: IndexDep):
    from app.services.indexing import related_papers

    ctx = browse.paper_detail(session, citekey)
    ctx["related"] = related_papers(session, index, ctx["paper"].id)
    return render(request, "papers/detail.html", {"nav": "papers", **ctx})
