"""Analysers: accent folding everywhere (`Muller` finds `Müller`), stemming for prose (`tests`
finds `testing`), none for names, ids and slugs."""

import hashlib
import pickle

from whoosh.analysis import (
    CharsetFilter,
    IntraWordFilter,
    LowercaseFilter,
    RegexTokenizer,
    SpaceSeparatedTokenizer,
    StemFilter,
    StopFilter,
)
from whoosh.analysis.acore import Token
from whoosh.analysis.analyzers import CompositeAnalyzer
from whoosh.support.charset import accent_map

# Words keep inner dots and apostrophes out; "GPT-4" gives "gpt" and "4".
_WORD = r"\w+(?:\.\w+)*"
_JOINED = r"\w+(?:[-.'’]\w+)*"


class ProseAnalyzer(CompositeAnalyzer):
    """The prose chain below, with the same tokens, computed once per distinct word.

    Every filter after the tokenizer works on one word at a time, so the chain's output for a
    word (its parts, their offsets, whether they are stop words, their stems) is cached; a
    text is then one regex scan and a dictionary lookup per word instead of six generator
    layers (indexing spent most of its time here). Positions are renumbered exactly as the
    chain does: IntraWordFilter numbers the parts of each word consecutively, StopFilter then
    keeps the first kept token's number and counts up by one from it. Calls the cache cannot
    answer (no tokenizing, stop words kept, original text kept) run the chain itself."""

    CACHE_MAX = 500_000
    # Whoosh unpickles the schema (and so a new analyser) with every reader and writer it
    # opens: the caches live here, shared by analysers with the same filters.
    _SHARED: dict[bytes, tuple[dict, dict]] = {}

    def __init__(self, *composables):
        super().__init__(*composables)
        self._attach_cache()

    def _attach_cache(self) -> None:
        key = hashlib.sha1(pickle.dumps(self.items, protocol=4)).digest()
        self._cache = self._SHARED.setdefault(key, ({}, {}))

    def __getstate__(self):  # the index pickles its schema: never the cache
        return {k: v for k, v in self.__dict__.items() if k != "_cache"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._attach_cache()

    def _word(self, raw: str, no_morph: int) -> tuple:
        """(positions the word takes, its kept tokens ((text, relative pos, start, end), ...),
        and all its tokens with stop words flagged (text, pos, start, end, stopped))."""
        items = [self.items[0]] + [
            f for f in self.items[1:] if not (no_morph and getattr(f, "is_morph", False))
        ]
        cut = next((i for i, f in enumerate(items) if isinstance(f, StopFilter)), len(items))
        gen = items[0](raw, positions=True, chars=True)
        for f in items[1:cut]:
            gen = f(gen)
        before = [(t.text, t.pos, t.startchar, t.endchar) for t in gen]  # tokens are reused
        span = before[-1][1] + 1 if before else 0
        kept, every = [], []
        for text, pos, start, end in before:
            if cut < len(items):
                stop = items[cut]
                if not (
                    len(text) >= stop.min
                    and (stop.max is None or len(text) <= stop.max)
                    and text not in stop.stops
                ):
                    # Kept only when stop words are asked for; the stemmer skips them.
                    every.append((text, pos, start, end, True))
                    continue
            one = Token(positions=True, chars=True)
            one.text, one.pos, one.startchar, one.endchar = text, pos, start, end
            gen = iter([one])
            for f in items[cut + 1 :]:
                gen = f(gen)
            for t in gen:
                kept.append((t.text, pos, start, end))
                every.append((t.text, pos, start, end, False))
        entry = (span, tuple(kept), tuple(every))
        cache = self._cache[no_morph]
        if len(cache) >= self.CACHE_MAX:
            cache.clear()
        cache[raw] = entry
        return entry

    def __call__(
        self,
        value,
        no_morph=False,
        positions=False,
        chars=False,
        keeporiginal=False,
        removestops=True,
        start_pos=0,
        start_char=0,
        tokenize=True,
        mode="",
        **kwargs,
    ):
        if not tokenize or keeporiginal:
            return CompositeAnalyzer.__call__(
                self,
                value,
                no_morph=no_morph,
                positions=positions,
                chars=chars,
                keeporiginal=keeporiginal,
                removestops=removestops,
                start_pos=start_pos,
                start_char=start_char,
                tokenize=tokenize,
                mode=mode,
                **kwargs,
            )
        assert isinstance(value, str), f"{value!r} is not unicode"
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        no_morph = 1 if no_morph else 0
        if not removestops:  # the highlighter: stop words too, flagged
            return self._all_tokens(t, value, no_morph, positions, chars, start_pos, start_char)
        return self._tokens(t, value, no_morph, positions, chars, start_pos, start_char)

    def _tokens(self, t, value, no_morph, positions, chars, start_pos, start_char):
        cache = self._cache[no_morph]
        word = self._word
        renumbers = not no_morph and any(isinstance(f, IntraWordFilter) for f in self.items)
        base = start_pos  # IntraWordFilter's counter
        pos = None  # StopFilter's counter
        t.boost = 1.0  # no filter here changes these
        t.stopped = False
        for m in self.items[0].expression.finditer(value):
            raw = m.group(0)
            entry = cache.get(raw)
            if entry is None:
                entry = word(raw, no_morph)
            span, kept, _ = entry
            if kept:
                if chars:
                    offset = start_char + m.start()
                for k in kept:
                    t.text = k[0]
                    if positions:
                        if pos is None:
                            pos = base + k[1]
                        else:
                            pos += 1
                        t.pos = pos
                    elif renumbers:
                        t.pos = base + k[1]  # as IntraWordFilter leaves it
                    if chars:
                        t.startchar = offset + k[2]
                        t.endchar = offset + k[3]
                    yield t
            base += span

    def _all_tokens(self, t, value, no_morph, positions, chars, start_pos, start_char):
        cache = self._cache[no_morph]
        word = self._word
        renumbers = not no_morph and any(isinstance(f, IntraWordFilter) for f in self.items)
        base = start_pos
        pos = None
        t.boost = 1.0
        for m in self.items[0].expression.finditer(value):
            raw = m.group(0)
            entry = cache.get(raw)
            if entry is None:
                entry = word(raw, no_morph)
            span, _, every = entry
            if every:
                if chars:
                    offset = start_char + m.start()
                for text, rel, start, end, stopped in every:
                    t.text = text
                    t.stopped = stopped
                    if positions and not stopped:
                        if pos is None:
                            pos = base + rel
                        else:
                            pos += 1
                        t.pos = pos
                    elif renumbers or positions:
                        t.pos = base + rel  # as IntraWordFilter (or the tokenizer) left it
                    if chars:
                        t.startchar = offset + start
                        t.endchar = offset + end
                    yield t
            base += span


def prose_analyzer():
    """Split and also join intra-word parts ("non-determinism" gives non, determinism and
    nondeterminism; "ChatGPT" gives chat, gpt and chatgpt), lower-case, fold accents, drop stop
    words, Porter-stem (cached)."""
    return ProseAnalyzer(
        RegexTokenizer(_JOINED),
        IntraWordFilter(mergewords=True, mergenums=True),
        LowercaseFilter(),
        CharsetFilter(accent_map),
        StopFilter(minsize=1),
        StemFilter(cachesize=100_000),
    )


def slow_prose_analyzer():
    """The same chain without the per-word cache (the reference the fast one is tested against)."""
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
