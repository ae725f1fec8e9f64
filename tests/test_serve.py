"""`herald serve` as its supervisor: children that die come back, and a configuration
that cannot work stops it at start with one line (SPEC 4 and 6)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from herald.db import Database
from tests.cli import herald
from tests.delivery.helpers import wait_for
from tests.smtp_sink import free_port

URL = "/api/broadcast-messages/"
PHYSICS = "886363ae12b3583bb0eedede4a502b63"
HERALD = Path(sys.executable).with_name("herald")


class Serve:
    def __init__(self, process: subprocess.Popen[bytes], log: Path, port: int) -> None:
        self.process = process
        self.log = log
        self.base = f"http://127.0.0.1:{port}"

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def pid_of(self, child: str, after: int = 0) -> int:
        """The pid of the latest start of `child` (say, herald-delivery) in the log."""
        started = re.findall(rf"{child} started \(pid (\d+)\)", self.text())
        assert len(started) > after, self.text()
        return int(started[-1])

    def starts(self, child: str) -> int:
        return len(re.findall(rf"{child} started \(pid \d+\)", self.text()))

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.base}/api/schema/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


@pytest.fixture
def serve(database_url: str, db: Database, tmp_path: Path) -> Iterator[Serve]:
    port = free_port()
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": database_url,
        "HERALD_SMTP_URL": f"file://{tmp_path / 'outbox'}",
        "HERALD_POLL_INTERVAL": "0.1",
    }
    with log.open("wb") as stream:
        process = subprocess.Popen(
            [str(HERALD), "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=stream,
            stderr=subprocess.STDOUT,
        )
    running = Serve(process, log, port)
    try:
        wait_for(running.answers, 30, "herald serve to answer")
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, running.text()


def test_a_killed_delivery_process_is_restarted_and_mail_still_leaves(
    serve: Serve, staff: dict[str, str], example: None, tmp_path: Path
) -> None:
    """Before, it stayed a zombie and `send` kept answering 200 while nothing left."""
    delivery = serve.pid_of("herald-delivery")
    os.kill(delivery, signal.SIGKILL)
    wait_for(lambda: serve.starts("herald-delivery") == 2, 15, "the delivery process to restart")
    log = serve.text()
    assert f"herald-delivery (pid {delivery}) exited with status -9; restarting it in 1 s" in log
    assert (
        not Path(f"/proc/{delivery}").exists()
        or "zombie" not in Path(f"/proc/{delivery}/status").read_text().lower()
    )

    headers = {"Authorization": f"Token {staff['token']}"}
    created = httpx.post(
        f"{serve.base}{URL}",
        json={"subject": "After the crash", "body": "b", "query": {"customers": [PHYSICS]}},
        headers=headers,
    ).json()
    sent = httpx.post(f"{serve.base}{URL}{created['uuid']}/send/", headers=headers)
    assert sent.status_code == 200
    outbox_dir = tmp_path / "outbox"
    wait_for(lambda: len(list(outbox_dir.glob("*.eml"))) == 4, 30, "four mails after the restart")


def test_a_killed_server_process_is_replaced(serve: Serve) -> None:
    victim = serve.pid_of("herald-server-1")
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: serve.starts("herald-server-1") == 2, 15, "the server process to restart")
    assert serve.pid_of("herald-server-1") != victim
    assert f"herald-server-1 (pid {victim}) exited with status -9" in serve.text()
    wait_for(serve.answers, 15, "the API to answer")
    # Both processes serve again: over many fresh connections, both pids answer.
    assert serve.answers()


def test_a_child_that_keeps_dying_is_restarted_with_back_off(serve: Serve) -> None:
    for _ in range(3):
        count = serve.starts("herald-delivery")
        os.kill(serve.pid_of("herald-delivery"), signal.SIGKILL)
        wait_for(lambda c=count: serve.starts("herald-delivery") == c + 1, 20, "a restart")
    pattern = r"herald-delivery \(pid \d+\) exited with status -9; restarting it in (\d+) s"
    waits = re.findall(pattern, serve.text())
    assert waits == ["1", "2", "4"]


def _serve_once(database_url: str, port: int, **env: str) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    result = herald(database_url, "serve", "--port", str(port), env=env)
    assert time.monotonic() - started < 30
    return result


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_a_bad_smtp_url_stops_serve_at_start_with_one_line(database_url: str, db: Database) -> None:
    port = free_port()
    result = _serve_once(database_url, port, HERALD_SMTP_URL="smtpp://relay.example:25")
    line = _one_line_error(result)
    assert "HERALD_SMTP_URL" in line and "smtpp" in line
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "nothing may be served"


def test_an_unmigrated_database_stops_serve_at_start_with_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    line = _one_line_error(_serve_once(url, free_port()))
    assert line == 'error: the database has no schema yet: run "herald migrate"'


def test_a_port_held_by_another_program_stops_serve_with_one_line(
    database_url: str, db: Database
) -> None:
    with socket.socket() as other:
        # Even a program that itself allows port sharing must not share with Herald.
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        line = _one_line_error(_serve_once(database_url, port))
    assert f"cannot listen on 127.0.0.1:{port}" in line and "--port" in line
