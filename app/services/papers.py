"""Write side for papers: create or update a Paper row and its authors from a PaperRecord."""

from sqlalchemy import delete, select
from sqlmodel import Session

from app.bibtex.names import Name
from app.bibtex.record import PaperRecord
from app.models import Author, Paper, PaperAuthor, utcnow

PAPER_COLUMNS = (
    "entry_type",
    "title",
    "year",
    "venue",
    "doi",
    "arxiv_id",
    "url",
    "abstract",
    "fields",
    "raw_bibtex",
    "title_key",
)


def author_key(name: Name) -> str:
    return name.folded[:400] or "?"


AUTHOR_BATCH = 500
AUTHOR = Author.__table__


# --- bulk writes at the driver level --------------------------------------------------------
# An import writes tens of thousands of rows. SQLAlchemy's executemany builds and processes
# a parameter dict per row; these helpers hand plain tuples to the driver (after the same
# per-type bind processing SQLAlchemy applies, e.g. JSON and SQLite datetimes), in the
# session's connection, i.e. in the import's one transaction.


def _placeholder(dialect) -> str:
    return "?" if dialect.paramstyle in ("qmark", "numeric") else "%s"


def _processed(dialect, table, columns, rows: list[tuple]) -> list[tuple]:
    """The rows after each column type's bind processor (as SQLAlchemy would apply it)."""
    procs = {}
    for i, c in enumerate(columns):
        proc = table.c[c].type.dialect_impl(dialect).bind_processor(dialect)
        if proc is not None:
            procs[i] = proc
    if not procs:
        return rows
    cols = list(zip(*rows, strict=True))
    for i, proc in procs.items():
        memo: dict = {}
        out = []
        for v in cols[i]:
            try:  # the same value (e.g. the import's timestamp) is processed once
                got = memo[v]
            except KeyError:
                got = memo[v] = proc(v)
            except TypeError:  # unhashable (a JSON dict)
                got = proc(v)
            out.append(got)
        cols[i] = out
    return list(zip(*cols, strict=True))


def insert_rows(
    session: Session,
    table,
    columns: tuple[str, ...],
    rows: list[tuple],
    *,
    returning: tuple[str, ...] = (),
    skip_conflicts_on: str | None = None,
    batch: int = 500,
) -> list[tuple]:
    """INSERT plain tuples (in `columns` order); with `returning`, multi-row VALUES statements
    return those columns of the new rows. `skip_conflicts_on`: ON CONFLICT (col) DO NOTHING."""
    if not rows:
        return []
    conn = session.connection()
    dialect = conn.dialect
    q = dialect.identifier_preparer
    rows = _processed(dialect, table, columns, rows)
    one = "(" + ", ".join([_placeholder(dialect)] * len(columns)) + ")"
    head = f"INSERT INTO {q.format_table(table)} ({', '.join(q.quote(c) for c in columns)}) VALUES "
    tail = f" ON CONFLICT ({q.quote(skip_conflicts_on)}) DO NOTHING" if skip_conflicts_on else ""
    if not returning:
        conn.exec_driver_sql(head + one + tail, rows)
        return []
    tail += " RETURNING " + ", ".join(q.quote(c) for c in returning)
    out: list[tuple] = []
    for i in range(0, len(rows), batch):
        chunk = rows[i : i + batch]
        params = tuple(v for row in chunk for v in row)
        out.extend(
            tuple(r)
            for r in conn.exec_driver_sql(head + ", ".join([one] * len(chunk)) + tail, params)
        )
    return out


def select_in(
    session: Session, table, columns: tuple[str, ...], col: str, values: list, *, batch: int = 500
) -> list[tuple]:
    """SELECT columns FROM table WHERE col IN (values), in batches, as plain tuples."""
    if not values:
        return []
    conn = session.connection()
    dialect = conn.dialect
    q = dialect.identifier_preparer
    ph = _placeholder(dialect)
    names = ", ".join(q.quote(c) for c in columns)
    head = f"SELECT {names} FROM {q.format_table(table)} WHERE {q.quote(col)} IN ("
    out: list[tuple] = []
    for i in range(0, len(values), batch):
        chunk = values[i : i + batch]
        out.extend(
            tuple(r)
            for r in conn.exec_driver_sql(head + ", ".join([ph] * len(chunk)) + ")", tuple(chunk))
        )
    return out


def ensure_authors(session: Session, names: list[list[Name]]) -> list[list[int]]:
    """Find or create every author of every paper, in order, with a handful of queries."""
    # One key per name (folding is the costly part, cached on the shared Name objects).
    keys = [[author_key(n) for n in ns] for ns in names]
    by_key: dict[str, Name] = {}
    for ns, ks in zip(names, keys, strict=True):
        for n, k in zip(ns, ks, strict=True):
            by_key[k] = n  # the last spelling of a key names a new author, as before
    found: dict[str, int] = {}

    def lookup(wanted: list[str]) -> None:
        found.update(select_in(session, AUTHOR, ("key", "id"), "key", wanted, batch=AUTHOR_BATCH))

    lookup(list(by_key))
    # Sorted, so concurrent writers take row locks in the same order and cannot deadlock.
    missing = sorted(k for k in by_key if k not in found)
    if missing:
        rows = [
            (by_key[k].display[:300], by_key[k].full_family[:200], by_key[k].given[:200], k)
            for k in missing
        ]
        # RETURNING gives the new ids at once; a row another writer inserted first is
        # skipped by ON CONFLICT (key) DO NOTHING (two workers importing, or an import beside
        # a CLI load: on PostgreSQL the second waits for the first, then skips the row) and
        # is looked up below.
        found.update(
            insert_rows(
                session,
                AUTHOR,
                ("name", "family", "given", "key"),
                rows,
                returning=("key", "id"),
                skip_conflicts_on="key",
                batch=AUTHOR_BATCH,
            )
        )
        lookup([k for k in missing if k not in found])
    return [[found[k] for k in ks] for ks in keys]


def set_authors(session: Session, paper: Paper, names: list[Name]) -> bool:
    """Replace the paper's ordered authors; True if anything changed."""
    (new_ids,) = ensure_authors(session, [names])
    old_ids = list(
        session.exec(
            select(PaperAuthor.author_id)
            .where(PaperAuthor.paper_id == paper.id)
            .order_by(PaperAuthor.position)
        ).scalars()
    )
    if old_ids == new_ids:
        return False
    session.exec(delete(PaperAuthor).where(PaperAuthor.paper_id == paper.id))
    for pos, aid in enumerate(new_ids):
        session.add(PaperAuthor(paper_id=paper.id, position=pos, author_id=aid))
    return True


def upsert_paper(session: Session, record: PaperRecord) -> tuple[Paper, str]:
    """Create or update the paper with this citekey; returns (paper, created|updated|unchanged)."""
    paper = session.exec(select(Paper).where(Paper.citekey == record.citekey)).scalars().first()
    status = "unchanged"
    if paper is None:
        paper = Paper(citekey=record.citekey, **{c: getattr(record, c) for c in PAPER_COLUMNS})
        session.add(paper)
        session.flush()
        status = "created"
    else:
        for col in PAPER_COLUMNS:
            if getattr(paper, col) != getattr(record, col):
                setattr(paper, col, getattr(record, col))
                status = "updated"
    if set_authors(session, paper, record.authors) and status == "unchanged":
        status = "updated"
    if status == "updated":
        paper.updated_at = utcnow()
        session.add(paper)
    return paper, status
