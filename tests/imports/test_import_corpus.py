"""Every file of the shared real-world corpus imports, and every entry is accounted for."""

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from app.config import PROJECT_ROOT
from app.models import Paper
from app.services.imports import create_job, run_import

CORPUS = Path(PROJECT_ROOT).parent / "shared" / "corpora" / "bibtex"


@pytest.mark.skipif(
    not (CORPUS / "measured.json").exists(),
    reason=f"the shared BibTeX corpus is not at {CORPUS} (it lives beside the repository)",
)
def test_corpus_imports_and_accounts_for_every_entry(settings, engine, mini):
    measured = json.loads((CORPUS / "measured.json").read_text())
    for item in measured:
        data = (CORPUS / item["path"]).read_bytes()
        bp = item["bp"]
        expected = bp["entries"] + bp["failed"] + bp["duplicates"]
        with Session(engine) as s:
            before = s.exec(select(func.count()).select_from(Paper)).scalar_one()
            job = create_job(s, uploads_dir=settings.uploads_dir, filename="c.bib", data=data)
        rep = run_import(engine, job_id=job.id)
        c = rep.counts()
        assert c["added"] + c["merged"] + c["skipped"] + c["failed"] == expected, item["path"]
        with Session(engine) as s:
            after = s.exec(select(func.count()).select_from(Paper)).scalar_one()
        assert after - before == c["added"], item["path"]
        for f in rep.failed:
            assert f["line"] and f["reason"], item["path"]
