"""create_app(settings) -> FastAPI: wires the engine, routes, static files and error pages."""

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import __version__
from app.config import PROJECT_ROOT, Settings, get_settings
from app.db import make_engine
from app.errors import DomainError, Moved
from app.web.rendering import render

log = logging.getLogger(__name__)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, detail: str):
    if _wants_json(request):
        return JSONResponse({"detail": detail}, status_code=status, headers={"Vary": "HX-Request"})
    titles = {404: "Not found", 400: "Bad request", 401: "Sign-in required", 403: "Forbidden"}
    titles.update({413: "Too large", 429: "Too many attempts"})
    return render(
        request,
        "errors/error.html",
        {"status": status, "title": titles.get(status, "Something went wrong"), "detail": detail},
        status_code=status,
    )


def _open_search_index(settings: Settings, engine):
    """Open the search index; rebuild it now if it is missing, stale or of an older schema."""
    from app.search import open_index
    from app.services.indexing import ensure_current

    index = open_index(settings)
    reason = ensure_current(engine, index)
    if reason:
        log.info("search index rebuilt at start-up (%s)", reason)
    return index


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.ensure_dirs()
    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        engine.dispose()

    app = FastAPI(
        title="surveykb",
        version=__version__,
        description="Knowledge base of a research survey: phases, challenges, directions, papers.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.index = _open_search_index(settings, engine)
    from app.services.imports import recover_jobs

    try:
        recover_jobs(engine)  # imports left running by a stopped server: failed, file kept
    except Exception:  # e.g. a database not migrated yet: never block the start
        log.exception("could not check for interrupted imports")
    app.mount("/static", StaticFiles(directory=str(PROJECT_ROOT / "static")), name="static")

    from app.api.routes import router as api_router
    from app.web.routes import router as web_router

    app.include_router(api_router, prefix="/api/v1")
    app.include_router(web_router)
    from app.api.search_routes import router as api_search_router
    from app.web.search_routes import router as web_search_router

    app.include_router(api_search_router, prefix="/api/v1")
    app.include_router(web_search_router)
    from app.api.export_routes import router as api_export_router
    from app.api.list_routes import router as api_list_router
    from app.web.export_routes import router as web_export_router
    from app.web.list_routes import router as web_list_router

    app.include_router(api_export_router, prefix="/api/v1")
    app.include_router(api_list_router, prefix="/api/v1")
    app.include_router(web_export_router)
    app.include_router(web_list_router)
    from app.api.import_routes import router as api_import_router
    from app.web.import_routes import router as web_import_router

    app.include_router(api_import_router, prefix="/api/v1")
    app.include_router(web_import_router)
    from app import auth
    from app.web.auth_routes import router as web_auth_router

    app.include_router(web_auth_router)
    from app.web.account_routes import router as web_account_router

    app.include_router(web_account_router)
    from app.web.curation_routes import api_router as api_curation_router
    from app.web.curation_routes import router as web_curation_router
    from app.web.insight_routes import router as web_insight_router

    app.include_router(web_insight_router)
    app.include_router(web_curation_router)
    app.include_router(api_curation_router, prefix="/api/v1")
    auth.install(app)  # signed session cookie + sign-in redirects (app/auth.py)
    from app.security import SecurityMiddleware

    # Outermost: security headers on every answer, body size limit before anything reads it.
    app.add_middleware(SecurityMiddleware, max_body=settings.max_upload_mb * 1024 * 1024)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        return _error(request, exc.status_code, exc.detail)

    @app.exception_handler(Moved)
    async def _moved(request: Request, exc: Moved):
        path = request.url.path.rsplit("/", 1)[0] + "/" + exc.location
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(path + query, status_code=301)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"Nothing lives at {request.url.path}."
        return _error(request, exc.status_code, detail)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        if _wants_json(request):
            return JSONResponse({"detail": jsonable(exc.errors())}, status_code=422)
        msgs = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', [])[1:])}: {e.get('msg')}"
            for e in exc.errors()
        )
        return _error(request, 422, f"Invalid input: {msgs}")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        """Runs in ServerErrorMiddleware, outside SecurityMiddleware: adds the headers itself
        and never shows the exception (a plain page if even the error template fails)."""
        from fastapi.responses import HTMLResponse

        from app.security import security_headers

        log.exception("unhandled error on %s", request.url.path)
        detail = "An unexpected error occurred. It has been logged."
        try:
            response = _error(request, 500, detail)
        except Exception:
            log.exception("the error page failed too")
            response = HTMLResponse(f"<!doctype html><title>Error</title><p>{detail}</p>", 500)
        response.headers.update(security_headers(request.url.path))
        return response

    return app


def jsonable(errors) -> list:
    out = []
    for e in errors:
        out.append(
            {
                k: (v if k != "ctx" else {kk: str(vv) for kk, vv in v.items()})
                for k, v in e.items()
                if k != "input"
            }
        )
    return out
