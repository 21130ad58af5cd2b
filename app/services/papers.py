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


def _author_ids(session: Session, names: list[Name]) -> list[int]:
    """Find or create Author rows for these names, in order (one lookup for all)."""
    keys = [author_key(n) for n in names]
    existing = {
        a.key: a for a in session.exec(select(Author).where(Author.key.in_(keys))).scalars()
    }
    ids: list[int] = []
    for name, key in zip(names, keys, strict=True):
        author = existing.get(key)
        if author is None:
            author = Author(
                name=name.display[:300],
                family=name.full_family[:200],
                given=name.given[:200],
                key=key,
            )
            session.add(author)
            session.flush()
            existing[key] = author
        ids.append(author.id)
    return ids


def set_authors(session: Session, paper: Paper, names: list[Name]) -> bool:
    """Replace the paper's ordered authors; True if anything changed."""
    new_ids = _author_ids(session, names)
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
