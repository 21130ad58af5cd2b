"""The export fast paths give exactly what the straightforward code gives."""

import json

import pytest
from export_helpers import corpus_files, read_any, records_from_bib
from sqlalchemy import select
from sqlmodel import Session

from app.bibtex.writers import ExportRecord, Person, to_csl
from app.bibtex.writers.csljson import _item_text, iter_csljson, write_csljson
from app.models import Phase
from app.services import export
from app.services.filters import PaperFilters


def _stdlib_item(item: dict) -> str:
    body = json.dumps(item, ensure_ascii=False, indent=2)
    return "\n".join("  " + line for line in body.split("\n"))


def test_csl_items_match_the_stdlib_indented_json_on_the_corpora():
    checked = 0
    for path in corpus_files():
        for rec in records_from_bib(read_any(path)):
            item = to_csl(rec)
            assert _item_text(item) == _stdlib_item(item), (path.name, rec.citekey)
            checked += 1
    assert checked > 100


@pytest.mark.parametrize(
    "item",
    [
        {},
        {"a": [], "b": {}, "c": [[2020]], "d": None, "e": True, "f": False},
        {"title": 'Quotes " and \\ and \x0b and é 漢字', "n": [{"x": "\t"}]},
        {"title": "line\u2028separator"},
        {"x": 1.5},
    ],
)
def test_csl_item_edge_cases(item):
    assert _item_text(item) == _stdlib_item(item)


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x85"])
def test_csl_json_stays_valid_with_unicode_line_separators_in_text(sep):
    """Regression: these split an item in two when lines were indented with splitlines()."""
    title = f"Line{sep}separated title"
    recs = [ExportRecord("k1", "article", title, [Person("Doe", "J")], 2020)]
    recs[0].abstract = f"An abstract{sep}with a break"
    items = json.loads(write_csljson(recs))
    assert items[0]["title"] == title
    assert items[0]["abstract"] == f"An abstract{sep}with a break"


def test_csl_array_is_valid_json_across_internal_batches():
    recs = [
        ExportRecord(f"k{i}", "article", f"T{i}", [Person("Doe", "J")], 2020 + i % 3)
        for i in range(7)
    ]
    text = "".join(iter_csljson(recs, batch=2))
    assert [i["id"] for i in json.loads(text)] == [f"k{i}" for i in range(7)]
    assert json.loads("".join(iter_csljson([]))) == []


@pytest.mark.parametrize("fmt", ["bibtex", "biblatex", "csljson", "ris", "csv", "markdown"])
def test_output_does_not_depend_on_the_batch_size(engine, mini, fmt):
    with Session(engine) as s:
        one = "".join(export.plan_export(s, fmt=fmt, batch=1).write(s))
        big = "".join(export.plan_export(s, fmt=fmt, batch=1000).write(s))
    assert one == big
    assert len(one) > 200  # a real export, not two empty strings


def test_records_carry_terms_in_lifecycle_order(engine, mini):
    with Session(engine) as s:
        ids = export.filtered_ids(s, PaperFilters())
        recs = export.records_for(s, ids)
        order = s.exec(select(Phase.slug).order_by(Phase.survey_id, Phase.position)).scalars().all()
    rank = {slug: i for i, slug in enumerate(order)}
    assert len(recs) == 6
    assert sum(len(r.phases) for r in recs) >= 6
    for r in recs:
        ranks = [rank[t.slug] for t in r.phases]
        assert ranks == sorted(ranks)
        assert all(t.phase in rank for t in r.challenges + r.directions)
