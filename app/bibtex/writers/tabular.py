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
_TRIGGER_SET = frozenset(_TRIGGERS)


def neutralise(value) -> str:
    """Prefix a formula-looking cell with an apostrophe so spreadsheets show it as text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_TRIGGERS) else text


def row(rec: ExportRecord) -> list[str]:
    """The cells of one paper, in COLUMNS order, neutralised."""
    values = (
        rec.citekey,
        rec.title,
        "; ".join([p.display for p in rec.authors]),
        str(rec.year) if rec.year is not None else "",  # as neutralise() would write it
        rec.venue or "",
        rec.entry_type,
        rec.doi or "",
        rec.arxiv_id or "",
        rec.url or "",
        "; ".join([t.label for t in rec.phases]),
        "; ".join([t.label for t in rec.challenges]),
        "; ".join([t.label for t in rec.directions]),
        rec.note,
        rec.status,
        rec.abstract,
    )
    return [
        ("'" + v if v[:1] in _TRIGGER_SET else v) if type(v) is str else neutralise(v)
        for v in values
    ]


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
