"""JSON API for BibTeX imports: POST /api/v1/imports (multipart), GET /api/v1/imports/{id}."""

from fastapi import APIRouter, BackgroundTasks, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse

from app.auth import EditorDep
from app.deps import SessionDep, SettingsDep
from app.errors import PayloadTooLarge
from app.models import ImportJob
from app.services import imports

router = APIRouter(tags=["imports"])


def read_limited(request: Request, upload: UploadFile, limit: int) -> bytes:
    """The upload's bytes, or 413 as soon as it is known to be over the limit."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise PayloadTooLarge(imports.too_large_message(limit))
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(imports.too_large_message(limit, upload.size))
    return data


def job_json(job: ImportJob) -> dict:
    body = {
        "id": job.id,
        "status": job.status,
        "filename": job.filename,
        "counts": job.counts,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "url": f"/api/v1/imports/{job.id}",
        "page": f"/imports/{job.id}",
        "file": f"/imports/{job.id}/file",
    }
    if job.status == "failed":
        body["retry"] = f"/api/v1/imports/{job.id}/retry"
    if job.status in ("done", "preview"):
        rows = [imports.Row(**r) for r in job.results]
        if job.status == "done":
            rep = imports.report_from_rows(rows, job.id, job.counts.get("warnings", []))
            body["report"] = rep.as_json()
        body["rows"] = job.results
    return body


@router.post("/imports", status_code=202)
def create_import(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: EditorDep,
    background: BackgroundTasks,
    file: UploadFile = File(..., description="A BibTeX file."),
    dry_run: bool = Form(False, description="Only preview: write nothing."),
):
    """Upload a .bib file; returns a job to poll (or the preview with dry_run)."""
    limit = settings.import_max_bytes
    data = read_limited(request, file, limit)
    if dry_run:
        rep = imports.dry_run(session, data, max_bytes=limit)
        return JSONResponse(rep.as_json(), status_code=200)
    imports.read_upload(data, max_bytes=limit)  # 400/413 before a job exists
    job = imports.create_job(
        session,
        uploads_dir=settings.uploads_dir,
        filename=file.filename or "upload.bib",
        data=data,
        user_id=user.id,
    )
    background.add_task(
        imports.run_import_quietly,
        request.app.state.engine,
        job_id=job.id,
        index=request.app.state.index,
        max_bytes=limit,
    )
    return JSONResponse(
        job_json(job), status_code=202, headers={"Location": f"/api/v1/imports/{job.id}"}
    )


@router.post("/imports/{job_id}/retry", status_code=202)
def retry_import(
    job_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: EditorDep,
    background: BackgroundTasks,
):
    """Run a failed import again from its kept file (409 unless it failed)."""
    job = imports.get_job(session, job_id)
    imports.reset_failed_job(session, job, settings.uploads_dir)
    imports.queue_job(session, job)
    background.add_task(
        imports.run_import_quietly,
        request.app.state.engine,
        job_id=job.id,
        index=request.app.state.index,
        max_bytes=settings.import_max_bytes,
    )
    return JSONResponse(job_json(job), status_code=202)


@router.get("/imports/{job_id}")
def get_import(job_id: int, session: SessionDep, user: EditorDep):
    """Status, progress and (when done) the report of one import."""
    return job_json(imports.get_job(session, job_id))
