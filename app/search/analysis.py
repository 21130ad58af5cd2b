"""Analysers: accent folding everywhere (`Muller` finds `Müller`), stemming for prose (`tests`
finds `testing`), none for names, ids and slugs."""

from whoosh.analysis import (
    CharsetFilter,
    IntraWordFilter,
    LowercaseFilter,
    RegexTokenizer,
    SpaceSeparatedTokenizer,
    StemFilter,
    StopFilter,
)
from whoosh.support.charset import accent_map

# Words keep inner dots and apostrophes out; "GPT-4" gives "gpt" and "4".
_WORD = r"\w+(?:\.\w+)*"
_JOINED = r"\w+(?:[-.'’]\w+)*"


def prose_analyzer():
    """Split and also join intra-word parts ("non-determinism" gives non, determinism and
    nondeterminism; "ChatGPT" gives chat, gpt and chatgpt), lower-case, fold accents, drop stop
    words, Porter-stem (cached)."""
    return (
        RegexTokenizer(_JOINED)
        | IntraWordFilter(mergewords=True, mergenums=True)
        | LowercaseFilter()
        | CharsetFilter(accent_map)
        | StopFilter(minsize=1)
        | StemFilter(cachesize=100_000)
    )


def name_analyzer():
    """Lower-case, fold accents and drop stop words (author names, venues): no stemming.

    Stop words go here too, or "mixture of experts" would require "of" in some name field."""
    return (
        RegexTokenizer(_WORD)
        | LowercaseFilter()
        | CharsetFilter(accent_map)
        | StopFilter(minsize=1)
    )


def ident_analyzer():
    """Whole values (citekey, DOI, arXiv id), lower-cased; stop words dropped as above."""
    return SpaceSeparatedTokenizer() | LowercaseFilter() | StopFilter(minsize=1)
