"""Herald with sign-in through a real OpenID provider (panva's oidc-provider), both
started by the test on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from herald.core.config import Settings
from herald.core.db import Database
from tests.conftest import LiveServer, load_directory
from tests.factories import DirectoryBuilder
from tests.oidc.browser import HttpBrowser
from tests.oidc.provider import CLIENT_ID, CLIENT_SECRET, OidcProvider
from tests.smtp_sink import free_port


@dataclass
class SignInWorld:
    herald: str  # Herald's base URL
    provider: OidcProvider
    server: LiveServer
    db: Database

    def sign_in(self, browser: HttpBrowser, login: str, next_url: str = "/") -> Any:
        """Through the provider's own login and consent forms; the last answer."""
        page = browser.go(f"{self.herald}/api/session/oidc/?next={next_url}")
        assert 'name="prompt" value="login"' in page.text, page.text[:300]
        page = browser.submit(page, {"login": login, "password": "any"})
        if 'name="prompt" value="consent"' in page.text:
            page = browser.submit(page)
        return page

    def callback_url(self, browser: HttpBrowser, login: str) -> str:
        """Sign in up to the provider's redirect back to Herald; its URL, not loaded."""
        callback = f"{self.herald}/api/session/oidc/callback/"
        page = browser.go(f"{self.herald}/api/session/oidc/")
        page = browser.submit(page, {"login": login, "password": "any"}, stop_at=callback)
        if page.status_code == 200:
            page = browser.submit(page, stop_at=callback)
        location = page.headers["location"]
        assert location.startswith(callback), location
        return str(location)


def directory(db: Database) -> None:
    d = DirectoryBuilder()
    d.user("ada", "ada@herald.example", full_name="Ada Staff", staff=True)
    d.user("sam", "sam@herald.example", full_name="Sam Support", support=True)
    d.user("uma", "uma@herald.example", full_name="Uma User")
    load_directory(db, d.doc)


def herald_settings(database_url: str, issuer: str, **extra: Any) -> Settings:
    return Settings(
        database_url=database_url,
        oidc_issuer=issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_user_claim="preferred_username",
        **extra,
    )


@pytest.fixture
def world(db: Database, database_url: str) -> Iterator[SignInWorld]:
    directory(db)
    port = free_port()
    server = LiveServer(herald_settings(database_url, f"http://127.0.0.1:{port}"))
    server.url = server.start()
    provider = OidcProvider(server.url, port).start()
    yield SignInWorld(server.url, provider, server, db)
    provider.stop()
    server.stop()


@pytest.fixture
def browser() -> Iterator[HttpBrowser]:
    client = HttpBrowser()
    yield client
    client.close()
