"""Fast, bounded LaTeX-to-Unicode decoding for display and search.

bibtexparser's own LaTeX middleware (pylatexenc) is far slower than the parser and can recurse
on pathological input, so this is a small hand-written decoder: values without a backslash,
brace, tilde or dash are returned untouched, results are cached, and values over `max_len`
are returned raw (the caller reports them). Raw values are always kept for export.
"""

import re
import unicodedata
from functools import lru_cache

# Accent commands -> Unicode combining characters.
_ACCENTS = {
    '"': "\u0308",
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
    "d": "\u0323",
    "b": "\u0331",
    "check": "\u030c",
    "acute": "\u0301",
    "grave": "\u0300",
    "hat": "\u0302",
    "tilde": "\u0303",
    "bar": "\u0304",
    "ddot": "\u0308",
    "breve": "\u0306",
}

# Letter-like commands.
_SYMBOLS = {
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "aa": "å",
    "AA": "Å",
    "l": "ł",
    "L": "Ł",
    "i": "ı",
    "j": "ȷ",
    "dh": "ð",
    "DH": "Ð",
    "th": "þ",
    "TH": "Þ",
    "ng": "ŋ",
    "NG": "Ŋ",
    "textendash": "–",
    "textemdash": "—",
    "textquoteleft": "‘",
    "textquoteright": "’",
    "textquotedblleft": "“",
    "textquotedblright": "”",
    "textregistered": "®",
    "texttrademark": "™",
    "textcopyright": "©",
    "copyright": "©",
    "textdegree": "°",
    "textbackslash": "\\",
    "textasciitilde": "~",
    "textunderscore": "_",
    "textbar": "|",
    "textless": "<",
    "textgreater": ">",
    "dots": "…",
    "ldots": "…",
    "textellipsis": "…",
    "LaTeX": "LaTeX",
    "TeX": "TeX",
    "BibTeX": "BibTeX",
    "S": "§",
    "P": "¶",
    "pounds": "£",
    "euro": "€",
    "quad": " ",
    "qquad": " ",
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "lambda": "λ",
    "mu": "μ",
    "pi": "π",
    "sigma": "σ",
    "tau": "τ",
    "theta": "θ",
    "phi": "φ",
    "omega": "ω",
    "Delta": "Δ",
    "Sigma": "Σ",
    "Omega": "Ω",
    "times": "×",
    "leq": "≤",
    "le": "≤",
    "geq": "≥",
    "ge": "≥",
    "neq": "≠",
    "ne": "≠",
    "approx": "≈",
    "infty": "∞",
    "pm": "±",
    "cdot": "·",
    "rightarrow": "→",
    "to": "→",
    "leftarrow": "←",
    "in": "∈",
}

_ESCAPES = {"%": "%", "&": "&", "$": "$", "#": "#", "_": "_", "{": "{", "}": "}", " ": " "}

# Formatting commands whose argument is kept and the command dropped.
_WRAPPERS = {
    "textbf",
    "textit",
    "emph",
    "textsc",
    "texttt",
    "textrm",
    "textsf",
    "textup",
    "textmd",
    "textnormal",
    "mathrm",
    "mathbf",
    "mathit",
    "mathcal",
    "mathsf",
    "mathtt",
    "mbox",
    "hbox",
    "text",
    "url",
    "href",
    "uppercase",
    "lowercase",
    "ensuremath",
    "protect",
    "noopsort",
    "sc",
    "bf",
    "it",
    "em",
    "rm",
    "tt",
    "sf",
}

_NEEDS_DECODING = re.compile(r"[\\{}~$]|--|``|''")
# `\ifmmode A\else B\fi` (APS author names): keep the text-mode branch.
_IFMMODE = re.compile(r"\\ifmmode\b(.*?)\\else\b(.*?)\\fi\b ?", re.S)
# Commands whose first argument is not text (a URL, a label): dropped with the command.
_DROP_FIRST_ARG = {"href", "cite", "citep", "citet", "ref", "label", "hspace", "vspace"}
_CMD = re.compile(r"\\([A-Za-z]+|.)")
# Characters the decoder's loop treats specially; everything between them is copied as is.
_SPECIAL = re.compile(r"[\\{}~$`'-]")
DEFAULT_MAX_LEN = 20_000


class _Decoder:
    """A single left-to-right pass over the value; linear time, no recursion."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.out: list[str] = []

    def _arg(self) -> str | None:
        """Read one argument after a command: {group} or a single character."""
        s, n = self.s, len(self.s)
        while self.i < n and s[self.i] == " ":
            self.i += 1
        if self.i >= n:
            return None
        if s[self.i] == "{":
            depth, j = 0, self.i
            while j < n:
                c = s[j]
                if c == "\\":
                    j += 2
                    continue
                if c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                    if depth == 0:
                        arg = s[self.i + 1 : j]
                        self.i = j + 1
                        return arg
                j += 1
            arg = s[self.i + 1 :]
            self.i = n
            return arg
        if s[self.i] == "\\":
            m = _CMD.match(s, self.i)
            if m:
                self.i = m.end()
                return m.group(0)
        arg = s[self.i]
        self.i += 1
        return arg

    def run(self) -> str:
        s, n = self.s, len(self.s)
        out = self.out
        while self.i < n:
            c = s[self.i]
            if c == "\\":
                m = _CMD.match(s, self.i)
                if not m:
                    self.i += 1
                    continue
                name = m.group(1)
                self.i = m.end()
                if name in _ESCAPES:
                    out.append(_ESCAPES[name])
                elif name == "\\":
                    out.append(" ")
                elif name in _ACCENTS:
                    arg = self._arg()
                    if arg is None:
                        continue
                    base = _decode_simple(arg)
                    if base in ("\\i", "ı"):
                        base = "i"
                    if base:
                        out.append(unicodedata.normalize("NFC", base[0] + _ACCENTS[name]))
                        out.append(base[1:])
                elif name in _SYMBOLS:
                    out.append(_SYMBOLS[name])
                    if self.i < n and s[self.i : self.i + 2] == "{}":
                        self.i += 2
                    elif self.i < n and s[self.i] == " " and name.isalpha():
                        self.i += 1
                elif name in _DROP_FIRST_ARG:
                    self._arg()
                elif name in _WRAPPERS:
                    pass  # keep the argument: its braces are dropped below
                else:
                    # Unknown command: drop the command name, keep any argument text.
                    pass
            elif c in "{}":
                self.i += 1
            elif c == "~":
                out.append("\u00a0")
                self.i += 1
            elif c == "$":
                self.i += 1  # math delimiters dropped, content kept readable
            elif c == "-" and s.startswith("---", self.i):
                out.append("—")
                self.i += 3
            elif c == "-" and s.startswith("--", self.i):
                out.append("–")
                self.i += 2
            elif c == "`" and s.startswith("``", self.i):
                out.append("\u201c")  # TeX opening double quote
                self.i += 2
            elif c == "'" and s.startswith("''", self.i):
                out.append("\u201d")  # TeX closing double quote
                self.i += 2
            else:
                # Plain text up to the next character any branch above looks at: one slice.
                m = _SPECIAL.search(s, self.i + 1)
                j = m.start() if m else n
                out.append(s[self.i : j])
                self.i = j
        return "".join(out)


def _decode_simple(value: str) -> str:
    if not _NEEDS_DECODING.search(value):
        return value
    if "\\ifmmode" in value:
        value = _IFMMODE.sub(lambda m: m.group(2), value)
    return _Decoder(value).run()


def _latex_to_unicode(value: str) -> str:
    return " ".join(_decode_simple(value).split())


_cached = lru_cache(maxsize=65536)(_latex_to_unicode)
CACHE_UP_TO = 120  # characters


def latex_to_unicode(value: str, max_len: int = DEFAULT_MAX_LEN) -> str:
    """Decode LaTeX markup in a field value into readable Unicode (whitespace squeezed)."""
    if not value:
        return ""
    if len(value) > max_len:
        return value
    # Short values (names, venues, keywords) repeat across entries and files: cached. Long
    # ones (titles, abstracts) rarely repeat; caching them would only keep a whole file's
    # text alive after its import.
    if len(value) <= CACHE_UP_TO:
        return _cached(value)
    return _latex_to_unicode(value)
