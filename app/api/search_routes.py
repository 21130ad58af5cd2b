"""JSON search: /api/v1/search?q=&kind=paper|challenge|direction (+ facet filters)."""

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from app.deps import IndexDep, SessionDep
from app.services import search as search_service

router = APIRouter(tags=["api"])


class SearchFacetOption(BaseModel):
    value: str
    label: str
    count: int
    selected: bool = False


class SearchPageOut(BaseModel):
    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int
    facets: dict[str, list[SearchFacetOption]]
    kinds: dict[str, int]
    query: str
    suggestion: str | None = None
    notice: str | None = None


@router.get("/search", response_model=SearchPageOut)
def search(
    request: Request,
    session: SessionDep,
    index: IndexDep,
    q: str = Query(default="", max_length=500, description="Query (see /search for syntax)."),
    kind: str | None = Query(default=None, pattern="^(paper|challenge|direction)$"),
    page: int = Query(default=1, ge=1, le=10**6),
    per_page: int = Query(default=20, ge=1, le=100),
    survey: str | None = Query(
        default=None,
        max_length=80,
        description="A survey's slug: only its challenges, directions and classified papers, "
        "with its phase/challenge/direction slugs as facets (default: every document, the "
        "first survey's facets).",
    ),
):
    """Ranked hits across papers, challenges and directions, with highlights and facets.

    Each item has `kind`, `score` and `highlights` (escaped HTML, matched words in <mark>);
    papers carry the paper fields of /papers, challenges and directions their slug and phase.
    Filters: `phase`, `challenge`, `direction`, `venue`, `year` (repeatable), `year_from`,
    `year_to`; `survey` scopes them (and the hits) to one survey. `suggestion` is a "did you
    mean" query; `notice` explains a fallback.
    """
    params = search_service.SearchParams.from_params(request.query_params)
    ctx = search_service.search(session, index, params)
    result = ctx["result"]
    return {
        "items": [search_service.hit_json(e) for e in ctx["items"]],
        "total": result.total,
        "page": result.page,
        "per_page": result.per_page,
        "facets": ctx["facets"],
        "kinds": result.kinds,
        "query": result.query,
        "suggestion": result.suggestion,
        "notice": result.notice,
    }
