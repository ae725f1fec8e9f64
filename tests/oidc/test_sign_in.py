"""Signing in to the console through the portal's OpenID provider (SPEC 8.1), against
panva's oidc-provider: its own login and consent forms, real redirects, real tokens."""

from __future__ import annotations

import time
from typing import Any

import httpx
from sqlalchemy import text

from tests.oidc.browser import HttpBrowser
from tests.oidc.conftest import SignInWorld

URL = "/api/broadcast-messages/"


def _sessions(world: SignInWorld) -> int:
    with world.db.transaction(write=False) as session:
        return int(session.execute(text("SELECT count(*) FROM console_sessions")).scalar_one())


def _me(world: SignInWorld, browser: HttpBrowser) -> httpx.Response:
    return browser.http.get(f"{world.herald}/api/session/")


def test_staff_sign_in_through_the_provider_and_land_where_they_were_going(
    world: SignInWorld, browser: HttpBrowser
) -> None:
    landed = world.sign_in(browser, "ada-sub", next_url="/%23/templates")
    assert landed.status_code == 200 and str(landed.url) == f"{world.herald}/#/templates"
    callback = next(r for r in browser.history if "/oidc/callback/" in str(r.url))
    cookie = callback.headers.get_list("set-cookie")
    assert any(c.startswith("herald_session=") and "HttpOnly" in c and "SameSite=strict" in c
               for c in cookie)  # fmt: skip
    me = _me(world, browser)
    assert me.status_code == 200, me.text
    body: dict[str, Any] = me.json()
    assert body["user"]["email"] == "ada@herald.example" and body["method"] == "oidc"
    assert body["logout_url"].startswith(f"{world.provider.issuer}/session/end?")
    assert "id_token_hint=" in body["logout_url"]
    assert "post_logout_redirect_uri=" in body["logout_url"]
    # The session of SPEC 8: reads by cookie, changes with the CSRF token.
    assert browser.http.get(f"{world.herald}{URL}").status_code == 200
    made = browser.http.post(
        f"{world.herald}{URL}", json={"subject": "s", "body": "b"},
        headers={"X-CSRF-Token": body["csrf_token"], "Sec-Fetch-Site": "same-origin"},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    trail = browser.http.get(f"{world.herald}/api/audit/", params={"action": "session.sign-in"})
    assert [(e["user"]["email"], e["detail"]["method"]) for e in trail.json()] == [
        ("ada@herald.example", "oidc")
    ]


def test_next_is_a_console_path_only(world: SignInWorld, browser: HttpBrowser) -> None:
    for wanted in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        other = HttpBrowser()
        try:
            landed = world.sign_in(other, "ada-sub", next_url=wanted)
            assert str(landed.url) == f"{world.herald}/", wanted
        finally:
            other.close()


def _page_says(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    assert words in response.text, response.text[:800]
    assert "Try again" in response.text and 'href="/static/console/app.css"' in response.text
    assert "herald_session=" not in response.headers.get("set-cookie", "")


def test_a_replayed_callback_is_refused_and_opens_nothing(
    world: SignInWorld, browser: HttpBrowser
) -> None:
    callback = world.callback_url(browser, "ada-sub")
    first = browser.go(callback)
    assert first.status_code == 200 and _sessions(world) == 1
    replayed = browser.http.get(callback)
    _page_says(replayed, 400, "This sign-in expired or was started in another browser")
    assert _sessions(world) == 1


def test_a_tampered_state_is_refused(world: SignInWorld, browser: HttpBrowser) -> None:
    callback = world.callback_url(browser, "ada-sub")
    tampered = callback.replace("state=", "state=x")
    _page_says(browser.http.get(tampered), 400, "expired or was started in another browser")
    assert _sessions(world) == 0


def test_a_callback_from_another_browser_is_refused_and_spoils_nothing(
    world: SignInWorld, browser: HttpBrowser
) -> None:
    callback = world.callback_url(browser, "ada-sub")
    other = HttpBrowser()
    try:
        _page_says(other.http.get(callback), 400, "started in another browser")
    finally:
        other.close()
    assert _sessions(world) == 0
    assert browser.go(callback).status_code == 200  # the right browser still finishes
    assert _me(world, browser).json()["user"]["email"] == "ada@herald.example"


def test_saying_no_at_the_provider_is_shown(world: SignInWorld, browser: HttpBrowser) -> None:
    page = browser.go(f"{world.herald}/api/session/oidc/")
    page = browser.submit(page, {"login": "ada-sub", "password": "any"})
    abort = page.text.split('href="')[1].split('"')[0]  # the consent page's "[ Cancel ]"
    assert "/abort" in abort
    answer = browser.go(httpx.URL(str(page.url)).join(abort.replace("&amp;", "&")).__str__())
    _page_says(answer, 403, "access_denied")
    assert "You did not allow Herald to sign you in" in answer.text
    assert _sessions(world) == 0


def test_an_unknown_user_is_told_the_claim_and_value_to_give_support(
    world: SignInWorld, browser: HttpBrowser
) -> None:
    answer = world.sign_in(browser, "ghost-sub")
    _page_says(answer, 403, "preferred_username “ghost”")
    assert "Tell support" in answer.text and _sessions(world) == 0


def test_a_user_who_is_neither_staff_nor_support_may_not(
    world: SignInWorld, browser: HttpBrowser
) -> None:
    answer = world.sign_in(browser, "uma-sub")
    _page_says(answer, 403, "neither staff nor support")
    assert _sessions(world) == 0
    support = HttpBrowser()
    try:
        assert world.sign_in(support, "sam-sub").status_code == 200  # support may
    finally:
        support.close()


def test_a_rotated_key_is_read_again(world: SignInWorld, browser: HttpBrowser) -> None:
    assert world.sign_in(browser, "ada-sub").status_code == 200  # Herald has the old key
    world.provider.rotate_keys()
    time.sleep(1)  # Herald re-reads keys at most once a second (KEYS_AT_MOST_EVERY)
    again = HttpBrowser()
    try:
        landed = world.sign_in(again, "ada-sub")
        assert landed.status_code == 200, landed.text[:500]
        assert _me(world, again).json()["method"] == "oidc"
    finally:
        again.close()


def test_the_provider_stopped_mid_sign_in_is_a_503_in_time_then_it_works_again(
    world: SignInWorld, browser: HttpBrowser
) -> None:
    callback = world.callback_url(browser, "ada-sub")
    world.provider.stop()
    started = time.monotonic()
    answer = browser.http.get(callback)
    assert time.monotonic() - started < 10
    _page_says(answer, 503, "The sign-in service cannot be reached; try again shortly.")
    world.provider.start()
    again = HttpBrowser()
    try:
        assert world.sign_in(again, "ada-sub").status_code == 200
    finally:
        again.close()
