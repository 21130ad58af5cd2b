"""The `surveykb` command (also `python -m app`): thin wrappers over the services."""

import sys
from pathlib import Path

import typer

from app.config import get_settings

cli = typer.Typer(help="surveykb: a knowledge base for a research survey.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema management.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")


def _err(msg: str, code: int = 1) -> None:
    typer.echo(msg, err=True)
    raise typer.Exit(code)


@db_cli.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from app import migrate

    settings = get_settings()
    settings.ensure_dirs()
    migrate.upgrade(settings.database_url, revision)
    typer.echo(f"Database schema is at {revision}: {_safe_url(settings.database_url)}")


@db_cli.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. base.")) -> None:
    """Revert migrations down to REVISION."""
    from app import migrate

    migrate.downgrade(get_settings().database_url, revision)
    typer.echo(f"Database schema reverted to {revision}.")


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def _engine():
    from app import migrate
    from app.db import make_engine

    settings = get_settings()
    settings.ensure_dirs()
    engine = make_engine(settings.database_url)
    if not migrate.is_current(engine, settings.database_url):
        _err("The database schema is not up to date: run `surveykb db upgrade` first.", 2)
    return engine


@cli.command("load-survey")
def load_survey(
    path: Path = typer.Argument(None, help="Survey folder or survey.yaml (default: shipped)."),
) -> None:
    """Validate and load a survey (survey.yaml + papers.bib) in one transaction; idempotent."""
    from app.db import session_scope
    from app.services.taxonomy import load_survey as load
    from app.taxonomy import TaxonomyError, read_survey_dir

    path = path or get_settings().survey_path
    try:
        bundle = read_survey_dir(path)
    except TaxonomyError as exc:
        typer.echo(f"The survey at {path} has {len(exc.problems)} problem(s):", err=True)
        for p in exc.problems:
            typer.echo(f"  {p}", err=True)
        raise typer.Exit(2) from None
    engine = _engine()
    with session_scope(engine) as session:
        report = load(session, bundle)
    typer.echo(report.summary())


@cli.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Number of worker processes."),
    reload: bool = typer.Option(False, help="Reload on code changes (development)."),
) -> None:
    """Serve the web UI and the JSON API with uvicorn."""
    import uvicorn

    _engine().dispose()
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    typer.echo(f"surveykb is serving on http://{shown}:{port}  (press Ctrl+C to stop)")
    sys.stdout.flush()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        log_level="info",
    )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
