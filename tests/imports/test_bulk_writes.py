"""Imported rows are written as plain tuples at the driver level (papers.insert_rows): what
the ORM reads back must be what it would have written itself (JSON, datetimes, authors)."""

from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from app.models import Author, Paper, PaperAuthor, PaperPhase

ONE = """@article{bulkOne,
  title = {Bulk {W}rites: Testing Requirements with Stakeholders},
  author = {M{\\"u}ller, J{\\"o}rg and van der Berg, Piet and {World Health Organization}},
  journal = {Journal of Tests},
  year = {2024},
  doi = {https://doi.org/10.5555/Bulk.One},
  keywords = {requirements, testing},
  note = {50\\% of "all" cases; ünïcode},
}
"""


def test_imported_paper_reads_back_as_the_orm_would_write_it(engine, mini, do_import):
    rep = do_import(ONE)
    assert [a["citekey"] for a in rep.added] == ["bulkOne"]
    with Session(engine) as s:
        p = s.exec(select(Paper).where(Paper.citekey == "bulkOne")).scalars().one()
        assert isinstance(p.created_at, datetime) and p.created_at == p.updated_at
        assert p.fields["note"] == '50\\% of "all" cases; ünïcode'
        assert p.fields["author"].startswith('M{\\"u}ller')
        assert p.doi == "10.5555/bulk.one" and p.year == 2024 and p.venue == "Journal of Tests"
        authors = s.exec(
            select(Author.name, Author.family, Author.given, Author.key)
            .join(PaperAuthor, PaperAuthor.author_id == Author.id)
            .where(PaperAuthor.paper_id == p.id)
            .order_by(PaperAuthor.position)
        ).all()
        assert [tuple(a) for a in authors] == [
            ("Jörg Müller", "Müller", "Jörg", "jorg muller"),
            ("Piet van der Berg", "van der Berg", "Piet", "piet van der berg"),
            (
                "World Health Organization",
                "World Health Organization",
                "",
                "world health organization",
            ),
        ]
        links = s.exec(
            select(PaperPhase.origin, PaperPhase.score).where(PaperPhase.paper_id == p.id)
        ).all()
        assert links and all(o in ("suggested", "curated") for o, _ in links)
    # Importing it again adds nothing, and the same authors are found, not made twice.
    again = do_import(ONE)
    assert again.added == [] and len(again.skipped) == 1
    with Session(engine) as s:
        n = s.exec(select(Author.id).where(Author.key == "jorg muller")).all()
        assert len(n) == 1
