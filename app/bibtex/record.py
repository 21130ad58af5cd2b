"""Turn a parsed entry into the values a Paper row stores (display fields decoded)."""

import re
from dataclasses import dataclass, field

from app.bibtex.identifiers import arxiv_from_fields, normalize_doi, title_key
from app.bibtex.latex import latex_to_unicode
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


def to_record(entry: BibEntry) -> PaperRecord:
    f = entry.fields
    title = latex_to_unicode(f.get("title", "")) or entry.key
    url = (f.get("url") or "").strip() or None
    arxiv = arxiv_from_fields(f)
    if not url and arxiv:
        url = f"https://arxiv.org/abs/{arxiv}"
    return PaperRecord(
        citekey=entry.key,
        entry_type=entry.entry_type,
        title=title,
        year=parse_year(f),
        venue=venue_of(entry.entry_type, f),
        doi=normalize_doi(f.get("doi")),
        arxiv_id=arxiv,
        url=url,
        abstract=latex_to_unicode(f.get("abstract", "")),
        authors=split_names(f.get("author") or f.get("editor") or ""),
        fields=dict(f),
        raw_bibtex=entry.raw,
        title_key=title_key(title),
        keywords=split_list(f.get("keywords")),
    )
