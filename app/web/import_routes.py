"""Browser import: /import (upload) -> /imports/{id} (preview with per-row choices) -> commit
with progress (HTMX polling of the status block; a meta refresh without JavaScript) -> report
on the same page, with the original file at /imports/{id}/file. Signed-in editors only."""

from fastapi import APIRouter, BackgroundTasks, File, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse

from app.api.import_routes import read_limited
from app.auth import EditorDep
from app.deps import SessionDep, SettingsDep
from app.services import imports
from app.web.rendering import is_fragment_request, render

router = APIRouter(include_in_schema=False)
PREVIEW_LIMIT = 2000  # rows shown in the preview table; all rows are committed
# Rows that need the person's eye are always shown, whatever the cap.
ALWAYS_SHOWN = ("invalid", "probable")


def shown_rows(rows: list[dict], limit: int) -> list[dict]:
    """All invalid and probable-duplicate rows, then the first others up to `limit` rows in
    all, in file order: a big file never hides an error behind the cap."""
    if len(rows) <= limit:
        return rows
    keep = {i for i, r in enumerate(rows) if r.get("status") in ALWAYS_SHOWN}
    room = limit - len(keep)
    for i in range(len(rows)):
        if room <= 0:
            break
        if i not in keep:
            keep.add(i)
            room -= 1
    return [r for i, r in enumerate(rows) if i in keep]


def _always_note(shown: list[dict]) -> str:
    """'all 3 invalid entries and all 1 probable duplicate' (the parts that are not zero)."""
    n_bad = sum(1 for r in shown if r.get("status") == "invalid")
    n_prob = sum(1 for r in shown if r.get("status") == "probable")
    parts = []
    if n_bad:
        parts.append(f"all {n_bad} invalid entr{'y' if n_bad == 1 else 'ies'}")
    if n_prob:
        parts.append(f"all {n_prob} probable duplicate{'' if n_prob == 1 else 's'}")
    return " and ".join(parts)


def _ctx(job, settings) -> dict:
    rows = job.results or []
    shown = shown_rows(rows, PREVIEW_LIMIT)
    report = None
    if job.status == "done":
        report = imports.report_from_rows(
            [imports.Row(**r) for r in rows], job.id, job.counts.get("warnings", [])
        )
    counts = job.counts or {}
    total = counts.get("total") or 0
    pct = int(100 * (counts.get("done") or 0) / total) if total else 0
    return {
        "job": job,
        "rows": shown,
        "row_total": len(rows),
        "always_note": _always_note(shown),
        "report": report,
        "counts": counts,
        "pct": pct,
        "nav": "import",
        "limit_mb": settings.max_upload_mb,
    }


@router.get("/import")
def import_form(request: Request, session: SessionDep, settings: SettingsDep, user: EditorDep):
    return render(
        request,
        "imports/upload.html",
        {
            "jobs": imports.recent_jobs(session),
            "nav": "import",
            "limit_mb": settings.max_upload_mb,
        },
    )


@router.post("/import")
def import_upload(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: EditorDep,
    file: UploadFile = File(...),
):
    data = read_limited(request, file, settings.import_max_bytes)
    imports.read_upload(data, max_bytes=settings.import_max_bytes)
    job = imports.create_job(
        session,
        uploads_dir=settings.uploads_dir,
        filename=file.filename or "upload.bib",
        data=data,
        user_id=user.id,
        status="uploaded",
    )
    imports.preview_job(session, job, max_bytes=settings.import_max_bytes)
    return RedirectResponse(f"/imports/{job.id}", status_code=303)


@router.get("/imports/{job_id}")
def import_page(
    job_id: int, request: Request, session: SessionDep, settings: SettingsDep, user: EditorDep
):
    job = imports.get_job(session, job_id)
    return render(request, "imports/job.html", _ctx(job, settings))


@router.get("/imports/{job_id}/status")
def import_status(
    job_id: int, request: Request, session: SessionDep, settings: SettingsDep, user: EditorDep
):
    """The progress block for polling; once the job is over the whole page is reloaded."""
    job = imports.get_job(session, job_id)
    if job.status in ("done", "failed") and is_fragment_request(request):
        return render(
            request,
            "imports/job.html",
            _ctx(job, settings),
            block="status",
            headers={"HX-Redirect": f"/imports/{job.id}"},
        )
    return render(request, "imports/job.html", _ctx(job, settings), block="status")


@router.post("/imports/{job_id}/commit")
async def import_commit(
    job_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: EditorDep,
    background: BackgroundTasks,
):
    job = imports.get_job(session, job_id)
    if job.status != "preview":
        return RedirectResponse(f"/imports/{job.id}", status_code=303)
    form = await request.form()
    choices = {}
    for name, value in form.items():
        if name.startswith("choice-") and name[7:].isdigit():
            choices[int(name[7:])] = str(value)
    imports.queue_job(session, job)
    background.add_task(
        imports.run_import_quietly,
        request.app.state.engine,
        job_id=job.id,
        index=request.app.state.index,
        choices=choices,
        max_bytes=settings.import_max_bytes,
    )
    return RedirectResponse(f"/imports/{job.id}", status_code=303)


@router.post("/imports/{job_id}/retry")
def import_retry(
    job_id: int, request: Request, session: SessionDep, settings: SettingsDep, user: EditorDep
):
    """A failed import (e.g. interrupted by a server stop): preview its kept file again."""
    job = imports.get_job(session, job_id)
    imports.reset_failed_job(session, job, settings.uploads_dir)
    imports.preview_job(session, job, max_bytes=settings.import_max_bytes)
    return RedirectResponse(f"/imports/{job.id}", status_code=303)


@router.get("/imports/{job_id}/file")
def import_file(job_id: int, session: SessionDep, settings: SettingsDep, user: EditorDep):
    job = imports.get_job(session, job_id)
    path = imports.job_file(job, settings.uploads_dir)
    return FileResponse(
        path, media_type="application/x-bibtex", filename=job.filename or "import.bib"
    )
