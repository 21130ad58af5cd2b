"""The Whoosh implementation of SearchIndex (an index directory on local disk).

Engineering choices (measured in bench/search_bench.py):
- one long-lived searcher per process, reopened only when another writer committed;
- queries evaluated in bulk (_Bulk below): posting lists read a block at a time, document sets
  as byte masks in Python ints (totals, kind counts and facet counts are `&` and bit_count()),
  BM25F computed per posting list instead of per document through Whoosh's matcher tree;
- per-searcher caches: the mask of every facet value, recent terms' postings, recent queries'
  masks and scores (pagination, facet clicks);
- highlights only for the page shown; the prose analyser caches each word's tokens;
- writes serialised by Whoosh's lock; a writer that finds the lock taken retries with jittered
  backoff instead of surfacing LockError, and the caller reads the database only after it holds
  the lock, so the last writer always indexes the latest committed rows;
- bulk (re)builds use a large memory buffer and, for big corpora, two processes; spelling
  words are pooled once per segment, and absent length columns are not stat()ed per posting.
"""

import functools
import heapq
import logging
import os
import pickle
import random
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import accumulate, compress
from pathlib import Path

from whoosh import classify, highlight
from whoosh import index as windex
from whoosh import query as wq
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.formats import Positions
from whoosh.index import LockError
from whoosh.matching import FilterMatcher
from whoosh.scoring import BM25F
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import CLEAR

from app.search import query as qlang
from app.search.analysis import prose_analyzer
from app.search.base import (
    FACETS,
    KINDS,
    Hit,
    SearchFilters,
    SearchResult,
    split_id,
)
from app.search.schema import SCHEMA_VERSION, make_schema

log = logging.getLogger(__name__)

STALE_MARKER = "STALE"
SCHEMA_MARKER = "SCHEMA_VERSION"
INDEX_FIELDS = set(make_schema().names())
FACET_FIELD = {
    "phase": "f_phase",
    "challenge": "f_challenge",
    "direction": "f_direction",
    "year": "year",
    "venue": "f_venue",
    "kind": "kind",
}


class IndexUnavailable(RuntimeError):
    """The index could not be written (lock held too long, disk error); it is marked stale."""


class _Marks(highlight.Formatter):
    """Escaped text with only the matched words wrapped in <mark>."""

    between = " … "

    def _text(self, text: str) -> str:
        return highlight.htmlescape(text, quote=False)

    def format_token(self, text, token, replace=False):
        return f"<mark>{self._text(highlight.get_text(text, token, replace))}</mark>"


_PROSE = prose_analyzer()
_SNIPPET = highlight.Highlighter(
    fragmenter=highlight.ContextFragmenter(maxchars=240, surround=70), formatter=_Marks()
)
_WHOLE = highlight.Highlighter(fragmenter=highlight.WholeFragmenter(), formatter=_Marks())


def _prepare(doc: dict) -> dict:
    """Whoosh wants str values (lists joined); unknown keys are dropped."""
    out = {}
    for k, v in doc.items():
        if k not in INDEX_FIELDS or v is None:
            continue
        if isinstance(v, list | tuple | set):
            v = " ".join(str(x) for x in v if x)
        out[k] = str(v)
    return out


def _cache_missing_columns() -> None:
    """Whoosh looks up the lengths column of every posting it writes (codec add_postings ->
    doc_field_length); fields without lengths (ids, keywords, spelling words) have no column
    file, and that absence was not cached, so each of their postings cost a stat() call
    (about a tenth of a bulk build). Cache it: a segment's files never change once written."""
    from whoosh.codec import whoosh3

    if getattr(whoosh3.W3PerDocReader, "_surveykb_patched", False):
        return
    original = whoosh3.W3PerDocReader._cached_reader

    def _cached_reader(self, fieldname, column):
        readers = self._readers
        if fieldname in readers:
            return readers[fieldname]
        reader = original(self, fieldname, column)
        if reader is None:
            readers[fieldname] = None
        return reader

    whoosh3.W3PerDocReader._cached_reader = _cached_reader
    whoosh3.W3PerDocReader._surveykb_patched = True


_cache_missing_columns()


class _SpellingOnce:
    """The writer's posting pool, adding each spelling word once per segment.

    Whoosh adds every distinct word of every document to the field's spelling lexicon as a
    posting of document 0 (`spell_title`, `spell_text`); only the lexicon is ever read (the
    "did you mean" candidates), so the repeats were pure cost: over a third of all postings
    of a build, each one pooled, sorted and written."""

    def __init__(self, pool, fieldnames: set[str]) -> None:
        self._pool = pool
        self._spell = fieldnames
        self._seen: set = set()

    def add(self, item) -> None:
        if item[0] in self._spell:
            key = (item[0], item[1])
            if key in self._seen:
                return
            self._seen.add(key)
        self._pool.add(item)

    def __getattr__(self, name):
        return getattr(self._pool, name)


def _spelling_once(w) -> None:
    pool = getattr(w, "pool", None)
    if pool is None or not hasattr(pool, "add"):  # not a SegmentWriter (procs > 1)
        return
    names = {f.spelling_fieldname(n) for n, f in w.schema.items() if f.separate_spelling()}
    if names:
        w.pool = _SpellingOnce(pool, names)


class _Writer:
    """What a service sees while it holds the index lock."""

    def __init__(self, w) -> None:
        self._w = w
        self.count = 0

    def update(self, docs: Iterable[dict]) -> None:
        for d in docs:
            self._w.update_document(**_prepare(d))
            self.count += 1

    def add(self, docs: Iterable[dict]) -> None:
        for d in docs:
            self._w.add_document(**_prepare(d))
            self.count += 1

    def remove(self, ids: Iterable[str]) -> None:
        for i in ids:
            self._w.delete_by_term("id", i)


class WhooshIndex:
    """SearchIndex over a Whoosh directory. Thread-safe within a process; several processes
    may share the directory (reads are concurrent, writes take Whoosh's lock)."""

    def __init__(self, path: Path, *, lock_timeout: float = 120.0) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self._ix = None
        self._searcher = None
        self._lock = threading.RLock()
        self._facet_sets: dict[str, dict[str, int]] | None = None
        self._docsets: OrderedDict = OrderedDict()  # query key -> byte mask of live matches
        self._scores: OrderedDict = OrderedDict()  # (query key, hits) -> scores (or None)
        self._bulk: _Bulk | None = None
        self.stats = {"searcher_reopens": 0, "docset_cache_hits": 0, "whoosh_ranked": 0}

    # --- lifecycle ------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.path.is_dir() and windex.exists_in(str(self.path))

    def schema_current(self) -> bool:
        try:
            return (self.path / SCHEMA_MARKER).read_text().strip() == SCHEMA_VERSION
        except OSError:
            return False

    def is_stale(self) -> bool:
        return (self.path / STALE_MARKER).exists()

    def mark_stale(self, reason: str = "") -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / STALE_MARKER).write_text(reason or "stale")
        except OSError:  # pragma: no cover - nothing more we can do
            log.exception("could not mark the search index stale")
        log.warning("search index marked stale: %s", reason)

    def clear_stale(self) -> None:
        try:
            (self.path / STALE_MARKER).unlink()
        except FileNotFoundError:
            pass

    def rebuild_reason(self) -> str | None:
        """Why the index must be rebuilt (missing, stale, schema changed), or None."""
        if not self.exists():
            return "missing"
        if not self.schema_current():
            return "schema changed"
        if self.is_stale():
            return "stale: " + (self.path / STALE_MARKER).read_text(errors="replace").strip()
        return None

    def create(self) -> None:
        """Create an empty index with the current schema (replacing any other)."""
        with self._lock:
            self.path.mkdir(parents=True, exist_ok=True)
            self._close()
            self._ix = windex.create_in(str(self.path), make_schema())
            (self.path / SCHEMA_MARKER).write_text(SCHEMA_VERSION)

    def _index(self):
        if self._ix is None:
            if not self.exists() or not self.schema_current():
                self.create()
            else:
                self._ix = windex.open_dir(str(self.path))
        return self._ix

    def _close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
        self._searcher = None
        self._ix = None
        self._facet_sets = None
        self._docsets.clear()

    def close(self) -> None:
        with self._lock:
            self._close()

    @contextmanager
    def startup_lock(self) -> Iterator[None]:
        """A cross-process lock for start-up checks, so two workers do not rebuild at once."""
        import fcntl

        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / ".startup.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # --- writing --------------------------------------------------------------------------

    @contextmanager
    def writing(self, *, bulk: bool = False, clear: bool = False) -> Iterator[_Writer]:
        """Hold the index lock; commit on success, cancel on error.

        Read the database *inside* this block: the lock orders writers, so the last one to
        commit has seen the latest rows. A LockError is retried with jittered backoff until
        `lock_timeout`, then raised as IndexUnavailable (callers mark the index stale).
        """
        ix = self._index()
        kwargs = {"limitmb": 256} if bulk else {}
        if bulk and (os.cpu_count() or 1) > 1 and bulk == "parallel":
            kwargs.update(procs=2, multisegment=True)
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.005
        while True:
            try:
                w = ix.writer(**kwargs)
                break
            except LockError:
                if time.monotonic() > deadline:
                    raise IndexUnavailable("the search index stayed locked too long") from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.25)
        _spelling_once(w)
        handle = _Writer(w)
        try:
            yield handle
        except BaseException:
            w.cancel()
            raise
        try:
            if clear:
                w.commit(mergetype=CLEAR)
            else:
                w.commit()
        except Exception as exc:
            raise IndexUnavailable(f"commit failed: {exc}") from exc

    def index(self, docs: Iterable[dict]) -> None:
        with self.writing() as w:
            w.update(docs)

    def remove(self, ids: Iterable[str]) -> None:
        with self.writing() as w:
            w.remove(ids)

    def rebuild(self, docs: Iterable[dict], *, parallel: bool = False) -> int:
        """Replace the whole content (readers keep the old segments until they reopen)."""
        with self._lock:
            if not self.exists() or not self.schema_current():
                self.create()
        with self.writing(bulk="parallel" if parallel else True, clear=True) as w:
            w.add(docs)
            n = w.count
        self.clear_stale()
        return n

    # --- reading --------------------------------------------------------------------------

    def _get_searcher(self):
        """The long-lived searcher, reopened only when the index has a newer generation."""
        ix = self._index()
        s = self._searcher
        if s is None:
            self._searcher = ix.searcher()
            self.stats["searcher_reopens"] += 1
        elif not s.up_to_date():
            # Not s.refresh(): whoosh-reloaded 2.7.5 reuses segment readers by segment id, so
            # deletions committed since are not seen (and dropped segments are read again).
            self._searcher = ix.searcher()
            s.close()
            self.stats["searcher_reopens"] += 1
        if self._searcher is not s:
            self._facet_sets = None
            self._docsets.clear()
            self._scores.clear()
            self._bulk = None
        return self._searcher

    def _bulk_for(self, s) -> "_Bulk":
        if self._bulk is None or self._bulk.s is not s:
            self._bulk = _Bulk(s)
        return self._bulk

    def ids(self) -> set[str]:
        with self._lock:
            r = self._get_searcher().reader()
            # The lexicon keeps terms of deleted documents until segments merge: check postings.
            out = set()
            for t in r.lexicon("id"):
                if not r.has_deletions() or any(True for _ in r.postings("id", t).all_ids()):
                    out.add(t.decode("utf-8"))
            return out

    def doc_count(self) -> int:
        with self._lock:
            return self._get_searcher().doc_count()

    def _facet_index(self, s) -> dict[str, dict[str, int]]:
        """value -> byte mask of its live documents, for every facet field (cached per
        searcher): facet counts and filters are big-int `&` and bit_count()."""
        if self._facet_sets is None:
            bulk = self._bulk_for(s)
            r = s.reader()
            sets: dict[str, dict[str, int]] = {}
            for name, fname in FACET_FIELD.items():
                sets[name] = {}
                if fname not in s.schema:
                    continue
                for t in r.lexicon(fname):
                    docs = bulk.term_mask(fname, t, cache=False) & bulk.live
                    if docs:
                        sets[name][t.decode("utf-8")] = docs
            self._facet_sets = sets
        return self._facet_sets

    def _docset(self, s, key: str, q) -> int:
        """Byte mask of the live documents matching q (cached for recent queries)."""
        if key in self._docsets:
            self._docsets.move_to_end(key)
            self.stats["docset_cache_hits"] += 1
            return self._docsets[key]
        docs = self._bulk_for(s).mask(q)
        self._docsets[key] = docs
        if len(self._docsets) > 64:
            self._docsets.popitem(last=False)
        return docs

    def _query_scores(self, s, key: str, q, hits: int) -> list | None:
        """Scores of the hits (None: a shape only Whoosh scores); cached for the same query
        and hit set (the next page, the same facet click)."""
        ck = (key, hits)
        if ck in self._scores:
            self._scores.move_to_end(ck)
            return self._scores[ck]
        try:
            sc = self._bulk_for(s).scores(q, hits)
        except _Unsupported:
            sc = None
        self._scores[ck] = sc
        if len(self._scores) > 8:
            self._scores.popitem(last=False)
        return sc

    def _ranked(self, s, key: str, q, limit: int, hits: int):
        """Top `limit` hits among the mask `hits`, best first (ties: lower document number,
        as Whoosh's collector)."""
        from whoosh.searching import Results

        sc = self._query_scores(s, key, q, hits)
        n = s.doc_count_all()
        if sc is None:
            # Whoosh ranks it (no terms=True: it records the matched terms of *every* match).
            self.stats["whoosh_ranked"] += 1
            # optimize=False: the block-quality shortcut can rank with wrong scores.
            c = s.collector(limit=limit, filter=set(_ids_of(hits, n)), optimize=False)
            s.search_with_collector(q, c, context=s.context(needs_current=True))
            return c.results()
        cand = compress(range(n), hits.to_bytes(n, "little"))
        top = heapq.nlargest(limit, cand, key=sc.__getitem__)  # stable: ties by docnum
        return Results(s, q, [(sc[d], d) for d in top])

    def _filter_sets(self, fx, filters: SearchFilters) -> dict[str, int]:
        out: dict[str, int] = {}
        for name in ("phase", "challenge", "direction", "venue"):
            values = getattr(filters, name)
            if values:
                m = 0
                for v in values:
                    m |= fx[name].get(v, 0)
                out[name] = m
        years = set(filters.year)
        if filters.year_from is not None or filters.year_to is not None:
            lo, hi = filters.year_from or 0, filters.year_to or 9999
            years |= {y for y in fx["year"] if y.isdigit() and lo <= int(y) <= hi}
        if filters.year or filters.year_from is not None or filters.year_to is not None:
            m = 0
            for y in years:
                m |= fx["year"].get(y, 0)
            out["year"] = m
        return out

    def search(
        self,
        query: str,
        filters: SearchFilters | None = None,
        kind: str | None = None,
        page: int = 1,
        per_page: int = 20,
        facets: bool = True,
        highlight: bool = True,
        _retry: bool = True,
    ) -> SearchResult:
        filters = filters or SearchFilters()
        kind = kind if kind in KINDS else None
        page = max(1, int(page))
        per_page = max(1, min(int(per_page), 200))
        parsed = qlang.parse(query, make_schema_cached())
        result = SearchResult(
            query=parsed.text, hits=[], total=0, page=page, per_page=per_page, notice=parsed.notice
        )
        if parsed.query is None:
            return result
        with self._lock:
            s = self._get_searcher()
            try:
                self._fill(s, result, parsed, filters, kind, facets, highlight)
            except Exception as exc:  # e.g. a QueryError from an odd combination: plain words
                log.info("query %r failed (%s); searching plain words", query, exc)
                words = qlang.plain_words(parsed.text)
                parsed = qlang.parse(" ".join(f'"{w}"' for w in words), make_schema_cached())
                result.query = " ".join(words)
                result.hits, result.total, result.facets, result.kinds = [], 0, {}, {}
                result.notice = (
                    "Your query could not be run as search syntax, so it was searched as the "
                    f"plain words “{result.query}”."
                )
                if parsed.query is not None:
                    self._fill(s, result, parsed, filters, kind, facets, highlight)
            if result.total == 0 and parsed.words:
                self._suggest(s, result, parsed, filters, kind, facets, highlight)
                if result.total == 0 and len(parsed.words) > 1 and qlang.is_plain(parsed.text):
                    self._any_words(s, result, parsed, filters, kind, facets, highlight)
            elif result.total < 3 and parsed.words:
                result.suggestion = self._suggestion(s, parsed, result.total)
        return result

    def _fill(self, s, result, parsed, filters, kind, facets, highlight) -> None:
        fx = self._facet_index(s)
        key = repr(parsed.query)
        base = self._docset(s, key, parsed.query)
        fsets = self._filter_sets(fx, filters)
        kind_set = fx["kind"].get(kind, 0) if kind else None

        def restricted(skip: str | None = None) -> int:
            out = base
            for name, docs in fsets.items():
                if name != skip:
                    out &= docs
            return out

        all_filtered = restricted()
        result.kinds = {k: (all_filtered & fx["kind"].get(k, 0)).bit_count() for k in KINDS}
        hits = all_filtered & kind_set if kind_set is not None else all_filtered
        result.total = hits.bit_count()
        if facets:
            for name in FACETS:
                docs = restricted(skip=name) if name in fsets else all_filtered
                if kind_set is not None:
                    docs &= kind_set
                counts = (
                    [(v, (docs & vs).bit_count()) for v, vs in fx[name].items()] if docs else []
                )
                result.facets[name] = [
                    {"value": v, "count": n} for v, n in sorted(counts, key=lambda x: -x[1]) if n
                ]
        if not result.total:
            return
        start = (result.page - 1) * result.per_page
        if start >= result.total:
            return
        limit = start + result.per_page
        res = self._ranked(s, key, parsed.query, limit, hits)
        # The highlighter uses the query's terms (no terms=True), expanded once per result, not
        # once per hit; a term only marks text where the hit has it, so highlights are the same.
        res.query_terms = functools.lru_cache(maxsize=None)(res.query_terms)
        for h in res[start:limit]:
            stored = h.fields()
            hl: dict[str, str] = {}
            if highlight:
                for fname, hi_obj in (("title", _WHOLE), ("text", _SNIPPET), ("authors", _WHOLE)):
                    if stored.get(fname):
                        frag = hi_obj.highlight_hit(h, fname, top=2, minscore=1)
                        if frag:
                            hl[fname] = frag
            result.hits.append(
                Hit(
                    id=stored["id"],
                    kind=stored.get("kind", ""),
                    key=stored.get("key", ""),
                    title=stored.get("title", ""),
                    score=round(float(h.score or 0.0), 4),
                    highlights=hl,
                    stored=stored,
                )
            )

    def _suggestion(self, s, parsed, total: int = 0) -> str | None:
        """The query with unknown words replaced by close words from the index vocabulary;
        offered only when it finds more than the query did."""
        out, changed = [], False
        for w in parsed.words:
            low = w.lower()
            if len(low) < 3 or not low.isalpha() or self._known(s, low):
                out.append(w)
                continue
            cands = s.suggest("title", low, limit=1, maxdist=2) or s.suggest(
                "text", low, limit=1, maxdist=2
            )
            if cands and cands[0] != low:
                out.append(cands[0])
                changed = True
            else:
                out.append(w)
        if not changed:
            return None
        suggestion = " ".join(out)
        fixed = qlang.parse(suggestion, make_schema_cached())
        if fixed.query is None:
            return None
        if self._docset(s, repr(fixed.query), fixed.query).bit_count() <= total:
            return None
        return suggestion

    def _known(self, s, word: str) -> bool:
        """True if the word (stemmed like the index) occurs in a searched field."""
        r = s.reader()
        stems = [t.text for t in _PROSE(word)] or [word]
        for field, terms in (("title", stems), ("text", stems), ("authors", [word])):
            for t in terms:
                try:
                    if r.doc_frequency(field, t) > 0:
                        return True
                except Exception:  # a field with no terms yet
                    continue
        return False

    def _suggest(self, s, result, parsed, filters, kind, facets, highlight) -> None:
        """No hits: offer a corrected query, and show its hits when it has some."""
        suggestion = self._suggestion(s, parsed)
        if not suggestion:
            return
        result.suggestion = suggestion
        if parsed.fallback or any(c in parsed.text for c in ':"*()'):
            return  # keep the user's syntax; only offer the link
        fixed = qlang.parse(suggestion, make_schema_cached())
        if fixed.query is None:
            return
        probe = SearchResult(
            query=fixed.text, hits=[], total=0, page=result.page, per_page=result.per_page
        )
        self._fill(s, probe, fixed, filters, kind, facets, highlight)
        if probe.total:
            result.hits, result.total = probe.hits, probe.total
            result.facets, result.kinds = probe.facets, probe.kinds
            result.notice = (
                f"No results for “{parsed.text}”. Showing results for “{suggestion}” instead."
            )

    def _any_words(self, s, result, parsed, filters, kind, facets, highlight) -> None:
        """No document has all the words: rank those that have some of them."""
        loose = qlang.any_of_words(parsed.words, make_schema_cached())
        if loose.query is None:
            return
        probe = SearchResult(
            query=parsed.text, hits=[], total=0, page=result.page, per_page=result.per_page
        )
        self._fill(s, probe, loose, filters, kind, facets, highlight)
        if probe.total:
            result.hits, result.total = probe.hits, probe.total
            result.facets, result.kinds = probe.facets, probe.kinds
            result.notice = (
                f"No result contains all of “{parsed.text}”; showing results that contain "
                "some of the words, best matches first."
            )

    def ranked_ids(self, query: str, kind: str = "paper", limit: int | None = None) -> list[int]:
        parsed = qlang.parse(query, make_schema_cached())
        if parsed.query is None:
            return []
        with self._lock:
            s = self._get_searcher()
            fx = self._facet_index(s)
            kind_set = fx["kind"].get(kind, 0)
            if not kind_set:
                return []
            key = repr(parsed.query)
            hits = self._docset(s, key, parsed.query) & kind_set
            if not hits:
                return []
            sc = self._query_scores(s, key, parsed.query, hits)
            if sc is None:
                res = s.search(
                    parsed.query,
                    limit=limit,
                    filter=set(_ids_of(hits, s.doc_count_all())),
                    optimize=False,  # see _ranked
                )
                return [split_id(h["id"])[1] for h in res]
            docs = _ids_of(hits, s.doc_count_all())
            docs.sort(key=lambda d: -sc[d])  # stable: ties keep document order
            if limit is not None:
                docs = docs[:limit]
            stored = s.stored_fields
            return [split_id(stored(d)["id"])[1] for d in docs]

    def more_like(self, id: str, limit: int = 5) -> list[Hit]:
        with self._lock:
            s = self._get_searcher()
            docnum = s.document_number(id=id)
            if docnum is None:
                return []
            stored = s.stored_fields(docnum)
            text = f"{stored.get('title', '')} {stored.get('text', '')}"
            kind = stored.get("kind", "paper")
            subs = []
            for field, boost in (("title", 1.5), ("text", 1.0)):
                expander = classify.Expander(s.reader(), field)
                expander.add_text(text)
                for t, w in expander.expanded_terms(10):
                    subs += [
                        wq.Term("title", t, boost=w * boost * 1.5),
                        wq.Term("text", t, boost=w),
                    ]
            if not subs:
                return []
            q = wq.Or(subs)
            fx = self._facet_index(s)
            allow = set(_ids_of(fx["kind"].get(kind, 0), s.doc_count_all())) - {docnum}
            res = s.search(q, limit=limit, filter=allow)
            return [
                Hit(
                    id=h["id"],
                    kind=h.get("kind", ""),
                    key=h.get("key", ""),
                    title=h.get("title", ""),
                    score=round(float(h.score or 0.0), 4),
                    stored=h.fields(),
                )
                for h in res
            ]


# --- bulk evaluation ----------------------------------------------------------------------
#
# Whoosh answers a query by walking a tree of matcher objects one document at a time, in
# Python; at 100,000 papers a common word matches tens of thousands of documents in several
# fields, and the search path walked them twice (all matches for the total and facet counts,
# then scored for the top page). _Bulk reads each posting list once, a block at a time, and
# keeps document sets as byte masks (one byte per document in a Python int: `&`, `|` and
# bit_count() run in C), so totals and facet counts are a few big-int operations; it scores
# BM25F itself for the shapes the query language produces (terms, OR across fields, AND of
# words, AND NOT, field terms, prefixes, year ranges, phrases checked on the positions of the
# candidates only), with Whoosh's own formula and statistics: the ranking is Whoosh's
# exhaustive one. (Whoosh's top-N collector skips blocks by "quality", and with AND queries
# that skipping returned wrong scores and a different top page; the fallback below turns it
# off.) Anything else (NOT alone, fuzzy terms, regexes) goes to Whoosh.


class _Unsupported(Exception):
    """The query has a part _Bulk does not evaluate: let Whoosh do it."""


def _expands(q) -> bool:
    """Prefix, wildcard and term-range queries: an OR of the lexicon terms they expand to
    (MultiTerm.matcher), except the match-everything forms Whoosh turns into Every."""
    if type(q) is wq.Prefix:
        return q.text != ""
    if type(q) is wq.Wildcard:
        return q.text != "*"
    return type(q) is wq.TermRange


def _mask_of(ids: Iterable[int], n: int) -> int:
    buf = bytearray(n)
    for i in ids:
        buf[i] = 1
    return int.from_bytes(buf, "little")


def _decode_positions(value: bytes) -> list[int]:
    """Positions.decode_positions (a pickled list of deltas after a 4-byte count), with the
    running sum in C."""
    if not value.endswith(b"."):
        value += b"."
    return list(accumulate(pickle.loads(value[4:])))


def _ids_of(mask: int, n: int) -> list[int]:
    return list(compress(range(n), mask.to_bytes(n, "little")))


class _Bulk:
    """Per-searcher bulk query evaluation (see above); built lazily, dropped on reopen."""

    TERM_CACHE = 128

    def __init__(self, s) -> None:
        self.s = s
        self.n = s.doc_count_all()
        self.leaves = list(s.reader().leaf_readers())
        self.weighting = s.weighting
        self._terms: OrderedDict = OrderedDict()  # (field, btext) -> (ids, weights) global
        self._lengths: dict[str, tuple] = {}  # field -> (length bytes per doc, table)
        self._phrases: OrderedDict = OrderedDict()  # (field, words, slop) -> documents
        live = bytearray(b"\x01") * self.n
        for r, off in self.leaves:
            if r.has_deletions():
                count = r.doc_count_all()
                seg = bytearray(count)
                for d in r.all_doc_ids():  # the live ones
                    seg[d] = 1
                live[off : off + count] = seg
        self.live = int.from_bytes(live, "little")
        self.bm25 = isinstance(self.weighting, BM25F)

    # postings ------------------------------------------------------------------------------

    def postings(self, field: str, btext: bytes, cache: bool = True) -> tuple[array, array]:
        """Global document numbers and weights of one term (deleted documents included), as
        compact arrays (a common word at 100,000 papers: under 1 MB, not 5 MB of objects)."""
        key = (field, btext)
        hit = self._terms.get(key)
        if hit is not None:
            self._terms.move_to_end(key)
            return hit
        ids = array("i")
        weights = array("f")
        for r, off in self.leaves:
            if (field, btext) not in r:
                continue
            m = r.postings(field, btext)
            while isinstance(m, FilterMatcher):  # deletions: the live mask handles them
                m = m.child
            if isinstance(m, W3LeafMatcher):
                while m.is_active():
                    if m._ids is None:
                        m._read_ids()
                    if m._weights is None:
                        m._read_weights()
                    ids.extend(m._ids if not off else [off + i for i in m._ids])
                    weights.extend(m._weights)
                    m._next_block()
            else:
                while m.is_active():
                    ids.append(off + m.id())
                    weights.append(m.weight())
                    m.next()
        out = (ids, weights)
        if cache:
            self._terms[key] = out
            if len(self._terms) > self.TERM_CACHE:
                self._terms.popitem(last=False)
        return out

    def lengths(self, field: str) -> tuple[bytes, list]:
        """The length byte of `field` for every document, and byte -> length (as the scorer
        reads it: doc_field_length with default 1)."""
        got = self._lengths.get(field)
        if got is not None:
            return got
        parts = []
        for r, _off in self.leaves:
            count = r.doc_count_all()
            raw = None
            perdoc = getattr(r, "_perdoc", None)
            if perdoc is not None and hasattr(perdoc, "_cached_reader"):
                col = perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN)
                if col is None:
                    raw = bytes(count)
                elif getattr(col, "_fixedlen", None) == 1 and hasattr(col, "_dbfile"):
                    have = min(col._count, count)
                    raw = bytes(col._dbfile.get(col._basepos, have)) + bytes(count - have)
            if raw is None:  # another codec: ask per document (slow, correct)
                raw = bytes(length_to_byte(r.doc_field_length(d, field, 0)) for d in range(count))
            parts.append(raw)
        table = [1] + [byte_to_length(b) for b in range(1, 256)]
        got = (b"".join(parts), table)
        self._lengths[field] = got
        return got

    def term_mask(self, field: str, btext: bytes, cache: bool = True) -> int:
        return _mask_of(self.postings(field, btext, cache)[0], self.n)

    # document sets -------------------------------------------------------------------------

    def mask(self, q) -> int:
        """The live documents matching q, as a byte mask."""
        return self._mask(q) & self.live

    def _expand(self, q) -> list[bytes]:
        r = self.s.reader()
        field = q.field()
        if field not in self.s.schema:
            return []
        return [t for t in q._btexts(r) if t]

    def _mask(self, q) -> int:
        if isinstance(q, wq.Term):
            btext = self._btext(q)
            return 0 if btext is None else self.term_mask(q.fieldname, btext)
        if _expands(q):
            out = 0
            for t in self._expand(q):
                out |= self.term_mask(q.fieldname, t)
            return out
        if type(q) in (wq.Or, wq.DefaultOr) and not q.minmatch:
            out = 0
            for sub in q.subqueries:
                out |= self._mask(sub)
            return out
        if type(q) is wq.And:
            out = None
            for sub in q.subqueries:
                m = self._mask(sub)
                out = m if out is None else out & m
                if not out:
                    return 0
            return out or 0
        if type(q) is wq.AndNot:
            return self._mask(q.a) & ~self._mask(q.b)
        if type(q) is wq.AndMaybe:
            return self._mask(q.a)
        if q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            return 0
        if type(q) is wq.Phrase:
            try:
                return _mask_of(self.phrase_docs(q), self.n)
            except _Unsupported:
                pass
        # Ranges, anything else: Whoosh's matcher, once.
        return _mask_of(self.s.docs_for_query(q), self.n)

    def _to_bytes(self, field: str, text) -> bytes | None:
        try:
            return self.s.schema[field].to_bytes(text)
        except ValueError:
            return None

    def phrase_docs(self, q) -> list[int]:
        """Documents where q's words occur in order, each within `slop` positions of the one
        before (Whoosh's SpanNear2 with mindist 1); deleted documents included."""
        key = (q.fieldname, tuple(q.words), q.slop)
        hit = self._phrases.get(key)
        if hit is not None:
            return hit
        field = q.fieldname
        schema = self.s.schema
        if field not in schema:
            return []
        fmt = schema[field].format
        if not fmt or not fmt.supports("positions") or not q.words:
            raise _Unsupported("phrase without positions")
        reader = self.s.reader()
        words = [self._to_bytes(field, w) for w in q.words]
        if any(w is None or (field, w) not in reader for w in words):
            return []
        cand = -1
        for w in set(words):
            cand &= self.term_mask(field, w)
            if not cand:
                return []
        slop = q.slop
        state: dict[int, set] | None = None  # document -> end positions of the matched prefix
        for w in words:
            allowed = (cand if state is None else _mask_of(state, self.n)).to_bytes(
                self.n, "little"
            )
            decode = _decode_positions if type(fmt) is Positions else fmt.decode_positions
            poses = self._positions(field, w, allowed, decode)
            if state is None:
                state = {d: set(p) for d, p in poses.items()}
            else:
                nxt: dict[int, set] = {}
                for d, ends in state.items():
                    ps = poses.get(d)
                    if not ps:
                        continue
                    if slop == 1:
                        found = {p for p in ps if p - 1 in ends}
                    else:
                        found = {p for p in ps if any(1 <= p - e <= slop for e in ends)}
                    if found:
                        nxt[d] = found
                state = nxt
            if not state:
                break
        out = sorted(state or ())
        self._phrases[key] = out
        if len(self._phrases) > 64:
            self._phrases.popitem(last=False)
        return out

    def _positions(self, field: str, btext: bytes, allowed: bytes, decode) -> dict[int, list]:
        """document -> positions of a term, for the documents `allowed` marks."""
        out: dict[int, list] = {}
        for r, off in self.leaves:
            if (field, btext) not in r:
                continue
            m = r.postings(field, btext)
            while isinstance(m, FilterMatcher):
                m = m.child
            if isinstance(m, W3LeafMatcher):
                while m.is_active():
                    if m._ids is None:
                        m._read_ids()
                    ids = m._ids
                    values = None
                    for i, d in enumerate(ids):
                        if allowed[off + d]:
                            if values is None:
                                m._read_values()
                                values = m._values
                            out[off + d] = decode(values[i])
                    m._next_block()
            else:
                while m.is_active():
                    if allowed[off + m.id()]:
                        out[off + m.id()] = decode(m.value())
                    m.next()
        return out

    def _btext(self, q) -> bytes | None:
        if q.fieldname not in self.s.schema:
            return None
        try:
            return self.s.schema[q.fieldname].to_bytes(q.text)
        except ValueError:
            return None

    # scores --------------------------------------------------------------------------------

    def scores(self, q, hits: int) -> list[float]:
        """BM25F scores, indexed by document number, of the documents in the mask `hits`,
        which must all match q (the hit set). Raises _Unsupported for shapes Whoosh must
        score. One dense accumulator: adding into a list slot is cheaper than building and
        merging a dictionary per field and word."""
        acc = [0.0] * self.n
        self._acc(q, acc, hits, 1.0, True)
        return acc

    def _acc(self, q, acc: list, allowed: int, mult: float, exact: bool) -> None:
        """Add q's score (times `mult`) for the documents in `allowed`. `exact`: every one of
        them matches q, so no part of q needs its own document set.

        Whoosh adds the scores of a compound query's parts and applies the compound's boost
        only when it has more than one part (AND NOT: never; a phrase: always); a prefix is
        an OR of the terms it expands to."""
        if isinstance(q, wq.Term):
            btext = self._btext(q)
            if btext is not None:
                self._term_acc(q.fieldname, btext, q.text, q.boost * mult, acc, allowed)
            return
        if _expands(q):
            field = q.fieldname
            words = self._expand(q)
            m = mult * q.boost if len(words) > 1 else mult
            for w in words:
                self._term_acc(field, w, field_text(self.s, field, w), m, acc, allowed)
            return
        if type(q) in (wq.Or, wq.DefaultOr) and not q.minmatch and not q.scale:
            m = mult * q.boost if len(q.subqueries) > 1 else mult
            for sub in q.subqueries:
                self._acc(sub, acc, allowed, m, False)
            return
        if type(q) is wq.And:
            if not exact:
                allowed &= self._mask(q)
            m = mult * q.boost if len(q.subqueries) > 1 else mult
            for sub in q.subqueries:
                self._acc(sub, acc, allowed, m, True)
            return
        if type(q) is wq.Phrase:
            # SpanNear2 over the words' Term matchers: their scores, where the phrase is.
            allowed &= _mask_of(self.phrase_docs(q), self.n)
            if allowed:
                for w in q.words:
                    btext = self._to_bytes(q.fieldname, w)
                    self._term_acc(q.fieldname, btext, w, mult * q.boost, acc, allowed)
            return
        if type(q) is wq.AndNot:
            if not exact:
                allowed &= ~self._mask(q.b)
            self._acc(q.a, acc, allowed, mult, exact)
            return
        raise _Unsupported(type(q).__name__)

    def _term_acc(self, field: str, btext, text, boost: float, acc: list, allowed: int) -> None:
        ids, weights = self.postings(field, btext)
        if not ids or not allowed:
            return
        ab = allowed.to_bytes(self.n, "little")
        s = self.s
        if not s.schema[field].scorable:
            if not self.bm25:
                raise _Unsupported("weighting")
            for d, tf in zip(ids, weights, strict=True):  # WeightScorer: the weight
                if ab[d]:
                    acc[d] += tf * boost
            return
        if not self.bm25:
            raise _Unsupported("weighting")
        w = self.weighting
        B = w._field_B.get(field, w.B)
        K1 = w.K1
        idf = s.idf(field, text)
        avgfl = s.avg_field_length(field) or 1
        lb, table = self.lengths(field)
        # bm25(idf, tf, fl, avgfl, B, K1), with the length part per length byte (256 values)
        norm = [K1 * ((1 - B) + B * fl / avgfl) for fl in table]
        k1p1 = K1 + 1
        for d, tf in zip(ids, weights, strict=True):
            if ab[d]:
                acc[d] += idf * ((tf * k1p1) / (tf + norm[lb[d]])) * boost


def field_text(s, field: str, btext: bytes):
    return s.schema[field].from_bytes(btext)


_SCHEMA = None


def make_schema_cached():
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = make_schema()
    return _SCHEMA
