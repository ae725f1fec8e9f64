"""Leaving (SPEC 8.1): signing out of Herald signs out of the provider too, and the
provider's back-channel logout ends Herald's sessions; a forged logout token ends
nothing."""

from __future__ import annotations

import time
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.delivery.helpers import wait_for
from tests.oidc.browser import HttpBrowser
from tests.oidc.conftest import SignInWorld
from tests.oidc.provider import CLIENT_ID

BACKCHANNEL = "http://schemas.openid.net/event/backchannel-logout"


def _signed_in(world: SignInWorld, browser: HttpBrowser) -> dict[str, Any]:
    assert world.sign_in(browser, "ada-sub").status_code == 200
    me = browser.http.get(f"{world.herald}/api/session/")
    assert me.status_code == 200
    return dict(me.json())


def _logout_token(world: SignInWorld, key: RSAKey, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": world.provider.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 60,
            "jti": "x", "events": {BACKCHANNEL: {}}, "sub": "ada-sub", **claims}  # fmt: skip
    return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)


def _post_logout(world: SignInWorld, token: str) -> httpx.Response:
    return httpx.post(
        f"{world.herald}/api/session/oidc/backchannel-logout/", data={"logout_token": token}
    )


def test_signing_out_at_the_provider_ends_the_herald_session(
    world: SignInWorld, browser: HttpBrowser
) -> None:
    """The person leaves at the provider (another application's sign-out, the
    provider's own page): its back-channel logout reaches Herald."""
    _signed_in(world, browser)
    page = browser.go(f"{world.provider.issuer}/session/end")
    assert "Do you want to sign-out" in page.text, page.text[:300]
    browser.submit(page, {"logout": "yes"})
    wait_for(
        lambda: browser.http.get(f"{world.herald}/api/session/").status_code == 401,
        10,
        "the back-channel logout to end the session",
    )
    assert browser.http.get(f"{world.herald}/api/broadcast-messages/").status_code == 401


def test_signing_out_of_herald_goes_to_the_provider_and_back(
    world: SignInWorld, browser: HttpBrowser
) -> None:
    me = _signed_in(world, browser)
    closed = browser.http.delete(
        f"{world.herald}/api/session/", headers={"Sec-Fetch-Site": "same-origin"}
    )
    assert closed.status_code == 204
    assert browser.http.get(f"{world.herald}/api/session/").status_code == 401
    page = browser.go(me["logout_url"])  # what the console does next
    assert "Do you want to sign-out" in page.text
    back = browser.submit(page, {"logout": "yes"})
    assert str(back.url) == f"{world.herald}/"  # post_logout_redirect_uri
    # Signed out at the provider too: the next sign-in asks for the login again.
    again = browser.go(f"{world.herald}/api/session/oidc/")
    assert 'name="prompt" value="login"' in again.text
    trail = httpx.get(
        f"{world.herald}/api/audit/",
        params={"action": "session.sign-out"},
        headers={"Authorization": f"Token {_staff_token(world)}"},
    ).json()
    assert [e["detail"]["method"] for e in trail] == ["oidc"]


def _staff_token(world: SignInWorld) -> str:
    from herald.auth.tokens import create_token
    from herald.directory.repository import find_user_by_email

    with world.db.transaction() as session:
        user = find_user_by_email(session, "ada@herald.example")
        assert user is not None
        return create_token(session, user)


def test_a_forged_logout_token_is_a_400_and_ends_nothing(
    world: SignInWorld, browser: HttpBrowser
) -> None:
    _signed_in(world, browser)
    provider_kid = world.provider.keys[0]["kid"]
    forger = RSAKey.generate_key(2048, parameters={"kid": provider_kid})
    answers = [
        _post_logout(world, _logout_token(world, forger)),  # not the provider's key
        _post_logout(world, "not.a.token"),
        httpx.post(f"{world.herald}/api/session/oidc/backchannel-logout/", data={}),
    ]
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "invalid_request"
    assert browser.http.get(f"{world.herald}/api/session/").status_code == 200


def test_a_logout_token_must_be_one(world: SignInWorld, browser: HttpBrowser) -> None:
    """Signed by the provider's own key, but not a logout token: refused."""
    _signed_in(world, browser)
    key = RSAKey.import_key(world.provider.keys[0])
    wrong = [
        _logout_token(world, key, events={}),  # no back-channel event
        _logout_token(world, key, nonce="n"),  # a nonce: an ID token passed off
        _logout_token(world, key, aud="someone-else"),
        _logout_token(world, key, iss="http://127.0.0.1:1"),
        _logout_token(world, key, sub=None),  # neither sid nor sub
    ]
    for token in wrong:
        assert _post_logout(world, token).status_code == 400
    assert browser.http.get(f"{world.herald}/api/session/").status_code == 200
    # The provider's key and a proper token: the subject's sessions end.
    ended = _post_logout(world, _logout_token(world, key))
    assert ended.status_code == 200
    assert browser.http.get(f"{world.herald}/api/session/").status_code == 401
