"""HTML pages for reading lists: /lists, /lists/{slug}, and their forms (no JS needed).

Reading a public list is open to everyone; every change needs a signed-in editor (EditorDep,
which also checks the CSRF token of the form). Each form posts and redirects (303) back to the
page; an HTMX request gets the changed fragment instead.
"""

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from app.auth import CurrentUser, EditorDep
from app.deps import SessionDep
from app.errors import NotFound
from app.models import ReadingList
from app.services import lists
from app.services.export import filtered_ids
from app.services.filters import SORTS, PaperFilters
from app.web.rendering import is_fragment_request, render
from app.web.routes import active_filters, int_param

router = APIRouter(include_in_schema=False)
SNAPSHOT_MAX = 2000


def _can_edit(user) -> bool:
    return user is not None and getattr(user, "role", "") in ("editor", "admin")


def _visible(session, slug: str, user) -> ReadingList:
    """The list if the viewer may see it: public, or private and theirs (admins see all)."""
    rl = lists.get_list(session, slug)
    if not rl.public and (
        user is None or (rl.owner_id != user.id and getattr(user, "role", "") != "admin")
    ):
        raise NotFound(f"No reading list '{slug}'.")
    return rl


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _local(url: str | None, default: str) -> str:
    return url if url and url.startswith("/") and not url.startswith("//") else default


def _index(request: Request):
    return getattr(request.app.state, "index", None)


@router.get("/lists")
def lists_page(request: Request, session: SessionDep, user: CurrentUser):
    rows = lists.all_lists(session, user_id=user.id if user else None, index=_index(request))
    return render(
        request, "lists/index.html", {"nav": "lists", "rows": rows, "can_edit": _can_edit(user)}
    )


@router.get("/lists/new")
def new_list_page(request: Request, session: SessionDep, user: CurrentUser):
    """The "save this view as a list" form, prefilled with the view's filters."""
    f = PaperFilters.from_params(request.query_params)
    sort = request.query_params.get("sort") or "year"
    sort = sort if sort in SORTS else "year"
    paper = request.query_params.get("paper") or ""
    return render(
        request,
        "lists/new.html",
        {
            "nav": "lists",
            "filters": f,
            "sort": sort,
            "paper": paper,
            "count": len(filtered_ids(session, f, sort=sort, index=_index(request))),
            "active": active_filters(session, f),
            "can_edit": _can_edit(user),
        },
    )


@router.post("/lists")
def create_list(
    request: Request,
    session: SessionDep,
    user: EditorDep,
    name: str = Form(""),
    description: str = Form(""),
    kind: str = Form(""),
    public: str = Form(""),
    paper: str = Form(""),
    phase: list[str] = Form([]),
    challenge: list[str] = Form([]),
    direction: list[str] = Form([]),
    venue: list[str] = Form([]),
    type: list[str] = Form([]),
    tag: list[str] = Form([]),
    year_from: str = Form(""),
    year_to: str = Form(""),
    q: str = Form(""),
    sort: str = Form(""),
):
    params = {
        "phase": phase,
        "challenge": challenge,
        "direction": direction,
        "venue": venue,
        "type": type,
        "tag": tag,
        "year_from": year_from,
        "year_to": year_to,
        "q": q,
        "sort": sort,
    }
    f = PaperFilters.from_params(params)
    kind = kind if kind in ("live", "snapshot", "picked") else "picked"
    rl = lists.create_list(
        session,
        name=name,
        description=description,
        filter=params if kind == "live" else None,
        public=public in ("1", "on", "true"),
        owner_id=user.id,
    )
    if kind == "snapshot":
        ids = filtered_ids(
            session, f, sort=sort if sort in SORTS else "year", index=_index(request)
        )
        lists.add_paper_ids(session, rl, ids[:SNAPSHOT_MAX])
    if paper:
        lists.add_paper(session, rl, paper)
    slug = rl.slug
    session.commit()
    return _back(f"/lists/{slug}")


@router.get("/lists/add")
def add_to_list_page(request: Request, session: SessionDep, user: EditorDep):
    """Choose a list for a paper: a page without JS, the choices fragment for HTMX."""
    citekey = request.query_params.get("paper") or ""
    paper = lists.paper_by_key(session, citekey)
    return render(
        request,
        "lists/add.html",
        {"nav": "lists", "paper": paper, "choices": lists.lists_for_paper(session, citekey)},
        block="choices",
    )


@router.get("/lists/{slug}")
def list_page(slug: str, request: Request, session: SessionDep, user: CurrentUser):
    rl = _visible(session, slug, user)
    ctx = lists.list_detail(
        session,
        rl,
        page=int_param(request, "page", 1),
        per_page=int_param(request, "per_page", 100, 1, 500),
        index=_index(request),
    )
    if ctx["filters"] is not None:
        ctx["active"] = active_filters(session, ctx["filters"])
        ctx["filter_query"] = ctx["filters"].query(
            sort=None if ctx["sort"] == "year" else ctx["sort"]
        )
    return render(
        request,
        "lists/detail.html",
        {"nav": "lists", **ctx, "can_edit": _can_edit(user), "statuses": lists.STATUSES},
        block="items",
    )


@router.get("/lists/{slug}/edit")
def edit_list_page(slug: str, request: Request, session: SessionDep, user: EditorDep):
    rl = _visible(session, slug, user)
    return render(request, "lists/edit.html", {"nav": "lists", "list": rl})


@router.post("/lists/{slug}/edit")
def edit_list(
    slug: str,
    session: SessionDep,
    user: EditorDep,
    name: str = Form(""),
    description: str = Form(""),
    public: str = Form(""),
    unlink_filter: str = Form(""),
):
    rl = _visible(session, slug, user)
    changes = {"name": name, "description": description, "public": public in ("1", "on", "true")}
    if unlink_filter and rl.filter is not None:
        # Freeze a live list: its current papers become hand-picked items.
        ids, _ = lists.list_paper_ids(session, rl)
        lists.add_paper_ids(session, rl, ids[:SNAPSHOT_MAX])
        changes["filter"] = None
    lists.update_list(session, rl, **changes)
    session.commit()
    return _back(f"/lists/{slug}")


@router.post("/lists/{slug}/delete")
def delete_list(slug: str, session: SessionDep, user: EditorDep):
    lists.delete_list(session, _visible(session, slug, user))
    session.commit()
    return _back("/lists")


def _items_response(request: Request, session, slug: str, anchor: str = ""):
    """HTMX: the re-rendered items block; otherwise back to the list page (PRG)."""
    session.commit()
    if is_fragment_request(request):
        rl = lists.get_list(session, slug)
        ctx = lists.list_detail(session, rl, per_page=500, index=_index(request))
        return render(
            request,
            "lists/detail.html",
            {"nav": "lists", **ctx, "can_edit": True, "statuses": lists.STATUSES},
            block="items",
        )
    return _back(f"/lists/{slug}" + (f"#item-{anchor}" if anchor else ""))


@router.post("/lists/{slug}/items")
def add_item(
    slug: str,
    request: Request,
    session: SessionDep,
    user: EditorDep,
    paper: str = Form(""),
    note: str = Form(""),
    next: str = Form(""),
):
    rl = _visible(session, slug, user)
    _, created = lists.add_paper(session, rl, paper.strip(), note=note)
    name = rl.name
    session.commit()
    if is_fragment_request(request):
        return render(
            request,
            "lists/add.html",
            {"added": {"name": name, "slug": slug, "created": created}},
            block="added",
        )
    return _back(_local(next, f"/lists/{slug}"))


@router.post("/lists/{slug}/items/{citekey}/move")
def move_item(
    slug: str,
    citekey: str,
    request: Request,
    session: SessionDep,
    user: EditorDep,
    direction: str = Form(""),
):
    lists.move_item(session, _visible(session, slug, user), citekey, direction)
    return _items_response(request, session, slug, citekey)


@router.post("/lists/{slug}/items/{citekey}/remove")
def remove_item(slug: str, citekey: str, request: Request, session: SessionDep, user: EditorDep):
    lists.remove_paper(session, _visible(session, slug, user), citekey)
    return _items_response(request, session, slug)


@router.post("/lists/{slug}/items/{citekey}")
def update_item(
    slug: str,
    citekey: str,
    request: Request,
    session: SessionDep,
    user: EditorDep,
    note: str | None = Form(None),
    status: str | None = Form(None),
):
    rl = _visible(session, slug, user)
    lists.update_item(session, rl, citekey, note=note, status=status)
    return _items_response(request, session, slug, citekey)
