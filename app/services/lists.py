"""Reading lists: a saved filter (live) or hand-picked papers with order, notes and status."""

import re
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlmodel import Session

from app.errors import BadRequest, Conflict, NotFound
from app.models import Paper, ReadingList, ReadingListItem, utcnow
from app.services import browse
from app.services.filters import SORTS, PaperFilters

STATUSES = ("to-read", "reading", "read")
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")[:80].strip("-")
    return slug or "list"


def _unique_slug(session: Session, base: str, exclude_id: int | None = None) -> str:
    slug, n = base, 2
    while True:
        other = session.exec(select(ReadingList).where(ReadingList.slug == slug)).scalars().first()
        if other is None or other.id == exclude_id:
            return slug
        slug = f"{base}-{n}"
        n += 1


def filter_of(rl: ReadingList) -> tuple[PaperFilters, str] | None:
    """The saved filter and sort of a live list, or None for a hand-picked list."""
    if rl.filter is None:
        return None
    sort = str(rl.filter.get("sort") or "year")
    return PaperFilters.from_params(rl.filter), sort if sort in SORTS else "year"


def clean_filter(params) -> dict:
    """A storable filter dict from query parameters or a dict (junk dropped)."""
    f = PaperFilters.from_params(params)
    out = f.to_dict()
    sort = params.get("sort") if hasattr(params, "get") else None
    if sort in SORTS and sort != "year":
        out["sort"] = sort
    return out


def get_list(session: Session, slug: str) -> ReadingList:
    rl = session.exec(select(ReadingList).where(ReadingList.slug == slug)).scalars().first()
    if rl is None:
        raise NotFound(f"No reading list '{slug}'.")
    return rl


def all_lists(session: Session, *, user_id: int | None = None, index=None) -> list[dict]:
    """Public lists (and the user's own private ones) with their item counts."""
    q = select(ReadingList).order_by(func.lower(ReadingList.name), ReadingList.id)
    rows = [
        rl
        for rl in session.exec(q).scalars()
        if rl.public or (user_id is not None and rl.owner_id == user_id)
    ]
    counts = dict(
        session.exec(
            select(ReadingListItem.list_id, func.count()).group_by(ReadingListItem.list_id)
        ).all()
    )
    out = []
    for rl in rows:
        live = filter_of(rl)
        if live is not None:
            n = len(list_paper_ids(session, rl, index=index)[0])
        else:
            n = counts.get(rl.id, 0)
        out.append({"list": rl, "count": n, "live": live is not None})
    return out


def create_list(
    session: Session,
    *,
    name: str,
    description: str = "",
    filter: dict | None = None,
    slug: str | None = None,
    public: bool = True,
    owner_id: int | None = None,
) -> ReadingList:
    """Create a list; a taken explicit slug is a Conflict, a derived one gets a suffix."""
    name = " ".join(str(name or "").split())[:200]
    if not name:
        raise BadRequest("A reading list needs a name.")
    if slug:
        slug = slug.strip().lower()
        if not _SLUG_RE.match(slug) or len(slug) > 120:
            raise BadRequest("A list slug is lowercase letters and digits joined by hyphens.")
        if session.exec(select(ReadingList.id).where(ReadingList.slug == slug)).first():
            raise Conflict(f"A reading list '{slug}' already exists.")
    else:
        slug = _unique_slug(session, slugify(name))
    rl = ReadingList(
        slug=slug,
        name=name,
        description=str(description or "")[:5000],
        filter=clean_filter(filter) if filter is not None else None,
        public=public,
        owner_id=owner_id,
    )
    session.add(rl)
    session.flush()
    return rl


def update_list(session: Session, rl: ReadingList, **changes) -> ReadingList:
    """Change name, description, public or filter (None turns a live list into a picked one)."""
    if "name" in changes:
        name = " ".join(str(changes["name"] or "").split())[:200]
        if not name:
            raise BadRequest("A reading list needs a name.")
        rl.name = name
    if "description" in changes:
        rl.description = str(changes["description"] or "")[:5000]
    if "public" in changes:
        rl.public = bool(changes["public"])
    if "filter" in changes:
        rl.filter = clean_filter(changes["filter"]) if changes["filter"] is not None else None
    rl.updated_at = utcnow()
    session.add(rl)
    session.flush()
    return rl


def delete_list(session: Session, rl: ReadingList) -> None:
    session.exec(delete(ReadingListItem).where(ReadingListItem.list_id == rl.id))
    session.delete(rl)
    session.flush()


def _items(session: Session, rl: ReadingList) -> list[ReadingListItem]:
    return list(
        session.exec(
            select(ReadingListItem)
            .where(ReadingListItem.list_id == rl.id)
            .order_by(ReadingListItem.position, ReadingListItem.paper_id)
        ).scalars()
    )


def _paper(session: Session, citekey: str) -> Paper:
    paper = session.exec(select(Paper).where(Paper.citekey == citekey)).scalars().first()
    if paper is None:
        raise NotFound(f"No paper with citation key '{citekey}'.")
    return paper


def add_paper(
    session: Session, rl: ReadingList, citekey: str, *, note: str = "", status: str = "to-read"
) -> tuple[ReadingListItem, bool]:
    """Append a paper (idempotent); returns (item, created)."""
    paper = _paper(session, citekey)
    item = session.get(ReadingListItem, (rl.id, paper.id))
    if item is not None:
        return item, False
    if status not in STATUSES:
        raise BadRequest(f"Status must be one of {', '.join(STATUSES)}.")
    last = session.exec(
        select(func.max(ReadingListItem.position)).where(ReadingListItem.list_id == rl.id)
    ).scalar_one()
    item = ReadingListItem(
        list_id=rl.id,
        paper_id=paper.id,
        position=(last + 1) if last is not None else 0,
        note=str(note or "")[:5000],
        status=status,
    )
    session.add(item)
    rl.updated_at = utcnow()
    session.add(rl)
    session.flush()
    return item, True


def add_paper_ids(session: Session, rl: ReadingList, ids: list[int]) -> int:
    """Append these papers in order (those already in the list are skipped); returns how many."""
    have = set(
        session.exec(
            select(ReadingListItem.paper_id).where(ReadingListItem.list_id == rl.id)
        ).scalars()
    )
    last = session.exec(
        select(func.max(ReadingListItem.position)).where(ReadingListItem.list_id == rl.id)
    ).scalar_one()
    pos = (last + 1) if last is not None else 0
    n = 0
    for pid in ids:
        if pid in have:
            continue
        have.add(pid)
        session.add(ReadingListItem(list_id=rl.id, paper_id=pid, position=pos))
        pos += 1
        n += 1
    session.flush()
    return n


def paper_by_key(session: Session, citekey: str) -> Paper:
    return _paper(session, citekey)


def get_item(session: Session, rl: ReadingList, citekey: str) -> ReadingListItem:
    paper = _paper(session, citekey)
    item = session.get(ReadingListItem, (rl.id, paper.id))
    if item is None:
        raise NotFound(f"'{citekey}' is not in the list '{rl.slug}'.")
    return item


def remove_paper(session: Session, rl: ReadingList, citekey: str) -> None:
    session.delete(get_item(session, rl, citekey))
    rl.updated_at = utcnow()
    session.add(rl)
    session.flush()


def update_item(
    session: Session,
    rl: ReadingList,
    citekey: str,
    *,
    note: str | None = None,
    status: str | None = None,
) -> ReadingListItem:
    item = get_item(session, rl, citekey)
    if status is not None:
        if status not in STATUSES:
            raise BadRequest(f"Status must be one of {', '.join(STATUSES)}.")
        item.status = status
    if note is not None:
        item.note = str(note)[:5000]
    session.add(item)
    session.flush()
    return item


def move_item(session: Session, rl: ReadingList, citekey: str, direction: str) -> None:
    """Move a paper one place up or down (positions renumbered 0..n-1)."""
    if direction not in ("up", "down", "top", "bottom"):
        raise BadRequest("Move a paper 'up' or 'down'.")
    items = _items(session, rl)
    target = get_item(session, rl, citekey)
    i = next(n for n, it in enumerate(items) if it.paper_id == target.paper_id)
    item = items.pop(i)
    j = {"up": i - 1, "down": i + 1, "top": 0, "bottom": len(items)}[direction]
    items.insert(max(0, min(len(items), j)), item)
    for pos, it in enumerate(items):
        if it.position != pos:
            it.position = pos
            session.add(it)
    session.flush()


def list_paper_ids(
    session: Session, rl: ReadingList, *, index=None
) -> tuple[list[int], dict[int, tuple[str, str]]]:
    """Ordered paper ids of a list and each item's (note, status)."""
    items = _items(session, rl)
    annotations = {it.paper_id: (it.note, it.status) for it in items}
    live = filter_of(rl)
    if live is not None:
        from app.services.export import filtered_ids

        f, sort = live
        return filtered_ids(session, f, sort=sort, index=index), annotations
    return [it.paper_id for it in items], annotations


@dataclass
class ListEntry:
    item: browse.PaperItem
    note: str
    status: str
    position: int


def list_detail(
    session: Session, rl: ReadingList, *, page: int = 1, per_page: int = 50, index=None
) -> dict:
    """One page of a list's papers with their notes and status."""
    ids, annotations = list_paper_ids(session, rl, index=index)
    total = len(ids)
    page = max(1, page)
    chunk = ids[(page - 1) * per_page : page * per_page]
    papers = {p.id: p for p in session.exec(select(Paper).where(Paper.id.in_(chunk))).scalars()}
    hydrated = browse.hydrate(session, [papers[i] for i in chunk if i in papers])
    entries = []
    for n, it in enumerate(hydrated):
        note, status = annotations.get(it.id, ("", ""))
        entries.append(ListEntry(it, note, status, (page - 1) * per_page + n))
    live = filter_of(rl)
    return {
        "list": rl,
        "entries": entries,
        "total": total,
        "page": page,
        "per_page": per_page,
        "pages": max(1, -(-total // per_page)),
        "live": live is not None,
        "filters": live[0] if live else None,
        "sort": live[1] if live else None,
        "status_counts": {s: sum(1 for v in annotations.values() if v[1] == s) for s in STATUSES},
    }


def lists_for_paper(session: Session, citekey: str) -> list[dict]:
    """Hand-picked lists with whether this paper is in each (for the add-to-list menu)."""
    paper = session.exec(select(Paper).where(Paper.citekey == citekey)).scalars().first()
    rows = [
        rl
        for rl in session.exec(select(ReadingList).order_by(ReadingList.name)).scalars()
        if rl.filter is None
    ]
    have: set[int] = set()
    if paper is not None:
        have = set(
            session.exec(
                select(ReadingListItem.list_id).where(ReadingListItem.paper_id == paper.id)
            ).scalars()
        )
    return [{"list": rl, "has": rl.id in have} for rl in rows]
