"""Running Herald's delivery as operators do: `herald serve`, racing schedulers, rate limits."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import text

from herald.broadcasts.tasks import send_due_messages
from herald.core.db import Database
from tests.delivery.helpers import WorkerThread, pending_count, settings_for, wait_for
from tests.smtp_sink import SmtpSink, free_port

URL = "/api/broadcast-messages/"
PHYSICS = "886363ae12b3583bb0eedede4a502b63"


def test_herald_serve_delivers_and_stops_cleanly(
    db: Database, database_url: str, staff: dict[str, str], example: None, tmp_path: Path
) -> None:
    port = free_port()
    outbox_dir = tmp_path / "outbox"
    herald = Path(sys.executable).with_name("herald")
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": database_url,
        "HERALD_SMTP_URL": f"file://{outbox_dir}",
        "HERALD_POLL_INTERVAL": "0.1",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as stream:
        server = subprocess.Popen(
            [str(herald), "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=stream,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Token {staff['token']}"}
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{base}/api/schema/").status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 30, "herald serve to answer")
        created = httpx.post(
            f"{base}{URL}",
            json={"subject": "Served", "body": "b", "query": {"customers": [PHYSICS]}},
            headers=headers,
        ).json()
        assert httpx.post(f"{base}{URL}{created['uuid']}/send/", headers=headers).status_code == 200
        wait_for(lambda: len(list(outbox_dir.glob("*.eml"))) == 4, 30, "four .eml files")
        wait_for(lambda: pending_count(db) == 0, 30, "the sent rows")
        listed = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True)
        children = [int(pid) for pid in listed.stdout.split()]
        assert len(children) >= 3  # two server processes and the delivery process
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(60)
    assert code == 0, log.read_text()
    # (multiprocessing's resource tracker leaves a moment after its parent)
    wait_for(
        lambda: not [pid for pid in children if Path(f"/proc/{pid}").exists()],
        10,
        "every child of serve to exit",
    )


def test_two_schedulers_racing_send_a_message_once(
    api: httpx.Client, db: Database, database_url: str, example: None
) -> None:
    today = datetime.date.today()
    created = api.post(
        URL,
        json={
            "subject": "s",
            "body": "b",
            "query": {"customers": [PHYSICS]},
            "send_at": today.isoformat(),
        },
    ).json()
    assert api.post(f"{URL}{created['uuid']}/schedule/").status_code == 200
    barrier = threading.Barrier(4)
    results: list[list[str]] = []

    def tick() -> None:
        database = Database(database_url)
        barrier.wait()
        results.append(send_due_messages(database, today))
        database.dispose()

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    with db.transaction(write=False) as session:
        count = session.execute(text("SELECT count(*) FROM deliveries")).scalar_one()
    assert count == 4


def test_the_rate_limit_spaces_mails(
    api: httpx.Client, db: Database, database_url: str, sink: SmtpSink
) -> None:
    addresses = [f"person{n}@example.org" for n in range(21)]
    created = api.post(
        URL, json={"subject": "s", "body": "b", "query": {"additional_recipients": addresses}}
    ).json()
    api.post(f"{URL}{created['uuid']}/send/")
    with WorkerThread(settings_for(database_url, sink.url, smtp_rate=10, smtp_concurrency=5)):
        wait_for(lambda: sink.count() >= 1, 30, "the first mail")
        started = time.monotonic()
        wait_for(lambda: sink.count() == 21, 30, "all 21 mails")
        took = time.monotonic() - started
    # 20 more mails at 10 a second: about 2 s, never much less
    assert took >= 1.8, took


def test_children_of_a_killed_serve_do_not_outlive_it(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": database_url,
        "HERALD_SMTP_URL": f"file://{tmp_path}",
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("herald")), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def children() -> list[int]:
        listed = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True)
        return [int(pid) for pid in listed.stdout.split()]

    wait_for(lambda: len(children()) >= 2, 30, "the server and delivery processes")
    spawned = children()
    server.send_signal(signal.SIGKILL)
    server.wait(10)
    wait_for(
        lambda: not [pid for pid in spawned if Path(f"/proc/{pid}").exists()],
        15,
        "the orphaned children to exit",
    )
