"""The provider down, silent or wrongly configured (SPEC 8.1): a 503 page within 10 s,
never a 500, and a start that a provider's absence does not stop."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from herald.core.db import Database
from herald.entry.preflight import ConfigurationError, check_configuration
from tests.cli import herald
from tests.conftest import LiveServer
from tests.oidc.browser import HttpBrowser
from tests.oidc.conftest import directory, herald_settings
from tests.oidc.provider import OidcProvider
from tests.smtp_sink import free_port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung provider)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)
    yield int(listener.getsockname()[1])
    listener.close()


def _start(database_url: str, issuer: str) -> LiveServer:
    server = LiveServer(herald_settings(database_url, issuer))
    server.url = server.start()
    return server


def test_a_provider_down_from_the_start_is_a_503_then_sign_in_works_when_it_is_back(
    db: Database, database_url: str
) -> None:
    directory(db)
    port = free_port()
    server = _start(database_url, f"http://127.0.0.1:{port}")  # Herald starts all the same
    browser = HttpBrowser()
    try:
        started = time.monotonic()
        answer = browser.http.get(f"{server.url}/api/session/oidc/?next=/x")
        assert time.monotonic() - started < 10
        assert answer.status_code == 503
        assert "The sign-in service cannot be reached; try again shortly." in answer.text
        assert "/api/session/oidc/?next=%2Fx" in answer.text  # "Try again" keeps `next`
        provider = OidcProvider(server.url, port).start()
        try:
            page = browser.go(f"{server.url}/api/session/oidc/")
            page = browser.submit(page, {"login": "ada-sub", "password": "any"})
            if 'value="consent"' in page.text:
                page = browser.submit(page)
            assert page.status_code == 200 and str(page.url) == f"{server.url}/"
        finally:
            provider.stop()
    finally:
        browser.close()
        server.stop()


def test_a_provider_that_never_answers_is_a_503_within_10_seconds(
    db: Database, database_url: str, silent_port: int
) -> None:
    server = _start(database_url, f"http://127.0.0.1:{silent_port}")
    try:
        started = time.monotonic()
        answer = httpx.get(f"{server.url}/api/session/oidc/", timeout=30)
        took = time.monotonic() - started
        assert answer.status_code == 503 and took < 10, took
        assert "cannot be reached" in answer.text
        # The console's sign-in screen still offers both ways in.
        options = httpx.get(f"{server.url}/api/session/sign-in-options/").json()
        assert options["oidc"]["label"] == "Sign in with your organisation" and options["token"]
    finally:
        server.stop()


def test_without_a_provider_the_oidc_routes_are_404_and_the_button_absent(
    server_url: str, db: Database
) -> None:
    assert httpx.get(f"{server_url}/api/session/oidc/").status_code == 404
    assert httpx.get(f"{server_url}/api/session/sign-in-options/").json() == {
        "oidc": None,
        "token": True,
    }


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"HERALD_OIDC_ISSUER": "https://id.example.org"}, "HERALD_OIDC_CLIENT_ID is not"),
        ({"HERALD_OIDC_CLIENT_ID": "herald"}, "HERALD_OIDC_ISSUER is not"),
        ({"HERALD_OIDC_ISSUER": "id.example.org", "HERALD_OIDC_CLIENT_ID": "h"}, "is not a URL"),
        ({"HERALD_OIDC_ISSUER": "https://id.example.org", "HERALD_OIDC_CLIENT_ID": "h",
          "HERALD_OIDC_SCOPES": "email"}, "lacks openid"),
        ({"HERALD_OIDC_ISSUER": "https://id.example.org", "HERALD_OIDC_CLIENT_ID": "h",
          "HERALD_OIDC_USER_FIELD": "nickname"}, "HERALD_OIDC_USER_FIELD"),
    ],
)  # fmt: skip
def test_settings_that_cannot_work_stop_the_start_with_one_line(
    database_url: str, settings: dict[str, str], words: str
) -> None:
    started = herald(database_url, "worker", env=settings)
    assert started.returncode == 2
    assert words in started.stderr and len(started.stderr.strip().splitlines()) == 1


def test_an_issuer_that_does_not_answer_does_not_stop_the_start(database_url: str) -> None:
    settings = herald_settings(database_url, f"http://127.0.0.1:{free_port()}")
    try:
        check_configuration(settings)
    except ConfigurationError as exc:  # pragma: no cover - the failure being tested
        pytest.fail(f"refused: {exc}")
