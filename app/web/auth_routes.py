"""Sign-in, sign-out and one-time sign-in links (the session cookie lives in app/auth.py)."""

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app import auth
from app.auth import EditorDep
from app.deps import SessionDep
from app.errors import TooManyRequests, Unauthorized
from app.services import auth as auth_service
from app.web.rendering import render

router = APIRouter(include_in_schema=False)


def safe_next(value: str | None) -> str:
    """Only a local path: never //host or a scheme, so sign-in cannot redirect elsewhere."""
    v = (value or "").strip()
    if not v.startswith("/") or v.startswith("//") or "\\" in v or any(ord(c) < 32 for c in v):
        return "/"
    return v


def _form(request: Request, *, next: str, username: str = "", error: str = "", status: int = 200):
    ctx = {
        "next": safe_next(next),
        "username": username,
        "error": error,
        "user_name": auth.signed_in(request),
        "nav": "login",
    }
    headers = {"Cache-Control": "no-store"}
    return render(request, "auth/login.html", ctx, block=None, status_code=status, headers=headers)


@router.get("/login")
def login_page(request: Request, next: str = "/"):
    """The sign-in form."""
    return _form(request, next=next)


@router.post("/login")
async def login(request: Request):
    """Check the password (throttled), start a session, go to `next`."""
    form = await request.form()
    username = str(form.get("username") or "")[:200]
    password = str(form.get("password") or "")[:1000]
    next_ = str(form.get("next") or "/")
    expected = (request.scope.get("session") or {}).get("csrf")
    sent = str(form.get("csrf_token") or "")
    if not expected or not hmac.compare_digest(sent, expected):
        # Login CSRF: a sign-in form posted from elsewhere carries no token of this session.
        msg = "The sign-in form expired. Please try again."
        return _form(request, next=next_, username=username, error=msg, status=403)
    ip = request.client.host if request.client else ""
    return await run_in_threadpool(_login, request, username, password, next_, ip)


def _login(request: Request, username: str, password: str, next_: str, ip: str):
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        try:
            user = auth_service.authenticate(session, username=username, password=password, ip=ip)
        except Unauthorized as exc:
            session.commit()  # keep the recorded failure for the throttle
            return _form(request, next=next_, username=username, error=exc.detail, status=401)
        except TooManyRequests as exc:
            return _form(request, next=next_, username=username, error=exc.detail, status=429)
        session.commit()
    auth.sign_in(request, user)
    return RedirectResponse(safe_next(next_), status_code=303)


@router.get("/login/once/{token}")
def login_once(request: Request, session: SessionDep, token: str):
    """Redeem a one-time sign-in link (printed by `surveykb bootstrap` / `make run`)."""
    try:
        user = auth_service.redeem_signin_token(session, token=token)
    except Unauthorized as exc:
        session.commit()  # an expired token is deleted all the same
        return _form(request, next="/", error=exc.detail, status=401)
    session.commit()
    auth.sign_in(request, user)
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
def logout(request: Request, user: EditorDep):
    """End the session."""
    auth.sign_out(request)
    return RedirectResponse("/", status_code=303)
