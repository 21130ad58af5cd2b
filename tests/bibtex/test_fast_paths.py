"""The parser's and the LaTeX decoder's fast paths give what the general code gives."""

import pytest

from app.bibtex.latex import latex_to_unicode
from app.bibtex.names import parse_name, split_names
from app.bibtex.parse import _one_group, parse_bibtex
from app.bibtex.values import resolve


@pytest.mark.parametrize(
    "raw, text",
    [
        ("{plain}", "plain"),
        ("  {with {nested} and {two {levels}}}  ", "with {nested} and {two {levels}}"),
        ("{}", ""),
        ("{a} {b}", None),  # two groups: resolve joins them
        ("{a} # {b}", None),  # a join
        ("{a}}{b}", None),  # the first group closes early
        ("{a{b}", None),  # never closed
        ('"quoted"', None),
        ("jan", None),
        ("2024", None),
    ],
)
def test_one_group_matches_resolve(raw, text):
    assert _one_group(raw) == text
    if text is not None:
        assert resolve(raw, {}, set()) == text


def test_entry_fields_through_the_fast_path_and_resolve():
    (e,) = parse_bibtex(
        '@string{ws = "Workshop"}\n'
        "@misc{k, Title = {On {Nested} {\\'E}t{\\'e}}, note = {a} # ws, month = jan,"
        " NOTE = {second}, year = 2024}"
    ).entries
    assert e.fields == {
        "title": "On {Nested} {\\'E}t{\\'e}",
        "note": "aWorkshop",
        "month": "January",
        "year": "2024",
    }


@pytest.mark.parametrize(
    "value, text",
    [
        ("A well-known it's --- case -- here", "A well-known it’s — case – here".replace("’", "'")),
        ("``Quoted'' text", "\u201cQuoted\u201d text"),
        ("M{\\\"u}ller and {\\'E}cole~Normale", "Müller and École Normale"),  # ~ squeezed too
        ("50\\% of $x$ costs \\$5 \\& more", "50% of x costs $5 & more"),
        ("\\textbf{Bold} \\emph{it} \\ss{} end", "Bold it ß end"),
        ("x" * 150 + " \\'e", "x" * 150 + " é"),  # long values are decoded too (not cached)
    ],
)
def test_latex_decoding(value, text):
    assert latex_to_unicode(value) == text
    assert latex_to_unicode(value) == text  # the second (maybe cached) answer is the same


def test_names_are_shared_and_unchanged():
    a = split_names('M{\\"u}ller, J{\\"o}rg and van der Berg, Piet')
    b = split_names('M{\\"u}ller, J{\\"o}rg and Smith, Jane')
    assert a[0] is b[0]  # the same person on two entries: one immutable Name
    assert (a[0].given, a[0].family, a[0].display) == ("Jörg", "Müller", "Jörg Müller")
    assert (a[1].von, a[1].family, a[1].full_family) == ("van der", "Berg", "van der Berg")
    assert parse_name("{World Health Organization}").corporate
