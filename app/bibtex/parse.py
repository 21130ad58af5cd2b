"""Text in, entries and problems out: a total wrapper around bibtexparser 2.x's splitter.

Nothing here touches the database or the disk. bibtexparser only splits the text into blocks
(no middleware); this module resolves @string macros (case-insensitively, defined through each
other), `#` joins and month names, recovers entries bibtexparser gives up on where that is safe
(a repeated field, a `%` comment line inside an entry), inherits `crossref`/`xdata` fields for
display and search, and reports every block it could not use with its 1-based line number, its
key when one can be read, and a reason a person understands.
"""

import logging
import re
from dataclasses import dataclass, field

import bibtexparser
from bibtexparser.model import (
    DuplicateBlockKeyBlock,
    DuplicateFieldKeyBlock,
    Entry,
    ExplicitComment,
    ImplicitComment,
    ParsingFailedBlock,
    Preamble,
    String,
)

from app.bibtex.decode import decode_bytes, strip_controls
from app.bibtex.fastsplit import FastEntry, split_fast
from app.bibtex.values import ValueSyntaxError, resolve, resolve_macros

log = logging.getLogger(__name__)
logging.getLogger("bibtexparser").setLevel(logging.ERROR)

_KEY_RE = re.compile(r"@\s*(\w+)\s*[({]\s*([^,\s{}()]+)\s*,")
_FIELD_COMMENT = re.compile(r"%[^\n]*(\n|$)")
_BLOCK_START = re.compile(r"^[ \t]*@", re.M)

# Fields a child never takes from its crossref/xdata parent: identity, files, the parent's
# own title (mapped to booktitle/journal instead) and the inheritance fields themselves.
NO_INHERIT = frozenset(
    {
        "crossref",
        "xdata",
        "xref",
        "ids",
        "key",
        "label",
        "sortkey",
        "doi",
        "eprint",
        "eprinttype",
        "archiveprefix",
        "eprintclass",
        "primaryclass",
        "url",
        "urldate",
        "abstract",
        "file",
        "pdf",
        "keywords",
        "title",
        "subtitle",
        "titleaddon",
        "shorttitle",
        "entryset",
        "execute",
    }
)
MAX_INHERIT_DEPTH = 8


@dataclass
class BibEntry:
    key: str
    entry_type: str
    fields: dict[str, str]
    line: int
    raw: str
    inherited: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    duplicate_of: int | None = None  # line of an earlier entry with the same key

    @property
    def view(self) -> dict[str, str]:
        """Fields for display and search: own fields over inherited ones."""
        if not self.inherited:
            return self.fields
        return {**self.inherited, **self.fields}


@dataclass
class BibProblem:
    line: int | None
    key: str | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "unknown line"
        key = f", entry '{self.key}'" if self.key else ""
        return f"{where}{key}: {self.reason}"

    def as_dict(self) -> dict:
        return {"line": self.line, "key": self.key, "reason": self.reason}


@dataclass
class ParseResult:
    entries: list[BibEntry] = field(default_factory=list)
    failed: list[BibProblem] = field(default_factory=list)
    warnings: list[BibProblem] = field(default_factory=list)
    skipped: list[BibProblem] = field(default_factory=list)  # readable, but not papers
    encoding: str = "utf-8"
    strings: int = 0
    comments: int = 0
    preambles: int = 0

    @property
    def total(self) -> int:
        """Every entry-like block in the file: each is stored, skipped or failed."""
        return len(self.entries) + len(self.failed) + len(self.skipped)


def _line_of(block) -> int:
    return (block.start_line or 0) + 1


def _key_of(raw: str | None) -> str | None:
    m = _KEY_RE.match((raw or "").lstrip())
    return m.group(2) if m else None


def _reason(block, start_line: int) -> str:
    """A sentence for a person, from bibtexparser's abort reason."""
    err = getattr(block, "error", None)
    text = getattr(err, "abort_reason", None) or (str(err) if err else "")
    end_line = start_line + (block.raw or "").rstrip("\n").count("\n")
    low = text.lower()
    if "end of file" in low:
        return "unterminated entry: the file ends before the entry's closing brace"
    m = re.search(r"unexpected block start: `(@\w*)`", low)
    if m:
        if "field-value" in low:
            what = "a field value is never closed (missing '}' or '\"')"
        else:
            what = "the entry is never closed (missing '}')"
        return f"unterminated entry: {what} before the next entry ({m.group(1)}) on line {end_line}"
    m = re.search(r"expected a `=` after entry key `([^`]*)`", text, re.I)
    if m:
        return f"field '{m.group(1)}' has no value (expected '=' after the name, line {end_line})"
    m = re.search(r"expected a `=` after entry key, but found `(.*?)`", text, re.I | re.S)
    if m or "expected equals sign" in low:
        found = m.group(1) if m else "something else"
        return (
            f"a field name is not followed by '=' (found '{found}' on line {end_line}); "
            "a stray comma, a comment or an unescaped character may be the cause"
        )
    m = re.search(r"after a closed entry field value, but found a (.+?) before", text, re.I)
    if m:
        return (
            f"stray text after a field value on line {end_line} (found '{m.group(1)}'): "
            "a missing comma between fields, or a stray brace closed the value too early"
        )
    m = re.search(r"expected comma after entry key, but found (.+)", text, re.I)
    if m:
        return f"missing comma after the citation key (found '{m.group(1).strip()}')"
    if text:
        return text.strip().splitlines()[0][:200]
    return "this block could not be read"


def _split_safely(text: str):
    """Parse with bibtexparser; if its splitter raises, parse each block on its own."""
    try:
        return [(0, bibtexparser.parse_string(text, parse_stack=[]))]
    except Exception:  # a splitter bug must not lose the whole file
        log.warning("bibtexparser raised on the whole file; parsing block by block")
    return _split_block_by_block(text)


def _split_block_by_block(text: str):
    starts = [m.start() for m in _BLOCK_START.finditer(text)] or [0]
    if starts[0] != 0:
        starts.insert(0, 0)
    out = []
    for i, s in enumerate(starts):
        chunk = text[s : starts[i + 1] if i + 1 < len(starts) else len(text)]
        offset = text.count("\n", 0, s)
        try:
            out.append((offset, bibtexparser.parse_string(chunk, parse_stack=[])))
        except Exception as exc:
            lib = bibtexparser.Library()
            lib.add(ParsingFailedBlock(start_line=0, raw=chunk, error=exc))
            out.append((offset, lib))
    return out


def strip_entry_comments(chunk: str) -> str:
    """Drop `%` comments that sit between fields (brace depth <= 1, not `\\%`)."""
    out, depth, i, n = [], 0, 0, len(chunk)
    while i < n:
        c = chunk[i]
        if c == "\\":
            out.append(chunk[i : i + 2])
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "%" and depth <= 1:
            j = chunk.find("\n", i)
            i = n if j < 0 else j
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _recover_comment_lines(text: str, start: int, end: int) -> tuple[Entry, str] | None:
    """Re-read a failed block's text without `%` comments (biber allows them)."""
    lines = text.split("\n")[start:end] if end > start else []
    chunk = "\n".join(lines)
    if "%" not in chunk:
        return None
    cleaned = strip_entry_comments(chunk)
    try:
        lib = bibtexparser.parse_string(cleaned, parse_stack=[])
    except Exception:
        return None
    if len(lib.entries) == 1 and not lib.failed_blocks:
        return lib.entries[0], chunk.rstrip()
    return None


class _Builder:
    def __init__(self, text: str, keep_duplicates: bool) -> None:
        self.text = text
        self.keep_duplicates = keep_duplicates
        self.result = ParseResult()
        self.seen: dict[str, int] = {}
        self.macros: dict[str, str] = {}
        self.xdata: dict[str, BibEntry] = {}
        self.field_names: dict[str, str] = {}

    def warn(self, line: int | None, key: str | None, reason: str) -> None:
        self.result.warnings.append(BibProblem(line, key, reason))

    def _blocks(self) -> list[tuple[int, object]]:
        """(line, block) of every block; bibtexparser's libraries are not kept.

        The well-formed entries at the start of the text are read on the fast path (see
        fastsplit.py: the same blocks as bibtexparser's splitter); bibtexparser reads the rest
        from the first block the fast path does not certify."""
        text = self.text
        if "\\\n" in text:  # an escaped newline: the splitter's line count differs
            blocks, rest = [], 0
        else:
            blocks, rest = split_fast(text)
        if rest is None:
            return blocks
        offset = text.count("\n", 0, rest)
        try:
            libs = [(offset, bibtexparser.parse_string(text[rest:], parse_stack=[]))]
        except Exception:  # a splitter bug must not lose the whole file
            log.warning("bibtexparser raised on the whole file; parsing block by block")
            blocks, libs = [], _split_block_by_block(text)
        for off, lib in libs:
            for b in lib.blocks:
                blocks.append((_line_of(b) + off, b))
        return blocks

    def run(self) -> ParseResult:
        blocks = self._blocks()
        definitions: list[tuple[str, str]] = []
        for _line, b in blocks:
            inner = b.ignore_error_block if isinstance(b, DuplicateBlockKeyBlock) else b
            if isinstance(inner, String):
                definitions.append((inner.key, inner.value))
                self.result.strings += 1
            elif isinstance(b, ExplicitComment | ImplicitComment):
                self.result.comments += 1
            elif isinstance(b, Preamble):
                self.result.preambles += 1
        self.macros, problems = resolve_macros(definitions)
        for p in problems:
            self.warn(None, None, p)
        next_line: int | None = None
        nexts: list[int | None] = []
        for line, b in reversed(blocks):  # the next block that starts with `@`
            nexts.append(next_line)
            if not isinstance(b, ImplicitComment):
                next_line = line
        for i, nxt in enumerate(reversed(nexts)):
            (line, b), blocks[i] = blocks[i], None  # each block goes once it is read
            self.block(line, b, nxt)
        self.inherit()
        self.result.failed.sort(key=lambda p: p.line or 0)
        return self.result

    def block(self, line: int, b, next_line: int | None) -> None:
        if type(b) is FastEntry:
            warnings = []
            if b.duplicate_keys:
                names = ", ".join(f"'{k}'" for k in sorted(b.duplicate_keys))
                warnings.append(f"repeated field {names}: the first value is used")
            self.entry(line, b, warnings)
        elif isinstance(b, DuplicateFieldKeyBlock):
            entry = b.ignore_error_block
            names = ", ".join(f"'{k}'" for k in sorted(b.duplicate_keys))
            self.entry(line, entry, [f"repeated field {names}: the first value is used"])
        elif isinstance(b, DuplicateBlockKeyBlock):
            inner = b.ignore_error_block
            if isinstance(inner, Entry):
                self.entry(line, inner, [])
        elif isinstance(b, ParsingFailedBlock):
            end = (next_line - 1) if next_line else len(self.text.split("\n")) + 1
            recovered = _recover_comment_lines(self.text, line - 1, end)
            if recovered is not None:
                entry, raw = recovered
                self.entry(line, entry, ["'%' comments inside the entry were ignored"], raw)
                return
            raw = b.raw or ""
            self.result.failed.append(BibProblem(line, _key_of(raw), _reason(b, line)))
        elif isinstance(b, Entry):
            self.entry(line, b, [])

    def entry(
        self, line: int, e: Entry | FastEntry, warnings: list[str], raw: str | None = None
    ) -> None:
        key = (e.key or "").strip()
        etype = (e.entry_type or "misc").strip().lower()
        fields: dict[str, str] = {}
        undefined: set[str] = set()
        names = self.field_names
        pairs = e.fields if type(e) is FastEntry else [(f.key, f.value) for f in e.fields]
        for fkey, value in pairs:
            name = names.get(fkey)
            if name is None:  # the same few field names repeat: one string each
                name = names[fkey] = fkey.strip().lower()
            if "%" in name:  # `a = {x}, % note` + newline + `b = {y}`: the comment sticks
                name = _FIELD_COMMENT.sub("", name).strip()
                note = "'%' comments inside the entry were ignored"
                if note not in warnings:
                    warnings.append(note)
            if name in fields:
                continue  # repeated field (case-insensitive): BibTeX keeps the first
            if not isinstance(value, str):
                value = str(value)
            text = _one_group(value)
            if text is not None:
                fields[name] = text
                continue
            try:
                fields[name] = resolve(value, self.macros, undefined)
            except ValueSyntaxError as exc:
                fields[name] = value
                warnings.append(f"field '{name}': {exc}; kept as written")
        for name in sorted(undefined):
            warnings.append(f"undefined @string macro '{name}' kept as text")
        if not key:
            key = _make_key(fields, line)
            warnings.append(f"the entry has no citation key; '{key}' was made for it")
        low = key.lower()
        entry = BibEntry(key, etype, fields, line, raw or e.raw or "", warnings=warnings)
        if low in self.seen:
            first = self.seen[low]
            if not self.keep_duplicates:
                self.result.failed.append(
                    BibProblem(line, key, f"duplicate citation key (first used on line {first})")
                )
                return
            entry.duplicate_of = first
            warnings.append(f"the entry on line {first} has the same key (keys ignore case)")
        else:
            self.seen[low] = line
        if etype == "xdata":
            self.result.skipped.append(
                BibProblem(line, key, "@xdata holds fields shared by other entries; not a paper")
            )
            self.xdata[low] = entry
            return
        for w in warnings:
            self.warn(line, key, w)
        self.result.entries.append(entry)

    def inherit(self) -> None:
        """Fill `inherited` from crossref and xdata parents (for display and search only)."""
        pool = {e.key.lower(): e for e in self.result.entries if e.duplicate_of is None}
        pool_all = {**pool, **self.xdata}

        def fields_of(e: BibEntry, depth: int) -> dict[str, str]:
            if depth > MAX_INHERIT_DEPTH:
                return e.fields
            got = dict(e.fields)
            for parent_key in _xdata_keys(e.fields.get("xdata", "")):
                parent = pool_all.get(parent_key.lower())
                if parent is None or parent is e:
                    self.warn(e.line, e.key, f"xdata '{parent_key}' names no entry in this file")
                    continue
                for k, v in fields_of(parent, depth + 1).items():
                    if k not in NO_INHERIT and k not in got:
                        got[k] = v
            cref = e.fields.get("crossref", "").strip()
            if cref:
                parent = pool_all.get(cref.lower())
                if parent is None or parent is e:
                    self.warn(e.line, e.key, f"crossref '{cref}' names no entry in this file")
                else:
                    pf = fields_of(parent, depth + 1)
                    for k, v in pf.items():
                        if k not in NO_INHERIT and k not in got:
                            got[k] = v
                    target = "journal" if e.entry_type == "article" else "booktitle"
                    if pf.get("title") and target not in got:
                        got[target] = pf["title"]
            return got

        for e in self.result.entries:
            if "crossref" in e.fields or "xdata" in e.fields:
                full = fields_of(e, 0)
                e.inherited = {k: v for k, v in full.items() if k not in e.fields}


def _make_key(fields: dict[str, str], line: int) -> str:
    """A Better-BibTeX-like key (family + year + first title word) for a keyless entry."""
    from app.bibtex.identifiers import fold

    author = fields.get("author") or fields.get("editor") or ""
    first = author.split(" and ")[0]
    family = first.split(",")[0] if "," in first else (first.split() or [""])[-1]
    year = re.search(r"\d{4}", fields.get("year") or fields.get("date") or "")
    word = next((w for w in fold(fields.get("title", "")).split() if len(w) > 3), "")
    parts = [fold(family).replace(" ", ""), year.group(0) if year else "", word]
    key = "".join(p.capitalize() if i else p for i, p in enumerate(parts) if p)
    return key or f"entry-line{line}"


_INNERMOST = re.compile(r"\{[^{}]*\}")


def _one_group(value: str) -> str | None:
    """The text of a value that is one balanced `{...}` group, else None (use resolve).

    The common case, answered with C-speed string scans: the same text `resolve` gives (its
    `is_simple` path), without walking every brace in Python. The inside is balanced exactly
    when deleting innermost `{...}` groups (one pass per nesting level) leaves no brace.
    """
    v = value.strip()
    if len(v) < 2 or v[0] != "{" or v[-1] != "}" or "#" in v:
        return None
    inner = probe = v[1:-1]
    while "{" in probe or "}" in probe:
        reduced = _INNERMOST.sub("", probe)
        if reduced == probe:
            return None
        probe = reduced
    return inner


def _xdata_keys(value: str) -> list[str]:
    return [k.strip() for k in value.split(",") if k.strip()]


def parse_bibtex(text: str, *, keep_duplicates: bool = False) -> ParseResult:
    """Parse BibTeX text; never raises on bad input.

    With keep_duplicates, an entry whose key repeats an earlier one (ignoring case) is kept
    with `duplicate_of` set, for the importer to merge or rename; otherwise it is reported as
    failed (the survey loader wants a clean file).
    """
    text, controls = strip_controls(text)
    builder = _Builder(text, keep_duplicates)
    for line, count in controls:
        builder.warn(line, None, f"removed {count} control character(s) such as NUL")
    return builder.run()


def parse_bytes(data: bytes, *, keep_duplicates: bool = True) -> ParseResult:
    """Decode (see decode.py) and parse an uploaded file's bytes; never raises."""
    decoded = decode_bytes(data)
    result = parse_bibtex(decoded.text, keep_duplicates=keep_duplicates)
    result.encoding = decoded.encoding
    result.warnings[:0] = [BibProblem(None, None, w) for w in decoded.warnings]
    return result
