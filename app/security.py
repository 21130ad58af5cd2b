"""Hardening as one pure ASGI middleware: security headers and a request body size limit.

- Content-Security-Policy without inline script: pages load only /static scripts (htmx is
  configured by a <meta name="htmx-config"> with allowEval false and includeIndicatorStyles
  false, so it needs neither eval nor inline styles of its own). FastAPI's /docs page (Swagger UI
  from a CDN with an inline bootstrap script, and no user content) gets a looser policy.
- X-Content-Type-Options, Referrer-Policy, X-Frame-Options (+ frame-ancestors in the CSP).
- A NUL character in the path, the query string or a JSON / urlencoded body answers 400
  (PostgreSQL text cannot hold it, and no valid input has it; uploaded files are not scanned).
- Bodies larger than SURVEYKB_MAX_UPLOAD_MB answer 413: at once from Content-Length, or while
  reading a chunked body (raised as an HTTPException, so the app's handlers word the answer:
  JSON under /api, the error page elsewhere). The same setting is the BibTeX import limit
  (Settings.import_max_bytes): a multipart upload may exceed it by MULTIPART_FRAMING (boundaries
  and form fields), so a file just over the limit reaches the import route, whose 413 says so.
"""

import re

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.jsdelivr.net; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect")


def security_headers(path: str) -> dict[str, str]:
    """The headers every answer carries. The 500 handler adds them itself: Starlette's
    ServerErrorMiddleware sends its answer from outside this (user) middleware."""
    return {"Content-Security-Policy": DOCS_CSP if path in DOCS_PATHS else CSP, **HEADERS}


# Room for a multipart body's boundaries, part headers and small form fields around the file.
MULTIPART_FRAMING = 64 * 1024


def too_large_message(limit: int) -> str:
    return f"The request is too large: the limit is {limit // (1024 * 1024)} MB."


class TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=too_large_message(limit))


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, *, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in extra.items():
                    headers.setdefault(k, v)
            await send(message)

        if _has_nul(scope):
            await self._reject(scope, receive, send_with_headers, 400, NUL_MESSAGE)
            return

        # The limit is on the uploaded file: multipart framing does not count against it.
        allowed = self.max_body + (MULTIPART_FRAMING if _is_multipart(scope) else 0)
        length = _content_length(scope)
        if length is not None and length > allowed:
            detail = too_large_message(self.max_body)
            await self._reject(scope, receive, send_with_headers, 413, detail)
            return

        nul_pattern = _textual_body(scope)
        if nul_pattern is not None:
            # Small JSON / urlencoded bodies are read here once: NUL is refused like in URLs.
            body, more = b"", True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    break
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > self.max_body:
                    detail = too_large_message(self.max_body)
                    await self._reject(scope, receive, send_with_headers, 413, detail)
                    return
            if nul_pattern.search(body):
                await self._reject(scope, receive, send_with_headers, 400, NUL_BODY_MESSAGE)
                return
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send_with_headers)
            return

        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > allowed:
                    raise TooLarge(self.max_body)
            return message

        await self.app(scope, limited_receive, send_with_headers)

    async def _reject(
        self, scope: Scope, receive: Receive, send: Send, status: int, detail: str
    ) -> None:
        if scope.get("path", "").startswith("/api/"):
            response = JSONResponse({"detail": detail}, status_code=status)
        else:
            from starlette.requests import Request

            from app.web.rendering import render

            title = "Too large" if status == 413 else "Bad request"
            ctx = {"status": status, "title": title, "detail": detail}
            response = render(Request(scope), "errors/error.html", ctx, status_code=status)
        if status == 413:
            response.headers["Connection"] = "close"
        await response(scope, receive, send)


NUL_MESSAGE = "The address contains a NUL character (%00), which no page or query accepts."


def _has_nul(scope: Scope) -> bool:
    """NUL in the path or query: PostgreSQL text cannot hold it, and no valid input has it."""
    raw = scope.get("query_string", b"")
    path = scope.get("path", "")
    return "\x00" in path or b"%00" in raw or b"\x00" in raw


NUL_BODY_MESSAGE = "The request contains a NUL character, which no text field accepts."
# JSON: a raw NUL or an unescaped \u0000 (not an escaped "\\u0000"); urlencoded: %00.
_NUL_IN_JSON = re.compile(rb"\x00|(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
_NUL_IN_FORM = re.compile(rb"\x00|%00")


def _textual_body(scope: Scope) -> re.Pattern | None:
    """The NUL pattern for a JSON or urlencoded body; None for other bodies (files)."""
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            v = value.split(b";", 1)[0].strip().lower()
            if v == b"application/x-www-form-urlencoded":
                return _NUL_IN_FORM
            if v.endswith((b"/json", b"+json")):
                return _NUL_IN_JSON
    return None


def _is_multipart(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"multipart/form-data"
    return False


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
