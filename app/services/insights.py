"""Insight views: counts over the accepted classification, laid out for server-rendered SVG.

Read-only. Every count uses the accepted origins of browse.py (survey + curated; `suggested`
links are not classification), and every cell or bar carries the /papers query that lists
exactly the papers it counts. Layout (coordinates) is computed here so the templates only draw.
"""

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlmodel import Session

from app.errors import NotFound
from app.models import (
    Challenge,
    Direction,
    DirectionChallenge,
    Paper,
    PaperChallenge,
    PaperDirection,
    PaperPhase,
    Phase,
)
from app.services.browse import ACCEPTED, scope_id
from app.services.filters import PaperFilters

# Fill colours per phase position: presentation attributes (no CSS needed, so the exported SVG
# keeps its colours); mid-tone hues readable on light and dark backgrounds.
PALETTE = ("#3b5bdb", "#0b7285", "#7048e8", "#c2410c", "#237032", "#c2255c", "#5c677d", "#a61e4d")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def papers_url(survey: str | None = None, **filters) -> str:
    """The /papers URL listing the papers behind one count (`survey`: the slug of a survey
    other than the default one, so the list means that survey's taxonomy)."""
    f = PaperFilters(
        survey=survey, **{k: ([v] if isinstance(v, str) else v) for k, v in filters.items()}
    )
    return "/papers?" + f.query()


def _phases(session: Session, survey: str | None = None) -> list[Phase]:
    return list(
        session.exec(
            select(Phase).where(Phase.survey_id == scope_id(survey)).order_by(Phase.position)
        )
        .scalars()
        .all()
    )


def _items(session: Session, model, survey: str | None = None) -> list:
    return list(
        session.exec(
            select(model)
            .where(model.retired.is_(False), model.survey_id == scope_id(survey))
            .order_by(model.phase_id, model.position, model.id)
        )
        .scalars()
        .all()
    )


def _classified(survey: str | None):
    """Ids of the papers with an accepted link to a phase of the survey."""
    return (
        select(PaperPhase.paper_id)
        .join(Phase, Phase.id == PaperPhase.phase_id)
        .where(PaperPhase.origin.in_(ACCEPTED), Phase.survey_id == scope_id(survey))
    )


# --- (a) phase x challenge matrix -----------------------------------------------------------


@dataclass
class Matrix:
    phases: list[Phase]
    rows: list[dict]  # {"challenge", "phase", "cells": [{"n", "url", "home", "gap"}], "total"}
    phase_totals: list[int]
    gaps: int  # challenges with no paper at all in their own phase

    def csv_rows(self) -> list[list]:
        head = ["phase", "challenge", "challenge_slug"] + [p.name for p in self.phases]
        out = [head + ["papers"]]
        for r in self.rows:
            out.append(
                [r["phase"].name, r["challenge"].title, r["challenge"].slug]
                + [c["n"] for c in r["cells"]]
                + [r["total"]]
            )
        out.append(["", "Papers in the phase", ""] + self.phase_totals + [""])
        return out


def phase_challenge_matrix(session: Session, survey: str | None = None) -> Matrix:
    """Rows: challenges grouped by their phase; columns: phases; a cell counts the papers
    linked to both the challenge and the phase. A challenge's own-phase cell at 0 is an open
    gap (the survey names the challenge, no paper here addresses it)."""
    phases = _phases(session, survey)
    challenges = _items(session, Challenge, survey)
    pc = PaperChallenge.__table__.alias("pc")
    pp = PaperPhase.__table__.alias("pp")
    pairs = session.exec(
        select(pc.c.challenge_id, pp.c.phase_id, func.count(func.distinct(pc.c.paper_id)))
        .join(pp, pp.c.paper_id == pc.c.paper_id)
        .where(pc.c.origin.in_(ACCEPTED), pp.c.origin.in_(ACCEPTED))
        .group_by(pc.c.challenge_id, pp.c.phase_id)
    ).all()
    counts = {(c, p): n for c, p, n in pairs}
    totals = dict(
        session.exec(
            select(PaperChallenge.challenge_id, func.count(func.distinct(PaperChallenge.paper_id)))
            .where(PaperChallenge.origin.in_(ACCEPTED))
            .group_by(PaperChallenge.challenge_id)
        ).all()
    )
    per_phase = dict(
        session.exec(
            select(PaperPhase.phase_id, func.count(func.distinct(PaperPhase.paper_id)))
            .where(PaperPhase.origin.in_(ACCEPTED))
            .group_by(PaperPhase.phase_id)
        ).all()
    )
    by_id = {p.id: p for p in phases}
    order = {p.id: i for i, p in enumerate(phases)}
    challenges.sort(key=lambda c: (order.get(c.phase_id, 1 << 30), c.position, c.id))
    rows, gaps = [], 0
    for c in challenges:
        phase = by_id.get(c.phase_id)
        if phase is None:
            continue
        cells = []
        for p in phases:
            n = counts.get((c.id, p.id), 0)
            home = p.id == c.phase_id
            gap = home and n == 0
            gaps += gap
            cells.append(
                {
                    "n": n,
                    "home": home,
                    "gap": gap,
                    "phase": p,
                    "url": papers_url(survey, challenge=c.slug, phase=p.slug),
                }
            )
        rows.append({"challenge": c, "phase": phase, "cells": cells, "total": totals.get(c.id, 0)})
    return Matrix(phases, rows, [per_phase.get(p.id, 0) for p in phases], gaps)


def matrix_layout(m: Matrix) -> dict:
    """Coordinates for the matrix SVG: a label column, one square column per phase."""
    label_w, cell, head_h, group_h = 320, 56, 150, 26
    y = head_h
    rows, groups = [], []
    current = None
    for r in m.rows:
        if r["phase"].id != current:
            current = r["phase"].id
            groups.append({"phase": r["phase"], "y": y + 18})
            y += group_h
        rows.append({**r, "y": y})
        y += cell
    max_n = max((c["n"] for r in m.rows for c in r["cells"]), default=0) or 1
    cols = [
        {"phase": p, "x": label_w + i * cell, "colour": colour(i)} for i, p in enumerate(m.phases)
    ]
    for r in rows:
        r["cells_xy"] = [
            {
                **c,
                "x": label_w + i * cell,
                "colour": colour(i),
                "opacity": 0.15 + 0.85 * (c["n"] / max_n) if c["n"] else 0,
            }
            for i, c in enumerate(r["cells"])
        ]
    return {
        "width": label_w + cell * max(1, len(m.phases)) + 150,  # room for slanted heads
        "height": y + 20,
        "cell": cell,
        "label_w": label_w,
        "head_h": head_h,
        "cols": cols,
        "rows": rows,
        "groups": groups,
    }


# --- (b) stacked bars: papers per phase per year, per venue -----------------------------------


@dataclass
class Stacked:
    """Bars (years or venues), each stacked by phase. `distinct` counts each paper once per
    bar; the segments count a paper once in each of its phases, so they can add up to more."""

    kind: str  # "year" | "venue"
    phases: list[Phase]
    bars: list[dict]  # {"key", "label", "segments": [{"phase", "n", "url"}], "distinct", "url"}
    undated: int = 0
    others: int = 0  # venues beyond the top N
    notes: list[str] = field(default_factory=list)

    def csv_rows(self) -> list[list]:
        out = [[self.kind] + [p.name for p in self.phases] + ["papers"]]
        for b in self.bars:
            out.append([b["label"]] + [s["n"] for s in b["segments"]] + [b["distinct"]])
        return out


def _stacked(
    session: Session, kind: str, col, keys: list, phases: list[Phase], survey: str | None
) -> list[dict]:
    in_survey = (
        PaperPhase.origin.in_(ACCEPTED),
        PaperPhase.phase_id.in_([p.id for p in phases]),
        col.in_(keys),
    )
    rows = session.exec(
        select(col, PaperPhase.phase_id, func.count(func.distinct(Paper.id)))
        .join(PaperPhase, PaperPhase.paper_id == Paper.id)
        .where(*in_survey)
        .group_by(col, PaperPhase.phase_id)
    ).all()
    counts = {(k, p): n for k, p, n in rows}
    distinct = dict(
        session.exec(
            select(col, func.count(func.distinct(Paper.id)))
            .join(PaperPhase, PaperPhase.paper_id == Paper.id)
            .where(*in_survey)
            .group_by(col)
        ).all()
    )
    bars = []
    for k in keys:
        if kind == "year":
            base = {"year_from": k, "year_to": k}
        else:
            base = {"venue": [k]}
        segs = [
            {
                "phase": p,
                "n": counts.get((k, p.id), 0),
                "url": "/papers?" + PaperFilters(phase=[p.slug], survey=survey, **base).query(),
                "colour": colour(i),
            }
            for i, p in enumerate(phases)
        ]
        bars.append(
            {
                "key": k,
                "label": str(k),
                "segments": segs,
                "distinct": distinct.get(k, 0),
                "url": "/papers?" + PaperFilters(survey=survey, **base).query(),
            }
        )
    return bars


def papers_per_year(session: Session, survey: str | None = None) -> Stacked:
    """Papers per publication year, stacked by phase (years with classified papers only)."""
    phases = _phases(session, survey)
    classified = _classified(survey)
    years = sorted(
        session.exec(
            select(Paper.year)
            .where(Paper.year.is_not(None), Paper.id.in_(classified))
            .group_by(Paper.year)
        ).scalars()
    )
    undated = session.exec(
        select(func.count()).where(Paper.year.is_(None), Paper.id.in_(classified))
    ).scalar_one()
    bars = _stacked(session, "year", Paper.year, years, phases, survey)
    return Stacked("year", phases, bars, undated)


def papers_per_venue(session: Session, *, top: int = 15, survey: str | None = None) -> Stacked:
    """The `top` venues by number of classified papers, each stacked by phase."""
    phases = _phases(session, survey)
    classified = _classified(survey)
    ranked = session.exec(
        select(Paper.venue, func.count())
        .where(Paper.venue.is_not(None), Paper.venue != "", Paper.id.in_(classified))
        .group_by(Paper.venue)
        .order_by(func.count().desc(), Paper.venue)
    ).all()
    keys = [v for v, _ in ranked[:top]]
    others = sum(n for _, n in ranked[top:])
    bars = _stacked(session, "venue", Paper.venue, keys, phases, survey)
    bars.sort(key=lambda b: (-b["distinct"], b["label"]))
    return Stacked("venue", phases, bars, others=others)


def stacked_layout(s: Stacked, *, horizontal: bool) -> dict:
    """Coordinates for a stacked bar chart: vertical bars for years, horizontal for venues."""
    max_total = max((sum(x["n"] for x in b["segments"]) for b in s.bars), default=0) or 1
    if horizontal:
        label_w, bar_h, gap, plot_w, top = 270, 24, 10, 420, 10
        bars = []
        for i, b in enumerate(s.bars):
            y = top + i * (bar_h + gap)
            x = label_w
            segs = []
            for seg in b["segments"]:
                w = plot_w * seg["n"] / max_total
                if seg["n"]:
                    segs.append({**seg, "x": x, "y": y, "w": w, "h": bar_h})
                x += w
            bars.append({**b, "y": y, "x_end": x, "segs": segs, "label_y": y + bar_h * 0.7})
        height = top + len(s.bars) * (bar_h + gap) + 10
        return {
            "width": label_w + plot_w + 60,
            "height": max(height, 40),
            "bars": bars,
            "label_w": label_w,
        }
    bar_w, gap, plot_h, left, top = 48, 18, 260, 40, 20
    bars = []
    base_y = top + plot_h
    for i, b in enumerate(s.bars):
        x = left + i * (bar_w + gap)
        y = base_y
        segs = []
        for seg in b["segments"]:
            h = plot_h * seg["n"] / max_total
            if seg["n"]:
                segs.append({**seg, "x": x, "y": y - h, "w": bar_w, "h": h})
            y -= h
        bars.append({**b, "x": x, "y_top": y, "segs": segs, "mid": x + bar_w / 2})
    return {
        "width": left + max(1, len(s.bars)) * (bar_w + gap) + 20,
        "height": base_y + 40,
        "bars": bars,
        "base_y": base_y,
        "bar_w": bar_w,
        "max_total": max_total,
        "left": left,
        "top": top,
    }


# --- (c) traceability of one phase ------------------------------------------------------------


@dataclass
class Trace:
    phase: Phase
    challenges: list[dict]  # {"item", "n", "url"}
    directions: list[dict]
    links: list[dict]  # {"challenge", "direction", "n", "url"}

    def csv_rows(self) -> list[list]:
        out = [["challenge", "challenge_papers", "direction", "direction_papers", "papers_both"]]
        n_of = {c["item"].id: c["n"] for c in self.challenges}
        d_of = {d["item"].id: d["n"] for d in self.directions}
        for link in self.links:
            c, d = link["challenge"], link["direction"]
            out.append([c.title, n_of[c.id], d.title, d_of[d.id], link["n"]])
        linked_c = {lk["challenge"].id for lk in self.links}
        linked_d = {lk["direction"].id for lk in self.links}
        for c in self.challenges:
            if c["item"].id not in linked_c:
                out.append([c["item"].title, c["n"], "", "", ""])
        for d in self.directions:
            if d["item"].id not in linked_d:
                out.append(["", "", d["item"].title, d["n"], ""])
        return out


def traceability(session: Session, phase_slug: str, survey: str | None = None) -> Trace:
    """One phase of a survey: its challenges, its directions, the DirectionChallenge links,
    paper counts."""
    phase = (
        session.exec(
            select(Phase).where(Phase.slug == phase_slug, Phase.survey_id == scope_id(survey))
        )
        .scalars()
        .first()
    )
    if phase is None:
        raise NotFound(f"No phase '{phase_slug}'.")
    chs = [c for c in _items(session, Challenge, survey) if c.phase_id == phase.id]
    dis = [d for d in _items(session, Direction, survey) if d.phase_id == phase.id]

    def counts(link, col, ids):
        if not ids:
            return {}
        return dict(
            session.exec(
                select(col, func.count(func.distinct(link.paper_id)))
                .where(col.in_(ids), link.origin.in_(ACCEPTED))
                .group_by(col)
            ).all()
        )

    cn = counts(PaperChallenge, PaperChallenge.challenge_id, [c.id for c in chs])
    dn = counts(PaperDirection, PaperDirection.direction_id, [d.id for d in dis])
    both: dict = {}
    if chs and dis:
        rows = session.exec(
            select(
                PaperChallenge.challenge_id,
                PaperDirection.direction_id,
                func.count(func.distinct(PaperChallenge.paper_id)),
            )
            .join(PaperDirection, PaperDirection.paper_id == PaperChallenge.paper_id)
            .where(
                PaperChallenge.challenge_id.in_([c.id for c in chs]),
                PaperDirection.direction_id.in_([d.id for d in dis]),
                PaperChallenge.origin.in_(ACCEPTED),
                PaperDirection.origin.in_(ACCEPTED),
            )
            .group_by(PaperChallenge.challenge_id, PaperDirection.direction_id)
        ).all()
        both = {(c, d): n for c, d, n in rows}
    c_by = {c.id: c for c in chs}
    d_by = {d.id: d for d in dis}
    pairs = session.exec(
        select(DirectionChallenge.challenge_id, DirectionChallenge.direction_id).where(
            DirectionChallenge.direction_id.in_(list(d_by))
        )
    ).all()
    c_pos = {c.id: i for i, c in enumerate(chs)}
    d_pos = {d.id: i for i, d in enumerate(dis)}
    links = [
        {
            "challenge": c_by[c],
            "direction": d_by[d],
            "n": both.get((c, d), 0),
            "url": papers_url(survey, challenge=c_by[c].slug, direction=d_by[d].slug),
        }
        for c, d in pairs
        if c in c_by and d in d_by
    ]
    links.sort(key=lambda lk: (c_pos[lk["challenge"].id], d_pos[lk["direction"].id]))
    return Trace(
        phase,
        [
            {"item": c, "n": cn.get(c.id, 0), "url": papers_url(survey, challenge=c.slug)}
            for c in chs
        ],
        [
            {"item": d, "n": dn.get(d.id, 0), "url": papers_url(survey, direction=d.slug)}
            for d in dis
        ],
        links,
    )


def trace_layout(t: Trace) -> dict:
    box_w, box_h, gap, top, mid = 300, 44, 14, 40, 220
    left_x, right_x = 10, 10 + box_w + mid

    def column(items, x):
        return [{**it, "x": x, "y": top + i * (box_h + gap)} for i, it in enumerate(items)]

    cs, ds = column(t.challenges, left_x), column(t.directions, right_x)
    cy = {c["item"].id: c["y"] + box_h / 2 for c in cs}
    dy = {d["item"].id: d["y"] + box_h / 2 for d in ds}
    links = []
    for lk in t.links:
        y1, y2 = cy[lk["challenge"].id], dy[lk["direction"].id]
        x1, x2 = left_x + box_w, right_x
        links.append(
            {
                **lk,
                "x1": x1,
                "y1": y1,
                "x2": x2,
                "y2": y2,
                "cx": (x1 + x2) / 2,
                "lx": x1 + (x2 - x1) * 0.5,
                "ly": (y1 + y2) / 2 - 4,
                "width": 1.5 + min(lk["n"], 10) * 0.6,
            }
        )
    n = max(len(cs), len(ds), 1)
    return {
        "width": right_x + box_w + 10,
        "height": top + n * (box_h + gap) + 10,
        "box_w": box_w,
        "box_h": box_h,
        "left_x": left_x,
        "right_x": right_x,
        "challenges": cs,
        "directions": ds,
        "links": links,
        "colour": colour(t.phase.position),
    }


def phase_list(session: Session, survey: str | None = None) -> list[Phase]:
    return _phases(session, survey)


# --- CSV --------------------------------------------------------------------------------------


def safe_cell(value) -> str:
    """Neutralise spreadsheet formulas: a text cell starting with = + - @ tab or CR gets a '."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    s = str(value)
    return "'" + s if s.startswith(FORMULA_START) else s


def to_csv(rows: list[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    for r in rows:
        w.writerow([safe_cell(v) for v in r])
    return buf.getvalue()


def summary_counts(session: Session, survey: str | None = None) -> dict:
    """Small figures for the insights index page."""
    m = phase_challenge_matrix(session, survey)
    return {"challenges": len(m.rows), "gaps": m.gaps, "phases": len(m.phases)}
