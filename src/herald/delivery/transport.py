"""Where mail goes: an SMTP server (pooled connections) or a directory of .eml files.

HERALD_SMTP_URL picks one: `smtp://[user:pass@]host:port` (`?starttls=1` to
upgrade), `smtps://...` for implicit TLS, or `file://DIR`; `&cafile=PATH`
trusts a private CA. A user or password with special characters is
percent-encoded in the URL (`p@ss:w/rd` as `p%40ss%3Aw%2Frd`).
"""

from __future__ import annotations

import asyncio
import functools
import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib


class DeliveryError(Exception):
    """A mail that was not accepted. Permanent ones are not tried again."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Transport(Protocol):
    async def send(self, sender: str, recipient: str, data: bytes, name: str) -> str:
        """Hand one mail over; returns the receiving side's reply."""
        ...

    async def close(self) -> None: ...


class FileTransport:
    """Each mail an .eml file named after its delivery, written atomically, so
    a mail written again replaces its file instead of adding a second one."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def send(self, sender: str, recipient: str, data: bytes, name: str) -> str:
        path = self.directory / f"{name}.eml"
        await asyncio.to_thread(self._write, path, data)
        return f"written to {path}"

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)

    async def close(self) -> None:
        return None


def _classify(exc: Exception) -> DeliveryError:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    if isinstance(
        exc,
        aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPSenderRefused | aiosmtplib.SMTPDataError,
    ):
        # 5xx about this mail is final; 4xx (greylisting, full mailbox, rate limits) is not.
        return DeliveryError(f"{exc.code} {exc.message}", permanent=exc.code >= 500)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        # Refusals of the session itself (greeting, HELO, AUTH) are about the
        # relay's set-up, not this recipient: try again later.
        return DeliveryError(f"{exc.code} {exc.message}", permanent=False)
    return DeliveryError(f"{type(exc).__name__}: {exc}".strip(), permanent=False)


class SmtpTransport:
    """A small pool of reused SMTP connections, one per concurrent send."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        use_tls: bool = False,
        start_tls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        size: int = 10,
        cafile: str | None = None,
    ) -> None:
        # The one place a client is made: a fresh one per connection in doubt.
        self._new_client = functools.partial(
            aiosmtplib.SMTP,
            hostname=host,
            port=port,
            use_tls=use_tls,
            start_tls=start_tls,
            username=username,
            password=password,
            timeout=timeout,
            # The relay's certificate is always checked; `cafile` trusts a
            # private CA (or a self-signed relay) besides the system's.
            cert_bundle=cafile,
        )
        self._idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
        for _ in range(size):
            self._idle.put_nowait(self._new_client())

    async def send(self, sender: str, recipient: str, data: bytes, name: str) -> str:
        client = await self._idle.get()
        try:
            if not client.is_connected:
                await client.connect()
            _errors, reply = await client.sendmail(sender, [recipient], data)
            return reply
        except Exception as exc:  # every failure becomes a DeliveryError
            error = _classify(exc)
            if not isinstance(
                exc, aiosmtplib.SMTPResponseException | aiosmtplib.SMTPRecipientsRefused
            ):
                # The connection is in doubt: start the next mail on a fresh one.
                client.close()
                client = self._new_client()
            raise error from exc
        finally:
            self._idle.put_nowait(client)

    async def close(self) -> None:
        while not self._idle.empty():
            client = self._idle.get_nowait()
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()


def transport_from_url(url: str, *, timeout: float = 30.0, size: int = 10) -> Transport:
    parts = urlsplit(url)
    if parts.scheme == "file":
        return FileTransport(Path(unquote(parts.netloc + parts.path)))
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(
            f"unknown scheme {parts.scheme!r}; write smtp://host:port, smtps://host:port "
            "or file://DIRECTORY"
        )
    query = parse_qs(parts.query)
    implicit_tls = parts.scheme == "smtps"
    start_tls = query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes")
    cafile = query.get("cafile", [None])[0]
    if cafile is not None and not Path(cafile).is_file():
        raise ValueError(f"cafile {cafile!r} is not a readable file")
    return SmtpTransport(
        parts.hostname or "localhost",
        parts.port or (465 if implicit_tls else 25),
        use_tls=implicit_tls,
        start_tls=start_tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        timeout=timeout,
        size=size,
        cafile=cafile,
    )
