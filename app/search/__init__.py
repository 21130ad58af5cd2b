"""Full-text search behind one small interface (base.SearchIndex); Whoosh is the default."""

from app.search.base import (
    FACETS,
    KINDS,
    Hit,
    SearchFilters,
    SearchIndex,
    SearchResult,
    doc_id,
    split_id,
)


def open_index(settings) -> "SearchIndex":
    """The configured search backend: `whoosh` (settings.index_dir, the default) or `postgres`
    (tables in the PostgreSQL database itself, shared by every app server)."""
    from app.search.whoosh_backend import WhooshIndex

    if settings.search_backend == "postgres":
        if not settings.database_url.startswith("postgresql"):
            raise ValueError("SURVEYKB_SEARCH_BACKEND=postgres needs a PostgreSQL database URL.")
        from app.search.postgres_backend import PostgresIndex

        return PostgresIndex(settings.database_url)
    if settings.search_backend not in ("whoosh", ""):
        raise ValueError(f"Unknown search backend {settings.search_backend!r}.")
    return WhooshIndex(settings.index_dir)


__all__ = [
    "FACETS",
    "KINDS",
    "Hit",
    "SearchFilters",
    "SearchIndex",
    "SearchResult",
    "doc_id",
    "open_index",
    "split_id",
]
