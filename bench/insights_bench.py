"""Insight views benchmark: each view's page (queries + SVG + table) on the shipped survey plus
N synthetic papers, against the home page's phase x year table query (same run) as baseline.

    .venv/bin/python bench/insights_bench.py [--papers 20000] [--repeat 5]

Builds a throw-away SQLite database, loads the shipped survey, adds N papers with 1-2 phases,
0-2 challenges and 0-1 directions each (accepted links), then times every view through the
real app (TestClient) and prints the median per view. Nothing is asserted.
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app import migrate  # noqa: E402
from app.config import PROJECT_ROOT, Settings  # noqa: E402
from app.db import make_engine, session_scope  # noqa: E402
from app.main import create_app  # noqa: E402
from app.models import (  # noqa: E402
    Challenge,
    Direction,
    Paper,
    PaperChallenge,
    PaperDirection,
    PaperPhase,
    Phase,
)
from app.services import browse  # noqa: E402
from app.services.taxonomy import load_survey  # noqa: E402
from app.taxonomy import read_survey_dir  # noqa: E402


def build(var: Path, n: int) -> Settings:
    url = f"sqlite:///{var / 'bench.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as s:
        load_survey(s, read_survey_dir(PROJECT_ROOT / "data" / "surveys" / "se4llm"))
    rnd = random.Random(8)
    venues = [f"Venue {i}" for i in range(60)]
    with Session(engine) as s:
        phases = s.exec(select(Phase.id)).scalars().all()
        chs = s.exec(select(Challenge.id, Challenge.phase_id)).all()
        dis = s.exec(select(Direction.id, Direction.phase_id)).all()
        start = s.exec(select(Paper.id).order_by(Paper.id.desc())).scalars().first() or 0
        papers, pp, pc, pd = [], [], [], []
        for i in range(n):
            pid = start + 1 + i
            papers.append(
                {
                    "id": pid,
                    "citekey": f"bench{i}",
                    "entry_type": "article",
                    "title": f"Synthetic paper {i}",
                    "year": rnd.randint(2015, 2026),
                    "venue": rnd.choice(venues),
                    "fields": {},
                    "raw_bibtex": "",
                    "abstract": "",
                    "title_key": f"synthetic paper {i}",
                }
            )
            mine = rnd.sample(phases, rnd.randint(1, 2))
            pp += [{"paper_id": pid, "phase_id": p, "origin": "survey"} for p in mine]
            cand = [c for c, ph in chs if ph in mine]
            for c in rnd.sample(cand, min(len(cand), rnd.randint(0, 2))):
                pc.append({"paper_id": pid, "challenge_id": c, "origin": "survey"})
            cand = [d for d, ph in dis if ph in mine]
            if cand and rnd.random() < 0.5:
                pd.append({"paper_id": pid, "direction_id": rnd.choice(cand), "origin": "survey"})
        for model, rows in ((Paper, papers), (PaperPhase, pp), (PaperChallenge, pc)):
            s.execute(insert(model), rows)
        if pd:
            s.execute(insert(PaperDirection), pd)
        s.commit()
    engine.dispose()
    return Settings(var_dir=var, database_url=url)


def timed(fn, repeat: int) -> float:
    fn()  # warm
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = build(Path(tmp), args.papers)
        engine = make_engine(settings.database_url)

        def baseline():
            with Session(engine) as s:
                browse.phase_year_table(s)

        base = timed(baseline, args.repeat)
        rows = [("baseline: phase x year query (home page)", base)]
        with TestClient(create_app(settings)) as c:
            for url in (
                "/insights/matrix",
                "/insights/years",
                "/insights/venues",
                "/insights/trace/evaluation",
                "/insights/matrix?format=csv",
                "/insights/matrix?format=svg",
            ):

                def get(url=url):
                    r = c.get(url)
                    assert r.status_code == 200

                rows.append((url, timed(get, args.repeat)))
        engine.dispose()
    print(
        f"insight views, shipped survey + {args.papers} synthetic papers, median of {args.repeat}"
    )
    for name, secs in rows:
        print(f"  {name:<45} {secs * 1000:8.1f} ms   {secs / base:6.1f}x baseline")


if __name__ == "__main__":
    main()
