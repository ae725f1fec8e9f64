"""The `herald` command (SPEC 6)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from herald.addresses import email_error
from herald.config import Settings

app = typer.Typer(
    help="Herald: broadcast messages for research-computing portals.", no_args_is_help=True
)
directory_app = typer.Typer(
    help="The directory of users, customers, projects and offerings.", no_args_is_help=True
)
app.add_typer(directory_app, name="directory")


def _fail(message: str, status: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(status)


def _database():  # type: ignore[no-untyped-def]
    from herald.db import Database

    # Imports and the like may run long statements: no statement time-out.
    return Database(Settings().database_url, statement_timeout=None)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from herald.migrations.runner import upgrade_to_head

    settings = Settings()
    upgrade_to_head(settings.database_url)
    typer.echo(f"database is up to date ({settings.database_url.split('@')[-1]})")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes.")] = 1,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run the delivery worker and scheduler.")
    ] = False,
) -> None:
    """Serve the API (docs at /api/docs/) and, unless --no-worker, deliver mail."""
    from herald.logs import configure_logging
    from herald.server import ConfigurationError
    from herald.server import serve as run_server

    settings = Settings()  # fail here, not in every process, on a bad setting
    configure_logging(settings)
    try:
        run_server(host, port, workers, with_delivery=not no_worker)
    except ConfigurationError as problem:
        _fail(str(problem), status=2)


@app.command()
def worker() -> None:
    """Run only the delivery worker and scheduler (several may share one PostgreSQL)."""
    from herald.logs import configure_logging
    from herald.server import ConfigurationError, check_configuration
    from herald.worker_process import main

    settings = Settings()
    configure_logging(settings)
    try:
        check_configuration(settings)
    except ConfigurationError as problem:
        _fail(str(problem), status=2)
    main()


@app.command("create-staff")
def create_staff(
    email: Annotated[str, typer.Option(help="The staff user's address.")],
    full_name: Annotated[str, typer.Option(help="Full name, shown as a message's author.")],
    support: Annotated[bool, typer.Option(help="Make a support user instead of staff.")] = False,
) -> None:
    """Create (or find) a staff user and print a new API token on the last line."""
    from herald.auth.tokens import create_token
    from herald.directory.staff import ensure_staff

    if problem := email_error(email.strip()):
        _fail(f"--email {email!r}: {problem}")
    database = _database()
    with database.transaction() as session:
        user = ensure_staff(session, email, full_name, support)
        key = create_token(session, user)
        role = "support" if support else "staff"
        typer.echo(f"{user.full_name} <{user.email}> is {role}; new API token:")
    typer.echo(key)


@app.command("create-token")
def create_token_command(
    email: Annotated[str, typer.Option(help="Address of an existing directory user.")],
) -> None:
    """Make a new API token for an existing user and print it on the last line."""
    from herald.auth.tokens import create_token
    from herald.directory.repository import find_user_by_email

    database = _database()
    with database.transaction() as session:
        user = find_user_by_email(session, email)
        if user is None:
            _fail(f"no user has the address {email!r}; import the directory or use create-staff")
            return
        key = create_token(session, user)
        typer.echo(f"new API token for {user.full_name} <{user.email}>:")
    typer.echo(key)


@directory_app.command("import")
def import_directory(
    file: Annotated[Path, typer.Argument(help="A directory JSON file (SPEC 5).")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Remove whatever the file does not name.")
    ] = False,
) -> None:
    """Import a directory file: checked whole, written in one transaction."""
    from herald.directory.importer import check_document, read_file, write_directory
    from herald.directory.schemas import DirectoryError

    database = _database()
    try:
        document = read_file(file)
        with database.transaction() as session:
            directory = check_document(session, document, replace)
            with typer.progressbar(
                length=directory.count(), label="importing", file=sys.stderr
            ) as bar:
                report = write_directory(session, directory, replace, progress=bar.update)
    except DirectoryError as exc:
        typer.echo(f"error: {file} was not imported; nothing was written:", err=True)
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(report.summary())


@app.command()
def demo() -> None:
    """Load a demo directory and print a staff token to try the API with."""
    from herald.auth.tokens import create_token
    from herald.directory.demo import demo_directory
    from herald.directory.importer import import_document
    from herald.directory.staff import ensure_staff

    database = _database()
    with database.transaction() as session:
        report = import_document(session, demo_directory())
        user = ensure_staff(session, "staff@herald.example", "Demo Staff", support=False)
        key = create_token(session, user)
    typer.echo(f"demo directory loaded: {report.summary()}")
    typer.echo("try it:")
    typer.echo(
        f'  curl -H "Authorization: Token {key}" '
        "http://127.0.0.1:8000/api/broadcast-messages/recipients/?all_users=true"
    )
    typer.echo("  API docs: http://127.0.0.1:8000/api/docs/")
    typer.echo("staff token:")
    typer.echo(key)


if __name__ == "__main__":
    app()
