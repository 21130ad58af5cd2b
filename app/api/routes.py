"""JSON API under /api/v1: the same services as the HTML pages, rendered as JSON."""

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, select

from app.api import schemas
from app.deps import IndexDep, SessionDep
from app.models import Paper
from app.services import browse
from app.services import search as search_service
from app.services.filters import SORTS, PaperFilters

router = APIRouter(tags=["api"])


def _phase_out(row: dict) -> dict:
    p = row["phase"]
    return {
        "slug": p.slug,
        "name": p.name,
        "position": p.position,
        "summary": p.summary,
        "challenge_count": row["challenges"],
        "direction_count": row["directions"],
        "paper_count": row["papers"],
    }


SURVEY_Q = Query(
    default=None,
    max_length=80,
    description="Survey slug (see /surveys); default: the first survey loaded.",
)


@router.get("/surveys", response_model=list[schemas.SurveyOut])
def list_surveys(session: SessionDep):
    """The loaded surveys, the default one first, with counts."""
    return [
        {
            "slug": r["survey"].slug,
            "title": r["survey"].title,
            "year": r["survey"].year,
            "url": r["survey"].url,
            "default": r["default"],
            "phase_count": r["phases"],
            "challenge_count": r["challenges"],
            "direction_count": r["directions"],
            "paper_count": r["papers"],
        }
        for r in browse.list_surveys(session)
    ]


@router.get("/phases", response_model=list[schemas.PhaseOut])
def list_phases(session: SessionDep, survey: str | None = SURVEY_Q):
    """The lifecycle phases of one survey in order, with counts."""
    sv = browse.resolve_survey(session, survey)
    return [_phase_out(r) for r in browse.phases_overview(session, survey=sv)]


@router.get("/phases/{slug}", response_model=schemas.PhaseDetailOut)
def get_phase(slug: str, session: SessionDep, survey: str | None = SURVEY_Q):
    """One phase with its challenges and research directions."""
    d = browse.phase_detail(session, slug, survey=survey)
    phase = d["phase"]
    return {
        "slug": phase.slug,
        "name": phase.name,
        "position": phase.position,
        "summary": phase.summary,
        "challenge_count": len(d["challenges"]),
        "direction_count": len(d["directions"]),
        "paper_count": d["paper_total"],
        "challenges": [
            {
                **_item(r["item"], phase.slug),
                "paper_count": r["papers"],
                "directions": [x.slug for x in r["directions"]],
            }
            for r in d["challenges"]
        ],
        "directions": [
            {
                **_item(r["item"], phase.slug),
                "paper_count": r["papers"],
                "challenges": [x.slug for x in r["challenges"]],
            }
            for r in d["directions"]
        ],
    }


def _item(obj, phase_slug: str) -> dict:
    return {
        "slug": obj.slug,
        "title": obj.title,
        "description": obj.description,
        "source": obj.source,
        "phase": phase_slug,
        "retired": obj.retired,
    }


@router.get("/challenges/{slug}", response_model=schemas.ChallengeDetailOut)
def get_challenge(slug: str, session: SessionDep, survey: str | None = SURVEY_Q):
    """A challenge, the directions that address it and its papers."""
    d = browse.challenge_detail(session, slug, survey=survey)
    return {
        **_item(d["item"], d["phase"].slug),
        "paper_count": d["papers"].total,
        "directions": [x.slug for x in d["directions"]],
        "papers": [_paper_item(p) for p in d["papers"].items],
    }


@router.get("/directions/{slug}", response_model=schemas.DirectionDetailOut)
def get_direction(slug: str, session: SessionDep, survey: str | None = SURVEY_Q):
    """A research direction, the challenges it addresses and its papers."""
    d = browse.direction_detail(session, slug, survey=survey)
    return {
        **_item(d["item"], d["phase"].slug),
        "paper_count": d["papers"].total,
        "challenges": [x.slug for x in d["challenges"]],
        "papers": [_paper_item(p) for p in d["papers"].items],
    }


def _paper_item(item: browse.PaperItem) -> dict:
    return item.as_dict()


@router.get("/papers", response_model=schemas.PaperPageOut)
def list_papers(
    request: Request,
    session: SessionDep,
    index: IndexDep,
    phase: list[str] = Query(default=[]),
    challenge: list[str] = Query(default=[]),
    direction: list[str] = Query(default=[]),
    venue: list[str] = Query(default=[]),
    type: list[str] = Query(default=[]),
    tag: list[str] = Query(default=[]),
    year_from: int | None = Query(default=None, ge=0, le=9999),
    year_to: int | None = Query(default=None, ge=0, le=9999),
    sort: str = Query(default="year", pattern="^(" + "|".join(SORTS) + ")$"),
    page: int = Query(default=1, ge=1, le=10**6),
    per_page: int = Query(default=25, ge=1, le=200),
    q: str = Query(default="", max_length=500, description="Full-text query (as /search)."),
    survey: str | None = Query(
        default=None,
        max_length=80,
        description="Survey slug: phase/challenge/direction values and facets are those of "
        "this survey (default: the first one loaded), and only its papers are listed.",
    ),
):
    """Papers filtered like /papers (OR within a facet, AND across), with facet counts.

    With `q`, only full-text matches, ranked by relevance unless `sort` is given."""
    f = PaperFilters.from_params(request.query_params)
    ids = order = None
    if f.q:
        ids, ranked, _notice = search_service.paper_ids_for_query(index, f.q)
        order = ranked if "sort" not in request.query_params else None
    result = browse.list_papers(
        session, f, sort=sort, page=page, per_page=per_page, ids=ids, order_ids=order
    )
    return {
        "items": [_paper_item(p) for p in result.items],
        "total": result.total,
        "page": result.page,
        "per_page": result.per_page,
        "facets": result.facets,
    }


@router.get("/papers/{citekey}", response_model=schemas.PaperDetailOut)
def get_paper(citekey: str, session: SessionDep):
    """One paper with every original field and its raw BibTeX."""
    d = browse.paper_detail(session, citekey)
    paper = d["paper"]
    return {
        **_paper_item(d["item"]),
        "abstract": paper.abstract,
        "fields": {k: str(v) for k, v in paper.fields.items()},
        "raw_bibtex": paper.raw_bibtex,
        "tags": d["tags"],
        "aliases": d["aliases"],
    }


@router.get("/healthz", response_model=schemas.Health)
def healthz(session: SessionDep):
    """Liveness and database reachability."""
    n = session.exec(select(func.count()).select_from(Paper)).scalar_one()
    return {"status": "ok", "database": "ok", "papers": n}
