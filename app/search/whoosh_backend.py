"""The Whoosh implementation of SearchIndex (an index directory on local disk).

Engineering choices (measured in bench/search_bench.py):
- one long-lived searcher per process, reopened only when another writer committed;
- per-searcher caches: the document sets of every facet value (facet counts and filters are
  set intersections), and the matching document set of recent queries (pagination, facet clicks);
- highlights only for the page shown;
- writes serialised by Whoosh's lock; a writer that finds the lock taken retries with jittered
  backoff instead of surfacing LockError, and the caller reads the database only after it holds
  the lock, so the last writer always indexes the latest committed rows;
- bulk (re)builds use a large memory buffer and, for big corpora, two processes.
"""

import functools
import logging
import os
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from whoosh import classify, highlight
from whoosh import index as windex
from whoosh import query as wq
from whoosh.index import LockError
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
        self._facet_sets: dict[str, dict[str, frozenset]] | None = None
        self._docsets: OrderedDict = OrderedDict()
        self.stats = {"searcher_reopens": 0, "docset_cache_hits": 0}

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
        return self._searcher

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

    def _facet_index(self, s) -> dict[str, dict[str, frozenset]]:
        """value -> document set for every facet field (cached per searcher)."""
        if self._facet_sets is None:
            r = s.reader()
            sets: dict[str, dict[str, frozenset]] = {}
            for name, fname in FACET_FIELD.items():
                sets[name] = {}
                for t in r.lexicon(fname):
                    docs = frozenset(r.postings(fname, t).all_ids())
                    if docs:
                        sets[name][t.decode("utf-8")] = docs
            self._facet_sets = sets
        return self._facet_sets

    def _docset(self, s, key: str, q) -> frozenset:
        """Document numbers matching q (unscored, cached for recent queries)."""
        if key in self._docsets:
            self._docsets.move_to_end(key)
            self.stats["docset_cache_hits"] += 1
            return self._docsets[key]
        docs = frozenset(s.docs_for_query(q))
        self._docsets[key] = docs
        if len(self._docsets) > 64:
            self._docsets.popitem(last=False)
        return docs

    @staticmethod
    def _ranked(s, q, limit: int, allow: frozenset | None):
        """Top `limit` hits among `allow`, without terms=True (which records the matched terms
        of *every* matching document); needs_current builds the same matcher tree as the
        terms=True search did, so the ranking is unchanged."""
        c = s.collector(limit=limit, filter=set(allow) if allow is not None else None)
        s.search_with_collector(q, c, context=s.context(needs_current=True))
        return c.results()

    def _filter_sets(self, fx, filters: SearchFilters) -> dict[str, frozenset]:
        out: dict[str, frozenset] = {}
        for name in ("phase", "challenge", "direction", "venue"):
            values = getattr(filters, name)
            if values:
                out[name] = frozenset().union(*(fx[name].get(v, frozenset()) for v in values))
        years = set(filters.year)
        if filters.year_from is not None or filters.year_to is not None:
            lo, hi = filters.year_from or 0, filters.year_to or 9999
            years |= {y for y in fx["year"] if y.isdigit() and lo <= int(y) <= hi}
        if filters.year or filters.year_from is not None or filters.year_to is not None:
            out["year"] = frozenset().union(*(fx["year"].get(y, frozenset()) for y in years))
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
        base = self._docset(s, repr(parsed.query), parsed.query)
        fsets = self._filter_sets(fx, filters)
        kind_set = fx["kind"].get(kind, frozenset()) if kind else None

        def restricted(skip: str | None = None) -> frozenset:
            out = base
            for name, docs in fsets.items():
                if name != skip:
                    out = out & docs
            return out

        all_filtered = restricted()
        result.kinds = {k: len(all_filtered & fx["kind"].get(k, frozenset())) for k in KINDS}
        hits = all_filtered & kind_set if kind_set is not None else all_filtered
        result.total = len(hits)
        if facets:
            for name in FACETS:
                docs = restricted(skip=name)
                if kind_set is not None:
                    docs = docs & kind_set
                counts = [(v, len(docs & vs)) for v, vs in fx[name].items()]
                result.facets[name] = [
                    {"value": v, "count": n} for v, n in sorted(counts, key=lambda x: -x[1]) if n
                ]
        if not result.total:
            return
        start = (result.page - 1) * result.per_page
        if start >= result.total:
            return
        limit = start + result.per_page
        res = self._ranked(s, parsed.query, limit, hits if fsets or kind_set is not None else None)
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
        if len(self._docset(s, repr(fixed.query), fixed.query)) <= total:
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
            kind_set = fx["kind"].get(kind, frozenset())
            if not kind_set:
                return []
            res = s.search(parsed.query, limit=limit, filter=set(kind_set))
            return [split_id(h["id"])[1] for h in res]

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
            allow = set(fx["kind"].get(kind, frozenset())) - {docnum}
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


_SCHEMA = None


def make_schema_cached():
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = make_schema()
    return _SCHEMA
