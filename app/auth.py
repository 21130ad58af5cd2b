"""Who is asking: session cookies, Bearer tokens, roles and CSRF, as FastAPI dependencies.

How other code uses it:

    from app.auth import AdminDep, CurrentUser, EditorDep

    @router.post("/lists")
    def create(request: Request, session: SessionDep, user: EditorDep, name: str = Form(...)):
        ...                       # user is a User with role editor or admin

- `CurrentUser` (User | None): the signed-in user (session cookie, or `Authorization: Bearer
  <token>`), else None. For pages that read and only show more to signed-in people.
- `EditorDep` / `AdminDep` (User): every route that writes takes one of them. Anonymous: 401
  (JSON `{"detail"}` under /api; a 303 to /login?next=<path> for a page GET; the 401 error page
  otherwise). Wrong role: 403. Unsafe methods with cookie auth must also carry the CSRF token,
  as header `X-CSRF-Token` (base.html puts it in `hx-headers`, so every HTMX request has it) or
  form field `csrf_token`: `<input type="hidden" name="csrf_token" value="{{ csrf_token(request)
  }}">` (or `{{ csrf_field(request) }}`). Bearer requests skip CSRF.
- `current_user(request, session)`: the same lookup as a plain function.
- Template globals: `csrf_token(request)`, `csrf_field(request)`, `signed_in(request)` (the
  username in the session, or None; no database query).
- `install(app)` (called by create_app) adds the signed session cookie middleware and the
  handler that turns `SignInRedirect` into a 303.

Tests: fixtures `editor_client` / `admin_client` (attribute `.csrf`) and `make_token(settings,
username, role)` in tests/conftest.py.
"""

import hmac
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from markupsafe import Markup, escape
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings
from app.deps import SessionDep
from app.errors import Forbidden, Unauthorized
from app.models import User
from app.services import auth as auth_service
from app.web.rendering import env

log = logging.getLogger(__name__)

SESSION_COOKIE = "surveykb_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
EDITOR_ROLES = frozenset({"editor", "admin"})
ADMIN_ROLES = frozenset({"admin"})


# --- the secret and the session cookie --------------------------------------------------------


def secret_key(settings: Settings) -> str:
    """SURVEYKB_SECRET_KEY, else var_dir/secret_key (created once, mode 600, shared by workers)."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.var_dir) / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    for _ in range(50):  # another worker may have created the file and not written it yet
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.05)
    raise RuntimeError(f"{path} is empty: delete it and start again.")


class SessionCookies:
    """Starlette's signed session cookie (HttpOnly, SameSite=Lax), with Secure when the request
    came over https (uvicorn's --proxy-headers makes the scheme right behind a proxy)."""

    def __init__(self, app: ASGIApp, *, secret: str, max_age: int) -> None:
        common = {"secret_key": secret, "session_cookie": SESSION_COOKIE, "max_age": max_age}
        self.plain = SessionMiddleware(app, same_site="lax", https_only=False, **common)
        self.secure = SessionMiddleware(app, same_site="lax", https_only=True, **common)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        https = scope.get("scheme") in ("https", "wss")
        await (self.secure if https else self.plain)(scope, receive, send)


class SignInRedirect(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class PrivateGate:
    """SURVEYKB_PRIVATE=true: reading needs a signed-in session or a valid Bearer token too.
    Runs inside the session middleware; the sign-in pages, /static and healthz stay open."""

    OPEN = ("/login", "/static/", "/api/v1/healthz", "/favicon")

    def __init__(self, app: ASGIApp, *, engine) -> None:
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or await self._allowed(scope):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        exc = _anonymous(request)
        if isinstance(exc, SignInRedirect):
            response = RedirectResponse(exc.location, status_code=303)
        elif request.url.path.startswith("/api/"):
            response = JSONResponse({"detail": exc.detail}, status_code=401)
        else:
            from app.web.rendering import render

            ctx = {"status": 401, "title": "Sign-in required", "detail": exc.detail}
            response = render(request, "errors/error.html", ctx, status_code=401)
        await response(scope, receive, send)

    async def _allowed(self, scope: Scope) -> bool:
        path = scope.get("path", "")
        if path.startswith(self.OPEN):
            return True
        sess = scope.get("session") or {}
        if sess.get("uid"):
            return True  # the fingerprint is checked by current_user on every write
        token = _bearer(Request(scope))
        if not token:
            return False

        def check() -> bool:
            with Session(self.engine) as session:
                return auth_service.user_for_api_token(session, token=token) is not None

        return await run_in_threadpool(check)


def install(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    if settings.private:
        app.add_middleware(PrivateGate, engine=app.state.engine)
    app.add_middleware(
        SessionCookies, secret=secret_key(settings), max_age=settings.session_days * 86400
    )

    @app.exception_handler(SignInRedirect)
    async def _sign_in(request: Request, exc: SignInRedirect):
        return RedirectResponse(exc.location, status_code=303)


# --- session helpers --------------------------------------------------------------------------


def _session(request: Request) -> dict | None:
    # Error pages rendered outside the middleware (500 handler) have no session.
    return request.scope.get("session")


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use (this starts a session cookie)."""
    sess = _session(request)
    if sess is None:
        return ""
    token = sess.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        sess["csrf"] = token
    return token


def csrf_field(request: Request) -> Markup:
    value = escape(csrf_token(request))
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{value}">')


def signed_in(request: Request) -> str | None:
    sess = _session(request)
    return sess.get("name") if sess and sess.get("uid") else None


def sign_in(request: Request, user: User) -> None:
    """Start a fresh session for `user` (a new CSRF token: no fixation across sign-in)."""
    sess = request.session
    sess.clear()
    sess.update(
        uid=user.id,
        name=user.username,
        fp=auth_service.session_fingerprint(user),
        csrf=secrets.token_urlsafe(32),
    )


def sign_out(request: Request) -> None:
    sess = _session(request)
    if sess is not None:
        sess.clear()


env.globals["csrf_token"] = csrf_token
env.globals["csrf_field"] = csrf_field
env.globals["signed_in"] = signed_in


# --- dependencies -----------------------------------------------------------------------------


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def current_user(request: Request, session: Session) -> User | None:
    """The user behind this request (Bearer token first, then session cookie), else None."""
    if hasattr(request.state, "user"):
        return request.state.user
    user, via = None, None
    token = _bearer(request)
    if token:
        user = auth_service.user_for_api_token(session, token=token)
        via = "bearer" if user else None
    if user is None:
        sess = _session(request)
        uid = sess.get("uid") if sess else None
        if isinstance(uid, int):
            candidate = auth_service.get_user_by_id(session, user_id=uid)
            fp = auth_service.session_fingerprint(candidate) if candidate else None
            if candidate and candidate.active and hmac.compare_digest(fp, str(sess.get("fp"))):
                user, via = candidate, "cookie"
            else:
                sess.clear()  # deleted user, changed password or role: the session ends
    request.state.user = user
    request.state.auth_via = via
    return user


def get_current_user(request: Request, session: SessionDep) -> User | None:
    return current_user(request, session)


CurrentUser = Annotated[User | None, Depends(get_current_user)]


async def _csrf_ok(request: Request) -> bool:
    expected = (_session(request) or {}).get("csrf")
    if not expected:
        return False
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            try:
                form = await request.form()  # cached by Starlette: the route sees the same form
            except Exception:
                return False
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    return bool(sent) and hmac.compare_digest(str(sent), str(expected))


def _anonymous(request: Request):
    path = request.url.path
    if path.startswith("/api/"):
        return Unauthorized("Authentication required: sign in or send 'Authorization: Bearer'.")
    if request.method in ("GET", "HEAD"):
        target = path + (f"?{request.url.query}" if request.url.query else "")
        return SignInRedirect(f"/login?next={quote(target, safe='')}")
    return Unauthorized("Sign in to do this.")


async def _require(request: Request, user: User | None, roles: frozenset[str]) -> User:
    if user is None:
        raise _anonymous(request)
    if user.role not in roles:
        raise Forbidden(f"Your account ({user.role}) may not do this.")
    if (
        request.method not in SAFE_METHODS
        and getattr(request.state, "auth_via", None) != "bearer"
        and not await _csrf_ok(request)
    ):
        raise Forbidden(
            "The form's security token (CSRF) is missing or stale. Reload the page and try again."
        )
    return user


async def require_editor(request: Request, user: CurrentUser) -> User:
    return await _require(request, user, EDITOR_ROLES)


async def require_admin(request: Request, user: CurrentUser) -> User:
    return await _require(request, user, ADMIN_ROLES)


EditorDep = Annotated[User, Depends(require_editor)]
AdminDep = Annotated[User, Depends(require_admin)]
