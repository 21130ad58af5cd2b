"""Unit tests for the pure BibTeX codec: decoding, macros, recovery, failures, normalisation."""

import codecs

import pytest

from app.bibtex.decode import decode_bytes
from app.bibtex.identifiers import arxiv_from_fields, normalize_arxiv, normalize_doi, title_key
from app.bibtex.latex import latex_to_unicode
from app.bibtex.names import parse_name, split_names
from app.bibtex.parse import parse_bibtex, parse_bytes
from app.bibtex.record import parse_year, to_record

ENTRY = "@article{k1,\n  title = {Caf\\'e culture},\n  author = {Zoë Müller},\n  year = 2020\n}\n"


# --- bytes -> text -----------------------------------------------------------------------


def test_utf8_without_bom():
    d = decode_bytes("@misc{a, title={Müller}}".encode())
    assert d.encoding == "utf-8" and "Müller" in d.text and not d.warnings


def test_utf8_with_bom_is_stripped():
    d = decode_bytes(codecs.BOM_UTF8 + b"@misc{a, title={x}}")
    assert d.text.startswith("@misc") and d.encoding == "utf-8-sig"


@pytest.mark.parametrize("enc", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom(enc):
    bom = codecs.BOM_UTF16_LE if enc.endswith("le") else codecs.BOM_UTF16_BE
    d = decode_bytes(bom + "@misc{a, title={Ærø}}".encode(enc))
    assert d.text.startswith("@misc") and "Ærø" in d.text


def test_utf16_without_bom_is_sniffed():
    d = decode_bytes("@misc{a, title={x}}".encode("utf-16-le"))
    assert d.text.startswith("@misc") and d.warnings


def test_cp1252_fallback_warns_and_names_the_encoding():
    d = decode_bytes("@misc{a, title={Caf\u00e9 \u201cq\u201d}}".encode("cp1252"))
    assert d.encoding == "cp1252"
    assert "Café “q”" in d.text
    assert "cp1252" in d.warnings[0] and "line 1" in d.warnings[0]


def test_latin1_when_cp1252_cannot_decode():
    d = decode_bytes(b"@misc{a, title={\x81\xe9}}")
    assert d.encoding == "latin-1" and "latin-1" in d.warnings[0]


def test_declared_encoding_is_honoured_when_not_utf8():
    data = "% Encoding: ISO-8859-15\n@misc{a, title={\u0160koda}}".encode("iso-8859-15")
    d = decode_bytes(data)
    assert "Škoda" in d.text


def test_nul_and_control_bytes_are_removed_with_a_warning():
    r = parse_bytes(b"@misc{a,\n title={A\x00B\x07C}}\n")
    assert r.entries[0].fields["title"] == "ABC"
    assert any("control" in w.reason and w.line == 2 for w in r.warnings)


# --- macros, joins, months ---------------------------------------------------------------


def test_string_macros_case_insensitive_and_defined_via_other_macros():
    text = (
        '@string{ieee = "IEEE"}\n@STRING{Trans = IEEE # " Transactions"}\n'
        '@article{a, journal = trans # { on } # "SE", title={t}}\n'
    )
    r = parse_bibtex(text)
    assert r.entries[0].fields["journal"] == "IEEE Transactions on SE"
    assert r.strings == 2


def test_month_macros_and_numbers():
    r = parse_bibtex("@misc{a, month = mar, year = 2021, title = {x}}")
    assert r.entries[0].fields["month"] == "March"
    assert r.entries[0].fields["year"] == "2021"


def test_undefined_macro_is_kept_and_warned():
    r = parse_bibtex("@misc{a, journal = JNOPE, title={x}}")
    assert r.entries[0].fields["journal"] == "JNOPE"
    assert any("JNOPE" in w.reason for w in r.warnings)


def test_self_referencing_macro_does_not_hang():
    r = parse_bibtex('@string{a = a # "x"}\n@misc{k, title = a}')
    assert len(r.entries) == 1
    assert any("itself" in w.reason for w in r.warnings)


def test_quotes_inside_braces_and_braces_in_quotes():
    r = parse_bibtex('@misc{a, title = "The {"}quoted{"} word", note = {a "b" c}}')
    assert r.entries[0].fields["note"] == 'a "b" c'


# --- comments and stray text -------------------------------------------------------------


def test_comment_blocks_and_outside_text_are_never_entries():
    text = (
        "This line mentions @misc but is text.\n"
        "@comment{@article{fake, title={no}}}\n"
        '@preamble{"\\newcommand{\\noop}[1]{}"}\n'
        "@article{real, title={yes}}\n"
        "trailing } stray text\n"
    )
    r = parse_bibtex(text)
    assert [e.key for e in r.entries] == ["real"]
    assert r.comments >= 1 and r.preambles == 1


# --- crossref and xdata ------------------------------------------------------------------


def test_crossref_inheritance_for_display_keeps_original_fields():
    text = (
        "@inproceedings{child, title={Paper}, crossref={Proc}}\n"
        "@proceedings{proc, title={Proceedings of X}, year=2019, publisher={ACM},"
        " doi={10.1/parent}}\n"
    )
    r = parse_bibtex(text)
    child = next(e for e in r.entries if e.key == "child")
    assert "year" not in child.fields
    assert child.view["booktitle"] == "Proceedings of X"
    assert child.view["year"] == "2019"
    assert "doi" not in child.view  # identity is never inherited
    rec = to_record(child)
    assert rec.year == 2019 and rec.venue == "Proceedings of X" and rec.doi is None


def test_xdata_fields_inherited_and_xdata_entries_skipped_not_lost():
    text = (
        "@xdata{pub, publisher={Springer}, location={Berlin}}\n"
        "@book{b, title={B}, xdata={pub}, year=2001}\n"
    )
    r = parse_bibtex(text)
    assert [e.key for e in r.entries] == ["b"]
    assert r.entries[0].view["publisher"] == "Springer"
    assert r.skipped[0].key == "pub" and r.total == 2


def test_missing_crossref_parent_warns():
    r = parse_bibtex("@inproceedings{c, title={x}, crossref={nowhere}}")
    assert any("nowhere" in w.reason for w in r.warnings)


# --- recovery and failures ---------------------------------------------------------------


def test_repeated_field_keeps_entry_with_first_value():
    r = parse_bibtex("@misc{a, keywords={one}, title={t}, keywords={two}}")
    assert r.entries[0].fields["keywords"] == "one"
    assert any("repeated field 'keywords'" in w.reason for w in r.warnings)


def test_percent_comment_inside_entry_is_recovered():
    text = "@book{b,\n  author = {A. B}, % who\n  title = {T} % what\n}\n@misc{c, title={x}}\n"
    r = parse_bibtex(text)
    assert [e.key for e in r.entries] == ["b", "c"]
    assert r.entries[0].fields["title"] == "T" and not r.failed


def test_unterminated_entry_reports_line_key_and_reason():
    text = (
        "@misc{ok, title={a}}\n\n@article{broken,\n  title = {never closed\n\n"
        "@misc{after, title={b}}\n"
    )
    r = parse_bibtex(text)
    assert [e.key for e in r.entries] == ["ok", "after"]
    (f,) = r.failed
    assert f.line == 3 and f.key == "broken" and "unterminated" in f.reason


def test_unterminated_at_end_of_file():
    (f,) = parse_bibtex("@misc{ok, title={a}}\n@article{last,\n title = {x},\n").failed
    assert f.line == 2 and f.key == "last" and "file ends" in f.reason


def test_missing_equals_reason_names_the_problem():
    (f,) = parse_bibtex("@misc{k,\n title {x}}\n").failed
    assert f.key == "k" and "=" in f.reason


def test_stray_brace_closing_value_early():
    r = parse_bibtex("@misc{k,\n title = {a}} b},\n year = 2000}\n@misc{n, title={ok}}\n")
    assert "n" in [e.key for e in r.entries]
    assert r.total >= 2


def test_duplicate_key_is_failed_for_survey_but_kept_for_import():
    text = "@misc{Same, title={a}}\n@misc{same, title={b}}\n"
    strict = parse_bibtex(text)
    assert len(strict.entries) == 1 and "duplicate citation key" in strict.failed[0].reason
    lenient = parse_bibtex(text, keep_duplicates=True)
    assert [e.duplicate_of for e in lenient.entries] == [None, 1]


def test_keyless_entry_gets_a_generated_key():
    r = parse_bibtex("@article{,\n author={Doe, Jane}, year=2021, title={Deep Things}}")
    assert r.entries[0].key == "doe2021Deep"
    assert any("no citation key" in w.reason for w in r.warnings)


def test_garbage_never_raises():
    for text in ["@", "@{", "@article{", "}}}{{{", "@misc{a,title={" * 500, "\x00" * 50, ""]:
        r = parse_bibtex(text)
        assert r.total >= 0


# --- LaTeX -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("Katar{\\'i}na", "Katarína"),
        ('{\\"u}ber', "über"),
        ("\\'{\\i}", "í"),
        ("\\ifmmode \\check{C}\\else \\v{C}\\fi{}ech", "Čech"),
        ("50\\% \\& more", "50% & more"),
        ("$O(n^2)$ time", "O(n^2) time"),
        ("$\\alpha$-test", "α-test"),
        ("Erd{\\H o}s", "Erdős"),
        ("Fran\\c{c}ois", "François"),
        ('\\AA{}ngstr\\"om', "Ångström"),
        ('{G}r{\\"o}{\\ss}e', "Größe"),
        ("\\textbf{Bold} \\emph{it}", "Bold it"),
        ("\\href{http://x.y}{Text}", "Text"),
        ("A--B---C", "A–B—C"),
        ("plain title", "plain title"),
    ],
)
def test_latex_to_unicode(raw, want):
    assert latex_to_unicode(raw) == want


def test_deep_nesting_is_linear_and_bounded():
    deep = "{" * 5000 + "x" + "}" * 5000
    assert latex_to_unicode(deep) == "x"
    assert latex_to_unicode("\\'" * 10, max_len=5) == "\\'" * 10  # over the cap: raw


def test_oversized_field_is_kept_raw_and_reported():
    big = "\\'e" * 20
    r = parse_bibtex("@misc{a, title={T}, abstract={" + big + "}}")
    rec = to_record(r.entries[0], max_len=30)
    assert rec.abstract == big
    assert any("abstract" in w and "limit" in w for w in rec.warnings)


# --- names and years ---------------------------------------------------------------------


def test_names_von_jr_corporate():
    n = parse_name("Ludwig van Beethoven")
    assert (n.given, n.von, n.family) == ("Ludwig", "van", "Beethoven")
    n = parse_name("van Beethoven, Jr., Ludwig")
    assert (n.given, n.von, n.family, n.jr) == ("Ludwig", "van", "Beethoven", "Jr.")
    n = parse_name("{Barnes and Noble, Inc.}")
    assert n.corporate and n.family == "Barnes and Noble, Inc."
    assert [x.family for x in split_names("A. One and {B and C Ltd} and others")] == [
        "One",
        "B and C Ltd",
    ]
    assert parse_name("M{\\\"u}ller, J{\\'o}zsef").family == "Müller"


@pytest.mark.parametrize(
    ("fields", "year"),
    [
        ({"year": "2023a"}, 2023),
        ({"year": "in press"}, None),
        ({"date": "2021-03-04/2022"}, 2021),
        ({"year": "{{\\noopsort{a}}1999}"}, 1999),
        ({}, None),
    ],
)
def test_years(fields, year):
    assert parse_year(fields) == year


def test_unreadable_year_is_warned_and_raw_kept():
    r = parse_bibtex("@misc{a, title={t}, year={in press}}")
    rec = to_record(r.entries[0])
    assert rec.year is None and rec.fields["year"] == "in press"
    assert any("in press" in w for w in rec.warnings)


# --- identifiers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "10.1145/ABC.123",
        "doi:10.1145/abc.123",
        "https://doi.org/10.1145/abc.123",
        "http://dx.doi.org/10.1145/abc.123",
        "https://doi.org/10.1145%2Fabc.123",
        " {10.1145/abc.123}. ",
    ],
)
def test_doi_normalisation(raw):
    assert normalize_doi(raw) == "10.1145/abc.123"


def test_not_a_doi():
    assert normalize_doi("n/a") is None


@pytest.mark.parametrize(
    ("fields", "want"),
    [
        ({"eprint": "2506.23762v2", "archiveprefix": "arXiv"}, "2506.23762"),
        ({"url": "https://arxiv.org/abs/2401.01234v1"}, "2401.01234"),
        ({"journal": "arXiv:2301.00001"}, "2301.00001"),
        ({"doi": "10.48550/arXiv.2305.12345"}, "2305.12345"),
        ({"eprint": "cs/0112017"}, "cs/0112017"),
        ({"eprint": "hep-th/9901001v3", "eprinttype": "arxiv"}, "hep-th/9901001"),
        ({"eprint": "12345", "eprinttype": "pubmed"}, None),
    ],
)
def test_arxiv_ids(fields, want):
    assert arxiv_from_fields(fields) == want


def test_arxiv_bare():
    assert normalize_arxiv("arXiv:1706.03762v7") == "1706.03762"


def test_title_key_folds_latex_accents_case_punctuation():
    a = title_key(latex_to_unicode("K{\\\"u}chlin's   {GREAT} Idea: part--1"))
    b = title_key("Küchlin’s great idea — part 1")
    assert a == b


def test_record_from_entry_end_to_end():
    rec = to_record(parse_bibtex(ENTRY).entries[0])
    assert rec.title == "Café culture" and rec.year == 2020
    assert rec.authors[0].family == "Müller" and rec.raw_bibtex.startswith("@article{k1")
