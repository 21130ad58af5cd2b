"""The search interface every backend implements (DESIGN.md section 2: `index`, `remove`,
`search`, `rebuild`, `ids`), and the plain values it returns.

Documents are plain dicts built by app/search/documents.py; their `id` is `<kind>:<db id>`
(`paper:12`, `challenge:3`, `direction:7`). Only app/services calls the writing methods.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

KINDS = ("paper", "challenge", "direction")
FACETS = ("phase", "challenge", "direction", "year", "venue")


def doc_id(kind: str, pk: int) -> str:
    return f"{kind}:{pk}"


def split_id(value: str) -> tuple[str, int]:
    """`paper:12` -> ("paper", 12)."""
    kind, _, pk = value.partition(":")
    return kind, int(pk)


@dataclass
class SearchFilters:
    """Facet restrictions: OR within one facet, AND across facets (as on /papers)."""

    phase: list[str] = field(default_factory=list)
    challenge: list[str] = field(default_factory=list)
    direction: list[str] = field(default_factory=list)
    venue: list[str] = field(default_factory=list)
    year: list[str] = field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None

    def is_empty(self) -> bool:
        return not any(getattr(self, n) for n in self.__dataclass_fields__)


@dataclass
class Hit:
    id: str
    kind: str
    key: str  # citekey for papers, slug for challenges and directions
    title: str
    score: float
    highlights: dict[str, str] = field(default_factory=dict)  # field -> escaped HTML with <mark>
    stored: dict[str, Any] = field(default_factory=dict)

    @property
    def pk(self) -> int:
        return split_id(self.id)[1]


@dataclass
class SearchResult:
    query: str
    hits: list[Hit]
    total: int
    page: int = 1
    per_page: int = 20
    facets: dict[str, list[dict]] = field(default_factory=dict)  # name -> [{value, count}]
    kinds: dict[str, int] = field(default_factory=dict)  # hits per kind before the kind filter
    suggestion: str | None = None  # "did you mean", a whole corrected query
    notice: str | None = None  # e.g. the query was read as plain words

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@runtime_checkable
class SearchIndex(Protocol):
    """A derived, rebuildable full-text index over papers, challenges and directions."""

    def index(self, docs: Iterable[dict]) -> None:
        """Add or replace these documents (by `id`)."""

    def remove(self, ids: Iterable[str]) -> None:
        """Remove the documents with these ids (unknown ids are ignored)."""

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
        """Ranked hits for a user query; never raises for a malformed query."""

    def rebuild(self, docs: Iterable[dict]) -> int:
        """Replace the whole content with these documents; returns how many."""

    def ids(self) -> set[str]:
        """Every document id in the index."""

    def ranked_ids(self, query: str, kind: str = "paper", limit: int | None = None) -> list[int]:
        """Database ids of all documents of `kind` matching `query`, best first."""

    def more_like(self, id: str, limit: int = 5) -> list[Hit]:
        """Documents similar to this one (title and abstract)."""

    def is_stale(self) -> bool: ...

    def mark_stale(self, reason: str = "") -> None: ...

    def clear_stale(self) -> None: ...

    def doc_count(self) -> int: ...
