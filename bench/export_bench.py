"""Export benchmark: N papers in each format vs the standard library's csv module (same run).

    .venv/bin/python bench/export_bench.py [--papers 20000] [--small 5000] [--repeat 3]

Builds a throw-away SQLite database with N synthetic papers (3 authors, raw BibTeX fields,
phase/challenge/direction links each), then times every export format end to end (query,
ExportRecords, writer) into a null sink, and measures peak traced memory at N and at a smaller
size to show whether memory stays flat. The baseline reads the same columns with one query and
writes them with csv.writer. Prints one table; nothing is asserted.
"""

import argparse
import csv
import io
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app import migrate  # noqa: E402
from app.bibtex.writers import FORMATS  # noqa: E402
from app.db import make_engine, session_scope  # noqa: E402
from app.models import (  # noqa: E402
    Author,
    Challenge,
    Paper,
    PaperAuthor,
    PaperChallenge,
    PaperDirection,
    PaperPhase,
)
from app.services import export  # noqa: E402
from app.services.taxonomy import load_survey  # noqa: E402
from app.taxonomy import read_survey_dir  # noqa: E402

SURVEY = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "mini"


def build(path: Path, n: int) -> str:
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    eng = make_engine(url)
    with session_scope(eng) as s:
        load_survey(s, read_survey_dir(SURVEY))
        chs = s.exec(select(Challenge.id, Challenge.phase_id)).all()
        from app.models import Direction

        dis = s.exec(select(Direction.id, Direction.phase_id)).all()
    authors = [
        {
            "id": 1000 + i,
            "name": f"Given{i} Family{i}",
            "family": f"Family{i}",
            "given": f"Given{i}",
            "key": f"a{i}",
        }
        for i in range(3000)
    ]
    papers, pa, pp, pc, pd = [], [], [], [], []
    for n_ in range(1, n + 1):
        i = 1000 + n_  # the mini survey's own papers come first
        title = f"Paper {i}: on testing large language models with M{{\\\"u}}ller's method & more"
        fields = {
            "title": "{" + title + "}",
            "author": f"Family{i % 3000}, Given{i % 3000} and Family{(i * 7) % 3000}, Given",
            "year": str(2015 + i % 10),
            "journal": "Journal of Benchmarks",
            "doi": f"10.1000/bench.{i}",
            "abstract": "An abstract of moderate length, repeated. " * 6,
        }
        papers.append(
            {
                "id": i,
                "citekey": f"bench{i}",
                "entry_type": "article",
                "title": title,
                "year": 2015 + i % 10,
                "venue": "Journal of Benchmarks",
                "doi": f"10.1000/bench.{i}",
                "abstract": fields["abstract"],
                "fields": fields,
                "raw_bibtex": "",
                "title_key": f"paper {i}",
            }
        )
        for pos in range(3):
            pa.append({"paper_id": i, "position": pos, "author_id": 1000 + (i * 3 + pos) % 3000})
        cid, phid = chs[i % len(chs)]
        pp.append({"paper_id": i, "phase_id": phid, "origin": "survey"})
        pc.append({"paper_id": i, "challenge_id": cid, "origin": "survey"})
        did = next((d for d, dp in dis if dp == phid), None)
        if did:
            pd.append({"paper_id": i, "direction_id": did, "origin": "survey"})
    with eng.begin() as conn:
        conn.execute(insert(Author), authors)
        conn.execute(insert(Paper), papers)
        conn.execute(insert(PaperAuthor), pa)
        conn.execute(insert(PaperPhase), pp)
        conn.execute(insert(PaperChallenge), pc)
        conn.execute(insert(PaperDirection), pd)
    eng.dispose()
    return url


class Sink(io.TextIOBase):
    def __init__(self):
        self.n = 0

    def write(self, s):
        self.n += len(s)
        return len(s)


def run_format(url: str, fmt: str) -> int:
    eng = make_engine(url)
    with Session(eng) as s:
        plan = export.plan_export(s, fmt=fmt)
        size = sum(len(c) for c in plan.write(s))
    eng.dispose()
    return size


def run_baseline(url: str) -> int:
    eng = make_engine(url)
    sink = Sink()
    with Session(eng) as s:
        w = csv.writer(sink)
        rows = s.exec(
            select(
                Paper.citekey, Paper.title, Paper.year, Paper.venue, Paper.doi, Paper.abstract
            ).order_by(Paper.year.desc(), Paper.title)
        )
        for row in rows:
            w.writerow(row)
    eng.dispose()
    return sink.n


REPEAT = 3


def timed(fn, *args) -> tuple[float, int]:
    """Best of REPEAT runs: a shared machine adds noise, never speed."""
    best, size = float("inf"), 0
    for _ in range(REPEAT):
        t = time.perf_counter()
        size = fn(*args)
        best = min(best, time.perf_counter() - t)
    return best, size


def peak(fn, *args) -> float:
    tracemalloc.start()
    fn(*args)
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=20000)
    ap.add_argument("--small", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3, help="timings are the best of N runs")
    args = ap.parse_args()
    global REPEAT
    REPEAT = max(1, args.repeat)
    tmp = Path(tempfile.mkdtemp(prefix="surveykb-bench-"))
    try:
        big = build(tmp / "big.sqlite3", args.papers)
        small = build(tmp / "small.sqlite3", args.small)
        base_s, base_size = timed(run_baseline, big)
        base_mem = peak(run_baseline, big)
        print(
            f"{args.papers} papers; baseline csv.writer: {base_s:.2f} s, "
            f"{base_size / 1e6:.1f} MB, peak {base_mem:.1f} MB"
        )
        print(
            f"{'format':<10} {'seconds':>8} {'x base':>7} {'MB out':>7} "
            f"{'peak MB @' + str(args.small):>13} {'peak MB @' + str(args.papers):>14}"
        )
        for fmt in FORMATS:
            secs, size = timed(run_format, big, fmt)
            m_small, m_big = peak(run_format, small, fmt), peak(run_format, big, fmt)
            print(
                f"{fmt:<10} {secs:8.2f} {secs / base_s:7.1f} {size / 1e6:7.1f} "
                f"{m_small:13.1f} {m_big:14.1f}"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
