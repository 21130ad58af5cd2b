"""Read side: phases, challenges, directions and the filtered, faceted paper list.

Every function issues a fixed number of SQL statements whatever the page size: page rows are
fetched once and their authors and links loaded in one batch each.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlmodel import Session

from app.errors import Moved, NotFound
from app.models import (
    Author,
    Challenge,
    CitekeyAlias,
    Direction,
    DirectionChallenge,
    Paper,
    PaperAuthor,
    PaperChallenge,
    PaperDirection,
    PaperPhase,
    PaperTag,
    Phase,
    Survey,
    Tag,
)
from app.services.filters import PaperFilters

ACCEPTED = ("survey", "curated")  # `suggested` links are not shown as classification


@dataclass
class PaperItem:
    id: int
    citekey: str
    title: str
    year: int | None
    venue: str | None
    entry_type: str
    doi: str | None
    arxiv_id: str | None
    url: str | None
    authors: list[str] = field(default_factory=list)
    phases: list[dict] = field(default_factory=list)
    challenges: list[dict] = field(default_factory=list)
    directions: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d.pop("id")
        return d


@dataclass
class PaperPage:
    items: list[PaperItem]
    total: int
    page: int
    per_page: int
    facets: dict[str, list[dict]]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


# --- taxonomy -------------------------------------------------------------------------------


def default_survey(session: Session) -> Survey | None:
    """The default survey: the first one loaded (lowest id)."""
    return session.exec(select(Survey).order_by(Survey.id)).scalars().first()


def resolve_survey(session: Session, slug: str | None = None) -> Survey | None:
    """The survey named `slug`, or the default survey when no slug is given (None if none)."""
    if not slug:
        return default_survey(session)
    survey = session.exec(select(Survey).where(Survey.slug == slug)).scalars().first()
    if survey is None:
        raise NotFound(f"No survey '{slug}'.")
    return survey


def survey_prefixes(session: Session) -> dict[int, str]:
    """survey id -> how its taxonomy slugs are qualified where all surveys meet (search facet
    values, curation link keys): "" for the default survey, whose slugs stay plain, and
    "survey-slug/" for the others, so two surveys' `data` phases stay apart (slugs never
    contain "/")."""
    rows = session.exec(select(Survey.id, Survey.slug).order_by(Survey.id)).all()
    return {sid: ("" if i == 0 else f"{slug}/") for i, (sid, slug) in enumerate(rows)}


def scope_id(f_survey: str | None):
    """SQL expression for the id of the survey a filter is scoped to (default: the first)."""
    if f_survey:
        return select(Survey.id).where(Survey.slug == f_survey).scalar_subquery()
    return select(func.min(Survey.id)).scalar_subquery()


def _survey_papers(survey_id) -> ColumnElement:
    """Papers with an accepted link to any phase, challenge or direction of one survey."""
    subs = [
        select(link.paper_id)
        .join(target, target.id == col)
        .where(target.survey_id == survey_id, link.origin.in_(ACCEPTED))
        for link, col, target in (
            (PaperPhase, PaperPhase.phase_id, Phase),
            (PaperChallenge, PaperChallenge.challenge_id, Challenge),
            (PaperDirection, PaperDirection.direction_id, Direction),
        )
    ]
    return Paper.id.in_(subs[0].union(*subs[1:]))


def list_surveys(session: Session) -> list[dict]:
    """Every survey (default first) with its counts of phases, challenges, directions, papers."""
    surveys = session.exec(select(Survey).order_by(Survey.id)).scalars().all()

    def per_survey(model):
        q = select(model.survey_id, func.count()).group_by(model.survey_id)
        if model is not Phase:
            q = q.where(model.retired.is_(False))
        return dict(session.exec(q).all())

    phases, challenges, directions = per_survey(Phase), per_survey(Challenge), per_survey(Direction)
    papers = {s.id: survey_paper_count(session, s) for s in surveys}
    return [
        {
            "survey": s,
            "default": i == 0,
            "phases": phases.get(s.id, 0),
            "challenges": challenges.get(s.id, 0),
            "directions": directions.get(s.id, 0),
            "papers": papers[s.id],
        }
        for i, s in enumerate(surveys)
    ]


def survey_paper_count(session: Session, survey: Survey) -> int:
    return session.exec(
        select(func.count()).select_from(Paper).where(_survey_papers(survey.id))
    ).scalar_one()


def _survey_phases(session: Session, survey: Survey | None) -> list[Phase]:
    if survey is None:
        return []
    return list(
        session.exec(select(Phase).where(Phase.survey_id == survey.id).order_by(Phase.position))
        .scalars()
        .all()
    )


def phases_overview(session: Session, *, survey: Survey | None = None) -> list[dict]:
    """One survey's phases (default survey unless given) in lifecycle order, with counts of
    challenges, directions and papers."""
    phases = _survey_phases(session, survey or default_survey(session))
    ids = [p.id for p in phases]
    ch = dict(
        session.exec(
            select(Challenge.phase_id, func.count())
            .where(Challenge.retired.is_(False), Challenge.phase_id.in_(ids))
            .group_by(Challenge.phase_id)
        ).all()
    )
    di = dict(
        session.exec(
            select(Direction.phase_id, func.count())
            .where(Direction.retired.is_(False), Direction.phase_id.in_(ids))
            .group_by(Direction.phase_id)
        ).all()
    )
    pa = dict(
        session.exec(
            select(PaperPhase.phase_id, func.count(func.distinct(PaperPhase.paper_id)))
            .where(PaperPhase.origin.in_(ACCEPTED), PaperPhase.phase_id.in_(ids))
            .group_by(PaperPhase.phase_id)
        ).all()
    )
    return [
        {
            "phase": p,
            "challenges": ch.get(p.id, 0),
            "directions": di.get(p.id, 0),
            "papers": pa.get(p.id, 0),
        }
        for p in phases
    ]


def phase_year_table(session: Session, *, survey: Survey | None = None) -> dict:
    """Paper counts per phase per year of one survey (default unless given):
    {"years": [...], "rows": [(phase, {year: n}, total)]}."""
    phases = _survey_phases(session, survey or default_survey(session))
    rows = session.exec(
        select(PaperPhase.phase_id, Paper.year, func.count(func.distinct(Paper.id)))
        .join(Paper, Paper.id == PaperPhase.paper_id)
        .where(
            PaperPhase.origin.in_(ACCEPTED),
            Paper.year.is_not(None),
            PaperPhase.phase_id.in_([p.id for p in phases]),
        )
        .group_by(PaperPhase.phase_id, Paper.year)
    ).all()
    counts: dict[int, dict[int, int]] = defaultdict(dict)
    years: set[int] = set()
    for phase_id, year, n in rows:
        counts[phase_id][year] = n
        years.add(year)
    return {
        "years": sorted(years),
        "rows": [(p, counts.get(p.id, {}), sum(counts.get(p.id, {}).values())) for p in phases],
    }


def _scoped(session: Session, model, slug: str, survey: str | None):
    """The item with this slug in the named survey; without a survey, the default survey's,
    else the first match in a later survey (so that unprefixed links keep working)."""
    q = select(model).where(model.slug == slug)
    if survey:
        q = q.join(Survey, Survey.id == model.survey_id).where(Survey.slug == survey)
    return session.exec(q.order_by(model.survey_id)).scalars().first()


def get_phase(session: Session, slug: str, *, survey: str | None = None) -> Phase:
    phase = _scoped(session, Phase, slug, survey)
    if phase is None:
        raise NotFound(f"No phase '{slug}'.")
    return phase


def _paper_counts(session: Session, link, col, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    return dict(
        session.exec(
            select(col, func.count()).where(col.in_(ids), link.origin.in_(ACCEPTED)).group_by(col)
        ).all()
    )


def phase_detail(session: Session, slug: str, *, survey: str | None = None) -> dict:
    """A phase with its challenges and directions, their paper counts and cross-links."""
    phase = get_phase(session, slug, survey=survey)
    challenges = (
        session.exec(
            select(Challenge)
            .where(Challenge.phase_id == phase.id)
            .order_by(Challenge.retired, Challenge.position, Challenge.id)
        )
        .scalars()
        .all()
    )
    directions = (
        session.exec(
            select(Direction)
            .where(Direction.phase_id == phase.id)
            .order_by(Direction.retired, Direction.position, Direction.id)
        )
        .scalars()
        .all()
    )
    links = session.exec(
        select(DirectionChallenge).where(
            DirectionChallenge.direction_id.in_([d.id for d in directions])
        )
    ).scalars()
    by_dir: dict[int, list[int]] = defaultdict(list)
    by_ch: dict[int, list[int]] = defaultdict(list)
    for link in links:
        by_dir[link.direction_id].append(link.challenge_id)
        by_ch[link.challenge_id].append(link.direction_id)
    ch_counts = _paper_counts(
        session, PaperChallenge, PaperChallenge.challenge_id, [c.id for c in challenges]
    )
    di_counts = _paper_counts(
        session, PaperDirection, PaperDirection.direction_id, [d.id for d in directions]
    )
    paper_total = session.exec(
        select(func.count(func.distinct(PaperPhase.paper_id))).where(
            PaperPhase.phase_id == phase.id, PaperPhase.origin.in_(ACCEPTED)
        )
    ).scalar_one()
    ch_by_id = {c.id: c for c in challenges}
    di_by_id = {d.id: d for d in directions}
    return {
        "phase": phase,
        "paper_total": paper_total,
        "challenges": [
            {
                "item": c,
                "papers": ch_counts.get(c.id, 0),
                "directions": [di_by_id[i] for i in by_ch.get(c.id, []) if i in di_by_id],
            }
            for c in challenges
        ],
        "directions": [
            {
                "item": d,
                "papers": di_counts.get(d.id, 0),
                "challenges": [ch_by_id[i] for i in by_dir.get(d.id, []) if i in ch_by_id],
            }
            for d in directions
        ],
        "neighbours": _neighbours(session, phase),
        "survey": session.get(Survey, phase.survey_id),
    }


def _neighbours(session: Session, phase: Phase) -> dict:
    phases = (
        session.exec(
            select(Phase).where(Phase.survey_id == phase.survey_id).order_by(Phase.position)
        )
        .scalars()
        .all()
    )
    idx = next(i for i, p in enumerate(phases) if p.id == phase.id)
    return {
        "prev": phases[idx - 1] if idx > 0 else None,
        "next": phases[idx + 1] if idx + 1 < len(phases) else None,
    }


def challenge_detail(
    session: Session, slug: str, *, paper_limit: int | None = None, survey: str | None = None
) -> dict:
    ch = _scoped(session, Challenge, slug, survey)
    if ch is None:
        raise NotFound(f"No challenge '{slug}'.")
    phase = session.get(Phase, ch.phase_id)
    directions = (
        session.exec(
            select(Direction)
            .join(DirectionChallenge, DirectionChallenge.direction_id == Direction.id)
            .where(DirectionChallenge.challenge_id == ch.id)
            .order_by(Direction.position)
        )
        .scalars()
        .all()
    )
    sv = session.get(Survey, ch.survey_id)
    f = PaperFilters(challenge=[ch.slug], survey=sv.slug)
    page = list_papers(session, f, per_page=paper_limit or 500, facets=False)
    return {"item": ch, "phase": phase, "directions": directions, "papers": page, "survey": sv}


def direction_detail(
    session: Session, slug: str, *, paper_limit: int | None = None, survey: str | None = None
) -> dict:
    di = _scoped(session, Direction, slug, survey)
    if di is None:
        raise NotFound(f"No research direction '{slug}'.")
    phase = session.get(Phase, di.phase_id)
    challenges = (
        session.exec(
            select(Challenge)
            .join(DirectionChallenge, DirectionChallenge.challenge_id == Challenge.id)
            .where(DirectionChallenge.direction_id == di.id)
            .order_by(Challenge.position)
        )
        .scalars()
        .all()
    )
    sv = session.get(Survey, di.survey_id)
    f = PaperFilters(direction=[di.slug], survey=sv.slug)
    page = list_papers(session, f, per_page=paper_limit or 500, facets=False)
    return {"item": di, "phase": phase, "challenges": challenges, "papers": page, "survey": sv}


# --- papers ---------------------------------------------------------------------------------


def _link_condition(link, col, target, slugs: list[str], survey: str | None) -> ColumnElement:
    sub = (
        select(link.paper_id)
        .join(target, target.id == col)
        .where(
            target.slug.in_(slugs),
            target.survey_id == scope_id(survey),
            link.origin.in_(ACCEPTED),
        )
    )
    return Paper.id.in_(sub)


def _conditions(f: PaperFilters, ids: set[int] | None, skip: str | None = None) -> list:
    """WHERE conditions of a filter. Phase, challenge and direction slugs are resolved in the
    filter's survey (the default survey when none is named); a named survey also restricts
    the list to that survey's papers."""
    conds: list = []
    if f.survey:
        conds.append(_survey_papers(scope_id(f.survey)))
    if f.phase and skip != "phase":
        conds.append(_link_condition(PaperPhase, PaperPhase.phase_id, Phase, f.phase, f.survey))
    if f.challenge and skip != "challenge":
        conds.append(
            _link_condition(
                PaperChallenge, PaperChallenge.challenge_id, Challenge, f.challenge, f.survey
            )
        )
    if f.direction and skip != "direction":
        conds.append(
            _link_condition(
                PaperDirection, PaperDirection.direction_id, Direction, f.direction, f.survey
            )
        )
    if f.venue and skip != "venue":
        conds.append(Paper.venue.in_(f.venue))
    if f.type and skip != "type":
        conds.append(Paper.entry_type.in_(f.type))
    if f.tag and skip != "tag":
        conds.append(
            Paper.id.in_(
                select(PaperTag.paper_id)
                .join(Tag, Tag.id == PaperTag.tag_id)
                .where(Tag.name.in_(f.tag))
            )
        )
    if skip != "year":
        if f.year_from is not None:
            conds.append(Paper.year >= f.year_from)
        if f.year_to is not None:
            conds.append(Paper.year <= f.year_to)
    if ids is not None:
        conds.append(Paper.id.in_(list(ids)) if ids else Paper.id.is_(None))
    return conds


def _where(conds: list):
    return and_(*conds) if conds else True


def _facets(session: Session, f: PaperFilters, ids: set[int] | None) -> dict[str, list[dict]]:
    facets: dict[str, list[dict]] = {}

    def link_facet(name, link, col, target, label_col, order_cols):
        sub = select(Paper.id).where(_where(_conditions(f, ids, skip=name)))
        rows = session.exec(
            select(target.slug, label_col, func.count(func.distinct(link.paper_id)))
            .join(link, col == target.id)
            .where(
                link.paper_id.in_(sub),
                link.origin.in_(ACCEPTED),
                target.survey_id == scope_id(f.survey),
            )
            .group_by(target.slug, label_col, *order_cols)
            .order_by(*order_cols)
        ).all()
        selected = set(getattr(f, name))
        facets[name] = [
            {"value": s, "label": lbl, "count": n, "selected": s in selected} for s, lbl, n in rows
        ]
        have = {o["value"] for o in facets[name]}
        for s in getattr(f, name):
            if s not in have:
                facets[name].append({"value": s, "label": s, "count": 0, "selected": True})

    link_facet("phase", PaperPhase, PaperPhase.phase_id, Phase, Phase.name, [Phase.position])
    link_facet(
        "challenge",
        PaperChallenge,
        PaperChallenge.challenge_id,
        Challenge,
        Challenge.title,
        [Challenge.phase_id, Challenge.position],
    )
    link_facet(
        "direction",
        PaperDirection,
        PaperDirection.direction_id,
        Direction,
        Direction.title,
        [Direction.phase_id, Direction.position],
    )

    def column_facet(name, col, order_by_count: bool, limit: int | None = None):
        sub = _where(_conditions(f, ids, skip=name))
        q = select(col, func.count()).where(sub, col.is_not(None)).group_by(col)
        q = q.order_by(func.count().desc(), col) if order_by_count else q.order_by(col.desc())
        rows = session.exec(q).all()
        selected = {str(v) for v in (getattr(f, name) if name != "year" else [])}
        opts = [
            {"value": str(v), "label": str(v), "count": n, "selected": str(v) in selected}
            for v, n in rows
        ]
        if limit and len(opts) > limit:
            opts = [o for i, o in enumerate(opts) if i < limit or o["selected"]]
        facets[name] = opts

    column_facet("venue", Paper.venue, True, limit=25)
    column_facet("type", Paper.entry_type, True)
    column_facet("year", Paper.year, False)
    tag_sub = select(Paper.id).where(_where(_conditions(f, ids, skip="tag")))
    rows = session.exec(
        select(Tag.name, func.count())
        .join(PaperTag, PaperTag.tag_id == Tag.id)
        .where(PaperTag.paper_id.in_(tag_sub))
        .group_by(Tag.name)
        .order_by(func.count().desc(), Tag.name)
    ).all()
    facets["tag"] = [{"value": t, "label": t, "count": n, "selected": t in f.tag} for t, n in rows]
    return facets


def _order(sort: str):
    if sort == "title":
        return [func.lower(Paper.title), Paper.id]
    if sort == "oldest":
        return [Paper.year.is_(None), Paper.year.asc(), func.lower(Paper.title)]
    if sort == "added":
        return [Paper.created_at.desc(), Paper.id.desc()]
    return [Paper.year.is_(None), Paper.year.desc(), func.lower(Paper.title)]


def list_papers(
    session: Session,
    f: PaperFilters,
    *,
    sort: str = "year",
    page: int = 1,
    per_page: int = 25,
    ids: set[int] | None = None,
    facets: bool = True,
    order_ids: list[int] | None = None,
) -> PaperPage:
    """Filtered papers (OR within a facet, AND across facets), one page, with facet counts.

    `ids` restricts to a set (the hits of a full-text query); `order_ids` ranks by that order.
    """
    page = max(1, page)
    where = _where(_conditions(f, ids))
    total = session.exec(select(func.count()).select_from(Paper).where(where)).scalar_one()
    q = select(Paper).where(where)
    if order_ids is not None:
        rank = {pid: i for i, pid in enumerate(order_ids)}
        q = q.order_by(case(rank, value=Paper.id, else_=len(rank)) if rank else Paper.id)
    else:
        q = q.order_by(*_order(sort))
    rows = session.exec(q.offset((page - 1) * per_page).limit(per_page)).scalars().all()
    items = hydrate(session, rows)
    return PaperPage(
        items=items,
        total=total,
        page=page,
        per_page=per_page,
        facets=_facets(session, f, ids) if facets else {},
    )


def hydrate(session: Session, papers) -> list[PaperItem]:
    """PaperItems with authors and accepted links, in three batch queries."""
    ids = [p.id for p in papers]
    authors: dict[int, list[str]] = defaultdict(list)
    links: dict[str, dict[int, list[dict]]] = {
        "phases": defaultdict(list),
        "challenges": defaultdict(list),
        "directions": defaultdict(list),
    }
    if ids:
        for pid, name in session.exec(
            select(PaperAuthor.paper_id, Author.name)
            .join(Author, Author.id == PaperAuthor.author_id)
            .where(PaperAuthor.paper_id.in_(ids))
            .order_by(PaperAuthor.paper_id, PaperAuthor.position)
        ).all():
            authors[pid].append(name)
        # A link into a survey other than the default one names that survey (None otherwise),
        # so that its page can be linked as /phases/{slug}?survey={survey}.
        default_id = select(func.min(Survey.id)).scalar_subquery()
        other = case((Survey.id == default_id, None), else_=Survey.slug)
        for pid, slug, name, origin, sv in session.exec(
            select(PaperPhase.paper_id, Phase.slug, Phase.name, PaperPhase.origin, other)
            .join(Phase, Phase.id == PaperPhase.phase_id)
            .join(Survey, Survey.id == Phase.survey_id)
            .where(PaperPhase.paper_id.in_(ids), PaperPhase.origin.in_(ACCEPTED))
            .order_by(Phase.survey_id, Phase.position)
        ).all():
            links["phases"][pid].append(
                {"slug": slug, "name": name, "origin": origin, "survey": sv}
            )
        for kind, link, col, target in (
            ("challenges", PaperChallenge, PaperChallenge.challenge_id, Challenge),
            ("directions", PaperDirection, PaperDirection.direction_id, Direction),
        ):
            for pid, slug, title, origin, sv in session.exec(
                select(link.paper_id, target.slug, target.title, link.origin, other)
                .join(target, target.id == col)
                .join(Survey, Survey.id == target.survey_id)
                .where(link.paper_id.in_(ids), link.origin.in_(ACCEPTED))
                .order_by(target.survey_id, target.phase_id, target.position)
            ).all():
                links[kind][pid].append(
                    {"slug": slug, "title": title, "origin": origin, "survey": sv}
                )
    return [
        PaperItem(
            id=p.id,
            citekey=p.citekey,
            title=p.title,
            year=p.year,
            venue=p.venue,
            entry_type=p.entry_type,
            doi=p.doi,
            arxiv_id=p.arxiv_id,
            url=p.url,
            authors=authors.get(p.id, []),
            phases=links["phases"].get(p.id, []),
            challenges=links["challenges"].get(p.id, []),
            directions=links["directions"].get(p.id, []),
        )
        for p in papers
    ]


def get_paper(session: Session, citekey: str) -> Paper:
    """The paper with this key; a merged-away alias raises Moved to the current key."""
    paper = session.exec(select(Paper).where(Paper.citekey == citekey)).scalars().first()
    if paper is not None:
        return paper
    alias = session.get(CitekeyAlias, citekey)
    if alias is not None:
        target = session.get(Paper, alias.paper_id)
        if target is not None:
            raise Moved(target.citekey)
    raise NotFound(f"No paper with citation key '{citekey}'.")


def paper_detail(session: Session, citekey: str) -> dict:
    paper = get_paper(session, citekey)
    item = hydrate(session, [paper])[0]
    tags = (
        session.exec(
            select(Tag.name)
            .join(PaperTag, PaperTag.tag_id == Tag.id)
            .where(PaperTag.paper_id == paper.id)
            .order_by(Tag.name)
        )
        .scalars()
        .all()
    )
    aliases = (
        session.exec(select(CitekeyAlias.alias).where(CitekeyAlias.paper_id == paper.id))
        .scalars()
        .all()
    )
    return {"paper": paper, "item": item, "tags": list(tags), "aliases": list(aliases)}
