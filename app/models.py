"""SQLModel tables (DESIGN.md section 4) and the public schemas the API returns.

The database is the truth; the search index is derived from these rows. Link tables carry an
`origin` so that survey-given, curated and suggested classifications can be told apart.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

# Stable constraint names so that Alembic migrations are reproducible on SQLite and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ORIGINS = ("survey", "curated", "suggested")
SOURCES = ("survey", "editorial")


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- taxonomy -------------------------------------------------------------------------------


class Survey(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, max_length=80)
    title: str
    citation: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    citekey: str | None = Field(default=None, max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    url: str | None = None
    year: int | None = None
    authors: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Phase(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("survey_id", "slug", name="uq_phase_survey_slug"),)

    id: int | None = Field(default=None, primary_key=True)
    survey_id: int = Field(foreign_key="survey.id", index=True, ondelete="CASCADE")
    slug: str = Field(max_length=80)
    name: str
    position: int
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class Challenge(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("survey_id", "slug", name="uq_challenge_survey_slug"),)

    id: int | None = Field(default=None, primary_key=True)
    survey_id: int = Field(foreign_key="survey.id", index=True, ondelete="CASCADE")
    phase_id: int = Field(foreign_key="phase.id", index=True, ondelete="CASCADE")
    slug: str = Field(max_length=120)
    title: str
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    source: str = Field(default="survey", max_length=20)
    position: int = 0
    retired: bool = False


class Direction(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("survey_id", "slug", name="uq_direction_survey_slug"),)

    id: int | None = Field(default=None, primary_key=True)
    survey_id: int = Field(foreign_key="survey.id", index=True, ondelete="CASCADE")
    phase_id: int = Field(foreign_key="phase.id", index=True, ondelete="CASCADE")
    slug: str = Field(max_length=120)
    title: str
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    source: str = Field(default="survey", max_length=20)
    position: int = 0
    retired: bool = False


class DirectionChallenge(SQLModel, table=True):
    direction_id: int = Field(foreign_key="direction.id", primary_key=True, ondelete="CASCADE")
    challenge_id: int = Field(foreign_key="challenge.id", primary_key=True, ondelete="CASCADE")


# --- papers ---------------------------------------------------------------------------------


class Paper(SQLModel, table=True):
    __table_args__ = (Index("ix_paper_year", "year"),)

    id: int | None = Field(default=None, primary_key=True)
    citekey: str = Field(unique=True, max_length=250)
    entry_type: str = Field(default="misc", max_length=40)
    title: str = Field(sa_column=Column(Text, nullable=False))
    year: int | None = None
    venue: str | None = Field(default=None, index=True, max_length=500)
    doi: str | None = Field(default=None, unique=True, max_length=300)
    arxiv_id: str | None = Field(default=None, unique=True, max_length=60)
    url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    abstract: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    raw_bibtex: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    title_key: str = Field(default="", index=True, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Author(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=300)
    family: str = Field(default="", max_length=200, index=True)
    given: str = Field(default="", max_length=200)
    key: str = Field(unique=True, max_length=400)


class PaperAuthor(SQLModel, table=True):
    paper_id: int = Field(foreign_key="paper.id", primary_key=True, ondelete="CASCADE")
    position: int = Field(primary_key=True)
    author_id: int = Field(foreign_key="author.id", index=True, ondelete="CASCADE")


class PaperPhase(SQLModel, table=True):
    paper_id: int = Field(foreign_key="paper.id", primary_key=True, ondelete="CASCADE")
    phase_id: int = Field(foreign_key="phase.id", primary_key=True, ondelete="CASCADE", index=True)
    origin: str = Field(default="survey", max_length=20)
    score: float | None = None


class PaperChallenge(SQLModel, table=True):
    paper_id: int = Field(foreign_key="paper.id", primary_key=True, ondelete="CASCADE")
    challenge_id: int = Field(
        foreign_key="challenge.id", primary_key=True, ondelete="CASCADE", index=True
    )
    origin: str = Field(default="survey", max_length=20)
    score: float | None = None


class PaperDirection(SQLModel, table=True):
    paper_id: int = Field(foreign_key="paper.id", primary_key=True, ondelete="CASCADE")
    direction_id: int = Field(
        foreign_key="direction.id", primary_key=True, ondelete="CASCADE", index=True
    )
    origin: str = Field(default="survey", max_length=20)
    score: float | None = None


class Tag(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)


class PaperTag(SQLModel, table=True):
    paper_id: int = Field(foreign_key="paper.id", primary_key=True, ondelete="CASCADE")
    tag_id: int = Field(foreign_key="tag.id", primary_key=True, ondelete="CASCADE", index=True)


class CitekeyAlias(SQLModel, table=True):
    alias: str = Field(primary_key=True, max_length=250)
    paper_id: int = Field(foreign_key="paper.id", index=True, ondelete="CASCADE")


# --- reading lists, imports, accounts ------------------------------------------------------


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=100)
    password_hash: str = Field(default="", max_length=300)
    role: str = Field(default="editor", max_length=20)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    name: str = Field(default="", max_length=100)
    token_hash: str = Field(unique=True, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    # "api" tokens authenticate Bearer requests; "signin" tokens are one-time sign-in links.
    kind: str = Field(default="api", max_length=20)
    expires_at: datetime | None = None


class LoginFailure(SQLModel, table=True):
    """A failed sign-in, kept in the database so the throttle holds across worker processes."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class ReadingList(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, max_length=120)
    name: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    filter: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    public: bool = True
    owner_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ReadingListItem(SQLModel, table=True):
    list_id: int = Field(foreign_key="readinglist.id", primary_key=True, ondelete="CASCADE")
    paper_id: int = Field(foreign_key="paper.id", primary_key=True, ondelete="CASCADE")
    position: int = 0
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    status: str = Field(default="to-read", max_length=20)


class ImportJob(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default="pending", max_length=20)
    filename: str = Field(default="", max_length=300)
    stored_path: str = Field(default="", max_length=1000)
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    results: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    # Liveness of a pending/running job: the process that runs it ("host:pid") and when it
    # last said so. Start-up fails the jobs of dead processes (services.imports.recover_jobs).
    owner: str = Field(default="", max_length=200)
    heartbeat_at: datetime | None = None


# --- curation history ----------------------------------------------------------------------


class ChangeLog(SQLModel, table=True):
    """One curator's change (who, when, before, after); an admin can revert it.

    `before`/`after` hold only what the change touched: item fields for a challenge or
    direction, an order for a phase, link states keyed "phase:slug", "challenge:slug",
    "direction:slug", "tag:name" for a paper (null = no link).
    """

    __table_args__ = (Index("ix_changelog_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    username: str = Field(default="", max_length=100)
    action: str = Field(max_length=30)
    entity: str = Field(max_length=20)
    entity_id: int
    entity_key: str = Field(default="", max_length=250)
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    revert_of: int | None = None
    reverted_by: int | None = None
