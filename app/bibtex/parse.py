"""Text in, entries and problems out: a thin, total wrapper around bibtexparser 2.x.

Nothing here touches the database or the disk. Every block that fails is reported with its
1-based line number, its key when one can be read, and a reason a person understands.
"""

import logging
import re
from dataclasses import dataclass, field

import bibtexparser
from bibtexparser.model import DuplicateFieldKeyBlock, ParsingFailedBlock

_KEY_RE = re.compile(r"@\s*\w+\s*[({]\s*([^,\s]+)\s*,")


@dataclass
class BibEntry:
    key: str
    entry_type: str
    fields: dict[str, str]
    line: int
    raw: str


@dataclass
class BibProblem:
    line: int | None
    key: str | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "unknown line"
        key = f", entry '{self.key}'" if self.key else ""
        return f"{where}{key}: {self.reason}"


@dataclass
class ParseResult:
    entries: list[BibEntry] = field(default_factory=list)
    failed: list[BibProblem] = field(default_factory=list)
    warnings: list[BibProblem] = field(default_factory=list)


def _reason(block) -> str:
    if isinstance(block, DuplicateFieldKeyBlock):
        dupes = ", ".join(sorted(getattr(block, "duplicate_keys", []) or [])) or "a field"
        return f"duplicate field {dupes}"
    err = getattr(block, "error", None)
    text = str(err) if err else ""
    if "end of file" in text.lower():
        return "unterminated entry (missing closing brace)"
    if text:
        return text.splitlines()[0][:200]
    return "could not be parsed"


def parse_bibtex(text: str) -> ParseResult:
    """Parse BibTeX text; never raises on bad input."""
    result = ParseResult()
    logging.getLogger("bibtexparser").setLevel(logging.ERROR)
    library = bibtexparser.parse_string(text)
    seen: dict[str, int] = {}
    for entry in library.entries:
        line = (entry.start_line or 0) + 1
        fields = {f.key.lower(): str(f.value) for f in entry.fields}
        key = entry.key.strip()
        if not key:
            result.failed.append(BibProblem(line, None, "entry has no citation key"))
            continue
        if key in seen:
            result.failed.append(
                BibProblem(line, key, f"duplicate citation key (first used on line {seen[key]})")
            )
            continue
        seen[key] = line
        result.entries.append(BibEntry(key, entry.entry_type.lower(), fields, line, entry.raw))
    for block in library.failed_blocks:
        if not isinstance(block, ParsingFailedBlock):
            continue
        line = (block.start_line or 0) + 1
        m = _KEY_RE.match(block.raw or "")
        result.failed.append(BibProblem(line, m.group(1) if m else None, _reason(block)))
    result.failed.sort(key=lambda p: p.line or 0)
    return result
