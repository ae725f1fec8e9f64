"""The `herald` command (SPEC 6).

Every command fails with one line that says what is wrong and what to do,
and exit status 2 (`cli_errors.py`); `--debug` shows the traceback instead.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from herald import __version__
from herald.core.addresses import email_error
from herald.core.config import Settings

if TYPE_CHECKING:  # imported lazily at run time: `herald --version` stays fast
    from sqlalchemy.orm import Session

    from herald.core.db import Database
    from herald.core.models import User
    from herald.suppressions.repository import Member

FAILED = 2
# Click's UsageError as typer ships it (typer carries its own click and exports only
# the subclass BadParameter): a wrong command, option or missing argument.
USAGE_ERROR: type[Exception] = typer.BadParameter.__mro__[1]
DEMO_TOKEN_DAYS = 30

app = typer.Typer(
    help="Herald: broadcast messages for research-computing portals.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
directory_app = typer.Typer(
    help="The directory of users, customers, projects and offerings.", no_args_is_help=True
)
tokens_app = typer.Typer(help="API tokens: list and revoke.", no_args_is_help=True)
bounces_app = typer.Typer(help="Bounces: read the bounce mailbox now.", no_args_is_help=True)
suppressions_app = typer.Typer(
    help="The suppression list: addresses Herald no longer mails.", no_args_is_help=True
)
app.add_typer(directory_app, name="directory")
app.add_typer(tokens_app, name="tokens")
app.add_typer(bounces_app, name="bounces")
app.add_typer(suppressions_app, name="suppressions")

ExpiresIn = Annotated[
    float | None,
    typer.Option("--expires-in", min=0.01, help="Days until the token stops working."),
]


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(FAILED)


def _database(create: bool = False) -> Database:
    """The database; only `migrate` may create a SQLite file that is not there yet
    (any other command would leave an empty file behind and then fail)."""
    from herald.core.db import NO_SCHEMA, Database, missing_sqlite_file
    from herald.entry.preflight import settle_default_database

    settings = Settings()
    if moved := settle_default_database(settings):
        typer.echo(moved, err=True)
    url = settings.database_url
    if not create and (path := missing_sqlite_file(url)):
        _fail(f"{NO_SCHEMA} (there is no database at {path})")
    # Imports and the like may run long statements: no statement time-out.
    return Database(url, statement_timeout=None)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"herald {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback when a command fails.")
    ] = False,
) -> None:
    """Herald: broadcast messages for research-computing portals."""


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from herald.core.models import SCHEMA_HEAD
    from herald.migrations.runner import upgrade_to_head

    database = _database(create=True)
    try:
        before = database.schema_revision()
    finally:
        database.dispose()
    upgrade_to_head(database.url)
    where = database.display_url
    if before is None:
        typer.echo(f"created the schema (revision {SCHEMA_HEAD}) in {where}")
    elif before != SCHEMA_HEAD:
        typer.echo(f"upgraded the schema of {where} from revision {before} to {SCHEMA_HEAD}")
    else:
        typer.echo(f"the schema of {where} is up to date (revision {SCHEMA_HEAD})")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes.")] = 1,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run the delivery worker and scheduler.")
    ] = False,
    access_log: Annotated[
        bool,
        typer.Option("--access-log", help="Log each request: method, path, status, duration."),
    ] = False,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Proxies (comma-separated IPs, or *) whose X-Forwarded-* headers are trusted.",
        ),
    ] = None,
) -> None:
    """Serve the API (docs at /api/docs/) and, unless --no-worker, deliver mail."""
    from herald.entry.logs import configure_logging
    from herald.entry.server import ServeOptions
    from herald.entry.server import serve as run_server

    settings = Settings()  # fail here, not in every process, on a bad setting
    configure_logging(settings)
    run_server(ServeOptions(host, port, workers, not no_worker, access_log, forwarded_allow_ips))


@app.command()
def worker() -> None:
    """Run only the delivery worker and scheduler (several may share one PostgreSQL)."""
    from herald.entry.logs import configure_logging
    from herald.entry.preflight import check_configuration
    from herald.entry.worker_process import main

    settings = Settings()
    configure_logging(settings)
    check_configuration(settings)
    main()


def _warn_if_refused(user: User) -> None:
    from herald.auth.tokens import api_refusal

    if refusal := api_refusal(user):
        typer.echo(
            f"warning: {refusal}; make them staff with `herald create-staff --email "
            f"{user.email} --full-name ...`",
            err=True,
        )


@app.command("create-staff")
def create_staff(
    email: Annotated[str, typer.Option(help="The staff user's address.")],
    full_name: Annotated[str, typer.Option(help="Full name, shown as a message's author.")],
    support: Annotated[bool, typer.Option(help="Make a support user instead of staff.")] = False,
    expires_in: ExpiresIn = None,
) -> None:
    """Create (or find) a staff user and print a new API token on the last line."""
    from herald.auth.tokens import create_token
    from herald.directory.staff import ensure_staff

    if problem := email_error(email.strip()):
        _fail(f"--email {email!r}: {problem}")
    database = _database()
    with database.transaction() as session:
        user = ensure_staff(session, email, full_name, support)
        key = create_token(session, user, expires_in)
        _audit(
            session,
            "token.create",
            "user",
            user.uuid,
            {"email": user.email, "role": "support" if support else "staff"},
        )
        role = "support" if support else "staff"
        typer.echo(f"{user.full_name} <{user.email}> is {role}; new API token:")
    typer.echo(key)


@app.command("create-token")
def create_token_command(
    email: Annotated[str, typer.Option(help="Address of an existing directory user.")],
    expires_in: ExpiresIn = None,
) -> None:
    """Make a new API token for an existing user and print it on the last line."""
    from herald.auth.tokens import create_token
    from herald.directory.repository import find_user_by_email

    database = _database()
    with database.transaction() as session:
        user = find_user_by_email(session, email)
        if user is None:
            _fail(f"no user has the address {email!r}; import the directory or use create-staff")
        key = create_token(session, user, expires_in)
        _audit(session, "token.create", "user", user.uuid, {"email": user.email})
        _warn_if_refused(user)
        typer.echo(f"new API token for {user.full_name} <{user.email}>:")
    typer.echo(key)


def _audit(
    session: Session, action: str, object_type: str, object_uuid: str | None,
    detail: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """A change made at the command line, recorded as the operator's (SPEC 8)."""
    from herald.audit.service import Actor, record

    record(session, Actor.operator(), action, object_type, object_uuid, detail)


def _moment(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


@tokens_app.command("list")
def list_tokens() -> None:
    """Every API token: its id, owner, when made, last used and expiry (never the key)."""
    from herald.auth.tokens import list_tokens as all_tokens

    database = _database()
    with database.transaction(write=False) as session:
        tokens = all_tokens(session)
    if not tokens:
        typer.echo("no API tokens; make one with `herald create-staff`")
        return
    typer.echo(
        f"{'id':>5}  {'owner':<40} {'created':<16}  {'last used':<16}  {'expires':<16}  note"
    )
    for token in tokens:
        owner = f"{token.full_name} <{token.email}>"[:40]
        typer.echo(
            f"{token.id:>5}  {owner:<40} {_moment(token.created):<16}  "
            f"{_moment(token.last_used):<16}  {_moment(token.expires):<16}  {token.refusal or ''}"
        )


@tokens_app.command("revoke")
def revoke_tokens(
    token_id: Annotated[
        int | None, typer.Argument(help="The id `herald tokens list` shows.")
    ] = None,
    email: Annotated[
        str | None, typer.Option(help="Revoke every token of the user with this address.")
    ] = None,
) -> None:
    """Revoke one token by id, or every token of a user; they stop working at once."""
    from herald.auth.tokens import revoke_token, revoke_tokens_of
    from herald.directory.repository import find_user_by_email

    if (token_id is None) == (email is None):
        _fail("give a token id or --email, not both and not neither")
    database = _database()
    with database.transaction() as session:
        if token_id is not None:
            if not revoke_token(session, token_id):
                _fail(f"no token has the id {token_id}; `herald tokens list` shows them")
            _audit(session, "token.revoke", "token", str(token_id))
            typer.echo(f"revoked token {token_id}")
            return
        assert email is not None
        user = find_user_by_email(session, email)
        if user is None:
            _fail(f"no user has the address {email!r}")
        count = revoke_tokens_of(session, user.uuid)
        _audit(session, "token.revoke", "user", user.uuid, {"email": user.email, "tokens": count})
        typer.echo(f"revoked {count} token(s) of {user.email}")


@directory_app.command("import")
def import_directory(
    file: Annotated[Path, typer.Argument(help="A directory JSON file (docs/directory.md).")],
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="In the sections the file names, remove what it does not name."
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and show the changes; write nothing.")
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
            if sys.stderr.isatty():  # a bar for a person; nothing in a log
                with typer.progressbar(
                    length=directory.count(), label="importing", file=sys.stderr
                ) as bar:
                    report = write_directory(session, directory, replace, bar.update, dry_run)
            else:
                report = write_directory(session, directory, replace, None, dry_run)
            if not dry_run:
                _audit(session, "directory.import", "directory", None,
                       {"file": str(file), "replace": replace, "left": report.left})  # fmt: skip
    except DirectoryError as exc:
        typer.echo(f"error: {file} was not imported; nothing was written:", err=True)
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(FAILED) from exc
    typer.echo(report.summary())


@directory_app.command("sync")
def sync_directory(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read Waldur and show the changes; write nothing.")
    ] = False,
    allow_mass_removal: Annotated[
        bool,
        typer.Option(
            "--allow-mass-removal",
            help="Apply even if it removes over half the users or customers.",
        ),
    ] = False,
) -> None:
    """Read the directory from Waldur (HERALD_WALDUR_URL, HERALD_WALDUR_TOKEN) and apply it."""
    from herald.audit.service import Actor
    from herald.directory.jobs import run_sync

    settings = Settings()
    counted: dict[str, int] = {}

    def progress(section: str, rows: int) -> None:
        counted[section] = counted.get(section, 0) + rows
        if sys.stderr.isatty():
            typer.echo(f"\rreading {section}: {counted[section]}   ", err=True, nl=False)

    result = run_sync(settings, dry_run=dry_run, allow_mass_removal=allow_mass_removal,
                      actor=Actor.operator(),
                      progress=progress)  # fmt: skip
    if sys.stderr.isatty():
        typer.echo("", err=True)
    typer.echo(result.report.summary())
    for reason, count in sorted(result.skipped.items()):
        typer.echo(f"  left out: {count} {reason}")
    typer.echo(f"read {result.fetched_rows} directory rows from Waldur in {result.seconds:.1f} s")


@bounces_app.command("fetch")
def fetch_bounces(
    from_start: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Read every message in the folder again, not only those new since the "
            "last round (after fixing HERALD_SECRET_KEY, say).",
        ),
    ] = False,
) -> None:
    """Read the bounce mailbox (HERALD_BOUNCE_IMAP_URL) now.

    The delivery process does the same every HERALD_BOUNCE_INTERVAL seconds."""
    from herald.bounces.jobs import MailboxBusy
    from herald.bounces.jobs import fetch_bounces as fetch
    from herald.bounces.mailbox import MailboxError

    database = _database()
    try:
        result = fetch(Settings(), database, from_start=from_start)
    except (MailboxBusy, MailboxError) as exc:
        _fail(str(exc))
    finally:
        database.dispose()
    typer.echo(result.summary())


@suppressions_app.command("list")
def list_suppressions(
    email: Annotated[str | None, typer.Option(help="Only addresses containing this.")] = None,
    reason: Annotated[
        str | None, typer.Option(help="Only this reason: hard, soft, complaint or manual.")
    ] = None,
) -> None:
    """Every suppressed address, newest first, with whom to ask for a new one.

    Each address comes with the users who hold it and their organisations."""
    from herald.core.models import SuppressionReason
    from herald.suppressions import repository
    from herald.suppressions.service import people_of

    wanted = None
    if reason is not None:
        try:
            wanted = SuppressionReason(reason)
        except ValueError:
            _fail(f"--reason {reason!r}: give hard, soft, complaint or manual")
    database = _database()
    with database.transaction(write=False) as session:
        records = repository.page(session, email, wanted, 0, None)
        people = people_of(session, records)
    if not records:
        typer.echo("no suppressed addresses")
        return
    for record in records:
        users = people.get(record.key, [])
        held_by = "; ".join(_member(m) for m in users) or "not in the directory"
        note = f"  note: {record.note}" if record.note else ""
        typer.echo(
            f"{record.email:<40} {record.reason.value:<10} {_moment(record.created)}  "
            f"{held_by}{note}"
        )


def _member(member: Member) -> str:
    organisations = ", ".join(name for _, name in member.customers) or "no organisation"
    return f"{member.full_name or member.username} ({organisations})"


@suppressions_app.command("add")
def add_suppression(
    email: Annotated[str, typer.Argument(help="The address to stop mailing.")],
    note: Annotated[str, typer.Option(help="Why, for whoever reads the list later.")] = "",
) -> None:
    """Stop mailing an address (it stays in audiences, marked suppressed)."""
    from herald.audit.service import Actor
    from herald.core.clock import utc_now
    from herald.core.errors import Invalid
    from herald.suppressions.service import add_by_hand, parse_manual

    database = _database()
    try:
        wanted = parse_manual({"email": email, "note": note})
    except Invalid as exc:
        _fail("; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in exc.body.items()))
    with database.transaction() as session:
        record, added = add_by_hand(session, wanted, Actor.operator(), utc_now())
    if added:
        typer.echo(f"suppressed {record.email}")
    else:
        typer.echo(f"{record.email} was suppressed already ({record.reason.value}); unchanged")


@suppressions_app.command("remove")
def remove_suppression(
    email: Annotated[str, typer.Argument(help="The address to mail again.")],
) -> None:
    """Mail an address again (its user gave a working one, or it was a mistake)."""
    from herald.audit.service import Actor
    from herald.core.errors import NotFound
    from herald.suppressions.service import remove

    database = _database()
    try:
        with database.transaction() as session:
            record = remove(session, email, Actor.operator())
    except NotFound:
        _fail(f"{email} is not suppressed; `herald suppressions list` shows what is")
    typer.echo(f"removed the suppression of {record.email} ({record.reason.value})")


@app.command()
def prune(
    sent_before: Annotated[
        str | None,
        typer.Option("--sent-before", help="A day, YYYY-MM-DD: prune messages sent before it."),
    ] = None,
) -> None:
    """Delete old delivery records (--sent-before) and audit entries (HERALD_AUDIT_DAYS).

    Delivery records are the per-recipient rows of messages sent before the day;
    audit entries go after HERALD_AUDIT_DAYS days (400).

    The messages stay, with their recipient lists; records still pending are kept."""
    from herald.audit.service import prune as prune_audit
    from herald.broadcasts.service import prune_deliveries

    day = None
    if sent_before is not None:
        try:
            day = date.fromisoformat(sent_before)
        except ValueError:
            _fail(f"--sent-before {sent_before!r}: give a day as YYYY-MM-DD")
    settings = Settings()
    database = _database()
    with database.transaction() as session:
        if day is not None:
            removed = prune_deliveries(session, datetime(day.year, day.month, day.day))
            typer.echo(
                f"removed {removed} delivery records of messages sent before {day.isoformat()}"
            )
        forgotten = prune_audit(session, settings.audit_days)
    typer.echo(f"removed {forgotten} audit entries older than {settings.audit_days} days")


@app.command()
def demo(
    port: Annotated[
        int, typer.Option(help="The port `herald serve` will use, for the links printed.")
    ] = 8000,
) -> None:
    """Load a demo directory and print a staff token to try the API with.

    Each run replaces the demo staff member's token with a new one that expires
    in DEMO_TOKEN_DAYS days: trying Herald out leaves no pile of keys that never expire."""
    from herald.auth.tokens import create_token, revoke_tokens_of
    from herald.directory.demo import demo_directory
    from herald.directory.importer import import_document
    from herald.directory.staff import ensure_staff

    database = _database()
    with database.transaction() as session:
        report = import_document(session, demo_directory())
        user = ensure_staff(session, "staff@herald.example", "Demo Staff", support=False)
        replaced = revoke_tokens_of(session, user.uuid)
        key = create_token(session, user, expires_in_days=DEMO_TOKEN_DAYS)
    base = f"http://127.0.0.1:{port}"
    typer.echo(f"demo directory loaded: {report.summary()}")
    if replaced:
        typer.echo(f"the demo staff member's earlier token ({replaced}) no longer works")
    typer.echo(f"Herald will be at {base}/ (sign in with the token below)")
    typer.echo("try it:")
    typer.echo(
        f'  curl -H "Authorization: Token {key}" '
        f"{base}/api/broadcast-messages/recipients/?all_users=true"
    )
    typer.echo(f"  API docs: {base}/api/docs/")
    typer.echo(f"staff token (expires in {DEMO_TOKEN_DAYS} days):")
    typer.echo(key)


def main() -> None:
    """The console script: one line and status 2 for every failure, unless --debug."""
    from herald.entry.cli_errors import explain

    debug = "--debug" in sys.argv[1:]
    try:
        # Not standalone: click's usage errors come here, to be one line like the rest.
        status = app(standalone_mode=False)
    except USAGE_ERROR as error:
        context = getattr(error, "ctx", None)
        command = context.command_path if context else "herald"
        message = getattr(error, "format_message", error.__str__)()
        typer.echo(f"error: {message} (see `{command} --help`)", err=True)
        sys.exit(FAILED)
    except typer.Abort:
        typer.echo("error: interrupted", err=True)
        sys.exit(FAILED)
    except (SystemExit, KeyboardInterrupt):
        raise
    except Exception as exc:
        if debug:
            raise
        try:
            url: str | None = Settings().database_url
        except Exception:
            url = None
        line = explain(exc, url) or (
            f"{type(exc).__name__}: {exc} (run again with --debug for the traceback)"
        )
        typer.echo(f"error: {line}", err=True)
        sys.exit(FAILED)
    if isinstance(status, int) and status:
        sys.exit(status)


if __name__ == "__main__":
    main()
