"""An import says `done` only once its papers are searchable: a client that polls the job and
then searches (the web page, the API, the two-worker deploy test) always finds them."""

from sqlmodel import Session

from app.models import ImportJob
from app.services.imports import create_job, run_import

BIB = b"""@article{searchable2024,
  title = {Quokkaflux Pipelines Become Searchable},
  author = {Doe, Jane},
  year = {2024},
}
"""


def test_job_is_not_done_before_the_index_has_its_papers(settings, engine, mini, index):
    with Session(engine) as s:
        job = create_job(s, uploads_dir=settings.uploads_dir, filename="a.bib", data=BIB)
        job_id = job.id
    seen: list[tuple[str, int]] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "indexing":  # the papers are committed, the index not yet written
            with Session(engine) as s:
                seen.append((s.get(ImportJob, job_id).status, index.search("quokkaflux").total))

    run_import(engine, job_id=job_id, index=index, progress=progress)
    assert seen == [("running", 0)]
    with Session(engine) as s:
        job = s.get(ImportJob, job_id)
        assert job.status == "done" and job.finished_at is not None
        assert (job.counts["stage"], job.counts["done"], job.counts["total"]) == ("done", 1, 1)
    assert index.search("quokkaflux").total == 1
