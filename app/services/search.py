"""Read side of search: run a query against the index and hydrate the hits from the database.

Shared by /search, /api/v1/search, and the `q` filter of /papers and /api/v1/papers.
"""

import logging
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import select
from sqlmodel import Session

from app.errors import NotFound
from app.models import Challenge, Direction, Paper, Phase, Survey
from app.search import FACETS, KINDS, SearchFilters, SearchIndex, SearchResult
from app.services.browse import hydrate

log = logging.getLogger(__name__)
MULTI = ("phase", "challenge", "direction", "venue", "year")
TAXONOMY = ("phase", "challenge", "direction")
KIND_LABELS = {"paper": "Papers", "challenge": "Challenges", "direction": "Research directions"}


@dataclass
class SearchParams:
    q: str = ""
    kind: str | None = None
    filters: SearchFilters = field(default_factory=SearchFilters)
    page: int = 1
    per_page: int = 20
    # A survey's slug: hits, facets and their labels are that survey's (None: the default
    # survey's taxonomy for facets, every document for hits, as with one survey).
    survey: str | None = None

    @classmethod
    def from_params(cls, params, *, per_page_max: int = 100) -> "SearchParams":
        """Lenient: junk values are ignored, never an error."""

        def many(name: str) -> list[str]:
            vals = params.getlist(name) if hasattr(params, "getlist") else params.get(name, [])
            vals = [vals] if isinstance(vals, str) else vals
            out: list[str] = []
            for v in vals or []:
                for part in str(v).split(","):
                    part = part.strip()[:300]
                    if part and part not in out:
                        out.append(part)
            return out

        def num(name: str, default, lo: int, hi: int):
            try:
                return min(hi, max(lo, int(str(params.get(name)).strip())))
            except (TypeError, ValueError):
                return default

        kind = params.get("kind") or None
        filters = SearchFilters(
            **{m: many(m) for m in MULTI},
            year_from=num("year_from", None, 1, 9999),
            year_to=num("year_to", None, 1, 9999),
        )
        return cls(
            q=str(params.get("q") or "").strip()[:500],
            kind=kind if kind in KINDS else None,
            filters=filters,
            page=num("page", 1, 1, 10**6),
            per_page=num("per_page", 20, 1, per_page_max),
            survey=str(params.get("survey") or "").strip()[:80] or None,
        )

    def pairs(self, **extra) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = [("q", self.q)] if self.q else []
        if self.kind:
            out.append(("kind", self.kind))
        for m in MULTI:
            out += [(m, v) for v in getattr(self.filters, m)]
        for name in ("year_from", "year_to"):
            if getattr(self.filters, name) is not None:
                out.append((name, str(getattr(self.filters, name))))
        if self.per_page != 20:
            out.append(("per_page", str(self.per_page)))
        if self.survey:
            out.append(("survey", self.survey))
        out = [p for p in out if p[0] not in extra]
        out += [(k, str(v)) for k, v in extra.items() if v not in (None, "")]
        return out

    def query(self, **extra) -> str:
        return urlencode(self.pairs(**extra))

    def toggle(self, name: str, value: str) -> str:
        """Query string with `value` added to or removed from facet `name` (page reset)."""
        current = list(getattr(self.filters, name))
        if value in current:
            current.remove(value)
        else:
            current.append(value)
        pairs = [p for p in self.pairs() if p[0] != name] + [(name, v) for v in current]
        return urlencode(pairs)


def _labels(session: Session, survey_id: int | None) -> dict[str, dict[str, str]]:
    def of(model, label):
        q = select(model.slug, label)
        if survey_id is not None:
            q = q.where(model.survey_id == survey_id)
        return dict(session.exec(q).all())

    return {
        "phase": of(Phase, Phase.name),
        "challenge": of(Challenge, Challenge.title),
        "direction": of(Direction, Direction.title),
    }


@dataclass
class Scope:
    """Which survey a search means. Facet values of the default survey are plain slugs in the
    index, those of the others "survey-slug/slug" (search.documents); `prefix` is that part."""

    survey_id: int | None  # None: no survey was named
    prefix: str
    slugs: dict[int, str]  # survey id -> slug of every non-default survey
    taxonomy_id: int | None  # the survey whose facets are shown: the named or the default one

    def index_filters(self, session: Session, f: SearchFilters) -> SearchFilters:
        """The filters as index values; naming a survey restricts hits to documents in one
        of its phases (every challenge and direction, and every classified paper)."""
        if self.survey_id is None:
            return f
        phases = f.phase or list(
            session.exec(select(Phase.slug).where(Phase.survey_id == self.survey_id)).scalars()
        )
        return replace(
            f,
            phase=[self.prefix + v for v in phases] or [self.prefix],
            challenge=[self.prefix + v for v in f.challenge],
            direction=[self.prefix + v for v in f.direction],
        )

    def facet_value(self, value: str) -> str | None:
        """The slug of an index facet value of this survey, None for another survey's."""
        if self.prefix:
            return value[len(self.prefix) :] if value.startswith(self.prefix) else None
        return None if "/" in value else value

    def qs(self, survey_id: int | None) -> str:
        """The query string that opens an item of `survey_id` in its survey ("" if default)."""
        slug = self.slugs.get(survey_id) if survey_id is not None else None
        return urlencode({"survey": slug}) if slug else ""


def scope(session: Session, slug: str | None) -> Scope:
    rows = session.exec(select(Survey.id, Survey.slug).order_by(Survey.id)).all()
    others = {sid: s for sid, s in rows[1:]}
    if not slug:
        return Scope(None, "", others, rows[0][0] if rows else None)
    for i, (sid, s) in enumerate(rows):
        if s == slug:
            return Scope(sid, "" if i == 0 else f"{s}/", others, sid)
    raise NotFound(f"No survey '{slug}'.")


def _phase_of(session: Session, model, ids: list[int]) -> dict[int, Phase]:
    if not ids:
        return {}
    rows = session.exec(
        select(model.id, Phase).join(Phase, Phase.id == model.phase_id).where(model.id.in_(ids))
    ).all()
    return {i: p for i, p in rows}


def search(session: Session, index: SearchIndex, params: SearchParams) -> dict:
    """Run the query and return hits hydrated from the database, with labelled facets."""
    sc = scope(session, params.survey)
    try:
        result = index.search(
            params.q,
            filters=sc.index_filters(session, params.filters),
            kind=params.kind,
            page=params.page,
            per_page=params.per_page,
        )
    except Exception:  # the index is derived; a broken index must not break the page
        log.exception("search failed for %r", params.q)
        result = SearchResult(query=params.q, hits=[], total=0, page=params.page)
        result.notice = "Search is temporarily unavailable; the index is being repaired."
        index.mark_stale("search raised an error")
    by_kind: dict[str, list[int]] = {k: [] for k in KINDS}
    for h in result.hits:
        by_kind.setdefault(h.kind, []).append(h.pk)
    papers = {}
    if by_kind["paper"]:
        rows = session.exec(select(Paper).where(Paper.id.in_(by_kind["paper"]))).scalars().all()
        papers = {it.id: it for it in hydrate(session, rows)}
    objs = {
        "challenge": {
            c.id: c
            for c in session.exec(
                select(Challenge).where(Challenge.id.in_(by_kind["challenge"]))
            ).scalars()
        },
        "direction": {
            d.id: d
            for d in session.exec(
                select(Direction).where(Direction.id.in_(by_kind["direction"]))
            ).scalars()
        },
    }
    phases = {
        "challenge": _phase_of(session, Challenge, by_kind["challenge"]),
        "direction": _phase_of(session, Direction, by_kind["direction"]),
    }
    items = []
    for h in result.hits:
        if h.kind == "paper":
            item = papers.get(h.pk)
            if item is None:  # in the index but gone from the database: skip, check reports it
                continue
            items.append({"hit": h, "kind": "paper", "paper": item})
        else:
            obj = objs.get(h.kind, {}).get(h.pk)
            if obj is None:
                continue
            entry = {"hit": h, "kind": h.kind, "item": obj, "phase": phases[h.kind].get(h.pk)}
            items.append({**entry, "sq": sc.qs(obj.survey_id)})
    labels = _labels(session, sc.taxonomy_id)
    facets: dict[str, list[dict]] = {}
    for name in FACETS:
        selected = set(getattr(params.filters, name))
        opts = []
        for o in result.facets.get(name, []):
            value = sc.facet_value(o["value"]) if name in TAXONOMY else o["value"]
            if value is None:
                continue
            opts.append(
                {
                    "value": value,
                    "label": labels.get(name, {}).get(value, value),
                    "count": o["count"],
                    "selected": value in selected,
                }
            )
        if name == "year":
            opts.sort(key=lambda o: o["value"], reverse=True)
        have = {o["value"] for o in opts}
        opts += [
            {"value": v, "label": labels.get(name, {}).get(v, v), "count": 0, "selected": True}
            for v in selected - have
        ]
        facets[name] = opts
    return {"result": result, "items": items, "facets": facets, "params": params}


def run_search(session: Session, index: SearchIndex, params: SearchParams) -> dict:
    """Context for the /search page."""
    ctx = search(session, index, params)
    surveys = session.exec(select(Survey).order_by(Survey.id)).scalars().all()
    ctx["surveys"] = surveys if len(surveys) > 1 else []
    ctx["kind_labels"] = KIND_LABELS
    ctx["facet_titles"] = {
        "phase": "Phase",
        "challenge": "Challenge",
        "direction": "Research direction",
        "year": "Year",
        "venue": "Venue",
    }
    return ctx


def paper_ids_for_query(index: SearchIndex, q: str) -> tuple[set[int], list[int], str | None]:
    """For the `q` filter of paper lists: (id set, rank order, notice)."""
    from app.search.query import parse
    from app.search.whoosh_backend import make_schema_cached

    parsed = parse(q, make_schema_cached())
    try:
        ranked = index.ranked_ids(q, kind="paper")
    except Exception:
        log.exception("ranked_ids failed for %r", q)
        index.mark_stale("search raised an error")
        ranked = []
    return set(ranked), ranked, parsed.notice


def hit_json(entry: dict) -> dict:
    """One search hit in the API shape (DESIGN.md section 5)."""
    h = entry["hit"]
    base = {"kind": h.kind, "score": h.score, "highlights": h.highlights}
    if entry["kind"] == "paper":
        return {**entry["paper"].as_dict(), **base}
    obj = entry["item"]
    phase = entry.get("phase")
    return {
        "slug": obj.slug,
        "title": obj.title,
        "description": obj.description,
        "phase": phase.slug if phase else None,
        "survey": dict(parse_qsl(entry.get("sq", ""))).get("survey"),  # None: default survey
        "source": obj.source,
        **base,
    }
