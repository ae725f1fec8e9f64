"""Steering a send (SPEC 4.1): pause, resume and cancel, with the failures that
matter injected: mail on the wire, a preparation cancelled half-way, a worker
killed while paused, cancel racing retry-failed, two workers on one pause."""

from __future__ import annotations

import datetime
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from herald.broadcasts import repository, sending
from herald.core.db import Database
from tests.conftest import load_directory
from tests.delivery.helpers import (
    WorkerThread,
    outbox_status,
    settings_for,
    wait_for,
    worker_process,
)
from tests.factories import DirectoryBuilder
from tests.messages import create_message, send_message, to
from tests.smtp_sink import SmtpSink

URL = "/api/broadcast-messages/"


def _addresses(count: int, domain: str = "steer.example") -> list[str]:
    return [f"user{n:04}@{domain}" for n in range(count)]


def _create(api: httpx.Client, addresses: list[str], body: str = "Down 8-12.") -> str:
    return str(create_message(api, body=body, query=to(addresses))["uuid"])


def _send(api: httpx.Client, addresses: list[str]) -> str:
    return send_message(api, query=to(addresses))


def _delivery(api: httpx.Client, uuid: str) -> dict[str, Any]:
    response = api.get(f"{URL}{uuid}/", params={"field": "delivery"})
    assert response.status_code == 200, response.text
    return dict(response.json()["delivery"])


def _steer(api: httpx.Client, uuid: str, action: str, **headers: str) -> httpx.Response:
    return api.post(f"{URL}{uuid}/{action}/", headers=headers)


def test_pause_while_twenty_mails_are_on_the_wire(
    database_url: str, db: Database, api: httpx.Client, sink: SmtpSink
) -> None:
    """No mail starts after the answer; the 20 on the wire finish; resume sends the
    rest, each address once."""
    sink.data_delay = 0.4
    addresses = _addresses(200)
    uuid = _send(api, addresses)
    settings = settings_for(database_url, sink.url, smtp_concurrency=20)
    with WorkerThread(settings):
        wait_for(lambda: sink.on_the_wire >= 20, 20, "20 mails on the wire")
        response = _steer(api, uuid, "pause")
        answered = time.monotonic()
        assert response.status_code == 200, response.text
        assert response.json()["delivery"]["status"] == "paused"
        time.sleep(1.5)  # several worker rounds and relay answers
        with sink.lock:
            started_after = [t for t in sink.rcpt_times if t > answered]
        assert started_after == [], f"{len(started_after)} mails started after the pause answer"
        delivered = sink.count()
        assert 20 <= delivered < 200
        delivery = _delivery(api, uuid)
        assert delivery["status"] == "paused"
        assert delivery["sent"] == delivered and delivery["pending"] == 200 - delivered
        assert delivery["total"] == 200

        resumed = _steer(api, uuid, "resume")
        assert resumed.status_code == 200 and resumed.json()["delivery"]["status"] == "sending"
        wait_for(lambda: sink.count() == 200, 60, "the rest after resume")
        wait_for(lambda: _delivery(api, uuid)["status"] == "done", 10, "done")
    assert set(sink.deliveries_per_address().values()) == {1}
    assert set(sink.deliveries_per_address()) == set(addresses)


def _started_after(sink: SmtpSink, moment: float) -> int:
    with sink.lock:
        return len([t for t in sink.rcpt_times if t > moment])


def test_pause_holds_under_a_send_rate_limit(
    database_url: str, db: Database, api: httpx.Client, sink: SmtpSink
) -> None:
    """With HERALD_SMTP_RATE set, senders hold mails while they wait for their turn:
    those are not on the wire, so a pause takes them back and none leaves after it."""
    uuid = _send(api, _addresses(12))
    # One mail every 2 s: the four senders' turns reach past the pause's 5 s wait.
    settings = settings_for(database_url, sink.url, smtp_rate=0.5, smtp_concurrency=4)
    with WorkerThread(settings):
        wait_for(lambda: sink.count() >= 1, 20, "the first mail")
        response = _steer(api, uuid, "pause")
        answered = time.monotonic()
        assert response.status_code == 200, response.text
        time.sleep(5)  # the turns the senders were waiting for
        assert _started_after(sink, answered) == 0
        delivered = sink.count()
        delivery = _delivery(api, uuid)
    assert delivery["status"] == "paused"
    assert delivery["sent"] == delivered and delivery["pending"] == 12 - delivered
    assert delivered <= 2


def test_cancel_holds_under_a_send_rate_limit(
    database_url: str, db: Database, api: httpx.Client, sink: SmtpSink
) -> None:
    """What waited for the rate limit's turn is cancelled, not sent: the answer's
    count of what will not be sent is what was not sent."""
    uuid = _send(api, _addresses(12))
    settings = settings_for(database_url, sink.url, smtp_rate=0.5, smtp_concurrency=4)
    with WorkerThread(settings):
        wait_for(lambda: sink.count() >= 1, 20, "the first mail")
        response = _steer(api, uuid, "cancel")
        answered = time.monotonic()
        assert response.status_code == 200, response.text
        promised = response.json()["delivery"]
        time.sleep(5)
        assert _started_after(sink, answered) == 0
        delivery = _delivery(api, uuid)
    delivered = sink.count()
    assert delivery["status"] == "cancelled"
    assert delivery["sent"] == delivered
    assert delivery["cancelled"] == 12 - delivered == promised["cancelled"] + promised["pending"]


def test_the_pause_holds_for_every_worker(
    database_url: str, db: Database, api: httpx.Client, sink: SmtpSink
) -> None:
    """Two workers on one database honour one pause (PostgreSQL: SKIP LOCKED claims)."""
    if database_url.startswith("sqlite"):
        pytest.skip("several workers on one database is a PostgreSQL deployment")
    sink.data_delay = 0.3
    uuid = _send(api, _addresses(300))
    settings = settings_for(database_url, sink.url, smtp_concurrency=10)
    with WorkerThread(settings), WorkerThread(settings):
        wait_for(lambda: sink.on_the_wire >= 15, 20, "both workers sending")
        assert _steer(api, uuid, "pause").status_code == 200
        answered = time.monotonic()
        time.sleep(1.5)
        with sink.lock:
            assert [t for t in sink.rcpt_times if t > answered] == []
        assert _delivery(api, uuid)["status"] == "paused"
        assert _steer(api, uuid, "resume").status_code == 200
        wait_for(lambda: sink.count() == 300, 60, "all 300 after resume")
    assert set(sink.deliveries_per_address().values()) == {1}


def test_a_pause_survives_a_killed_worker(
    database_url: str, db: Database, api: httpx.Client, sink: SmtpSink, tmp_path: Path
) -> None:
    sink.data_delay = 0.2
    uuid = _send(api, _addresses(150))
    log = tmp_path / "worker.log"
    worker = worker_process(database_url, sink.url, log, smtp_concurrency=10)
    try:
        wait_for(lambda: sink.count() >= 10, 30, "the worker sending")
        assert _steer(api, uuid, "pause").status_code == 200
        delivered = sink.count()
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        worker = worker_process(database_url, sink.url, log, smtp_concurrency=10)
        # Proof the new worker is up and polling: another message goes out through it.
        _send(api, ["probe@example.org"])
        wait_for(lambda: "probe@example.org" in sink.deliveries_per_address(), 30, "the probe")
        assert sink.count() == delivered + 1, "a paused message was sent after a restart"
        assert _delivery(api, uuid)["status"] == "paused"
        assert _steer(api, uuid, "resume").status_code == 200
        wait_for(lambda: sink.count() >= 150, 60, "the rest after resume")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
    assert set(sink.deliveries_per_address()) == set(_addresses(150)) | {"probe@example.org"}


def _big_directory(db: Database, users: int) -> None:
    d = DirectoryBuilder()
    for n in range(users):
        d.user(f"u{n}", f"person{n:05}@big.example", full_name=f"Person {n:05}")
    load_directory(db, d.doc)


def _send_first_batch(db: Database, uuid: str, batch: int) -> bool:
    """`POST send/` as the endpoint does it, but leaving the rest of the preparation
    to a delivery process (the endpoint's own process carries it on otherwise)."""
    with db.transaction() as session:
        return sending.send_message(session, uuid, datetime.date.today(), batch)


def _deliveries(db: Database, uuid: str) -> list[str]:
    with db.transaction(write=False) as session:
        rows = session.execute(
            text(
                "SELECT d.email FROM deliveries d JOIN broadcast_messages m ON m.id = d.message_id"
                " WHERE m.uuid = :u"
            ),
            {"u": uuid},
        )
        return [row[0] for row in rows]


def test_cancel_during_preparation(
    database_url: str, db: Database, api: httpx.Client, sink: SmtpSink
) -> None:
    """Preparation still finishes (emails and total are the whole audience) and what it
    queued is cancelled; nothing is ever sent."""
    _big_directory(db, 2000)
    created = api.post(URL, json={"subject": "s", "body": "b", "query": {"all_users": True}})
    uuid = created.json()["uuid"]
    assert not _send_first_batch(db, uuid, 100)
    assert _delivery(api, uuid)["status"] == "preparing"
    response = _steer(api, uuid, "cancel")
    assert response.status_code == 200, response.text
    assert response.json()["delivery"]["status"] == "cancelled"
    with WorkerThread(settings_for(database_url, sink.url, prepare_batch=100)):
        wait_for(lambda: len(_deliveries(db, uuid)) == 2001, 60, "the whole audience queued")
        time.sleep(0.5)
    message = api.get(f"{URL}{uuid}/").json()
    assert len(message["emails"]) == 2001  # 2000 users and the staff member
    assert message["delivery"]["total"] == 2001
    assert message["delivery"]["cancelled"] == 2001
    assert message["delivery"]["status"] == "cancelled"
    assert sink.count() == 0
    assert _steer(api, uuid, "resume").json() == {
        "detail": "Valid delivery statuses for operation: paused."
    }
    assert api.delete(f"{URL}{uuid}/").status_code == 204


def test_a_preparation_killed_half_way_queues_each_address_once(
    database_url: str, db: Database, api: httpx.Client, tmp_path: Path
) -> None:
    _big_directory(db, 6000)
    created = api.post(URL, json={"subject": "s", "body": "b", "query": {"all_users": True}})
    uuid = created.json()["uuid"]
    assert not _send_first_batch(db, uuid, 100)
    outbox = tmp_path / "outbox"
    log = tmp_path / "worker.log"
    worker = worker_process(database_url, f"file://{outbox}", log, prepare_batch=100)
    try:
        wait_for(lambda: len(_deliveries(db, uuid)) > 1000, 60, "preparation under way")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        halfway = len(_deliveries(db, uuid))
        assert halfway < 6001, "the kill came too late to test anything"
        assert _delivery(api, uuid)["status"] == "preparing"
        worker = worker_process(database_url, f"file://{outbox}", log, prepare_batch=100)
        wait_for(lambda: _delivery(api, uuid)["status"] != "preparing", 60, "preparation done")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
    queued = _deliveries(db, uuid)
    assert len(queued) == len({q.lower() for q in queued}) == 6001
    message = api.get(f"{URL}{uuid}/").json()
    assert sorted(message["emails"]) == sorted(queued)
    assert message["delivery"]["total"] == 6001


def test_cancel_racing_retry_failed(
    database_url: str, db: Database, api: httpx.Client, sink: SmtpSink
) -> None:
    """Whichever wins, nothing is left pending and no retried mail leaves after the
    cancel's answer."""
    addresses = _addresses(30, "race.example")
    sink.permanent = set(addresses[:10])
    uuid = _send(api, addresses)
    settings = settings_for(database_url, sink.url)
    with WorkerThread(settings):
        wait_for(lambda: _delivery(api, uuid)["status"] == "done", 30, "the first round")
        assert _delivery(api, uuid)["failed"] == 10
        sink.permanent = set()
        sink.data_delay = 0.2
        answers: dict[str, httpx.Response] = {}
        barrier = threading.Barrier(2)

        def act(action: str) -> None:
            with httpx.Client(base_url=str(api.base_url), headers=api.headers) as client:
                barrier.wait()
                answers[action] = client.post(f"{URL}{uuid}/{action}/")

        threads = [threading.Thread(target=act, args=(a,)) for a in ("retry-failed", "cancel")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        cancelled_at = time.monotonic()
        assert answers["retry-failed"].status_code in (200, 409), answers["retry-failed"].text
        if answers["cancel"].status_code == 409:
            # retry-failed won and the retried mail went out before the cancel.
            wait_for(lambda: _delivery(api, uuid)["status"] == "done", 30, "done")
        else:
            assert answers["cancel"].status_code == 200, answers["cancel"].text
            time.sleep(1.0)
            with sink.lock:
                assert [t for t in sink.rcpt_times if t > cancelled_at] == []
        delivery = _delivery(api, uuid)
    assert delivery["pending"] == 0
    assert delivery["sent"] + delivery["failed"] + delivery["cancelled"] == 30
    assert outbox_status(db).get("pending", 0) == 0


def test_what_each_status_allows(api: httpx.Client, sink: SmtpSink, database_url: str) -> None:
    draft = _create(api, ["a@steer.example"])
    for action, statuses in (
        ("pause", "preparing, sending"),
        ("resume", "paused"),
        ("cancel", "preparing, sending, paused"),
    ):
        response = _steer(api, draft, action)
        assert response.status_code == 409
        assert response.json() == {"detail": f"Valid delivery statuses for operation: {statuses}."}
    assert _steer(api, "0" * 32, "pause").status_code == 404

    uuid = _send(api, _addresses(5))
    paused = _steer(api, uuid, "pause", **{"Idempotency-Key": "pause-1"})
    assert paused.status_code == 200
    again = _steer(api, uuid, "pause", **{"Idempotency-Key": "pause-1"})
    assert again.status_code == 200 and again.json() == paused.json()  # replayed, not a 409
    assert _steer(api, uuid, "pause").status_code == 409  # a new request: already paused
    assert api.delete(f"{URL}{uuid}/").status_code == 409  # paused: cancel it first
    assert _steer(api, uuid, "cancel").json()["delivery"] == {
        "status": "cancelled",
        "total": 5,
        "pending": 0,
        "sent": 0,
        "failed": 0,
        "cancelled": 5,
        "bounced": 0,
        "suppressed": 0,
    }
    assert api.post(f"{URL}{uuid}/retry-failed/").json() == {
        "detail": "Valid delivery statuses for operation: preparing, sending, paused, done."
    }
    with WorkerThread(settings_for(database_url, sink.url)):
        time.sleep(0.5)
    assert sink.count() == 0  # cancelled deliveries are never sent
    assert api.delete(f"{URL}{uuid}/").status_code == 204


def test_the_list_filters_by_delivery_status(api: httpx.Client) -> None:
    paused = _send(api, _addresses(3, "p.example"))
    assert _steer(api, paused, "pause").status_code == 200
    sending_one = _send(api, _addresses(2, "s.example"))
    draft = _create(api, ["d@steer.example"])

    def listed(*values: str) -> set[str]:
        response = api.get(URL, params=[("delivery", v) for v in values] + [("field", "uuid")])
        assert response.status_code == 200, response.text
        return {m["uuid"] for m in response.json()}

    assert listed("paused") == {paused}
    assert listed("sending") == {sending_one}
    assert listed("idle") == {draft}
    assert listed("sending", "paused") == {paused, sending_one}
    assert listed("failed") == set()
    bad = api.get(URL, params={"delivery": "stuck"})
    assert bad.status_code == 400 and "delivery" in bad.json()


def test_large_answers_are_compressed_when_the_client_accepts_gzip(api: httpx.Client) -> None:
    uuid = _create(api, _addresses(3000, "many.example"))
    compressed = api.get(f"{URL}{uuid}/", headers={"Accept-Encoding": "gzip"})
    assert compressed.headers["content-encoding"] == "gzip"
    assert len(compressed.json()["emails"]) == 3000  # httpx decodes it
    assert int(compressed.headers["content-length"]) < len(compressed.content) / 5
    plain = api.get(f"{URL}{uuid}/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json() == compressed.json()


def test_a_page_of_large_messages_is_streamed_whole(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past a size, a list page is written message by message: the same answer."""
    for n in range(3):
        _create(api, _addresses(50, f"big{n}.example"))
    whole = api.get(URL)
    assert "transfer-encoding" not in whole.headers
    monkeypatch.setattr(repository, "INLINE_EMAILS_BYTES", 100)
    streamed = api.get(URL)
    assert streamed.headers["transfer-encoding"] == "chunked"
    assert streamed.headers["X-Result-Count"] == "3"
    assert streamed.json() == whole.json()
    assert [len(m["emails"]) for m in streamed.json()] == [50, 50, 50]
    fields = api.get(URL, params={"field": ["uuid", "delivery"]})
    assert "transfer-encoding" not in fields.headers  # no emails asked for: nothing large
