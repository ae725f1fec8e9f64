"""/health, /ready and /metrics (SPEC 7), on both databases, with no staff token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from herald.core.config import Settings
from herald.core.db import Database
from herald.migrations.runner import upgrade_to_head
from tests.conftest import LiveServer, _fresh_postgres
from tests.delivery.helpers import WorkerThread, settings_for, wait_for

URL = "/api/broadcast-messages/"


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text, or None."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:]+)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = ",".join(sorted((match.group(3) or "").split(","))) if match.group(3) else ""
        if found == wanted:
            return float(match.group(4))
    return None


def test_health_needs_nothing_and_says_ok(anonymous: httpx.Client) -> None:
    response = anonymous.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_ready_when_migrated(anonymous: httpx.Client, db: Database) -> None:
    response = anonymous.get("/ready")
    assert (response.status_code, response.json()) == (200, {"status": "ready"})


@pytest.fixture
def empty_database_url(database_url: str, tmp_path: Path) -> str:
    """A database of the same kind as the session's, with no schema."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'empty.db'}"
    name = "herald_ready_test"
    return _fresh_postgres(make_url(database_url).set(database=name).render_as_string(False))


@pytest.fixture
def server_on(empty_database_url: str) -> Iterator[str]:
    server = LiveServer(Settings(database_url=empty_database_url))
    url = server.start()
    yield url
    server.stop()


def test_ready_is_503_before_migrate_and_200_after(server_on: str, empty_database_url: str) -> None:
    before = httpx.get(f"{server_on}/ready")
    assert before.status_code == 503
    assert before.json() == {
        "status": "unavailable",
        "reason": 'the database has no schema yet: run "herald migrate"',
    }
    assert httpx.get(f"{server_on}/health").status_code == 200
    upgrade_to_head(empty_database_url)
    assert httpx.get(f"{server_on}/ready").status_code == 200


def test_ready_is_503_when_the_database_is_down(database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("sqlite"):
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("")
        url = f"sqlite:///{blocker / 'herald.db'}"
    else:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        url = make_url(database_url).set(port=port).render_as_string(False)
    server = LiveServer(Settings(database_url=url))
    try:
        base = server.start()
    except Exception:
        pytest.fail("the server must start even when its database is down")
    try:
        response = httpx.get(f"{base}/ready", timeout=20)
        assert response.status_code == 503
        assert response.json()["reason"].startswith("the database does not answer")
        assert response.headers["Retry-After"]
    finally:
        server.stop()


def test_metrics_show_the_outbox_messages_requests_and_mail(
    api: httpx.Client, anonymous: httpx.Client, db: Database, database_url: str, sink
) -> None:  # type: ignore[no-untyped-def]
    created = api.post(
        URL,
        json={"subject": "M", "body": "b", "query": {"additional_recipients": ["a@m.example"]}},
    ).json()
    api.post(f"{URL}{created['uuid']}/send/")
    api.get(f"{URL}{created['uuid']}/")
    with WorkerThread(settings_for(database_url, sink.url)):
        wait_for(lambda: sink.count() == 1, 30, "the mail")
        wait_for(
            lambda: (
                _sample(anonymous.get("/metrics").text, "herald_deliveries", status="sent") == 1
            ),
            30,
            "the sent row in /metrics",
        )
        text = anonymous.get("/metrics").text
    assert _sample(text, "herald_deliveries_queued") == 0
    assert _sample(text, "herald_oldest_due_delivery_age_seconds") == 0
    assert _sample(text, "herald_messages", state="SENT") == 1
    assert _sample(text, "herald_messages", state="DRAFT") == 0
    assert (_sample(text, "herald_mail_attempts_total", outcome="sent") or 0) >= 1
    assert (_sample(text, "herald_smtp_replies_total", reply_class="2xx") or 0) >= 1
    age = _sample(text, "herald_job_last_success_age_seconds", job="scheduler")
    assert age is not None and age < 30
    route = "/api/broadcast-messages/{uuid}/"
    assert (
        _sample(text, "herald_http_requests_total", route=route, method="GET", status="200") or 0
    ) >= 1
    assert (
        _sample(text, "herald_http_request_duration_seconds_count", route=route, method="GET") or 0
    ) >= 1
    assert "a@m.example" not in text and created["uuid"] not in text


def test_an_old_due_delivery_shows_its_age(
    api: httpx.Client, anonymous: httpx.Client, db: Database
) -> None:
    created = api.post(
        URL, json={"subject": "M", "body": "b", "query": {"additional_recipients": ["q@x.example"]}}
    ).json()
    api.post(f"{URL}{created['uuid']}/send/")
    from sqlalchemy import text as sql

    with db.transaction() as session:
        session.execute(sql("UPDATE deliveries SET next_attempt_at = '2020-01-01 00:00:00'"))
    metrics = anonymous.get("/metrics").text
    assert (_sample(metrics, "herald_oldest_due_delivery_age_seconds") or 0) > 86400
    assert _sample(metrics, "herald_deliveries_queued") == 1


def test_metrics_token(database_url: str, db: Database) -> None:
    server = LiveServer(Settings(database_url=database_url, metrics_token="s3cret"))
    base = server.start()
    try:
        assert httpx.get(f"{base}/metrics").status_code == 401
        wrong = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 200 and "herald_deliveries" in right.text
    finally:
        server.stop()
