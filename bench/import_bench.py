"""Import benchmark (prints figures; not a test).

    .venv/bin/python bench/import_bench.py [--generated N] [--skip-loo]

1. End-to-end import (decode, parse, LaTeX decoding, dedupe, suggestions, one transaction,
   search sync) of the largest shared corpus file and of a generated N-entry file, into an
   empty and into a full database; entries/s, peak traced memory, and the ratio to a bare
   `bibtexparser.parse_string` of the same text in the same run.
2. Leave-one-out phase suggestion accuracy on the shipped survey's classified papers.
"""

import argparse
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bibtexparser  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app import migrate  # noqa: E402
from app.config import PROJECT_ROOT, Settings  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.search import open_index  # noqa: E402
from app.services import imports  # noqa: E402

CORPUS = PROJECT_ROOT.parent / "shared" / "corpora" / "bibtex"
LARGEST = CORPUS / "FlamingTempura__bibtex-tidy" / "Unabbreviate_on_import_1436-3.bib"


def generated(n: int) -> bytes:
    return "".join(
        f"@inproceedings{{gen{i},\n  title = {{On Testing Large Model Pipelines, Part {i}}},\n"
        f"  author = {{M{{\\\"u}}ller, J{{\\'o}}rg and van der Berg, Piet and Smith, A{i % 97}}},\n"
        f"  booktitle = {{Proc. ICSE}},\n  year = {{{2000 + i % 25}}},\n"
        f"  doi = {{10.5555/gen.{i}}},\n  abstract = {{We evaluate data sets \\& models, "
        f"50\\% faster.}},\n}}\n"
        for i in range(n)
    ).encode()


def world(tmp: Path) -> Settings:
    s = Settings(var_dir=tmp, database_url=f"sqlite:///{tmp / 'b.sqlite3'}")
    s.ensure_dirs()
    migrate.upgrade(s.database_url)
    return s


def run(label: str, data: bytes, settings: Settings) -> None:
    text = data.decode("utf-8")
    t = time.perf_counter()
    lib = bibtexparser.parse_string(text)
    bare = time.perf_counter() - t
    n = len(lib.entries)
    del lib
    engine = make_engine(settings.database_url)
    index = open_index(settings)
    with Session(engine) as s:
        job = imports.create_job(s, uploads_dir=settings.uploads_dir, filename="b.bib", data=data)
    tracemalloc.start()
    t = time.perf_counter()
    rep = imports.run_import(engine, job_id=job.id, index=index, max_bytes=len(data) + 1)
    full = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    c = rep.counts()
    print(
        f"{label:38} {n:>7} entries  bare parse {bare:6.2f}s ({n / bare:7.0f}/s)  "
        f"end-to-end {full:6.2f}s ({n / full:7.0f}/s)  ratio {bare / full:4.2f}  "
        f"peak {peak / 1e6:6.1f} MB (file {len(data) / 1e6:.1f} MB)  {c}"
    )
    engine.dispose()


def loo() -> None:
    from app.services.suggest import Suggester, load_examples, load_targets
    from app.services.taxonomy import load_survey
    from app.taxonomy import read_survey_dir

    with tempfile.TemporaryDirectory() as d:
        settings = world(Path(d))
        engine = make_engine(settings.database_url)
        with Session(engine) as s:
            load_survey(s, read_survey_dir(settings.survey_path))
            s.commit()
            phases, challenges = load_targets(s)
            examples = load_examples(s)
        top1 = top3 = 0
        for i, (_, text, pks, _c) in enumerate(examples):
            rest = [(t, p, c) for j, (_, t, p, c) in enumerate(examples) if j != i]
            ranked = Suggester(phases, challenges, rest).rank_phases(text)
            keys = [r.key for r in ranked]
            top1 += keys[0] in pks
            top3 += bool(set(keys[:3]) & pks)
        n = len(examples) or 1
        print(
            f"leave-one-out phase suggestion over {len(examples)} classified papers "
            f"(title + abstract only): top-1 {top1 / n:.1%}, top-3 {top3 / n:.1%} "
            f"(chance top-1 ≈ {1 / max(1, len(phases)):.0%})"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--generated", type=int, default=50_000)
    ap.add_argument("--skip-loo", action="store_true")
    args = ap.parse_args()
    cases = []
    if LARGEST.exists():
        cases.append(("largest corpus file", LARGEST.read_bytes()))
    if args.generated:
        cases.append((f"generated {args.generated}", generated(args.generated)))
    for label, data in cases:
        tmp = Path(tempfile.mkdtemp())
        try:
            settings = world(tmp)
            run(f"{label} -> empty db", data, settings)
            # the same file again: every entry is now a duplicate (full database)
            run(f"{label} -> full db (re-import)", data, settings)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if not args.skip_loo:
        loo()


if __name__ == "__main__":
    main()
