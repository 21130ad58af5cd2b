"""RIS (EndNote, Zotero, Mendeley): one tagged block per paper."""

from collections.abc import Iterable, Iterator

from app.bibtex.latex import latex_to_unicode
from app.bibtex.writers.csljson import keywords
from app.bibtex.writers.record import ExportRecord

RIS_TYPES = {
    "article": "JOUR",
    "inproceedings": "CPAPER",
    "conference": "CPAPER",
    "proceedings": "CONF",
    "book": "BOOK",
    "inbook": "CHAP",
    "incollection": "CHAP",
    "phdthesis": "THES",
    "mastersthesis": "THES",
    "thesis": "THES",
    "techreport": "RPRT",
    "report": "RPRT",
    "manual": "RPRT",
    "online": "ELEC",
    "electronic": "ELEC",
    "unpublished": "UNPB",
}
VENUE_TAG = {"JOUR": "JO", "CPAPER": "T2", "CHAP": "T2", "CONF": "T2"}


def ris_type(rec: ExportRecord) -> str:
    if rec.entry_type in RIS_TYPES:
        return RIS_TYPES[rec.entry_type]
    return "UNPB" if rec.arxiv_id else "GEN"


def _clean(value: str) -> str:
    return " ".join(str(value).split())  # RIS values are single lines


def _raw_lines(rec: ExportRecord) -> list[tuple[str, object]]:
    """(tag, value) pairs before cleaning (see ris_lines)."""
    ty = ris_type(rec)
    out = [("TY", ty), ("ID", rec.citekey), ("TI", rec.title or rec.citekey)]
    out += [("AU", f"{p.family}, {p.given}" if p.given else p.family) for p in rec.authors]
    if rec.year:
        out.append(("PY", str(rec.year)))
    if rec.venue:
        out.append((VENUE_TAG.get(ty, "PB"), rec.venue))
    raw = rec.fields.get
    for src, tag in (("volume", "VL"), ("number", "IS")):
        v = raw(src)
        if v is not None and (v := latex_to_unicode(str(v))):
            out.append((tag, v))
    pages = raw("pages")
    pages = "" if pages is None else latex_to_unicode(str(pages)).replace("–", "-")
    if pages:
        start, _, end = pages.partition("-")
        out.append(("SP", start.strip()))
        if end.strip("- "):
            out.append(("EP", end.strip("- ")))
    if rec.doi:
        out.append(("DO", rec.doi))
    if rec.url:
        out.append(("UR", rec.url))
    if rec.arxiv_id and not (rec.url and "arxiv.org" in rec.url):
        out.append(("UR", f"https://arxiv.org/abs/{rec.arxiv_id}"))
    if rec.abstract:
        out.append(("AB", rec.abstract))
    out += [("KW", k) for k in keywords(rec)]
    if rec.note:
        out.append(("N1", rec.note))
    return out


def ris_lines(rec: ExportRecord) -> list[tuple[str, str]]:
    cleaned = []
    for tag, value in _raw_lines(rec):
        value = " ".join(str(value).split())  # _clean, once per value
        if value:
            cleaned.append((tag, value))
    return cleaned


def _entry(rec: ExportRecord) -> str:
    """One record's RIS block, ER line included: ris_lines, formatted as they are cleaned."""
    parts = []
    for tag, value in _raw_lines(rec):
        value = " ".join(str(value).split())
        if value:
            parts.append(f"{tag}  - {value}\r\n")
    parts.append(_END)
    return "".join(parts)


_END = "ER  - \r\n\r\n"


def iter_ris(records: Iterable[ExportRecord], *, batch: int = 200) -> Iterator[str]:
    parts: list[str] = []
    for rec in records:
        parts.append(_entry(rec))
        if len(parts) >= batch:
            yield "".join(parts)
            parts = []
    if parts:
        yield "".join(parts)


def write_ris(records: Iterable[ExportRecord]) -> str:
    return "".join(iter_ris(records))
