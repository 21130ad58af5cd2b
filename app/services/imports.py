"""BibTeX import: preview (dry run), then commit in one transaction, never losing an entry.

Every entry-like block of the file ends up as exactly one row of the report:
- new       -> added (its key kept; a clash with another paper renames only the newcomer)
- duplicate -> merged into the existing paper (identity: normalised DOI, then arXiv id, then
               same key and title, then folded title + first author family + year); the
               existing record wins, missing fields are filled, links are unioned and the
               incoming key becomes an alias. A merge that adds nothing is reported as skipped.
- probable  -> same title only: added by default, flagged for the person to decide
- skipped   -> readable but not a paper (@xdata), or skipped by the person's choice
- invalid   -> could not be read: line, key when readable, and a reason

Web, API and CLI call `plan_import` (read-only) and `commit_import` (one transaction, then the
search index sync). Uploaded files are kept under settings.uploads_dir with their ImportJob.
"""

import gc
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import defer
from sqlmodel import Session

from app.bibtex.identifiers import fold
from app.bibtex.names import Name
from app.bibtex.parse import ParseResult, parse_bytes
from app.bibtex.record import PaperRecord, split_list, to_record
from app.config import Settings
from app.errors import BadRequest, Conflict, NotFound, PayloadTooLarge
from app.models import (
    Author,
    Challenge,
    CitekeyAlias,
    Direction,
    ImportJob,
    Paper,
    PaperAuthor,
    PaperChallenge,
    PaperDirection,
    PaperPhase,
    Phase,
    utcnow,
)
from app.services.papers import PAPER_COLUMNS, ensure_authors, insert_rows
from app.services.suggest import Suggester, load_suggester, paper_text

log = logging.getLogger(__name__)
# Bulk writes go through the tables (SQLAlchemy Core): thousands of rows per statement,
# no ORM object per row.
PAPER = Paper.__table__
PAPER_AUTHOR = PaperAuthor.__table__
_PAPER_INSERT = ("citekey", "created_at", "updated_at", *PAPER_COLUMNS)

MIB = 1024 * 1024
DEFAULT_MAX_BYTES = Settings.model_fields["max_upload_mb"].default * MIB
BATCH = 500
PROGRESS_EVERY = 0.5  # seconds: the least time between two progress rows of one stage
FILLABLE = ("venue", "year", "doi", "arxiv_id", "url", "abstract")
ACTIONS = ("add", "merge", "skip")
Progress = Callable[[str, int, int], None]


def _noop(stage: str, done: int, total: int) -> None:
    pass


# --- the cyclic garbage collector during an import ---------------------------------------

FULL_GC_EVERY = 1000  # young-generation passes between full passes while imports run
_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] | None = None


@contextmanager
def few_full_collections() -> Iterator[None]:
    """While an import runs, postpone the garbage collector's full-heap passes.

    An import keeps a few objects per entry alive until it ends (records, report rows), and
    at the default thresholds the collector re-scans the whole heap (those objects and the
    rest of the process) every time it has grown by a quarter: a fifth or more of an
    import's time. Young garbage is still collected as usual. Nested and concurrent imports
    share one setting; the previous thresholds come back when the last of them ends.
    """
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            young, middle, full = _gc_saved
            gc.set_threshold(young, middle, max(full, FULL_GC_EVERY))
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0 and _gc_saved is not None:
                gc.set_threshold(*_gc_saved)
                _gc_saved = None


# --- the plan ----------------------------------------------------------------------------


@dataclass
class Row:
    """One entry of the file in the preview and the report (stored in ImportJob.results)."""

    n: int
    line: int | None
    key: str | None
    status: str  # new | duplicate | probable | skipped | invalid
    action: str  # add | merge | skip | none
    outcome: str = ""  # after commit: added | merged | skipped | failed
    citekey: str | None = None  # the key the paper has (or will have)
    renamed_from: str | None = None
    title: str = ""
    year: int | None = None
    authors: str = ""
    match: dict | None = None  # {"id", "citekey", "title", "reason"}
    reason: str = ""
    phases: list[dict] = field(default_factory=list)
    challenges: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


@dataclass
class Plan:
    rows: list[Row]
    records: dict[int, PaperRecord]  # row n -> record (rows that have one)
    curated: dict[int, dict[str, set[int]]]  # row n -> {"phase": ids, ...} (rows naming some)
    encoding: str
    warnings: list[str]
    total: int

    def counts(self) -> dict[str, int]:
        c = {"total": self.total, "new": 0, "duplicate": 0, "probable": 0, "skipped": 0}
        c["invalid"] = 0
        for r in self.rows:
            c[r.status] = c.get(r.status, 0) + 1
        return c


class _Known:
    """In-memory identity maps of the papers in the database (plus this file's new ones)."""

    def __init__(self, session: Session) -> None:
        self.doi: dict[str, int] = {}
        self.arxiv: dict[str, int] = {}
        self.key: dict[str, int] = {}  # lower-cased citekeys and aliases
        self.title: dict[str, list[int]] = {}
        self.info: dict[int, dict] = {}
        first_author = dict(
            session.exec(
                select(PaperAuthor.paper_id, Author.family)
                .join(Author, Author.id == PaperAuthor.author_id)
                .where(PaperAuthor.position == 0)
            ).all()
        )
        for pid, key, doi, arxiv, tkey, year, title in session.exec(
            select(
                Paper.id,
                Paper.citekey,
                Paper.doi,
                Paper.arxiv_id,
                Paper.title_key,
                Paper.year,
                Paper.title,
            )
        ).all():
            self.add(pid, key, doi, arxiv, tkey, year, fold(first_author.get(pid, "")), title)
        for alias, pid in session.exec(select(CitekeyAlias.alias, CitekeyAlias.paper_id)).all():
            self.key.setdefault(alias.lower(), pid)

    def add(self, pid, key, doi, arxiv, tkey, year, family, title) -> None:
        self.info[pid] = {
            "citekey": key,
            "title": title,
            "tkey": tkey,
            "year": year,
            "family": family,
        }
        self.key.setdefault(key.lower(), pid)
        if doi:
            self.doi.setdefault(doi, pid)
        if arxiv:
            self.arxiv.setdefault(arxiv, pid)
        if tkey:
            self.title.setdefault(tkey, []).append(pid)

    def identify(self, rec: PaperRecord) -> tuple[int | None, str, bool]:
        """(paper id, why, exact) of the paper this record duplicates, if any."""
        if rec.doi and rec.doi in self.doi:
            return self.doi[rec.doi], f"same DOI {rec.doi}", True
        if rec.arxiv_id and rec.arxiv_id in self.arxiv:
            return self.arxiv[rec.arxiv_id], f"same arXiv id {rec.arxiv_id}", True
        pid = self.key.get(rec.citekey.lower())
        if pid is not None and self.info[pid]["tkey"] == rec.title_key:
            return pid, "same citation key and title", True
        candidates = self.title.get(rec.title_key) or []
        family = fold(rec.authors[0].full_family) if rec.authors else ""
        low = rec.citekey.lower()
        for pid in candidates:
            info = self.info[pid]
            if info["family"] == family and info["year"] == rec.year:
                return pid, "same title, first author and year", True
            if _RENAMED.fullmatch(info["citekey"].lower()[len(low) :]) and info[
                "citekey"
            ].lower().startswith(low):
                return pid, "same title and key (renamed on an earlier import)", True
        if candidates and len(rec.title_key) >= 12:
            return candidates[0], "same title (authors or year differ or are missing)", False
        return None, "", False

    def free_key(self, key: str) -> str:
        """The key itself if no paper (or alias) has it, else Key+a, b, ..., z, aa, ..."""
        if key.lower() not in self.key:
            return key
        for suffix in _suffixes():
            candidate = key + suffix
            if candidate.lower() not in self.key:
                return candidate
        raise AssertionError("unreachable")  # pragma: no cover


_RENAMED = re.compile(r"[a-z]{1,2}|-\d+")


def _suffixes():
    letters = "abcdefghijklmnopqrstuvwxyz"
    yield from letters
    for a in letters:
        for b in letters:
            yield a + b
    n = 0
    while True:
        n += 1
        yield f"-{n}"


def _authors_short(names: list[Name]) -> str:
    shown = [n.display for n in names[:3]]
    return ", ".join(shown) + (" et al." if len(names) > 3 else "")


def _slug_maps(session: Session) -> tuple[dict, dict, dict]:
    phases = {s: i for i, s in session.exec(select(Phase.id, Phase.slug)).all()}
    challenges = {
        s: (i, ph)
        for i, s, ph in session.exec(select(Challenge.id, Challenge.slug, Challenge.phase_id)).all()
    }
    directions = {
        s: (i, ph)
        for i, s, ph in session.exec(select(Direction.id, Direction.slug, Direction.phase_id)).all()
    }
    return phases, challenges, directions


_NO_LINKS: dict[str, frozenset[int]] = {
    "phase": frozenset(),
    "challenge": frozenset(),
    "direction": frozenset(),
}


def _curated(rec: PaperRecord, maps) -> dict[str, set[int]]:
    """Links named by the entry itself: a `keywords` value (or a phases/challenges/directions
    field, as our own exports write) that is a phase, challenge or direction slug."""
    phases, challenges, directions = maps
    if not rec.keywords and not any(
        n in rec.fields for n in ("phases", "challenges", "directions")
    ):
        return _NO_LINKS  # most entries: nothing named (read only by the caller)
    words = {fold(k).replace(" ", "-") for k in rec.keywords}
    for name in ("phases", "challenges", "directions"):
        words |= {fold(k).replace(" ", "-") for k in split_list(rec.fields.get(name))}
    out: dict[str, set[int]] = {"phase": set(), "challenge": set(), "direction": set()}
    for w in words:
        if w in phases:
            out["phase"].add(phases[w])
        if w in challenges:
            out["challenge"].add(challenges[w][0])
            out["phase"].add(challenges[w][1])
        if w in directions:
            out["direction"].add(directions[w][0])
            out["phase"].add(directions[w][1])
    return out


def too_large_message(limit: int, size: int | None = None) -> str:
    """The 413 text: the file's size when known, and the limit with the setting behind it."""
    what = (
        f"The file is {size / MIB:.1f} MB ({size:,} bytes)," if size is not None else "The file is"
    )
    return (
        f"{what} over the import limit of {limit / MIB:g} MB ({limit:,} bytes, set by "
        "SURVEYKB_MAX_UPLOAD_MB). Split it into smaller files and import them one after the other."
    )


def read_upload(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ParseResult:
    """Check the size and parse; raises PayloadTooLarge / BadRequest for unusable input."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(too_large_message(max_bytes, len(data)))
    result = parse_bytes(data)
    if result.total == 0:
        raise BadRequest(
            "No BibTeX entries were found in this file (nothing starts with '@type{key,')."
        )
    return result


@few_full_collections()
def plan_import(
    session: Session,
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Progress = _noop,
    suggester: Suggester | None = None,
) -> Plan:
    """Read-only: what importing these bytes would do, row by row (the preview)."""
    progress("reading", 0, 0)
    result = read_upload(data, max_bytes=max_bytes)
    total = result.total
    progress("matching", 0, total)
    known = _Known(session)
    maps = _slug_maps(session)
    if suggester is None:
        suggester = load_suggester(session)
    rows: list[Row] = []
    records: dict[int, PaperRecord] = {}
    curated: dict[int, dict[str, set[int]]] = {}
    phase_names = {i: s for s, i in maps[0].items()}
    fake_id = -1
    problems = sorted(
        [(p, "invalid") for p in result.failed] + [(p, "skipped") for p in result.skipped],
        key=lambda x: x[0].line or 0,
    )
    for p, status in problems:
        rows.append(Row(n=0, line=p.line, key=p.key, status=status, action="none", reason=p.reason))
    # Each parsed entry is let go once its record is made (the record keeps what is needed).
    entries, result.entries = result.entries, []
    for i in range(len(entries)):
        entry, entries[i] = entries[i], None
        if i % BATCH == 0:
            progress("matching", i, total)
        rec = to_record(entry)
        row = Row(
            n=0,
            line=entry.line,
            key=entry.key,
            status="new",
            action="add",
            title=rec.title,
            year=rec.year,
            authors=_authors_short(rec.authors),
            warnings=entry.warnings + rec.warnings,
        )
        pid, why, exact = known.identify(rec)
        if pid is not None:
            info = known.info[pid]
            row.match = {
                "id": pid if pid > 0 else None,
                "citekey": info["citekey"],
                "title": info["title"],
                "reason": why,
            }
            row.status = "duplicate" if exact else "probable"
            row.action = "merge" if exact else "add"
            row.citekey = info["citekey"] if exact else None
        if row.action == "add":
            row.citekey = known.free_key(rec.citekey)
            if row.citekey != rec.citekey:
                row.renamed_from = rec.citekey
                other = known.info[known.key[rec.citekey.lower()]]["citekey"]
                row.warnings.append(
                    f"the key '{rec.citekey}' is already used by '{other}' (another paper); "
                    f"this entry is imported as '{row.citekey}'"
                )
            rec.citekey = row.citekey
            family = fold(rec.authors[0].full_family) if rec.authors else ""
            known.add(
                fake_id,
                rec.citekey,
                rec.doi,
                rec.arxiv_id,
                rec.title_key,
                rec.year,
                family,
                rec.title,
            )
            fake_id -= 1
        cur = _curated(rec, maps)
        if suggester is not None:
            sp, sc = suggester.suggest(paper_text(rec.title, rec.abstract, rec.keywords))
            row.phases = [s.as_dict() | {"origin": "suggested"} for s in sp]
            row.challenges = [s.as_dict() | {"origin": "suggested"} for s in sc]
        for ph in cur["phase"]:
            row.phases = [d for d in row.phases if d["slug"] != phase_names[ph]]
            row.phases.insert(
                0,
                {
                    "slug": phase_names[ph],
                    "name": phase_names[ph],
                    "score": None,
                    "words": [],
                    "origin": "curated",
                },
            )
        rows.append(row)
        records[len(rows) - 1] = rec
        if any(cur.values()):  # most entries name no phase: nothing to keep
            curated[len(rows) - 1] = cur
    # Report order is file order; row numbers are positions in that order.
    order = sorted(range(len(rows)), key=lambda k: (rows[k].line or 0, k))
    new_rows, new_records, new_curated = [], {}, {}
    for n, k in enumerate(order):
        rows[k].n = n
        new_rows.append(rows[k])
        if k in records:
            new_records[n] = records[k]
            if k in curated:
                new_curated[n] = curated[k]
    progress("matching", total, total)
    return Plan(
        rows=new_rows,
        records=new_records,
        curated=new_curated,
        encoding=result.encoding,
        warnings=[str(w) for w in result.warnings if w.line is None],
        total=total,
    )


# --- commit ------------------------------------------------------------------------------


def apply_choices(plan: Plan, choices: dict[int, str] | None) -> None:
    """Per-row choices from the preview: add | merge | skip (invalid rows stay as they are)."""
    for n, action in (choices or {}).items():
        if not (0 <= n < len(plan.rows)) or action not in ACTIONS:
            continue
        row = plan.rows[n]
        if row.status in ("invalid", "skipped"):
            continue
        if action == "merge" and not row.match:
            continue
        if action == "add" and row.status == "duplicate":
            continue  # the same DOI/arXiv id cannot be stored twice
        row.action = action


@dataclass
class Report:
    job_id: int | None
    added: list[dict] = field(default_factory=list)
    merged: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    paper_ids: set[int] = field(default_factory=set)
    dry_run: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "merged": self.merged,
            "skipped": self.skipped,
            "failed": self.failed,
            "warnings": self.warnings,
            "job": self.job_id,
            "dry_run": self.dry_run,
        }

    def counts(self) -> dict[str, int]:
        return {k: len(getattr(self, k)) for k in ("added", "merged", "skipped", "failed")}


def _item(row: Row, reason: str = "") -> dict:
    return {"key": row.key, "line": row.line, "citekey": row.citekey, "reason": reason}


def report_from_rows(rows: list[Row], job_id: int | None, warnings: list[str]) -> Report:
    rep = Report(job_id)
    for row in rows:
        if row.outcome == "added":
            why = f"renamed from '{row.renamed_from}'" if row.renamed_from else ""
            rep.added.append(_item(row, why))
        elif row.outcome == "merged":
            rep.merged.append(_item(row, row.match["reason"] if row.match else ""))
        elif row.outcome == "failed":
            rep.failed.append(_item(row, row.reason))
        else:
            rep.skipped.append(_item(row, row.reason))
        for w in row.warnings:
            rep.warnings.append({"key": row.key, "line": row.line, "reason": w})
    rep.warnings[:0] = [{"key": None, "line": None, "reason": w} for w in warnings]
    return rep


def _link_rows(session: Session, model, col: str, rows: list[tuple]) -> None:
    """Insert (paper_id, <col>, origin, score) tuples, one per (paper, target)."""
    if not rows:
        return
    unique = {(r[0], r[1]): r for r in rows}
    insert_rows(
        session, model.__table__, ("paper_id", col, "origin", "score"), list(unique.values())
    )


def _existing_links(session: Session, model, col: str, ids: set[int]) -> set[tuple[int, int]]:
    out: set[tuple[int, int]] = set()
    id_list = list(ids)
    for i in range(0, len(id_list), BATCH):
        chunk = id_list[i : i + BATCH]
        out.update(
            session.exec(
                select(model.paper_id, getattr(model, col)).where(model.paper_id.in_(chunk))
            ).all()
        )
    return out


@few_full_collections()
def commit_plan(session: Session, plan: Plan, *, progress: Progress = _noop) -> set[int]:
    """Write the plan (the caller commits: one transaction). Returns touched paper ids."""
    rows = plan.rows
    todo_add = [r for r in rows if r.action == "add"]
    todo_merge = [r for r in rows if r.action == "merge" and r.match]
    total = len(todo_add) + len(todo_merge)
    done = 0
    touched: set[int] = set()
    id_of_row: dict[int, int] = {}
    # Re-check keys and identifiers against the database as it is now (it may have changed
    # since the preview): a clash renames the newcomer, a taken DOI becomes a merge.
    known_keys = {k.lower() for k in session.exec(select(Paper.citekey)).scalars()}
    known_keys |= {k.lower() for k in session.exec(select(CitekeyAlias.alias)).scalars()}
    taken_doi = dict(session.exec(select(Paper.doi, Paper.id).where(Paper.doi.is_not(None))).all())
    taken_arxiv = dict(
        session.exec(select(Paper.arxiv_id, Paper.id).where(Paper.arxiv_id.is_not(None))).all()
    )
    pending_merge: list[tuple[Row, int]] = []
    now = utcnow()
    for start in range(0, len(todo_add), BATCH):
        chunk = todo_add[start : start + BATCH]
        papers = []
        for row in chunk:
            rec = plan.records[row.n]
            if (rec.doi and rec.doi in taken_doi) or (rec.arxiv_id and rec.arxiv_id in taken_arxiv):
                target = taken_doi.get(rec.doi) or taken_arxiv.get(rec.arxiv_id)
                row.action, row.status = "merge", "duplicate"
                row.match = row.match or {
                    "id": target,
                    "citekey": None,
                    "title": "",
                    "reason": "same identifier (found at commit)",
                }
                row.match["id"] = target
                pending_merge.append((row, target))
                continue
            key = rec.citekey
            if key.lower() in known_keys:
                base = row.renamed_from or key
                key = next(base + s for s in _suffixes() if (base + s).lower() not in known_keys)
                row.renamed_from = base
                rec.citekey = key
            known_keys.add(key.lower())
            row.citekey = key
            values = (key, now, now, *[getattr(rec, c) for c in PAPER_COLUMNS])
            papers.append((row, rec, values))
            if rec.doi:
                taken_doi[rec.doi] = -1
            if rec.arxiv_id:
                taken_arxiv[rec.arxiv_id] = -1
        # Multi-row INSERT ... RETURNING of plain tuples: no ORM object or parameter dict per
        # row. The ids come back paired with the (unique) citekeys rather than in parameter
        # order, which SQLite could only give one row per statement.
        id_of_key = dict(
            insert_rows(
                session,
                PAPER,
                _PAPER_INSERT,
                [v for _, _, v in papers],
                returning=("citekey", "id"),
            )
        )
        new_ids = [id_of_key[v[0]] for _, _, v in papers]
        for (row, rec, _), pid in zip(papers, new_ids, strict=True):
            id_of_row[row.n] = pid
            row.outcome = "added"
            touched.add(pid)
            if rec.doi:
                taken_doi[rec.doi] = pid
            if rec.arxiv_id:
                taken_arxiv[rec.arxiv_id] = pid
        ids = ensure_authors(session, [rec.authors for _, rec, _ in papers])
        pa = []
        for pid, aids in zip(new_ids, ids, strict=True):
            pa += [(pid, i, a) for i, a in enumerate(aids)]
        insert_rows(session, PAPER_AUTHOR, ("paper_id", "position", "author_id"), pa)
        _links_for(
            session,
            plan,
            [(row, pid) for (row, _, _), pid in zip(papers, new_ids, strict=True)],
            merge=False,
        )
        done += len(chunk)
        progress("writing", done, total)
    # Merges: the existing record wins; fill what it lacks; union links; alias the key.
    merges = [(r, r.match["id"]) for r in todo_merge] + pending_merge
    added_by_key = {r.citekey: id_of_row[r.n] for r in rows if r.n in id_of_row}
    resolved = []
    for row, pid in merges:
        if not pid or pid < 0:  # merged into a paper added earlier in this same file
            pid = added_by_key.get(row.match.get("citekey") if row.match else None)
            row.match["id"] = pid
        resolved.append((row, pid))
    merges = resolved
    # The existing papers' columns a merge reads or fills, as plain values (no ORM objects).
    existing: dict[int, _Stored] = {}
    merge_ids = {pid for _, pid in merges if pid}
    id_list = list(merge_ids)
    cols = [PAPER.c.id, PAPER.c.citekey, *(PAPER.c[c] for c in FILLABLE), PAPER.c.fields]
    has_authors: set[int] = set()
    for i in range(0, len(id_list), BATCH):
        chunk = id_list[i : i + BATCH]
        for values in session.execute(select(*cols).where(PAPER.c.id.in_(chunk))):
            existing[values[0]] = _Stored(*values)
        has_authors.update(
            session.execute(
                select(PAPER_AUTHOR.c.paper_id).where(PAPER_AUTHOR.c.paper_id.in_(chunk)).distinct()
            ).scalars()
        )
    aliases = set(session.exec(select(CitekeyAlias.alias)).scalars())
    link_jobs = []
    for row, pid in merges:
        paper = existing.get(pid)
        rec = plan.records[row.n]
        if paper is None:
            row.outcome, row.reason = "skipped", "the paper it duplicates was not found"
            continue
        changed = _fill(paper, rec, taken_doi, taken_arxiv)
        if not rec.authors or pid in has_authors:
            pass
        else:
            (aids,) = ensure_authors(session, [rec.authors])
            insert_rows(
                session,
                PAPER_AUTHOR,
                ("paper_id", "position", "author_id"),
                [(pid, i, a) for i, a in enumerate(aids)],
            )
            has_authors.add(pid)
            changed = True
        if (
            rec.citekey != paper.citekey
            and rec.citekey not in aliases
            and rec.citekey.lower() not in known_keys
        ):
            session.add(CitekeyAlias(alias=rec.citekey, paper_id=pid))
            aliases.add(rec.citekey)
            row.warnings.append(f"'{rec.citekey}' is now an alias of '{paper.citekey}'")
            changed = True
        link_jobs.append((row, pid))
        row.citekey = paper.citekey
        row.match["citekey"] = paper.citekey
        row._changed = changed  # type: ignore[attr-defined]
        if changed:
            paper.dirty.add("updated_at")
    _update_merged(session, existing.values())
    linked = _links_for(session, plan, link_jobs, merge=True)
    for row, pid in link_jobs:
        if row._changed or pid in linked:  # type: ignore[attr-defined]
            row.outcome = "merged"
            touched.add(pid)
        else:
            row.outcome = "skipped"
            row.reason = f"already in the knowledge base as '{row.citekey}' (nothing new)"
        done += 1
        if done % BATCH == 0:
            progress("writing", done, total)
    for row in rows:
        if not row.outcome:
            if row.status == "invalid":
                row.outcome = "failed"
            else:
                row.outcome = "skipped"
                row.reason = row.reason or "skipped by choice"
    session.flush()
    progress("writing", total, total)
    return touched


class _Stored:
    """An existing paper's id, key and fillable columns, and which ones a merge changed."""

    __slots__ = ("id", "citekey", *FILLABLE, "fields", "dirty")

    def __init__(self, id, citekey, *values) -> None:  # noqa: A002
        self.id, self.citekey = id, citekey
        for col, value in zip((*FILLABLE, "fields"), values, strict=True):
            setattr(self, col, value)
        self.dirty: set[str] = set()


def _update_merged(session: Session, papers) -> None:
    """One UPDATE per changed paper, with only the columns its merges filled."""
    now = utcnow()
    for paper in papers:
        if paper.dirty:
            values = {c: getattr(paper, c) for c in paper.dirty if c != "updated_at"}
            session.execute(
                update(PAPER).where(PAPER.c.id == paper.id).values(**values, updated_at=now)
            )


def _fill(paper: _Stored, rec: PaperRecord, taken_doi: dict, taken_arxiv: dict) -> bool:
    changed = False
    for col in FILLABLE:
        new = getattr(rec, col)
        if new in (None, "") or getattr(paper, col) not in (None, ""):
            continue
        if col == "doi" and taken_doi.get(new, paper.id) != paper.id:
            continue
        if col == "arxiv_id" and taken_arxiv.get(new, paper.id) != paper.id:
            continue
        setattr(paper, col, new)
        paper.dirty.add(col)
        if col == "doi":
            taken_doi[new] = paper.id
        if col == "arxiv_id":
            taken_arxiv[new] = paper.id
        changed = True
    fields = dict(paper.fields or {})
    added = {k: v for k, v in rec.fields.items() if k not in fields}
    if added:
        fields.update(added)
        paper.fields = fields
        paper.dirty.add("fields")
        changed = True
    return changed


def _links_for(session: Session, plan: Plan, pairs: list[tuple[Row, int]], *, merge: bool):
    """Curated (keyword-named) and suggested links; existing links are never downgraded."""
    if not pairs:
        return set()
    ids = {pid for _, pid in pairs}
    have_p = _existing_links(session, PaperPhase, "phase_id", ids) if merge else set()
    have_c = _existing_links(session, PaperChallenge, "challenge_id", ids) if merge else set()
    have_d = _existing_links(session, PaperDirection, "direction_id", ids) if merge else set()
    phase_ids = {s: i for i, s in session.exec(select(Phase.id, Phase.slug)).all()}
    ch_ids = {s: i for i, s in session.exec(select(Challenge.id, Challenge.slug)).all()}
    rows_p, rows_c, rows_d = [], [], []
    linked: set[int] = set()
    for row, pid in pairs:
        cur = plan.curated.get(row.n, {})
        for ph in cur.get("phase", ()):
            if (pid, ph) not in have_p:
                rows_p.append((pid, ph, "curated", None))
                have_p.add((pid, ph))
                linked.add(pid)
        for ch in cur.get("challenge", ()):
            if (pid, ch) not in have_c:
                rows_c.append((pid, ch, "curated", None))
                have_c.add((pid, ch))
                linked.add(pid)
        for d in cur.get("direction", ()):
            if (pid, d) not in have_d:
                rows_d.append((pid, d, "curated", None))
                have_d.add((pid, d))
                linked.add(pid)
        if merge:
            continue  # a merge unions the entry's own links; no new guesses on a known paper
        for s in row.phases:
            ph = phase_ids.get(s["slug"])
            if s["origin"] == "suggested" and ph and (pid, ph) not in have_p:
                rows_p.append((pid, ph, "suggested", s["score"]))
                have_p.add((pid, ph))
        for s in row.challenges:
            ch = ch_ids.get(s["slug"])
            if ch and (pid, ch) not in have_c:
                rows_c.append((pid, ch, "suggested", s["score"]))
                have_c.add((pid, ch))
    _link_rows(session, PaperPhase, "phase_id", rows_p)
    _link_rows(session, PaperChallenge, "challenge_id", rows_c)
    _link_rows(session, PaperDirection, "direction_id", rows_d)
    return linked


# --- jobs --------------------------------------------------------------------------------

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def store_upload(uploads_dir: Path, filename: str, data: bytes) -> Path:
    """Keep the original file: uploads/<uuid>-<safe name>."""
    uploads_dir.mkdir(parents=True, exist_ok=True)
    safe = _SAFE_NAME.sub("_", Path(filename or "upload.bib").name)[-120:] or "upload.bib"
    path = uploads_dir / f"{uuid.uuid4().hex}-{safe}"
    path.write_bytes(data)
    return path


def create_job(
    session: Session,
    *,
    uploads_dir: Path,
    filename: str,
    data: bytes,
    user_id: int | None = None,
    status: str = "pending",
) -> ImportJob:
    """Store the upload and record an ImportJob (committed at once, before any work)."""
    path = store_upload(uploads_dir, filename, data)
    job = ImportJob(
        status=status,
        filename=(filename or "upload.bib")[:300],
        stored_path=str(path),
        counts={"bytes": len(data), "stage": "uploaded", "done": 0, "total": 0},
        user_id=user_id,
        owner=owner_tag(),
        heartbeat_at=utcnow(),
    )
    session.add(job)
    session.commit()
    session.refresh(job)
    return job


def get_job(session: Session, job_id: int) -> ImportJob:
    # Ids are 32-bit INTEGER on PostgreSQL: a larger one is in no table, and binding it fails.
    job = session.get(ImportJob, job_id) if 0 < job_id < 2**31 else None
    if job is None:
        raise NotFound(f"There is no import number {job_id}.")
    return job


def job_file(job: ImportJob, uploads_dir: Path) -> Path:
    path = Path(job.stored_path)
    try:
        path.resolve().relative_to(uploads_dir.resolve())
    except ValueError:
        raise NotFound("The original file of this import is not available.") from None
    if not path.exists():
        raise NotFound("The original file of this import is no longer stored.")
    return path


def preview_job(session: Session, job: ImportJob, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Plan:
    """Plan the job's stored file and keep the preview rows on the job."""
    data = Path(job.stored_path).read_bytes()
    plan = plan_import(session, data, max_bytes=max_bytes)
    job.status = "preview"
    job.results = [r.as_dict() for r in plan.rows]
    job.counts = {
        **job.counts,
        **plan.counts(),
        "encoding": plan.encoding,
        "warnings": plan.warnings,
        "stage": "preview",
    }
    session.add(job)
    session.commit()
    return plan


def _set_progress(engine: Engine, job_id: int, **values) -> None:
    """Progress goes in its own short transaction (never inside the import's); it is also
    the job's heartbeat."""
    with Session(engine) as s:
        # Not the report rows: a finished job's results hold a row per entry of the file,
        # and reading them back only to change the status would cost as much as writing them.
        job = s.get(ImportJob, job_id, options=[defer(ImportJob.results)])
        if job is None:
            return
        job.heartbeat_at = utcnow()
        if values.get("status") == "running":
            job.owner = owner_tag()
        for k, v in values.items():
            if k == "counts":
                job.counts = {**job.counts, **v}
            else:
                setattr(job, k, v)
        s.add(job)
        s.commit()


def _finish(engine: Engine, job_id: int, n_write: int) -> None:
    """The committed (and indexed) job becomes `done`."""
    _set_progress(
        engine,
        job_id,
        status="done",
        finished_at=utcnow(),
        counts={"stage": "done", "done": n_write, "total": n_write},
    )


def _mark_stale(index, job_id: int) -> bool:
    if index is None:
        return False
    try:
        if index.is_stale():
            return False  # someone else's mark: leave it for the rebuild
        index.mark_stale(f"import {job_id} in progress")
        return True
    except Exception:
        log.exception("could not mark the search index before import %s", job_id)
        return False


@few_full_collections()
def run_import(
    engine: Engine,
    *,
    job_id: int,
    index=None,
    choices: dict[int, str] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Progress = _noop,
) -> Report:
    """Plan and commit a stored job in ONE transaction, then sync the search index.

    The papers and the job's results (stage `indexing`) are committed in one transaction, so
    after a crash the database holds all of the import or none of it; the job says `done` only
    after the search index has the papers too, so "done" means searchable. A job whose process
    died after that commit is finished by recover_jobs (the index was marked stale and is
    rebuilt at start-up); one that died before it is failed, its file kept for a re-run.
    """
    with Session(engine, expire_on_commit=False) as s:
        job = get_job(s, job_id)
        data = Path(job.stored_path).read_bytes()
    last = {"stage": "", "at": -1, "t": 0.0}

    def report_progress(stage: str, done: int, total: int) -> None:
        progress(stage, done, total)
        # Progress rows are written outside the import transaction only: at each new stage,
        # then every BATCH entries but at most every PROGRESS_EVERY seconds (each is a short
        # transaction of its own, which a large import would otherwise pay thousands of).
        now = time.monotonic()
        if stage != "writing" and (
            stage != last["stage"]
            or (done - last["at"] >= BATCH and now - last["t"] >= PROGRESS_EVERY)
        ):
            last.update(stage=stage, at=done, t=now)
            _set_progress(
                engine,
                job_id,
                status="running",
                counts={"stage": stage, "done": done, "total": total},
            )

    _set_progress(engine, job_id, status="running", counts={"stage": "reading", "done": 0})
    stop_beat = _start_heartbeat(engine, job_id)
    try:
        with Session(engine, expire_on_commit=False) as s:
            plan = plan_import(s, data, max_bytes=max_bytes, progress=report_progress)
        apply_choices(plan, choices)
        n_write = sum(1 for r in plan.rows if r.action in ("add", "merge"))
        _set_progress(engine, job_id, counts={"stage": "writing", "done": 0, "total": n_write})
        # Until the index has the new papers it is marked stale, so that a crash between the
        # database commit and the index sync is repaired by the rebuild at the next start.
        marked = _mark_stale(index, job_id)
        with Session(engine, expire_on_commit=False) as s:
            try:
                touched = commit_plan(s, plan, progress=progress)
                # The records (every field and raw entry) are written: let them go before the
                # report rows are copied into the job (the peak of an import's memory).
                plan.records.clear()
                plan.curated.clear()
                rep = report_from_rows(plan.rows, job_id, plan.warnings)
                job = s.get(ImportJob, job_id)
                # Still `running`: the job says `done` once its papers are searchable too.
                # Stage `indexing` records that the papers are committed (see recover_jobs).
                job.results = [r.as_dict() for r in plan.rows]
                job.counts = {
                    **job.counts,
                    **rep.counts(),
                    "stage": "indexing",
                    "done": 0,
                    "total": 0,
                    "written": n_write,
                    "encoding": plan.encoding,
                    "warnings": plan.warnings,
                }
                s.add(job)
                s.commit()
            except BaseException:
                s.rollback()
                if marked:
                    index.clear_stale()
                raise
            rep.paper_ids = touched
            # The search sync reads the database: let the parsed file and the stored report
            # rows go first.
            plan = None
            s.expunge(job)
            job = None
            synced = True
            if index is not None and touched:
                from app.services.indexing import sync_papers

                progress("indexing", 0, len(touched))
                synced = sync_papers(s, index, touched)
            if marked and synced:
                index.clear_stale()
        _finish(engine, job_id, n_write)
    except (PayloadTooLarge, BadRequest) as exc:
        _set_progress(
            engine, job_id, status="failed", counts={"stage": "failed", "error": exc.detail}
        )
        raise
    except Exception as exc:
        log.exception("import %s failed", job_id)
        _set_progress(
            engine,
            job_id,
            status="failed",
            counts={"stage": "failed", "error": f"{type(exc).__name__}: {exc}"},
        )
        raise
    finally:
        stop_beat.set()
    return rep


def dry_run(
    session: Session, data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, progress: Progress = _noop
) -> Report:
    """What an import would do, without writing anything."""
    plan = plan_import(session, data, max_bytes=max_bytes, progress=progress)
    # Exact outcomes (a merge that adds nothing is a skip) come from really writing the plan
    # inside a transaction that is then rolled back.
    try:
        commit_plan(session, plan)
    finally:
        session.rollback()
    rep = report_from_rows(plan.rows, None, plan.warnings)
    rep.dry_run = True
    return rep


def run_import_quietly(engine: Engine, **kwargs) -> None:
    """run_import for a background task: failures are recorded on the job, not raised."""
    try:
        run_import(engine, **kwargs)
    except Exception:
        pass


def start_import_thread(
    engine: Engine,
    *,
    job_id: int,
    index=None,
    choices: dict[int, str] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> threading.Thread:
    """Run an import in a background thread; progress and the result land on the job row."""

    def target() -> None:
        try:
            run_import(engine, job_id=job_id, index=index, choices=choices, max_bytes=max_bytes)
        except Exception:  # already recorded on the job
            pass

    t = threading.Thread(target=target, name=f"import-{job_id}", daemon=True)
    t.start()
    return t


def recent_jobs(session: Session, limit: int = 20) -> list[ImportJob]:
    return list(
        session.exec(select(ImportJob).order_by(ImportJob.id.desc()).limit(limit)).scalars()
    )


def job_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(ImportJob)).scalar_one()


# --- liveness: jobs of dead processes ------------------------------------------------------

STALE_AFTER = timedelta(minutes=2)
HEARTBEAT_EVERY = 30.0  # seconds; well under STALE_AFTER
INTERRUPTED = (
    "interrupted: the server stopped while this import ran; the uploaded file is kept, run it again"
)


def owner_tag() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def _owner_alive(owner: str) -> bool | None:
    """True/False for a process of this host; None when it runs elsewhere or is unknown."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _start_heartbeat(engine: Engine, job_id: int) -> threading.Event:
    """Touch heartbeat_at while the job runs, also during its long write transaction, so that
    another host's start-up does not fail it. SQLite is single-host (the owner pid decides)
    and would only queue these writes behind the import's lock: no thread there."""
    stop = threading.Event()
    if engine.dialect.name == "sqlite":
        return stop

    def beat() -> None:
        while not stop.wait(HEARTBEAT_EVERY):
            try:
                with engine.begin() as conn:
                    conn.execute(
                        update(ImportJob.__table__)
                        .where(ImportJob.id == job_id, ImportJob.status == "running")
                        .values(heartbeat_at=utcnow())
                    )
            except Exception:
                log.warning("heartbeat of import %s failed", job_id, exc_info=True)

    threading.Thread(target=beat, name=f"import-{job_id}-heartbeat", daemon=True).start()
    return stop


def _aware(when: datetime | None) -> datetime | None:
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


def recover_jobs(engine: Engine, *, stale_after: timedelta = STALE_AFTER) -> list[int]:
    """Fail the pending/running jobs whose process is gone (called at start-up).

    A job is dead when its owner process on this host no longer exists, or, for an owner on
    another host (or none), when its heartbeat is older than `stale_after`. A live worker's job
    (several uvicorn workers or replicas) is left alone. The uploaded file is kept for a re-run.
    A dead job that had committed its papers (stage `indexing`) is finished as `done`: only its
    index sync was lost, and the stale mark it left makes the start-up rebuild that.
    """
    cutoff = utcnow() - stale_after
    failed = []
    with Session(engine) as s:
        jobs = s.exec(
            select(ImportJob).where(ImportJob.status.in_(("pending", "running")))
        ).scalars()
        for job in list(jobs):
            alive = _owner_alive(job.owner) if job.owner else None
            beat = _aware(job.heartbeat_at or job.created_at)
            if alive or (alive is None and beat is not None and beat > cutoff):
                continue
            if job.counts.get("stage") == "indexing":  # committed: only the index sync was lost
                n = job.counts.get("written", 0)
                status, counts = "done", {**job.counts, "stage": "done", "done": n, "total": n}
            else:
                status = "failed"
                counts = {**job.counts, "stage": "failed", "error": INTERRUPTED}
                counts["interrupted"] = True
            done = s.execute(
                update(ImportJob.__table__)
                .where(ImportJob.id == job.id, ImportJob.status == job.status)
                .values(status=status, counts=counts, finished_at=utcnow())
            )
            if done.rowcount and status == "failed":
                failed.append(job.id)
        s.commit()
    if failed:
        log.warning("imports %s were interrupted by a server stop: marked failed", failed)
    return failed


def queue_job(session: Session, job: ImportJob) -> None:
    """The job will run in this process (a background task): owner and heartbeat say so."""
    job.status = "pending"
    job.counts = {**job.counts, "stage": "queued", "done": 0}
    job.owner = owner_tag()
    job.heartbeat_at = utcnow()
    session.add(job)
    session.commit()


def reset_failed_job(session: Session, job: ImportJob, uploads_dir: Path) -> None:
    """Make a failed job's kept upload ready to run again (no re-upload); not committed."""
    if job.status != "failed":
        raise Conflict(f"Import {job.id} has not failed (it is {job.status}).")
    job_file(job, uploads_dir)  # 404 when the file is gone
    job.counts = {"bytes": job.counts.get("bytes", 0), "stage": "uploaded", "done": 0, "total": 0}
    job.results = []
    job.finished_at = None
