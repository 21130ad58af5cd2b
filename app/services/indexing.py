"""Keep the search index consistent with the database (DESIGN.md section 2).

The database is the truth. Services call these functions AFTER their database commit. Each
one takes the index lock first and only then reads the rows to index (in a fresh session), so
concurrent writers cannot overwrite newer documents with older ones. If the index write fails,
the index is marked stale (a marker file in the index directory); the app rebuilds a stale index
at its next start, and `surveykb reindex` rebuilds it at any time. An index failure never turns
a successful database write into an error for the user.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.models import Paper
from app.search import SearchIndex, doc_id, split_id
from app.search.documents import all_docs, expected_ids, paper_docs, taxonomy_docs

log = logging.getLogger(__name__)
TAXONOMY_COUNTS = ("survey", "phases", "challenges", "directions", "direction-challenge")


def _fresh(session: Session) -> Session:
    """A new session on the same database, so reads see everything committed so far."""
    return Session(session.get_bind(), expire_on_commit=False)


def _guard(index: SearchIndex, what: str, fn) -> bool:
    try:
        fn()
        return True
    except Exception as exc:
        log.exception("search index update failed (%s)", what)
        index.mark_stale(f"{what} failed: {exc}")
        return False


def sync_papers(session: Session, index: SearchIndex, paper_ids: Iterable[int]) -> bool:
    """Re-index these papers from the database; ids no longer in the database are removed.

    Returns False (and marks the index stale) if the index could not be written.
    """
    ids = {int(i) for i in paper_ids}
    if not ids:
        return True

    def run() -> None:
        with index.writing() as w, _fresh(session) as s:
            docs = list(paper_docs(s, ids))
            w.update(docs)
            present = {d["id"] for d in docs}
            w.remove(doc_id("paper", i) for i in ids if doc_id("paper", i) not in present)

    return _guard(index, "paper sync", run)


def remove_papers(session: Session, index: SearchIndex, paper_ids: Iterable[int]) -> bool:
    """After deleting papers: same as sync_papers (gone rows are removed from the index)."""
    return sync_papers(session, index, paper_ids)


def sync_taxonomy(session: Session, index: SearchIndex) -> bool:
    """Re-index every challenge and direction; remove those no longer in the database."""

    def run() -> None:
        with index.writing() as w, _fresh(session) as s:
            docs = list(taxonomy_docs(s))
            w.update(docs)
            present = {d["id"] for d in docs}
            stale = {
                i
                for i in index.ids()
                if split_id(i)[0] in ("challenge", "direction") and i not in present
            }
            w.remove(stale)

    return _guard(index, "taxonomy sync", run)


def rebuild(session: Session, index: SearchIndex, *, parallel: bool = False) -> int:
    """Rebuild the whole index from the database; returns the number of documents."""
    with _fresh(session) as s:
        n = index.rebuild(all_docs(s), parallel=parallel)
    log.info("search index rebuilt: %d documents", n)
    return n


@dataclass
class Differences:
    missing: set[str] = field(default_factory=set)  # in the database, not in the index
    extra: set[str] = field(default_factory=set)  # in the index, not in the database
    stale: bool = False

    @property
    def ok(self) -> bool:
        return not self.missing and not self.extra and not self.stale

    def summary(self) -> str:
        if self.ok:
            return "The search index matches the database."
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} missing from the index")
        if self.extra:
            parts.append(f"{len(self.extra)} in the index but not in the database")
        if self.stale:
            parts.append("the index is marked stale")
        return "The search index differs from the database: " + ", ".join(parts) + "."


def check(session: Session, index: SearchIndex) -> Differences:
    """Compare the ids in the database with the ids in the index."""
    with _fresh(session) as s:
        want = expected_ids(s)
    have = index.ids()
    return Differences(missing=want - have, extra=have - want, stale=index.is_stale())


def ensure_current(engine: Engine, index: SearchIndex) -> str | None:
    """At start-up: rebuild a missing, stale or schema-changed index. Returns the reason.

    A cross-process lock makes a second worker wait, then find the index current.
    """
    with index.startup_lock():
        reason = index.rebuild_reason()
        if reason is None:
            return None
        try:
            with Session(engine) as s:
                # An empty index over an empty (or unmigrated) database is current enough.
                rebuild(s, index)
        except Exception as exc:
            log.exception("could not rebuild the search index at start-up")
            if reason == "missing" or reason == "schema changed":
                try:
                    index.create()
                except Exception:  # pragma: no cover
                    log.exception("could not create an empty search index")
            index.mark_stale(f"start-up rebuild failed: {exc}")
        return reason


def related_papers(session: Session, index: SearchIndex, paper_id: int, limit: int = 5) -> list:
    """Papers similar to this one (more-like-this over title and abstract), hydrated."""
    from app.services.browse import hydrate

    try:
        hits = index.more_like(doc_id("paper", paper_id), limit=limit)
    except Exception:
        log.exception("related papers failed for paper %s", paper_id)
        return []
    ids = [h.pk for h in hits]
    if not ids:
        return []
    rows = {p.id: p for p in session.exec(select(Paper).where(Paper.id.in_(ids))).scalars()}
    return hydrate(session, [rows[i] for i in ids if i in rows])


def load_survey_and_index(engine: Engine, index: SearchIndex, bundle):
    """Load a survey bundle (one transaction), then bring the index up to date.

    A taxonomy change (created/updated/removed phases, challenges, directions or their links)
    touches the text of many paper documents, so it rebuilds; otherwise only the changed papers
    are re-indexed. An empty or missing index is rebuilt.
    """
    from app.db import session_scope
    from app.services.taxonomy import load_survey

    with session_scope(engine) as session:
        report = load_survey(session, bundle)
    taxonomy_changed = any(
        n
        for k, n in report.counts.items()
        if k.split(" ")[0] in TAXONOMY_COUNTS and k.endswith(("created", "updated", "removed"))
    )
    with Session(engine) as s:
        try:
            need_rebuild = index.rebuild_reason() is not None or index.doc_count() == 0
        except Exception:
            need_rebuild = True
        if need_rebuild or taxonomy_changed:
            _guard(index, "rebuild", lambda: rebuild(s, index))
        else:
            sync_papers(s, index, report.changed_paper_ids)
    return report
