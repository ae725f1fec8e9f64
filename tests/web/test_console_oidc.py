"""The console's "Sign in with your organisation" in Chromium, against a real OpenID
provider (panva's oidc-provider, its own forms): in, out through the provider, and
a refusal shown as a page of the console (SPEC 8.1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from herald.core.db import Database
from tests.conftest import LiveServer
from tests.oidc.conftest import SignInWorld, directory, herald_settings
from tests.oidc.provider import OidcProvider
from tests.smtp_sink import free_port
from tests.web.conftest import _page, _shoot


@pytest.fixture
def world(db: Database, database_url: str) -> Iterator[SignInWorld]:
    if not database_url.startswith("sqlite"):
        pytest.skip("the console only talks to the API, which is tested on both databases")
    directory(db)
    port = free_port()
    server = LiveServer(herald_settings(database_url, f"http://127.0.0.1:{port}"))
    server.url = server.start()
    provider = OidcProvider(server.url, port).start()
    yield SignInWorld(server.url, provider, server, db)
    provider.stop()
    server.stop()


def _local_only(page: Page) -> None:
    """The provider's pages ask for a web font; this machine has no Internet."""

    def route(r: Route) -> None:
        if r.request.url.startswith("http://127.0.0.1"):
            r.continue_()
        else:
            r.abort()

    page.route("**/*", route)


def _through_the_provider(page: Page, login: str) -> None:
    page.get_by_role("link", name="Sign in with your organisation").click()
    page.locator('input[name="login"]').fill(login)
    page.locator('input[name="password"]').fill("any")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def test_sign_in_with_the_organisation_and_out_again(world: SignInWorld, browser: Browser) -> None:
    page = _page(browser, 1280)
    _local_only(page)
    page.goto(f"{world.herald}/#/templates")
    # The provider's button comes first; the token form stays, for operators.
    provider = page.get_by_role("link", name="Sign in with your organisation")
    expect(provider).to_be_visible()
    expect(page.get_by_label("API token")).to_be_visible()
    assert provider.bounding_box()["y"] < page.get_by_label("API token").bounding_box()["y"]  # type: ignore[index]
    _shoot(page, "sign-in-oidc-1280")
    _through_the_provider(page, "ada-sub")
    # Back where the address pointed, signed in.
    expect(page.get_by_role("heading", name="Templates")).to_be_visible()
    assert page.url == f"{world.herald}/#/templates"
    page.get_by_role("button", name="Sign out").click()
    # Out of the provider too: its own question, then back to Herald's sign-in.
    page.get_by_role("button", name="Yes, sign me out").click()
    expect(page.get_by_role("link", name="Sign in with your organisation")).to_be_visible()
    assert page.url.startswith(f"{world.herald}/")
    page.reload()
    expect(page.get_by_role("heading", name="Sign in to Herald")).to_be_visible()


def test_a_refusal_is_a_page_of_the_console_with_a_way_back(
    world: SignInWorld, browser: Browser
) -> None:
    page = _page(browser, 1280)
    _local_only(page)
    page.goto(f"{world.herald}/")
    _through_the_provider(page, "uma-sub")
    expect(page.get_by_role("heading", name="Your account may not use Herald")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("neither staff nor support")
    _shoot(page, "sign-in-oidc-refused-1280")
    page.get_by_role("link", name="Back to the sign-in page").click()
    expect(page.get_by_role("heading", name="Sign in to Herald")).to_be_visible()
