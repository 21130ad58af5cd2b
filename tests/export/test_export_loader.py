"""The export loader's shortcuts (one-parameter id batches, rows read as tuples, records made
lazily, authors read only where a writer shows them) and the writers' fast paths give exactly
what the straightforward code gives."""

import json
import random
import re

import pytest
from export_helpers import corpus_files, read_any, records_from_bib
from sqlalchemy import select
from sqlmodel import Session

from app.bibtex.writers import ExportRecord
from app.bibtex.writers import bibtex as bw
from app.bibtex.writers.bibtex import (
    _BARE,
    _entry,
    _escape_bare,
    _field_line,
    balanced,
    escape_bare,
)
from app.bibtex.writers.csljson import _item_text
from app.db import session_scope
from app.models import Author, Paper, PaperAuthor, PaperPhase, Phase
from app.services import export
from app.services.filters import PaperFilters

FORMATS = ["bibtex", "biblatex", "csljson", "ris", "csv", "markdown"]


def _add_column_only_papers(engine) -> None:
    """Two papers with no raw BibTeX fields (written from their columns), with authors, one of
    them placed in a phase, next to the mini survey's imported ones."""
    with session_scope(engine) as s:
        phase = s.exec(select(Phase).order_by(Phase.position)).scalars().first()
        a1 = Author(name="Jane Doe", family="Doe", given="Jane", key="doe-jane-test")
        a2 = Author(name="ACME Labs", family="", given="", key="acme-labs-test")
        s.add_all([a1, a2])
        s.flush()
        for n, year in ((1, 2021), (2, None)):
            p = Paper(
                citekey=f"columns{n}",
                entry_type="inproceedings" if n == 1 else "misc",
                title=f"Columns only {n}: 50% & more",
                year=year,
                venue="Proc. of Tests",
                fields={},
            )
            s.add(p)
            s.flush()
            s.add(PaperAuthor(paper_id=p.id, position=0, author_id=a1.id))
            s.add(PaperAuthor(paper_id=p.id, position=1, author_id=a2.id))
            if n == 1:
                s.add(PaperPhase(paper_id=p.id, phase_id=phase.id, origin="survey"))


def _export(engine, fmt: str, **kw) -> str:
    with Session(engine) as s:
        return "".join(export.plan_export(s, fmt=fmt, **kw).write(s))


@pytest.mark.parametrize("fmt", ["bibtex", "biblatex"])
def test_entries_without_raw_fields_keep_their_authors(engine, mini, fmt):
    _add_column_only_papers(engine)
    text = _export(engine, fmt)
    entry = text[text.index("columns1,") :].split("\n}\n", 1)[0]
    assert "author = {Doe, Jane and {ACME Labs}}" in entry
    assert "Columns only 1: 50\\% \\& more" in entry


def test_bibtex_writers_need_authors_only_for_papers_without_raw_fields(engine, mini):
    """The BibTeX export reads authors for column-only papers alone: it writes exactly what
    records with every author give."""
    _add_column_only_papers(engine)
    with Session(engine) as s:
        plan = export.plan_export(s, fmt="bibtex")
        full = list(export.iter_records(s, plan.ids))
        slim = list(export.iter_records(s, plan.ids, authors="no-fields"))
        assert [r.citekey for r in slim] == [r.citekey for r in full]
        assert all(r.authors for r in full)  # every paper of the test has authors
        for r, f in zip(slim, full, strict=True):
            assert r.authors == (f.authors if not f.fields else [])
        parents = export.crossref_parents(s, plan.ids)
        for writer in (export.bibtex_writer.iter_bibtex, export.bibtex_writer.iter_biblatex):
            assert "".join(writer(slim, parents=parents)) == "".join(writer(full, parents=parents))


def test_records_match_the_orm(engine, mini):
    """Authors in position order, fields, terms: as the ORM reads them, for every paper."""
    _add_column_only_papers(engine)
    with Session(engine) as s:
        ids = export.filtered_ids(s, PaperFilters())
        recs = export.records_for(s, ids)
        assert [r.citekey for r in recs] == [s.get(Paper, i).citekey for i in ids]
        for pid, rec in zip(ids, recs, strict=True):
            paper = s.get(Paper, pid)
            assert rec.fields == (paper.fields or {})
            assert (rec.title, rec.year, rec.venue) == (paper.title, paper.year, paper.venue)
            names = s.exec(
                select(Author.family, Author.given, Author.name)
                .join(PaperAuthor, PaperAuthor.author_id == Author.id)
                .where(PaperAuthor.paper_id == pid)
                .order_by(PaperAuthor.position)
            ).all()
            assert [(p.family, p.given) for p in rec.authors] == [
                (family or name, given or "") for family, given, name in names
            ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_duplicate_and_missing_ids_in_a_batch(engine, mini, fmt):
    """A hand-picked id list may repeat a paper or name one that is gone."""
    with Session(engine) as s:
        ids = export.filtered_ids(s, PaperFilters())
        plan = export.plan_export(s, fmt=fmt)
        plan.ids = [ids[0], 999_999, ids[1], ids[0], *ids[2:]]
        once = "".join(plan.write(s))
        plan.ids = ids
        assert len(once) > len("".join(plan.write(s)))


@pytest.mark.parametrize("fmt", FORMATS)
def test_without_json_each_the_expanding_in_gives_the_same_export(engine, mini, fmt, monkeypatch):
    """SQLite built without JSON1 (and other databases) fall back to an expanding IN."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the fallback is chosen on SQLite")
    fast = _export(engine, fmt, batch=2)
    monkeypatch.setattr(export, "_sqlite_has_json", lambda conn: False)
    with Session(engine) as s:
        assert not export._Batches(s.connection()).raw
    assert _export(engine, fmt, batch=2) == fast


def test_one_parameter_batches_on_this_database(engine, mini):
    with Session(engine) as s:
        batches = export._Batches(s.connection())
        assert batches.raw  # SQLite with JSON1, or PostgreSQL
        ids = export.filtered_ids(s, PaperFilters())
        query = batches.prepare(select(Paper.id).where(batches.where(Paper.id)), "test-ids")
        assert sorted(r[0] for r in query.rows(ids)) == sorted(ids)
        assert query.rows([]) == []
        assert all(type(r) is tuple for r in query.rows(ids[:2]))


# --- writers' fast paths ---------------------------------------------------------------------

_BRACE_TOKENS = re.compile(r"\\.|[{}]", re.S)


def _balanced_reference(value: str) -> bool:
    depth = 0
    for m in _BRACE_TOKENS.finditer(value):
        if m.group() == "{":
            depth += 1
        elif m.group() == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _strings(alphabet: str, n: int = 30_000, longest: int = 9):
    rnd = random.Random(7)
    for _ in range(n):
        yield "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(longest)))


def test_balanced_matches_a_token_scan():
    for value in _strings("{}\\a \n"):
        assert balanced(value) == _balanced_reference(value), repr(value)


def test_escape_bare_matches_the_look_behind_scan():
    for value in _strings("&%#\\a{}"):
        assert escape_bare(value) == _BARE.sub(_escape_bare, value), repr(value)


def _stdlib_item(item: dict) -> str:
    body = json.dumps(item, ensure_ascii=False, indent=2)
    return "\n".join("  " + line for line in body.split("\n"))


class _Str(str):
    pass


@pytest.mark.parametrize(
    "item",
    [
        {"author": [{"family": "Doe", "given": "J"}, {"literal": "ACME"}]},
        {"author": [{"given": "J", "family": "Doe"}, {"family": "Doe", "given": "J", "x": "y"}]},
        {"author": [{"family": "Doe", "given": _Str("J")}, {"family": "Doe", "suffix": "Jr"}]},
        {"author": [{}]},
        {"author": [{"family": 1}]},
        {"author": ["not a name"]},
        {"author": [[]]},
        {"issued": {"date-parts": [[2020]]}},
        {"issued": {"date-parts": [[2020, 5, 1]]}},
        {"issued": {"date-parts": [[True]]}},
        {"issued": {"date-parts": [[-1]]}},
        {"issued": {"date-parts": []}},
        {"issued": {"date-parts": [[2020]], "literal": "2020"}},
        {_Str("id"): _Str("k\u2028")},
        {1: "int key"},
        {"title": 'é 漢字 "q" \\ \x0b', "n": [[1]], "x": 1.5},
    ],
)
def test_csl_item_shapes_match_the_stdlib(item):
    assert _item_text(item) == _stdlib_item(item)


def _entry_reference(entry_type: str, key: str, fields: dict[str, str]) -> str:
    lines = [f"@{entry_type}{{{key},"]
    lines += [_field_line(k, v) for k, v in fields.items()]
    lines[-1] = lines[-1].rstrip(",")
    return "\n".join(lines) + "\n}\n\n"


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"month": "Jan"},
        {"title": "{T}", "month": "sept."},
        {"month": "13", "note": ",,"},
        {"note": "ends with a comma,"},
    ],
)
@pytest.mark.parametrize("key", ["k", "k,,"])
def test_entry_text_matches_line_by_line_building(fields, key):
    assert _entry("misc", key, fields) == _entry_reference("misc", key, fields)


@pytest.mark.parametrize("fmt", FORMATS)
def test_author_cache_overflow_keeps_every_author(engine, mini, fmt, monkeypatch):
    """When the bounded author cache fills up it starts again: no author goes missing."""
    _add_column_only_papers(engine)
    full = _export(engine, fmt, batch=2)
    monkeypatch.setattr(export._Loader, "PEOPLE_MAX", 1)
    assert _export(engine, fmt, batch=2) == full
    with Session(engine) as s:
        ids = export.filtered_ids(s, PaperFilters())
        small = list(export.iter_records(s, ids, batch=2))
        monkeypatch.undo()
        assert [r.authors for r in small] == [r.authors for r in export.records_for(s, ids)]


def _biblatex_fields_reference(rec, parents):
    """The BibLaTeX fields as first written: every field encoded, then renamed and dropped
    one by one."""
    f = bw._entry_fields(rec, parents, unicode=True)
    out = {}
    for name, value in f.items():
        name = bw.RENAMES.get(name, name)
        if name in ("archiveprefix", "primaryclass", "year", "month"):
            continue
        if name == "doi":
            value = rec.doi or value
        out.setdefault(name, value)
    if "date" not in out:
        year = rec.raw("year").strip() or (str(rec.year) if rec.year else "")
        month = rec.raw("month").strip().lower()[:3]
        if bw._YEAR.fullmatch(year):
            if month in bw.MONTHS:
                year += f"-{bw.MONTHS.index(month) + 1:02d}"
            elif month.isdigit() and 1 <= int(month) <= 12:
                year += f"-{int(month):02d}"
            out["date"] = year
        elif year:
            out["year"] = year
    if rec.arxiv_id:
        out["eprint"] = rec.arxiv_id
        out["eprinttype"] = "arxiv"
        if rec.raw("primaryclass"):
            out["eprintclass"] = rec.raw("primaryclass")
    elif rec.raw("archiveprefix") and "eprint" in out:
        out["eprinttype"] = bw.latex_to_utf8(rec.raw("archiveprefix"))
    if rec.doi:
        out["doi"] = rec.doi
    if rec.entry_type in bw.THESIS_TYPES and "type" not in out:
        out["type"] = bw.THESIS_TYPES[rec.entry_type]
    return out


def _tricky_records():
    base = {"title": "{T}", "year": "2020", "month": "mar"}
    for extra in (
        {"journal": "J", "journaltitle": "JT"},
        {"journaltitle": "JT", "journal": "J"},
        {"Journal": "J1", "journal": "J2"},
        {"school": "S", "institution": "I", "address": "A"},
        {"doi": "10.1/x", "DOI": "10.1/y", "archivePrefix": "arXiv", "eprint": "1234"},
        {"primaryClass": "cs.SE", "Year": "1999", "date": "2001"},
    ):
        for doi in (None, "10.9/col"):
            yield ExportRecord("k", "phdthesis", "T", doi=doi, fields={**base, **extra})


def test_biblatex_fields_match_the_field_by_field_version():
    records = list(_tricky_records())
    for path in corpus_files():
        records += records_from_bib(read_any(path))
    assert len(records) > 100
    for rec in records:
        for parents in (set(), {rec.raw("crossref").strip().lower()}):
            got = bw._biblatex_fields(rec, parents)
            assert list(got.items()) == list(_biblatex_fields_reference(rec, parents).items())
