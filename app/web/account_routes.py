"""A signed-in user's own API tokens: list, create (the plaintext is shown once), revoke."""

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from app.auth import EditorDep
from app.deps import SessionDep
from app.services import auth as auth_service
from app.web.rendering import render

router = APIRouter(include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store"}


def _page(request: Request, session, user, *, new_token: str = "", new_name: str = "", status=200):
    ctx = {
        "nav": "account",
        "account": user,
        "tokens": auth_service.list_api_tokens(session, user=user),
        "new_token": new_token,
        "new_name": new_name,
    }
    return render(
        request, "account/tokens.html", ctx, block=None, status_code=status, headers=NO_STORE
    )


@router.get("/account/tokens")
def tokens_page(request: Request, session: SessionDep, user: EditorDep):
    """Your API tokens (for `Authorization: Bearer` on the JSON API)."""
    return _page(request, session, user)


@router.post("/account/tokens")
def create_token(
    request: Request, session: SessionDep, user: EditorDep, name: str = Form("", max_length=100)
):
    """Create a token and show its plaintext once (only its hash is stored)."""
    row, plain = auth_service.create_api_token(session, user=user, name=name.strip()[:100])
    session.commit()
    return _page(request, session, user, new_token=plain, new_name=row.name, status=201)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, session: SessionDep, user: EditorDep, token_id: int):
    """Revoke one of your tokens (an admin may revoke anyone's); it stops working at once."""
    auth_service.revoke_api_token(session, user=user, token_id=token_id)
    session.commit()
    return RedirectResponse("/account/tokens", status_code=303)
