"""Console sessions over HTTP (SPEC 8): the cookie, CSRF, expiry, sign-out and leaving."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text

from herald.core.db import Database
from tests.bounces.test_bounce_api import _token_for

URL = "/api/broadcast-messages/"
MESSAGE = {"subject": "S", "body": "B", "query": {"additional_recipients": ["a@x.example"]}}


@pytest.fixture
def browser_like(server_url: str) -> Iterator[httpx.Client]:
    """A client that behaves as the console's own page does: same-origin fetches."""
    with httpx.Client(
        base_url=server_url, timeout=30, headers={"Sec-Fetch-Site": "same-origin"}
    ) as client:
        yield client


def _sign_in(client: httpx.Client, token: str) -> str:
    opened = client.post("/api/session/", json={"token": token})
    assert opened.status_code == 204, opened.text
    cookie = opened.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over HTTPS it is set
    me = client.get("/api/session/")
    assert me.status_code == 200
    return str(me.json()["csrf_token"])


def test_signed_in_once_a_browser_reads_and_changes_with_its_csrf_token(
    browser_like: httpx.Client, staff: dict[str, str]
) -> None:
    csrf = _sign_in(browser_like, staff["token"])
    assert browser_like.get("/api/session/").json()["user"]["email"] == "staff@herald.example"
    assert browser_like.get(URL).status_code == 200
    missing = browser_like.post(URL, json=MESSAGE)
    assert missing.status_code == 403 and "CSRF token" in missing.json()["detail"]
    made = browser_like.post(URL, json=MESSAGE, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text
    trail = browser_like.get("/api/audit/", params={"action": "message.create"}).json()
    assert trail[0]["user"]["email"] == "staff@herald.example"  # a session acts as its person


@pytest.mark.parametrize(
    "where", [{"Sec-Fetch-Site": "same-site"}, {"Sec-Fetch-Site": "cross-site"},
              {"Sec-Fetch-Site": "", "Origin": "http://evil.example"}, {"Sec-Fetch-Site": ""}]
)  # fmt: skip
def test_a_change_by_cookie_from_anywhere_else_is_refused_and_writes_nothing(
    browser_like: httpx.Client, staff: dict[str, str], where: dict[str, str]
) -> None:
    csrf = _sign_in(browser_like, staff["token"])
    headers = {"X-CSRF-Token": csrf, **where}
    refused = browser_like.post(URL, json=MESSAGE, headers=headers)
    assert refused.status_code == 403, refused.text
    assert "Herald's own pages" in refused.json()["detail"]
    assert browser_like.head(URL).headers["X-Result-Count"] == "0"


def test_sign_out_ends_the_session_on_the_server(
    browser_like: httpx.Client, staff: dict[str, str]
) -> None:
    _sign_in(browser_like, staff["token"])
    cookie = browser_like.cookies.get("herald_session")
    assert browser_like.delete("/api/session/").status_code == 204
    # Even a copy of the cookie kept elsewhere no longer works.
    with httpx.Client(base_url=str(browser_like.base_url), timeout=30) as other:
        other.cookies.set("herald_session", cookie or "")
        ended = other.get(URL)
    assert ended.status_code == 401
    assert ended.json() == {"detail": "Your session has ended; sign in again."}


@pytest.mark.parametrize("expiry", ["idle", "absolute", "left"])
def test_an_idle_an_old_and_a_departed_users_session_ends(
    browser_like: httpx.Client, staff: dict[str, str], db: Database, expiry: str
) -> None:
    _sign_in(browser_like, staff["token"])
    assert browser_like.get(URL).status_code == 200
    statement = {
        "idle": "UPDATE console_sessions SET last_seen = '2020-01-01 00:00:00'",
        "absolute": "UPDATE console_sessions SET expires = '2020-01-01 00:00:00'",
        "left": "UPDATE users SET is_active = false",
    }[expiry]
    with db.transaction() as session:
        session.execute(text(statement))
    assert browser_like.get(URL).status_code == 401
    assert browser_like.get("/api/session/").status_code == 401


def test_who_may_open_a_session(browser_like: httpx.Client, db: Database) -> None:
    bad = browser_like.post("/api/session/", json={"token": "nope"})
    assert bad.status_code == 401 and bad.json() == {"detail": "Invalid token."}
    assert browser_like.post("/api/session/", json={}).json() == {
        "token": ["Give a staff or support API token."]
    }
    nobody = _token_for(db, "olga@x.example")
    assert browser_like.post("/api/session/", json={"token": nobody}).status_code == 403
    support = _token_for(db, "sam@x.example", support=True)
    assert browser_like.post("/api/session/", json={"token": support}).status_code == 204
    foreign = browser_like.post(
        "/api/session/", json={"token": support}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert foreign.status_code == 403


def test_behind_an_https_proxy_the_cookie_is_secure(
    browser_like: httpx.Client, staff: dict[str, str]
) -> None:
    """The test server trusts 127.0.0.1 as its proxy, as `herald serve` behind nginx does."""
    opened = browser_like.post(
        "/api/session/", json={"token": staff["token"]}, headers={"X-Forwarded-Proto": "https"}
    )
    assert opened.status_code == 204, opened.text
    assert "Secure" in opened.headers["set-cookie"]


def test_revoking_the_token_ends_the_sessions_opened_with_it(
    browser_like: httpx.Client, staff: dict[str, str], database_url: str, db: Database
) -> None:
    """`herald tokens revoke` leaves no signed-in browser behind, even after a reload;
    a session opened with another token of the same person lives on."""
    from tests.cli import herald

    _sign_in(browser_like, staff["token"])
    with httpx.Client(
        base_url=str(browser_like.base_url), timeout=30, headers={"Sec-Fetch-Site": "same-origin"}
    ) as other_browser:
        made = herald(database_url, "create-token", "--email", staff["email"])
        _sign_in(other_browser, made.stdout.strip().splitlines()[-1])
        with db.transaction(write=False) as session:
            first = session.execute(
                text("SELECT min(id) FROM api_tokens WHERE user_uuid = :u"), {"u": staff["uuid"]}
            ).scalar_one()
        revoked = herald(database_url, "tokens", "revoke", str(first))
        assert revoked.returncode == 0, revoked.stderr
        ended = browser_like.get(URL)
        assert ended.status_code == 401
        assert ended.json() == {"detail": "Your session has ended; sign in again."}
        assert browser_like.get("/api/session/").status_code == 401  # the console's reload
        assert other_browser.get(URL).status_code == 200


def test_a_session_ends_no_later_than_its_token(
    browser_like: httpx.Client, staff: dict[str, str], database_url: str, db: Database
) -> None:
    from tests.cli import herald

    made = herald(database_url, "create-token", "--email", staff["email"], "--expires-in", "0.5")
    assert made.returncode == 0, made.stderr
    opened = browser_like.post("/api/session/", json={"token": made.stdout.split()[-1]})
    assert opened.status_code == 204
    max_age = int(opened.headers["set-cookie"].split("Max-Age=")[1].split(";")[0])
    assert 43_000 < max_age <= 43_200  # half a day, not the session's seven
    assert browser_like.get(URL).status_code == 200
    with db.transaction(write=False) as session:
        ends = session.execute(
            text("SELECT s.expires, t.expires FROM console_sessions s "
                 "JOIN api_tokens t ON t.id = s.token_id")
        ).one()  # fmt: skip
    assert ends[0] == ends[1]  # the session ends when the token does


def test_signing_in_and_out_with_a_token_is_on_the_audit_trail(
    browser_like: httpx.Client, staff: dict[str, str], api: httpx.Client
) -> None:
    _sign_in(browser_like, staff["token"])
    assert browser_like.delete("/api/session/").status_code == 204
    trail = api.get("/api/audit/", params={"object": staff["uuid"], "o": "created"}).json()
    assert [(e["action"], e["detail"]["method"], e["user"]["email"]) for e in trail] == [
        ("session.sign-in", "token", "staff@herald.example"),
        ("session.sign-out", "token", "staff@herald.example"),
    ]
