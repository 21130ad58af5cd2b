"""Curation routes (editors): taxonomy edits, paper links and tags, review queue, history.

Every write: parse the form, call one service in a transaction, commit, re-index, then redirect
(a plain form) or render the changed fragment (HTMX). Reverting is for admins.
"""

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from app.auth import AdminDep, CurrentUser, EditorDep
from app.deps import IndexDep, SessionDep
from app.errors import BadRequest, DomainError, NotFound
from app.models import ChangeLog, Phase
from app.services import browse, curation
from app.web.rendering import is_fragment_request, render

router = APIRouter(include_in_schema=False)
api_router = APIRouter(tags=["curation"])


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _commit(session, index, touched: curation.Touched) -> None:
    session.commit()
    curation.reindex(session, index, touched)


async def _form(request: Request) -> dict:
    form = await request.form()
    return {k: form.getlist(k) for k in form.keys()}


def _one(form: dict, name: str, default: str = "") -> str:
    values = form.get(name) or [default]
    v = values[0]
    return v if isinstance(v, str) else default


def _kind(request: Request) -> str:
    k = request.url.path.split("/")[1].rstrip("s")
    if k not in curation.KINDS:
        raise NotFound(f"Nothing lives at {request.url.path}.")
    return k


# --- create / edit / retire / reorder challenges and directions ------------------------------


@router.get("/phases/{slug}/new")
def new_item_form(slug: str, request: Request, session: SessionDep, user: EditorDep):
    phase = browse.get_phase(session, slug)
    kind = request.query_params.get("kind", "challenge")
    kind = kind if kind in curation.KINDS else "challenge"
    ctx = _item_form_ctx(session, phase, kind, None, {})
    return render(request, "curation/item_form.html", ctx)


def _item_form_ctx(session, phase, kind, item, values, error=None) -> dict:
    challenges = []
    if kind == "direction":
        challenges = [
            row["item"]
            for row in browse.phase_detail(session, phase.slug)["challenges"]
            if not row["item"].retired
        ]
    state = curation.item_state(session, item) if item else {}
    return {
        "nav": "home",
        "phase": phase,
        "kind": kind,
        "item": item,
        "values": {**state, **values},
        "challenges": challenges,
        "error": error,
    }


@router.post("/phases/{slug}/new")
async def create_item(
    slug: str, request: Request, session: SessionDep, index: IndexDep, user: EditorDep
):
    phase = browse.get_phase(session, slug)
    form = await _form(request)
    kind = _one(form, "kind", "challenge")
    kind = kind if kind in curation.KINDS else "challenge"
    values = {
        "title": _one(form, "title"),
        "description": _one(form, "description"),
        "source": _one(form, "source", "editorial"),
        "slug": _one(form, "slug").strip() or None,
        "addresses": form.get("addresses", []),
    }
    try:
        item, touched = curation.create_item(
            session, kind=kind, phase_slug=phase.slug, user=user, **values
        )
    except DomainError as exc:
        session.rollback()
        ctx = _item_form_ctx(session, phase, kind, None, values, exc.detail)
        return render(
            request, "curation/item_form.html", ctx, status_code=exc.status_code, block=None
        )
    _commit(session, index, touched)
    return _back(f"/{kind}s/{item.slug}")


@router.get("/challenges/{slug}/edit")
@router.get("/directions/{slug}/edit")
def edit_item_form(slug: str, request: Request, session: SessionDep, user: EditorDep):
    kind = _kind(request)
    item = curation.get_item(session, kind=kind, slug=slug)
    phase = session.get(Phase, item.phase_id)
    return render(
        request, "curation/item_form.html", _item_form_ctx(session, phase, kind, item, {})
    )


@router.post("/challenges/{slug}/edit")
@router.post("/directions/{slug}/edit")
async def edit_item(
    slug: str, request: Request, session: SessionDep, index: IndexDep, user: EditorDep
):
    kind = _kind(request)
    item = curation.get_item(session, kind=kind, slug=slug)
    form = await _form(request)
    values = {
        "title": _one(form, "title"),
        "description": _one(form, "description"),
        "source": _one(form, "source", item.source),
    }
    if kind == "direction":
        values["addresses"] = [a for a in form.get("addresses", []) if isinstance(a, str)]
    try:
        item, touched = curation.update_item(session, kind=kind, slug=slug, user=user, **values)
    except DomainError as exc:
        session.rollback()
        phase = session.get(Phase, item.phase_id)
        ctx = _item_form_ctx(session, phase, kind, item, values, exc.detail)
        return render(
            request, "curation/item_form.html", ctx, status_code=exc.status_code, block=None
        )
    _commit(session, index, touched)
    return _back(f"/{kind}s/{item.slug}")


@router.post("/challenges/{slug}/retire")
@router.post("/directions/{slug}/retire")
def retire_item(slug: str, request: Request, session: SessionDep, index: IndexDep, user: EditorDep):
    kind = _kind(request)
    _, touched = curation.set_retired(session, kind=kind, slug=slug, retired=True, user=user)
    _commit(session, index, touched)
    return _back(f"/{kind}s/{slug}")


@router.post("/challenges/{slug}/restore")
@router.post("/directions/{slug}/restore")
def restore_item(
    slug: str, request: Request, session: SessionDep, index: IndexDep, user: EditorDep
):
    kind = _kind(request)
    _, touched = curation.set_retired(session, kind=kind, slug=slug, retired=False, user=user)
    _commit(session, index, touched)
    return _back(f"/{kind}s/{slug}")


@router.post("/challenges/{slug}/move")
@router.post("/directions/{slug}/move")
async def move_item(
    slug: str, request: Request, session: SessionDep, index: IndexDep, user: EditorDep
):
    kind = _kind(request)
    form = await _form(request)
    item, touched = curation.move_item(
        session, kind=kind, slug=slug, to=_one(form, "to", "up"), user=user
    )
    _commit(session, index, touched)
    phase = session.get(Phase, item.phase_id)
    return _back(f"/phases/{phase.slug}#{kind}-{item.slug}")


# --- history ---------------------------------------------------------------------------------


def _history_page(request, session, user, entity: str, entity_id: int, title: str, url: str):
    changes = curation.history(session, entity=entity, entity_id=entity_id)
    ctx = {
        "nav": "home" if entity != "paper" else "papers",
        "changes": changes,
        "title": title,
        "url": url,
        "is_admin": bool(user and user.role == "admin"),
    }
    return render(request, "curation/history.html", ctx, block="history")


@router.get("/challenges/{slug}/history")
@router.get("/directions/{slug}/history")
def item_history(slug: str, request: Request, session: SessionDep, user: CurrentUser):
    kind = _kind(request)
    item = curation.get_item(session, kind=kind, slug=slug)
    return _history_page(request, session, user, kind, item.id, item.title, f"/{kind}s/{item.slug}")


@router.get("/phases/{slug}/history")
def phase_history(slug: str, request: Request, session: SessionDep, user: CurrentUser):
    phase = browse.get_phase(session, slug)
    url = f"/phases/{phase.slug}"
    return _history_page(request, session, user, "phase", phase.id, phase.name, url)


@router.get("/papers/{citekey}/history")
def paper_history(citekey: str, request: Request, session: SessionDep, user: CurrentUser):
    paper = browse.get_paper(session, citekey)
    url = f"/papers/{quote(paper.citekey, safe='')}"
    return _history_page(request, session, user, "paper", paper.id, paper.title, url)


@router.get("/changes")
def changes_page(request: Request, session: SessionDep, user: CurrentUser):
    ctx = {
        "nav": "home",
        "changes": curation.recent_changes(session),
        "title": "Recent changes",
        "url": None,
        "is_admin": bool(user and user.role == "admin"),
        "show_entity": True,
    }
    return render(request, "curation/history.html", ctx, block="history")


@router.post("/changes/{change_id}/revert")
def revert_change(
    change_id: int, request: Request, session: SessionDep, index: IndexDep, user: AdminDep
):
    touched = curation.revert(session, change_id=change_id, user=user)
    _commit(session, index, touched)
    change = session.get(ChangeLog, change_id)
    return _back(curation.entity_url(change) + "/history")


# --- paper classification and tags -----------------------------------------------------------


def _classify_response(request, session, citekey: str, saved: bool = False, error=None, status=200):
    ctx = {
        "nav": "papers",
        **curation.classification_options(session, citekey=citekey),
        "saved": saved,
        "error": error,
    }
    return render(request, "curation/classify.html", ctx, block="classify", status_code=status)


@router.get("/papers/{citekey}/classify")
def classify_form(citekey: str, request: Request, session: SessionDep, user: EditorDep):
    return _classify_response(request, session, citekey)


@router.post("/papers/{citekey}/classify")
async def classify(
    citekey: str, request: Request, session: SessionDep, index: IndexDep, user: EditorDep
):
    form = await _form(request)
    paper = browse.get_paper(session, citekey)
    touched = curation.set_paper_links(
        session,
        citekey=paper.citekey,
        phases=form.get("phase", []),
        challenges=form.get("challenge", []),
        directions=form.get("direction", []),
        user=user,
    )
    _commit(session, index, touched)
    if is_fragment_request(request):
        return _classify_response(request, session, paper.citekey, saved=True)
    return _back(f"/papers/{quote(paper.citekey, safe='')}")


@router.post("/papers/{citekey}/tags")
async def tag_paper(
    citekey: str, request: Request, session: SessionDep, index: IndexDep, user: EditorDep
):
    form = await _form(request)
    paper = browse.get_paper(session, citekey)
    remove = _one(form, "remove")
    try:
        if remove:
            touched = curation.remove_tag(session, citekey=paper.citekey, name=remove, user=user)
        else:
            touched = curation.add_tag(
                session, citekey=paper.citekey, name=_one(form, "tag"), user=user
            )
    except DomainError as exc:
        session.rollback()
        if is_fragment_request(request):
            return _classify_response(
                request, session, paper.citekey, error=exc.detail, status=exc.status_code
            )
        raise
    _commit(session, index, touched)
    if is_fragment_request(request):
        return _classify_response(request, session, paper.citekey, saved=True)
    return _back(f"/papers/{quote(paper.citekey, safe='')}/classify")


@router.get("/tags/suggest")
def tag_suggest(request: Request, session: SessionDep):
    """<option>s for the tag input's datalist (HTMX), or a page of links without JS."""
    q = request.query_params.get("tag") or request.query_params.get("q") or ""
    tags = curation.tag_suggestions(session, q=q)
    return render(request, "curation/tag_options.html", {"tags": tags, "q": q}, block="options")


# --- review queue ----------------------------------------------------------------------------


def _int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    try:
        return min(hi, max(lo, int(request.query_params.get(name, default))))
    except (TypeError, ValueError):
        return default


@router.get("/review")
def review_page(request: Request, session: SessionDep, user: EditorDep):
    kind = request.query_params.get("kind") or None
    kind = kind if kind in curation.LINKS else None
    page = _int(request, "page", 1, 1, 10**6)
    per_page = _int(request, "per_page", 50, 1, 500)
    items, total = curation.review_queue(session, kind=kind, page=page, per_page=per_page)
    ctx = {
        "nav": "review",
        "items": items,
        "total": total,
        "kind": kind,
        "page": page,
        "per_page": per_page,
        "pages": max(1, -(-total // per_page)),
        "done": request.query_params.get("done"),
    }
    return render(request, "curation/review.html", ctx)


@router.post("/review")
async def review_decide(request: Request, session: SessionDep, index: IndexDep, user: EditorDep):
    form = await _form(request)
    one = _one(form, "one")
    decision = _one(form, "decision") or request.query_params.get("decision", "")
    tokens = [one] if one else [t for t in form.get("item", []) if isinstance(t, str)]
    if decision not in ("accept", "reject"):
        raise BadRequest("Choose accept or reject.")
    n, touched = curation.decide(session, tokens=tokens, accept=decision == "accept", user=user)
    _commit(session, index, touched)
    if is_fragment_request(request) and one:
        return Response("", headers={"Vary": "HX-Request"})  # the row disappears
    verb = "accepted" if decision == "accept" else "rejected"
    kind = request.query_params.get("kind")
    kind_q = f"kind={kind}&" if kind in curation.LINKS else ""
    return _back(f"/review?{kind_q}done={n}+{verb}")


# --- JSON -----------------------------------------------------------------------------------


@api_router.get("/tags")
def api_tags(session: SessionDep, q: str = "", limit: int = 10):
    """Existing tags for autocomplete: [{"name", "count"}], best matches first."""
    return curation.tag_suggestions(session, q=q, limit=max(1, min(limit, 50)))


@api_router.get("/review")
def api_review(
    session: SessionDep, user: EditorDep, kind: str | None = None, page: int = 1, per_page: int = 50
):
    """The review queue of suggested links, best score first."""
    kind = kind if kind in curation.LINKS else None
    items, total = curation.review_queue(
        session, kind=kind, page=max(1, page), per_page=max(1, min(per_page, 500))
    )
    return {
        "items": [
            {
                "token": s.token,
                "kind": s.kind,
                "citekey": s.citekey,
                "title": s.title,
                "target": s.target_slug,
                "target_title": s.target_title,
                "survey": s.survey,
                "score": s.score,
            }
            for s in items
        ],
        "total": total,
        "page": page,
        "per_page": per_page,
    }


@api_router.post("/review")
async def api_review_decide(
    request: Request, session: SessionDep, index: IndexDep, user: EditorDep
):
    """Body {"accept": [tokens], "reject": [tokens]}; returns the counts."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return JSONResponse({"detail": "Send a JSON object."}, status_code=400)
    out = {}
    for verb, accept in (("accept", True), ("reject", False)):
        tokens = [t for t in body.get(verb) or [] if isinstance(t, str)]
        n, touched = curation.decide(session, tokens=tokens, accept=accept, user=user)
        session.commit()
        curation.reindex(session, index, touched)
        out[f"{verb}ed"] = n
    return out
