"""CSL-JSON (citeproc, pandoc, Zotero): a JSON array of items, written one item at a time."""

import json
from collections.abc import Iterable, Iterator

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


def iter_csljson(records: Iterable[ExportRecord]) -> Iterator[str]:
    """A JSON array streamed item by item (valid JSON even when empty)."""
    first = True
    for rec in records:
        body = json.dumps(to_csl(rec), ensure_ascii=False, indent=2)
        body = "\n".join("  " + line for line in body.splitlines())
        yield ("[\n" if first else ",\n") + body
        first = False
    yield "[]\n" if first else "\n]\n"


def write_csljson(records: Iterable[ExportRecord]) -> str:
    return "".join(iter_csljson(records))
