"""HTML search page: /search?q= (live results as you type, kind filter, facets, pages)."""

from fastapi import APIRouter, Request

from app.deps import IndexDep, SessionDep
from app.services import search as search_service
from app.web.rendering import render

router = APIRouter(include_in_schema=False)


@router.get("/search")
def search_page(request: Request, session: SessionDep, index: IndexDep):
    params = search_service.SearchParams.from_params(request.query_params)
    ctx = search_service.run_search(session, index, params)
    return render(request, "search/page.html", {"nav": "search", **ctx}, block="results")
