"""Merges fill an existing paper's missing values (written without loading ORM objects)."""

from sqlalchemy import select
from sqlmodel import Session

from app.models import CitekeyAlias, Paper
from app.services.imports import dry_run

# Two entries of one file that both duplicate beta2023 (same title, first author and year)
# and each bring a different missing value.
TWO = """@inproceedings{betaFromA,
  title = {Beta: Workshops with Stakeholders},
  author = {van der Berg, Piet},
  year = {2023},
  url = {https://example.org/beta},
}
@inproceedings{betaFromB,
  title = {Beta: Workshops with Stakeholders},
  author = {van der Berg, Piet},
  year = {2023},
  doi = {10.5555/beta.2},
  note = {from B},
}
"""


def beta(engine) -> Paper:
    with Session(engine) as s:
        return s.exec(select(Paper).where(Paper.citekey == "beta2023")).scalars().one()


def test_two_entries_fill_the_same_paper_and_a_reimport_adds_nothing(engine, mini, do_import):
    before = beta(engine)
    assert before.url is None and before.doi is None
    rep = do_import(TWO)
    assert [m["citekey"] for m in rep.merged] == ["beta2023", "beta2023"]
    assert rep.added == [] and rep.failed == []
    after = beta(engine)
    assert after.url == "https://example.org/beta"  # from the first entry
    assert after.doi == "10.5555/beta.2"  # from the second
    assert after.fields["note"] == "from B" and after.fields["url"] == "https://example.org/beta"
    assert after.title == before.title  # the existing record wins
    assert after.fields["booktitle"] == before.fields["booktitle"] == "ICSE"
    assert after.updated_at >= before.updated_at
    with Session(engine) as s:
        aliases = set(
            s.exec(select(CitekeyAlias.alias).where(CitekeyAlias.paper_id == after.id)).scalars()
        )
    assert {"betaFromA", "betaFromB"} <= aliases

    again = do_import(TWO)
    assert again.merged == [] and len(again.skipped) == 2
    assert all("nothing new" in r["reason"] for r in again.skipped)
    assert beta(engine).updated_at == after.updated_at


def test_dry_run_of_a_merge_changes_nothing(engine, mini):
    before = beta(engine)
    with Session(engine) as s:
        rep = dry_run(s, TWO.encode())
    assert len(rep.merged) == 2
    after = beta(engine)
    assert (after.url, after.doi, after.fields, after.updated_at) == (
        before.url,
        before.doi,
        before.fields,
        before.updated_at,
    )
