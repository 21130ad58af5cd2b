"""The Whoosh schema. Bump SCHEMA_VERSION whenever it changes: the app then rebuilds the index
at start-up (the version is written next to the index)."""

from whoosh.fields import ID, KEYWORD, TEXT, Schema

from app.search.analysis import ident_analyzer, name_analyzer, prose_analyzer

SCHEMA_VERSION = "5"  # 5: cached prose analyser, spelling words once per segment

# Fields searched by plain words, with their weight in BM25F.
DEFAULT_FIELDS = {
    "title": 3.0,
    "text": 1.0,
    "authors": 1.5,
    "keywords": 1.2,
    "venue": 0.6,
    "ident": 2.0,
    "taxo": 0.5,
}


def make_schema() -> Schema:
    prose = prose_analyzer()
    names = name_analyzer()
    return Schema(
        id=ID(unique=True, stored=True),
        kind=ID(stored=True),
        key=ID(stored=True),
        # Stored: shown and highlighted on the results page (only the page shown is highlighted).
        title=TEXT(analyzer=prose, stored=True, spelling=True),
        text=TEXT(analyzer=prose, stored=True, spelling=True),
        authors=TEXT(analyzer=names, stored=True),
        venue=TEXT(analyzer=names, stored=True),
        year=ID(stored=True),
        # Indexed only.
        keywords=TEXT(analyzer=prose),
        # citekey, DOI, arXiv id: whole values (positions kept so phrases never fail)
        ident=TEXT(analyzer=ident_analyzer()),
        # Titles of the linked phases, challenges and directions (searched by plain words).
        taxo=TEXT(analyzer=prose),
        # `phase:testing` matches the slug or the name of a linked phase (prose, not exact).
        phase=TEXT(analyzer=prose),
        challenge=TEXT(analyzer=prose),
        direction=TEXT(analyzer=prose),
        # Exact slugs and values for filters and facet counts.
        f_phase=KEYWORD(),
        f_challenge=KEYWORD(),
        f_direction=KEYWORD(),
        f_venue=ID(),
    )
