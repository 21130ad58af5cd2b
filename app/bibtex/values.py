"""Field value expressions: `{braced}`, `"quoted"`, numbers, @string macros and `#` joins.

bibtexparser's default middleware only substitutes a value that is exactly one macro name and
compares names case-sensitively; BibTeX itself joins `a # " b"` and ignores the case of macro
names. This resolves the raw expression the splitter hands over, the way BibTeX does.
"""

import re

MONTHS = {
    "jan": "January",
    "feb": "February",
    "mar": "March",
    "apr": "April",
    "may": "May",
    "jun": "June",
    "jul": "July",
    "aug": "August",
    "sep": "September",
    "oct": "October",
    "nov": "November",
    "dec": "December",
}
_BRACES = re.compile(r"[{}]")
_WORD_END = re.compile(r"[\s#]")
MAX_MACRO_DEPTH = 32


class ValueSyntaxError(Exception):
    """A value expression that cannot be read (unbalanced quote or brace)."""


def _group_end(value: str, start: int) -> int:
    """Index just past the `}` that closes the `{` at `start` (len(value) if none)."""
    depth = 0
    for m in _BRACES.finditer(value, start):
        if m.group(0) == "{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return m.end()
    raise ValueSyntaxError("unbalanced braces in a field value")


def _quote_end(value: str, start: int) -> int:
    """Index just past the `"` that closes the quote at `start`; braces protect quotes."""
    depth, i, n = 0, start + 1, len(value)
    while i < n:
        c = value[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == '"' and depth <= 0:
            return i + 1
        i += 1
    raise ValueSyntaxError("unterminated quoted field value")


def tokens(value: str) -> list[tuple[str, str]]:
    """Split an expression into ('text', s) and ('macro', name) parts."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if c.isspace() or c == "#":
            i += 1
        elif c == "%":  # a comment between the value and the next field (biber allows it)
            j = value.find("\n", i)
            i = n if j < 0 else j
        elif c == "{":
            j = _group_end(value, i)
            out.append(("text", value[i + 1 : j - 1]))
            i = j
        elif c == '"':
            j = _quote_end(value, i)
            out.append(("text", value[i + 1 : j - 1]))
            i = j
        else:
            m = _WORD_END.search(value, i)
            j = m.start() if m else n
            word = value[i:j]
            out.append(("text", word) if word.isdigit() else ("macro", word))
            i = j
    return out


def is_simple(value: str) -> bool:
    """True for the common `{...}` / `"..."` value with no join (no tokenising needed)."""
    if "#" in value or len(value) < 2:
        return False
    first, last = value[0], value[-1]
    if first == "{" and last == "}":
        if value.count("{") == 1 and value.count("}") == 1:
            return True  # the common `{plain text}`: one group, nothing to check
        # `{a} {b}` would also start and end with braces: check the first group's end.
        try:
            return _group_end(value, 0) == len(value)
        except ValueSyntaxError:
            return False
    return first == '"' and last == '"' and value.count('"') == 2


def resolve(value: str, macros: dict[str, str], undefined: set[str] | None = None) -> str:
    """Resolve one raw field expression; unknown macros are kept as their name."""
    value = value.strip()
    if not value:
        return ""
    if is_simple(value):
        return value[1:-1]
    if value.isdigit():
        return value
    parts: list[str] = []
    for kind, text in tokens(value):
        if kind == "text":
            parts.append(text)
            continue
        low = text.lower()
        if low in macros:
            parts.append(macros[low])
        elif low in MONTHS:
            parts.append(MONTHS[low])
        else:
            if undefined is not None:
                undefined.add(text)
            parts.append(text)
    return "".join(parts)


def resolve_macros(definitions: list[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    """Resolve @string definitions (which may use each other); returns (macros, problems)."""
    raw: dict[str, str] = {}
    problems: list[str] = []
    for name, value in definitions:
        low = name.strip().lower()
        if low in raw and raw[low] != value:
            problems.append(f"@string '{name}' is defined twice; the last definition is used")
        raw[low] = value
    done: dict[str, str] = {}

    def get(name: str, stack: tuple[str, ...]) -> str | None:
        if name in done:
            return done[name]
        if name not in raw:
            return MONTHS.get(name)
        if name in stack or len(stack) > MAX_MACRO_DEPTH:
            problems.append(f"@string '{name}' refers to itself; kept unresolved")
            done[name] = raw[name]
            return done[name]
        try:
            toks = tokens(raw[name].strip())
        except ValueSyntaxError as exc:
            problems.append(f"@string '{name}': {exc}")
            done[name] = raw[name]
            return done[name]
        out = []
        for kind, text in toks:
            if kind == "text":
                out.append(text)
            else:
                sub = get(text.lower(), (*stack, name))
                out.append(text if sub is None else sub)
        done[name] = "".join(out)
        return done[name]

    for name in raw:
        get(name, ())
    return done, problems
