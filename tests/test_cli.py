"""The `herald` command (SPEC 6): tokens printed alone on the last line, and they work."""

from __future__ import annotations

import httpx

from herald.db import Database
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
    # loading it twice changes nothing
    again = herald(database_url, "demo")
    assert again.returncode == 0
    count = httpx.head(
        f"{server_url}{URL}recipients/", params={"all_users": "true"}, headers=headers
    )
    assert int(count.headers["X-Result-Count"]) == len(emails)
