"""The data exit: the whole knowledge base as one documented JSON file (docs/dump-format.md).

`iter_dump` streams the file (papers in batches); the output is deterministic (sorted, no
timestamps of its own), so dump -> restore -> dump gives byte-identical files. `restore` loads
a dump into an empty database in one transaction. Accounts, tokens and import jobs are not part
of a dump: they hold secrets or are transient.
"""

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from app.errors import BadRequest, Conflict
from app.models import (
    Author,
    Challenge,
    CitekeyAlias,
    Direction,
    DirectionChallenge,
    Paper,
    PaperAuthor,
    PaperChallenge,
    PaperDirection,
    PaperPhase,
    PaperTag,
    Phase,
    ReadingList,
    ReadingListItem,
    Survey,
    Tag,
    User,
)

FORMAT = "surveykb-dump"
VERSION = 1
BATCH = 500
LINKS = (
    ("phases", PaperPhase, "phase_id", Phase),
    ("challenges", PaperChallenge, "challenge_id", Challenge),
    ("directions", PaperDirection, "direction_id", Direction),
)


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1)


def _indent(text: str, n: int = 1) -> str:
    pad = " " * n
    return "\n".join(pad + line if line else line for line in text.splitlines())


def _surveys(session: Session) -> list[dict]:
    out = []
    for sv in session.exec(select(Survey).order_by(Survey.slug)).scalars():
        phases = session.exec(
            select(Phase).where(Phase.survey_id == sv.id).order_by(Phase.position, Phase.slug)
        ).scalars()
        phase_slug = {}
        phase_rows = []
        for p in phases:
            phase_slug[p.id] = p.slug
            phase_rows.append(
                {"slug": p.slug, "name": p.name, "position": p.position, "summary": p.summary}
            )
        addresses: dict[int, list[str]] = defaultdict(list)
        for did, cslug in session.exec(
            select(DirectionChallenge.direction_id, Challenge.slug)
            .join(Challenge, Challenge.id == DirectionChallenge.challenge_id)
            .where(Challenge.survey_id == sv.id)
            .order_by(Challenge.slug)
        ).all():
            addresses[did].append(cslug)

        def items(
            model, with_addresses=False, sv_id=sv.id, phase_slug=phase_slug, addresses=addresses
        ):
            rows = []
            for it in session.exec(
                select(model).where(model.survey_id == sv_id).order_by(model.slug)
            ).scalars():
                row = {
                    "slug": it.slug,
                    "phase": phase_slug[it.phase_id],
                    "title": it.title,
                    "description": it.description,
                    "source": it.source,
                    "position": it.position,
                    "retired": it.retired,
                }
                if with_addresses:
                    row["addresses"] = addresses.get(it.id, [])
                rows.append(row)
            return rows

        out.append(
            {
                "slug": sv.slug,
                "title": sv.title,
                "citation": sv.citation,
                "citekey": sv.citekey,
                "description": sv.description,
                "url": sv.url,
                "year": sv.year,
                "authors": list(sv.authors or []),
                "phases": phase_rows,
                "challenges": items(Challenge),
                "directions": items(Direction, with_addresses=True),
            }
        )
    return out


def _paper_rows(session: Session, ids: list[int]) -> list[dict]:
    papers = session.exec(select(Paper).where(Paper.id.in_(ids))).scalars().all()
    authors: dict[int, list[str]] = defaultdict(list)
    for pid, key in session.exec(
        select(PaperAuthor.paper_id, Author.key)
        .join(Author, Author.id == PaperAuthor.author_id)
        .where(PaperAuthor.paper_id.in_(ids))
        .order_by(PaperAuthor.paper_id, PaperAuthor.position)
    ).all():
        authors[pid].append(key)
    links: dict[str, dict[int, list[dict]]] = {k: defaultdict(list) for k, *_ in LINKS}
    for kind, link, col, target in LINKS:
        for pid, sslug, slug, origin, score in session.exec(
            select(link.paper_id, Survey.slug, target.slug, link.origin, link.score)
            .join(target, target.id == getattr(link, col))
            .join(Survey, Survey.id == target.survey_id)
            .where(link.paper_id.in_(ids))
            .order_by(link.paper_id, Survey.slug, target.slug)
        ).all():
            links[kind][pid].append(
                {"survey": sslug, "slug": slug, "origin": origin, "score": score}
            )
    tags: dict[int, list[str]] = defaultdict(list)
    for pid, name in session.exec(
        select(PaperTag.paper_id, Tag.name)
        .join(Tag, Tag.id == PaperTag.tag_id)
        .where(PaperTag.paper_id.in_(ids))
        .order_by(Tag.name)
    ).all():
        tags[pid].append(name)
    aliases: dict[int, list[str]] = defaultdict(list)
    for alias in session.exec(
        select(CitekeyAlias).where(CitekeyAlias.paper_id.in_(ids)).order_by(CitekeyAlias.alias)
    ).scalars():
        aliases[alias.paper_id].append(alias.alias)
    out = []
    for p in sorted(papers, key=lambda p: p.citekey):
        out.append(
            {
                "citekey": p.citekey,
                "entry_type": p.entry_type,
                "title": p.title,
                "year": p.year,
                "venue": p.venue,
                "doi": p.doi,
                "arxiv_id": p.arxiv_id,
                "url": p.url,
                "abstract": p.abstract,
                "fields": p.fields or {},
                "raw_bibtex": p.raw_bibtex,
                "title_key": p.title_key,
                "created_at": _ts(p.created_at),
                "updated_at": _ts(p.updated_at),
                "authors": authors.get(p.id, []),
                "tags": tags.get(p.id, []),
                "aliases": aliases.get(p.id, []),
                **{k: links[k].get(p.id, []) for k, *_ in LINKS},
            }
        )
    return out


def _lists(session: Session) -> list[dict]:
    owners = dict(session.exec(select(User.id, User.username)).all())
    out = []
    for rl in session.exec(select(ReadingList).order_by(ReadingList.slug)).scalars():
        items = session.exec(
            select(ReadingListItem, Paper.citekey)
            .join(Paper, Paper.id == ReadingListItem.paper_id)
            .where(ReadingListItem.list_id == rl.id)
            .order_by(ReadingListItem.position, Paper.citekey)
        ).all()
        out.append(
            {
                "slug": rl.slug,
                "name": rl.name,
                "description": rl.description,
                "filter": rl.filter,
                "public": rl.public,
                "owner": owners.get(rl.owner_id),
                "created_at": _ts(rl.created_at),
                "updated_at": _ts(rl.updated_at),
                "items": [
                    {"citekey": key, "position": it.position, "note": it.note, "status": it.status}
                    for it, key in items
                ],
            }
        )
    return out


def iter_dump(session: Session, *, batch: int = BATCH) -> Iterator[str]:
    """The dump as text chunks; papers are read `batch` at a time in citation-key order."""
    yield "{\n"
    yield f' "format": {_json(FORMAT)},\n "version": {VERSION},\n'
    yield ' "surveys": ' + _indent(_json(_surveys(session))).lstrip() + ",\n"
    authors = [
        {"key": a.key, "name": a.name, "family": a.family, "given": a.given}
        for a in session.exec(select(Author).order_by(Author.key)).scalars()
    ]
    yield ' "authors": ' + _indent(_json(authors)).lstrip() + ",\n"
    tags = list(session.exec(select(Tag.name).order_by(Tag.name)).scalars())
    yield ' "tags": ' + _indent(_json(tags)).lstrip() + ",\n"
    keys = list(session.exec(select(Paper.citekey).order_by(Paper.citekey)).scalars())
    yield ' "papers": ['
    first = True
    for start in range(0, len(keys), batch):
        chunk = keys[start : start + batch]
        ids = list(session.exec(select(Paper.id).where(Paper.citekey.in_(chunk))).scalars())
        for row in _paper_rows(session, ids):
            yield ("\n" if first else ",\n") + _indent(_json(row), 2)
            first = False
        session.expunge_all()
    yield ("\n ],\n" if not first else "],\n")
    yield ' "lists": ' + _indent(_json(_lists(session))).lstrip() + "\n"
    yield "}\n"


def dump_text(session: Session) -> str:
    return "".join(iter_dump(session))


def is_empty(session: Session) -> bool:
    return not any(
        session.exec(select(func.count()).select_from(m)).scalar_one()
        for m in (Survey, Paper, ReadingList, Author)
    )


def restore(session: Session, data: dict) -> dict[str, int]:
    """Load a dump into an empty database (the caller commits); returns counts."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BadRequest("This is not a surveykb dump (missing 'format': 'surveykb-dump').")
    if data.get("version") != VERSION:
        raise BadRequest(f"Unsupported dump version {data.get('version')!r} (expected 1).")
    if not is_empty(session):
        raise Conflict("The database is not empty: restore needs an empty database.")
    ids: dict[str, dict[tuple[str, str], int]] = {"phases": {}, "challenges": {}, "directions": {}}
    for sv in data.get("surveys", []):
        survey = Survey(
            **{k: sv.get(k) for k in ("slug", "title", "citekey", "url", "year")},
            citation=sv.get("citation") or "",
            description=sv.get("description") or "",
            authors=sv.get("authors") or [],
        )
        session.add(survey)
        session.flush()
        for p in sv.get("phases", []):
            row = Phase(survey_id=survey.id, **p)
            session.add(row)
            session.flush()
            ids["phases"][(sv["slug"], p["slug"])] = row.id
        for kind, model in (("challenges", Challenge), ("directions", Direction)):
            for it in sv.get(kind, []):
                values = {k: v for k, v in it.items() if k not in ("phase", "addresses")}
                row = model(
                    survey_id=survey.id, phase_id=ids["phases"][(sv["slug"], it["phase"])], **values
                )
                session.add(row)
                session.flush()
                ids[kind][(sv["slug"], it["slug"])] = row.id
        for d in sv.get("directions", []):
            for cslug in d.get("addresses", []):
                session.add(
                    DirectionChallenge(
                        direction_id=ids["directions"][(sv["slug"], d["slug"])],
                        challenge_id=ids["challenges"][(sv["slug"], cslug)],
                    )
                )
    author_ids: dict[str, int] = {}
    for a in data.get("authors", []):
        row = Author(**a)
        session.add(row)
        session.flush()
        author_ids[a["key"]] = row.id
    tag_ids: dict[str, int] = {}
    for name in data.get("tags", []):
        row = Tag(name=name)
        session.add(row)
        session.flush()
        tag_ids[name] = row.id
    paper_ids: dict[str, int] = {}
    for p in data.get("papers", []):
        values = {
            k: p.get(k)
            for k in (
                "citekey",
                "entry_type",
                "title",
                "year",
                "venue",
                "doi",
                "arxiv_id",
                "url",
                "raw_bibtex",
                "title_key",
            )
        }
        paper = Paper(
            **values,
            abstract=p.get("abstract") or "",
            fields=p.get("fields") or {},
            created_at=_parse_ts(p.get("created_at")),
            updated_at=_parse_ts(p.get("updated_at")),
        )
        session.add(paper)
        session.flush()
        paper_ids[p["citekey"]] = paper.id
        for pos, key in enumerate(p.get("authors", [])):
            session.add(PaperAuthor(paper_id=paper.id, position=pos, author_id=author_ids[key]))
        for name in p.get("tags", []):
            session.add(PaperTag(paper_id=paper.id, tag_id=tag_ids[name]))
        for alias in p.get("aliases", []):
            session.add(CitekeyAlias(alias=alias, paper_id=paper.id))
        for kind, link, col, _ in LINKS:
            for ln in p.get(kind, []):
                session.add(
                    link(
                        paper_id=paper.id,
                        **{col: ids[kind][(ln["survey"], ln["slug"])]},
                        origin=ln.get("origin") or "survey",
                        score=ln.get("score"),
                    )
                )
    users = dict(session.exec(select(User.username, User.id)).all())
    n_items = 0
    for rl in data.get("lists", []):
        row = ReadingList(
            slug=rl["slug"],
            name=rl["name"],
            description=rl.get("description") or "",
            filter=rl.get("filter"),
            public=rl.get("public", True),
            owner_id=users.get(rl.get("owner")),
            created_at=_parse_ts(rl.get("created_at")),
            updated_at=_parse_ts(rl.get("updated_at")),
        )
        session.add(row)
        session.flush()
        for it in rl.get("items", []):
            session.add(
                ReadingListItem(
                    list_id=row.id,
                    paper_id=paper_ids[it["citekey"]],
                    position=it.get("position", 0),
                    note=it.get("note") or "",
                    status=it.get("status") or "to-read",
                )
            )
            n_items += 1
    session.flush()
    return {
        "surveys": len(data.get("surveys", [])),
        "papers": len(paper_ids),
        "authors": len(author_ids),
        "lists": len(data.get("lists", [])),
        "list items": n_items,
    }
