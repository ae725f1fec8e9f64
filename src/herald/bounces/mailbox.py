"""The bounce mailbox, over IMAP (SPEC 4.2), with the standard `imaplib`.

`HERALD_BOUNCE_IMAP_URL` names it: `imaps://user:password@host[:port]/FOLDER`
(TLS), `imap://…?starttls=1` (STARTTLS), plain `imap://…` (a trusted network);
`&cafile=PATH` trusts a private CA; a user or password with special
characters is percent-encoded, as in HERALD_SMTP_URL. The server's
certificate is always checked.

Only ever three things are done to a mailbox: messages are read without
marking them (`BODY.PEEK`), at most `READ_BYTES` of each; messages Herald
has handled are moved to FOLDER's child `Processed` (created if missing); and
nothing else: nothing is deleted, flagged or moved otherwise. imaplib blocks,
so callers run it in a thread; every command has a time-out.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit

READ_BYTES = 256 * 1024  # of each message: a report's parts come before the returned original
TIMEOUT = 30.0  # seconds for connecting and for each command
_DELIMITER = re.compile(rb'\((?:[^)]*)\) (?:NIL|"((?:\\.|[^"])*)") ')
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_FETCHED_UID = re.compile(rb"UID (\d+)")


class MailboxError(Exception):
    """The mailbox cannot be read now: its text says why and what to check."""


@dataclass(frozen=True)
class MailboxAddress:
    host: str
    port: int
    user: str
    password: str
    folder: str
    tls: bool  # implicit TLS (imaps)
    starttls: bool
    cafile: str | None

    @property
    def display(self) -> str:
        """Where it is, for logs and errors (never the password)."""
        scheme = "imaps" if self.tls else "imap"
        security = " (STARTTLS)" if self.starttls else ""
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{self.folder}{security}"


def mailbox_from_url(url: str) -> MailboxAddress:
    """Parse HERALD_BOUNCE_IMAP_URL; ValueError saying what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("imap", "imaps"):
        raise ValueError(
            f"unknown scheme {parts.scheme!r}; write imaps://user:password@host/FOLDER "
            "or imap://user:password@host/FOLDER?starttls=1"
        )
    if not parts.hostname:
        raise ValueError("no host; write imaps://user:password@host/FOLDER")
    if not parts.username or parts.password is None:
        raise ValueError("no user and password; write imaps://user:password@host/FOLDER")
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes")
    cafile = query.get("cafile", [None])[0]
    if cafile is not None and not Path(cafile).is_file():
        raise ValueError(f"cafile {cafile!r} is not a readable file")
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    if not folder.isascii() or any(c in folder for c in '"\\\r\n'):
        raise ValueError(f"folder {folder!r}: use a plain ASCII folder name")
    try:
        port = parts.port or (993 if parts.scheme == "imaps" else 143)
    except ValueError as exc:
        raise ValueError(f"bad port: {exc}") from exc
    return MailboxAddress(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username),
        password=unquote(parts.password),
        folder=folder,
        tls=parts.scheme == "imaps",
        starttls=starttls,
        cafile=cafile,
    )


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _words(data: Sequence[object]) -> str:
    return " ".join(
        item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
        for item in data
        if item is not None
    )


class Mailbox:
    """One session with the bounce mailbox, FOLDER selected."""

    def __init__(self, address: MailboxAddress, timeout: float = TIMEOUT) -> None:
        self.address = address
        self.timeout = timeout
        self.uidvalidity = 0
        self._imap: imaplib.IMAP4 | None = None
        self._processed: str | None = None
        self.capabilities: set[str] = set()

    # -- session ----------------------------------------------------------------

    def __enter__(self) -> Mailbox:
        self.open()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        address = self.address
        context = ssl.create_default_context(cafile=address.cafile)
        step = "connect to"
        try:
            if address.tls:
                self._imap = imaplib.IMAP4_SSL(
                    address.host, address.port, ssl_context=context, timeout=self.timeout
                )
            else:
                self._imap = imaplib.IMAP4(address.host, address.port, timeout=self.timeout)
                if address.starttls:
                    step = "start TLS with"
                    self._imap.starttls(ssl_context=context)
            step = "log in to"
            self._imap.login(address.user, address.password)
            # What the server offers once logged in (MOVE, UIDPLUS): often more than
            # what it announced to a stranger.
            _kind, data = self._imap.capability()
            self.capabilities = set(_words(data).upper().split())
            step = "open the folder of"
            kind, data = self._imap.select(_quoted(address.folder), readonly=False)
            if kind != "OK":
                raise MailboxError(
                    f"cannot open folder {address.folder!r} of the bounce mailbox "
                    f"{address.display}: {_words(data)}"
                )
            self.uidvalidity = self._uidvalidity()
        except MailboxError:
            self.close()
            raise
        except (imaplib.IMAP4.error, OSError) as exc:
            self.close()
            hint = (
                " (check the user and password in HERALD_BOUNCE_IMAP_URL)"
                if (step == "log in to")
                else ""
            )
            raise MailboxError(
                f"cannot {step} the bounce mailbox {address.display}: "
                f"{type(exc).__name__}: {_describe(exc)}{hint}"
            ) from exc

    def close(self) -> None:
        imap, self._imap = self._imap, None
        if imap is None:
            return
        try:
            imap.logout()
        except (imaplib.IMAP4.error, OSError):
            with contextlib.suppress(OSError):
                imap.shutdown()

    @property
    def imap(self) -> imaplib.IMAP4:
        if self._imap is None:
            raise MailboxError("the bounce mailbox is not open")
        return self._imap

    def _uidvalidity(self) -> int:
        _kind, data = self.imap.response("UIDVALIDITY")
        for item in data or []:
            if isinstance(item, bytes) and item.isdigit():
                return int(item)
        kind, data = self.imap.status(_quoted(self.address.folder), "(UIDVALIDITY)")
        found = _UIDVALIDITY.search(b" ".join(d for d in data if isinstance(d, bytes)))
        return int(found.group(1)) if found else 0

    def _command(self, what: str, kind: str, data: Sequence[object]) -> None:
        if kind != "OK":
            raise MailboxError(f"the bounce mailbox {self.address.display} refused {what}: "
                               f"{_words(data)}")  # fmt: skip

    # -- reading ------------------------------------------------------------------

    def uids_after(self, last_uid: int) -> list[int]:
        """The UIDs in FOLDER above `last_uid`, in order."""
        try:
            kind, data = self.imap.uid("SEARCH", f"UID {last_uid + 1}:*")
        except (imaplib.IMAP4.error, OSError) as exc:
            raise MailboxError(f"cannot search the bounce mailbox: {_describe(exc)}") from exc
        self._command("SEARCH", kind, data)
        uids = [int(u) for item in data if isinstance(item, bytes) for u in item.split()]
        # `n:*` always matches the newest message, even when its UID is below n.
        return sorted(u for u in uids if u > last_uid)

    def fetch(self, uids: Sequence[int]) -> Iterator[tuple[int, bytes]]:
        """(uid, the first READ_BYTES of the message), without marking anything read."""
        if not uids:
            return
        try:
            kind, data = self.imap.uid(
                "FETCH", ",".join(map(str, uids)), f"(UID BODY.PEEK[]<0.{READ_BYTES}>)"
            )
        except (imaplib.IMAP4.error, OSError) as exc:
            raise MailboxError(f"cannot read the bounce mailbox: {_describe(exc)}") from exc
        self._command("FETCH", kind, data)
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                found = _FETCHED_UID.search(item[0])
                if found:
                    yield int(found.group(1)), bytes(item[1])

    # -- moving what was handled ------------------------------------------------

    def processed_folder(self) -> str:
        """FOLDER's child `Processed`, in the server's own hierarchy delimiter; created
        (and subscribed) when missing."""
        if self._processed is not None:
            return self._processed
        kind, data = self.imap.list('""', _quoted(self.address.folder))
        self._command("LIST", kind, data)
        delimiter = "/"
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            found = _DELIMITER.match(line) if isinstance(line, bytes) else None
            if found and found.group(1):
                delimiter = found.group(1).decode("ascii", "replace").replace("\\", "")
        name = f"{self.address.folder}{delimiter}Processed"
        kind, data = self.imap.list('""', _quoted(name))
        if not any(item for item in data if item):
            kind, data = self.imap.create(_quoted(name))
            self._command(f"creating {name!r}", kind, data)
            self.imap.subscribe(_quoted(name))
        self._processed = name
        return name

    def move_to_processed(self, uids: Sequence[int]) -> None:
        """MOVE (RFC 6851) where the server has it, else COPY, flag and expunge
        exactly those UIDs (UIDPLUS): never anything else."""
        if not uids:
            return
        target = _quoted(self.processed_folder())
        uid_set = ",".join(map(str, uids))
        capabilities = self.capabilities
        try:
            if "MOVE" in capabilities:
                kind, data = self.imap.uid("MOVE", uid_set, target)
                self._command("MOVE", kind, data)
                return
            if "UIDPLUS" not in capabilities:
                raise MailboxError(
                    f"the bounce mailbox {self.address.display} supports neither MOVE nor "
                    "UIDPLUS, so handled bounces cannot be moved without touching other mail"
                )
            kind, data = self.imap.uid("COPY", uid_set, target)
            self._command("COPY", kind, data)
            kind, data = self.imap.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Deleted)")
            self._command("STORE", kind, data)
            kind, data = self.imap.uid("EXPUNGE", uid_set)
            self._command("UID EXPUNGE", kind, data)
        except (imaplib.IMAP4.error, OSError) as exc:
            raise MailboxError(f"cannot move handled bounces: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith("b'") or text.startswith('b"'):
        text = text[2:-1]  # imaplib's errors carry the server's bytes
    return text or type(exc).__name__
