"""Settings from the environment (prefix SURVEYKB_), one object passed everywhere."""

from functools import lru_cache
from pathlib import Path

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SURVEYKB_", env_file=".env", extra="ignore")

    var_dir: Path = PROJECT_ROOT / "var"
    database_url: str = ""
    search_backend: str = "whoosh"
    survey_path: Path = PROJECT_ROOT / "data" / "surveys" / "se4llm"
    per_page_default: int = 25
    per_page_max: int = 200
    debug: bool = False
    # Accounts and hardening (app/auth.py, app/security.py). An empty secret_key means: generate
    # one once and keep it in var_dir/secret_key, so restarts keep sessions.
    secret_key: str = ""
    private: bool = False
    # The one upload limit, in MB (MiB): the largest BibTeX file an import accepts (413 with
    # the limit named beyond it) and the largest request body (app/security.py).
    max_upload_mb: int = 20
    session_days: int = 14

    @model_validator(mode="after")
    def _defaults(self) -> "Settings":
        self.var_dir = Path(self.var_dir).resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'surveykb.sqlite3'}"
        return self

    @property
    def import_max_bytes(self) -> int:
        """The BibTeX import limit, derived from SURVEYKB_MAX_UPLOAD_MB (no setting of its own)."""
        return self.max_upload_mb * 1024 * 1024

    @property
    def index_dir(self) -> Path:
        return self.var_dir / "index"

    @property
    def uploads_dir(self) -> Path:
        return self.var_dir / "uploads"

    def ensure_dirs(self) -> None:
        for d in (self.var_dir, self.index_dir, self.uploads_dir):
            d.mkdir(parents=True, exist_ok=True)


@lru_cache
def get_settings() -> Settings:
    return Settings()
