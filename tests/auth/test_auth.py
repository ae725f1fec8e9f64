"""SPEC 1 access rules: Token (or Bearer) keys, hashed at rest, staff and support only."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from herald.auth.tokens import create_token, hash_key
from herald.core.db import Database
from tests.conftest import load_directory
from tests.factories import DirectoryBuilder

URL = "/api/broadcast-messages/"
ROUTES = [
    ("GET", URL),
    ("HEAD", URL),
    ("POST", URL),
    ("GET", f"{URL}recipients/"),
    ("GET", f"{URL}{'a' * 32}/"),
    ("PATCH", f"{URL}{'a' * 32}/"),
    ("DELETE", f"{URL}{'a' * 32}/"),
    ("POST", f"{URL}{'a' * 32}/send/"),
    ("POST", f"{URL}{'a' * 32}/schedule/"),
]


def _token_for(db: Database, **user: bool) -> str:
    d = DirectoryBuilder()
    d.user("person", "person@example.org", **user)  # type: ignore[arg-type]
    load_directory(db, d.doc)
    with db.transaction() as session:
        from herald.directory.repository import find_user_by_email

        found = find_user_by_email(session, "person@example.org")
        assert found is not None
        return create_token(session, found)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_credentials_is_401(
    anonymous: httpx.Client, db: Database, method: str, path: str
) -> None:
    response = anonymous.request(method, path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"
    if method != "HEAD":
        assert response.json() == {"detail": "Authentication credentials were not provided."}


@pytest.mark.parametrize(
    "header",
    ["Token nope", "Token", "Bearer", "Token a b", "Basic dXNlcjpwYXNz", "Token " + "0" * 40],
)
def test_bad_tokens_are_401_invalid_token(
    anonymous: httpx.Client, db: Database, header: str
) -> None:
    response = anonymous.get(URL, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": "Invalid token."}


def test_staff_token_works_with_token_and_bearer(
    anonymous: httpx.Client, staff: dict[str, str]
) -> None:
    for scheme in ("Token", "Bearer", "token"):
        response = anonymous.get(URL, headers={"Authorization": f"{scheme} {staff['token']}"})
        assert response.status_code == 200, scheme


def test_support_user_is_allowed(anonymous: httpx.Client, db: Database) -> None:
    key = _token_for(db, support=True)
    assert anonymous.get(URL, headers={"Authorization": f"Token {key}"}).status_code == 200


def test_ordinary_user_is_403(anonymous: httpx.Client, db: Database) -> None:
    key = _token_for(db)
    for method, path in ROUTES:
        response = anonymous.request(method, path, headers={"Authorization": f"Token {key}"})
        assert response.status_code == 403, (method, path)
        if method != "HEAD":
            assert response.json() == {
                "detail": "You do not have permission to perform this action."
            }


def test_inactive_staff_is_401(anonymous: httpx.Client, db: Database) -> None:
    key = _token_for(db, staff=True, active=False)
    response = anonymous.get(URL, headers={"Authorization": f"Token {key}"})
    assert response.status_code == 401


def test_only_the_hash_of_a_key_is_stored(db: Database, staff: dict[str, str]) -> None:
    with db.transaction(write=False) as session:
        stored = [row[0] for row in session.execute(text("SELECT key_hash FROM api_tokens"))]
    assert stored == [hash_key(staff["token"])]
    assert staff["token"] not in stored[0]


def test_revoked_token_is_401(anonymous: httpx.Client, db: Database, staff: dict[str, str]) -> None:
    with db.transaction() as session:
        session.execute(text("DELETE FROM api_tokens"))
    response = anonymous.get(URL, headers={"Authorization": f"Token {staff['token']}"})
    assert response.status_code == 401 and response.json() == {"detail": "Invalid token."}
