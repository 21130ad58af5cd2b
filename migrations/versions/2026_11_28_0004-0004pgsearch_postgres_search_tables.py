"""postgres search tables

Revision ID: 0004pgsearch
Revises: 0003changelog
Create Date: 2026-11-28 15:10:00

The tables of the PostgreSQL full-text search backend (app/search/postgres_backend.py,
SURVEYKB_SEARCH_BACKEND=postgres): one row per search document with weighted tsvectors (GIN
indexed), a word list for "did you mean", and a small key/value state (schema version, stale
marker, write generation). They are derived data, kept by app/services through the search
interface, and live outside the SQLModel metadata (migrations/env.py leaves `search_*` tables
out of `alembic check`).

On SQLite this migration does nothing: there the Whoosh backend is the only one.
The `unaccent` and `pg_trgm` extensions are used when they can be created (accent folding in
the text search configuration `surveykb_en`; trigram "did you mean"); without them the backend
folds accents in Python and finds close words by edit distance.
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy.exc import DBAPIError

revision: str = "0004pgsearch"
down_revision: str | None = "0003changelog"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONFIG = "surveykb_en"


def _try(conn, sql: str) -> bool:
    """Run `sql` in a savepoint; False (and the transaction still usable) if it fails."""
    try:
        with conn.begin_nested():
            conn.exec_driver_sql(sql)
        return True
    except DBAPIError:
        return False


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    unaccent = _try(conn, "CREATE EXTENSION IF NOT EXISTS unaccent")
    trgm = _try(conn, "CREATE EXTENSION IF NOT EXISTS pg_trgm")
    conn.exec_driver_sql(f"CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = pg_catalog.english)")
    if unaccent:
        conn.exec_driver_sql(
            f"ALTER TEXT SEARCH CONFIGURATION {CONFIG} "
            "ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem"
        )
    conn.exec_driver_sql(
        """
        CREATE TABLE search_doc (
            id text PRIMARY KEY,
            kind text NOT NULL,
            ref_id integer NOT NULL,
            key text NOT NULL DEFAULT '',
            title text NOT NULL DEFAULT '',
            body text NOT NULL DEFAULT '',
            authors text NOT NULL DEFAULT '',
            venue text NOT NULL DEFAULT '',
            year integer,
            f_phase text[] NOT NULL DEFAULT '{}',
            f_challenge text[] NOT NULL DEFAULT '{}',
            f_direction text[] NOT NULL DEFAULT '{}',
            f_venue text,
            -- ranking: A title, B abstract/description, C authors+venue+keywords, D ids+taxonomy
            tsv tsvector NOT NULL,
            -- field qualifiers: A authors, B venue, C ident (citekey, DOI, arXiv), D keywords
            ftsv tsvector NOT NULL,
            -- taxonomy qualifiers: A phase, B challenge, C direction (slugs and names)
            ttsv tsvector NOT NULL
        )
        """
    )
    conn.exec_driver_sql("CREATE INDEX ix_search_doc_tsv ON search_doc USING gin (tsv)")
    conn.exec_driver_sql("CREATE INDEX ix_search_doc_ftsv ON search_doc USING gin (ftsv)")
    conn.exec_driver_sql("CREATE INDEX ix_search_doc_ttsv ON search_doc USING gin (ttsv)")
    conn.exec_driver_sql("CREATE INDEX ix_search_doc_kind ON search_doc (kind)")
    conn.exec_driver_sql(
        "CREATE TABLE search_word (word text PRIMARY KEY, ndoc integer NOT NULL DEFAULT 1)"
    )
    if trgm:
        conn.exec_driver_sql(
            "CREATE INDEX ix_search_word_trgm ON search_word USING gin (word gin_trgm_ops)"
        )
    conn.exec_driver_sql(
        "CREATE TABLE search_state (key text PRIMARY KEY, value text NOT NULL, "
        "updated_at timestamptz NOT NULL DEFAULT now())"
    )


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for table in ("search_state", "search_word", "search_doc"):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    conn.exec_driver_sql(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {CONFIG}")
    # The extensions stay: other objects in the database may use them.
