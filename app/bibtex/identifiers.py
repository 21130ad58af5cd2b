"""Identity keys for papers: normalised DOI, arXiv id and a folded title key."""

import re
import unicodedata
from functools import lru_cache
from urllib.parse import unquote

_DOI_PREFIX = re.compile(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/|(?:dx\.)?doi\.org/)", re.I)
_DOI_SHAPE = re.compile(r"^10\.\d{4,9}/\S+$")
_ARXIV_NEW = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\d])")
_ARXIV_OLD = re.compile(r"\b([a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?\b", re.I)
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(.+)$", re.I)


def normalize_doi(value: str | None) -> str | None:
    """Lower-cased bare DOI (`10.x/y`) or None when the value is not a DOI."""
    if not value:
        return None
    v = unquote(value.replace("{", "").replace("}", "").strip())
    v = _DOI_PREFIX.sub("", v).strip().rstrip(".,;")
    v = v.replace("\\_", "_")
    v = v.lower()
    return v if _DOI_SHAPE.match(v) else None


def normalize_arxiv(value: str | None) -> str | None:
    """Bare arXiv id without version (`2506.23762`, `cs/0112017`) or None."""
    if not value:
        return None
    v = value.strip().strip("{}")
    m = _ARXIV_DOI.match(v)
    if m:
        v = m.group(1)
    v = re.sub(r"^(?:arxiv:\s*|https?://(?:www\.)?arxiv\.org/(?:abs|pdf)/)", "", v, flags=re.I)
    m = _ARXIV_NEW.search(v)
    if m:
        return m.group(1)
    m = _ARXIV_OLD.search(v)
    if m:
        return m.group(1).lower()
    return None


def arxiv_from_fields(fields: dict[str, str]) -> str | None:
    """Find an arXiv id in eprint (when the archive is arXiv), URLs, journal or DOI."""
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "").lower()
    eprint = fields.get("eprint")
    if eprint and (prefix in ("", "arxiv")):
        found = normalize_arxiv(eprint)
        if found:
            return found
    doi = fields.get("doi") or ""
    m = _ARXIV_DOI.match(doi.strip())
    if m:
        return normalize_arxiv(m.group(1))
    for name in ("url", "journal", "howpublished", "note", "pdf"):
        v = fields.get(name) or ""
        if "arxiv" in v.lower():
            found = normalize_arxiv(v.split("arxiv", 1)[-1] if "arxiv.org" not in v.lower() else v)
            if found:
                return found
    return None


_NON_WORD = re.compile(r"[^\w]+")


def _fold(text: str) -> str:
    if not text.isascii():  # ASCII has nothing to decompose and casefolds like lower()
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.casefold()
    text = _NON_WORD.sub(" ", text)
    return " ".join(text.split())


_fold_short = lru_cache(maxsize=32768)(_fold)


def fold(text: str) -> str:
    """Accent- and case-folded text with punctuation squeezed to single spaces."""
    # Short values (names, keywords, slugs) repeat a lot: cached. Long ones (titles,
    # abstracts) rarely repeat and would only fill the cache.
    return _fold_short(text) if len(text) <= 120 else _fold(text)


def title_key(title: str) -> str:
    return fold(title)[:500]
