"""A fast path for bibtexparser's splitter on the common, well-formed entry.

bibtexparser 2's splitter walks the text mark by mark (every brace, quote, comma, `=` and
newline) in Python, which is most of a bare `parse_string`. Most entries are plain
`@type{key, name = {value}, ...}` blocks whose marks need no decision at all: here one
compiled regular expression reads a whole field (name, `=`, value up to the depth-0 `,` or
`}`), so the work per entry is a few C-speed matches.

The fast path gives exactly what the splitter gives (type, key, field names and values, raw
text, start line, duplicate field names, implicit comments between blocks) and only
certifies a block when every mark in it would be read the same way. At the first block it
cannot certify (a @string, @comment or @preamble, a `(`-delimited block, an error, a block
start inside a value, deeper brace nesting than the pattern follows, ...) it hands the rest
of the text from that block on to bibtexparser itself; a file with an escaped newline
(`\\` at a line's end, which the splitter does not count as a line) is left to bibtexparser
entirely. tests/bibtex/test_fastsplit.py compares both on every corpus file.
"""

import re

from bibtexparser.model import ImplicitComment

# bibtexparser.splitter._BLOCK_START: a block starts at `@type` followed by `{` or `(`.
_BLOCK_START = re.compile(r"@[\w]*( |\t)*(?=[{(])")
_NOT_SIMPLE_TYPES = ("@comment", "@preamble", "@string")

# A run of backslashes and the character after it: never a mark (the splitter's marks are
# not preceded by a backslash).
_ESC = r"\\++."


def _braced(depth: int) -> str:
    """`{...}` with balanced (unescaped) braces nested up to `depth` levels inside."""
    inner = r"[^{}\\]*+(?:" + _ESC + r"[^{}\\]*+)*+"
    for _ in range(depth):
        inner = r"[^{}\\]*+(?:(?:" + _ESC + r"|\{" + inner + r"\})[^{}\\]*+)*+"
    return r"\{" + inner + r"\}"


# Inside `"..."` braces are not counted and `,` `}` do not end the value.
_QUOTED = r'"[^"\\]*+(?:' + _ESC + r'[^"\\]*+)*+"'
# A field value: plain characters, escapes, braced groups and quoted strings, up to the
# depth-0 `,` or `}` (not consumed). `=` and `@` are no marks here (a block start at the
# start of a line is checked separately).
_VALUE = r'(?:[^{}",\\]++|' + _ESC + "|" + _braced(6) + "|" + _QUOTED + ")*+"
# A field name region: no marks at all (newlines and spaces are stripped like the splitter).
_NAME = r'[^{}",=\\@]*+'
_FIELD = _NAME + "=" + _VALUE
# A whole `{`-delimited entry after its `{`: key, comma, fields, an optional trailing comma
# and blanks, `}`. Group 1 is the key.
_ENTRY = re.compile("(" + _NAME + "),(?:" + _FIELD + ",)*+(?:" + _FIELD + r")?\s*\}", re.S)
_FIELDS = re.compile("(" + _NAME + ")=(" + _VALUE + ")[,}]", re.S)
_LINE_START_AT = re.compile(r"\n[^\S\n]*@[\w]*[ \t]*[{(]")


class FastEntry:
    """What the splitter's Entry (or DuplicateFieldKeyBlock) holds, as plain values."""

    __slots__ = ("entry_type", "key", "fields", "raw", "duplicate_keys")

    def __init__(self, entry_type, key, fields, raw, duplicate_keys) -> None:
        self.entry_type = entry_type
        self.key = key
        self.fields: list[tuple[str, str]] = fields
        self.raw: str = raw
        self.duplicate_keys: set[str] = duplicate_keys


def _entry_at(text: str, m: re.Match) -> tuple[FastEntry, int] | None:
    """The entry starting at block-start mark `m`, and the index after its closing brace;
    None when the splitter might read any mark of it differently."""
    open_at = m.end()
    if text[open_at] != "{":
        return None
    m_val = m.group(0).lower()
    if m_val.startswith(_NOT_SIMPLE_TYPES):
        return None
    whole = _ENTRY.match(text, open_at + 1)
    if whole is None:
        return None  # a dangling name, a stray mark, nesting too deep: not ours
    end = whole.end()
    raw = text[m.start() : end]
    if "@" in raw[1:] and _LINE_START_AT.search(raw):
        return None  # a block start at the start of a line inside the entry: an abort
    if '{"}' in raw:
        return None  # inside quotes, the splitter reads `{"}` as a literal quote
    # The entry is a run of whole fields: findall reads them one after the other.
    fields = [(n.strip(), v.strip()) for n, v in _FIELDS.findall(text, whole.end(1) + 1, end)]
    duplicates: set[str] = set()
    if len({n for n, _ in fields}) != len(fields):
        seen: set[str] = set()
        for n, _ in fields:
            if n in seen:
                duplicates.add(n)
            seen.add(n)
    return FastEntry(m_val[1:].strip(), whole.group(1).strip(), fields, raw, duplicates), end


def _comment(text: str, start: int, end: int, line: int) -> ImplicitComment | None:
    """The implicit comment between blocks, as the splitter makes it (None if blank)."""
    chunk = text[start:end]
    if not chunk or chunk.isspace():
        return None
    body = chunk.lstrip()  # not blank: starts at the first non-space character
    leading = chunk.count("\n", 0, len(chunk) - len(body))
    comment = body.rstrip()
    return ImplicitComment(start_line=line + leading, raw=comment, comment=comment)


def split_fast(text: str) -> tuple[list[tuple[int, object]], int | None]:
    """(line, block) pairs read on the fast path, 1-based lines; and the index where
    bibtexparser must take over (None when the fast path read the whole text).

    Lines count the newlines before a block, as the splitter does (`\\` + newline aside:
    callers hand such texts to bibtexparser)."""
    out: list[tuple[int, object]] = []
    pos = 0
    line = 0  # newlines before `pos`
    search = _BLOCK_START.search
    count = text.count
    while True:
        m = search(text, pos)
        if m is None:
            c = _comment(text, pos, len(text), line)
            if c is not None:
                out.append((c.start_line + 1, c))
            return out, None
        start = m.start()
        # The splitter's line counter sits on the line of the previous block's end; the
        # comment's first (blank) lines are skipped in its start line.
        c = _comment(text, pos, start, line)
        block_line = line + count("\n", pos, start)
        got = _entry_at(text, m)
        if got is None:
            if c is not None:
                out.append((c.start_line + 1, c))
            return out, start
        if c is not None:
            out.append((c.start_line + 1, c))
        entry, end = got
        out.append((block_line + 1, entry))
        line = block_line + count("\n", start, end)
        pos = end
