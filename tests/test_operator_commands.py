"""The first mistakes an operator makes, and the commands that run Herald for real:
one line and exit status 2 for every failure, tokens that can be listed, revoked
and expire, migrate that says what it did, prune (SPEC 6)."""

from __future__ import annotations

import socket
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from herald import __version__
from herald.core.clock import utc_now
from herald.core.db import Database
from herald.core.models import SCHEMA_HEAD
from tests.cli import herald
from tests.conftest import EXAMPLE_DIRECTORY, PG_URL

URL = "/api/broadcast-messages/"


def _one_line(result, status: int = 2) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == status, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def _last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


@pytest.mark.parametrize("command", [["demo"], ["create-staff", "--email", "a@b.example",
                                     "--full-name", "A"], ["tokens", "list"]])  # fmt: skip
def test_an_unmigrated_database_says_run_migrate(tmp_path: Path, command: list[str]) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    line = _one_line(herald(url, *command))
    assert line.startswith('error: the database has no schema yet: run "herald migrate"')


def test_directory_import_on_an_unmigrated_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    line = _one_line(herald(url, "directory", "import", str(EXAMPLE_DIRECTORY)))
    assert 'run "herald migrate"' in line


def test_migrate_says_what_it_created_then_that_it_is_up_to_date(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    first = herald(url, "migrate")
    assert first.returncode == 0, first.stderr
    assert f"created the schema (revision {SCHEMA_HEAD})" in first.stdout
    again = herald(url, "migrate")
    assert f"is up to date (revision {SCHEMA_HEAD})" in again.stdout


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL")
def test_a_missing_postgresql_database_says_how_to_create_it() -> None:
    assert PG_URL
    url = PG_URL.rsplit("/", 1)[0] + "/herald_does_not_exist"
    line = _one_line(herald(url, "migrate"))
    assert 'database "herald_does_not_exist" does not exist' in line
    assert "createdb herald_does_not_exist" in line


def test_an_unreachable_database_is_one_line() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here
    url = f"postgresql://postgres@127.0.0.1:{port}/herald"
    line = _one_line(herald(url, "tokens", "list"))
    assert f"cannot reach PostgreSQL at 127.0.0.1:{port}" in line


def test_a_bad_setting_names_the_variable(database_url: str) -> None:
    line = _one_line(herald(database_url, "tokens", "list", env={"HERALD_TIME_ZONE": "Mars/Base"}))
    assert "HERALD_TIME_ZONE" in line and "Mars/Base" in line
    # a head deadline of 0 would close every connection before its first byte
    line = _one_line(herald(database_url, "tokens", "list", env={"HERALD_HEADER_TIMEOUT": "0"}))
    assert "HERALD_HEADER_TIMEOUT" in line and "greater than 0" in line


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    (tmp_path / "new.db").touch()  # a database that exists but has no schema: it fails inside
    url = f"sqlite:///{tmp_path / 'new.db'}"
    result = herald(url, "--debug", "tokens", "list")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_version() -> None:
    result = herald("sqlite://", "--version")
    assert result.returncode == 0 and result.stdout.strip() == f"herald {__version__}"


def test_tokens_list_revoke_and_expire(db: Database, database_url: str, server_url: str) -> None:
    made = herald(database_url, "create-staff", "--email", "ops@x.example", "--full-name", "Ops")
    key = _last_line(made.stdout)
    short = herald(database_url, "create-token", "--email", "ops@x.example", "--expires-in", "1")
    short_key = _last_line(short.stdout)
    headers = {"Authorization": f"Token {key}"}
    assert httpx.get(f"{server_url}{URL}", headers=headers).status_code == 200
    listed = herald(database_url, "tokens", "list")
    assert listed.returncode == 0, listed.stderr
    assert key not in listed.stdout and short_key not in listed.stdout
    rows = [line for line in listed.stdout.splitlines() if "ops@x.example" in line]
    assert len(rows) == 2
    # the first token was just used: its last use is recorded; the second never was
    assert rows[0].split()[5] != "-" and rows[1].split()[5] == "-"

    # an expired token is refused like an unknown one
    with db.transaction() as session:
        session.execute(
            text("UPDATE api_tokens SET expires = :past WHERE key_hash != ''"),
            {"past": utc_now() - timedelta(minutes=1)},
        )
    expired = httpx.get(f"{server_url}{URL}", headers={"Authorization": f"Token {short_key}"})
    assert (expired.status_code, expired.json()) == (401, {"detail": "Invalid token."})
    assert "expired" in herald(database_url, "tokens", "list").stdout
    with db.transaction() as session:
        session.execute(text("UPDATE api_tokens SET expires = NULL"))

    token_id = rows[0].split()[0]
    revoked = herald(database_url, "tokens", "revoke", token_id)
    assert revoked.returncode == 0 and f"revoked token {token_id}" in revoked.stdout
    assert httpx.get(f"{server_url}{URL}", headers=headers).status_code == 401
    everything = herald(database_url, "tokens", "revoke", "--email", "ops@x.example")
    assert "revoked 1 token(s)" in everything.stdout
    missing = herald(database_url, "tokens", "revoke", "999999")
    assert "no token has the id 999999" in _one_line(missing)


def test_last_use_is_written_at_most_once_a_minute(
    db: Database, database_url: str, api: httpx.Client
) -> None:
    def last_used() -> object:
        with db.transaction(write=False) as session:
            return session.execute(text("SELECT last_used FROM api_tokens")).scalar()

    api.get(URL)
    first = last_used()
    assert first is not None
    time.sleep(0.05)
    for _ in range(5):
        api.get(URL)
    assert last_used() == first


def test_prune_forgets_old_delivery_records_but_keeps_messages(
    db: Database, database_url: str, api: httpx.Client
) -> None:
    created = api.post(
        URL,
        json={"subject": "Old", "body": "b", "query": {"additional_recipients": ["a@x.example"]}},
    ).json()
    assert api.post(f"{URL}{created['uuid']}/send/").status_code == 200
    with db.transaction() as session:
        session.execute(text("UPDATE deliveries SET status = 'sent'"))
        session.execute(text("UPDATE broadcast_messages SET sent = '2020-01-01 00:00:00'"))
    result = herald(database_url, "prune", "--sent-before", "2021-01-01")
    assert result.returncode == 0, result.stderr
    assert "removed 1 delivery records" in result.stdout
    message = api.get(f"{URL}{created['uuid']}/").json()
    assert message["emails"] == ["a@x.example"]
    assert message["delivery"]["total"] == 0
    assert "YYYY-MM-DD" in _one_line(herald(database_url, "prune", "--sent-before", "soon"))
