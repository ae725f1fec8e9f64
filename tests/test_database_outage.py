"""A PostgreSQL server that silently stops answering: requests get a 503 within
10 seconds, not a thread blocked for as long as the partition lasts (SPEC 4).

The partition is real: the API reaches PostgreSQL through a TCP forwarder on
its own loopback port, and an nftables rule drops every packet to and from
that port, as a cut cable or a firewall would. Nothing is refused, nothing
is reset: packets vanish. (`make test` installs nftables; the tests run as
root on these machines.)
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime

import httpx
import orjson
import pytest
from sqlalchemy.engine import make_url

from herald.core.config import Settings
from herald.core.db import Database
from herald.core.models import BroadcastMessage, MessageState
from tests.conftest import LiveServer


class Forwarder:
    """Every connection to 127.0.0.1:port is piped to the real server."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = False
        # Frozen: connections stay open and every byte is taken, none passed on
        # (a proxy that black-holes, a database host that froze).
        self.frozen = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if not self.frozen:
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.stopped = True
        self.listener.close()


class BlackHole:
    """An nftables table that drops every packet to or from one local TCP port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.table = f"herald_test_{uuid.uuid4().hex[:8]}"

    def _nft(self, *args: str) -> None:
        subprocess.run(["nft", *args], check=True, capture_output=True, text=True)

    def __enter__(self) -> BlackHole:
        self._nft("add", "table", "inet", self.table)
        self._nft(
            "add", "chain", "inet", self.table, "out",
            "{ type filter hook output priority 0; policy accept; }",
        )  # fmt: skip
        self._nft("add", "rule", "inet", self.table, "out", "tcp", "dport", str(self.port), "drop")
        self._nft("add", "rule", "inet", self.table, "out", "tcp", "sport", str(self.port), "drop")
        return self

    def __exit__(self, *_: object) -> None:
        self._nft("delete", "table", "inet", self.table)


@pytest.fixture
def partitioned_server(database_url: str, staff: dict[str, str]) -> Iterator[tuple[str, Forwarder]]:
    if not database_url.startswith("postgresql"):
        pytest.skip("a network partition needs a networked database (PostgreSQL)")
    if shutil.which("nft") is None:
        pytest.fail("nftables is missing: `make test` installs it (apt-get install nftables)")
    real = make_url(database_url)
    forwarder = Forwarder((real.host or "127.0.0.1", real.port or 5432))
    through = real.set(port=forwarder.port).render_as_string(hide_password=False)
    server = LiveServer(Settings(database_url=through))
    url = server.start()
    try:
        yield url, forwarder
    finally:
        server.stop()
        forwarder.close()


def _each_request_is_a_quick_503(client: httpx.Client) -> None:
    """On a pooled connection, then on a new one: a 503 that says why, within 10 s."""
    for attempt in ("pooled connection", "new connection"):
        started = time.monotonic()
        response = client.get("/api/broadcast-messages/")
        took = time.monotonic() - started
        assert response.status_code == 503, (attempt, response.text)
        assert took < 10, f"{attempt}: {took:.1f} s"
        assert "database" in response.json()["detail"].lower()
        assert response.headers.get("Retry-After")


def _served_again(client: httpx.Client) -> None:
    deadline = time.monotonic() + 30
    while client.get("/api/broadcast-messages/").status_code != 200:
        assert time.monotonic() < deadline, "the API did not recover"
        time.sleep(0.5)


def test_a_black_holed_database_gives_503_within_10_seconds(
    partitioned_server: tuple[str, Forwarder], staff: dict[str, str]
) -> None:
    url, forwarder = partitioned_server
    headers = {"Authorization": f"Token {staff['token']}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        assert client.get("/api/broadcast-messages/").status_code == 200
        with BlackHole(forwarder.port):
            _each_request_is_a_quick_503(client)
        _served_again(client)  # the partition heals


def test_database_sessions_carry_timeouts(database_url: str) -> None:
    """Statement and lock time-outs are set on every PostgreSQL session of the API."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL settings")
    database = Database(database_url)
    try:
        with database.transaction(write=False) as session:
            statement = session.connection().exec_driver_sql("SHOW statement_timeout").scalar()
            lock = session.connection().exec_driver_sql("SHOW lock_timeout").scalar()
        assert (statement, lock) == ("10s", "10s")
    finally:
        database.dispose()


def test_a_frozen_database_behind_an_open_connection_gives_503_within_10_seconds(
    partitioned_server: tuple[str, Forwarder], staff: dict[str, str]
) -> None:
    """The TCP connection stays open and every byte is acknowledged, but nothing comes
    back: no kernel time-out fires, so Herald's own deadline must."""
    url, forwarder = partitioned_server
    headers = {"Authorization": f"Token {staff['token']}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        assert client.get("/api/broadcast-messages/").status_code == 200
        forwarder.frozen = True
        try:
            _each_request_is_a_quick_503(client)
        finally:
            forwarder.frozen = False
        _served_again(client)


def _large_messages(database_url: str, count: int, addresses: int) -> None:
    """Sent messages whose `emails` are too large to read with the page (over 64 kB):
    the list streams them, reading each one's addresses on its own."""
    emails = orjson.dumps([f"reader{n:06}@large.test" for n in range(addresses)]).decode()
    database = Database(database_url)
    try:
        with database.transaction() as session:
            for number in range(count):
                session.add(
                    BroadcastMessage(
                        uuid=uuid.uuid4().hex, created=datetime(2026, 1, 1, 0, number),
                        subject=f"Large {number}", body="B", query='{"all_users": true}',
                        emails=emails, author_full_name="", state=MessageState.SENT,
                    )
                )  # fmt: skip
    finally:
        database.dispose()


def test_a_database_that_fails_mid_page_cuts_the_stream_cleanly(
    partitioned_server: tuple[str, Forwarder],
    staff: dict[str, str],
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 23.10: a page of large messages has begun streaming when the database
    stops answering. Too late for a 503: the client gets an incomplete response
    (never a short list that parses), the server logs one line saying why (no
    traceback) and counts it; the next request is the ordinary quick 503."""
    url, forwarder = partitioned_server
    _large_messages(database_url, count=12, addresses=40_000)  # ~1 MB each, 12 MB a page
    headers = {"Authorization": f"Token {staff['token']}", "Accept-Encoding": "identity"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        with client.stream("GET", "/api/broadcast-messages/", params={"page_size": 12}) as page:
            assert page.status_code == 200
            stream = page.iter_raw()
            assert next(stream).startswith(b"[")
            forwarder.frozen = True  # the server's next read of addresses hangs
            try:
                with pytest.raises(httpx.RemoteProtocolError):
                    for _ in stream:
                        pass
            finally:
                forwarder.frozen = False
        _served_again(client)
        metrics = client.get("/metrics").text
    cut = [r for r in caplog.records if "cut after" in r.getMessage()]
    assert len(cut) == 1 and cut[0].exc_info is None, [r.getMessage() for r in cut]
    assert "the database failed" in cut[0].getMessage()
    assert not [r for r in caplog.records if "Exception in ASGI" in r.getMessage()]
    assert 'herald_http_streams_cut_total{route="/api/broadcast-messages/"} 1.0' in metrics
