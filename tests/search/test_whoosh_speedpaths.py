"""The Whoosh backend's fast paths give the same answers as Whoosh itself.

The cached prose analyser must produce the filter chain's tokens; the bulk evaluator's hit sets,
scores and rankings must equal Whoosh's exhaustive ones (also over several segments and with
deleted documents); totals and facet counts must equal a brute-force count over the stored
documents; and a write by another index object (another worker process) must be seen.
"""

import random

import pytest
from whoosh.formats import Positions

from app.search import query as qlang
from app.search.analysis import prose_analyzer, slow_prose_analyzer
from app.search.base import SearchFilters
from app.search.whoosh_backend import WhooshIndex, _decode_positions, _ids_of, make_schema_cached

WORDS = (
    "language model code generation program repair testing test oracle evaluation benchmark "
    "prompt injection hallucination fine-tuning alignment dataset contamination leakage privacy "
    "serving inference quantization agents retrieval reasoning robustness fairness safety "
    "the of and to in for we is on with results show novel method approach"
).split()
PHRASES = ["large language model", "program repair", "test oracle", "prompt injection"]
PHASES = ["requirements", "data", "model", "evaluation", "deployment"]
VENUES = ["ICSE", "FSE", "NeurIPS", "ACL", "arXiv"]
NAMES = ["Müller", "Zhang", "García", "Okafor", "Smith"]

TRICKY = [
    "non-determinism in ChatGPT-4 and GPT-4o, the Müller–Núñez O'Neil’s e.g. x86_64 v1.2.3",
    "_ __init__ a--b The of and LLM-based fine-tuning l'été 3D-printing COVID19 XML2JSON",
    "",
    "   ",
    "The",
    "testing tests tested Tests TESTING",
]


def corpus(n: int, seed: int = 5) -> list[dict]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):

        def words(k: int) -> str:
            return " ".join(rng.choice(WORDS) for _ in range(k))

        phases = rng.sample(PHASES, rng.randint(1, 2))
        title = words(rng.randint(4, 9)).capitalize()
        text = ". ".join(words(rng.randint(8, 16)) for _ in range(4))
        if rng.random() < 0.4:
            text += f". We study {rng.choice(PHRASES)} here"
        if rng.random() < 0.2:
            title += " for " + rng.choice(PHRASES)
        venue = rng.choice(VENUES)
        docs.append(
            {
                "id": f"paper:{i + 1}",
                "kind": "paper",
                "key": f"p{i + 1}",
                "title": title,
                "text": text,
                "authors": f"Ana {rng.choice(NAMES)}; Wei {rng.choice(NAMES)}",
                "venue": venue,
                "year": str(rng.randint(2018, 2024)),
                "keywords": words(3),
                "ident": [f"p{i + 1}"],
                "phase": " ; ".join(phases),
                "taxo": " ; ".join(phases),
                "f_phase": phases,
                "f_challenge": [f"{phases[0]}-challenge-{rng.randint(0, 2)}"],
                "f_venue": venue,
            }
        )
    return docs


QUERIES = [
    "model",
    "testing",
    "language model",
    "prompt reasoning",
    '"program repair"',
    '"large language model"',
    "eval*",
    "gener*",
    "title:model",
    "abstract:oracle",
    "model -testing",
    "model OR oracle",
    "(model testing) OR oracle",
    "(model -testing) OR safety",
    '"program repair" OR fairness',
    "kind:paper (eval* OR title:model)",
    "author:muller",
    "year:2020..2022 model",
    "phase:data model",
    "venue:icse safety",
    "nonexistentword",
]


def whoosh_exhaustive(s, q) -> list[tuple[int, float]]:
    """Whoosh's own ranking over every match (no block-quality shortcuts)."""
    c = s.collector(limit=None)
    s.search_with_collector(q, c, context=s.context(needs_current=True))
    return [(h.docnum, h.score) for h in c.results()]


def brute(docs: list[dict], ids: set[str], filters: SearchFilters | None = None):
    """Total and facet counts computed from the documents themselves."""
    filters = filters or SearchFilters()
    rows = [d for d in docs if d["id"] in ids]

    def keep(d, skip=None):
        if skip != "phase" and filters.phase and not set(filters.phase) & set(d["f_phase"]):
            return False
        if skip != "year" and filters.year and d["year"] not in filters.year:
            return False
        return True

    total = sum(keep(d) for d in rows)
    facets = {}
    for name, values in (
        ("phase", lambda d: d["f_phase"]),
        ("year", lambda d: [d["year"]]),
        ("venue", lambda d: [d["f_venue"]]),
        ("challenge", lambda d: d["f_challenge"]),
    ):
        counts: dict[str, int] = {}
        for d in rows:
            if keep(d, skip=name):
                for v in values(d):
                    counts[v] = counts.get(v, 0) + 1
        facets[name] = counts
    return total, facets


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    return corpus(600)


@pytest.fixture(scope="module")
def built(tmp_path_factory, docs) -> WhooshIndex:
    """Three segments (two separate commits of new documents) and some deletions."""
    ix = WhooshIndex(tmp_path_factory.mktemp("speed") / "ix")
    ix.rebuild(iter(docs[:400]))
    ix.index(docs[400:500])
    ix.index(docs[500:])
    ix.remove(["paper:3", "paper:450", "paper:599"])
    return ix


def live_docs(docs):
    gone = {"paper:3", "paper:450", "paper:599"}
    return [d for d in docs if d["id"] not in gone]


def test_cached_prose_analyzer_gives_the_filter_chains_tokens(docs):
    fast, slow = prose_analyzer(), slow_prose_analyzer()
    texts = TRICKY + [d["title"] for d in docs[:50]] + [d["text"] for d in docs[:50]]
    modes = [
        {},
        {"positions": True},
        {"positions": True, "chars": True, "start_pos": 3, "start_char": 5},
        {"no_morph": True},
        {"no_morph": True, "positions": True},
        {"mode": "query"},
        {"tokenize": False},
        {"removestops": False, "positions": True, "chars": True, "mode": "index"},
        {"removestops": False, "no_morph": True},
    ]

    def toks(an, text, kw):
        return [
            (t.text, getattr(t, "pos", None), getattr(t, "startchar", None), t.stopped, t.boost)
            for t in an(text, **kw)
        ]

    for kw in modes:
        for text in texts:
            for _ in range(2):  # the second time from the cache
                assert toks(fast, text, kw) == toks(slow, text, kw), (kw, text)


def test_positions_decoder_matches_whoosh():
    fmt = Positions()
    for poses in ([0], [3, 5, 9], [1, 300, 70_000, 70_001]):
        value = fmt.encode(poses)
        assert _decode_positions(value) == fmt.decode_positions(value) == poses


def test_hit_sets_scores_and_ranking_equal_whoosh_over_segments_and_deletions(built):
    s = built._get_searcher()
    assert len(list(s.reader().leaf_readers())) > 1
    bulk = built._bulk_for(s)
    for text in QUERIES:
        q = qlang.parse(text, make_schema_cached()).query
        ref = whoosh_exhaustive(s, q)
        mask = bulk.mask(q)
        assert set(_ids_of(mask, bulk.n)) == {d for d, _ in ref}, text
        scores = bulk.scores(q, mask)
        for d, score in ref:
            assert scores[d] == pytest.approx(score, rel=1e-12), text
        res = built.search(text, per_page=20, highlight=False, facets=False)
        assert res.total == len(ref), text
        got = [h.id for h in res.hits]
        want = [s.stored_fields(d)["id"] for d, _ in ref[:20]]
        assert got == want, text


def test_totals_and_facet_counts_equal_a_brute_force_count(built, docs):
    s = built._get_searcher()
    live = live_docs(docs)
    cases = [
        ("model", None),
        ("language model", SearchFilters(phase=["data"])),
        ('"test oracle"', SearchFilters(year=["2020", "2021"])),
        ("eval*", SearchFilters(phase=["model", "evaluation"], year=["2019"])),
    ]
    for text, filters in cases:
        q = qlang.parse(text, make_schema_cached()).query
        ids = {s.stored_fields(d)["id"] for d in s.docs_for_query(q)}
        total, facets = brute(live, ids, filters)
        res = built.search(text, filters=filters, kind="paper", highlight=False)
        assert res.total == total, text
        assert res.kinds["paper"] == total
        for name, counts in facets.items():
            assert {f["value"]: f["count"] for f in res.facets[name]} == counts, (text, name)


def test_highlights_escape_and_mark_only_the_matched_words(tmp_path):
    ix = WhooshIndex(tmp_path / "ix")
    ix.rebuild(
        [
            {
                "id": "paper:1",
                "kind": "paper",
                "title": "Testing <script> oracles & models",
                "text": "We test the oracle problem of a <b>model</b>.",
            }
        ]
    )
    res = ix.search("testing oracle")
    hl = res.hits[0].highlights
    assert hl["title"] == "<mark>Testing</mark> &lt;script&gt; <mark>oracles</mark> &amp; models"
    assert "<mark>test</mark>" in hl["text"] and "<mark>oracle</mark>" in hl["text"]
    assert "&lt;b&gt;model" in hl["text"] and "<b>" not in hl["text"]


def test_a_write_by_another_worker_is_seen_by_the_next_search(tmp_path, docs):
    path = tmp_path / "ix"
    reader = WhooshIndex(path)
    reader.rebuild(iter(docs[:100]))
    before = reader.search("model", filters=SearchFilters(phase=["data"]))
    assert reader.search("model", filters=SearchFilters(phase=["data"])).total == before.total

    other = WhooshIndex(path)  # another process writing the same directory
    new = [dict(d, id=f"paper:{1000 + i}", f_phase=["data"]) for i, d in enumerate(docs[:100])]
    other.index(new)
    other.remove([docs[0]["id"]])
    other.close()

    after = reader.search("model", filters=SearchFilters(phase=["data"]))
    s = reader._get_searcher()
    q = qlang.parse("model", make_schema_cached()).query
    ids = {s.stored_fields(d)["id"] for d in s.docs_for_query(q)}
    total, facets = brute(live_docs(docs[:100]) + new, ids, SearchFilters(phase=["data"]))
    if docs[0]["id"] in ids:  # pragma: no cover - removed above
        pytest.fail("a removed document is still found")
    assert after.total == total > before.total
    assert {f["value"]: f["count"] for f in after.facets["phase"]} == facets["phase"]
    assert docs[0]["id"] not in {h.id for h in reader.search("model", per_page=200).hits}


def test_spelling_words_are_indexed_once_and_still_suggested(tmp_path, docs):
    ix = WhooshIndex(tmp_path / "ix")
    ix.rebuild(iter(docs[:200]))
    r = ix._get_searcher().reader()
    assert sum(1 for _ in r.postings("spell_text", b"model").all_ids()) == 1
    assert b"testing" in set(r.lexicon("spell_text"))
    res = ix.search("modle")
    assert res.suggestion == "model"
    assert res.total > 0
