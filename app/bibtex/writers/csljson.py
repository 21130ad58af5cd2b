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
    raw = rec.fields.get("keywords")
    if raw is None or raw == "":  # no own keywords: the context terms alone
        return context_terms(rec)
    own = [k.strip() for k in latex_to_unicode(str(raw)).split(",") if k.strip()]
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
    raw = rec.fields.get
    for src, dst in COPIED.items():
        v = raw(src)
        if v is not None and (v := latex_to_unicode(str(v))):
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
    `ind`, built with the C string encoder (the stdlib's indenting encoder is pure Python).
    Strings, most of an item, are encoded in place rather than through a recursive call."""
    if type(o) is str:
        return _encode_str(o)
    if isinstance(o, dict):
        if not o:
            return "{}"
        inner = ind + "  "
        parts = []
        for k, v in o.items():
            if type(k) is not str and not isinstance(k, str):
                raise TypeError(k)
            parts.append(
                inner
                + _encode_str(k)
                + ": "
                + (_encode_str(v) if type(v) is str else _indented(v, inner))
            )
        return "{\n" + ",\n".join(parts) + "\n" + ind + "}"
    if isinstance(o, list | tuple):
        if not o:
            return "[]"
        inner = ind + "  "
        return (
            "[\n"
            + ",\n".join(
                inner + (_encode_str(v) if type(v) is str else _indented(v, inner)) for v in o
            )
            + "\n"
            + ind
            + "]"
        )
    if isinstance(o, str):
        return _encode_str(o)
    if o is None or isinstance(o, bool):
        return json.dumps(o)
    if isinstance(o, int):
        return int.__repr__(o)
    raise TypeError(type(o))  # floats and the rest: the stdlib path


# `    "key": ` for an item's keys (a handful of CSL names), and `        "key": ` for a
# name's: the encoded key and its indent, made once.
_ITEM_KEYS: dict[str, str] = {}
_NAME_KEYS: dict[str, str] = {}


def _key(k: str, cache: dict[str, str], ind: str) -> str:
    head = cache.get(k)
    if head is None:
        if type(k) is not str and not isinstance(k, str):
            raise TypeError(k)
        head = ind + _encode_str(k) + ": "
        if len(cache) < 512 and type(k) is str:
            cache[k] = head
    return head


_FAMILY, _GIVEN, _END = '      {\n        "family": ', ',\n        "given": ', "\n      }"


def _names_text(names: list) -> str:
    """_indented(names, "    ") for a list of names: dicts of strings, the usual `author`."""
    out = []
    keys = _NAME_KEYS
    for d in names:
        if type(d) is not dict or not d:
            return _indented(names, "    ")
        if (
            len(d) == 2
            and type(family := d.get("family")) is str
            and type(given := d.get("given")) is str
            and next(iter(d)) == "family"
        ):  # {"family": ..., "given": ...}, in this order: most names
            out.append(_FAMILY + _encode_str(family) + _GIVEN + _encode_str(given) + _END)
            continue
        fields = []
        for k, v in d.items():
            if type(v) is not str:
                return _indented(names, "    ")
            fields.append((keys.get(k) or _key(k, keys, "        ")) + _encode_str(v))
        out.append("      {\n" + ",\n".join(fields) + "\n      }")
    return "[\n" + ",\n".join(out) + "\n    ]"


def _item_body(item: dict) -> str:
    """ "  " + _indented(item, "  "), with the shapes to_csl makes (strings, lists of names,
    `issued`) written directly: an item is some thirty strings, and most of the time went
    to the recursion around them."""
    if type(item) is not dict or not item:
        return "  " + _indented(item, "  ")
    parts = []
    keys = _ITEM_KEYS
    for k, v in item.items():
        head = keys.get(k) if type(k) is str else None
        if head is None:
            head = _key(k, keys, "    ")
        t = type(v)
        if t is str:
            parts.append(head + _encode_str(v))
        elif t is list and v:
            parts.append(head + _names_text(v))
        elif t is dict and len(v) == 1 and type(dp := v.get("date-parts")) is list:
            if len(dp) == 1 and type(dp[0]) is list and len(dp[0]) == 1 and type(dp[0][0]) is int:
                parts.append(
                    head + '{\n      "date-parts": [\n        [\n          '
                    f"{int.__repr__(dp[0][0])}\n        ]\n      ]\n    }}"
                )
            else:
                parts.append(head + _indented(v, "    "))
        else:
            parts.append(head + _indented(v, "    "))
    return "  {\n" + ",\n".join(parts) + "\n  }"


def _item_text(item: dict) -> str:
    try:
        body = _item_body(item)
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
