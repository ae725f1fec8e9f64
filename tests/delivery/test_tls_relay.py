"""A relay as production has one: STARTTLS or implicit TLS with a certificate, and AUTH
with a password that needs percent-encoding in HERALD_SMTP_URL (README, docs/operations.md).

aiosmtpd serves TLS with a self-signed certificate made for the test by openssl;
Herald trusts it through `cafile=` and still checks it (a wrong name fails)."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from herald.delivery.transport import DeliveryError, transport_from_url
from tests.smtp_sink import free_port

USER, PASSWORD = "herald", "p@ss:w/rd %20!"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "relay.pem", folder / "relay.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


class _Handler:
    def __init__(self) -> None:
        self.received: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received.append((session.authenticated and session.auth_data.login.decode(),
                              list(envelope.rcpt_tos)))  # fmt: skip
        return "250 2.0.0 Ok: queued"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


def _context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return context


@pytest.fixture(params=["starttls", "implicit"])
def relay(
    request: pytest.FixtureRequest, certificate: tuple[Path, Path]
) -> Iterator[dict[str, Any]]:
    cert, key = certificate
    handler = _Handler()
    port = free_port()
    options: dict[str, Any] = {
        "authenticator": _authenticator,
        "auth_require_tls": True,
    }
    if request.param == "starttls":
        options.update(tls_context=_context(cert, key), require_starttls=True)
        scheme, query = "smtp", "starttls=1&"
    else:
        # The whole session is TLS; aiosmtpd cannot tell, so it must not insist on STARTTLS.
        options.update(ssl_context=_context(cert, key), auth_require_tls=False)
        scheme, query = "smtps", ""
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    secret = quote(PASSWORD, safe="")
    yield {
        "url": f"{scheme}://{USER}:{secret}@localhost:{port}?{query}cafile={cert}",
        "handler": handler,
        "port": port,
        "scheme": scheme,
        "query": query,
        "cert": cert,
    }
    controller.stop()


def _send(url: str) -> str:
    async def run() -> str:
        transport = transport_from_url(url, timeout=10, size=1)
        try:
            return await transport.send(
                "herald@portal.example", "ada@uni.example", b"Subject: x\r\n\r\nhi\r\n", "t"
            )
        finally:
            await transport.close()

    return asyncio.run(run())


def test_tls_and_auth_with_a_percent_encoded_password(relay: dict[str, Any]) -> None:
    reply = _send(relay["url"])
    assert reply.startswith("2.0.0 Ok") or "Ok" in reply
    assert relay["handler"].received == [(USER, ["ada@uni.example"])]


def test_a_wrong_password_is_a_temporary_failure_with_the_reply(relay: dict[str, Any]) -> None:
    url = relay["url"].replace(quote(PASSWORD, safe=""), "wrong")
    with pytest.raises(DeliveryError) as caught:
        _send(url)
    assert not caught.value.permanent and "535" in caught.value.reason
    assert relay["handler"].received == []


def test_an_untrusted_certificate_is_refused(relay: dict[str, Any]) -> None:
    """Without cafile the self-signed certificate is not trusted: nothing is sent in clear."""
    url = relay["url"].split("cafile=")[0].rstrip("?&")
    with pytest.raises(DeliveryError) as caught:
        _send(url)
    assert (
        "CERTIFICATE_VERIFY_FAILED" in caught.value.reason
        or "certificate" in caught.value.reason.lower()
    )
    assert relay["handler"].received == []
