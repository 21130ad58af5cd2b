"""GET /api/v1/export: the current filter (or a reading list) as a file, streamed."""

from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from app.deps import SessionDep
from app.services import export
from app.services.filters import PaperFilters

router = APIRouter(tags=["export"])


def _index(request: Request):
    return getattr(request.app.state, "index", None)


def visible_list(request: Request, session, slug: str):
    """A reading list the caller may read: public, or private and their own (else 404)."""
    from app.errors import NotFound
    from app.services import lists

    rl = lists.get_list(session, slug)
    if not rl.public:
        user = _user(request, session)
        if user is None or (rl.owner_id != user.id and getattr(user, "role", "") != "admin"):
            raise NotFound(f"No reading list '{slug}'.")
    return rl


def _user(request: Request, session):
    from app.auth import current_user

    return current_user(request, session)


def export_response(request: Request, session) -> StreamingResponse:
    """Plan the export with the request's session, then stream it with a session of its own."""
    params = request.query_params
    fmt = export.check_format(params.get("format"))
    slug = (params.get("list") or "").strip()
    if slug:
        visible_list(request, session, slug)
    plan = export.plan_export(
        session,
        fmt=fmt,
        filters=PaperFilters.from_params(params),
        list_slug=slug or None,
        # as on /papers: a text query ranks by relevance unless a sort was chosen
        sort=params.get("sort") or ("relevance" if params.get("q") else "year"),
        index=_index(request),
    )
    disposition = "inline" if params.get("inline") in ("1", "true") else "attachment"
    headers = {
        "Content-Disposition": f'{disposition}; filename="{plan.filename}"; '
        f"filename*=UTF-8''{quote(plan.filename)}",
        "X-Export-Count": str(plan.count),
        "Cache-Control": "no-store",
    }
    engine = request.app.state.engine
    return StreamingResponse(
        (chunk.encode("utf-8") for chunk in plan.chunks(engine)),
        media_type=plan.media_type,
        headers=headers,
    )


@router.get("/export")
def export_papers(
    request: Request,
    session: SessionDep,
    format: str = Query(
        default="bibtex", description="bibtex, biblatex, csljson, ris, csv or markdown"
    ),
    list: str | None = Query(default=None, description="export this reading list (slug)"),
    phase: list[str] = Query(default=[]),
    challenge: list[str] = Query(default=[]),
    direction: list[str] = Query(default=[]),
    venue: list[str] = Query(default=[]),
    type: list[str] = Query(default=[]),
    tag: list[str] = Query(default=[]),
    year_from: str | None = Query(default=None),
    year_to: str | None = Query(default=None),
    q: str | None = Query(default=None, description="full-text query, as on /papers"),
    sort: str = Query(default="year"),
):
    """Every paper matching the /papers filters, or a reading list, as a downloadable file."""
    return export_response(request, session)
