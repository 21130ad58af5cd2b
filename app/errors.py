"""Domain exceptions; app/main.py maps them to HTTP once (JSON under /api, HTML elsewhere)."""


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class BadRequest(DomainError):
    status_code = 400


class PayloadTooLarge(DomainError):
    status_code = 413


class Unauthorized(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


class TooManyRequests(DomainError):
    status_code = 429


class Moved(Exception):
    """A resource lives under another URL (e.g. a merged-away citation key)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location
