"""The portal's OpenID Connect provider, as Herald's console signs in through it
(SPEC 8.1): discovery, the authorization code flow with PKCE, and checking the
ID token and the back-channel logout token.

Only maintained libraries speak the protocol: Authlib's OAuth 2 client exchanges
the code (PKCE's verifier, the client's secret), joserfc checks every signature
and claim. What this module adds is the rules around them: how long the
provider may take (every call within a few seconds, so a sign-in answers 503
within 10 s), the provider's keys read again when a token names a key Herald
has not seen (the provider rotated them), and failures named for what they
are, so the sign-in page can say what happened and what to do.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from herald.core.config import Settings

with warnings.catch_warnings():
    # Authlib announces a move to another HTTP package; httpx is the one Herald uses.
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import OAuth2Client

# Each call to the provider (discovery, keys, token, userinfo) waits at most this
# long, and a sign-in makes at most three of them: a 503 within 10 s.
CALL_TIMEOUT = httpx.Timeout(3.0, connect=2.0)
DISCOVERY_FOR = 3600.0  # seconds the provider's configuration is kept
KEYS_AT_MOST_EVERY = 1.0  # seconds: an unknown key id re-reads the keys, not more often
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                      "ES512", "EdDSA")  # fmt: skip
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LEEWAY = 60  # seconds of clock difference forgiven on exp and iat


class ProviderUnreachable(Exception):
    """The provider did not answer, or not in time, or not as a provider does (503)."""


class ProviderRefused(Exception):
    """The provider answered with an error of its own (a used code, access_denied)."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


class TokenInvalid(Exception):
    """A token that does not verify: signature, issuer, audience, expiry, nonce, events."""


@dataclass(frozen=True)
class Start:
    """What a sign-in keeps until the provider sends the browser back."""

    url: str  # where to send the browser
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in."""

    claims: Mapping[str, Any]  # the ID token's (and, for missing ones, userinfo's)
    id_token: str
    sid: str | None
    sub: str


class OidcClient:
    """One per process: the provider's configuration and keys cached, read again
    when stale or when a token names an unknown key."""

    def __init__(self, settings: Settings) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.client_secret = settings.oidc_client_secret or None
        self.scopes = settings.oidc_scopes
        self.user_claim = settings.oidc_user_claim
        self.label = settings.oidc_label
        self._http = httpx.Client(timeout=CALL_TIMEOUT, follow_redirects=False)
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0

    def close(self) -> None:
        self._http.close()

    # --- what the provider publishes ---------------------------------------------

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            answer = self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise ProviderUnreachable(f"its {what} did not answer ({type(exc).__name__})") from exc
        if answer.status_code != 200:
            raise ProviderUnreachable(f"its {what} answered {answer.status_code}")
        try:
            found = answer.json()
        except ValueError as exc:
            raise ProviderUnreachable(f"its {what} is not JSON") from exc
        if not isinstance(found, dict):
            raise ProviderUnreachable(f"its {what} is not a JSON object")
        return found

    def metadata(self) -> dict[str, Any]:
        """The provider's configuration (`/.well-known/openid-configuration`)."""
        with self._lock:
            if self._metadata is not None and time.monotonic() - self._metadata_at < DISCOVERY_FOR:
                return self._metadata
        found = self._get_json(f"{self.issuer}/.well-known/openid-configuration", "configuration")
        if str(found.get("issuer", "")).rstrip("/") != self.issuer:
            raise ProviderUnreachable(
                f"its configuration names the issuer {found.get('issuer')!r}, not {self.issuer!r}"
            )
        for needed in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(found.get(needed), str):
                raise ProviderUnreachable(f"its configuration has no {needed}")
        with self._lock:
            self._metadata, self._metadata_at = found, time.monotonic()
        return found

    def _key_set(self, refresh: bool) -> KeySet:
        with self._lock:
            fresh = time.monotonic() - self._keys_at < KEYS_AT_MOST_EVERY
            if self._keys is not None and (not refresh or fresh):
                return self._keys
        published = self._get_json(self.metadata()["jwks_uri"], "keys")
        try:
            keys = KeySet.import_key_set(published)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise ProviderUnreachable(f"its keys cannot be read ({exc})") from exc
        with self._lock:
            self._keys, self._keys_at = keys, time.monotonic()
        return keys

    def _decode(self, token: str) -> jwt.Token:
        """The token's claims once its signature holds under the provider's keys; a key
        id Herald has not seen makes it read the keys again (the provider rotated them)."""
        for refresh in (False, True):
            try:
                return jwt.decode(token, self._key_set(refresh), algorithms=SIGNING_ALGORITHMS)
            except InvalidKeyIdError:
                if refresh:
                    raise TokenInvalid(
                        "it is signed with a key the provider does not publish"
                    ) from None
            except JoseError as exc:
                raise TokenInvalid(f"its signature does not hold ({exc.error})") from exc
            except ValueError as exc:
                raise TokenInvalid(f"it is not a signed token ({exc})") from exc
        raise TokenInvalid("unreachable")  # pragma: no cover

    # --- the code flow -----------------------------------------------------------------

    def start(self, redirect_uri: str) -> Start:
        """A fresh state, nonce and PKCE verifier, and the authorization URL with them."""
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        endpoint = self.metadata()["authorization_endpoint"]
        glue = "&" if "?" in endpoint else "?"
        return Start(f"{endpoint}{glue}{urlencode(query)}", state, nonce, verifier)

    def finish(self, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> Identity:
        """Exchange the code (once: the provider refuses it a second time) and check
        the ID token: signature, `iss`, `aud`, `exp`, `nonce`."""
        metadata = self.metadata()
        client = OAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none",
            timeout=CALL_TIMEOUT,
        )
        try:
            tokens = client.fetch_token(
                metadata["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                redirect_uri=redirect_uri,
                code_verifier=code_verifier,
            )
        except httpx.HTTPError as exc:
            raise ProviderUnreachable(
                f"its token endpoint did not answer ({type(exc).__name__})"
            ) from exc
        except AuthlibBaseError as exc:
            raise ProviderRefused(exc.error or "error", exc.description or "") from exc
        except ValueError as exc:  # an answer that is not JSON
            raise ProviderUnreachable("its token endpoint answered something else") from exc
        finally:
            client.close()
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise TokenInvalid("the provider sent no ID token (is the openid scope allowed?)")
        claims = self._check(
            self._decode(id_token).claims, nonce=nonce, what="ID token", expiring=True
        )
        if self.user_claim not in claims and metadata.get("userinfo_endpoint"):
            claims = {**self._userinfo(metadata, tokens.get("access_token"), claims), **claims}
        sid = claims.get("sid")
        return Identity(claims, id_token, sid if isinstance(sid, str) else None, claims["sub"])

    def _userinfo(
        self, metadata: Mapping[str, Any], access_token: Any, claims: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Claims the ID token left out (a provider that keeps them to userinfo)."""
        if not isinstance(access_token, str):
            return {}
        try:
            answer = self._http.get(
                metadata["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"}
            )
        except httpx.HTTPError as exc:
            raise ProviderUnreachable(
                f"its userinfo did not answer ({type(exc).__name__})"
            ) from exc
        if answer.status_code != 200:
            return {}
        try:
            found = answer.json()
        except ValueError:
            return {}
        # Userinfo speaks of the same person or of nobody (OpenID Connect Core 5.3.2).
        if not isinstance(found, dict) or found.get("sub") != claims.get("sub"):
            return {}
        return found

    def _check(
        self, claims: Mapping[str, Any], *, nonce: str | None, what: str, expiring: bool
    ) -> dict[str, Any]:
        requests: dict[str, Any] = {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": self.client_id},
            "iat": {"essential": True},
        }
        if expiring:
            requests["exp"] = {"essential": True}
        if nonce is not None:
            requests["nonce"] = {"essential": True, "value": nonce}
        # Issuers compare exactly; a trailing slash in the setting is forgiven.
        found = dict(claims)
        if isinstance(found.get("iss"), str):
            found["iss"] = found["iss"].rstrip("/")
        try:
            jwt.JWTClaimsRegistry(leeway=LEEWAY, **requests).validate(found)
        except JoseError as exc:
            raise TokenInvalid(f"the {what} does not hold: {exc.description or exc.error}") from exc
        if not isinstance(found.get("sub"), str) and what == "ID token":
            raise TokenInvalid("the ID token names no subject")
        return found

    def logout_url(self, id_token: str, post_logout_redirect_uri: str) -> str | None:
        """Where the browser signs out of the provider too (RP-Initiated Logout), or
        None when the provider has no end-session endpoint."""
        endpoint = self.metadata().get("end_session_endpoint")
        if not isinstance(endpoint, str):
            return None
        query = {
            "id_token_hint": id_token,
            "post_logout_redirect_uri": post_logout_redirect_uri,
            "client_id": self.client_id,
        }
        glue = "&" if "?" in endpoint else "?"
        return f"{endpoint}{glue}{urlencode(query)}"

    # --- back-channel logout ----------------------------------------------------------

    def logout_subject(self, logout_token: str) -> tuple[str | None, str | None]:
        """(sid, sub) of a verified back-channel logout token (OpenID Connect
        Back-Channel Logout 1.0, 2.6): signed by the provider, for Herald, with the
        logout event, a `sid` or a `sub`, and no `nonce`. Raises TokenInvalid."""
        claims = self._check(
            self._decode(logout_token).claims, nonce=None, what="logout token", expiring=False
        )
        events = claims.get("events")
        if not isinstance(events, dict) or BACKCHANNEL_EVENT not in events:
            raise TokenInvalid("the logout token carries no back-channel logout event")
        if "nonce" in claims:
            raise TokenInvalid("a logout token may not carry a nonce")
        sid, sub = claims.get("sid"), claims.get("sub")
        sid = sid if isinstance(sid, str) and sid else None
        sub = sub if isinstance(sub, str) and sub else None
        if sid is None and sub is None:
            raise TokenInvalid("the logout token names neither a session (sid) nor a subject")
        return sid, sub
