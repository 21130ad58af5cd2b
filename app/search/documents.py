"""Search documents built from database rows (the index is derived from these and nothing else).

Every builder loads its rows in a fixed number of batch queries per chunk of papers.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator

from sqlalchemy import select
from sqlmodel import Session

from app.models import (
    Author,
    Challenge,
    Direction,
    DirectionChallenge,
    Paper,
    PaperAuthor,
    PaperChallenge,
    PaperDirection,
    PaperPhase,
    Phase,
)
from app.search.base import doc_id
from app.services.browse import survey_prefixes

ACCEPTED = ("survey", "curated")  # suggested links are not a classification yet
CHUNK = 500


def _keywords(fields: dict) -> str:
    kw = fields.get("keywords") if isinstance(fields, dict) else None
    return str(kw) if kw else ""


def _phases(session: Session) -> dict[int, Phase]:
    return {p.id: p for p in session.exec(select(Phase)).scalars()}


def paper_docs(session: Session, paper_ids: Iterable[int] | None = None) -> Iterator[dict]:
    """Documents for these papers (all papers when None); ids not in the database are skipped."""
    if paper_ids is None:
        ids = list(session.exec(select(Paper.id).order_by(Paper.id)).scalars())
    else:
        ids = sorted(set(paper_ids))
    phases = _phases(session)
    pre = survey_prefixes(session)
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i : i + CHUNK]
        papers = session.exec(select(Paper).where(Paper.id.in_(chunk))).scalars().all()
        authors: dict[int, list[str]] = defaultdict(list)
        for pid, name in session.exec(
            select(PaperAuthor.paper_id, Author.name)
            .join(Author, Author.id == PaperAuthor.author_id)
            .where(PaperAuthor.paper_id.in_(chunk))
            .order_by(PaperAuthor.paper_id, PaperAuthor.position)
        ).all():
            authors[pid].append(name)
        ph: dict[int, list[Phase]] = defaultdict(list)
        for pid, phase_id in session.exec(
            select(PaperPhase.paper_id, PaperPhase.phase_id).where(
                PaperPhase.paper_id.in_(chunk), PaperPhase.origin.in_(ACCEPTED)
            )
        ).all():
            ph[pid].append(phases[phase_id])
        links: dict[str, dict[int, list[tuple[str, str, int]]]] = {}
        for name, link, col, target in (
            ("challenge", PaperChallenge, PaperChallenge.challenge_id, Challenge),
            ("direction", PaperDirection, PaperDirection.direction_id, Direction),
        ):
            links[name] = defaultdict(list)
            for pid, slug, title, sid in session.exec(
                select(link.paper_id, target.slug, target.title, target.survey_id)
                .join(target, target.id == col)
                .where(link.paper_id.in_(chunk), link.origin.in_(ACCEPTED))
            ).all():
                links[name][pid].append((slug, title, sid))
        for p in papers:
            p_phases = sorted(ph.get(p.id, []), key=lambda x: x.position)
            chs = links["challenge"].get(p.id, [])
            dis = links["direction"].get(p.id, [])
            yield {
                "id": doc_id("paper", p.id),
                "kind": "paper",
                "key": p.citekey,
                "title": p.title,
                "text": p.abstract or "",
                "authors": "; ".join(authors.get(p.id, [])),
                "venue": p.venue or "",
                "year": str(p.year) if p.year else None,
                "keywords": _keywords(p.fields),
                "ident": [p.citekey, p.doi, p.arxiv_id],
                "taxo": " ; ".join([x.name for x in p_phases] + [t for _, t, _ in chs + dis]),
                "phase": " ; ".join(f"{x.slug} {x.name}" for x in p_phases),
                "challenge": " ; ".join(f"{s} {t}" for s, t, _ in chs),
                "direction": " ; ".join(f"{s} {t}" for s, t, _ in dis),
                "f_phase": [pre.get(x.survey_id, "") + x.slug for x in p_phases],
                "f_challenge": [pre.get(sid, "") + s for s, _, sid in chs],
                "f_direction": [pre.get(sid, "") + s for s, _, sid in dis],
                "f_venue": p.venue or None,
            }


def taxonomy_docs(session: Session) -> Iterator[dict]:
    """Documents for every challenge and research direction."""
    phases = _phases(session)
    pre = survey_prefixes(session)
    challenges = {c.id: c for c in session.exec(select(Challenge)).scalars()}
    directions = {d.id: d for d in session.exec(select(Direction)).scalars()}
    by_ch: dict[int, list[Direction]] = defaultdict(list)
    by_di: dict[int, list[Challenge]] = defaultdict(list)
    for link in session.exec(select(DirectionChallenge)).scalars():
        if link.challenge_id in challenges and link.direction_id in directions:
            by_ch[link.challenge_id].append(directions[link.direction_id])
            by_di[link.direction_id].append(challenges[link.challenge_id])
    for kind, items, related in (
        ("challenge", challenges, by_ch),
        ("direction", directions, by_di),
    ):
        other = "direction" if kind == "challenge" else "challenge"
        for obj in items.values():
            phase = phases.get(obj.phase_id)
            rel = related.get(obj.id, [])
            own = f"{obj.slug} {obj.title}"
            px = pre.get(obj.survey_id, "")
            rel_text = " ; ".join(f"{r.slug} {r.title}" for r in rel)
            yield {
                "id": doc_id(kind, obj.id),
                "kind": kind,
                "key": obj.slug,
                "title": obj.title,
                "text": obj.description or "",
                "taxo": " ; ".join([phase.name if phase else ""] + [r.title for r in rel]),
                "phase": f"{phase.slug} {phase.name}" if phase else "",
                kind: own,
                other: rel_text,
                "f_phase": [px + phase.slug] if phase else [],
                f"f_{kind}": [px + obj.slug],
                f"f_{other}": [px + r.slug for r in rel],
                "ident": [obj.slug],
            }


def taxonomy_ids(session: Session) -> set[str]:
    ids = {doc_id("challenge", i) for i in session.exec(select(Challenge.id)).scalars()}
    return ids | {doc_id("direction", i) for i in session.exec(select(Direction.id)).scalars()}


def expected_ids(session: Session) -> set[str]:
    """The ids the index should hold, from the database."""
    papers = {doc_id("paper", i) for i in session.exec(select(Paper.id)).scalars()}
    return papers | taxonomy_ids(session)


def all_docs(session: Session) -> Iterator[dict]:
    yield from taxonomy_docs(session)
    yield from paper_docs(session)
