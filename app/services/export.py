"""Export a filtered view or a reading list in any writer format, streamed in batches.

`plan_export` resolves what to export (the ordered paper ids, a title and a file name) with the
caller's session; `ExportPlan.chunks(engine)` then yields text with a session of its own, so a
streaming HTTP response outlives the request's session safely. Only ids are held in memory:
papers are loaded, converted to ExportRecords and written `batch` at a time.
"""

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.bibtex.writers import FORMATS, ExportRecord, Group, Person, Term
from app.bibtex.writers import bibtex as bibtex_writer
from app.bibtex.writers.csljson import iter_csljson
from app.bibtex.writers.markdown import iter_markdown_groups
from app.bibtex.writers.ris import iter_ris
from app.bibtex.writers.tabular import iter_csv
from app.errors import BadRequest
from app.models import (
    Author,
    Challenge,
    Direction,
    Paper,
    PaperAuthor,
    PaperChallenge,
    PaperDirection,
    PaperPhase,
    Phase,
)
from app.services.browse import ACCEPTED, _conditions, _order, _where
from app.services.filters import SORTS, PaperFilters

log = logging.getLogger(__name__)
BATCH = 1000


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def describe(f: PaperFilters) -> str:
    """A short, file-name-friendly description of a filter: `phase-data_year-2023`."""
    parts = []
    for name in ("phase", "challenge", "direction", "venue", "type", "tag"):
        values = getattr(f, name)
        if values:
            parts.append(_slug(name + "-" + "-".join(values)))
    if f.year_from or f.year_to:
        if f.year_from == f.year_to:
            parts.append(f"year-{f.year_from}")
        else:
            parts.append(f"years-{f.year_from or ''}-{f.year_to or ''}".rstrip("-"))
    if f.q:
        parts.append(_slug("q-" + f.q))
    return "_".join(p for p in parts if p)[:90].strip("-_") or "all-papers"


def text_ids(session: Session, q: str, index=None) -> list[int]:
    """Paper ids matching a text query: the search index when there is one, best first;
    otherwise every word must appear in the title, abstract, citation key or venue."""
    if index is not None and hasattr(index, "ranked_ids"):
        try:
            return list(index.ranked_ids(q, kind="paper"))
        except Exception:  # a broken index must not break export: fall back to SQL
            log.exception("search index failed for export query %r", q)
    conds = []
    for word in q.split()[:20]:
        like = f"%{word.lower()}%"
        conds.append(
            or_(
                func.lower(Paper.title).like(like),
                func.lower(Paper.abstract).like(like),
                func.lower(Paper.citekey).like(like),
                func.lower(func.coalesce(Paper.venue, "")).like(like),
            )
        )
    if not conds:
        return []
    return list(session.exec(select(Paper.id).where(*conds).order_by(Paper.id)).scalars())


def filtered_ids(
    session: Session, f: PaperFilters, *, sort: str = "year", index=None, ids=None
) -> list[int]:
    """The ordered ids of every paper the /papers view shows for these filters."""
    order_ids = None
    if ids is None and f.q:
        order_ids = text_ids(session, f.q, index)
        ids = set(order_ids)
    q = select(Paper.id).where(_where(_conditions(f, set(ids) if ids is not None else None)))
    rows = list(session.exec(q.order_by(*_order(sort if sort in SORTS else "year"))).scalars())
    if order_ids is not None and sort == "relevance":
        rank = {pid: i for i, pid in enumerate(order_ids)}
        rows.sort(key=lambda pid: rank.get(pid, len(rank)))
    return rows


# --- ExportRecords from rows -----------------------------------------------------------------


PAPER_COLUMNS = (
    Paper.id,
    Paper.citekey,
    Paper.entry_type,
    Paper.title,
    Paper.year,
    Paper.venue,
    Paper.doi,
    Paper.arxiv_id,
    Paper.url,
    Paper.abstract,
    Paper.fields,
)


class _Loader:
    """Builds ExportRecords batch by batch. The taxonomy (a few hundred rows at most) is read
    once into Terms with their sort keys, so each batch needs only plain link-table reads:
    no joins, no per-row Term lookups in SQL."""

    def __init__(
        self,
        session: Session,
        annotations: dict[int, tuple[str, str]] | None = None,
        *,
        fields: bool = True,
    ):
        self.conn = session.connection()
        self.notes = annotations or {}
        self.fields = fields
        self.cols = PAPER_COLUMNS if fields else PAPER_COLUMNS[:-1]  # CSV/Markdown skip JSON
        conn = self.conn
        phase_slug: dict[int, tuple[str, int]] = {}
        shared: dict[tuple, Term] = {}  # one Term object per distinct item, shared by papers
        # Same order as the former per-batch ORDER BY clauses (ids break ties stably).
        self.phases: dict[int, tuple[tuple, Term]] = {}
        for phid, survey_id, position, slug, name in conn.execute(
            select(Phase.id, Phase.survey_id, Phase.position, Phase.slug, Phase.name)
        ):
            key = ("p", slug, name)
            term = shared.get(key) or shared.setdefault(key, Term(slug, name))
            self.phases[phid] = ((survey_id, position, phid), term)
            phase_slug[phid] = (slug, position)
        self.kinds: dict[str, dict[int, tuple[tuple, Term]]] = {}
        for kind, target in (("challenges", Challenge), ("directions", Direction)):
            items: dict[int, tuple[tuple, Term]] = {}
            for tid, slug, title, position, phid in conn.execute(
                select(target.id, target.slug, target.title, target.position, target.phase_id)
            ):
                if phid not in phase_slug:
                    continue  # the former inner join to Phase skipped these too
                pslug, pposition = phase_slug[phid]
                key = (kind, slug, title, pslug)
                term = shared.get(key) or shared.setdefault(key, Term(slug, title, pslug))
                items[tid] = ((pposition, position, tid), term)
            self.kinds[kind] = items
        # Statements built once with an expanding parameter: a literal `in_(ids)` list costs a
        # coercion per id on every batch.
        ids = bindparam("ids", expanding=True)
        self.paper_q = select(*self.cols).where(Paper.id.in_(ids))
        self.author_q = (
            select(PaperAuthor.paper_id, Author.family, Author.given, Author.name)
            .join(Author, Author.id == PaperAuthor.author_id)
            .where(PaperAuthor.paper_id.in_(ids))
            .order_by(PaperAuthor.paper_id, PaperAuthor.position)
        )
        self.link_q = {
            link: select(link.paper_id, col).where(
                link.paper_id.in_(ids), link.origin.in_(ACCEPTED)
            )
            for link, col in (
                (PaperPhase, PaperPhase.phase_id),
                (PaperChallenge, PaperChallenge.challenge_id),
                (PaperDirection, PaperDirection.direction_id),
            )
        }

    def _terms(self, link, chunk: list[int], items) -> dict[int, list[Term]]:
        by_paper: dict[int, list] = defaultdict(list)
        for pid, tid in self.conn.execute(self.link_q[link], {"ids": chunk}):
            item = items.get(tid)
            if item is not None:
                by_paper[pid].append(item)
        out: dict[int, list[Term]] = {}
        for pid, found in by_paper.items():
            if len(found) > 1:
                found.sort(key=itemgetter(0))
            out[pid] = [term for _, term in found]
        return out

    def records(self, ids: list[int]) -> list[ExportRecord]:
        """ExportRecords for these ids, in this order (five Core queries whatever the number:
        plain rows, no ORM identity map, because exports read many papers once)."""
        if not ids:
            return []
        conn = self.conn
        params = {"ids": ids}
        papers = {row[0]: row for row in conn.execute(self.paper_q, params)}
        authors: dict[int, list[Person]] = defaultdict(list)
        for pid, family, given, name in conn.execute(self.author_q, params):
            authors[pid].append(Person(family or name, given or ""))
        phases = self._terms(PaperPhase, ids, self.phases)
        challenges = self._terms(PaperChallenge, ids, self.kinds["challenges"])
        directions = self._terms(PaperDirection, ids, self.kinds["directions"])
        notes, with_fields, none = self.notes, self.fields, ("", "")
        out = []
        append = out.append
        for pid in ids:
            row = papers.get(pid)
            if row is None:
                continue
            note, status = notes.get(pid, none)
            append(
                ExportRecord(
                    row[1],
                    row[2],
                    row[3],
                    authors.get(pid, []),
                    row[4],
                    row[5],
                    row[6],
                    row[7],
                    row[8],
                    row[9] or "",
                    (row[10] or {}) if with_fields else {},
                    phases.get(pid, []),
                    challenges.get(pid, []),
                    directions.get(pid, []),
                    note,
                    status,
                )
            )
        return out


def records_for(
    session: Session,
    ids: list[int],
    annotations: dict[int, tuple[str, str]] | None = None,
    *,
    fields: bool = True,
) -> list[ExportRecord]:
    """ExportRecords for these ids, in this order."""
    if not ids:
        return []
    return _Loader(session, annotations, fields=fields).records(ids)


def iter_records(
    session: Session,
    ids: list[int],
    annotations: dict[int, tuple[str, str]] | None = None,
    batch: int = BATCH,
    *,
    fields: bool = True,
    loader: "_Loader | None" = None,
) -> Iterator[ExportRecord]:
    if not ids:
        return
    loader = loader or _Loader(session, annotations, fields=fields)
    for start in range(0, len(ids), batch):
        yield from loader.records(ids[start : start + batch])


def crossref_parents(session: Session, ids: list[int], batch: int = BATCH) -> set[str]:
    """Lower-cased keys of exported papers that other exported papers cross-reference."""
    wanted: set[str] = set()
    refs = [Paper.fields[name].as_string() for name in bibtex_writer.REFS]
    conn = session.connection()
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        for row in conn.execute(
            select(*refs).where(Paper.id.in_(chunk), or_(*[r.is_not(None) for r in refs]))
        ):
            wanted.update(str(v).strip().lower() for v in row if v)
    if not wanted:
        return set()
    found = set()
    id_set = set(ids)
    for pid, key in session.exec(
        select(Paper.id, Paper.citekey).where(func.lower(Paper.citekey).in_(wanted))
    ).all():
        if pid in id_set:
            found.add(key.lower())
    return found


def markdown_groups(
    session: Session, ids: list[int], annotations, batch: int = BATCH
) -> Iterator[Group]:
    """Groups (phase, challenge) in lifecycle order, each streaming its papers lazily."""
    by_group: dict[tuple[int | None, int | None], list[int]] = defaultdict(list)
    for start in range(0, len(ids), batch):  # link lookups held for one batch only
        chunk = ids[start : start + batch]
        phase_of: dict[int, list[int]] = defaultdict(list)
        ch_links: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for pid, phid in session.exec(
            select(PaperPhase.paper_id, PaperPhase.phase_id).where(
                PaperPhase.paper_id.in_(chunk), PaperPhase.origin.in_(ACCEPTED)
            )
        ).all():
            phase_of[pid].append(phid)
        for pid, cid, phid in session.exec(
            select(PaperChallenge.paper_id, Challenge.id, Challenge.phase_id)
            .join(Challenge, Challenge.id == PaperChallenge.challenge_id)
            .where(PaperChallenge.paper_id.in_(chunk), PaperChallenge.origin.in_(ACCEPTED))
        ).all():
            ch_links[pid].append((cid, phid))
        for pid in chunk:
            phases = phase_of.get(pid, ())
            if not phases:
                by_group[(None, None)].append(pid)
            for phid in phases:
                mine = [cid for cid, cphid in ch_links.get(pid, ()) if cphid == phid]
                for cid in mine:
                    by_group[(phid, cid)].append(pid)
                if not mine:
                    by_group[(phid, None)].append(pid)
    loader = _Loader(session, annotations, fields=False)  # one taxonomy read for all groups
    phases = session.exec(select(Phase).order_by(Phase.survey_id, Phase.position)).scalars().all()
    challenges = (
        session.exec(select(Challenge).order_by(Challenge.position, Challenge.id)).scalars().all()
    )
    for ph in phases:
        pterm = Term(ph.slug, ph.name)
        for ch in challenges:
            if ch.phase_id == ph.id and (ph.id, ch.id) in by_group:
                group_ids = by_group[(ph.id, ch.id)]  # already in export order
                yield Group(
                    pterm,
                    Term(ch.slug, ch.title, ph.slug),
                    iter_records(session, group_ids, batch=batch, loader=loader),
                )
        if (ph.id, None) in by_group:
            group_ids = by_group[(ph.id, None)]
            yield Group(pterm, None, iter_records(session, group_ids, batch=batch, loader=loader))
    if (None, None) in by_group:
        group_ids = by_group[(None, None)]
        yield Group(None, None, iter_records(session, group_ids, batch=batch, loader=loader))


CHUNK = 64 * 1024


def _coalesce(parts: Iterable[str], size: int = CHUNK) -> Iterator[str]:
    """Join a writer's many small pieces (one per entry) into chunks of about `size`
    characters: far fewer sends for a streaming response, memory still bounded."""
    buf: list[str] = []
    n = 0
    for part in parts:
        buf.append(part)
        n += len(part)
        if n >= size:
            yield "".join(buf)
            buf, n = [], 0
    if buf:
        yield "".join(buf)


# --- the plan --------------------------------------------------------------------------------


@dataclass
class ExportPlan:
    format: str
    title: str
    filename: str
    ids: list[int]
    annotations: dict[int, tuple[str, str]] = field(default_factory=dict)
    intro: str = ""
    batch: int = BATCH

    @property
    def media_type(self) -> str:
        return FORMATS[self.format].media_type

    @property
    def count(self) -> int:
        return len(self.ids)

    def write(self, session: Session) -> Iterator[str]:
        """Text chunks of the export (about CHUNK characters each), using `session` for the
        batched reads."""
        return _coalesce(self._write(session))

    def _write(self, session: Session) -> Iterator[str]:
        fmt, ids, notes = self.format, self.ids, self.annotations
        header = f"{self.title}\n{self.count} paper(s), exported from surveykb"
        if fmt in ("bibtex", "biblatex"):
            parents = crossref_parents(session, ids, self.batch)
            writer = bibtex_writer.iter_bibtex if fmt == "bibtex" else bibtex_writer.iter_biblatex
            yield from writer(
                iter_records(session, ids, notes, self.batch), parents=parents, header=header
            )
        elif fmt == "csljson":
            yield from iter_csljson(iter_records(session, ids, notes, self.batch))
        elif fmt == "ris":
            yield from iter_ris(iter_records(session, ids, notes, self.batch))
        elif fmt == "csv":
            yield from iter_csv(iter_records(session, ids, notes, self.batch, fields=False))
        else:
            yield from iter_markdown_groups(
                markdown_groups(session, ids, notes, self.batch),
                title=self.title,
                intro=self.intro,
            )

    def chunks(self, engine: Engine) -> Iterator[str]:
        """Like write(), with a session of its own (for streaming responses)."""
        with Session(engine, expire_on_commit=False) as session:
            yield from self.write(session)


def check_format(fmt: str | None) -> str:
    fmt = (fmt or "bibtex").strip().lower()
    aliases = {"bib": "bibtex", "csl": "csljson", "csl-json": "csljson", "json": "csljson"}
    fmt = aliases.get(fmt, fmt)
    if fmt not in FORMATS:
        raise BadRequest(f"Unknown export format '{fmt}'. Use one of: {', '.join(FORMATS)}.")
    return fmt


def plan_export(
    session: Session,
    *,
    fmt: str = "bibtex",
    filters: PaperFilters | None = None,
    list_slug: str | None = None,
    sort: str = "year",
    index=None,
    ids: Iterable[int] | None = None,
    batch: int = BATCH,
) -> ExportPlan:
    """What an export of these filters (or of the reading list `list_slug`) contains."""
    fmt = check_format(fmt)
    ext = FORMATS[fmt].extension
    if list_slug:
        from app.services import lists

        rl = lists.get_list(session, list_slug)
        paper_ids, annotations = lists.list_paper_ids(session, rl, index=index)
        return ExportPlan(
            format=fmt,
            title=f"Reading list: {rl.name}",
            filename=f"surveykb-list-{rl.slug}.{ext}",
            ids=paper_ids,
            annotations=annotations,
            intro=rl.description,
            batch=batch,
        )
    f = filters or PaperFilters()
    paper_ids = filtered_ids(session, f, sort=sort, index=index, ids=ids)
    title = "Papers" if f.is_empty() else "Papers: " + describe(f).replace("_", ", ")
    return ExportPlan(
        format=fmt,
        title=title,
        filename=f"surveykb-{describe(f)}.{ext}",
        ids=paper_ids,
        batch=batch,
    )
