"""Survey context as keywords: `phase:<slug>`, `challenge:<slug>`, `direction:<slug>`.

The BibTeX and BibLaTeX writers append these terms to an entry's own `keywords`, so that a list
stays meaningful in a reference manager; `read_context` takes them back out on re-import.
"""

import re

from app.bibtex.writers.record import ExportRecord

PREFIXES = {"phase": "phases", "challenge": "challenges", "direction": "directions"}
_SPLIT = re.compile(r"\s*[,;]\s*")


def context_terms(rec: ExportRecord) -> list[str]:
    """`phase:`, then `challenge:`, then `direction:` terms (the order of PREFIXES)."""
    out = ["phase:" + t.slug for t in rec.phases]
    if rec.challenges:
        out += ["challenge:" + t.slug for t in rec.challenges]
    if rec.directions:
        out += ["direction:" + t.slug for t in rec.directions]
    return out


def merged_keywords(rec: ExportRecord) -> str:
    """The entry's own keywords (raw text kept) followed by its survey-context terms."""
    raw = rec.fields.get("keywords")
    own = "" if raw is None else str(raw).strip().rstrip(",;").strip()
    terms = ", ".join(context_terms(rec))
    if own and terms:
        return f"{own}, {terms}"
    return own or terms


def _is_term(word: str) -> bool:
    prefix, _, slug = word.partition(":")
    return prefix in PREFIXES and bool(slug) and " " not in slug


def read_context(fields: dict[str, str]) -> dict[str, list[str]]:
    """Remove survey-context terms from `fields['keywords']` (in place) and return them.

    Only a trailing run of terms is taken, so the entry's own keywords come back unchanged.
    """
    out: dict[str, list[str]] = {v: [] for v in PREFIXES.values()}
    value = fields.get("keywords")
    if not value:
        return out
    parts = [p for p in _SPLIT.split(value.strip()) if p]
    n = len(parts)
    while n and _is_term(parts[n - 1]):
        n -= 1
    for word in parts[n:]:
        prefix, _, slug = word.partition(":")
        if slug not in out[PREFIXES[prefix]]:
            out[PREFIXES[prefix]].append(slug)
    if n == len(parts):
        return out
    if n == 0:
        del fields["keywords"]
        return out
    # Cut the raw text right after the last own keyword, keeping its exact spelling.
    pos = 0
    for word in parts[:n]:
        pos = value.index(word, pos) + len(word)
    fields["keywords"] = value[:pos]
    return out
