"""The query language: what people type is read the way they meant it, and junk never raises."""

import pytest

from app.search.query import parse
from app.search.schema import make_schema

SCHEMA = make_schema()


def fields_of(q) -> set[str]:
    return {t[0] for t in q.iter_all_terms()} if q is not None else set()


def test_plain_words_are_anded_and_stemmed():
    p = parse("testing oracles", SCHEMA)
    assert p.notice is None
    terms = {t for t in p.query.iter_all_terms() if t[0] == "text"}
    assert terms == {("text", "test"), ("text", "oracl")}
    assert type(p.query).__name__ == "And"


def test_hyphenated_word_is_not_an_exclusion():
    p = parse("fine-tuning", SCHEMA)
    assert "AndNot" not in repr(p.query)
    assert ("text", "tune") in set(p.query.iter_all_terms())


def test_leading_minus_excludes():
    p = parse("repair -survey", SCHEMA)
    assert type(p.query).__name__ == "AndNot"


def test_year_range_and_single_year():
    assert str(parse("year:2020..2023", SCHEMA).query) == "year:[2020 TO 2023]"
    assert str(parse("year:2023", SCHEMA).query) == "year:2023"


def test_field_aliases_and_accent_folding():
    q = parse("author:Müller title:repair", SCHEMA).query
    assert fields_of(q) == {"authors", "title"}
    assert ("authors", "muller") in set(q.iter_all_terms())


def test_challenge_slug_matches_exact_slug():
    q = parse("challenge:benchmark-validity", SCHEMA).query
    assert ("f_challenge", "benchmark-validity") in set(q.iter_all_terms())


@pytest.mark.parametrize(
    "text, words",
    [
        ('"unclosed phrase', ["unclosed", "phrase"]),
        ("((oracle", ["oracle"]),
        ("foo:bar", ["bar"]),
        ("OR oracle", ["oracle"]),
        ("year:[2020 TO", ["2020"]),
    ],
)
def test_unreadable_syntax_falls_back_to_plain_words_with_a_notice(text, words):
    p = parse(text, SCHEMA)
    assert p.fallback
    assert p.words == words
    assert "plain words" in p.notice
    assert p.query is not None


JUNK = ["", "   ", "AND OR", "title:", "-", "*", ")(", "\x00", "a" * 2000]


@pytest.mark.parametrize("text", JUNK)
def test_junk_never_raises(text):
    parse(text, SCHEMA)
