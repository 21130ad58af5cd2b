"""Export a filtered view or a reading list in any writer format, streamed in batches.

`plan_export` resolves what to export (the ordered paper ids, a title and a file name) with the
caller's session; `ExportPlan.chunks(engine)` then yields text with a session of its own, so a
streaming HTTP response outlives the request's session safely. Only ids are held in memory:
papers are loaded, converted to ExportRecords and written `batch` at a time.
"""

import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter

from sqlalchemy import (
    Integer,
    String,
    any_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import ARRAY
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


class _Batches:
    """Runs the export's per-batch statements. The batch's ids are ONE parameter (a JSON array
    read with json_each on SQLite, an integer array with `= ANY` on PostgreSQL), so each
    statement is compiled once and then run straight on the session's DBAPI cursor, in the
    session's transaction: rows come back as plain tuples. SQLAlchemy's Row objects are
    tracked by the garbage collector; with the per-paper lists built ahead for a batch, the
    thousands of them each batch held alive pushed the process into full collections again
    and again (a quarter of an export's time). Other databases keep an expanding `IN` and
    SQLAlchemy's own execution."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.last_ids: list[int] | None = None  # bound once per batch (see _Prepared.rows)
        self.last_value = None
        name = conn.dialect.name
        self.raw = True
        if name == "postgresql":
            self.param = bindparam("ids", type_=ARRAY(Integer))
            self.where = lambda col: col == any_(self.param)
            self.bind = list
        elif name == "sqlite" and _sqlite_has_json(conn):
            self.param = bindparam("ids", type_=String)
            ids = select(literal_column("value")).select_from(func.json_each(self.param))
            self.where = lambda col: col.in_(ids)
            self.bind = _json_ids
        else:
            self.raw = False
            self.param = bindparam("ids", expanding=True)
            self.where = lambda col: col.in_(self.param)
            self.bind = list

    def prepare(self, stmt, key: str) -> "_Prepared":
        """`stmt` (whose only parameter is `ids`, see where()) ready to run batch after batch.
        `key` names the statement's shape: its SQL is compiled once per process and dialect
        (a few milliseconds per export, which small exports noticed)."""
        return _Prepared(self, stmt, key)


def _json_ids(ids: list[int]) -> str:
    return json.dumps([int(i) for i in ids])


_COMPILED: dict[tuple, tuple[bool, str, int | None]] = {}


class _Prepared:
    def __init__(self, batches: _Batches, stmt, key: str):
        self.batches = batches
        self.stmt = stmt
        self.raw = batches.raw
        if self.raw:
            dialect = batches.conn.dialect
            cache_key = (key, dialect.name, dialect.driver, dialect.paramstyle)
            if cache_key not in _COMPILED:
                compiled = stmt.compile(dialect=dialect)
                _COMPILED[cache_key] = (
                    # other parameters (a JSON path...): SQLAlchemy binds them
                    not (compiled.binds.keys() - {"ids"}),
                    compiled.string,
                    # qmark/numeric drivers (sqlite3) take the value once per placeholder, in
                    # order; named ones (psycopg) a dict
                    len(compiled.positiontup or ()) if compiled.positional else None,
                )
            self.raw, self.sql, self.placeholders = _COMPILED[cache_key]

    def rows(self, ids: list[int]) -> list[tuple]:
        """Every row for this batch of ids, as tuples."""
        b = self.batches
        if ids == b.last_ids:  # the batch's other statements: the same parameter value
            value = b.last_value
        else:
            value = b.last_value = b.bind(ids)
            b.last_ids = list(ids)
        if not self.raw:
            return [tuple(r) for r in b.conn.execute(self.stmt, {"ids": value}).fetchall()]
        cursor = b.conn.connection.dbapi_connection.cursor()
        try:
            n = self.placeholders
            cursor.execute(self.sql, (value,) * n if n is not None else {"ids": value})
            return cursor.fetchall()
        finally:
            cursor.close()


_JSON_EACH: dict[str, bool] = {}


def _sqlite_has_json(conn: Connection) -> bool:
    """SQLite has json_each when built with JSON1 (the default since 3.38); asked once."""
    version = getattr(conn.dialect.dbapi, "sqlite_version", "")
    if version not in _JSON_EACH:
        try:
            conn.exec_driver_sql("SELECT value FROM json_each('[1]')").all()
            _JSON_EACH[version] = True
        except DBAPIError:
            _JSON_EACH[version] = False
    return _JSON_EACH[version]


def _accepted(col):
    """`col IN ('survey', 'curated')` written into the SQL (no parameter: see _Batches)."""
    assert all(re.fullmatch(r"[a-z]+", v) for v in ACCEPTED)
    return col.in_([literal_column(f"'{v}'") for v in ACCEPTED])


LINKS = (
    (PaperPhase, PaperPhase.phase_id),
    (PaperChallenge, PaperChallenge.challenge_id),
    (PaperDirection, PaperDirection.direction_id),
)


def _links(batches: "_Batches", links):
    """(kind, paper id, term id) rows of these link tables (kind: their index), accepted
    links of the batch's papers only."""
    return union_all(
        *(
            select(literal_column(str(kind)), link.paper_id, col).where(
                batches.where(link.paper_id), _accepted(link.origin)
            )
            for kind, (link, col) in enumerate(links)
        )
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
        terms: bool = True,
        authors: str = "all",
    ):
        self.conn = session.connection()
        self.notes = annotations or {}
        self.fields = fields
        self.terms = terms  # False: records without phases, challenges, directions (Markdown)
        # "no-fields": authors only for papers without raw fields. The BibTeX writers read
        # `authors` only for those (entries from columns); the others keep their own field.
        if authors not in ("all", "no-fields") or (authors != "all" and not fields):
            raise ValueError(f"authors={authors!r}")
        self.all_authors = authors == "all"
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
        self.challenge_phase: dict[int, int] = {}
        for kind, target in (("challenges", Challenge), ("directions", Direction)):
            items: dict[int, tuple[tuple, Term]] = {}
            for tid, slug, title, position, phid in conn.execute(
                select(target.id, target.slug, target.title, target.position, target.phase_id)
            ):
                if kind == "challenges":
                    self.challenge_phase[tid] = phid
                if phid not in phase_slug:
                    continue  # the former inner join to Phase skipped these too
                pslug, pposition = phase_slug[phid]
                key = (kind, slug, title, pslug)
                term = shared.get(key) or shared.setdefault(key, Term(slug, title, pslug))
                items[tid] = ((pposition, position, tid), term)
            self.kinds[kind] = items
        self.batches = batches = _Batches(conn)
        where = batches.where
        self.paper_q = batches.prepare(
            select(*self.cols).where(where(Paper.id)), "papers" if fields else "papers-columns"
        )
        # Authors repeat across papers: the link rows name them by id and each author is read
        # once into a Person shared by its papers (a bounded cache), instead of joining their
        # names onto every link row.
        self.author_link_q = batches.prepare(
            select(PaperAuthor.paper_id, PaperAuthor.author_id)
            .where(where(PaperAuthor.paper_id))
            .order_by(PaperAuthor.paper_id, PaperAuthor.position),
            "author-links",
        )
        self.author_q = batches.prepare(
            select(Author.id, Author.family, Author.given, Author.name).where(where(Author.id)),
            "authors",
        )
        self.people: dict[int, Person] = {}
        # The three link tables in one statement: (kind, paper id, term id).
        self.link_q = batches.prepare(_links(batches, LINKS), "links")
        self.by_kind = (self.phases, self.kinds["challenges"], self.kinds["directions"])

    PEOPLE_MAX = 20_000  # authors kept between batches (memory stays flat on huge exports)

    def _authors(self, ids: list[int]):
        """The batch's authors as one flat list of Persons (rows in paper, position order)
        and each paper's span of it. Each record slices its own list when it is made: lists
        built ahead for a whole batch would outlive a garbage-collector generation, and such
        survivors are what trigger the expensive full collections."""
        rows = self.author_link_q.rows(ids)
        people = self.people
        missing = {aid for _, aid in rows if aid not in people}
        if missing:
            if len(people) + len(missing) > self.PEOPLE_MAX:
                people.clear()  # and read every author of the batch again
                missing = {aid for _, aid in rows}
            for aid, family, given, name in self.author_q.rows(sorted(missing)):
                people[aid] = Person(family or name, given or "")
        get = people.get
        persons = [get(aid) for _, aid in rows]
        if missing and not missing.issubset(people):  # an inner join skipped these too
            rows = [row for row, p in zip(rows, persons, strict=True) if p is not None]
            persons = [p for p in persons if p is not None]
        start: dict[int, int] = {}
        end: dict[int, int] = {}
        prev = None
        for i, row in enumerate(rows):
            pid = row[0]
            if pid != prev:
                start[pid] = i
                if prev is not None:
                    end[prev] = i
                prev = pid
        if prev is not None:
            end[prev] = len(rows)
        return persons, start, end

    def _terms(self, ids: list[int]) -> tuple[dict[int, tuple | list], ...]:
        """Each paper's phases, challenges and directions: the taxonomy's own (sort key, Term)
        pair when there is one (nothing new to keep for the batch), a list when there are
        more (see term_list)."""
        found: tuple[dict[int, tuple | list], ...] = ({}, {}, {})
        by_kind = self.by_kind
        for kind, pid, tid in self.link_q.rows(ids):
            item = by_kind[kind].get(tid)
            if item is not None:
                have = found[kind].get(pid)
                if have is None:
                    found[kind][pid] = item
                elif type(have) is list:
                    have.append(item)
                else:
                    found[kind][pid] = [have, item]
        return found

    def records(self, ids: list[int]) -> list[ExportRecord]:
        """ExportRecords for these ids, in this order (four Core queries whatever the number,
        plus one for authors not seen yet: plain rows, no ORM identity map, because exports
        read many papers once)."""
        return list(self.iter_batch(ids))

    def iter_batch(self, ids: list[int]) -> Iterator[ExportRecord]:
        """Like records(), reading every row first but making each ExportRecord (and its
        lists) only when it is asked for: a writer drops it right away."""
        if not ids:
            return
        papers = {row[0]: row for row in self.paper_q.rows(ids)}
        with_fields = self.fields
        if with_fields:  # decoded up front: dicts of strings, which the collector ignores
            fields_of = {}
            for pid, row in papers.items():
                fields = row[10]
                if type(fields) is str:  # SQLite hands JSON columns back as text
                    fields = _json_loads(fields)
                fields_of[pid] = fields or {}
        if self.all_authors:
            persons, a_start, a_end = self._authors(ids)
        else:
            bare = [pid for pid in ids if pid in papers and not fields_of[pid]]
            persons, a_start, a_end = self._authors(bare) if bare else ([], {}, {})
        phases, challenges, directions = self._terms(ids) if self.terms else ({}, {}, {})
        notes, none = self.notes, ("", "")
        for pid in ids:
            row = papers.get(pid)
            if row is None:
                continue
            note, status = notes.get(pid, none)
            fields = fields_of[pid] if with_fields else {}
            first = a_start.get(pid)
            # _term_list, inlined for the usual none or one
            ph, ch, di = phases.get(pid), challenges.get(pid), directions.get(pid)
            ph = [] if ph is None else [ph[1]] if type(ph) is tuple else _term_list(ph)
            ch = [] if ch is None else [ch[1]] if type(ch) is tuple else _term_list(ch)
            di = [] if di is None else [di[1]] if type(di) is tuple else _term_list(di)
            yield ExportRecord(
                row[1],
                row[2],
                row[3],
                [] if first is None else persons[first : a_end[pid]],
                row[4],
                row[5],
                row[6],
                row[7],
                row[8],
                row[9] or "",
                fields,
                ph,
                ch,
                di,
                note,
                status,
            )


_scan_json = json.JSONDecoder().scan_once  # the C scanner json.loads runs, minus its wrapper


def _json_loads(text: str):
    """json.loads(text), a third faster on the compact JSON the database holds."""
    try:
        value, end = _scan_json(text, 0)
    except StopIteration:  # leading white space (or not JSON): json.loads decides
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def _term_list(found) -> list[Term]:
    """Terms in lifecycle order from what _Loader._terms found for one paper."""
    if type(found) is tuple:
        return [found[1]]
    return [term for _, term in sorted(found, key=itemgetter(0))]


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
    authors: str = "all",
    loader: "_Loader | None" = None,
) -> Iterator[ExportRecord]:
    if not ids:
        return
    loader = loader or _Loader(session, annotations, fields=fields, authors=authors)
    for start in range(0, len(ids), batch):
        yield from loader.iter_batch(ids[start : start + batch])


CROSSREF_BATCH = 20_000


def crossref_parents(session: Session, ids: list[int], batch: int = BATCH) -> set[str]:
    """Lower-cased keys of exported papers that other exported papers cross-reference.

    Only the few cross-references come back, so the ids go in far larger batches than the
    records' (at least CROSSREF_BATCH, when they are one parameter): the rows are then read
    in a few sweeps in table order rather than jumping all over it batch after batch."""
    wanted: set[str] = set()
    refs = [Paper.fields[name].as_string() for name in bibtex_writer.REFS]
    batches = _Batches(session.connection())
    query = batches.prepare(
        select(*refs).where(batches.where(Paper.id), or_(*[r.is_not(None) for r in refs])),
        "crossrefs",
    )
    if batches.raw:  # the ids are one parameter however many (an expanding IN has limits)
        batch = max(batch, CROSSREF_BATCH)
    for start in range(0, len(ids), batch):
        for row in query.rows(ids[start : start + batch]):
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
    # One taxonomy read for all groups. A Markdown entry shows no fields and no terms (its
    # headings place it), so neither is read.
    loader = _Loader(session, annotations, fields=False, terms=False)
    batches, challenge_phase = loader.batches, loader.challenge_phase
    # (0, paper, phase) and (1, paper, challenge) rows in one statement
    links = batches.prepare(_links(batches, LINKS[:2]), "phase-challenge-links")
    by_group: dict[tuple[int | None, int | None], list[int]] = defaultdict(list)
    for start in range(0, len(ids), batch):  # link lookups held for one batch only
        chunk = ids[start : start + batch]
        phase_of: dict[int, list[int]] = defaultdict(list)
        ch_links: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for kind, pid, tid in links.rows(chunk):
            if kind == 0:
                phase_of[pid].append(tid)
            elif tid in challenge_phase:
                ch_links[pid].append((tid, challenge_phase[tid]))
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
            # Entries with raw fields are written from them, authors included: the other
            # entries' authors are enough.
            records = iter_records(session, ids, notes, self.batch, authors="no-fields")
            yield from writer(records, parents=parents, header=header)
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
