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

import httpx
import pytest
from sqlalchemy.engine import make_url

from herald.core.config import Settings
from herald.core.db import Database
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
