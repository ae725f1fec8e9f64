"""Waldur's own tokens at Herald's API (SPEC 8), against a server that answers
`GET /api/users/me/` as Waldur does (tests/waldur_replay.py, the recorded users):
staff, support, inactive, unknown; Waldur slow, down, answering 500; the cache."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from herald.core.config import Settings
from herald.core.db import Database
from herald.directory.repository import find_user_by_email
from tests.conftest import LiveServer
from tests.waldur_replay import FakeWaldur

PEER_STAFF = "aa3b59d37adc4bc190f3cb9300837ddd"  # staff@peer.test, is_staff in the recording
ALICE = "7c240063a1874f48b8c93ef8e49e6f7b"  # neither staff nor support
DAVE = "93e523bed91d41158296b054dad1d44f"  # inactive
URL = "/api/broadcast-messages/"


@pytest.fixture
def waldur() -> Iterator[FakeWaldur]:
    fake = FakeWaldur().start()
    fake.user_tokens = {"w-staff": PEER_STAFF, "w-alice": ALICE, "w-dave": DAVE}
    yield fake
    fake.stop()


def _server(database_url: str, waldur: FakeWaldur, **extra: Any) -> LiveServer:
    settings = Settings(database_url=database_url, waldur_url=waldur.url, waldur_auth=True, **extra)
    server = LiveServer(settings)
    server.url = server.start()
    return server


@pytest.fixture
def herald_url(db: Database, database_url: str, waldur: FakeWaldur) -> Iterator[str]:
    server = _server(database_url, waldur)
    yield server.url
    server.stop()


def _get(base: str, token: str, path: str = URL) -> httpx.Response:
    return httpx.get(base + path, headers={"Authorization": f"Token {token}"}, timeout=30)


def _asked(waldur: FakeWaldur) -> int:
    return sum(1 for path, _ in waldur.requests if path == "/api/users/me/")


def test_a_waldur_staff_token_works_and_costs_one_call_per_cache_period(
    herald_url: str, waldur: FakeWaldur, db: Database
) -> None:
    for _ in range(5):
        assert _get(herald_url, "w-staff").status_code == 200
    assert _asked(waldur) == 1  # then answered from the cache
    body = {"subject": "S", "body": "B", "query": {"all_users": True}}
    created = httpx.post(herald_url + URL, headers={"Authorization": "Token w-staff"}, json=body)
    assert created.status_code == 201, created.text
    with db.transaction(write=False) as session:
        user = find_user_by_email(session, "staff@peer.test")
        assert user is not None and user.is_staff and user.uuid == PEER_STAFF  # added
    assert created.json()["author_full_name"] == user.full_name


def test_waldur_decides_who_may_call(herald_url: str, waldur: FakeWaldur) -> None:
    assert _get(herald_url, "w-alice").status_code == 403  # neither staff nor support
    inactive = _get(herald_url, "w-dave")
    assert inactive.status_code == 401 and inactive.json() == {
        "detail": "User inactive or deleted."
    }
    unknown = _get(herald_url, "not-a-token-anywhere")
    assert unknown.status_code == 401 and unknown.json() == {"detail": "Invalid token."}


@pytest.mark.parametrize("address", ["jürgen@peer.test", "not an address", "a@b@c"])
def test_an_address_waldur_vouches_for_is_read_like_an_import(
    herald_url: str, waldur: FakeWaldur, db: Database, address: str
) -> None:
    """Waldur's users/me goes through the directory's one address reader: a user
    whose address the import would refuse signs in, but is kept without one and
    so is in no audience."""
    for user in waldur.collections["/api/users/"]:
        if user["uuid"] == PEER_STAFF:
            user["email"] = address
    assert _get(herald_url, "w-staff").status_code == 200  # still signs in
    headers = {"Authorization": "Token w-staff"}
    everyone = httpx.get(
        f"{herald_url}{URL}recipients/", params={"all_users": "true"}, headers=headers
    )
    assert everyone.status_code == 200
    assert address not in [r["email"] for r in everyone.json()]
    created = httpx.post(
        herald_url + URL,
        json={"subject": "S", "body": "B", "query": {"send_to_me": True}},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["emails"] == []  # no address to send to
    with db.transaction(write=False) as session:
        from herald.core.models import User

        stored = session.get(User, PEER_STAFF)
        assert stored is not None and stored.email == "" and stored.is_staff


def test_herald_tokens_never_ask_waldur(
    herald_url: str, waldur: FakeWaldur, staff: dict[str, str]
) -> None:
    waldur.stop()  # Waldur is gone: Herald's own tokens do not care
    assert _get(herald_url, staff["token"]).status_code == 200
    assert _asked(waldur) == 0


@pytest.mark.parametrize("trouble", ["down", "500", "slow"])
def test_waldur_out_of_reach_is_a_503_not_a_401(
    herald_url: str, waldur: FakeWaldur, trouble: str
) -> None:
    if trouble == "down":
        waldur.stop()
    elif trouble == "500":
        waldur.failures = [500]
    else:
        waldur.delay = 6.0  # longer than Herald waits for Waldur (3 s)
    started = time.monotonic()
    answer = _get(herald_url, "w-staff")
    assert answer.status_code == 503, answer.text
    assert "Waldur, which checks this token, cannot be reached" in answer.json()["detail"]
    assert answer.headers["Retry-After"] == "30"
    assert time.monotonic() - started < 6.0
    if trouble == "slow":
        waldur.delay = 0.0


def test_a_recent_answer_serves_while_waldur_is_down_and_a_revoked_token_stops(
    db: Database, database_url: str, waldur: FakeWaldur
) -> None:
    server = _server(database_url, waldur, waldur_auth_cache=0)  # ask Waldur every time
    try:
        assert _get(server.url, "w-staff").status_code == 200
        waldur.failures = [500]
        assert _get(server.url, "w-staff").status_code == 200  # its answer a moment ago
        del waldur.user_tokens["w-staff"]  # revoked in Waldur
        assert _get(server.url, "w-staff").status_code == 401
        waldur.failures = [500]
        assert _get(server.url, "w-staff").status_code == 503  # nothing cached any more
    finally:
        server.stop()


def test_waldur_auth_without_a_waldur_url_stops_the_start(database_url: str) -> None:
    from tests.cli import herald

    started = herald(database_url, "worker", env={"HERALD_WALDUR_AUTH": "true"})
    assert started.returncode != 0
    assert "HERALD_WALDUR_AUTH is on but HERALD_WALDUR_URL is not set" in started.stderr


@pytest.mark.parametrize("suffix", ["/api/", "/api", "/"])
def test_waldur_url_with_or_without_api_checks_tokens_alike(
    db: Database, database_url: str, waldur: FakeWaldur, suffix: str
) -> None:
    """SPEC 5.1: HERALD_WALDUR_URL with or without `/api/`, as the sync reads it (a
    URL ending in /api/ asked /api/api/users/me/, and every Waldur token was refused)."""
    settings = Settings(database_url=database_url, waldur_url=waldur.url + suffix, waldur_auth=True)
    server = LiveServer(settings)
    server.url = server.start()
    try:
        assert _get(server.url, "w-staff").status_code == 200
        assert _asked(waldur) == 1
        assert all(not path.startswith("/api/api/") for path, _ in waldur.requests)
    finally:
        server.stop()
