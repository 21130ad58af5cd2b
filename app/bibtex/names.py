"""BibTeX name lists: split on `and` at brace depth 0, then given/von/family/jr."""

import re
from dataclasses import dataclass
from functools import lru_cache

from app.bibtex.identifiers import fold
from app.bibtex.latex import _NEEDS_DECODING, DEFAULT_MAX_LEN, latex_to_unicode


class _once:
    """A property computed on first use and kept in the instance's __dict__ (which a frozen
    dataclass allows; equality and hashing use the fields only). functools.cached_property
    does the same but takes a lock on every first use, a cost per name in an import."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)
        return value


@dataclass(frozen=True)
class Name:
    given: str
    family: str
    von: str = ""
    jr: str = ""
    corporate: bool = False

    # Computed once per Name: parse_name shares one Name between the entries naming the same
    # person, and an import asks each of them for these many times.
    @_once
    def display(self) -> str:
        if self.corporate:
            return self.family
        parts = [self.given, self.von, self.family]
        name = " ".join(p for p in parts if p)
        return f"{name}, {self.jr}" if self.jr else name

    @_once
    def full_family(self) -> str:
        return f"{self.von} {self.family}".strip()

    @_once
    def folded(self) -> str:
        """The display name accent- and case-folded (identifiers.fold): authors' identity."""
        return fold(self.display)


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


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def _plain_words(text: str) -> list[str]:
    return [w for w in text.strip().split(" ") if w]


def _plain_von(word: str) -> bool:
    return word[0].islower()


def _assemble(parts: list[str], words_of, is_von, dec) -> Name:
    """`First von Last` (one part) or `von Last, [Jr,] First` into a Name. The general path
    splits and decodes LaTeX; the plain path (no braces, no markup) only squeezes spaces."""
    if len(parts) == 1:
        words = words_of(parts[0])
        if len(words) == 1:
            return Name(given="", family=dec(words[0]))
        # First von word starts the von part; the last word is always the family name.
        von_start = next((i for i, w in enumerate(words[:-1]) if is_von(w)), None)
        if von_start is None:
            return Name(given=dec(" ".join(words[:-1])), family=dec(words[-1]))
        von_end = von_start
        for i in range(von_start, len(words) - 1):
            if is_von(words[i]):
                von_end = i
        return Name(
            given=dec(" ".join(words[:von_start])),
            von=dec(" ".join(words[von_start : von_end + 1])),
            family=dec(" ".join(words[von_end + 1 :])),
        )
    last, jr, first = parts[0], "", parts[-1]
    if len(parts) >= 3:
        jr = parts[1]
    words = words_of(last)
    von_words: list[str] = []
    while len(words) > 1 and is_von(words[0]):
        von_words.append(words.pop(0))
    return Name(
        given=dec(first), family=dec(" ".join(words)), von=dec(" ".join(von_words)), jr=dec(jr)
    )


def _parse_plain_name(raw: str) -> Name:
    """_parse_name for a name without braces or LaTeX markup (most of them)."""
    return _assemble([p.strip() for p in raw.split(",")], _plain_words, _plain_von, _squeeze)


def _parse_name(raw: str) -> Name:
    if (
        len(raw) <= DEFAULT_MAX_LEN
        and not _NEEDS_DECODING.search(raw)
        and (raw.isascii() or len(raw.lower()) == len(raw))  # else _split_depth0 goes char by char
    ):
        return _parse_plain_name(raw)
    if raw.startswith("{") and raw.endswith("}") and _split_depth0(raw[1:-1], "}") == [raw[1:-1]]:
        return Name(given="", family=latex_to_unicode(raw), corporate=True)
    parts = [p.strip() for p in _split_depth0(raw, ",")]
    return _assemble(parts, _words, _is_von, latex_to_unicode)
