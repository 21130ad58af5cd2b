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
    """The configured search backend (only `whoosh` so far), opened on settings.index_dir."""
    from app.search.whoosh_backend import WhooshIndex

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
