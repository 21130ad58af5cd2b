"""Helpers for import tests: run an import against the test database (mini survey)."""

import pytest

from app.search import open_index
from app.services.imports import create_job, run_import


@pytest.fixture
def index(settings):
    return open_index(settings)


@pytest.fixture
def do_import(settings, engine, index):
    """do_import(text_or_bytes, choices=None) -> Report, committed like the CLI does."""
    from sqlmodel import Session

    def run(data, choices=None, filename="test.bib"):
        if isinstance(data, str):
            data = data.encode()
        with Session(engine) as s:
            job = create_job(s, uploads_dir=settings.uploads_dir, filename=filename, data=data)
        return run_import(engine, job_id=job.id, index=index, choices=choices)

    return run
