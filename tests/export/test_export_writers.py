"""Each writer against a real consumer: bibtexparser, citeproc-py, rispy, csv, on awkward input."""

import csv
import io
import json
import re

import bibtexparser
import pytest
import rispy
from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle
from citeproc import formatter as cite_formatter
from citeproc.source.json import CiteProcJSON
from export_helpers import corpus_files, read_any, records_from_bib, term

from app.bibtex import parse_bibtex
from app.bibtex.writers import (
    ExportRecord,
    Person,
    read_context,
    write_biblatex,
    write_bibtex,
    write_csljson,
    write_csv,
    write_markdown,
    write_ris,
)
from app.bibtex.writers.bibtex import VERBATIM, balanced

AWKWARD = r"""
@article{mueller2020,
  title = {Gr{\"o}{\ss}e & Stärke: 50% of {LLM} tests #1},
  author = {Müller, Jörg and {The Ümlaut Group} and O'Brien, Seán},
  journal = {Journal of Things},
  year = {2020},
  month = mar,
  doi = {10.1000/ABC_def},
  url = {https://example.org/a_b%20c},
  keywords = {testing; oracles},
  phases = {data},
}
@inproceedings{child2021,
  title = {Child paper},
  author = {Doe, Jane},
  crossref = {parent2021},
  year = {2021},
}
@proceedings{parent2021,
  title = {Proceedings of Things},
  booktitle = {Proceedings of Things},
  year = {2021},
}
@inproceedings{orphan2022,
  title = {Orphan paper},
  author = {Roe, Richard},
  crossref = {missing-parent},
  year = {2022},
}
@misc{arx2023,
  title = {An {arXiv} Preprint},
  author = {Chen, Li},
  year = {2023},
  eprint = {2301.01234},
  archivePrefix = {arXiv},
  primaryClass = {cs.SE},
}
"""

LINKS = {
    "mueller2020": {
        "phases": [term("data", "Dataset construction")],
        "challenges": [term("noisy-labels", "Noisy labels", "data")],
        "directions": [term("label-audits", "Label audits", "data")],
    },
    "arx2023": {"phases": [term("evaluation", "Testing and evaluation")]},
}


@pytest.fixture
def recs():
    return records_from_bib(AWKWARD, LINKS)


def parse(text):
    lib = bibtexparser.parse_string(text)
    assert not lib.failed_blocks, [b.error for b in lib.failed_blocks]
    return {e.key: {f.key.lower(): str(f.value) for f in e.fields} for e in lib.entries}


def test_bibtex_escapes_and_keeps_keys(recs):
    out = write_bibtex(recs)
    assert out.isascii()
    entries = parse(out)
    assert list(entries)[:2] == ["mueller2020", "child2021"]
    m = entries["mueller2020"]
    assert r"Gr{\"o}{\ss}e \& St{\"a}rke: 50\% of {LLM} tests \#1" == m["title"]
    assert m["author"].startswith(r"M{\"u}ller, J{\"o}rg and {The {\"U}mlaut Group}")
    assert m["url"] == "https://example.org/a_b%20c"  # verbatim field untouched
    assert m["doi"] == "10.1000/ABC_def"
    assert re.search(r"^  month = mar,$", out, re.M)  # a month macro stays a macro
    assert "phases" not in m
    assert m["keywords"] == (
        "testing; oracles, phase:data, challenge:noisy-labels, direction:label-audits"
    )
    for value in m.values():
        assert balanced(value)


def test_bibtex_crossref_parent_after_child_and_no_dangling(recs):
    entries = parse(write_bibtex(recs))
    keys = list(entries)
    assert keys.index("parent2021") > keys.index("child2021")
    assert entries["child2021"]["crossref"] == "parent2021"
    assert "crossref" not in entries["orphan2022"]
    # without the parent in the export, the child's crossref goes too
    only_child = [r for r in recs if r.citekey != "parent2021"]
    assert "crossref" not in parse(write_bibtex(only_child))["child2021"]


def test_read_context_restores_own_keywords(recs):
    fields = parse(write_bibtex(recs))["mueller2020"]
    ctx = read_context(fields)
    assert fields["keywords"] == "testing; oracles"
    assert ctx == {
        "phases": ["data"],
        "challenges": ["noisy-labels"],
        "directions": ["label-audits"],
    }
    only = {"keywords": "phase:data, challenge:x"}
    assert read_context(only)["challenges"] == ["x"] and "keywords" not in only


def test_biblatex_utf8_date_eprint_doi(recs):
    out = write_biblatex(recs)
    entries = parse(out)
    m = entries["mueller2020"]
    assert m["title"] == "Größe \\& Stärke: 50\\% of {LLM} tests \\#1"
    assert m["journaltitle"] == "Journal of Things"
    assert m["date"] == "2020-03" and "year" not in m and "month" not in m
    assert m["doi"] == "10.1000/abc_def"
    a = entries["arx2023"]
    assert (a["eprint"], a["eprinttype"], a["eprintclass"]) == ("2301.01234", "arxiv", "cs.SE")
    assert "archiveprefix" not in a
    assert re.search(r"^@misc\{arx2023,", out, re.M)


def test_columns_only_record_is_fully_escaped():
    rec = ExportRecord(
        citekey="x1",
        entry_type="article",
        title="50% of {braces} & $money_",
        authors=[Person("Ström", "Åsa"), Person("ACME Inc.")],
        year=2020,
        venue="J. #1",
    )
    e = parse(write_bibtex([rec]))["x1"]
    assert e["title"] == r"{50\% of \{braces\} \& \$money\_}"
    assert e["author"] == r"Str{\"o}m, {\r{A}}sa and {ACME Inc.}"
    assert e["journal"] == r"J. \#1"


def test_csljson_renders_with_citeproc(recs):
    data = json.loads(write_csljson(recs))
    assert [d["id"] for d in data] == [r.citekey for r in recs]
    m = data[0]
    assert m["type"] == "article-journal" and m["DOI"] == "10.1000/abc_def"
    assert m["author"][0] == {"family": "Müller", "given": "Jörg"}
    assert m["author"][1] == {"literal": "The Ümlaut Group"}
    assert "phase:data" in m["keyword"]
    source = CiteProcJSON(data)
    import citeproc

    style_path = citeproc.__path__[0] + "/data/styles/harvard-cite-them-right.csl"
    bib = CitationStylesBibliography(
        CitationStylesStyle(style_path, validate=False), source, cite_formatter.plain
    )
    for d in data:
        bib.register(Citation([CitationItem(d["id"])]))
    rendered = [str(item) for item in bib.bibliography()]
    assert len(rendered) == len(data)
    assert any("Müller" in r and "2020" in r for r in rendered)
    assert json.loads(write_csljson([])) == []


def test_ris_reread_by_rispy(recs):
    entries = rispy.loads(write_ris(recs))
    assert len(entries) == len(recs)
    by_id = {e["id"]: e for e in entries}
    m = by_id["mueller2020"]
    assert m["type_of_reference"] == "JOUR"
    assert m["authors"][0] == "Müller, Jörg"
    assert m["doi"] == "10.1000/abc_def"
    assert "phase:data" in m["keywords"] and "challenge:noisy-labels" in m["keywords"]
    assert by_id["child2021"]["type_of_reference"] == "CPAPER"
    assert by_id["arx2023"]["type_of_reference"] == "UNPB"


@pytest.mark.parametrize(
    "value", ['=HYPERLINK("x")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx", '=1,"2"\n3']
)
def test_csv_neutralises_formulas(value):
    rec = ExportRecord(citekey="k", title=value, note=value, venue='ok, "quoted"\nline')
    rows = list(csv.reader(io.StringIO(write_csv([rec]), newline="")))
    assert len(rows) == 2
    head, row = rows
    cell = row[head.index("title")]
    assert cell == "'" + value
    assert row[head.index("note")] == "'" + value
    assert row[head.index("venue")] == 'ok, "quoted"\nline'


def test_csv_columns(recs):
    rows = list(csv.DictReader(io.StringIO(write_csv(recs), newline="")))
    assert [r["citekey"] for r in rows] == [r.citekey for r in recs]
    m = rows[0]
    assert m["phases"] == "Dataset construction"
    assert m["challenges"] == "Noisy labels" and m["directions"] == "Label audits"
    assert m["authors"] == "Jörg Müller; The Ümlaut Group; Seán O'Brien"


def test_markdown_grouped_by_phase_then_challenge(recs):
    recs[0].note = "Read *this* first"
    recs[0].status = "reading"
    md = write_markdown(recs, title="My list")
    lines = md.splitlines()
    heads = [ln for ln in lines if ln.startswith("#")]
    assert heads == [
        "# My list",
        "## Dataset construction",
        "### Noisy labels",
        "## Testing and evaluation",
        "### Other papers in this phase",
        "## Not placed in a phase",
    ]
    item = next(ln for ln in lines if "Gr" in ln and ln.startswith("- **"))
    assert "(2020)" in item and "*Journal of Things*" in item
    assert "  > Read \\*this\\* first" in lines
    assert "[DOI](https://doi.org/10.1000/abc_def)" in md
    assert "[arXiv](https://arxiv.org/abs/2301.01234)" in md


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_writers_on_real_world_corpus(path):
    text = read_any(path)
    recs = records_from_bib(text, {})
    if not recs:
        pytest.skip("no entries")
    out = write_bibtex(recs)
    back = parse_bibtex(out)
    assert not back.failed, back.failed[:3]
    for e in back.entries:  # accented letters become commands (only CJK etc. stays UTF-8)
        for name, value in e.fields.items():
            assert name in VERBATIM or not re.search(r"[\u00c0-\u024f]", value), (name, value)
    assert sorted(e.key for e in back.entries) == sorted(r.citekey for r in recs)
    keys = {r.citekey.lower() for r in recs}
    for e in back.entries:
        assert all(balanced(v) for v in e.fields.values())
        ref = e.fields.get("crossref")
        assert ref is None or ref.strip().lower() in keys
    assert not parse_bibtex(write_biblatex(recs)).failed
    assert len(json.loads(write_csljson(recs))) == len(recs)
    assert len(rispy.loads(write_ris(recs))) == len(recs)
    assert len(list(csv.reader(io.StringIO(write_csv(recs), newline="")))) == len(recs) + 1
    assert write_markdown(recs).count("\n- **") >= len(recs)
