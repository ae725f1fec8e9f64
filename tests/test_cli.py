"""The `herald` command (SPEC 6): tokens printed alone on the last line, and they work."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from sqlalchemy import text

from herald.auth.tokens import hash_key
from herald.core.db import Database
from tests.cli import herald

URL = "/api/broadcast-messages/"


def _last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_migrate_is_repeatable(database_url: str) -> None:
    result = herald(database_url, "migrate")
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_create_staff_prints_a_working_key(
    db: Database, database_url: str, server_url: str
) -> None:
    result = herald(
        database_url, "create-staff", "--email", "boss@example.org", "--full-name", "Big Boss"
    )
    assert result.returncode == 0, result.stderr
    key = _last_line(result.stdout)
    assert len(key) == 40 and all(c in "0123456789abcdef" for c in key)
    headers = {"Authorization": f"Token {key}"}
    created = httpx.post(f"{server_url}{URL}", json={"subject": "s", "body": "b"}, headers=headers)
    assert created.status_code == 201
    assert created.json()["author_full_name"] == "Big Boss"

    # the same address again finds the same user and adds a second token
    again = herald(database_url, "create-staff", "--email", "BOSS@example.org", "--full-name", "x")
    second = _last_line(again.stdout)
    assert second != key
    for token in (key, second):
        response = httpx.get(f"{server_url}{URL}", headers={"Authorization": f"Token {token}"})
        assert response.status_code == 200


def test_create_staff_support_and_bad_email(
    db: Database, database_url: str, server_url: str
) -> None:
    result = herald(
        database_url,
        "create-staff",
        "--email",
        "help@example.org",
        "--full-name",
        "Help",
        "--support",
    )
    key = _last_line(result.stdout)
    response = httpx.get(f"{server_url}{URL}", headers={"Authorization": f"Token {key}"})
    assert response.status_code == 200
    bad = herald(database_url, "create-staff", "--email", "nope", "--full-name", "x")
    assert bad.returncode == 2 and "--email 'nope'" in bad.stderr


def test_create_token_for_a_directory_user_whatever_their_role(
    db: Database, database_url: str, server_url: str
) -> None:
    from tests.conftest import EXAMPLE_DIRECTORY

    herald(database_url, "directory", "import", str(EXAMPLE_DIRECTORY))
    result = herald(database_url, "create-token", "--email", "mia@physics.example")
    assert result.returncode == 0, result.stderr
    key = _last_line(result.stdout)
    # an ordinary user: authenticated, but not allowed
    response = httpx.get(f"{server_url}{URL}", headers={"Authorization": f"Token {key}"})
    assert response.status_code == 403
    assert "warning: the user is neither staff nor support" in result.stderr
    missing = herald(database_url, "create-token", "--email", "ghost@example.org")
    assert missing.returncode == 2 and "ghost@example.org" in missing.stderr


def test_demo_loads_a_directory_and_prints_a_staff_token(
    db: Database, database_url: str, server_url: str
) -> None:
    result = herald(database_url, "demo")
    assert result.returncode == 0, result.stderr
    assert "curl -H" in result.stdout
    key = _last_line(result.stdout)
    headers = {"Authorization": f"Token {key}"}
    everyone = httpx.get(
        f"{server_url}{URL}recipients/",
        params={"all_users": "true", "page_size": 100},
        headers=headers,
    )
    assert everyone.status_code == 200
    emails = {row["email"] for row in everyone.json()}
    assert "ivan@physics.example" not in emails  # the inactive demo user
    assert {"it@physics.example", "olga@physics.example"} <= emails
    # loading it twice changes nothing but the key
    again = herald(database_url, "demo")
    assert again.returncode == 0
    headers = {"Authorization": f"Token {_last_line(again.stdout)}"}
    count = httpx.head(
        f"{server_url}{URL}recipients/", params={"all_users": "true"}, headers=headers
    )
    assert int(count.headers["X-Result-Count"]) == len(emails)


def test_usage_errors_are_one_line_and_status_2(database_url: str) -> None:
    for args, said in (
        (["frobnicate"], "error: No such command 'frobnicate'. (see `herald --help`)"),
        (
            ["create-staff", "--email", "a@b.example"],
            "error: Missing option '--full-name'. (see `herald create-staff --help`)",
        ),
        (
            ["tokens", "list", "--bogus"],
            "error: No such option: --bogus (see `herald tokens list --help`)",
        ),
    ):
        result = herald(database_url, *args)
        assert result.returncode == 2
        assert result.stderr.strip() == said


def test_a_database_url_herald_cannot_use_is_one_line(tmp_path: Path) -> None:
    result = herald("foo://bar", "tokens", "list")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: HERALD_DATABASE_URL names a database Herald cannot use (foo://): "
        "write sqlite:///PATH or postgresql://USER@HOST:PORT/NAME"
    ]


def test_a_refused_command_leaves_no_empty_database_behind(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here" / "herald.db"
    for args in (["tokens", "list"], ["demo"], ["serve", "--port", "0"]):
        result = herald(f"sqlite:///{missing}", *args)
        assert result.returncode == 2, result.stderr
        assert 'run "herald migrate"' in result.stderr
        assert not missing.exists() and not missing.parent.exists()
    assert herald(f"sqlite:///{missing}", "migrate").returncode == 0
    assert missing.exists()


def test_demo_names_its_port_and_replaces_its_token(db: Database, database_url: str) -> None:
    first = herald(database_url, "demo", "--port", "8123")
    assert first.returncode == 0, first.stderr
    assert "http://127.0.0.1:8123/api/docs/" in first.stdout
    assert "expires in 30 days" in first.stdout
    key = _last_line(first.stdout)
    second = herald(database_url, "demo", "--port", "8123")
    assert "earlier token (1) no longer works" in second.stdout
    with db.transaction(write=False) as session:
        tokens = session.execute(text("SELECT key_hash, expires FROM api_tokens")).all()
    assert len(tokens) == 1 and tokens[0].expires is not None  # one key, and it expires
    assert tokens[0].key_hash != hash_key(key)


GROUPS = ("directory", "tokens", "bounces", "suppressions")


def _help(database_url: str, *command: str) -> str:
    result = herald(database_url, *command, "--help", env={"COLUMNS": "80", "TERM": "dumb"})
    assert result.returncode == 0, result.stderr
    return result.stdout


def _commands(help_text: str) -> list[str]:
    box = help_text.split("Commands")[1] if "Commands" in help_text else ""
    return re.findall(r"^│ ([a-z][a-z-]+) ", box, flags=re.MULTILINE)


def test_every_help_reads_whole_sentences_and_flags_take_no_value(database_url: str) -> None:
    """Issue 23: flags were shown as `--version <bool>` (as if they took a value),
    and `prune`, `bounces fetch` and `suppressions list` broke mid-sentence in the
    command lists. Every command's help, top level and in each group."""
    helps = {(): _help(database_url)}
    for group in GROUPS:
        helps[(group,)] = _help(database_url, group)
    for command in _commands(helps[()]) + [
        f"{group} {sub}" for group in GROUPS for sub in _commands(helps[(group,)])
    ]:
        helps[tuple(command.split())] = _help(database_url, *command.split())
    assert len(helps) >= 15
    for command, shown in helps.items():
        assert "<bool>" not in shown, command
        lines = [line.strip("│ ").rstrip() for line in shown.splitlines() if line.startswith("│")]
        for line, after in zip(lines, lines[1:], strict=False):
            # A line cut short with room to spare, then continued: a sentence broken
            # by a line break in the source rather than by the width of the screen.
            wrapped = after.startswith(" " * 10) and not after.strip().startswith("-")
            assert not (wrapped and len(line) < 55 and line.strip()[-1:] not in ".:)"), (
                command, line, after,
            )  # fmt: skip
    assert "Delete old delivery records" in helps[()]
