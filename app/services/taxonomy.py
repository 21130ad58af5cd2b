"""Load a survey bundle (taxonomy + papers) into the database in one transaction, idempotently."""

import logging
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlmodel import Session

from app.models import (
    Challenge,
    Direction,
    DirectionChallenge,
    Paper,
    PaperChallenge,
    PaperDirection,
    PaperPhase,
    Phase,
    Survey,
)
from app.services.papers import upsert_paper
from app.taxonomy import SurveyBundle

log = logging.getLogger(__name__)
LINK_LABELS = {
    "paperphase": "papers with phase links updated",
    "paperchallenge": "papers with challenge links updated",
    "paperdirection": "papers with direction links updated",
}


@dataclass
class LoadReport:
    survey: str
    counts: Counter = field(default_factory=Counter)
    changed_paper_ids: set[int] = field(default_factory=set)

    @property
    def changed(self) -> bool:
        return any(
            k.endswith(("created", "updated", "removed")) for k in self.counts if self.counts[k]
        )

    def summary(self) -> str:
        if not self.changed:
            return f"Survey '{self.survey}' is already up to date: nothing changed."
        parts = [f"{n} {k}" for k, n in sorted(self.counts.items()) if n and "unchanged" not in k]
        return f"Survey '{self.survey}' loaded: " + ", ".join(parts) + "."


def _sync(obj, values: dict) -> bool:
    changed = False
    for k, v in values.items():
        if getattr(obj, k) != v:
            setattr(obj, k, v)
            changed = True
    return changed


def _upsert(session, model, report, kind, where: dict, values: dict):
    stmt = select(model)
    for k, v in where.items():
        stmt = stmt.where(getattr(model, k) == v)
    obj = session.exec(stmt).scalars().first()
    if obj is None:
        obj = model(**where, **values)
        session.add(obj)
        session.flush()
        report.counts[f"{kind} created"] += 1
    elif _sync(obj, values):
        session.add(obj)
        report.counts[f"{kind} updated"] += 1
    else:
        report.counts[f"{kind} unchanged"] += 1
    return obj


def _sync_links(session, report, model, col_name, paper_id: int, wanted: set[int]) -> bool:
    """Make the survey-origin links of one paper equal `wanted`; other origins are kept."""
    rows = session.exec(select(model).where(model.paper_id == paper_id)).scalars().all()
    have = {getattr(r, col_name): r for r in rows}
    changed = False
    for target in wanted:
        row = have.get(target)
        if row is None:
            session.add(model(paper_id=paper_id, **{col_name: target}, origin="survey"))
            changed = True
        elif row.origin == "suggested":  # the survey confirms a suggestion
            row.origin, row.score = "survey", None
            session.add(row)
            changed = True
    for target, row in have.items():
        if row.origin == "survey" and target not in wanted:
            session.delete(row)
            changed = True
    if changed:
        report.counts[LINK_LABELS[model.__tablename__]] += 1
    return changed


def load_survey(session: Session, bundle: SurveyBundle) -> LoadReport:
    """Upsert the survey, its taxonomy and its papers; the caller commits (one transaction)."""
    spec = bundle.spec
    report = LoadReport(spec.slug)
    survey = _upsert(
        session,
        Survey,
        report,
        "survey",
        {"slug": spec.slug},
        {
            "title": spec.title,
            "citation": spec.citation,
            "citekey": spec.citekey,
            "description": spec.description,
            "url": spec.url,
            "year": spec.year,
            "authors": spec.authors,
        },
    )
    ids: dict[str, dict[str, int]] = {"phases": {}, "challenges": {}, "directions": {}}
    for pos, p in enumerate(spec.phases):
        phase = _upsert(
            session,
            Phase,
            report,
            "phases",
            {"survey_id": survey.id, "slug": p.slug},
            {"name": p.name, "position": pos, "summary": p.summary},
        )
        ids["phases"][p.slug] = phase.id
        for kind, model, items in (
            ("challenges", Challenge, p.challenges),
            ("directions", Direction, p.directions),
        ):
            for ipos, it in enumerate(items):
                obj = _upsert(
                    session,
                    model,
                    report,
                    kind,
                    {"survey_id": survey.id, "slug": it.slug},
                    {
                        "phase_id": phase.id,
                        "title": it.title,
                        "description": it.description,
                        "source": it.source,
                        "position": ipos,
                    },
                )
                ids[kind][it.slug] = obj.id
        for d in p.directions:
            did = ids["directions"][d.slug]
            wanted = {ids["challenges"][a] for a in d.addresses}
            have = set(
                session.exec(
                    select(DirectionChallenge.challenge_id).where(
                        DirectionChallenge.direction_id == did
                    )
                ).scalars()
            )
            for cid in wanted - have:
                session.add(DirectionChallenge(direction_id=did, challenge_id=cid))
                report.counts["direction-challenge links created"] += 1
            for row in session.exec(
                select(DirectionChallenge).where(
                    DirectionChallenge.direction_id == did,
                    DirectionChallenge.challenge_id.in_(have - wanted),
                )
            ).scalars():
                session.delete(row)
                report.counts["direction-challenge links removed"] += 1
    session.flush()
    for sp in bundle.papers:
        paper, status = upsert_paper(session, sp.record)
        report.counts[f"papers {status}"] += 1
        changed = status != "unchanged"
        for kind, model, col in (
            ("phases", PaperPhase, "phase_id"),
            ("challenges", PaperChallenge, "challenge_id"),
            ("directions", PaperDirection, "direction_id"),
        ):
            wanted = {ids[kind][s] for s in getattr(sp, kind)}
            changed |= _sync_links(session, report, model, col, paper.id, wanted)
        if changed:
            report.changed_paper_ids.add(paper.id)
    session.flush()
    log.info("%s", report.summary())
    return report


def paper_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Paper)).scalar_one()
