"""CSV: one row per paper, survey context in columns, safe to open in a spreadsheet."""

import csv
import io
from collections.abc import Iterable, Iterator

from app.bibtex.writers.record import ExportRecord

COLUMNS = (
    "citekey",
    "title",
    "authors",
    "year",
    "venue",
    "entry_type",
    "doi",
    "arxiv_id",
    "url",
    "phases",
    "challenges",
    "directions",
    "note",
    "status",
    "abstract",
)
# A cell starting with one of these is a formula to Excel/LibreOffice/Sheets (OWASP CSV injection).
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value) -> str:
    """Prefix a formula-looking cell with an apostrophe so spreadsheets show it as text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_TRIGGERS) else text


def row(rec: ExportRecord) -> list[str]:
    values = {
        "citekey": rec.citekey,
        "title": rec.title,
        "authors": "; ".join(p.display for p in rec.authors),
        "year": rec.year if rec.year is not None else "",
        "venue": rec.venue or "",
        "entry_type": rec.entry_type,
        "doi": rec.doi or "",
        "arxiv_id": rec.arxiv_id or "",
        "url": rec.url or "",
        "phases": "; ".join(t.label for t in rec.phases),
        "challenges": "; ".join(t.label for t in rec.challenges),
        "directions": "; ".join(t.label for t in rec.directions),
        "note": rec.note,
        "status": rec.status,
        "abstract": rec.abstract,
    }
    return [neutralise(values[c]) for c in COLUMNS]


def iter_csv(records: Iterable[ExportRecord], *, batch: int = 200) -> Iterator[str]:
    """RFC 4180 CSV (CRLF rows, minimal quoting), yielded in chunks of `batch` rows."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    n = 0
    for rec in records:
        writer.writerow(row(rec))
        n += 1
        if n % batch == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def write_csv(records: Iterable[ExportRecord]) -> str:
    return "".join(iter_csv(records))
