"""The PostgreSQL full-text implementation of SearchIndex (SURVEYKB_SEARCH_BACKEND=postgres).

Every app server of a deployment shares it, because it lives in the database (tables created by
migration 0004, outside the SQLModel metadata):
- `search_doc`: one row per document with three weighted tsvectors, GIN indexed:
  `tsv` ranks plain words (A title, B abstract/description, C authors, venue, keywords,
  D citekey/DOI/arXiv and linked taxonomy titles); `ftsv` answers `author:`, `venue:`, `doi:`
  (A, B, C) and `ttsv` answers `phase:`, `challenge:`, `direction:` (A, B, C) through
  `ts_filter`; exact slugs and years are plain columns for filters and facets.
- `search_word`: the words of titles and abstracts, for "did you mean" (pg_trgm when present).
- `search_state`: schema version, stale marker, write generation.

The query language is the one of app/search/query.py (same normalisation, same fallback to
plain words with the same notice); its boolean structure becomes SQL (AND/OR/NOT), each word or
phrase a `websearch_to_tsquery`, each qualifier a condition on its column. Accents are folded by
the `surveykb_en` text search configuration (unaccent + english_stem) when the `unaccent`
extension exists, else in Python on both sides. Snippets come from `ts_headline` over text that
is HTML-escaped first, so only the `<mark>` tags it adds are markup.

Writers are serialised by a transaction-level advisory lock (as Whoosh's lock serialises them):
services read the rows to index inside `writing()`, so the last writer indexes the latest rows.
Facet counts are computed over the whole hit set (one ranked query returning each hit's facet
values), the same semantics as the Whoosh backend: OR within a facet, AND across facets, each
facet counted without its own restriction.
"""

import logging
import math
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from app.search import query as qlang
from app.search.base import FACETS, KINDS, Hit, SearchFilters, SearchResult, split_id

log = logging.getLogger(__name__)

SCHEMA_VERSION = "pg2"  # bump when the document rows change shape: start-up rebuilds (pg2: survey/)
CONFIG = "surveykb_en"
LOCK_WRITE = 0x534B4201  # advisory lock keys ("SKB" + n)
LOCK_STARTUP = 0x534B4202
RANK_WEIGHTS = "{0.05, 0.25, 0.35, 1.0}"  # D, C, B, A
BATCH = 500
_WORDS = re.compile(r"[^\W\d_]{3,}")
_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine(url: str) -> Engine:
    """One engine per database URL per process (every create_app opens an index)."""
    from app.db import make_engine

    with _ENGINES_LOCK:
        if url not in _ENGINES:
            _ENGINES[url] = make_engine(url)
        return _ENGINES[url]


def fold(value: str) -> str:
    """Accent folding in Python (Müller -> Muller), used when `unaccent` is unavailable."""
    return "".join(c for c in unicodedata.normalize("NFKD", value) if not unicodedata.combining(c))


def _s(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple | set):
        return " ".join(str(x) for x in value if x)
    return str(value)


def _list(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return [str(x) for x in value if x]


class IndexUnavailable(RuntimeError):
    """The search tables are missing (run `surveykb db upgrade`) or could not be written."""


# --- the query language, as SQL ---------------------------------------------------------------

FIELDS = {  # qualifier -> (tsvector column, weight) for text qualifiers
    "title": ("tsv", "a"),
    "text": ("tsv", "b"),
    "authors": ("ftsv", "a"),
    "venue": ("ftsv", "b"),
    "ident": ("ftsv", "c"),
    "keywords": ("ftsv", "d"),
    "phase": ("ttsv", "a"),
    "challenge": ("ttsv", "b"),
    "direction": ("ttsv", "c"),
}
SLUG_FIELDS = {"f_phase", "f_challenge", "f_direction"}
ALIAS = {a: name for name, names in qlang.ALIASES.items() for a in names}
_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<lp>\()
      | (?P<rp>\))
      | (?P<minus>(?<![^\s(])-(?=\S))
      | (?P<plus>(?<![^\s(])\+(?=\S))
      | (?P<field>(?P<fname>[A-Za-z_]+):)(?=\S)
      | (?P<range>\[[^\]]*\])
      | (?P<phrase>"[^"]*")
      | (?P<word>[^\s()"]+)""",
    re.X,
)
OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"}


class QuerySyntax(ValueError):
    pass


@dataclass
class Leaf:
    field: str | None  # None: plain words over `tsv`
    kind: str  # word | phrase | range
    value: str


@dataclass
class Node:
    op: str  # and | or | not
    children: list = field(default_factory=list)


def _tokens(text_: str) -> list[tuple[str, str]]:
    out = []
    for m in _TOKEN.finditer(text_):
        kind = m.lastgroup
        if kind == "space":
            continue
        out.append((kind, m.group("fname") if kind == "field" else m.group(0)))
    return out


class _Parser:
    """A small recursive-descent reader of the (already normalised) query text."""

    def __init__(self, text_: str) -> None:
        self.toks = _tokens(text_)
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def parse(self):
        node = self.expr(None)
        if self.i < len(self.toks):
            raise QuerySyntax("unexpected input")
        return node

    def expr(self, fld):
        parts = [self.conj(fld)]
        while self.peek() == ("word", "OR"):
            self.take()
            parts.append(self.conj(fld))
        return parts[0] if len(parts) == 1 else Node("or", parts)

    def conj(self, fld):
        items = []
        while True:
            kind, val = self.peek()
            if kind is None or kind == "rp" or (kind, val) == ("word", "OR"):
                break
            if kind == "word" and val == "AND":
                self.take()
                continue
            if kind == "word" and val in ("NOT", "ANDNOT"):
                self.take()
                items.append(Node("not", [self.unary(fld)]))
                continue
            if kind == "word" and val == "ANDMAYBE":
                self.take()
                self.unary(fld)  # optional words only change ranking in Whoosh: dropped
                continue
            items.append(self.unary(fld))
        if not items:
            raise QuerySyntax("nothing to search")
        return items[0] if len(items) == 1 else Node("and", items)

    def unary(self, fld):
        kind, val = self.take()
        if kind == "minus":
            return Node("not", [self.unary(fld)])
        if kind == "plus":
            return self.unary(fld)
        if kind == "lp":
            node = self.expr(fld)
            if self.take()[0] != "rp":
                raise QuerySyntax("a bracket is not closed")
            return node
        if kind == "field":
            name = val.lower()
            name = ALIAS.get(name, name)
            if name not in FIELDS and name not in SLUG_FIELDS and name not in ("year", "kind"):
                raise QuerySyntax(f"{val}: is not a field")
            return self.unary(name)
        if kind in ("word", "phrase", "range"):
            return Leaf(fld, kind, val)
        raise QuerySyntax("unexpected input")


def parse_tree(text_: str):
    return _Parser(text_).parse()


def words_tree(words: list[str], op: str = "and"):
    leaves = [Leaf(None, "word", w) for w in words]
    return leaves[0] if len(leaves) == 1 else Node(op, leaves)


class _Compiler:
    """Turns a tree into a WHERE condition, a ranking tsquery and bound parameters."""

    def __init__(self, cfg: str, py_fold: bool) -> None:
        self.cfg = cfg
        self.py_fold = py_fold
        self.params: dict = {}
        self.rank: list[str] = []  # tsquery expressions of positive text leaves
        self.all_text: list[str] = []
        self.other = False  # a non-text condition (year, kind, slug)

    def p(self, value) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def tsquery(self, leaf: Leaf) -> str | None:
        value = fold(leaf.value) if self.py_fold else leaf.value
        if leaf.kind == "phrase":
            inner = value.strip('"').replace('"', " ").strip()
            return f"websearch_to_tsquery({self.cfg}, {self.p(chr(34) + inner + chr(34))})"
        if leaf.kind == "range":
            return None
        if value.endswith("*"):
            parts = re.findall(r"\w+", value)
            if not parts:
                return None
            prefix = " <-> ".join(parts[:-1] + [parts[-1] + ":*"])
            return f"to_tsquery({self.cfg}, {self.p(prefix)})"
        value = value.replace("*", "").replace("?", "")
        if not re.search(r"\w", value):
            return None
        # quoted: a single word is never read as websearch syntax ("or", a leading "-")
        return f"websearch_to_tsquery({self.cfg}, {self.p(chr(34) + value + chr(34))})"

    def leaf(self, leaf: Leaf, negated: bool) -> str:
        f = leaf.field
        if f == "year":
            return self.year(leaf)
        if f == "kind":
            self.other = True
            return f"(kind = {self.p(leaf.value.strip(chr(34)).lower().rstrip('s'))})"
        if f in SLUG_FIELDS:
            self.other = True
            return f"({self.p(leaf.value.strip(chr(34)).lower())} = ANY({f}))"
        q = self.tsquery(leaf)
        if q is None:
            return "TRUE"
        self.all_text.append(q)
        if not negated:
            self.rank.append(q)
        if f is None:
            return f"(numnode({q}) = 0 OR tsv @@ {q})"
        col, weight = FIELDS[f]
        return f"(numnode({q}) = 0 OR ({col} @@ {q} AND ts_filter({col}, '{{{weight}}}') @@ {q}))"

    def year(self, leaf: Leaf) -> str:
        self.other = True
        v = leaf.value.strip('"').strip()
        m = re.fullmatch(r"\[\s*(\d{1,4})?\s*(?:TO|to)\s*(\d{1,4})?\s*\]", v)
        if m:
            lo, hi = int(m.group(1) or 0), int(m.group(2) or 9999)
            return f"coalesce(year BETWEEN {self.p(min(lo, hi))} AND {self.p(max(lo, hi))}, FALSE)"
        m = re.fullmatch(r"([<>]=?)(\d{1,4})", v)
        if m:
            return f"coalesce(year {m.group(1)} {self.p(int(m.group(2)))}, FALSE)"
        if v.isdigit():
            return f"coalesce(year = {self.p(int(v))}, FALSE)"
        return "FALSE"

    def node(self, n, negated: bool = False) -> str:
        if isinstance(n, Leaf):
            return self.leaf(n, negated)
        if n.op == "not":
            return f"(NOT {self.node(n.children[0], not negated)})"
        joiner = " AND " if n.op == "and" else " OR "
        return "(" + joiner.join(self.node(c, negated) for c in n.children) + ")"

    def compile(self, tree) -> tuple[str, str]:
        """(WHERE condition, ranking tsquery expression)."""
        cond = self.node(tree)
        if not self.other and self.all_text:
            # only stop words (every tsquery empty): nothing to search, as in Whoosh
            cond = f"({cond} AND numnode({' || '.join(self.all_text)}) > 0)"
        elif not self.other:
            cond = "FALSE"
        rank = "(" + " || ".join(self.rank) + ")" if self.rank else "NULL::tsquery"
        return cond, rank


# --- the index --------------------------------------------------------------------------------

UPSERT = """
INSERT INTO search_doc (id, kind, ref_id, key, title, body, authors, venue, year,
    f_phase, f_challenge, f_direction, f_venue, tsv, ftsv, ttsv)
VALUES (:id, :kind, :ref_id, :key, :title, :body, :authors, :venue, :year,
    :f_phase, :f_challenge, :f_direction, :f_venue,
    setweight(to_tsvector({cfg}, :t_title), 'A') || setweight(to_tsvector({cfg}, :t_body), 'B')
    || setweight(to_tsvector({cfg}, :t_c), 'C') || setweight(to_tsvector({cfg}, :t_d), 'D'),
    setweight(to_tsvector({cfg}, :t_authors), 'A') || setweight(to_tsvector({cfg}, :t_venue), 'B')
    || setweight(to_tsvector({cfg}, :t_ident), 'C')
    || setweight(to_tsvector({cfg}, :t_keywords), 'D'),
    setweight(to_tsvector({cfg}, :t_phase), 'A')
    || setweight(to_tsvector({cfg}, :t_challenge), 'B')
    || setweight(to_tsvector({cfg}, :t_direction), 'C'))
ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, ref_id = EXCLUDED.ref_id,
    key = EXCLUDED.key, title = EXCLUDED.title, body = EXCLUDED.body,
    authors = EXCLUDED.authors, venue = EXCLUDED.venue, year = EXCLUDED.year,
    f_phase = EXCLUDED.f_phase, f_challenge = EXCLUDED.f_challenge,
    f_direction = EXCLUDED.f_direction, f_venue = EXCLUDED.f_venue,
    tsv = EXCLUDED.tsv, ftsv = EXCLUDED.ftsv, ttsv = EXCLUDED.ttsv
"""


def _esc(col: str) -> str:
    """SQL for the column's text HTML-escaped (before ts_headline adds its <mark> tags)."""
    return f"replace(replace(replace({col}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')"


_MARKS = "StartSel=<mark>, StopSel=</mark>"
HIGHLIGHT_SQL = f"""
SELECT id,
  ts_headline({{cfg}}, {_esc("title")}, {{q}}, 'HighlightAll=true, {_MARKS}') AS h_title,
  ts_headline({{cfg}}, {_esc("body")}, {{q}},
    'MaxFragments=2, MaxWords=30, MinWords=12, FragmentDelimiter=" … ", {_MARKS}') AS h_text,
  ts_headline({{cfg}}, {_esc("authors")}, {{q}}, 'HighlightAll=true, {_MARKS}') AS h_authors
FROM search_doc WHERE id = ANY(:ids)
"""


class _Writer:
    """What a service sees while it holds the write lock (same shape as the Whoosh writer)."""

    def __init__(self, index: "PostgresIndex", conn: Connection) -> None:
        self.index = index
        self.conn = conn
        self.count = 0

    def update(self, docs: Iterable[dict]) -> None:
        batch: list[dict] = []
        for d in docs:
            batch.append(self.index._row(d))
            if len(batch) >= BATCH:
                self._flush(batch)
                batch = []
        self._flush(batch)

    add = update

    def _flush(self, rows: list[dict]) -> None:
        if not rows:
            return
        self.conn.execute(text(UPSERT.format(cfg=self.index.cfg)), rows)
        self.count += len(rows)
        words: Counter = Counter()
        for r in rows:
            words.update(set(_WORDS.findall(f"{r['title']} {r['body']}".lower())))
        if words:
            self.conn.execute(
                text(
                    "INSERT INTO search_word (word, ndoc) "
                    "SELECT * FROM unnest(CAST(:w AS text[]), CAST(:n AS integer[])) "
                    "ON CONFLICT (word) DO UPDATE SET "
                    "ndoc = GREATEST(search_word.ndoc, EXCLUDED.ndoc)"
                ),
                {"w": list(words), "n": list(words.values())},
            )

    def remove(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids:
            self.conn.execute(
                text("DELETE FROM search_doc WHERE id = ANY(CAST(:ids AS text[]))"), {"ids": ids}
            )


class PostgresIndex:
    """SearchIndex over tables in the app's PostgreSQL database; safe for many processes."""

    def __init__(self, database_url: str, *, lock_timeout: float = 120.0) -> None:
        self.url = database_url
        self.engine = _engine(database_url)
        self.lock_timeout = lock_timeout
        self._caps: dict | None = None
        self._df: tuple[str, dict[str, int], int] | None = None

    # --- capabilities ---------------------------------------------------------------------

    def caps(self) -> dict:
        """Which extensions the migration could use (checked once per process)."""
        if self._caps is None:
            with self.engine.connect() as conn:
                row = conn.execute(
                    text(
                        "SELECT to_regclass('search_doc') IS NOT NULL, "
                        "EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = :c), "
                        "EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')"
                    ),
                    {"c": CONFIG},
                ).one()
                if not row[0] or not row[1]:
                    raise IndexUnavailable(
                        "The PostgreSQL search tables are missing: run `surveykb db upgrade`."
                    )
                folds = conn.execute(
                    text(
                        f"SELECT to_tsvector('{CONFIG}', 'Müller') "
                        f"= to_tsvector('{CONFIG}', 'Muller')"
                    )
                ).scalar()
            self._caps = {"unaccent": bool(folds), "trgm": bool(row[2])}
        return self._caps

    @property
    def cfg(self) -> str:
        return f"'{CONFIG}'::regconfig"

    @property
    def py_fold(self) -> bool:
        return not self.caps()["unaccent"]

    def _row(self, doc: dict) -> dict:
        kind, pk = split_id(doc["id"])
        t = fold if self.py_fold else (lambda x: x)
        year = _s(doc.get("year"))
        row = {
            "id": doc["id"],
            "kind": doc.get("kind") or kind,
            "ref_id": pk,
            "key": _s(doc.get("key")),
            "title": _s(doc.get("title")),
            "body": _s(doc.get("text")),
            "authors": _s(doc.get("authors")),
            "venue": _s(doc.get("venue")),
            "year": int(year) if year.isdigit() else None,
            "f_phase": _list(doc.get("f_phase")),
            "f_challenge": _list(doc.get("f_challenge")),
            "f_direction": _list(doc.get("f_direction")),
            "f_venue": _s(doc.get("f_venue")) or None,
        }
        keywords = _s(doc.get("keywords"))
        row.update(
            t_title=t(row["title"]),
            t_body=t(row["body"]),
            t_c=t(f"{row['authors']} ; {row['venue']} ; {keywords}"),
            t_d=t(f"{_s(doc.get('ident'))} ; {_s(doc.get('taxo'))}"),
            t_authors=t(row["authors"]),
            t_venue=t(row["venue"]),
            t_ident=t(_s(doc.get("ident"))),
            t_keywords=t(keywords),
            t_phase=t(_s(doc.get("phase"))),
            t_challenge=t(_s(doc.get("challenge"))),
            t_direction=t(_s(doc.get("direction"))),
        )
        return row

    # --- state ----------------------------------------------------------------------------

    def _state(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                text("SELECT value FROM search_state WHERE key = :k"), {"k": key}
            ).scalar()

    @staticmethod
    def _set_state(conn: Connection, key: str, value: str) -> None:
        conn.execute(
            text(
                "INSERT INTO search_state (key, value) VALUES (:k, :v) ON CONFLICT (key) "
                "DO UPDATE SET value = EXCLUDED.value, updated_at = now()"
            ),
            {"k": key, "v": value},
        )

    def is_stale(self) -> bool:
        return self._state("stale") is not None

    def mark_stale(self, reason: str = "") -> None:
        try:
            with self.engine.begin() as conn:
                self._set_state(conn, "stale", reason or "stale")
        except Exception:  # pragma: no cover - nothing more we can do
            log.exception("could not mark the search index stale")
        log.warning("search index marked stale: %s", reason)

    def clear_stale(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM search_state WHERE key = 'stale'"))

    def exists(self) -> bool:
        try:
            self.caps()
        except IndexUnavailable:
            return False
        return self._state("schema") is not None

    def rebuild_reason(self) -> str | None:
        if not self.exists():
            return "missing"
        if self._state("schema") != SCHEMA_VERSION:
            return "schema changed"
        reason = self._state("stale")
        return None if reason is None else f"stale: {reason}"

    def create(self) -> None:
        """Empty the index and record the current schema version."""
        with self.writing(clear=True):
            pass

    def close(self) -> None:
        """Nothing to close: the engine is shared by every index on this URL in the process."""

    @contextmanager
    def startup_lock(self) -> Iterator[None]:
        """A cross-process lock for start-up checks (a session-level advisory lock)."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_STARTUP})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_STARTUP})

    # --- writing --------------------------------------------------------------------------

    @contextmanager
    def writing(self, *, bulk: bool | str = False, clear: bool = False) -> Iterator[_Writer]:
        """One transaction holding the write lock; commit on success, roll back on error.

        Read the database inside this block (see app/services/indexing.py)."""
        self.caps()
        with self.engine.begin() as conn:  # rolls back if the block raises
            conn.execute(text(f"SET LOCAL lock_timeout = '{int(self.lock_timeout * 1000)}ms'"))
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_WRITE})
            if clear:
                conn.execute(text("DELETE FROM search_doc"))
                conn.execute(text("DELETE FROM search_word"))
                self._set_state(conn, "schema", SCHEMA_VERSION)
            yield _Writer(self, conn)
            conn.execute(
                text(
                    "INSERT INTO search_state (key, value) VALUES ('generation', '1') "
                    "ON CONFLICT (key) DO UPDATE SET value = "
                    "(search_state.value::bigint + 1)::text, updated_at = now()"
                )
            )

    def index(self, docs: Iterable[dict]) -> None:
        with self.writing() as w:
            w.update(docs)

    def remove(self, ids: Iterable[str]) -> None:
        with self.writing() as w:
            w.remove(ids)

    def rebuild(self, docs: Iterable[dict], *, parallel: bool = False) -> int:
        """Replace the whole content in one transaction (readers see the old rows until then)."""
        with self.writing(bulk=True, clear=True) as w:
            w.add(docs)
            n = w.count
        self.clear_stale()
        return n

    # --- reading --------------------------------------------------------------------------

    def ids(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(text("SELECT id FROM search_doc")).scalars())

    def doc_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM search_doc")).scalar() or 0)

    def _compile(self, tree) -> _Compiler:
        comp = _Compiler(self.cfg, self.py_fold)
        comp.where, comp.rank_q = comp.compile(tree)
        return comp

    def _tree(self, parsed) -> tuple[object | None, str | None]:
        """(tree, notice) for a parsed query; unreadable syntax falls back to plain words."""
        try:
            return parse_tree(parsed.text), None
        except Exception as exc:  # QuerySyntax, or anything odd: never an error for the user
            log.info("query %r not readable here (%s); searching plain words", parsed.text, exc)
        words = qlang.plain_words(parsed.text)
        if not words:
            return None, None
        plain = " ".join(words)
        notice = (
            "Your query could not be run as search syntax, so it was searched as the "
            f"plain words “{plain}”."
        )
        return words_tree(words), notice

    def _matches(self, conn: Connection, comp: _Compiler, kind: str | None = None):
        where = comp.where + (" AND kind = :_kind" if kind else "")
        params = {**comp.params, **({"_kind": kind} if kind else {})}
        sql = (
            "SELECT id, kind, ref_id, year, f_venue, f_phase, f_challenge, f_direction, "
            f"coalesce(ts_rank('{RANK_WEIGHTS}', tsv, {comp.rank_q}, 1), 0) AS score "
            f"FROM search_doc WHERE {where} ORDER BY score DESC, kind, ref_id"
        )
        return conn.execute(text(sql), params).all()

    def search(
        self,
        query: str,
        filters: SearchFilters | None = None,
        kind: str | None = None,
        page: int = 1,
        per_page: int = 20,
        facets: bool = True,
        highlight: bool = True,
    ) -> SearchResult:
        from app.search.whoosh_backend import make_schema_cached

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
        tree, notice = self._tree(parsed)
        if tree is None:
            return result
        if notice:
            result.query, result.notice = " ".join(qlang.plain_words(parsed.text)), notice
        with self.engine.connect() as conn:
            comp = self._compile(tree)
            self._fill(conn, result, comp, filters, kind, facets, highlight)
            if result.total == 0 and parsed.words:
                self._suggest(conn, result, parsed, filters, kind, facets, highlight)
                if result.total == 0 and len(parsed.words) > 1 and qlang.is_plain(parsed.text):
                    loose = self._compile(words_tree(parsed.words, "or"))
                    probe = SearchResult(query=parsed.text, hits=[], total=0, page=page)
                    probe.per_page = per_page
                    self._fill(conn, probe, loose, filters, kind, facets, highlight)
                    if probe.total:
                        result.hits, result.total = probe.hits, probe.total
                        result.facets, result.kinds = probe.facets, probe.kinds
                        result.notice = (
                            f"No result contains all of “{parsed.text}”; showing results that "
                            "contain some of the words, best matches first."
                        )
            elif result.total < 3 and parsed.words:
                result.suggestion = self._suggestion(conn, parsed, result.total)
        return result

    @staticmethod
    def _passes(row, name: str, filters: SearchFilters) -> bool:
        if name == "year":
            if not (filters.year or filters.year_from is not None or filters.year_to is not None):
                return True
            if row.year is None:
                return False
            if str(row.year) in filters.year:
                return True
            if filters.year_from is None and filters.year_to is None:
                return False
            return (filters.year_from or 0) <= row.year <= (filters.year_to or 9999)
        values = getattr(filters, name)
        if not values:
            return True
        if name == "venue":
            return row.f_venue in values
        have = getattr(row, f"f_{name}") or []
        return any(v in have for v in values)

    @staticmethod
    def _facet_values(row, name: str) -> list[str]:
        if name == "year":
            return [str(row.year)] if row.year is not None else []
        if name == "venue":
            return [row.f_venue] if row.f_venue else []
        return list(getattr(row, f"f_{name}") or [])

    def _fill(self, conn, result, comp, filters, kind, facets, highlight) -> None:
        rows = self._matches(conn, comp)
        names = [n for n in ("phase", "challenge", "direction", "venue", "year") if n]
        ok = {r.id: {n: self._passes(r, n, filters) for n in names} for r in rows}

        def restricted(skip: str | None = None) -> list:
            return [r for r in rows if all(v for n, v in ok[r.id].items() if n != skip)]

        filtered = restricted()
        result.kinds = {k: sum(1 for r in filtered if r.kind == k) for k in KINDS}
        hits = [r for r in filtered if kind is None or r.kind == kind]
        result.total = len(hits)
        if facets:
            for name in FACETS:
                counts: Counter = Counter()
                for r in restricted(skip=name):
                    if kind is None or r.kind == kind:
                        counts.update(self._facet_values(r, name))
                result.facets[name] = [
                    {"value": v, "count": n}
                    for v, n in sorted(counts.items(), key=lambda x: (-x[1], x[0]))
                ]
        start = (result.page - 1) * result.per_page
        shown = hits[start : start + result.per_page]
        if not shown:
            return
        ids = [r.id for r in shown]
        details = {
            d.id: d
            for d in conn.execute(
                text(
                    "SELECT id, kind, key, title, body, authors, venue, year FROM search_doc "
                    "WHERE id = ANY(CAST(:ids AS text[]))"
                ),
                {"ids": ids},
            )
        }
        marks: dict[str, dict[str, str]] = {}
        if highlight and comp.rank:
            sql = HIGHLIGHT_SQL.format(cfg=self.cfg, q=comp.rank_q)
            for h in conn.execute(text(sql), {**comp.params, "ids": ids}):
                marks[h.id] = {
                    f: v
                    for f, v in (("title", h.h_title), ("text", h.h_text), ("authors", h.h_authors))
                    if v and "<mark>" in v
                }
        for r in shown:
            d = details.get(r.id)
            if d is None:  # removed since the ranked query: skip
                continue
            stored = {
                "id": d.id,
                "kind": d.kind,
                "key": d.key,
                "title": d.title,
                "text": d.body,
                "authors": d.authors,
                "venue": d.venue,
                "year": str(d.year) if d.year is not None else "",
            }
            result.hits.append(
                Hit(
                    id=d.id,
                    kind=d.kind,
                    key=d.key,
                    title=d.title,
                    score=round(float(r.score or 0.0), 4),
                    highlights=marks.get(r.id, {}),
                    stored=stored,
                )
            )

    # --- did you mean -----------------------------------------------------------------------

    def _known(self, conn, word: str) -> bool:
        w = fold(word) if self.py_fold else word
        return bool(
            conn.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM search_doc WHERE "
                    f"tsv @@ websearch_to_tsquery({self.cfg}, :w))"
                ),
                {"w": f'"{w}"'},
            ).scalar()
        )

    def _close_word(self, conn, word: str) -> str | None:
        if self.caps()["trgm"]:
            conn.execute(text("SET pg_trgm.similarity_threshold = 0.2"))
            cands = conn.execute(
                text(
                    "SELECT word, ndoc FROM search_word WHERE word % :w "
                    "ORDER BY similarity(word, :w) DESC, ndoc DESC LIMIT 20"
                ),
                {"w": word},
            ).all()
        else:
            cands = conn.execute(
                text(
                    "SELECT word, ndoc FROM search_word WHERE left(word, 1) = left(:w, 1) "
                    "AND length(word) BETWEEN :lo AND :hi ORDER BY ndoc DESC LIMIT 5000"
                ),
                {"w": word, "lo": len(word) - 2, "hi": len(word) + 2},
            ).all()
        best = None
        for w, ndoc in cands:
            if w == word:
                continue
            d = _distance(word, w)
            if d <= 2 and (best is None or (d, -ndoc) < best[0]):
                best = ((d, -ndoc), w)
        return best[1] if best else None

    def _suggestion(self, conn, parsed, total: int = 0) -> str | None:
        """The query with unknown words replaced by close words from the vocabulary; offered
        only when it finds more than the query did (as in the Whoosh backend)."""
        from app.search.whoosh_backend import make_schema_cached

        out, changed = [], False
        for w in parsed.words:
            low = w.lower()
            if len(low) < 3 or not low.isalpha() or self._known(conn, low):
                out.append(w)
                continue
            cand = self._close_word(conn, low)
            if cand and cand != low:
                out.append(cand)
                changed = True
            else:
                out.append(w)
        if not changed:
            return None
        suggestion = " ".join(out)
        fixed = qlang.parse(suggestion, make_schema_cached())
        if fixed.query is None:
            return None
        tree, _ = self._tree(fixed)
        if tree is None:
            return None
        comp = self._compile(tree)
        n = conn.execute(
            text(f"SELECT count(*) FROM search_doc WHERE {comp.where}"), comp.params
        ).scalar()
        return suggestion if n > total else None

    def _suggest(self, conn, result, parsed, filters, kind, facets, highlight) -> None:
        from app.search.whoosh_backend import make_schema_cached

        suggestion = self._suggestion(conn, parsed)
        if not suggestion:
            return
        result.suggestion = suggestion
        if parsed.fallback or any(c in parsed.text for c in ':"*()'):
            return  # keep the user's syntax; only offer the link
        fixed = qlang.parse(suggestion, make_schema_cached())
        tree, _ = self._tree(fixed)
        if tree is None:
            return
        probe = SearchResult(query=fixed.text, hits=[], total=0, page=result.page)
        probe.per_page = result.per_page
        self._fill(conn, probe, self._compile(tree), filters, kind, facets, highlight)
        if probe.total:
            result.hits, result.total = probe.hits, probe.total
            result.facets, result.kinds = probe.facets, probe.kinds
            result.notice = (
                f"No results for “{parsed.text}”. Showing results for “{suggestion}” instead."
            )

    # --- ranked ids and related documents -------------------------------------------------

    def ranked_ids(self, query: str, kind: str = "paper", limit: int | None = None) -> list[int]:
        from app.search.whoosh_backend import make_schema_cached

        parsed = qlang.parse(query, make_schema_cached())
        if parsed.query is None:
            return []
        tree, _ = self._tree(parsed)
        if tree is None:
            return []
        with self.engine.connect() as conn:
            rows = self._matches(conn, self._compile(tree), kind=kind)
        ids = [r.ref_id for r in rows]
        return ids[:limit] if limit else ids

    def _doc_freqs(self, conn) -> tuple[dict[str, int], int]:
        """Lexeme -> number of documents, cached until the next write (any process)."""
        gen = conn.execute(text("SELECT value FROM search_state WHERE key = 'generation'")).scalar()
        gen = str(gen)
        if self._df is None or self._df[0] != gen:
            stat = "SELECT word, ndoc FROM ts_stat('SELECT tsv FROM search_doc')"
            rows = conn.execute(text(stat))
            df = {word: ndoc for word, ndoc in rows}
            n = int(conn.execute(text("SELECT count(*) FROM search_doc")).scalar() or 0)
            self._df = (gen, df, n)
        return self._df[1], self._df[2]

    def more_like(self, id: str, limit: int = 5) -> list[Hit]:
        """Same-kind documents sharing the most distinctive title and abstract words."""
        with self.engine.connect() as conn:
            src = conn.execute(
                text(
                    "SELECT kind, u.lexeme, u.weights FROM search_doc, "
                    "unnest(ts_filter(tsv, '{a,b}')) AS u WHERE id = :id"
                ),
                {"id": id},
            ).all()
            if not src:
                return []
            kind = src[0].kind
            df, n = self._doc_freqs(conn)
            weights: dict[str, float] = {}
            for _, lex, ws in src:
                d = df.get(lex, 1)
                if d < 2 or len(lex) < 3 or lex.isdigit():
                    continue  # only in this document, or too short to mean anything
                tf = sum(2.0 if w == "A" else 1.0 for w in ws)
                weights[lex] = tf * math.log(1 + n / d)
            top = sorted(weights.items(), key=lambda x: -x[1])[:15]
            if not top:
                return []
            rows = conn.execute(
                text(
                    "SELECT d.id, d.kind, d.key, d.title, sum(t.w) AS score FROM search_doc d, "
                    "unnest(d.tsv) AS u, unnest(CAST(:lex AS text[]), CAST(:w AS float8[])) "
                    "AS t(lex, w) WHERE d.kind = :kind AND d.id <> :id AND u.lexeme = t.lex "
                    "GROUP BY d.id, d.kind, d.key, d.title ORDER BY score DESC, d.id LIMIT :n"
                ),
                {
                    "lex": [t[0] for t in top],
                    "w": [t[1] for t in top],
                    "kind": kind,
                    "id": id,
                    "n": limit,
                },
            ).all()
        return [
            Hit(id=r.id, kind=r.kind, key=r.key, title=r.title, score=round(float(r.score), 4))
            for r in rows
        ]


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (the words are short)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]
