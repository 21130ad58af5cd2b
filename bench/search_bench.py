"""Search benchmark: the Whoosh backend vs SQLite FTS5 on the same synthetic corpus, same run.

Prints figures, asserts nothing. Default 10,000 papers (about a minute or two);
`--n 100000` for the large run (tens of minutes: Whoosh indexes a few hundred docs/s).

    .venv/bin/python bench/search_bench.py [--n 10000] [--queries 40] [--parallel] [--keep DIR]
    .venv/bin/python bench/search_bench.py --n 100000 --keep DIR --reuse   # queries only

Reported: build rate (docs/s) and index size; seconds until an import of 10,000 papers into
the existing index is searchable (--incremental); per query kind p50/p95 latency in ms with the
top 20 highlighted, for the app's search path (WhooshIndex.search: total, kind counts, facet
counts, highlights of the page shown) and for FTS5 (bm25 top 20 with snippet()); and what the
engineering choices buy (long-lived searcher, facet-set cache, highlighting only the page).
"""

import argparse
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from itertools import accumulate
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.search.base import SearchFilters  # noqa: E402
from app.search.whoosh_backend import WhooshIndex  # noqa: E402

TERMS = (
    "language model llm code generation program repair testing test oracle evaluation benchmark "
    "prompt injection jailbreak hallucination fine-tuning alignment requirements specification "
    "dataset data quality deduplication contamination leakage privacy memorization serving "
    "inference latency quantization pruning distillation compression deployment monitoring "
    "maintenance unlearning editing forgetting continual agents tools retrieval reasoning "
    "robustness adversarial fairness bias toxicity safety security supply chain provenance "
    "license documentation software engineering developers empirical study survey framework "
    "approach technique metric judge human annotation synthetic instruction feedback "
    "reinforcement preference reward scaling training optimization parallelism memory gpu "
    "throughput efficiency energy carbon cost regression compatibility version drift merging"
).split()
FILLER = (
    "the of and to in a for we is on that with this by are as our from an be which can it "
    "results show propose novel method paper new using based two three across over more than "
    "significantly improve existing several both while however also these such its into"
).split()
PHRASES = [
    "large language model",
    "program repair",
    "test oracle",
    "prompt injection",
    "data contamination",
    "code generation",
    "model editing",
    "catastrophic forgetting",
]
NAMES = "Müller Zhang Wang Li Chen Smith García Núñez Okafor Søren Dvořák Kowalski Rao Hou".split()
GIVEN = "Jörg Li Wei Ana José Ngozi Piet Jane Xin Yuki Amélie Lars".split()
VENUES = [
    "ICSE",
    "FSE",
    "ASE",
    "ISSTA",
    "TOSEM",
    "TSE",
    "NeurIPS",
    "ICML",
    "ICLR",
    "ACL",
    "EMNLP",
    "NAACL",
    "arXiv",
    "MSR",
    "SANER",
    "ICSME",
]
PHASES = ["requirements", "data", "model", "evaluation", "deployment", "maintenance"]
CHALLENGES = [f"{p}-challenge-{i}" for p in PHASES for i in range(5)]


_CUM: dict[tuple[int, float], list[float]] = {}


def zipf_pick(rng: random.Random, words: list[str], s: float = 1.05) -> str:
    # Cumulative weights computed once: the same picks as rng.choices(words, weights), faster.
    cum = _CUM.get((len(words), s))
    if cum is None:
        cum = _CUM[len(words), s] = list(accumulate(1 / (i + 1) ** s for i in range(len(words))))
    return rng.choices(words, cum_weights=cum)[0]


def make_corpus(n: int, seed: int = 42) -> list[dict]:
    rng = random.Random(seed)
    tail = [f"w{rng.randrange(40000):05d}x" for _ in range(5000)]
    vocab = TERMS + FILLER
    docs = []
    for i in range(n):

        def sentence(k: int) -> str:
            words = []
            for _ in range(k):
                r = rng.random()
                words.append(
                    zipf_pick(rng, FILLER)
                    if r < 0.45
                    else rng.choice(tail)
                    if r < 0.55
                    else zipf_pick(rng, vocab)
                )
            return " ".join(words)

        title = sentence(rng.randint(8, 14)).capitalize()
        if rng.random() < 0.3:
            title += " for " + rng.choice(PHRASES)
        abstract = ". ".join(sentence(rng.randint(15, 30)) for _ in range(rng.randint(6, 9)))
        for _ in range(rng.randint(1, 3)):
            abstract += f". We study {rng.choice(PHRASES)} in practice"
        phases = rng.sample(PHASES, rng.randint(1, 2))
        chs = [c for c in rng.sample(CHALLENGES, 3) if c.split("-")[0] in phases] or [
            f"{phases[0]}-challenge-0"
        ]
        authors = [f"{rng.choice(GIVEN)} {rng.choice(NAMES)}" for _ in range(rng.randint(1, 8))]
        venue = rng.choice(VENUES)
        docs.append(
            {
                "id": f"paper:{i + 1}",
                "kind": "paper",
                "key": f"p{i + 1}",
                "title": title,
                "text": abstract,
                "authors": "; ".join(authors),
                "venue": venue,
                "year": str(rng.randint(2015, 2025)),
                "keywords": " ".join(rng.sample(TERMS, rng.randint(2, 6))),
                "ident": [f"p{i + 1}"],
                "phase": " ; ".join(phases),
                "challenge": " ; ".join(chs),
                "taxo": " ; ".join(phases + chs),
                "f_phase": phases,
                "f_challenge": chs,
                "f_venue": venue,
            }
        )
    return docs


QUERY_KINDS = {
    "single": lambda r: r.choice(TERMS[:40]),
    "and2": lambda r: f"{r.choice(TERMS[:40])} {r.choice(TERMS[:60])}",
    "phrase": lambda r: f'"{r.choice(PHRASES)}"',
    "prefix": lambda r: r.choice(["eval", "gener", "comp", "mod", "test", "data", "prom"]) + "*",
    "field": lambda r: f"title:{r.choice(TERMS[:40])}",
    "2facets": lambda r: r.choice(TERMS[:40]),  # + phase and year filters
}


def fts_query(kind: str, q: str) -> str:
    cols = "{title abstract authors venue keywords}"
    if kind == "single" or kind == "2facets":
        return f'{cols} : "{q}"'
    if kind == "and2":
        a, b = q.split()
        return f'{cols} : ("{a}" AND "{b}")'
    if kind == "phrase":
        return f"{{title abstract}} : {q}"
    if kind == "prefix":
        return f'{cols} : "{q[:-1]}"*'
    if kind == "field":
        return f'title : "{q.split(":", 1)[1]}"'
    raise ValueError(kind)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def build_fts(path: Path, docs: list[dict]) -> float:
    t = time.perf_counter()
    con = sqlite3.connect(path)
    con.execute(
        "CREATE VIRTUAL TABLE fts USING fts5(title, abstract, authors, venue, keywords, "
        "tokenize='porter unicode61 remove_diacritics 2')"
    )
    con.execute("CREATE TABLE meta(id INTEGER PRIMARY KEY, year INT, venue TEXT)")
    con.execute("CREATE TABLE phase(paper INT, slug TEXT)")
    con.execute("CREATE INDEX ix_phase ON phase(slug, paper)")
    con.execute("CREATE INDEX ix_year ON meta(year)")
    with con:
        for i, d in enumerate(docs, 1):
            con.execute(
                "INSERT INTO fts(rowid, title, abstract, authors, venue, keywords) "
                "VALUES (?,?,?,?,?,?)",
                (i, d["title"], d["text"], d["authors"], d["venue"], d["keywords"]),
            )
            con.execute("INSERT INTO meta VALUES (?,?,?)", (i, int(d["year"]), d["venue"]))
            con.executemany("INSERT INTO phase VALUES (?,?)", [(i, p) for p in d["f_phase"]])
    con.close()
    return time.perf_counter() - t


def run_fts(con, kind: str, q: str, facet: tuple[str, int] | None) -> int:
    sql = (
        "SELECT rowid, title, snippet(fts, 1, '<mark>', '</mark>', '…', 24) FROM fts "
        "WHERE fts MATCH ?"
    )
    args: list = [fts_query(kind, q)]
    # "+rowid": filter the full-text matches; a plain `rowid IN (...)` is handed to FTS5 as a
    # rowid constraint and it re-runs the MATCH per allowed row (minutes per query at 100k).
    facet_sql = (
        " AND +rowid IN (SELECT paper FROM phase WHERE slug = ?) "
        "AND +rowid IN (SELECT id FROM meta WHERE year = ?)"
    )
    if facet:
        sql += facet_sql
        args += list(facet)
    rows = con.execute(sql + " ORDER BY rank LIMIT 20", args).fetchall()
    total = con.execute(
        "SELECT count(*) FROM fts WHERE fts MATCH ?" + (facet_sql if facet else ""), args
    ).fetchone()[0]
    return len(rows) + 0 * total


def dir_size(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=40, help="per query kind")
    ap.add_argument("--parallel", action="store_true", help="build with two processes")
    ap.add_argument("--keep", type=Path, help="keep the indexes in this directory")
    ap.add_argument(
        "--reuse", action="store_true", help="reuse the indexes kept in --keep (skip the build)"
    )
    ap.add_argument(
        "--incremental",
        type=int,
        default=10_000,
        help="papers imported into a copy of the built index (0: skip)",
    )
    args = ap.parse_args()
    rng = random.Random(7)
    work = args.keep or Path(tempfile.mkdtemp(prefix="searchbench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"surveykb search benchmark: {args.n:,} synthetic papers, {args.queries} queries/kind")
    t = time.perf_counter()
    docs = make_corpus(args.n)
    print(f"corpus generated in {time.perf_counter() - t:.1f} s")

    # --- build ---------------------------------------------------------------------------
    wpath = work / "whoosh"
    fpath = work / "fts.sqlite3"
    index = WhooshIndex(wpath)
    reuse = args.reuse and fpath.exists() and index.rebuild_reason() is None
    if reuse and index.doc_count() < args.n:
        sys.exit(f"{wpath} holds {index.doc_count():,} documents, fewer than --n; drop --reuse")
    if reuse:
        print(f"\n== build skipped: reusing {wpath} ({index.doc_count():,} docs) and {fpath}")
    else:
        shutil.rmtree(wpath, ignore_errors=True)
        index = WhooshIndex(wpath)
        t = time.perf_counter()
        index.rebuild(iter(docs), parallel=args.parallel)
        wb = time.perf_counter() - t
        fpath.unlink(missing_ok=True)
        fb = build_fts(fpath, docs)
        print("\n== build")
        print(f"{'engine':<10} {'seconds':>8} {'docs/s':>8} {'size MB':>8}")
        print(f"{'whoosh':<10} {wb:8.1f} {args.n / wb:8.0f} {dir_size(wpath):8.1f}")
        print(f"{'fts5':<10} {fb:8.1f} {args.n / fb:8.0f} {fpath.stat().st_size / 1e6:8.1f}")
        print(f"10,000 entries searchable after ~{10_000 / (args.n / wb):.0f} s of indexing")

    # --- small batch written into the big index (an import of 100 entries) -----------------
    extra = make_corpus(100, seed=99)
    for i, d in enumerate(extra):
        d["id"] = f"paper:{args.n + 1 + i}"
    t = time.perf_counter()
    index.index(extra)
    index.search("model", per_page=1)  # reopen the searcher and rebuild the facet cache
    inc = time.perf_counter() - t
    print(f"add 100 papers to the index, commit and first search after: {inc:.2f} s")

    # --- queries ---------------------------------------------------------------------------
    con = sqlite3.connect(fpath)
    queries = {k: [fn(rng) for _ in range(args.queries)] for k, fn in QUERY_KINDS.items()}
    facet_args = [(rng.choice(PHASES), rng.randint(2015, 2025)) for _ in range(args.queries)]
    for k in ("single", "phrase"):  # warm both engines
        for q in queries[k][:5]:
            index.search(q)
            run_fts(con, k, q, None)
    print("\n== query latency, top 20 highlighted (ms): whoosh = app path with total, facets")
    print(f"{'kind':<9} {'whoosh p50':>10} {'p95':>7} {'fts5 p50':>9} {'p95':>7} {'ratio p50':>9}")
    for kind, qs in queries.items():
        wt, ft = [], []
        for i, q in enumerate(qs):
            filters = None
            facet = None
            if kind == "2facets":
                facet = facet_args[i]
                filters = SearchFilters(phase=[facet[0]], year=[str(facet[1])])
            t = time.perf_counter()
            index.search(q, filters=filters, kind="paper", per_page=20)
            wt.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            run_fts(con, kind, q, facet)
            ft.append((time.perf_counter() - t) * 1000)
        w50, w95, f50, f95 = pct(wt, 50), pct(wt, 95), pct(ft, 50), pct(ft, 95)
        print(
            f"{kind:<9} {w50:10.1f} {w95:7.1f} {f50:9.1f} {f95:7.1f} {w50 / max(f50, 0.01):9.1f}x"
        )

    # --- what the engineering bought --------------------------------------------------------
    print("\n== what each choice buys (whoosh, 'single' queries, p50 ms)")
    qs = queries["single"]

    def timed(fn) -> float:
        ts = []
        for q in qs:
            t = time.perf_counter()
            fn(q)
            ts.append((time.perf_counter() - t) * 1000)
        return pct(ts, 50)

    base = timed(lambda q: index.search(q, per_page=20))
    print(f"app path (long-lived searcher, cached facet sets, page highlighted): {base:.1f}")

    def fresh(q):
        index.close()  # drops the searcher and its caches, as a per-request open would
        index.search(q, per_page=20)

    print(f"new searcher + cold facet cache per query:                          {timed(fresh):.1f}")
    print(
        "no highlighting:                                                    "
        f"{timed(lambda q: index.search(q, per_page=20, highlight=False)):.1f}"
    )
    print(
        "no facet counts:                                                    "
        f"{timed(lambda q: index.search(q, per_page=20, facets=False)):.1f}"
    )

    def hl_all(q):  # highlight 100 hits instead of the 20 shown
        index.search(q, per_page=100)

    print(
        f"highlighting 100 hits instead of the page of 20:                    {timed(hl_all):.1f}"
    )
    # --- a big import into the existing index (on a copy, so the kept index stays at N) ------
    if args.incremental:
        ipath = work / "whoosh-incremental"
        shutil.rmtree(ipath, ignore_errors=True)
        index.close()
        shutil.copytree(wpath, ipath)
        inc_index = WhooshIndex(ipath)
        inc_index.search("model", per_page=1)  # a warm app: searcher open, facet cache built
        batch = make_corpus(args.incremental, seed=1234)
        for i, d in enumerate(batch):
            d["id"] = f"paper:{10 * args.n + 1 + i}"
        t = time.perf_counter()
        with inc_index.writing() as w:  # what an import's index sync does (update by id)
            w.update(batch)
        committed = time.perf_counter() - t
        found = inc_index.search("model", per_page=20).total
        searchable = time.perf_counter() - t
        segs = len(list(inc_index._get_searcher().reader().leaf_readers()))
        print(
            f"\n== incremental: {args.incremental:,} new papers into the existing "
            f"{args.n:,} index: committed in {committed:.1f} s, searchable after "
            f"{searchable:.1f} s ({args.incremental / searchable:.0f} docs/s; {segs} segments, "
            f"'model' now finds {found:,})"
        )
        inc_index.close()
        shutil.rmtree(ipath, ignore_errors=True)
    print(f"\nindexes in {work}" + ("" if args.keep else " (temporary)"))
    con.close()
    index.close()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
