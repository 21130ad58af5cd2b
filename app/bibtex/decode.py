"""Bytes in, text out: pick the encoding of an uploaded .bib file and clean control bytes.

Order: a byte-order mark (UTF-8, UTF-16, UTF-32), then an explicit declaration in the first
lines (JabRef's `% Encoding: windows-1252`, Emacs' `-*- coding: latin-1 -*-`), then strict
UTF-8, then cp1252, then latin-1 (which never fails). Any guess past UTF-8 is reported as a
warning that names the encoding assumed, so a person can re-save the file and import again.
"""

import codecs
import re
from dataclasses import dataclass, field

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_DECLARED = re.compile(
    rb"(?:%\s*encoding\s*:\s*|-\*-\s*coding\s*:\s*)([A-Za-z0-9_.\-]+)", re.IGNORECASE
)
# C0 controls except tab, newline, carriage return; DEL; C1 controls.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]")


@dataclass
class Decoded:
    text: str
    encoding: str
    warnings: list[str] = field(default_factory=list)


def _declared_encoding(head: bytes) -> str | None:
    m = _DECLARED.search(head)
    if not m:
        return None
    name = m.group(1).decode("ascii", "replace")
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(data: bytes) -> Decoded:
    """Decode a .bib file's bytes; never raises (latin-1 is the last resort)."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return Decoded(data.decode(enc).lstrip("\ufeff"), enc)
            except UnicodeDecodeError:
                break
    head = data[:4000]
    if head.count(0) * 3 > len(head) > 3:  # UTF-16 without a byte-order mark
        enc = "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
        try:
            return Decoded(data.decode(enc), enc, [f"no byte-order mark; assumed {enc}"])
        except UnicodeDecodeError:
            pass
    try:
        # Valid UTF-8 with non-ASCII text is practically never meant as anything else, so it
        # wins over a declaration (JabRef writes `% Encoding:` headers that go stale).
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        first_bad = f"the first byte that is not UTF-8 is on line {line}"
    declared = _declared_encoding(data[:2048])
    if declared and declared not in ("utf-8", "utf_8"):
        try:
            return Decoded(
                data.decode(declared),
                declared,
                [f"the file is not valid UTF-8; decoded as {declared}, the encoding it declares"],
            )
        except (UnicodeDecodeError, LookupError):
            pass
    for enc in ("cp1252", "latin-1"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        return Decoded(
            text,
            enc,
            [
                f"the file is not valid UTF-8 ({first_bad}); assumed {enc}: check accented "
                "names, or save the file as UTF-8 and import it again"
            ],
        )
    raise AssertionError("latin-1 decodes every byte string")  # pragma: no cover


def strip_controls(text: str) -> tuple[str, list[tuple[int, int]]]:
    """Remove NUL and other control characters; returns (text, [(line, count), ...])."""
    if not CONTROL_CHARS.search(text):
        return text, []
    where: dict[int, int] = {}
    line, pos = 1, 0
    for m in CONTROL_CHARS.finditer(text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        where[line] = where.get(line, 0) + 1
    return CONTROL_CHARS.sub("", text), sorted(where.items())
