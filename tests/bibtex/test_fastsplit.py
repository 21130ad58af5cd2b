"""The fast splitter path gives exactly what bibtexparser's splitter gives.

split_fast reads well-formed entries with a few regular expressions and hands the rest of the
text to bibtexparser at the first block it does not certify. Whatever it reads must be the
same blocks (type, key, fields, raw text, line, repeated field names) and the same parse
result (entries, warnings, failures with their lines) as bibtexparser alone.
"""

import json
from pathlib import Path

import bibtexparser
import pytest
from bibtexparser.model import DuplicateBlockKeyBlock, DuplicateFieldKeyBlock, Entry

import app.bibtex.parse as parse_mod
from app.bibtex.decode import decode_bytes, strip_controls
from app.bibtex.fastsplit import FastEntry, split_fast
from app.bibtex.parse import parse_bibtex
from app.config import PROJECT_ROOT

CORPUS = Path(PROJECT_ROOT).parent / "shared" / "corpora" / "bibtex"


def _canon_bp(b, line):
    if isinstance(b, DuplicateBlockKeyBlock):
        b = b.ignore_error_block
    dups: tuple = ()
    if isinstance(b, DuplicateFieldKeyBlock):
        dups = tuple(sorted(b.duplicate_keys))
        b = b.ignore_error_block
    if isinstance(b, Entry):
        fields = tuple((f.key, f.value) for f in b.fields)
        return ("entry", line, b.entry_type, b.key, fields, b.raw, dups)
    return (type(b).__name__, line, b.raw)


def _canon_fast(b, line):
    if isinstance(b, FastEntry):
        dups = tuple(sorted(b.duplicate_keys))
        return ("entry", line, b.entry_type, b.key, tuple(b.fields), b.raw, dups)
    return (type(b).__name__, line, b.raw)


def reference(text: str) -> list:
    lib = bibtexparser.parse_string(text, parse_stack=[])
    return [_canon_bp(b, b.start_line + 1) for b in lib.blocks]


def fast(text: str) -> tuple[list, int]:
    """The blocks as parse.py reads them: fast path, then bibtexparser for the rest."""
    out, rest = split_fast(text)
    got = [_canon_fast(b, line) for line, b in out]
    n_fast = sum(isinstance(b, FastEntry) for _, b in out)
    if rest is not None:
        offset = text.count("\n", 0, rest)
        lib = bibtexparser.parse_string(text[rest:], parse_stack=[])
        got += [_canon_bp(b, b.start_line + 1 + offset) for b in lib.blocks]
    return got, n_fast


def _without_fast_path(monkeypatch):
    monkeypatch.setattr(parse_mod, "split_fast", lambda text: ([], 0))


def _result(r) -> dict:
    return {
        "entries": [(e.key, e.entry_type, e.fields, e.line, e.raw, e.warnings) for e in r.entries],
        "failed": [str(p) for p in r.failed],
        "warnings": [str(p) for p in r.warnings],
        "skipped": [str(p) for p in r.skipped],
        "counts": (r.strings, r.comments, r.preambles),
    }


TRICKY = {
    "plain": "@article{a,\n  title = {Plain},\n  year = 2020,\n}\n",
    "nested braces": "@misc{b, title = {A {B {C {D}}} e}, author = {M{\\\"u}ller, J{\\'o}rg}}",
    "escaped braces": "@misc{c, title = {50\\% \\{not a group\\} x}, note = {x}}",
    "escaped backslash before brace": "@misc{c1, title = {a \\\\}, note = {x}}\n@misc{c0, t={z}}",
    "escaped brace closes nothing": "@misc{c2, title = {a \\} b}, note = {y}}\n@misc{c3, t={z}}",
    "quoted with braces": '@misc{d, title = "The {Big} one, really", year = "2001"}',
    "quote escape in quotes": '@misc{e, title = "The {"}quoted{"} word", note = {a "b" c}}',
    "joins and macros": '@string{j = "Journal"}\n@misc{f, journal = j # { of } # "X", month = jan}',
    "at sign in value": "@misc{g, note = {mail me@example.org or LeQua @ {CLEF}}}",
    "block start at line start in value": "@misc{h, title = {broken\n@misc{i, title = {ok}}",
    "repeated field": "@misc{k, title = {one}, Title = {two}, title = {three}}",
    "repeated key": "@misc{k2, title = {a}}\n@misc{k2, title = {b}}\n@misc{K2, title = {c}}",
    "paren entry": "@misc(l, title = {x})\n@misc{m, title = {y}}",
    "comment between": "junk text\n@comment{x}\n% a line\n@misc{n, title = {t}}\ntrailing",
    "field comment": "@misc{o, title = {t}, % note\n  year = {2020}}",
    "missing comma": "@misc{p, title = {t}\n  year = {2020}}\n@misc{q, title = {u}}",
    "unterminated": "@misc{r, title = {t},\n\n@misc{s, title = {u}}",
    "no fields": "@misc{t}\n@misc{u, title={v}}",
    "trailing comma and spaces": "@misc{v, title = {t} ,\n \t }\n",
    "deep nesting": "@misc{w, title = {{{{{{{{{{deep}}}}}}}}}}}\n@misc{x, title = {y}}",
    "empty type and key": "@{, title = {t}}\n@misc{ , title = {u}}",
    "crlf": "@misc{y,\r\n  title = {t},\r\n  year = {2020}\r\n}\r\n",
    "escaped newline": "@misc{z, title = {a \\\nb}}\n@misc{zz, title = {c}}",
    "dangling name": "@misc{d1, title = {t}, year }\n@misc{d2, title = {u}}",
    "equals in value": "@misc{e1, url = {https://x.org/?a=b&c=d}, title = a = b}",
    "xdata and crossref": "@xdata{xd, publisher = {P}}\n@book{bk, title = {Book}, year = 2001}\n"
    "@inbook{ch, title = {Ch}, crossref = {bk}, xdata = {xd}}",
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_blocks_and_parse_results_are_the_same_as_bibtexparser_alone(name, monkeypatch):
    text = TRICKY[name]
    if "\\\n" not in text:  # parse.py leaves such texts to bibtexparser entirely
        got, _ = fast(text)
        assert got == reference(text)
    with_fast = _result(parse_bibtex(text, keep_duplicates=True))
    _without_fast_path(monkeypatch)
    assert with_fast == _result(parse_bibtex(text, keep_duplicates=True))


def test_well_formed_entries_are_read_on_the_fast_path():
    text = "".join(TRICKY[k] + "\n" for k in ("plain", "nested braces", "escaped braces"))
    got, n_fast = fast(text)
    assert n_fast == 3 and got == reference(text)


def _measured() -> list[dict]:
    if not (CORPUS / "measured.json").exists():
        return []
    return json.loads((CORPUS / "measured.json").read_text())


@pytest.mark.skipif(not _measured(), reason=f"the shared BibTeX corpus is not at {CORPUS}")
@pytest.mark.parametrize("item", _measured(), ids=lambda m: m["path"].split("/")[-1])
def test_every_corpus_file_splits_the_same(item, monkeypatch):
    data = (CORPUS / item["path"]).read_bytes()
    text, _ = strip_controls(decode_bytes(data).text)
    if "\\\n" not in text:  # parse.py leaves such files to bibtexparser entirely
        got, _ = fast(text)
        assert got == reference(text)
    if len(data) < 500_000:  # the large ones: the block comparison above is enough
        with_fast = _result(parse_bibtex(text, keep_duplicates=True))
        _without_fast_path(monkeypatch)
        assert with_fast == _result(parse_bibtex(text, keep_duplicates=True))
