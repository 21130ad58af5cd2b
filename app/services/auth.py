"""Accounts: users, password hashing (argon2), API tokens, one-time sign-in links, throttle.

Functions flush; the caller commits (like every service). Secrets handed to people (API tokens,
one-time sign-in tokens) are random 256-bit strings stored only as their SHA-256: a stolen
database does not reveal a usable token, and a high-entropy token needs no slow hash.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, delete, func, select

from app.errors import BadRequest, Conflict, NotFound, TooManyRequests, Unauthorized
from app.models import ApiToken, LoginFailure, User, utcnow

ROLES = ("editor", "admin")
MIN_PASSWORD = 8
THROTTLE_MAX_FAILURES = 5
THROTTLE_WINDOW = timedelta(minutes=5)
SIGNIN_TOKEN_TTL = timedelta(hours=24)
TOKEN_PREFIX = "skb_"
_USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing of both failures alike.
_DUMMY_HASH = _hasher.hash("not a real password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _aware(dt: datetime | None) -> datetime | None:
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def session_fingerprint(user: User) -> str:
    """Changes when the password or role changes, which signs out every existing session."""
    return hashlib.sha256(f"{user.id}:{user.role}:{user.password_hash}".encode()).hexdigest()[:16]


# --- users ------------------------------------------------------------------------------------


def get_user(session: Session, *, username: str) -> User | None:
    return session.exec(select(User).where(User.username == username.strip())).first()


def get_user_by_id(session: Session, *, user_id: int) -> User | None:
    return session.get(User, user_id)


def any_user(session: Session) -> bool:
    return session.exec(select(User.id).limit(1)).first() is not None


def create_user(session: Session, *, username: str, password: str, role: str = "editor") -> User:
    """Create an account; a taken username is a Conflict, a short password a BadRequest."""
    username = (username or "").strip()
    if not _USERNAME_RE.match(username):
        raise BadRequest(
            "A username is 1-100 letters, digits, dots, dashes, underscores or @, "
            "starting with a letter or digit."
        )
    if role not in ROLES:
        raise BadRequest(f"A role is one of: {', '.join(ROLES)}.")
    if len(password or "") < MIN_PASSWORD:
        raise BadRequest(f"A password needs at least {MIN_PASSWORD} characters.")
    if get_user(session, username=username) is not None:
        raise Conflict(f"A user '{username}' already exists.")
    user = User(username=username, password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, *, user: User, password: str) -> User:
    if len(password or "") < MIN_PASSWORD:
        raise BadRequest(f"A password needs at least {MIN_PASSWORD} characters.")
    user.password_hash = hash_password(password)
    session.add(user)
    session.flush()
    return user


# --- sign-in and throttle ---------------------------------------------------------------------


def _throttle_key(username: str, ip: str) -> str:
    return f"{username.strip().lower()[:200]}|{ip[:90]}"


def _recent_failures(session: Session, key: str) -> int:
    since = utcnow() - THROTTLE_WINDOW
    stmt = select(func.count()).where(LoginFailure.key == key, LoginFailure.created_at >= since)
    return session.exec(stmt).one()


def authenticate(session: Session, *, username: str, password: str, ip: str) -> User:
    """The user whose password matches; else Unauthorized (the failure is recorded, flush only)
    or TooManyRequests once THROTTLE_MAX_FAILURES failures happened within THROTTLE_WINDOW for
    this username and address."""
    key = _throttle_key(username or "", ip or "")
    if _recent_failures(session, key) >= THROTTLE_MAX_FAILURES:
        minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
        raise TooManyRequests(
            f"Too many failed sign-ins for this account from your address. "
            f"Wait {minutes} minutes and try again."
        )
    user = get_user(session, username=username or "") if username else None
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password or "")
    if not (user and ok and user.active):
        session.exec(
            delete(LoginFailure).where(LoginFailure.created_at < utcnow() - THROTTLE_WINDOW)
        )
        session.add(LoginFailure(key=key))
        session.flush()
        raise Unauthorized("Wrong username or password.")
    session.exec(delete(LoginFailure).where(LoginFailure.key == key))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
    session.flush()
    return user


# --- tokens -----------------------------------------------------------------------------------


def _new_token(
    session: Session, *, user: User, name: str, kind: str, expires_at: datetime | None
) -> tuple[ApiToken, str]:
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        name=(name or "")[:100],
        token_hash=token_digest(plain),
        kind=kind,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row, plain


def create_api_token(session: Session, *, user: User, name: str = "") -> tuple[ApiToken, str]:
    """A new Bearer token for `user`: (row, plaintext). The plaintext is never stored."""
    return _new_token(session, user=user, name=name or "api", kind="api", expires_at=None)


def list_api_tokens(session: Session, *, user: User) -> list[ApiToken]:
    stmt = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.kind == "api")
    return list(session.exec(stmt.order_by(ApiToken.id)).all())


def revoke_api_token(session: Session, *, user: User, token_id: int) -> None:
    row = session.get(ApiToken, token_id)
    if row is None or row.kind != "api" or (row.user_id != user.id and user.role != "admin"):
        raise NotFound(f"No token {token_id}.")
    session.delete(row)
    session.flush()


def user_for_api_token(session: Session, *, token: str) -> User | None:
    """The active user owning this Bearer token, or None. Marks last use (at most per minute)."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.exec(
        select(ApiToken).where(ApiToken.token_hash == token_digest(token), ApiToken.kind == "api")
    ).first()
    if row is None:
        return None
    now = utcnow()
    if row.expires_at is not None and _aware(row.expires_at) < now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    last = _aware(row.last_used_at)
    if last is None or now - last > timedelta(minutes=1):
        row.last_used_at = now
        session.add(row)
        session.commit()
    return user


def create_signin_token(session: Session, *, user: User, ttl: timedelta = SIGNIN_TOKEN_TTL) -> str:
    """A one-time sign-in token (for /login/once/<token>) that expires after `ttl`."""
    _, plain = _new_token(
        session, user=user, name="one-time sign-in", kind="signin", expires_at=utcnow() + ttl
    )
    return plain


def redeem_signin_token(session: Session, *, token: str) -> User:
    """Consume a one-time sign-in token: the user, else Unauthorized (unknown, used, expired)."""
    row = None
    if token and len(token) <= 200:
        row = session.exec(
            select(ApiToken).where(
                ApiToken.token_hash == token_digest(token), ApiToken.kind == "signin"
            )
        ).first()
    if row is None:
        raise Unauthorized("This sign-in link is unknown or was already used.")
    session.delete(row)
    session.flush()
    if _aware(row.expires_at) is None or _aware(row.expires_at) < utcnow():
        raise Unauthorized("This sign-in link has expired. Ask for a new one.")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise Unauthorized("This sign-in link belongs to an account that no longer exists.")
    return user


@dataclass
class Bootstrap:
    user: User
    password: str
    signin_token: str


def bootstrap_admin(session: Session, *, username: str = "admin") -> Bootstrap | None:
    """On a database without users, create an admin with a random password and a one-time
    sign-in token; None when any user exists already."""
    if any_user(session):
        return None
    password = secrets.token_urlsafe(18)
    user = create_user(session, username=username, password=password, role="admin")
    return Bootstrap(
        user=user, password=password, signin_token=create_signin_token(session, user=user)
    )
