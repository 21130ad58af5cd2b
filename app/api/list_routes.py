"""JSON CRUD for reading lists under /api/v1/lists, and the full dump at /api/v1/dump.

Reading public lists is open; every change (and the dump) needs a signed-in editor: a session
cookie with a CSRF token, or `Authorization: Bearer <token>`.
"""

from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from app.api.export_routes import visible_list
from app.auth import EditorDep
from app.deps import SessionDep
from app.models import ReadingList
from app.services import dump, lists

router = APIRouter(tags=["lists"])
Status = Literal["to-read", "reading", "read"]


class ListCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    slug: str | None = Field(default=None, max_length=120)
    filter: dict[str, Any] | None = Field(
        default=None, description="A saved filter (the /papers parameters): the list is live."
    )
    public: bool = True


class ListUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    filter: dict[str, Any] | None = None
    public: bool | None = None


class ItemCreate(BaseModel):
    citekey: str = Field(min_length=1, max_length=250)
    note: str = Field(default="", max_length=5000)
    status: Status = "to-read"


class ItemUpdate(BaseModel):
    note: str | None = Field(default=None, max_length=5000)
    status: Status | None = None
    move: Literal["up", "down", "top", "bottom"] | None = None


def _list_out(
    session: Session,
    rl: ReadingList,
    request: Request,
    *,
    detail: bool = False,
    page: int = 1,
    per_page: int = 100,
) -> dict:
    out: dict[str, Any] = {
        "slug": rl.slug,
        "name": rl.name,
        "description": rl.description,
        "kind": "filter" if rl.filter is not None else "picked",
        "filter": rl.filter,
        "public": rl.public,
        "url": f"/lists/{rl.slug}",
        "created_at": rl.created_at,
        "updated_at": rl.updated_at,
    }
    if detail:
        ctx = lists.list_detail(
            session,
            rl,
            page=page,
            per_page=per_page,
            index=getattr(request.app.state, "index", None),
        )
        out |= {
            "total": ctx["total"],
            "page": ctx["page"],
            "per_page": ctx["per_page"],
            "items": [
                {**e.item.as_dict(), "note": e.note, "status": e.status, "position": e.position}
                for e in ctx["entries"]
            ],
        }
    return out


def _user_id(request: Request, session) -> int | None:
    from app.api.export_routes import _user

    user = _user(request, session)
    return user.id if user else None


@router.get("/lists")
def get_lists(
    request: Request,
    session: SessionDep,
    page: int = Query(default=1, ge=1, le=10**6),
    per_page: int = Query(default=100, ge=1, le=500),
):
    """Reading lists (public ones, and your private ones when signed in), with paper counts."""
    rows = lists.all_lists(
        session, user_id=_user_id(request, session), index=getattr(request.app.state, "index", None)
    )
    chunk = rows[(page - 1) * per_page : page * per_page]
    return {
        "items": [{**_list_out(session, r["list"], request), "count": r["count"]} for r in chunk],
        "total": len(rows),
        "page": page,
        "per_page": per_page,
    }


@router.post("/lists", status_code=201)
def create_list(body: ListCreate, request: Request, session: SessionDep, user: EditorDep):
    """Create a list: hand-picked (no `filter`) or a live saved filter."""
    rl = lists.create_list(
        session,
        name=body.name,
        description=body.description,
        filter=body.filter,
        slug=body.slug,
        public=body.public,
        owner_id=user.id,
    )
    session.commit()
    return _list_out(session, rl, request, detail=True)


@router.get("/lists/{slug}")
def get_list(
    slug: str,
    request: Request,
    session: SessionDep,
    page: int = Query(default=1, ge=1, le=10**6),
    per_page: int = Query(default=100, ge=1, le=500),
):
    """A list with its papers in order, each with its note and read status."""
    rl = visible_list(request, session, slug)
    return _list_out(session, rl, request, detail=True, page=page, per_page=per_page)


@router.patch("/lists/{slug}")
def update_list(
    slug: str, body: ListUpdate, request: Request, session: SessionDep, user: EditorDep
):
    """Rename, describe, publish, or change the saved filter (`filter: null` unlinks it)."""
    rl = visible_list(request, session, slug)
    lists.update_list(session, rl, **body.model_dump(exclude_unset=True))
    session.commit()
    return _list_out(session, rl, request, detail=True)


@router.delete("/lists/{slug}", status_code=204)
def delete_list(slug: str, request: Request, session: SessionDep, user: EditorDep):
    """Delete a list (its papers stay)."""
    lists.delete_list(session, visible_list(request, session, slug))
    session.commit()
    return Response(status_code=204)


@router.post("/lists/{slug}/items", status_code=201)
def add_item(
    slug: str,
    body: ItemCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    user: EditorDep,
):
    """Append a paper (200 if it was already there)."""
    rl = visible_list(request, session, slug)
    item, created = lists.add_paper(session, rl, body.citekey, note=body.note, status=body.status)
    session.commit()
    if not created:
        response.status_code = 200
    return {
        "citekey": body.citekey,
        "position": item.position,
        "note": item.note,
        "status": item.status,
        "created": created,
    }


@router.patch("/lists/{slug}/items/{citekey}")
def update_item(
    slug: str,
    citekey: str,
    body: ItemUpdate,
    request: Request,
    session: SessionDep,
    user: EditorDep,
):
    """Change an item's note or status, or move it (`up`, `down`, `top`, `bottom`)."""
    rl = visible_list(request, session, slug)
    if body.move:
        lists.move_item(session, rl, citekey, body.move)
    item = lists.update_item(session, rl, citekey, note=body.note, status=body.status)
    session.commit()
    return {"citekey": citekey, "position": item.position, "note": item.note, "status": item.status}


@router.delete("/lists/{slug}/items/{citekey}", status_code=204)
def remove_item(slug: str, citekey: str, request: Request, session: SessionDep, user: EditorDep):
    """Remove a paper from a list."""
    lists.remove_paper(session, visible_list(request, session, slug), citekey)
    session.commit()
    return Response(status_code=204)


@router.get("/dump")
def get_dump(request: Request, session: SessionDep, user: EditorDep):
    """The whole knowledge base as one JSON file (docs/dump-format.md); signed-in users only."""
    engine = request.app.state.engine

    def chunks():
        with Session(engine, expire_on_commit=False) as s:
            for chunk in dump.iter_dump(s):
                yield chunk.encode("utf-8")

    return StreamingResponse(
        chunks(),
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="surveykb-dump.json"',
            "Cache-Control": "no-store",
        },
    )
