"""Imports left pending/running by a stopped server are failed at the next start (file kept,
"Preview again" re-runs it); a job of a live worker or replica is left alone."""

import socket
import subprocess
import sys
from datetime import timedelta

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.main import create_app
from app.models import ImportJob, utcnow
from app.services.imports import INTERRUPTED, create_job, owner_tag
from tests.conftest import make_token

BIB = b"""@article{recovered2024,
  title = {Recovering Interrupted Imports Of Bibliographies},
  author = {Doe, Jane},
  year = {2024},
}
"""


def _dead_owner() -> str:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}"


def _job(settings, engine, *, status="running", owner="", beat_age=timedelta(0)) -> int:
    with Session(engine) as s:
        job = create_job(s, uploads_dir=settings.uploads_dir, filename="big.bib", data=BIB)
        job.status, job.owner = status, owner
        job.heartbeat_at = utcnow() - beat_age
        job.created_at = utcnow() - beat_age
        job.counts = {**job.counts, "stage": "matching", "done": 10, "total": 100}
        s.add(job)
        s.commit()
        return job.id


def _status(engine, job_id) -> tuple[str, dict]:
    with Session(engine) as s:
        job = s.get(ImportJob, job_id)
        return job.status, job.counts


def test_start_up_fails_jobs_of_dead_processes_only(settings, engine, mini):
    dead = _job(settings, engine, owner=_dead_owner())  # fresh heartbeat, but pid is gone
    queued_dead = _job(settings, engine, status="pending", owner=_dead_owner())
    mine = _job(settings, engine, owner=owner_tag())  # a live worker of this host
    remote_live = _job(settings, engine, owner="other-replica:7", beat_age=timedelta(seconds=20))
    remote_dead = _job(settings, engine, owner="other-replica:8", beat_age=timedelta(minutes=10))
    no_owner_old = _job(settings, engine, status="pending", beat_age=timedelta(minutes=10))
    preview = _job(settings, engine, status="preview", beat_age=timedelta(days=1))
    create_app(settings)
    for job_id in (dead, queued_dead, remote_dead, no_owner_old):
        status, counts = _status(engine, job_id)
        assert status == "failed" and counts["error"] == INTERRUPTED, job_id
    assert _status(engine, mine)[0] == "running"
    assert _status(engine, remote_live)[0] == "running"
    assert _status(engine, preview)[0] == "preview"


def test_interrupted_job_stops_polling_and_previews_again_without_upload(
    settings, engine, editor_client
):
    job_id = _job(settings, engine, owner=_dead_owner())
    with TestClient(create_app(settings)) as restarted:  # the server comes back
        pass
    del restarted
    c = editor_client
    page = BeautifulSoup(c.get(f"/imports/{job_id}").text, "html.parser")
    status = page.select_one("#import-status")
    assert "hx-trigger" not in status.attrs  # no more polling
    assert "interrupted: the server stopped" in status.get_text()
    assert "file is kept" in status.get_text()
    form = status.select_one("form.import-retry")
    assert form["action"] == f"/imports/{job_id}/retry"
    assert c.get(f"/imports/{job_id}/file").content == BIB

    # Writes need the CSRF token, like the other import writes.
    assert c.post(f"/imports/{job_id}/retry", follow_redirects=False).status_code == 403
    r = c.post(f"/imports/{job_id}/retry", data={"csrf_token": c.csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/imports/{job_id}"
    page = BeautifulSoup(c.get(f"/imports/{job_id}").text, "html.parser")
    assert [tr["data-status"] for tr in page.select("tr.import-row")] == ["new"]
    assert "interrupted" not in page.get_text()
    c.post(f"/imports/{job_id}/commit", data={"csrf_token": c.csrf})
    assert _status(engine, job_id)[0] == "done"
    assert c.get("/papers/recovered2024").status_code == 200
    # Only a failed job can be re-run.
    r = c.post(f"/imports/{job_id}/retry", data={"csrf_token": c.csrf})
    assert r.status_code == 409


def test_api_retry_runs_a_failed_job_again(settings, engine, client):
    job_id = _job(settings, engine, owner=_dead_owner())
    create_app(settings)
    r = client.get(f"/api/v1/imports/{job_id}", headers={"Authorization": "Bearer x"})
    assert r.status_code == 401
    auth = {"Authorization": f"Bearer {make_token(settings)}"}
    body = client.get(f"/api/v1/imports/{job_id}", headers=auth).json()
    assert body["status"] == "failed" and body["retry"] == f"/api/v1/imports/{job_id}/retry"
    assert client.post(body["retry"]).status_code == 401
    r = client.post(body["retry"], headers=auth)
    assert r.status_code == 202
    body = client.get(f"/api/v1/imports/{job_id}", headers=auth).json()
    assert body["status"] == "done" and len(body["report"]["added"]) == 1


def test_a_dead_job_that_had_committed_its_papers_is_finished_not_failed(settings, engine, mini):
    """Killed between the database commit and the index sync: the papers are in; the job says
    done (the stale index is rebuilt at the start), not "interrupted, run it again"."""
    job_id = _job(settings, engine, owner=_dead_owner())
    with Session(engine) as s:
        job = s.get(ImportJob, job_id)
        job.counts = {**job.counts, "stage": "indexing", "done": 0, "total": 0, "written": 7}
        s.add(job)
        s.commit()
    create_app(settings)
    status, counts = _status(engine, job_id)
    assert status == "done" and counts["stage"] == "done"
    assert (counts["done"], counts["total"]) == (7, 7) and "error" not in counts
