"""CSL-JSON (citeproc, pandoc, Zotero): a JSON array of items, written one item at a time."""

import json
from collections.abc import Iterable, Iterator
from json.encoder import encode_basestring as _encode_str  # C when available

from app.bibtex.latex import latex_to_unicode
from app.bibtex.writers.context import context_terms
from app.bibtex.writers.record import ExportRecord

CSL_TYPES = {
    "article": "article-journal",
    "inproceedings": "paper-conference",
    "conference": "paper-conference",
    "proceedings": "book",
    "book": "book",
    "inbook": "chapter",
    "incollection": "chapter",
    "phdthesis": "thesis",
    "mastersthesis": "thesis",
    "thesis": "thesis",
    "techreport": "report",
    "report": "report",
    "manual": "report",
    "online": "webpage",
    "electronic": "webpage",
    "unpublished": "manuscript",
}
CONTAINER = {"article-journal", "paper-conference", "chapter"}
COPIED = {"volume": "volume", "number": "issue", "pages": "page", "edition": "edition"}


def csl_type(rec: ExportRecord) -> str:
    if rec.entry_type in CSL_TYPES:
        return CSL_TYPES[rec.entry_type]
    return "article" if rec.arxiv_id else "manuscript"  # misc: a preprint or a document


def keywords(rec: ExportRecord) -> list[str]:
    own = [k.strip() for k in latex_to_unicode(rec.raw("keywords")).split(",") if k.strip()]
    return own + [t for t in context_terms(rec) if t not in own]


def to_csl(rec: ExportRecord) -> dict:
    ctype = csl_type(rec)
    item: dict = {"id": rec.citekey, "type": ctype, "title": rec.title or rec.citekey}
    if rec.authors:
        item["author"] = [
            {"literal": p.family} if p.corporate else {"family": p.family, "given": p.given}
            for p in rec.authors
        ]
    if rec.year:
        item["issued"] = {"date-parts": [[rec.year]]}
    if rec.venue:
        if ctype in CONTAINER:
            item["container-title"] = rec.venue
        elif ctype == "thesis" or ctype == "report":
            item["publisher"] = rec.venue
        elif rec.arxiv_id:
            item["container-title"] = rec.venue
        else:
            item["publisher"] = rec.venue
    for src, dst in COPIED.items():
        v = latex_to_unicode(rec.raw(src))
        if v:
            item[dst] = v.replace("–", "-")
    if rec.raw("publisher") and "publisher" not in item:
        item["publisher"] = latex_to_unicode(rec.raw("publisher"))
    if rec.doi:
        item["DOI"] = rec.doi
    if rec.arxiv_id:
        item["number"] = item.get("number") or f"arXiv:{rec.arxiv_id}"
    if rec.url:
        item["URL"] = rec.url
    if rec.abstract:
        item["abstract"] = rec.abstract
    kws = keywords(rec)
    if kws:
        item["keyword"] = ", ".join(kws)
    if rec.note:
        item["note"] = rec.note
    return item


def _indented(o, ind: str) -> str:
    """json.dumps(o, ensure_ascii=False, indent=2) with every line after the first indented by
    `ind`, built with the C string encoder (the stdlib's indenting encoder is pure Python)."""
    if isinstance(o, str):
        return _encode_str(o)
    if isinstance(o, dict):
        if not o:
            return "{}"
        inner = ind + "  "
        parts = []
        for k, v in o.items():
            if not isinstance(k, str):
                raise TypeError(k)
            parts.append(inner + _encode_str(k) + ": " + _indented(v, inner))
        return "{\n" + ",\n".join(parts) + "\n" + ind + "}"
    if isinstance(o, list | tuple):
        if not o:
            return "[]"
        inner = ind + "  "
        return "[\n" + ",\n".join(inner + _indented(v, inner) for v in o) + "\n" + ind + "]"
    if o is None or isinstance(o, bool):
        return json.dumps(o)
    if isinstance(o, int):
        return int.__repr__(o)
    raise TypeError(type(o))  # floats and the rest: the stdlib path


def _item_text(item: dict) -> str:
    try:
        body = "  " + _indented(item, "  ")
    except TypeError:
        body = None
    if body is None:
        body = json.dumps(item, ensure_ascii=False, indent=2)
        # split("\n"), not splitlines(): U+2028, U+2029 and U+0085 stay unescaped inside
        # strings, and splitting there would break the JSON.
        body = "\n".join("  " + line for line in body.split("\n"))
    return body


def iter_csljson(records: Iterable[ExportRecord], *, batch: int = 200) -> Iterator[str]:
    """A JSON array streamed `batch` items at a time (valid JSON even when empty)."""
    parts: list[str] = []
    first = True
    for rec in records:
        parts.append(("[\n" if first else ",\n") + _item_text(to_csl(rec)))
        first = False
        if len(parts) >= batch:
            yield "".join(parts)
            parts = []
    if parts:
        yield "".join(parts)
    yield "[]\n" if first else "\n]\n"


def write_csljson(records: Iterable[ExportRecord]) -> str:
    return "".join(iter_csljson(records))
