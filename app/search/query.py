"""The user's query language, turned into a Whoosh query.

Plain words are ANDed and ranked (BM25F over DEFAULT_FIELDS); "quoted phrases", `-exclude`,
`OR`, `NOT`, prefix `eval*`, and qualifiers `title:`, `author:`, `abstract:`, `venue:`,
`year:2023`, `year:2020..2023`, `phase:`, `challenge:`, `direction:`, `kind:`, `doi:`,
`arxiv:`, `citekey:`. A query the parser cannot read (unbalanced quotes or brackets, a dangling
`field:`) is searched as plain words instead, with a notice saying so. Nothing here raises.
"""

import logging
import re
from dataclasses import dataclass, field

from whoosh import query as wq
from whoosh.qparser import (
    AndGroup,
    FieldAliasPlugin,
    GtLtPlugin,
    MultifieldParser,
    PlusMinusPlugin,
)

from app.search.schema import DEFAULT_FIELDS

log = logging.getLogger(__name__)

MAX_QUERY = 500
ALIASES = {
    "authors": ["author", "by", "authors"],
    "text": ["abstract", "description"],
    "ident": ["doi", "arxiv", "citekey", "key", "id"],
    "phase": ["phases"],
    "challenge": ["challenges"],
    "direction": ["directions"],
}
QUALIFIERS = {
    "title",
    "text",
    "venue",
    "year",
    "kind",
    "authors",
    "ident",
    "phase",
    "challenge",
    "direction",
    "f_phase",
    "f_challenge",
    "f_direction",
    *(a for names in ALIASES.values() for a in names),
}
_YEAR_RANGE = re.compile(r"\byear:(\d{4})?\s*\.\.\s*(\d{4})?\b", re.I)
_SLUG_Q = re.compile(r"\b(phase|challenge|direction)s?:([a-z0-9]+(?:-[a-z0-9]+)+)(?=[\s)]|$)")
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "’": "'"})
_WORD = re.compile(r"[^\W_]+(?:[-'.][^\W_]+)*", re.UNICODE)
_FIELD = re.compile(r"(?<![\w])([A-Za-z_]+):", re.UNICODE)


@dataclass
class ParsedQuery:
    text: str  # the query as searched (after normalisation or fallback)
    query: wq.Query | None  # None: nothing to search
    notice: str | None = None
    words: list[str] = field(default_factory=list)  # plain words, for "did you mean"
    fallback: bool = False


def _parser(schema) -> MultifieldParser:
    qp = MultifieldParser(list(DEFAULT_FIELDS), schema, fieldboosts=DEFAULT_FIELDS, group=AndGroup)
    # "-" excludes only at the start of a word: "fine-tuning" stays one term.
    qp.add_plugin(PlusMinusPlugin(plusexpr=r"(?<![^\s(])\+(?=\S)", minusexpr=r"(?<![^\s(])-(?=\S)"))
    qp.add_plugin(FieldAliasPlugin(ALIASES))
    qp.add_plugin(GtLtPlugin())
    return qp


_PARSERS: dict[int, MultifieldParser] = {}


def parser_for(schema) -> MultifieldParser:
    key = id(schema)
    if key not in _PARSERS:
        _PARSERS[key] = _parser(schema)
    return _PARSERS[key]


def normalise(text: str) -> str:
    text = (text or "").translate(_QUOTES).strip()[:MAX_QUERY]
    text = re.sub(r"\s+", " ", text)

    def year_range(m: re.Match) -> str:
        lo, hi = m.group(1) or "0000", m.group(2) or "9999"
        if lo > hi:
            lo, hi = hi, lo
        return f"year:[{lo} TO {hi}]"

    text = _YEAR_RANGE.sub(year_range, text)
    # A slug (`challenge:benchmark-validity`) matches exactly, or as a phrase of its words.
    return _SLUG_Q.sub(
        lambda m: f'(f_{m.group(1)}:{m.group(2)} OR {m.group(1)}:"{m.group(2).replace("-", " ")}")',
        text,
    )


def syntax_problem(text: str) -> str | None:
    """Why `text` cannot be read as query syntax, or None."""
    if text.count('"') % 2:
        return "a quotation mark is not closed"
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return "a closing bracket has no opening one"
    if depth:
        return "a bracket is not closed"
    if text.count("[") != text.count("]"):
        return "a range bracket is not closed"
    for m in re.finditer(r"(?:^|\s)([A-Za-z]+):(?=\s|$)", text):
        return f"“{m.group(1)}:” is not followed by anything to search for"
    for m in _FIELD.finditer(text):
        if m.group(1).lower() not in QUALIFIERS:
            return f"“{m.group(1)}:” is not a field that can be searched"
    stripped = re.sub(r"\b(AND|OR|NOT|ANDNOT|ANDMAYBE)\b", "", text)
    if text.strip() and not stripped.strip(" ()-+"):
        return "it has only operators and no words"
    if re.search(r"(^|\s)(AND|OR|ANDNOT|ANDMAYBE)\s*$|^\s*(AND|OR|ANDNOT|ANDMAYBE)\b", text):
        return "an operator has nothing on one side"
    return None


def plain_words(text: str) -> list[str]:
    """The words of a query with operators, qualifiers and syntax removed."""
    words = []
    for m in _WORD.finditer(_FIELD.sub(" ", text)):
        w = m.group(0)
        if w in ("AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"):
            continue
        words.append(w)
    return words


def _has_null(q: wq.Query) -> bool:
    return q is wq.NullQuery or isinstance(q, type(wq.NullQuery))


def parse(text: str, schema) -> ParsedQuery:
    """Parse a user query; falls back to plain words (with a notice) when it cannot be read."""
    norm = normalise(text)
    if not norm:
        return ParsedQuery(text="", query=None)
    problem = syntax_problem(norm)
    qp = parser_for(schema)
    if problem is None:
        try:
            q = qp.parse(norm)
            if not _has_null(q):
                return ParsedQuery(text=norm, query=q, words=plain_words(_strip_fields(norm)))
            problem = "nothing in it could be searched"
        except Exception as exc:  # whoosh raises assorted errors on odd input
            log.info("query %r could not be parsed: %s", norm, exc)
            problem = "the search syntax could not be read"
    words = plain_words(norm)
    plain = " ".join(words)
    notice = f"Your query could not be read as search syntax ({problem})"
    if not words:
        return ParsedQuery(text="", query=None, notice=notice + ", and it has no words to search.")
    try:
        q = qp.parse(" ".join(_quote(w) for w in words))
    except Exception:  # pragma: no cover - quoted words always parse
        q = None
    return ParsedQuery(
        text=plain,
        query=None if q is None or _has_null(q) else q,
        notice=notice + f", so it was searched as the plain words “{plain}”.",
        words=words,
        fallback=True,
    )


def _quote(word: str) -> str:
    return f'"{word}"' if not word.isalnum() else word


def _strip_fields(text: str) -> str:
    """Remove qualified terms (`year:2023`, `title:"a b"`) so they are not spell-checked."""
    return re.sub(r'(?<![\w])[A-Za-z_]+:(?:"[^"]*"|\[[^\]]*\]|\S+)', " ", text)


def any_of_words(words: list[str], schema) -> ParsedQuery:
    """The words ORed (documents with more of them rank higher): the zero-hit fallback."""
    qp = parser_for(schema)
    subs = []
    for w in words:
        try:
            q = qp.parse(_quote(w))
        except Exception:  # pragma: no cover
            continue
        if not _has_null(q):
            subs.append(q)
    text = " OR ".join(words)
    return ParsedQuery(text=text, query=wq.Or(subs) if subs else None, words=words)


def is_plain(text: str) -> bool:
    """True if the query uses no syntax (only words)."""
    return not re.search(r'["*():\[\]]|(^|\s)[-+]|\b(AND|OR|NOT)\b', text)
