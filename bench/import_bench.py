"""Import benchmark (prints figures; not a test).

    .venv/bin/python bench/import_bench.py [--generated N] [--skip-loo] [--skip-memory]
        [--no-index]

1. Speed. End-to-end import (decode, parse, LaTeX decoding, dedupe, phase suggestions, one
   transaction, search index sync) of the largest shared corpus file and of a generated N-entry
   file (default 50,000), into an empty database (the shipped survey loaded, none of the file's
   papers) and then into the full one (the same file again: every entry is a duplicate).
   Wall and CPU seconds, entries/s, and the ratio to a bare `bibtexparser.parse_string` of the
   same text in the same process right before (ratio = bare time / import time, so 0.5 means
   the import takes twice as long as the bare parse). Two end points are shown:
   `committed` (the one transaction is committed: papers are in the database and on /papers)
   and `searchable` (the search index has them too: what run_import returns after).
   No tracing runs during these timings.
   Each timing starts after a gc.collect(), so neither pays for garbage left by the other.
2. Memory, in a separate pass: each import runs again in a fresh child process, which reports
   its peak resident set size (VmHWM, reset just before the import) above its RSS then, in
   all and up to the commit (before the search index sync).
3. Leave-one-out phase suggestion accuracy on the shipped survey's classified papers.

--no-index runs the imports without a search index (the `committed` figures are the same
code path; `searchable` then equals `committed`): the index sync of 50,000 new papers takes
minutes and is measured by bench/search_bench.py's owner, not here.

The machine may be shared: wall times vary with its load; CPU times and the same-run ratios
are steadier.
"""

import argparse
import gc
import json
import shutil
import subprocess
import sys
import tempfile
import time
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


def case_data(case: str, n: int) -> bytes:
    return LARGEST.read_bytes() if case == "largest" else generated(n)


def case_label(case: str, n: int) -> str:
    return "largest corpus file" if case == "largest" else f"generated {n:,}"


def world(tmp: Path):
    """A fresh database and index with the shipped survey loaded (as after `make run`)."""
    from app.services.indexing import load_survey_and_index
    from app.taxonomy import read_survey_dir

    s = Settings(var_dir=tmp, database_url=f"sqlite:///{tmp / 'b.sqlite3'}")
    s.ensure_dirs()
    migrate.upgrade(s.database_url)
    engine = make_engine(s.database_url)
    index = open_index(s)
    load_survey_and_index(engine, index, read_survey_dir(s.survey_path))
    return s, engine, index


def bare_parse(data: bytes) -> tuple[int, float, float]:
    text = data.decode("utf-8")
    gc.collect()  # both timings start from a clean heap (no collector debt from before)
    t, c = time.perf_counter(), time.process_time()
    lib = bibtexparser.parse_string(text)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    n = len(lib.entries)
    del lib
    return n, wall, cpu


def timed_import(settings, engine, index, data: bytes, *, peaks: dict | None = None) -> dict:
    """Timings of one import; with `peaks`, also the peak RSS when it was committed."""
    with Session(engine) as s:
        job = imports.create_job(s, uploads_dir=settings.uploads_dir, filename="b.bib", data=data)
    marks: dict[str, tuple[float, float]] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "indexing" and "committed" not in marks:
            marks["committed"] = (time.perf_counter(), time.process_time())
            if peaks is not None:
                peaks["committed"] = _status_kb("VmHWM")

    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    rep = imports.run_import(
        engine, job_id=job.id, index=index, max_bytes=len(data) + 1, progress=progress
    )
    end = (time.perf_counter(), time.process_time())
    committed = marks.get("committed", end)
    return {
        "committed": (committed[0] - t0, committed[1] - c0),
        "searchable": (end[0] - t0, end[1] - c0),
        "counts": rep.counts(),
    }


def speed(case: str, n_gen: int, use_index: bool = True) -> None:
    data = case_data(case, n_gen)
    label = case_label(case, n_gen)
    tmp = Path(tempfile.mkdtemp())
    try:
        settings, engine, index = world(tmp)
        if not use_index:
            index = None
        for target in ("empty db", "full db (re-import)"):
            n, bare_w, bare_c = bare_parse(data)
            r = timed_import(settings, engine, index, data)
            print(f"{label} -> {target}: {n:,} entries, {len(data) / 1e6:.1f} MB")
            print(f"  bare parse   wall {bare_w:7.2f}s  cpu {bare_c:7.2f}s  ({n / bare_w:,.0f}/s)")
            for what in ("committed", "searchable"):
                w, c = r[what]
                print(
                    f"  {what:11}  wall {w:7.2f}s  cpu {c:7.2f}s  ({n / w:,.0f}/s)  "
                    f"ratio to bare parse: wall {bare_w / w:.2f}, cpu {bare_c / c:.2f}"
                )
            print(f"  {r['counts']}", flush=True)
        engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> bool:
    """Reset the peak RSS (VmHWM) to the current RSS (Linux: echo 5 > clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def memory_child(case: str, n_gen: int, reimport: bool, use_index: bool = True) -> None:
    """Runs in a fresh process: peak RSS of one import above the RSS before it (JSON out).

    VmHWM, not getrusage: Linux keeps ru_maxrss across exec (the parent's peak would show)."""
    data = case_data(case, n_gen)
    tmp = Path(tempfile.mkdtemp())
    try:
        settings, engine, index = world(tmp)
        if not use_index:
            index = None
        if reimport:
            timed_import(settings, engine, index, data)
        gc.collect()
        before = _status_kb("VmRSS")
        reset = _reset_peak()
        peaks: dict[str, int] = {}
        timed_import(settings, engine, index, data, peaks=peaks)
        peak = _status_kb("VmHWM")
        committed = peaks.get("committed", peak)
        out = {"bytes": len(data), "before": before, "peak": peak, "reset": reset}
        print(json.dumps(out | {"committed": committed}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def memory(case: str, n_gen: int, use_index: bool = True) -> None:
    label = case_label(case, n_gen)
    for reimport in (False, True):
        out = (
            subprocess.run(
                [sys.executable, __file__, "--memory-child", case, "--generated", str(n_gen)]
                + (["--reimport"] if reimport else [])
                + ([] if use_index else ["--no-index"]),
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        m = json.loads(out)
        grow = max(0, m["peak"] - m["before"])
        grow_committed = max(0, m["committed"] - m["before"])
        target = "full db (re-import)" if reimport else "empty db"
        note = "" if m["reset"] else " (peak could not be reset: includes the set-up)"
        print(
            f"{label} -> {target}: file {m['bytes'] / 1e6:.1f} MB, RSS before "
            f"{m['before'] / 1e6:.0f} MB, peak {m['peak'] / 1e6:.0f} MB: the import added "
            f"{grow / 1e6:.0f} MB = {grow / m['bytes']:.1f}x the file; until committed "
            f"(before the search index sync) {grow_committed / 1e6:.0f} MB = "
            f"{grow_committed / m['bytes']:.1f}x{note}",
            flush=True,
        )


def loo() -> None:
    from app.services.suggest import Suggester, load_examples, load_targets
    from app.services.taxonomy import load_survey
    from app.taxonomy import read_survey_dir

    with tempfile.TemporaryDirectory() as d:
        settings = Settings(var_dir=Path(d), database_url=f"sqlite:///{Path(d) / 'b.sqlite3'}")
        settings.ensure_dirs()
        migrate.upgrade(settings.database_url)
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
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--no-index", action="store_true", help="import without a search index")
    ap.add_argument("--memory-child", choices=("largest", "generated"), help=argparse.SUPPRESS)
    ap.add_argument("--reimport", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.generated, args.reimport, not args.no_index)
        return
    cases = (["largest"] if LARGEST.exists() else []) + (["generated"] if args.generated else [])
    print("== speed (no tracing) ==")
    for case in cases:
        speed(case, args.generated, not args.no_index)
    if not args.skip_memory:
        print("== memory (peak RSS, one child process per import) ==")
        for case in cases:
            memory(case, args.generated, not args.no_index)
    if not args.skip_loo:
        loo()


if __name__ == "__main__":
    main()
