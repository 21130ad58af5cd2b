"""BibTeX (classic, ASCII) and BibLaTeX (UTF-8) writers.

Imported entries are written from their original raw field values under their original key:
nothing the user imported is rewritten except what classic BibTeX cannot read (non-ASCII
characters become `{\\"u}`-style commands, bare `&`, `%`, `#` are escaped) and the survey context,
which goes into `keywords` instead of the custom `phases`/`challenges`/`directions` fields.
Papers without raw fields are written from their columns, fully escaped.
"""

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

from pylatexenc.latexencode import UnicodeToLatexEncoder

from app.bibtex.latex import latex_to_unicode
from app.bibtex.writers.context import merged_keywords
from app.bibtex.writers.record import ExportRecord, Person

CUSTOM = ("phases", "challenges", "directions")
VERBATIM = {"url", "doi", "eprint", "file", "pdf", "urldate", "verba", "verbb", "verbc"}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
REFS = ("crossref", "xref")

_encoder = UnicodeToLatexEncoder(
    non_ascii_only=True,
    replacement_latex_protection="braces-all",
    unknown_char_policy="keep",  # no LaTeX form (CJK...): keep the UTF-8 character
    unknown_char_warning=False,
)
_BARE = re.compile(r"(?<!\\)([&%#])")


def _escape_bare(m: re.Match) -> str:
    return "\\" + m.group(1)


def escape_bare(value: str) -> str:
    """Escape every `&`, `%` and `#` not already escaped (what _BARE finds). When none of them
    follows a backslash, each one is bare: plain replaces, faster than the look-behind scan."""
    if "\\&" in value or "\\%" in value or "\\#" in value:
        return _BARE.sub(_escape_bare, value)
    for ch in "&%#":
        if ch in value:
            value = value.replace(ch, "\\" + ch)
    return value


_PLAIN = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_PLAIN_RE = re.compile(r"[\\{}$&%#_~^]")


# Everything but the braces that count: escaped characters (`\\{`, `\\}`, `\\\\`...) and
# other text.
_NOT_BRACES = re.compile(r"\\.?|[^{}\\]+", re.S)


def balanced(value: str) -> bool:
    """Braces nest properly (escaped `\\{` and `\\}` do not count)."""
    if "{" not in value and "}" not in value:
        return True
    braces = _NOT_BRACES.sub("", value)  # only the braces are left, in order
    while "{}" in braces:
        braces = braces.replace("{}", "")
    return not braces


def _ascii(value: str) -> str:
    return value if value.isascii() else _encoder.unicode_to_latex(value)


def escape_plain(text: str) -> str:
    """Plain Unicode text -> a classic BibTeX value (every special character escaped)."""
    return _ascii(_PLAIN_RE.sub(lambda m: _PLAIN[m.group(0)], text))


def encode_raw(name: str, value: str, *, unicode: bool = False) -> str:
    """An original (LaTeX) field value made safe: braces balanced, bare specials escaped."""
    value = str(value)
    if len(value) <= _CACHE_LEN:  # venues, years, names... repeat across a large export
        return _encode_cached(name, value, unicode)
    return _encode(name, value, unicode)


_CACHE_LEN = 200


def _encode(name: str, value: str, unicode: bool) -> str:
    value = " ".join(value.split()) if name not in ("abstract", "note") else value
    if name in VERBATIM:
        return value if balanced(value) else value.replace("{", "").replace("}", "")
    if ("{" in value or "}" in value) and not balanced(value):
        return latex_to_utf8(escape_plain(value)) if unicode else escape_plain(value)
    if "&" in value or "%" in value or "#" in value:
        value = escape_bare(value)
    # latex_to_utf8 and _ascii, inlined
    if unicode:
        return _ACCENT.sub(_accent_char, value) if "\\" in value else value
    return value if value.isascii() else _encoder.unicode_to_latex(value)


_encode_cached = lru_cache(maxsize=4096)(_encode)  # bounded: memory stays flat


# `{\"u}`, `\"{u}`, `\"u`, `{\v c}`, `\ss{}`, `{\o}` ... -> the Unicode character.
_ACCENT = re.compile(
    r"\{\\(?:[`'^\"~=.]\s*(?:\{\w\}|\w)|[uvHckrdb](?:\s+\w|\s*\{\w\})"
    r"|(?:ss|o|O|ae|AE|oe|OE|aa|AA|l|L|i|j)(?![A-Za-z]))\s*\}"
    r"|\\[`'^\"~=.]\s*(?:\{\w\}|\w)"
    r"|\\[uvHckrdb](?:\s*\{\w\}|\s+\w)"
    r"|\\(?:ss|o|O|ae|AE|oe|OE|aa|AA|l|L)(?:\{\}|(?![A-Za-z]))"
)


def latex_to_utf8(value: str) -> str:
    """Turn accent commands into Unicode characters, keeping every other brace and command."""
    if "\\" not in value:
        return value
    return _ACCENT.sub(_accent_char, value)


_ACCENT_CHARS: dict[str, str] = {}  # `{\"u}` -> `ü`: a few hundred forms at most in practice


def _accent_char(m: re.Match) -> str:
    command = m.group(0)
    char = _ACCENT_CHARS.get(command)
    if char is None:
        char = latex_to_unicode(command) or command
        if len(_ACCENT_CHARS) < 10_000:  # bounded whatever the input
            _ACCENT_CHARS[command] = char
    return char


def _names(people: list[Person], *, unicode: bool) -> str:
    esc = (lambda s: latex_to_utf8(escape_plain(s))) if unicode else escape_plain
    out = []
    for p in people:
        if p.corporate:
            out.append("{" + esc(p.family) + "}")
        else:
            out.append(f"{esc(p.family)}, {esc(p.given)}")
    return " and ".join(out)


MONTH_NAMES = (
    "january february march april may june july august september october november december"
).split()


def _field_line(name: str, value: str) -> str:
    if name == "month":
        v = value.strip().lower().rstrip(".")
        if v in MONTHS or v in MONTH_NAMES or v == "sept":
            return f"  {name} = {v[:3]},"  # the standard macro: styles print it their way
    return f"  {name} = {{{value}}},"


def _from_columns(rec: ExportRecord, *, unicode: bool) -> dict[str, str]:
    esc = (lambda s: latex_to_utf8(escape_plain(s))) if unicode else escape_plain
    f: dict[str, str] = {"title": "{" + esc(rec.title) + "}"}
    if rec.authors:
        f["author"] = _names(rec.authors, unicode=unicode)
    if rec.year:
        f["year"] = str(rec.year)
    if rec.venue:
        venue_field = {
            "article": "journal",
            "inproceedings": "booktitle",
            "incollection": "booktitle",
            "book": "publisher",
            "techreport": "institution",
            "phdthesis": "school",
            "mastersthesis": "school",
        }.get(rec.entry_type, "howpublished")
        if not (venue_field == "howpublished" and rec.arxiv_id):
            f[venue_field] = esc(rec.venue)
    if rec.doi:
        f["doi"] = rec.doi
    if rec.arxiv_id:
        f["eprint"] = rec.arxiv_id
        f["archiveprefix"] = "arXiv"
    if rec.url:
        f["url"] = rec.url
    if rec.abstract:
        f["abstract"] = esc(rec.abstract)
    return f


_NOT_COPIED = frozenset((*CUSTOM, "keywords"))
# Values that are one paper's own: the encoding cache would only churn on them.
_OWN_VALUES = frozenset(
    ("title", "author", "doi", "url", "eprint", "pages", "abstract", "note", "file", "isbn")
)


# What a raw field name means to _entry_fields, per `skip` set: (lower-cased name, kind).
_SKIPPED, _REF, _OWN, _SHARED = range(4)
_NAME_KINDS: dict[frozenset, dict[str, tuple[str, int]]] = {}


def _name_kind(name, skip: frozenset) -> tuple[str, int]:
    name = str(name).lower()
    if name in skip:
        return name, _SKIPPED
    if name in REFS:
        return name, _REF
    # A paper's own values skip the encoding cache (they would only churn it).
    return name, _OWN if name in _OWN_VALUES else _SHARED


def _entry_fields(
    rec: ExportRecord, parents: set[str], *, unicode: bool, skip: frozenset = _NOT_COPIED
) -> dict[str, str]:
    """`skip`: raw fields left out (at least _NOT_COPIED)."""
    if rec.fields:
        out = {}
        kinds = _NAME_KINDS.get(skip)
        if kinds is None:
            kinds = _NAME_KINDS.setdefault(skip, {})
        for name, value in rec.fields.items():
            known = kinds.get(name) if type(name) is str else None
            if known is None:
                known = _name_kind(name, skip)
                if type(name) is str and len(kinds) < 2000:  # bounded whatever the input
                    kinds[name] = known
            name, kind = known
            if kind == _SKIPPED:
                continue
            if type(value) is not str:
                value = str(value)
            if kind == _REF and value.strip().lower() not in parents:
                continue  # the parent is not in this export: no dangling crossref
            # encode_raw, inlined: it runs for every field of every entry
            if kind == _OWN or len(value) > _CACHE_LEN:
                out[name] = _encode(name, value, unicode)
            else:
                out[name] = _encode_cached(name, value, unicode)
    else:
        out = _from_columns(rec, unicode=unicode)
    keywords = merged_keywords(rec)
    if keywords:
        out["keywords"] = encode_raw("keywords", keywords, unicode=unicode)
    if rec.note and "annote" not in out:
        out["annote"] = latex_to_utf8(escape_plain(rec.note)) if unicode else escape_plain(rec.note)
    return out


def _entry(entry_type: str, key: str, fields: dict[str, str]) -> str:
    lines = [f"@{entry_type}{{{key},"]
    lines += [_field_line(k, v) if k == "month" else f"  {k} = {{{v}}}," for k, v in fields.items()]
    lines[-1] = lines[-1].rstrip(",")
    return "\n".join(lines) + "\n}\n\n"


def crossref_parents(records: Iterable[ExportRecord]) -> set[str]:
    """Lower-cased keys that some record cross-references and that are in `records`."""
    keys = set()
    wanted = set()
    for r in records:
        keys.add(r.citekey.lower())
        for name in REFS:
            if r.raw(name):
                wanted.add(r.raw(name).strip().lower())
    return keys & wanted


def _ordered(records: Iterable[ExportRecord], parents: set[str] | None):
    """Children before parents (BibTeX needs a crossref target after its referrers)."""
    if parents is None:
        records = list(records)
        parents = crossref_parents(records)
    if not parents:  # nothing to hold back: the records as they come
        for r in records:
            yield r, parents
        return
    held: list[ExportRecord] = []
    for r in records:
        if r.citekey.lower() in parents:
            held.append(r)  # only cross-referenced entries are held back: a few at most
        else:
            yield r, parents
    for r in held:
        yield r, parents


def iter_bibtex(
    records: Iterable[ExportRecord], *, parents: set[str] | None = None, header: str = ""
) -> Iterator[str]:
    """Classic BibTeX, ASCII only. `parents`: cross-referenced keys present in the export
    (lower-cased); None computes them (the records are then read into memory)."""
    if header:
        yield "".join(f"% {line}\n" for line in header.splitlines()) + "\n"
    for rec, ps in _ordered(records, parents):
        yield _entry(rec.entry_type or "misc", rec.citekey, _entry_fields(rec, ps, unicode=False))


BIBLATEX_TYPES = {
    "conference": "inproceedings",
    "techreport": "report",
    "phdthesis": "thesis",
    "mastersthesis": "thesis",
    "electronic": "online",
    "www": "online",
}
THESIS_TYPES = {"phdthesis": "phdthesis", "mastersthesis": "mathesis", "techreport": "techreport"}
_YEAR = re.compile(r"\d{4}")
RENAMES = {"journal": "journaltitle", "address": "location", "school": "institution"}


_NOT_IN_BIBLATEX = frozenset(("archiveprefix", "primaryclass", "year", "month"))
_BIBLATEX_SKIP = _NOT_COPIED | _NOT_IN_BIBLATEX  # not even encoded
_RENAME_TARGETS = frozenset(RENAMES.values())


def _biblatex_fields(rec: ExportRecord, parents: set[str]) -> dict[str, str]:
    f = _entry_fields(rec, parents, unicode=True, skip=_BIBLATEX_SKIP)
    # Renamed, dropped; a `doi` value is replaced below when the paper has a DOI.
    if _RENAME_TARGETS.isdisjoint(f):  # no renamed field can meet one of the same name
        out = {RENAMES.get(k, k): v for k, v in f.items() if k not in _NOT_IN_BIBLATEX}
    else:
        out = {}
        for name, value in f.items():
            name = RENAMES.get(name, name)
            if name not in _NOT_IN_BIBLATEX and name not in out:
                out[name] = value  # the first of two same-named fields wins
    raw = rec.fields.get
    if "date" not in out:
        year = raw("year")
        year = ("" if year is None else str(year)).strip() or (str(rec.year) if rec.year else "")
        month = raw("month")
        month = ("" if month is None else str(month)).strip().lower()[:3]
        if _YEAR.fullmatch(year):
            if month in MONTHS:
                year += f"-{MONTHS.index(month) + 1:02d}"
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
        out["eprinttype"] = latex_to_utf8(rec.raw("archiveprefix"))
    if rec.doi:
        out["doi"] = rec.doi
    if rec.entry_type in THESIS_TYPES and "type" not in out:
        out["type"] = THESIS_TYPES[rec.entry_type]
    return out


def iter_biblatex(
    records: Iterable[ExportRecord], *, parents: set[str] | None = None, header: str = ""
) -> Iterator[str]:
    """BibLaTeX for biber: UTF-8 text, `date`, `journaltitle`, `eprint`/`eprinttype`, `doi`."""
    if header:
        yield "".join(f"% {line}\n" for line in header.splitlines()) + "\n"
    for rec, ps in _ordered(records, parents):
        etype = BIBLATEX_TYPES.get(rec.entry_type, rec.entry_type or "misc")
        yield _entry(etype, rec.citekey, _biblatex_fields(rec, ps))


def write_bibtex(records: Iterable[ExportRecord], **kw) -> str:
    return "".join(iter_bibtex(records, **kw))


def write_biblatex(records: Iterable[ExportRecord], **kw) -> str:
    return "".join(iter_biblatex(records, **kw))
