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
    from app.search import open_index
    from app.services.indexing import load_survey_and_index
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
    report = load_survey_and_index(engine, open_index(get_settings()), bundle)
    typer.echo(report.summary())
    if report.conflicts:  # curators' work the file disagrees with: kept, listed here
        typer.echo(f"{len(report.conflicts)} conflict(s) with curated changes (kept):")
        for line in report.conflicts:
            typer.echo(f"  {line}")


@cli.command("export-survey")
def export_survey_cmd(
    survey: str = typer.Option(None, "--survey", help="Survey slug (default: the first)."),
    output: Path = typer.Option(None, "--output", "-o", help="File to write (default stdout)."),
) -> None:
    """Write the curated taxonomy back to survey.yaml form (load-survey reads it)."""
    from sqlmodel import Session

    from app.errors import DomainError
    from app.services.taxonomy import export_survey

    with Session(_engine()) as session:
        try:
            text = export_survey(session, slug=survey)
        except DomainError as exc:
            _err(exc.detail, 2)
    _write_chunks([text], output)
    if output is not None and str(output) != "-":
        typer.echo(f"Wrote the taxonomy to {output}.", err=True)


@cli.command("reindex")
def reindex() -> None:
    """Rebuild the search index from the database."""
    from sqlmodel import Session

    from app.search import open_index
    from app.services.indexing import rebuild

    engine = _engine()
    with Session(engine) as session:
        n = rebuild(session, open_index(get_settings()), parallel=True)
    typer.echo(f"Search index rebuilt: {n} documents.")


@cli.command("check")
def check() -> None:
    """Compare database ids with search index ids; exit 1 if they differ."""
    from sqlmodel import Session

    from app.search import open_index
    from app.services.indexing import check as check_index

    engine = _engine()
    with Session(engine) as session:
        diff = check_index(session, open_index(get_settings()))
    typer.echo(diff.summary())
    pairs = (("missing from the index", diff.missing), ("not in the database", diff.extra))
    for label, ids in pairs:
        for i in sorted(ids)[:20]:
            typer.echo(f"  {label}: {i}")
    if not diff.ok:
        raise typer.Exit(1)


def _write_chunks(chunks, output: Path | None) -> None:
    """Write text chunks to a file (atomically, via a temporary name) or to stdout."""
    if output is None or str(output) == "-":
        for chunk in chunks:
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return
    tmp = output.with_name(output.name + ".part")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        for chunk in chunks:
            fh.write(chunk)
    tmp.replace(output)


@cli.command("export")
def export_cmd(
    format: str = typer.Option(
        "bibtex", "--format", "-f", help="bibtex, biblatex, csljson, ris, csv or markdown."
    ),
    phase: list[str] = typer.Option([], help="Phase slug (repeatable)."),
    challenge: list[str] = typer.Option([], help="Challenge slug (repeatable)."),
    direction: list[str] = typer.Option([], help="Direction slug (repeatable)."),
    year_from: int = typer.Option(None, "--year-from"),
    year_to: int = typer.Option(None, "--year-to"),
    venue: list[str] = typer.Option([], help="Venue (repeatable)."),
    type: list[str] = typer.Option([], "--type", help="Entry type (repeatable)."),
    tag: list[str] = typer.Option([], help="Tag (repeatable)."),
    q: str = typer.Option("", "--q", help="Full-text query, as on /papers."),
    list_slug: str = typer.Option(None, "--list", help="Export this reading list instead."),
    output: Path = typer.Option(None, "--output", "-o", help="File to write (default stdout)."),
) -> None:
    """Export papers (the /papers filters, or a reading list) to stdout or a file."""
    from sqlmodel import Session

    from app.errors import DomainError
    from app.services import export
    from app.services.filters import PaperFilters

    params = {
        "phase": phase,
        "challenge": challenge,
        "direction": direction,
        "venue": venue,
        "type": type,
        "tag": tag,
        "year_from": year_from,
        "year_to": year_to,
        "q": q,
    }
    index = None
    if q:
        try:
            from app.search import open_index

            index = open_index(get_settings())
        except Exception:  # no usable index: the export falls back to a SQL text match
            index = None
    engine = _engine()
    with Session(engine) as session:
        try:
            plan = export.plan_export(
                session,
                fmt=format,
                filters=PaperFilters.from_params(params),
                list_slug=list_slug,
                index=index,
            )
        except DomainError as exc:
            _err(exc.detail, 2)
        _write_chunks(plan.write(session), output)
    if output is not None and str(output) != "-":
        typer.echo(f"Exported {plan.count} paper(s) as {plan.format} to {output}.", err=True)


@cli.command("dump")
def dump_cmd(
    output: Path = typer.Option(None, "--output", "-o", help="File to write (default stdout)."),
) -> None:
    """Write the whole knowledge base as one JSON file (docs/dump-format.md)."""
    from sqlmodel import Session

    from app.services.dump import iter_dump

    with Session(_engine()) as session:
        _write_chunks(iter_dump(session), output)


@cli.command("restore")
def restore_cmd(
    path: Path = typer.Argument(..., help="A file written by `surveykb dump`."),
) -> None:
    """Load a dump into an empty database, then rebuild the search index."""
    import json

    from app.db import session_scope
    from app.errors import DomainError
    from app.services.dump import restore

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        _err(f"Cannot read {path}: {exc}", 2)
    engine = _engine()
    try:
        with session_scope(engine) as session:
            counts = restore(session, data)
    except DomainError as exc:
        _err(exc.detail, 2)
    typer.echo("Restored: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + ".")
    try:
        from sqlmodel import Session

        from app.search import open_index
        from app.services.indexing import rebuild

        with Session(engine) as session:
            n = rebuild(session, open_index(get_settings()))
        typer.echo(f"Search index rebuilt: {n} documents.")
    except ImportError:
        pass


@cli.command("import")
def import_cmd(
    files: list[Path] = typer.Argument(..., help="BibTeX file(s) to import."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would happen only."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with the report."),
) -> None:
    """Import BibTeX: dedupe, merge, suggest phases; one transaction per file."""
    import json

    from sqlmodel import Session

    from app.errors import DomainError
    from app.search import open_index
    from app.services import imports

    settings = get_settings()
    limit = settings.import_max_bytes
    blobs = []
    for f in files:
        try:
            data = f.read_bytes()
        except OSError as exc:
            _err(f"Cannot read {f}: {exc.strerror or exc}", 2)
        if len(data) > limit:
            _err(f"{f}: {imports.too_large_message(limit, len(data))}", 2)
        blobs.append((f, data))
    engine = _engine()
    index = None if dry_run else open_index(settings)
    total = {"added": [], "merged": [], "skipped": [], "failed": [], "warnings": []}
    jobs: list[int] = []
    for f, data in blobs:
        progress = _ImportProgress(f.name)
        try:
            if dry_run:
                with Session(engine) as s:
                    rep = imports.dry_run(s, data, max_bytes=limit, progress=progress)
            else:
                with Session(engine) as s:
                    job = imports.create_job(
                        s, uploads_dir=settings.uploads_dir, filename=f.name, data=data
                    )
                rep = imports.run_import(
                    engine, job_id=job.id, index=index, max_bytes=limit, progress=progress
                )
                jobs.append(job.id)
        except DomainError as exc:
            progress.close()
            _err(f"{f}: {exc.detail}", 2)
        progress.close()
        out = rep.as_json()
        for k in total:
            total[k] += [{**item, "file": str(f)} for item in out[k]]
        if not as_json:
            c = rep.counts()
            verb = "would be" if dry_run else "were"
            typer.echo(
                f"{f}: {c['added']} added, {c['merged']} merged, {c['skipped']} skipped, "
                f"{c['failed']} failed ({verb} imported"
                + (f"; job {rep.job_id})" if rep.job_id else ")")
            )
            for item in out["failed"]:
                typer.echo(f"  line {item['line']}: {item['key'] or '?'}: {item['reason']}")
            for item in out["added"]:
                if item["reason"]:
                    typer.echo(f"  {item['key']} -> {item['citekey']} ({item['reason']})")
    if as_json:
        typer.echo(
            json.dumps(
                {**total, "job": jobs[-1] if jobs else None, "jobs": jobs, "dry_run": dry_run},
                ensure_ascii=False,
            )
        )


class _ImportProgress:
    """A progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tty = sys.stderr.isatty()
        self.bar = None
        self.task = None
        self.last = ("", -1)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.tty:
            if self.bar is None:
                from rich.console import Console
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

                self.bar = Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    console=Console(stderr=True),
                    transient=True,
                )
                self.bar.start()
                self.task = self.bar.add_task(self.name, total=None)
            self.bar.update(
                self.task, description=f"{self.name}: {stage}", completed=done, total=total or None
            )
        elif (stage, done) != self.last:
            self.last = (stage, done)
            print(f"import {self.name}: {stage} {done}/{total}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


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


# --- accounts (app/services/auth.py) ---------------------------------------------------------

user_cli = typer.Typer(help="User accounts (roles: editor, admin).", no_args_is_help=True)
token_cli = typer.Typer(help="API tokens for 'Authorization: Bearer'.", no_args_is_help=True)
cli.add_typer(user_cli, name="user")
cli.add_typer(token_cli, name="token")


def _signin_url(host: str, port: int, token: str) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{shown}:{port}/login/once/{token}"


@user_cli.command("create")
def user_create(
    username: str = typer.Argument(..., help="The new user's name."),
    admin: bool = typer.Option(False, "--admin", help="Role admin (default: editor)."),
    password: str = typer.Option(
        None, help="Password (prompted when missing; at least 8 characters)."
    ),
) -> None:
    """Create a user account."""
    from app.db import session_scope
    from app.errors import DomainError
    from app.services import auth as auth_service

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with session_scope(_engine()) as session:
            user = auth_service.create_user(
                session, username=username, password=password, role="admin" if admin else "editor"
            )
            typer.echo(f"Created {user.role} '{user.username}'.")
    except DomainError as exc:
        _err(exc.detail, 2)


@user_cli.command("password")
def user_password(
    username: str = typer.Argument(...),
    password: str = typer.Option(None, help="New password (prompted when missing)."),
) -> None:
    """Set a user's password (this signs out their sessions)."""
    from app.db import session_scope
    from app.errors import DomainError
    from app.services import auth as auth_service

    if password is None:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        with session_scope(_engine()) as session:
            user = auth_service.get_user(session, username=username)
            if user is None:
                _err(f"No user '{username}'.", 2)
            auth_service.set_password(session, user=user, password=password)
    except DomainError as exc:
        _err(exc.detail, 2)
    typer.echo(f"Password of '{username}' changed.")


@user_cli.command("link")
def user_link(
    username: str = typer.Argument(...),
    host: str = typer.Option("127.0.0.1", help="Host shown in the link."),
    port: int = typer.Option(8000, help="Port shown in the link."),
) -> None:
    """Print a one-time sign-in link (valid 24 hours) for USERNAME."""
    from app.db import session_scope
    from app.services import auth as auth_service

    with session_scope(_engine()) as session:
        user = auth_service.get_user(session, username=username)
        if user is None:
            _err(f"No user '{username}'.", 2)
        token = auth_service.create_signin_token(session, user=user)
    typer.echo(_signin_url(host, port, token))


@token_cli.command("create")
def token_create(
    username: str = typer.Argument(..., help="The user the token acts as."),
    name: str = typer.Option("cli", help="A label to recognise the token by."),
) -> None:
    """Create an API token and print it once (only its hash is stored)."""
    from app.db import session_scope
    from app.services import auth as auth_service

    with session_scope(_engine()) as session:
        user = auth_service.get_user(session, username=username)
        if user is None:
            _err(f"No user '{username}'.", 2)
        _, plain = auth_service.create_api_token(session, user=user, name=name)
    typer.echo(plain)


@cli.command("bootstrap")
def bootstrap(
    host: str = typer.Option("127.0.0.1", help="Host shown in the sign-in link."),
    port: int = typer.Option(8000, help="Port shown in the sign-in link."),
) -> None:
    """On a database without users: create 'admin' and print a one-time sign-in link."""
    from sqlalchemy.exc import IntegrityError

    from app.db import session_scope
    from app.services import auth as auth_service

    try:
        with session_scope(_engine()) as session:
            boot = auth_service.bootstrap_admin(session)
            token = boot.signin_token if boot else None
    except IntegrityError:  # another process bootstrapped at the same moment
        boot = token = None
    if token is None:
        typer.echo("Accounts exist; sign in at /login (`surveykb user link NAME` prints a link).")
        return
    typer.echo("Created the local admin account 'admin'. Sign in once with this link")
    typer.echo("(valid 24 hours; then set a password with `surveykb user password admin`):")
    typer.echo("")
    typer.echo(f"    {_signin_url(host, port, token)}")
    typer.echo("")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
