"""Curation: editors grow the taxonomy and the classification; every change is recorded.

Each write records one ChangeLog row (who, when, before, after) in the same transaction, and
returns what the caller must re-index (`Touched`). Callers commit, then call `reindex()`.

State shapes kept in ChangeLog.before/after (only what the change touched):
- challenge/direction: item fields {"title", "description", "source", "retired", "addresses"}
- phase: {"challenges": [slug order]} or {"directions": [...]}
- paper: link states {"phase:slug" | "challenge:slug" | "direction:slug" | "tag:name":
  {"origin", "score"} or None}
A revert applies `before` again, after checking that the current state still equals `after`
(otherwise the change was overwritten since and a revert would lose later work: 409).
"""

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from app.errors import BadRequest, Conflict, NotFound
from app.models import (
    Challenge,
    ChangeLog,
    Direction,
    DirectionChallenge,
    Paper,
    PaperChallenge,
    PaperDirection,
    PaperPhase,
    PaperTag,
    Phase,
    Survey,
    Tag,
    User,
    utcnow,
)
from app.services.browse import ACCEPTED, get_paper, survey_prefixes

log = logging.getLogger(__name__)

KINDS = {"challenge": Challenge, "direction": Direction}
LINKS = {
    "phase": (PaperPhase, "phase_id", Phase),
    "challenge": (PaperChallenge, "challenge_id", Challenge),
    "direction": (PaperDirection, "direction_id", Direction),
}
SOURCES = ("survey", "editorial")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TAG_RE = re.compile(r"^[\w][\w .+#/-]{0,59}$", re.UNICODE)
MAX_TITLE, MAX_DESCRIPTION = 300, 5000


@dataclass
class Touched:
    """What a change affects in the search index."""

    paper_ids: set[int] = field(default_factory=set)
    taxonomy: bool = False
    change: ChangeLog | None = None

    def merge(self, other: "Touched") -> "Touched":
        self.paper_ids |= other.paper_ids
        self.taxonomy |= other.taxonomy
        return self


def reindex(session: Session, index, touched: Touched) -> None:
    """After the commit: bring the search index up to date with what changed."""
    from app.services.indexing import sync_papers, sync_taxonomy

    if index is None:
        return
    if touched.taxonomy:
        sync_taxonomy(session, index)
    if touched.paper_ids:
        sync_papers(session, index, touched.paper_ids)


def _record(
    session: Session,
    *,
    user: User | None,
    action: str,
    entity: str,
    entity_id: int,
    key: str,
    summary: str,
    before: dict | None,
    after: dict | None,
    revert_of: int | None = None,
) -> ChangeLog:
    row = ChangeLog(
        user_id=user.id if user else None,
        username=user.username if user else "system",
        action=action,
        entity=entity,
        entity_id=entity_id,
        entity_key=key,
        summary=summary,
        before=before,
        after=after,
        revert_of=revert_of,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


# --- taxonomy items -------------------------------------------------------------------------


def _model(kind: str):
    if kind not in KINDS:
        raise NotFound(f"No such kind '{kind}'.")
    return KINDS[kind]


def get_item(session: Session, *, kind: str, slug: str):
    model = _model(kind)
    obj = session.exec(select(model).where(model.slug == slug)).scalars().first()
    if obj is None:
        raise NotFound(f"No {kind} '{slug}'.")
    return obj


def _addresses(session: Session, direction_id: int) -> list[str]:
    return sorted(
        session.exec(
            select(Challenge.slug)
            .join(DirectionChallenge, DirectionChallenge.challenge_id == Challenge.id)
            .where(DirectionChallenge.direction_id == direction_id)
        ).scalars()
    )


def item_state(session: Session, item) -> dict[str, Any]:
    state = {
        "title": item.title,
        "description": item.description,
        "source": item.source,
        "retired": bool(item.retired),
    }
    if isinstance(item, Direction):
        state["addresses"] = _addresses(session, item.id)
    return state


def _kind_of(item) -> str:
    return "challenge" if isinstance(item, Challenge) else "direction"


def _linked_papers(session: Session, item) -> set[int]:
    link, col, _ = LINKS[_kind_of(item)]
    return set(session.exec(select(link.paper_id).where(getattr(link, col) == item.id)).scalars())


def _clean_text(value: str | None, name: str, limit: int, required: bool) -> str:
    v = " ".join(str(value or "").split()) if name == "title" else str(value or "").strip()
    v = v.replace("\r\n", "\n")
    if required and not v:
        raise BadRequest(f"The {name} must not be empty.")
    if len(v) > limit:
        raise BadRequest(f"The {name} is too long ({len(v)} characters; at most {limit}).")
    return v


def slugify(text: str) -> str:
    s = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    s = re.sub(r"[^a-z0-9]+", "-", s).strip("-")
    return s[:80].strip("-") or "item"


def _slug_taken(session: Session, survey_id: int, slug: str) -> bool:
    # survey.yaml needs slugs unique across challenges and directions (export-survey).
    return any(
        session.exec(select(m.id).where(m.survey_id == survey_id, m.slug == slug)).first()
        for m in (Challenge, Direction)
    )


def _set_addresses(session: Session, item: Direction, slugs: list[str]) -> None:
    wanted = set(slugs)
    own = dict(
        session.exec(
            select(Challenge.slug, Challenge.id).where(Challenge.phase_id == item.phase_id)
        ).all()
    )
    unknown = wanted - set(own)
    if unknown:
        raise BadRequest(
            "A direction can only address challenges of its own phase; not: "
            + ", ".join(sorted(unknown))
        )
    ids = {own[s] for s in wanted}
    rows = session.exec(
        select(DirectionChallenge).where(DirectionChallenge.direction_id == item.id)
    ).scalars()
    have = set()
    for row in rows:
        if row.challenge_id not in ids:
            session.delete(row)
        have.add(row.challenge_id)
    for cid in ids - have:
        session.add(DirectionChallenge(direction_id=item.id, challenge_id=cid))
    session.flush()


def _apply_state(session: Session, item, state: dict) -> None:
    for k in ("title", "description", "source", "retired"):
        if k in state:
            setattr(item, k, state[k])
    session.add(item)
    if "addresses" in state and isinstance(item, Direction):
        _set_addresses(session, item, state["addresses"])
    session.flush()


def create_item(
    session: Session,
    *,
    kind: str,
    phase_slug: str,
    title: str,
    description: str = "",
    source: str = "editorial",
    slug: str | None = None,
    addresses: list[str] | None = None,
    user: User | None,
) -> tuple[Any, Touched]:
    """Add a challenge or direction at the end of its phase; the slug never changes later."""
    model = _model(kind)
    phase = session.exec(select(Phase).where(Phase.slug == phase_slug)).scalars().first()
    if phase is None:
        raise NotFound(f"No phase '{phase_slug}'.")
    title = _clean_text(title, "title", MAX_TITLE, True)
    description = _clean_text(description, "description", MAX_DESCRIPTION, False)
    if source not in SOURCES:
        raise BadRequest("The source must be 'survey' or 'editorial'.")
    if slug:
        slug = slug.strip()
        if not SLUG_RE.match(slug) or len(slug) > 120:
            raise BadRequest(f"The slug '{slug}' must be lowercase words joined by hyphens.")
        if _slug_taken(session, phase.survey_id, slug):
            raise Conflict(f"The slug '{slug}' is already used.")
    else:
        base = slugify(title)
        slug, n = base, 2
        while _slug_taken(session, phase.survey_id, slug):
            slug, n = f"{base}-{n}", n + 1
    last = session.exec(
        select(func.max(model.position)).where(model.phase_id == phase.id)
    ).scalar_one()
    item = model(
        survey_id=phase.survey_id,
        phase_id=phase.id,
        slug=slug,
        title=title,
        description=description,
        source=source,
        position=(last if last is not None else -1) + 1,
    )
    session.add(item)
    session.flush()
    if kind == "direction" and addresses:
        _set_addresses(session, item, addresses)
    change = _record(
        session,
        user=user,
        action="create",
        entity=kind,
        entity_id=item.id,
        key=slug,
        summary=f"Created {kind} '{title}' in {phase.name}",
        before=None,
        after=item_state(session, item),
    )
    return item, Touched(taxonomy=True, change=change)


def update_item(
    session: Session,
    *,
    kind: str,
    slug: str,
    user: User | None,
    title: str | None = None,
    description: str | None = None,
    source: str | None = None,
    addresses: list[str] | None = None,
) -> tuple[Any, Touched]:
    """Edit an item's text, source or (directions) the challenges it addresses."""
    item = get_item(session, kind=kind, slug=slug)
    before = item_state(session, item)
    wanted: dict[str, Any] = {}
    if title is not None:
        wanted["title"] = _clean_text(title, "title", MAX_TITLE, True)
    if description is not None:
        wanted["description"] = _clean_text(description, "description", MAX_DESCRIPTION, False)
    if source is not None:
        if source not in SOURCES:
            raise BadRequest("The source must be 'survey' or 'editorial'.")
        wanted["source"] = source
    if addresses is not None and kind == "direction":
        wanted["addresses"] = sorted(set(addresses))
    changed = {k: v for k, v in wanted.items() if before.get(k) != v}
    if not changed:
        return item, Touched()
    _apply_state(session, item, changed)
    change = _record(
        session,
        user=user,
        action="update",
        entity=kind,
        entity_id=item.id,
        key=item.slug,
        summary=f"Edited {', '.join(sorted(changed))} of {kind} '{item.title}'",
        before={k: before[k] for k in changed},
        after=changed,
    )
    return item, Touched(_linked_papers(session, item), True, change)


def set_retired(
    session: Session, *, kind: str, slug: str, retired: bool, user: User | None
) -> tuple[Any, Touched]:
    """Retire (or restore) an item: it leaves the taxonomy views, its URL keeps working."""
    item = get_item(session, kind=kind, slug=slug)
    if bool(item.retired) == retired:
        return item, Touched()
    item.retired = retired
    session.add(item)
    session.flush()
    change = _record(
        session,
        user=user,
        action="retire" if retired else "restore",
        entity=kind,
        entity_id=item.id,
        key=item.slug,
        summary=f"{'Retired' if retired else 'Restored'} {kind} '{item.title}'",
        before={"retired": not retired},
        after={"retired": retired},
    )
    return item, Touched(_linked_papers(session, item), True, change)


def _order(session: Session, model, phase_id: int) -> list:
    return list(
        session.exec(
            select(model)
            .where(model.phase_id == phase_id)
            .order_by(model.retired, model.position, model.id)
        )
        .scalars()
        .all()
    )


def _apply_order(session: Session, model, phase_id: int, slugs: list[str]) -> None:
    items = _order(session, model, phase_id)
    rank = {s: i for i, s in enumerate(slugs)}
    items.sort(key=lambda it: (rank.get(it.slug, len(rank)), it.position, it.id))
    for pos, it in enumerate(items):
        if it.position != pos:
            it.position = pos
            session.add(it)
    session.flush()


def move_item(
    session: Session, *, kind: str, slug: str, to: str, user: User | None
) -> tuple[Any, Touched]:
    """Move an item one place up or down (or to the top/bottom) within its phase."""
    model = _model(kind)
    item = get_item(session, kind=kind, slug=slug)
    items = _order(session, model, item.phase_id)
    slugs = [it.slug for it in items]
    i = slugs.index(item.slug)
    j = {"up": i - 1, "down": i + 1, "top": 0, "bottom": len(slugs) - 1}.get(to)
    if j is None:
        raise BadRequest("Move 'up', 'down', 'top' or 'bottom'.")
    j = max(0, min(len(slugs) - 1, j))
    if j == i:
        return item, Touched()
    new = slugs[:i] + slugs[i + 1 :]
    new.insert(j, item.slug)
    _apply_order(session, model, item.phase_id, new)
    phase = session.get(Phase, item.phase_id)
    field_name = f"{kind}s"
    change = _record(
        session,
        user=user,
        action="reorder",
        entity="phase",
        entity_id=phase.id,
        key=phase.slug,
        summary=f"Moved {kind} '{item.title}' {to} in {phase.name}",
        before={field_name: slugs},
        after={field_name: new},
    )
    return item, Touched(taxonomy=True, change=change)


# --- paper links and tags -------------------------------------------------------------------


def target_ref(prefixes: dict[int, str], item) -> str:
    """How a link key names a phase/challenge/direction: its slug in the default survey,
    "survey-slug/slug" in the others (browse.survey_prefixes)."""
    return prefixes.get(item.survey_id, "") + item.slug


def link_state(session: Session, paper_id: int) -> dict[str, dict]:
    """Every link of a paper (any origin) and its tags, keyed "kind:ref" / "tag:name"
    (ref: see target_ref)."""
    out: dict[str, dict] = {}
    pre = survey_prefixes(session)
    for kind, (link, col, target) in LINKS.items():
        for slug, sid, origin, score in session.exec(
            select(target.slug, target.survey_id, link.origin, link.score)
            .join(target, target.id == getattr(link, col))
            .where(link.paper_id == paper_id)
        ).all():
            out[f"{kind}:{pre.get(sid, '')}{slug}"] = {"origin": origin, "score": score}
    for name in session.exec(
        select(Tag.name)
        .join(PaperTag, PaperTag.tag_id == Tag.id)
        .where(PaperTag.paper_id == paper_id)
    ).scalars():
        out[f"tag:{name}"] = {"origin": "curated", "score": None}
    return out


def _target_id(session: Session, kind: str, slug: str) -> int:
    if kind == "tag":
        tag = session.exec(select(Tag).where(Tag.name == slug)).scalars().first()
        if tag is None:
            tag = Tag(name=slug)
            session.add(tag)
            session.flush()
        return tag.id
    _, _, target = LINKS[kind]
    survey, qualified, plain = slug.rpartition("/")
    q = select(target.id).where(target.slug == plain)
    if qualified:
        q = q.join(Survey, Survey.id == target.survey_id).where(Survey.slug == survey)
    else:  # a plain slug means the default survey's
        q = q.where(target.survey_id == select(func.min(Survey.id)).scalar_subquery())
    tid = session.exec(q).scalars().first()
    if tid is None:
        raise BadRequest(f"No {kind} '{slug}'.")
    return tid


def _set_link(session: Session, paper_id: int, key: str, state: dict | None) -> None:
    kind, _, slug = key.partition(":")
    tid = _target_id(session, kind, slug)
    if kind == "tag":
        row = session.get(PaperTag, (paper_id, tid))
        if state is None and row is not None:
            session.delete(row)
        elif state is not None and row is None:
            session.add(PaperTag(paper_id=paper_id, tag_id=tid))
        return
    link, col, _ = LINKS[kind]
    row = session.get(link, (paper_id, tid))
    if state is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        row = link(paper_id=paper_id, **{col: tid})
    row.origin, row.score = state["origin"], state.get("score")
    session.add(row)


def _apply_links(session: Session, paper_id: int, states: dict[str, dict | None]) -> None:
    for key, state in states.items():
        _set_link(session, paper_id, key, state)
    session.flush()


def _describe(before: dict, after: dict) -> str:
    parts = []
    for key in sorted(after):
        b, a = before.get(key), after.get(key)
        kind, _, slug = key.partition(":")
        if a is None:
            parts.append(f"{'rejected' if b and b['origin'] == 'suggested' else 'removed'} {key}")
        elif b is None:
            parts.append(f"added {key}")
        elif b["origin"] == "suggested" and a["origin"] != "suggested":
            parts.append(f"accepted {key}")
        else:
            parts.append(f"changed {key}")
    return "; ".join(parts)


def change_links(
    session: Session,
    *,
    paper: Paper,
    changes: dict[str, dict | None],
    user: User | None,
    action: str = "links",
) -> Touched:
    """Apply link/tag states to one paper (None removes) and record them as one change."""
    current = link_state(session, paper.id)
    after = {k: v for k, v in changes.items() if current.get(k) != v}
    if not after:
        return Touched()
    before = {k: current.get(k) for k in after}
    _apply_links(session, paper.id, after)
    change = _record(
        session,
        user=user,
        action=action,
        entity="paper",
        entity_id=paper.id,
        key=paper.citekey,
        summary=_describe(before, after),
        before=before,
        after=after,
    )
    return Touched({paper.id}, False, change)


def set_paper_links(
    session: Session,
    *,
    citekey: str,
    phases: list[str],
    challenges: list[str],
    directions: list[str],
    user: User | None,
) -> Touched:
    """The classification form: exactly these accepted links. A checked suggestion is
    accepted (curated); survey links stay survey; unchecked accepted links are removed;
    unchecked suggestions stay in the review queue."""
    paper = get_paper(session, citekey)
    current = link_state(session, paper.id)
    changes: dict[str, dict | None] = {}
    for kind, wanted in (("phase", phases), ("challenge", challenges), ("direction", directions)):
        wanted_keys = {f"{kind}:{s}" for s in wanted if s}
        for key in wanted_keys:
            _target_id(session, kind, key.partition(":")[2])  # unknown slug: 400
            state = current.get(key)
            if state is None or state["origin"] == "suggested":
                changes[key] = {"origin": "curated", "score": None}
        for key, state in current.items():
            if key.startswith(f"{kind}:") and key not in wanted_keys:
                if state["origin"] in ACCEPTED:
                    changes[key] = None
    return change_links(session, paper=paper, changes=changes, user=user)


def normalise_tag(name: str) -> str:
    tag = " ".join(str(name or "").split()).lower()
    if not tag or not TAG_RE.match(tag):
        raise BadRequest(
            "A tag is 1 to 60 letters, digits, spaces or . + # / - (starting with a letter)."
        )
    return tag


def add_tag(session: Session, *, citekey: str, name: str, user: User | None) -> Touched:
    paper = get_paper(session, citekey)
    tag = normalise_tag(name)
    return change_links(
        session,
        paper=paper,
        changes={f"tag:{tag}": {"origin": "curated", "score": None}},
        user=user,
        action="tag",
    )


def remove_tag(session: Session, *, citekey: str, name: str, user: User | None) -> Touched:
    paper = get_paper(session, citekey)
    tag = " ".join(str(name or "").split()).lower()
    return change_links(
        session, paper=paper, changes={f"tag:{tag}": None}, user=user, action="untag"
    )


def tag_suggestions(session: Session, *, q: str = "", limit: int = 10) -> list[dict]:
    """Existing tags starting with (then containing) `q`, most used first."""
    q = " ".join(str(q or "").split()).lower()[:60]
    count = func.count(PaperTag.paper_id)
    stmt = (
        select(Tag.name, count)
        .join(PaperTag, PaperTag.tag_id == Tag.id, isouter=True)
        .group_by(Tag.name)
        .order_by(count.desc(), Tag.name)
    )
    if q:
        like = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Tag.name.like(f"%{like}%", escape="\\"))
    rows = session.exec(stmt.limit(200)).all()
    rows = sorted(rows, key=lambda r: (not r[0].startswith(q), -r[1], r[0]))
    return [{"name": n, "count": c} for n, c in rows[:limit]]


def classification_options(session: Session, *, citekey: str) -> dict:
    """What the classification form offers: every phase with its (non-retired) challenges and
    directions, with the paper's current state of each."""
    paper = get_paper(session, citekey)
    state = link_state(session, paper.id)
    pre = survey_prefixes(session)
    phases = session.exec(select(Phase).order_by(Phase.survey_id, Phase.position)).scalars().all()
    surveys = dict(session.exec(select(Survey.id, Survey.title)).all()) if len(pre) > 1 else {}
    groups = []
    for p in phases:
        items = {}
        for kind, model in (("challenge", Challenge), ("direction", Direction)):
            rows = (
                session.exec(
                    select(model)
                    .where(model.phase_id == p.id)
                    .order_by(model.retired, model.position, model.id)
                )
                .scalars()
                .all()
            )
            items[kind] = [
                {"item": r, "ref": ref, "state": state.get(f"{kind}:{ref}")}
                for r in rows
                for ref in [target_ref(pre, r)]
                if not r.retired or f"{kind}:{ref}" in state
            ]
        ref = target_ref(pre, p)
        groups.append(
            {
                "phase": p,
                "ref": ref,
                "survey": surveys.get(p.survey_id),  # shown when several surveys are loaded
                "state": state.get(f"phase:{ref}"),
                "challenges": items["challenge"],
                "directions": items["direction"],
            }
        )
    tags = sorted(k.partition(":")[2] for k in state if k.startswith("tag:"))
    return {"paper": paper, "groups": groups, "tags": tags}


# --- review queue ---------------------------------------------------------------------------


@dataclass
class Suggestion:
    kind: str
    paper_id: int
    target_id: int
    citekey: str
    title: str
    year: int | None
    target_slug: str
    target_title: str
    score: float | None
    target_survey_id: int | None = None
    survey: str | None = None  # the target's survey slug when it is not the default survey

    @property
    def token(self) -> str:
        return f"{self.kind}:{self.paper_id}:{self.target_id}"


def review_queue(
    session: Session, *, kind: str | None = None, page: int = 1, per_page: int = 50
) -> tuple[list[Suggestion], int]:
    """Suggested links, best score first (then paper, kind)."""
    parts = []
    for k, (link, col, target) in LINKS.items():
        if kind and kind != k:
            continue
        label = target.name if k == "phase" else target.title
        parts.append(
            select(
                _literal(k),
                link.paper_id,
                getattr(link, col).label("target_id"),
                Paper.citekey,
                Paper.title,
                Paper.year,
                target.slug.label("target_slug"),
                label.label("target_title"),
                link.score,
                target.survey_id.label("target_survey_id"),
            )
            .join(Paper, Paper.id == link.paper_id)
            .join(target, target.id == getattr(link, col))
            .where(link.origin == "suggested")
        )
    if not parts:
        return [], 0
    from sqlalchemy import union_all

    u = union_all(*parts).subquery()
    total = session.exec(select(func.count()).select_from(u)).scalar_one()
    rows = session.exec(
        select(u)
        .order_by(u.c.score.is_(None), u.c.score.desc(), u.c.citekey, u.c.kind, u.c.target_slug)
        .offset((max(1, page) - 1) * per_page)
        .limit(per_page)
    ).all()
    others = {
        sid: pre[:-1] for sid, pre in survey_prefixes(session).items() if pre
    }  # non-default surveys: their slug
    out = [Suggestion(*r) for r in rows]
    for sug in out:
        sug.survey = others.get(sug.target_survey_id)
    return out, total


def _literal(k: str):
    from sqlalchemy import literal

    return literal(k).label("kind")


def parse_token(token: str) -> tuple[str, int, int] | None:
    kind, _, rest = str(token).partition(":")
    pid, _, tid = rest.partition(":")
    if kind not in LINKS or not pid.isdigit() or not tid.isdigit():
        return None
    return kind, int(pid), int(tid)


def decide(
    session: Session, *, tokens: list[str], accept: bool, user: User | None
) -> tuple[int, Touched]:
    """Accept (origin curated) or reject (delete) suggested links; one change per paper.
    Tokens that are not (or no longer) suggestions are skipped."""
    by_paper: dict[int, dict[str, dict | None]] = {}
    prefixes = survey_prefixes(session)
    for token in tokens:
        parsed = parse_token(token)
        if parsed is None:
            continue
        kind, pid, tid = parsed
        link, _, target = LINKS[kind]
        row = session.get(link, (pid, tid))
        if row is None or row.origin != "suggested":
            continue
        ref = target_ref(prefixes, session.get(target, tid))
        by_paper.setdefault(pid, {})[f"{kind}:{ref}"] = (
            {"origin": "curated", "score": None} if accept else None
        )
    touched, n = Touched(), 0
    for pid, changes in by_paper.items():
        paper = session.get(Paper, pid)
        t = change_links(
            session,
            paper=paper,
            changes=changes,
            user=user,
            action="accept" if accept else "reject",
        )
        n += len(changes)
        touched.merge(t)
    return n, touched


# --- history and revert ---------------------------------------------------------------------


def history(session: Session, *, entity: str, entity_id: int, limit: int = 100) -> list:
    return list(
        session.exec(
            select(ChangeLog)
            .where(ChangeLog.entity == entity, ChangeLog.entity_id == entity_id)
            .order_by(ChangeLog.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )


def recent_changes(session: Session, *, limit: int = 100) -> list:
    return list(
        session.exec(select(ChangeLog).order_by(ChangeLog.id.desc()).limit(limit)).scalars().all()
    )


def entity_url(change: ChangeLog) -> str:
    from urllib.parse import quote

    if change.entity == "paper":
        return f"/papers/{quote(change.entity_key, safe='')}"
    if change.entity == "phase":
        return f"/phases/{change.entity_key}"
    return f"/{change.entity}s/{change.entity_key}"


def revert(session: Session, *, change_id: int, user: User | None) -> Touched:
    """Undo one change (admins). Refused when the item changed again since (409)."""
    change = session.get(ChangeLog, change_id)
    if change is None:
        raise NotFound(f"No change {change_id}.")
    if change.reverted_by:
        raise Conflict("This change has already been reverted.")
    before, after = change.before or {}, change.after or {}
    if change.entity in KINDS:
        item = session.get(KINDS[change.entity], change.entity_id)
        if item is None:
            raise NotFound("The item of this change no longer exists.")
        current = item_state(session, item)
        if change.action == "create":
            if current.get("retired"):
                raise Conflict("The item is already retired.")
            target = {"retired": True}
            now = {"retired": False}
        else:
            if any(current.get(k) != v for k, v in after.items()):
                raise Conflict(
                    "The item has changed since; revert the later changes first, or edit it."
                )
            target, now = before, {k: current.get(k) for k in before}
        _apply_state(session, item, target)
        touched = Touched(_linked_papers(session, item), True)
        kind = change.entity
        new = _record(
            session,
            user=user,
            action="revert",
            entity=kind,
            entity_id=item.id,
            key=item.slug,
            summary=f"Reverted change #{change.id} ({change.summary})",
            before=now,
            after=target,
            revert_of=change.id,
        )
    elif change.entity == "phase":
        phase = session.get(Phase, change.entity_id)
        if phase is None:
            raise NotFound("The phase of this change no longer exists.")
        ((name, old_order),) = before.items()
        model = Challenge if name == "challenges" else Direction
        now_order = [it.slug for it in _order(session, model, phase.id)]
        if now_order != after.get(name):
            raise Conflict("The order has changed since; move the items by hand.")
        _apply_order(session, model, phase.id, old_order)
        touched = Touched(taxonomy=True)
        new = _record(
            session,
            user=user,
            action="revert",
            entity="phase",
            entity_id=phase.id,
            key=phase.slug,
            summary=f"Reverted change #{change.id} ({change.summary})",
            before={name: now_order},
            after={name: old_order},
            revert_of=change.id,
        )
    elif change.entity == "paper":
        paper = session.get(Paper, change.entity_id)
        if paper is None:
            raise NotFound("The paper of this change no longer exists.")
        current = link_state(session, paper.id)
        if any(current.get(k) != v for k, v in after.items()):
            raise Conflict("The paper's links have changed since; edit them by hand.")
        _apply_links(session, paper.id, before)
        touched = Touched({paper.id})
        new = _record(
            session,
            user=user,
            action="revert",
            entity="paper",
            entity_id=paper.id,
            key=paper.citekey,
            summary=f"Reverted change #{change.id} ({change.summary})",
            before=after,
            after=before,
            revert_of=change.id,
        )
    else:
        raise BadRequest(f"Changes to '{change.entity}' cannot be reverted.")
    change.reverted_by = new.id
    session.add(change)
    session.flush()
    touched.change = new
    return touched


# --- for the survey loader -----------------------------------------------------------------


def curated_fields(session: Session) -> dict[tuple[str, int], set[str]]:
    """(kind, item id) -> item fields curators have set (and not reverted since)."""
    out: dict[tuple[str, int], set[str]] = {}
    rows = session.exec(
        select(ChangeLog)
        .where(ChangeLog.entity.in_(list(KINDS)), ChangeLog.reverted_by.is_(None))
        .order_by(ChangeLog.id)
    ).scalars()
    for ch in rows:
        if ch.action in ("create", "update") and ch.after:
            out.setdefault((ch.entity, ch.entity_id), set()).update(ch.after)
    return out


def curated_orders(session: Session) -> set[tuple[int, str]]:
    """(phase id, "challenges" | "directions") whose order curators have changed."""
    out = set()
    for ch in session.exec(
        select(ChangeLog).where(ChangeLog.entity == "phase", ChangeLog.reverted_by.is_(None))
    ).scalars():
        for name in ch.after or {}:
            out.add((ch.entity_id, name))
    return out


def curated_link_states(session: Session) -> dict[int, dict[str, dict | None]]:
    """paper id -> the latest curator-set state of each link key (None = removed)."""
    out: dict[int, dict[str, dict | None]] = {}
    for ch in session.exec(
        select(ChangeLog)
        .where(ChangeLog.entity == "paper", ChangeLog.reverted_by.is_(None))
        .order_by(ChangeLog.id)
    ).scalars():
        for key, state in (ch.after or {}).items():
            out.setdefault(ch.entity_id, {})[key] = state
    return out
