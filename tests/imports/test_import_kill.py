"""Safety: an import killed with SIGKILL mid-commit leaves all of it or none; a re-run works."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import Session

from app.config import PROJECT_ROOT
from app.main import create_app
from app.models import ImportJob, Paper
from app.services.imports import INTERRUPTED

N = 3000


def _bib(n: int) -> str:
    return "".join(
        f"@article{{kill{i},\n  title = {{Killed Import Paper Number {i}}},\n"
        f"  author = {{Tester, Tom{i} and Other, O}},\n  year = {{2020}},\n"
        f"  doi = {{10.9999/kill.{i}}},\n}}\n"
        for i in range(n)
    )


def _papers(engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(Paper)).scalar_one()


def test_sigkill_mid_commit_is_all_or_nothing_and_rerun_works(settings, engine, mini, tmp_path):
    bib = tmp_path / "big.bib"
    bib.write_text(_bib(N))
    env = {
        **os.environ,
        "SURVEYKB_VAR_DIR": str(settings.var_dir),
        "SURVEYKB_DATABASE_URL": settings.database_url,
    }
    before = _papers(engine)
    cmd = [sys.executable, "-m", "app", "import", str(bib)]
    proc = subprocess.Popen(
        cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    killed_mid_write = False
    for line in proc.stderr:
        # "import big.bib: writing 500/3000" is printed after a batch is flushed INSIDE the
        # open transaction: kill the process right there.
        if ": writing " in line:
            done, total = line.rsplit(" ", 1)[1].strip().split("/")
            if 0 < int(done) < int(total):
                proc.send_signal(signal.SIGKILL)
                killed_mid_write = True
                break
    proc.wait(timeout=120)
    assert killed_mid_write, "the import never reported writing progress"
    assert proc.returncode == -signal.SIGKILL
    assert _papers(engine) == before  # none of it
    # The killed run's job is not left "running" forever: the next start fails it, file kept.
    with Session(engine) as s:
        job = s.exec(select(ImportJob).order_by(ImportJob.id.desc())).scalars().first()
        assert job.status == "running"
    create_app(settings)
    with Session(engine) as s:
        job = s.get(ImportJob, job.id)
        assert job.status == "failed" and job.counts["error"] == INTERRUPTED
        assert Path(job.stored_path).read_text() == bib.read_text()

    rerun = subprocess.run(
        [*cmd, "--json"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert len(report["added"]) == N and report["failed"] == []
    assert _papers(engine) == before + N
