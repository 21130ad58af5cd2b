"""/export: the same download as /api/v1/export, with HTML error pages."""

from fastapi import APIRouter, Request

from app.api.export_routes import export_response
from app.deps import SessionDep

router = APIRouter(include_in_schema=False)


@router.get("/export")
def export_download(request: Request, session: SessionDep):
    return export_response(request, session)
