"""`herald serve` as its supervisor: children that die come back, and a configuration
that cannot work stops it at start with one line (SPEC 4 and 6)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from herald.auth.tokens import create_token
from herald.core.db import Database
from herald.directory.staff import ensure_staff
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
def start_serve(database_url: str, db: Database, tmp_path: Path) -> Iterator[Callable[..., Serve]]:
    """Start `herald serve --workers 2` with extra arguments and settings; stopped after."""
    started: list[Serve] = []

    def start(*args: str, **settings: str) -> Serve:
        port = free_port()
        log = tmp_path / f"serve-{len(started)}.log"
        env = {
            **os.environ,
            "HERALD_DATABASE_URL": database_url,
            "HERALD_SMTP_URL": f"file://{tmp_path / 'outbox'}",
            "HERALD_POLL_INTERVAL": "0.1",
            **{f"HERALD_{k.upper()}": v for k, v in settings.items()},
        }
        with log.open("wb") as stream:
            process = subprocess.Popen(
                [str(HERALD), "serve", "--port", str(port), "--workers", "2", *args],
                env=env,
                stdout=stream,
                stderr=subprocess.STDOUT,
            )
        running = Serve(process, log, port)
        started.append(running)
        wait_for(running.answers, 30, "herald serve to answer")
        return running

    yield start
    for running in started:
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(60) == 0, running.text()


@pytest.fixture
def serve(start_serve: Callable[..., Serve]) -> Serve:
    return start_serve()


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
    assert line.startswith('error: the database has no schema yet: run "herald migrate"')
    assert not (tmp_path / "empty.db").exists()  # and no empty file left behind


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


def test_metrics_are_the_same_whichever_server_process_answers(
    start_serve: Callable[..., Serve], staff: dict[str, str], example: None
) -> None:
    from tests.operations.test_health_and_metrics import _sample

    running = start_serve()
    headers = {"Authorization": f"Token {staff['token']}"}
    for _ in range(20):  # fresh connections: the kernel spreads them over both processes
        assert httpx.get(f"{running.base}{URL}", headers=headers).status_code == 200
    created = httpx.post(
        f"{running.base}{URL}",
        json={"subject": "Counted", "body": "b", "query": {"customers": [PHYSICS]}},
        headers=headers,
    ).json()
    httpx.post(f"{running.base}{URL}{created['uuid']}/send/", headers=headers)

    def scrape() -> str:
        return httpx.get(f"{running.base}/metrics").text

    wait_for(
        lambda: _sample(scrape(), "herald_mail_attempts_total", outcome="sent") == 4,
        30,
        "the delivery process's counters in /metrics",
    )
    seen = set()
    for _ in range(10):
        text = scrape()
        count = _sample(
            text, "herald_http_requests_total", route="/api/broadcast-messages/", method="GET",
            status="200",
        )  # fmt: skip
        seen.add(count)
        assert _sample(text, "herald_mail_attempts_total", outcome="sent") == 4
    assert seen == {20.0}, seen


def test_access_log_and_json_logs_never_show_the_token(
    start_serve: Callable[..., Serve], staff: dict[str, str]
) -> None:
    running = start_serve("--access-log", log_format="json")
    headers = {"Authorization": f"Token {staff['token']}"}
    assert httpx.get(f"{running.base}{URL}?page_size=5", headers=headers).status_code == 200
    httpx.get(f"{running.base}/nowhere")
    wait_for(lambda: "GET /nowhere" in running.text(), 10, "the access log")
    text = running.text()
    assert staff["token"] not in text
    entries = []
    for line in text.splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
    access = [e for e in entries if e["logger"] == "herald.access"]
    assert any('"GET /api/broadcast-messages/" 200' in e["message"] for e in access)
    assert any('"GET /nowhere" 404' in e["message"] for e in access)
    assert re.search(r"200 \d+\.\d ms", access[0]["message"])
    starts = [e for e in entries if "delivery worker started" in e["message"]]
    assert starts and starts[0]["level"] == "WARNING"
    assert "mail is NOT sent" in starts[0]["message"]


def test_behind_a_proxy_links_carry_the_public_address(
    start_serve: Callable[..., Serve], staff: dict[str, str]
) -> None:
    running = start_serve("--forwarded-allow-ips", "127.0.0.1")
    headers = {"Authorization": f"Token {staff['token']}"}
    for subject in ("One", "Two"):
        httpx.post(f"{running.base}{URL}", json={"subject": subject, "body": "b"}, headers=headers)
    proxied = {**headers, "Host": "herald.example.org", "X-Forwarded-Proto": "https",
               "X-Forwarded-For": "203.0.113.9"}  # fmt: skip
    response = httpx.get(f"{running.base}{URL}?page_size=1", headers=proxied)
    expected = '<https://herald.example.org/api/broadcast-messages/?page_size=1&page=2>; rel="next"'
    assert expected in response.headers["Link"]


def test_a_client_that_trickles_its_headers_is_dropped_and_others_are_served(
    start_serve: Callable[..., Serve],
) -> None:
    """Slowloris: a byte now and then kept a connection open for ever; now the head
    must be complete within HERALD_HEADER_TIMEOUT. A silent connection is closed too,
    but neither counted nor logged: a browser's spare connection began no request."""
    serve = start_serve(header_timeout="1.5")
    port = int(serve.base.rsplit(":", 1)[1])
    trickler = socket.create_connection(("127.0.0.1", port))
    silent = socket.create_connection(("127.0.0.1", port))
    started = time.monotonic()
    trickler.sendall(b"GET /health HTTP/1.1\r\nHost: herald\r\n")
    trickler.settimeout(0.4)
    closed_after = None
    while time.monotonic() - started < 10:
        try:
            trickler.sendall(b"X-Slow: 1\r\n")
            if trickler.recv(1024) == b"":
                closed_after = time.monotonic() - started
                break
        except TimeoutError:
            continue
        except OSError:  # reset: closed as well
            closed_after = time.monotonic() - started
            break
        # meanwhile, an honest client is answered
        assert httpx.get(f"{serve.base}/health", timeout=5).status_code == 200
    assert closed_after is not None and 1.4 < closed_after < 5, closed_after
    silent.settimeout(5)
    assert silent.recv(1024) == b""  # closed, nothing sent
    wait_for(lambda: "no complete request head within 1.5 s" in serve.text(), 5, "the log line")
    metrics = httpx.get(f"{serve.base}/metrics", timeout=5).text
    counted = re.search(r"herald_http_slow_clients_total ([\d.]+)", metrics)
    assert counted and float(counted.group(1)) == 1, metrics[-2000:]  # the trickler alone
    assert serve.text().count("closed the connection from") == 1
    trickler.close()
    silent.close()
    # A request that is merely slow to be answered is not cut: only the head is timed.
    assert httpx.get(f"{serve.base}/health", timeout=5).status_code == 200


def test_a_head_over_64_kb_is_refused_and_a_large_body_is_not(
    start_serve: Callable[..., Serve], db: Database
) -> None:
    """httptools sets no limit on headers: a stranger could send megabytes of them."""
    serve = start_serve()
    port = int(serve.base.rsplit(":", 1)[1])
    flood = socket.create_connection(("127.0.0.1", port))
    flood.settimeout(5)
    try:
        flood.sendall(b"GET /health HTTP/1.1\r\nHost: herald\r\n")
        for _ in range(100):  # 100 x 1 kB of headers, no end
            flood.sendall(b"X-Flood: " + b"x" * 1000 + b"\r\n")
        assert flood.recv(1024) == b""
    except (ConnectionResetError, BrokenPipeError):
        pass  # closed while we were still sending: refused as well
    finally:
        flood.close()
    wait_for(lambda: "a request head over 64 kB" in serve.text(), 5, "the log line")
    # A body of 900 kB (under HERALD_MAX_BODY_BYTES) is a body, not a head.
    with db.transaction() as session:
        key = create_token(session, ensure_staff(session, "big@herald.example", "Big", False))
    created = httpx.post(
        f"{serve.base}{URL}",
        json={"subject": "Big", "body": "x" * 900_000},
        headers={"Authorization": f"Token {key}"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
