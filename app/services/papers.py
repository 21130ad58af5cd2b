"""Write side for papers: create or update a Paper row and its authors from a PaperRecord."""

from sqlalchemy import delete, select
from sqlmodel import Session

from app.bibtex.identifiers import fold
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
    return fold(name.display)[:400] or "?"


AUTHOR_BATCH = 500


def _insert_ignoring_existing(session: Session):
    """INSERT ... ON CONFLICT (key) DO NOTHING for the session's dialect.

    Two writers creating the same new author at once (two workers importing, or an import
    beside a CLI load) must not fail: on PostgreSQL the second insert waits for the first
    and then skips the row; SQLite serialises writers anyway.
    """
    table = Author.__table__
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table).on_conflict_do_nothing(index_elements=[table.c.key])


def ensure_authors(session: Session, names: list[list[Name]]) -> list[list[int]]:
    """Find or create every author of every paper, in order, with a handful of queries."""
    # One key per name (folding is the costly part); names repeat across papers.
    keys = [[author_key(n) for n in ns] for ns in names]
    by_key: dict[str, Name] = {}
    for ns, ks in zip(names, keys, strict=True):
        for n, k in zip(ns, ks, strict=True):
            by_key[k] = n  # the last spelling of a key names a new author, as before
    found: dict[str, int] = {}

    def lookup(wanted: list[str]) -> None:
        for i in range(0, len(wanted), AUTHOR_BATCH):
            chunk = wanted[i : i + AUTHOR_BATCH]
            found.update(
                session.execute(select(Author.key, Author.id).where(Author.key.in_(chunk))).all()
            )

    lookup(list(by_key))
    # Sorted, so concurrent writers take row locks in the same order and cannot deadlock.
    missing = sorted(k for k in by_key if k not in found)
    if missing:
        rows = [
            {
                "name": by_key[k].display[:300],
                "family": by_key[k].full_family[:200],
                "given": by_key[k].given[:200],
                "key": k,
            }
            for k in missing
        ]
        # RETURNING gives the new ids at once; a row another writer inserted first is
        # skipped by ON CONFLICT and looked up below.
        table = Author.__table__
        stmt = _insert_ignoring_existing(session).returning(table.c.key, table.c.id)
        for i in range(0, len(rows), AUTHOR_BATCH):
            found.update(session.execute(stmt, rows[i : i + AUTHOR_BATCH]).all())
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
