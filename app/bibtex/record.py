"""Turn a parsed entry into the values a Paper row stores (display fields decoded)."""

import re
from dataclasses import dataclass, field

from app.bibtex.identifiers import arxiv_from_fields, normalize_doi, title_key
from app.bibtex.latex import DEFAULT_MAX_LEN, latex_to_unicode
from app.bibtex.names import Name, split_names
from app.bibtex.parse import BibEntry

_YEAR = re.compile(r"(1[5-9]\d\d|20\d\d|21\d\d)")
VENUE_FIELDS = ("journal", "journaltitle", "booktitle", "publisher", "school", "institution")


@dataclass
class PaperRecord:
    citekey: str
    entry_type: str
    title: str
    year: int | None
    venue: str | None
    doi: str | None
    arxiv_id: str | None
    url: str | None
    abstract: str
    authors: list[Name]
    fields: dict[str, str]
    raw_bibtex: str
    title_key: str
    keywords: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    line: int = 0


def parse_year(fields: dict[str, str]) -> int | None:
    """A sortable year from `year` (2023a, in press...) or a biblatex `date`."""
    for name in ("year", "date"):
        m = _YEAR.search(fields.get(name) or "")
        if m:
            return int(m.group(1))
    return None


def venue_of(entry_type: str, fields: dict[str, str]) -> str | None:
    if entry_type == "misc" and fields.get("eprint") and not fields.get("journal"):
        prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "arXiv").strip()
        return latex_to_unicode(prefix) or None
    for name in VENUE_FIELDS:
        if fields.get(name):
            return latex_to_unicode(fields[name]) or None
    return None


def split_list(value: str | None) -> list[str]:
    if not value:
        return []
    return [p.strip() for p in re.split(r"[,;]", latex_to_unicode(value)) if p.strip()]


DISPLAY_FIELDS = ("title", "abstract", "author", "editor", *VENUE_FIELDS)


def to_record(entry: BibEntry, *, max_len: int = DEFAULT_MAX_LEN) -> PaperRecord:
    """Display values (LaTeX decoded, crossref/xdata inherited) plus every original field.

    A display field longer than `max_len` is not decoded (kept as written) and reported.
    """
    f = entry.view
    warnings: list[str] = []
    for name in DISPLAY_FIELDS:
        if len(f.get(name) or "") > max_len:
            warnings.append(
                f"field '{name}' is {len(f[name]):,} characters, over the {max_len:,}-character "
                "limit for LaTeX decoding; it is kept as written"
            )
    title = latex_to_unicode(f.get("title", ""), max_len) or entry.key
    if not f.get("title"):
        warnings.append("the entry has no title; its key is shown instead")
    url = (f.get("url") or "").strip() or None
    arxiv = arxiv_from_fields(f)
    if not url and arxiv:
        url = f"https://arxiv.org/abs/{arxiv}"
    year = parse_year(f)
    raw_year = (f.get("year") or f.get("date") or "").strip()
    if raw_year and year is None:
        warnings.append(f"no year could be read from '{raw_year[:40]}'; it is kept as written")
    return PaperRecord(
        citekey=entry.key,
        entry_type=entry.entry_type,
        title=title,
        year=year,
        venue=venue_of(entry.entry_type, f),
        doi=normalize_doi(f.get("doi")),
        arxiv_id=arxiv,
        url=url,
        abstract=latex_to_unicode(f.get("abstract", ""), max_len),
        authors=split_names(f.get("author") or f.get("editor") or ""),
        fields=dict(entry.fields),
        raw_bibtex=entry.raw,
        title_key=title_key(title),
        keywords=split_list(f.get("keywords")),
        warnings=warnings,
        line=entry.line,
    )
