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
from app.services import browse
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
    # Curators' work the survey file disagrees with; kept, not overwritten (see _Curated).
    conflicts: list[str] = field(default_factory=list)

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


class _Curated:
    """What curators changed (ChangeLog, app/services/curation.py) that a reload of the survey
    file must not undo: item fields they edited, orders they set, links they removed or set.
    Where the file disagrees, the curated value stays and the disagreement is reported."""

    KIND_OF_LINK = {PaperPhase: "phase", PaperChallenge: "challenge", PaperDirection: "direction"}
    TARGETS = {"phase": Phase, "challenge": Challenge, "direction": Direction}

    def __init__(self, session: Session) -> None:
        from app.services import curation

        self.session = session
        self.fields = curation.curated_fields(session)
        self.orders = curation.curated_orders(session)
        self.links = curation.curated_link_states(session)
        self._slugs: dict[str, dict[int, str]] = {}
        self._reported: set[str] = set()

    def _conflict(self, report: LoadReport, message: str) -> None:
        if message not in self._reported:
            self._reported.add(message)
            report.conflicts.append(message)

    def keep_fields(self, report: LoadReport, kind: str, obj, values: dict) -> dict:
        if kind not in ("challenges", "directions"):
            return values
        item_kind = kind[:-1]
        out = dict(values)
        for name in sorted(self.fields.get((item_kind, obj.id), set()) & set(values)):
            mine, theirs = getattr(obj, name), values[name]
            if mine != theirs:
                self._conflict(
                    report,
                    f"{item_kind} '{obj.slug}': kept the curated {name} {mine!r}; "
                    f"the survey file says {theirs!r}",
                )
            out.pop(name)
        if (obj.phase_id, kind) in self.orders and "position" in out:
            if obj.position != out["position"]:
                phase = self.session.get(Phase, obj.phase_id)
                self._conflict(
                    report,
                    f"phase '{phase.slug}': kept the curated order of its {kind}; "
                    "the survey file orders them differently",
                )
            out.pop("position")
        return out

    def keep_addresses(self, report: LoadReport, direction_id: int, wanted, have) -> bool:
        """True when curators set what this direction addresses (the file is not applied)."""
        if "addresses" not in self.fields.get(("direction", direction_id), set()):
            return False
        if wanted != have:
            d = self.session.get(Direction, direction_id)
            self._conflict(
                report,
                f"direction '{d.slug}': kept the curated challenges it addresses; "
                "the survey file lists others",
            )
        return True

    def _slug(self, kind: str, target_id: int) -> str:
        """The target as curation's link keys name it (curation.target_ref)."""
        if kind not in self._slugs:
            model = self.TARGETS[kind]
            pre = browse.survey_prefixes(self.session)
            self._slugs[kind] = {
                i: pre.get(sid, "") + slug
                for i, slug, sid in self.session.exec(
                    select(model.id, model.slug, model.survey_id)
                ).all()
            }
        return self._slugs[kind].get(target_id, str(target_id))

    def _state(self, model, paper_id: int, target_id: int):
        kind = self.KIND_OF_LINK[model]
        key = f"{kind}:{self._slug(kind, target_id)}"
        states = self.links.get(paper_id, {})
        return kind, key in states, states.get(key)

    def _citekey(self, paper_id: int) -> str:
        return self.session.get(Paper, paper_id).citekey

    def keep_links(self, report, model, paper_id: int, wanted: set[int], have: set[int]):
        out = set(wanted)
        for target in wanted - have:
            kind, touched, state = self._state(model, paper_id, target)
            if touched and state is None:
                out.discard(target)
                self._conflict(
                    report,
                    f"paper '{self._citekey(paper_id)}': kept the {kind} link to "
                    f"'{self._slug(kind, target)}' removed by a curator; the survey file has it",
                )
        return out

    def link_was_set(self, report, model, paper_id: int, target: int) -> bool:
        kind, touched, state = self._state(model, paper_id, target)
        if touched and state is not None:
            self._conflict(
                report,
                f"paper '{self._citekey(paper_id)}': kept the {kind} link to "
                f"'{self._slug(kind, target)}' set by a curator; the survey file drops it",
            )
            return True
        return False


def _sync(obj, values: dict) -> bool:
    changed = False
    for k, v in values.items():
        if getattr(obj, k) != v:
            setattr(obj, k, v)
            changed = True
    return changed


def _upsert(session, model, report, kind, where: dict, values: dict, curated=None):
    stmt = select(model)
    for k, v in where.items():
        stmt = stmt.where(getattr(model, k) == v)
    obj = session.exec(stmt).scalars().first()
    if obj is None:
        obj = model(**where, **values)
        session.add(obj)
        session.flush()
        report.counts[f"{kind} created"] += 1
        return obj
    if curated is not None:
        values = curated.keep_fields(report, kind, obj, values)
    if _sync(obj, values):
        session.add(obj)
        report.counts[f"{kind} updated"] += 1
    else:
        report.counts[f"{kind} unchanged"] += 1
    return obj


def _sync_links(
    session, report, model, col_name, paper_id: int, wanted: set[int], curated=None, *, survey_id
) -> bool:
    """Make the survey-origin links of one paper into this survey's taxonomy equal `wanted`;
    links into other surveys and other origins are kept, and so are links a curator removed
    or set by hand (reported as conflicts)."""
    target = {"phase_id": Phase, "challenge_id": Challenge, "direction_id": Direction}[col_name]
    rows = (
        session.exec(
            select(model)
            .join(target, target.id == getattr(model, col_name))
            .where(model.paper_id == paper_id, target.survey_id == survey_id)
        )
        .scalars()
        .all()
    )
    have = {getattr(r, col_name): r for r in rows}
    if curated is not None:
        wanted = curated.keep_links(report, model, paper_id, wanted, set(have))
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
            if curated is not None and curated.link_was_set(report, model, paper_id, target):
                continue
            session.delete(row)
            changed = True
    if changed:
        report.counts[LINK_LABELS[model.__tablename__]] += 1
    return changed


def load_survey(session: Session, bundle: SurveyBundle) -> LoadReport:
    """Upsert the survey, its taxonomy and its papers; the caller commits (one transaction)."""
    spec = bundle.spec
    report = LoadReport(spec.slug)
    curated = _Curated(session)
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
                        # A file can retire an item but never un-retires one a curator retired.
                        **({"retired": True} if it.retired else {}),
                    },
                    curated,
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
            if curated.keep_addresses(report, did, wanted, have):
                continue
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
            changed |= _sync_links(
                session, report, model, col, paper.id, wanted, curated, survey_id=survey.id
            )
        if changed:
            report.changed_paper_ids.add(paper.id)
    session.flush()
    log.info("%s", report.summary())
    return report


def paper_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Paper)).scalar_one()


# --- writing the curated taxonomy back to survey.yaml ----------------------------------------


def _flat(text: str | None) -> str:
    # survey.yaml text fields are read with whitespace collapsed; write them the same way so
    # that export -> load -> export is stable.
    return " ".join(str(text or "").split())


def export_survey(session: Session, *, slug: str | None = None) -> str:
    """The curated taxonomy of one survey as survey.yaml text that load-survey accepts.

    Retired items are kept (their papers may still name them) and marked `retired: true`, which
    the loader honours (a file can retire an item, never bring a retired one back).
    """
    import yaml

    from app.errors import NotFound

    stmt = select(Survey).order_by(Survey.id)
    if slug:
        stmt = stmt.where(Survey.slug == slug)
    survey = session.exec(stmt).scalars().first()
    if survey is None:
        raise NotFound(f"No survey '{slug}'." if slug else "No survey loaded.")
    meta: dict = {"slug": survey.slug, "title": _flat(survey.title)}
    if survey.citekey:
        meta["citekey"] = survey.citekey
    meta["authors"] = list(survey.authors or [])
    if survey.year:
        meta["year"] = survey.year
    if survey.url:
        meta["url"] = survey.url
    if survey.description:
        meta["description"] = _flat(survey.description)
    if survey.citation:
        meta["citation"] = _flat(survey.citation)
    phases_out = []
    phases = session.exec(
        select(Phase).where(Phase.survey_id == survey.id).order_by(Phase.position)
    ).scalars()
    links: dict[int, list[str]] = {}
    for did, cslug in session.exec(
        select(DirectionChallenge.direction_id, Challenge.slug)
        .join(Challenge, Challenge.id == DirectionChallenge.challenge_id)
        .order_by(Challenge.position, Challenge.id)
    ).all():
        links.setdefault(did, []).append(cslug)
    for p in phases:
        entry: dict = {"slug": p.slug, "name": _flat(p.name), "summary": _flat(p.summary)}
        for key, model in (("challenges", Challenge), ("directions", Direction)):
            items = []
            for it in session.exec(
                select(model)
                .where(model.phase_id == p.id)
                .order_by(model.retired, model.position, model.id)
            ).scalars():
                d: dict = {
                    "slug": it.slug,
                    "title": _flat(it.title),
                    "description": _flat(it.description),
                    "source": it.source,
                }
                if model is Direction:
                    d["addresses"] = links.get(it.id, [])
                if it.retired:
                    d["retired"] = True
                items.append(d)
            entry[key] = items
        phases_out.append(entry)
    head = (
        f"# survey.yaml of '{survey.slug}', written by `surveykb export-survey` from the curated\n"
        "# knowledge base. `surveykb load-survey` reads it back.\n"
    )
    body = yaml.safe_dump(
        {"survey": meta, "phases": phases_out},
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    return head + body
