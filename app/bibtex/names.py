"""BibTeX name lists: split on `and` at brace depth 0, then given/von/family/jr."""

import re
from dataclasses import dataclass
from functools import lru_cache

from app.bibtex.latex import latex_to_unicode


@dataclass(frozen=True)
class Name:
    given: str
    family: str
    von: str = ""
    jr: str = ""
    corporate: bool = False

    @property
    def display(self) -> str:
        if self.corporate:
            return self.family
        parts = [self.given, self.von, self.family]
        name = " ".join(p for p in parts if p)
        return f"{name}, {self.jr}" if self.jr else name

    @property
    def full_family(self) -> str:
        return f"{self.von} {self.family}".strip()


_SEP_PATTERNS: dict[str, re.Pattern] = {}


def _split_depth0(text: str, sep: str) -> list[str]:
    """Split on a separator only outside braces."""
    low = text.lower()
    if len(low) != len(text):  # lower() changed the length: go character by character
        return _split_depth0_chars(text, sep, low)
    if "{" not in text and "}" not in text:
        # No braces: every occurrence is at depth 0, so str.split on the lower-cased text
        # finds the same (left to right, non-overlapping) separators; slice the original.
        if sep not in low:
            return [text]
        out, at = [], 0
        for part in low.split(sep):
            out.append(text[at : at + len(part)])
            at += len(part) + len(sep)
        return out
    # Jump from brace to brace or separator instead of visiting every character.
    pat = _SEP_PATTERNS.get(sep)
    if pat is None:
        pat = _SEP_PATTERNS[sep] = re.compile(r"[{}]|" + re.escape(sep))
    out, depth, start, pos, n = [], 0, 0, 0, len(sep)
    while True:
        m = pat.search(low, pos)
        if m is None:
            break
        i = m.start()
        c = low[i]
        if c == "{":
            depth += 1
            pos = i + 1
            continue
        if c == "}":
            depth = max(0, depth - 1)
        if depth == 0 and low.startswith(sep, i):
            out.append(text[start:i])
            start = pos = i + n
        else:
            pos = i + 1
    out.append(text[start:])
    return out


def _split_depth0_chars(text: str, sep: str, low: str) -> list[str]:
    out, depth, cur, i = [], 0, [], 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth = max(0, depth - 1)
        if depth == 0 and low.startswith(sep, i):
            out.append("".join(cur))
            cur = []
            i += len(sep)
            continue
        cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


def _words(text: str) -> list[str]:
    return [w for w in _split_depth0(text.strip(), " ") if w]


def _is_von(word: str) -> bool:
    stripped = word.lstrip("{\\")
    return bool(stripped) and stripped[0].islower() and not word.startswith("{")


def split_names(value: str) -> list[Name]:
    """Parse an author/editor field into Names (`others` is dropped)."""
    if not value or not value.strip():
        return []
    names: list[Name] = []
    for raw in _split_depth0(" ".join(value.split()), " and "):
        raw = raw.strip()
        if not raw or raw.lower() == "others":
            continue
        names.append(parse_name(raw))
    return names


@lru_cache(maxsize=16384)
def _parse_name_cached(raw: str) -> Name:
    return _parse_name(raw)


def parse_name(raw: str) -> Name:
    """One name (`First von Last`, `von Last, First` or `von Last, Jr, First`)."""
    # The same people appear on many entries: a Name is immutable, so one is shared.
    return _parse_name_cached(raw) if len(raw) <= 120 else _parse_name(raw)


def _parse_name(raw: str) -> Name:
    if raw.startswith("{") and raw.endswith("}") and _split_depth0(raw[1:-1], "}") == [raw[1:-1]]:
        return Name(given="", family=latex_to_unicode(raw), corporate=True)
    parts = [p.strip() for p in _split_depth0(raw, ",")]
    dec = latex_to_unicode
    if len(parts) == 1:
        words = _words(parts[0])
        if len(words) == 1:
            return Name(given="", family=dec(words[0]))
        # First von word starts the von part; the last word is always the family name.
        von_start = next((i for i, w in enumerate(words[:-1]) if _is_von(w)), None)
        if von_start is None:
            return Name(given=dec(" ".join(words[:-1])), family=dec(words[-1]))
        von_end = von_start
        for i in range(von_start, len(words) - 1):
            if _is_von(words[i]):
                von_end = i
        return Name(
            given=dec(" ".join(words[:von_start])),
            von=dec(" ".join(words[von_start : von_end + 1])),
            family=dec(" ".join(words[von_end + 1 :])),
        )
    last, jr, first = parts[0], "", parts[-1]
    if len(parts) >= 3:
        jr = parts[1]
    words = _words(last)
    von_words: list[str] = []
    while len(words) > 1 and _is_von(words[0]):
        von_words.append(words.pop(0))
    return Name(
        given=dec(first), family=dec(" ".join(words)), von=dec(" ".join(von_words)), jr=dec(jr)
    )
