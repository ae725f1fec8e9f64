"""Bounces end to end with a real Postfix and Dovecot (SPEC 4.2).

Herald sends through Postfix with VERP envelope senders; Postfix bounces the
unknown users of `dead.test` with real RFC 3464 reports to those addresses;
they land in a Dovecot mailbox Herald reads over IMAP. Then the failure
paths: the IMAP server down or refusing the password, a mailbox of 5,000
unrelated messages, a bounce for a message since deleted, forged tags and
auto-replies left alone, TLS and STARTTLS."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from herald.bounces.jobs import MailboxBusy, fetch_bounces
from herald.bounces.mailbox import MailboxError
from herald.core.config import Settings
from herald.core.db import Database
from herald.delivery.verp import envelope_sender
from tests.cli import herald
from tests.delivery.helpers import WorkerThread, settings_for, wait_for
from tests.mailservers import MailServers, running
from tests.messages import send_message, to

URL = "/api/broadcast-messages/"
SECRET = "a-long-random-secret-for-the-tests"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def mail() -> Iterator[MailServers]:
    yield from running()


def _settings(database_url: str, mail: MailServers, bounce: str, **more: Any) -> Settings:
    options: dict[str, Any] = {
        "bounce_address": bounce,
        "secret_key": SECRET,
        "bounce_imap_url": mail.imap_url(bounce),
        "bounce_interval": 0.3,
        **more,
    }
    return settings_for(database_url, mail.smtp_url, **options)


def _send(api: httpx.Client, addresses: list[str], subject: str = "Maintenance") -> str:
    return send_message(api, subject, query=to(addresses))


def _delivery(api: httpx.Client, uuid: str) -> dict[str, Any]:
    response = api.get(f"{URL}{uuid}/", params={"field": "delivery"})
    assert response.status_code == 200, response.text
    return dict(response.json()["delivery"])


def _deliveries(api: httpx.Client, uuid: str, status: str) -> list[dict[str, Any]]:
    response = api.get(f"{URL}{uuid}/deliveries/", params={"status": status, "page_size": 100})
    assert response.status_code == 200, response.text
    return list(response.json())


DEAD = [f"dead{n}@dead.test" for n in range(5)]
ALIVE = [f"alive{n}@dead.test" for n in range(15)]


def test_five_dead_addresses_are_bounced_suppressed_and_never_mailed_again(
    api: httpx.Client, database_url: str, db: Database, mail: MailServers
) -> None:
    bounce = mail.new_mailbox()
    settings = _settings(database_url, mail, bounce)
    alive_before = mail.delivered_to_alive()
    with WorkerThread(settings):
        first = _send(api, DEAD + ALIVE)
        wait_for(lambda: _delivery(api, first)["bounced"] == 5, 60, "five bounces read")
        delivery = _delivery(api, first)
        assert (delivery["sent"], delivery["bounced"], delivery["status"]) == (15, 5, "done")

        bounced = _deliveries(api, first, "bounced")
        assert sorted(d["email"] for d in bounced) == DEAD
        for item in bounced:
            assert item["bounce"]["kind"] == "hard"
            assert item["bounce"]["code"] == "5.1.1"
            assert "unknown user" in item["bounce"]["diagnostic"]
        assert all("bounce" not in d for d in _deliveries(api, first, "sent"))

        suppressions = api.get("/api/suppressions/", params={"page_size": 50}).json()
        assert sorted(s["email"] for s in suppressions) == DEAD
        assert {s["reason"] for s in suppressions} == {"hard"}
        assert all(s["bounce"]["code"] == "5.1.1" for s in suppressions)

        # The next broadcast mails only the fifteen; the five are on its record.
        second = _send(api, DEAD + ALIVE, subject="Second")
        wait_for(lambda: _delivery(api, second)["status"] == "done", 60, "the second send")
        delivery = _delivery(api, second)
        assert (delivery["total"], delivery["sent"], delivery["suppressed"]) == (20, 15, 5)
        wait_for(lambda: mail.delivered_to_alive() == alive_before + 30, 30, "mail to the alive")
        time.sleep(1.0)  # a bounce of the second send would have come back by now
        assert _delivery(api, second)["bounced"] == 0
        sent_to = api.get(f"{URL}{second}/", params={"field": "emails"}).json()["emails"]
        assert sorted(sent_to) == sorted(DEAD + ALIVE)

    # What Postfix sent back is in Processed, nothing is left in the inbox.
    assert mail.count(bounce) == 0
    assert mail.count(bounce, "INBOX/Processed") == 5
    raw = api.get(f"/api/bounces/{bounced[0]['bounce']['uuid']}/").json()["raw"]
    assert "Undelivered Mail Returned to Sender" in raw and "report-type=delivery-status" in raw

    preview = api.get(
        "/api/broadcast-messages/recipients/",
        params={"additional_recipients": ",".join(DEAD[:2] + ALIVE[:2])},
    ).json()
    marked = {r["email"]: r.get("suppressed", False) for r in preview}
    assert marked == {DEAD[0]: True, DEAD[1]: True, ALIVE[0]: False, ALIVE[1]: False}

    metrics = httpx.get(f"{str(api.base_url).rstrip('/')}/metrics").text
    assert 'herald_bounces_total{kind="hard"} 5.0' in metrics
    assert "herald_suppressed_addresses 5.0" in metrics


def _wait_for_bounces(mail: MailServers, bounce: str, count: int) -> None:
    held = mail.wait_for(bounce, count)
    assert held == count, f"{held} bounce(s) arrived, not {count}"


def test_imap_server_down_is_logged_recorded_and_delivery_goes_on(
    api: httpx.Client,
    database_url: str,
    db: Database,
    mail: MailServers,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bounce = mail.new_mailbox()
    settings = _settings(database_url, mail, bounce)
    mail.stop_imap()
    try:
        with WorkerThread(settings):
            uuid = _send(api, ALIVE[:3] + DEAD[:1])
            wait_for(lambda: _delivery(api, uuid)["status"] == "done", 60, "the send")
            assert _delivery(api, uuid)["sent"] == 4  # delivery did not wait for the mailbox
            wait_for(lambda: "bounce mailbox" in caplog.text, 10, "the logged error")
        assert "cannot connect to the bounce mailbox" in caplog.text
        metrics = httpx.get(f"{str(api.base_url).rstrip('/')}/metrics").text
        assert 'herald_job_last_run_failed{job="bounces"} 1.0' in metrics
        with pytest.raises(MailboxError, match="cannot connect to the bounce mailbox"):
            fetch_bounces(settings, db)
    finally:
        mail.start_imap()
    # Back up: the next round reads the bounce that waited.
    _wait_for_bounces(mail, bounce, 1)
    result = fetch_bounces(settings, db)
    assert result.detail()["recorded"] == 1 and result.suppressed == 1
    assert _delivery(api, uuid)["bounced"] == 1
    metrics = httpx.get(f"{str(api.base_url).rstrip('/')}/metrics").text
    assert 'herald_job_last_run_failed{job="bounces"} 0.0' in metrics


def test_a_refused_password_says_what_to_check(
    database_url: str, db: Database, mail: MailServers
) -> None:
    bounce = mail.new_mailbox()
    settings = _settings(
        database_url, mail, bounce, bounce_imap_url=mail.imap_url(bounce, password="wrong")
    )
    with pytest.raises(MailboxError, match="cannot log in to the bounce mailbox") as refused:
        fetch_bounces(settings, db)
    assert "check the user and password in HERALD_BOUNCE_IMAP_URL" in str(refused.value)
    assert "wrong" not in str(refused.value)  # never the password
    result = herald(
        database_url,
        "bounces",
        "fetch",
        env={
            "HERALD_BOUNCE_ADDRESS": bounce,
            "HERALD_SECRET_KEY": SECRET,
            "HERALD_BOUNCE_IMAP_URL": mail.imap_url(bounce, password="wrong"),
        },
    )
    assert result.returncode == 2
    assert "cannot log in to the bounce mailbox" in result.stderr


def _unrelated(number: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"someone{number}@elsewhere.example"
    message["To"] = "bounces@herald.test"
    message["Subject"] = f"Question {number}"
    message["Message-ID"] = f"<q{number}@elsewhere.example>"
    message.set_content("Is the cluster down tomorrow?")
    return bytes(message)


def test_a_mailbox_of_5000_unrelated_messages_is_read_once_and_left_in_place(
    database_url: str, db: Database, mail: MailServers
) -> None:
    bounce = mail.new_mailbox()
    settings = _settings(database_url, mail, bounce)
    mail.append(bounce, [_unrelated(n) for n in range(5000)])
    first = fetch_bounces(settings, db)
    assert first.read == 5000 and first.moved == 0 and first.detail()["left"] == 5000
    again = fetch_bounces(settings, db)
    assert again.read == 0  # what was left is not read again
    assert mail.count(bounce) == 5000  # nothing moved, nothing deleted
    assert "INBOX/Processed" not in mail.folders(bounce)


def test_forged_tags_auto_replies_and_unrelated_mail_are_left_untouched(
    api: httpx.Client, database_url: str, db: Database, mail: MailServers
) -> None:
    bounce = mail.new_mailbox()
    settings = _settings(database_url, mail, bounce)
    genuine = envelope_sender(bounce, SECRET.encode(), 12345)
    local, _, domain = genuine.partition("@")
    forged = f"{local[:-1]}{'b' if local[-1] != 'b' else 'c'}@{domain}"  # one character off
    report = (FIXTURES / "postfix-user-unknown.eml").read_bytes()
    vacation = (FIXTURES / "vacation-reply.eml").read_bytes()
    mail.append(
        bounce,
        [
            report.replace(b"To: ", f"To: {forged}\r\nX-Was-To: ".encode(), 1),
            vacation.replace(b"To: ", f"To: {genuine}\r\nX-Was-To: ".encode(), 1),
            _unrelated(1),
        ],
    )
    result = fetch_bounces(settings, db)
    assert (result.read, result.moved) == (3, 0)
    assert mail.count(bounce) == 3
    assert api.get("/api/bounces/").json() == []
    assert api.get("/api/suppressions/").json() == []


def test_a_bounce_for_a_message_since_deleted_still_suppresses_the_address(
    api: httpx.Client, database_url: str, db: Database, mail: MailServers
) -> None:
    bounce = mail.new_mailbox()
    # The worker sends with VERP but does not read the mailbox (no IMAP URL).
    settings = _settings(database_url, mail, bounce, bounce_imap_url=None)
    with WorkerThread(settings):
        uuid = _send(api, ["dead-gone@dead.test", ALIVE[0]])
        wait_for(lambda: _delivery(api, uuid)["status"] == "done", 60, "the send")
    _wait_for_bounces(mail, bounce, 1)
    assert api.delete(f"{URL}{uuid}/").status_code == 204
    result = fetch_bounces(_settings(database_url, mail, bounce), db)
    assert result.detail()["recorded"] == 1
    [recorded] = api.get("/api/bounces/").json()
    assert recorded["email"] == "dead-gone@dead.test"
    assert recorded["message_uuid"] == uuid  # from the returned original's Message-ID
    assert [s["email"] for s in api.get("/api/suppressions/").json()] == ["dead-gone@dead.test"]
    assert mail.count(bounce) == 0


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_the_mailbox_is_read_over_tls_and_starttls_with_the_certificate_checked(
    database_url: str, db: Database, mail: MailServers, security: str
) -> None:
    bounce = mail.new_mailbox()
    mail.append(bounce, [_unrelated(1)])
    url = mail.imap_url(bounce, security=security)
    result = fetch_bounces(_settings(database_url, mail, bounce, bounce_imap_url=url), db)
    assert result.read == 1
    untrusted = url.split("cafile=")[0].rstrip("?&")
    with pytest.raises(MailboxError, match="CERTIFICATE_VERIFY_FAILED"):
        fetch_bounces(_settings(database_url, mail, bounce, bounce_imap_url=untrusted), db)


def test_one_process_reads_the_mailbox_at_a_time(
    database_url: str, db: Database, mail: MailServers
) -> None:
    from herald.core.clock import utc_now
    from herald.operations import jobs

    bounce = mail.new_mailbox()
    settings = _settings(database_url, mail, bounce)
    now = utc_now()
    with db.transaction() as session:
        assert jobs.try_lock(session, jobs.Job.BOUNCES, now, now.replace(year=now.year + 1))
    try:
        with pytest.raises(MailboxBusy):
            fetch_bounces(settings, db)
    finally:
        with db.transaction() as session:
            jobs.unlock(session, jobs.Job.BOUNCES)
    assert fetch_bounces(settings, db).read == 0


def test_a_round_that_died_before_moving_records_nothing_twice_and_unreadable_is_kept(
    api: httpx.Client, database_url: str, db: Database, mail: MailServers
) -> None:
    """The crash window: bounces recorded, then the process dies before moving them.
    Injected by putting the handled bounce back in the inbox; the next round finds it
    recorded already and only moves it. A notification for one of our deliveries that
    cannot be read is kept as `unrecognised`, never guessed."""
    bounce = mail.new_mailbox()
    settings = _settings(database_url, mail, bounce, bounce_imap_url=None)
    with WorkerThread(settings):
        uuid = _send(api, ["dead-twice@dead.test"])
        wait_for(lambda: _delivery(api, uuid)["status"] == "done", 60, "the send")
    _wait_for_bounces(mail, bounce, 1)
    reading = _settings(database_url, mail, bounce)
    assert fetch_bounces(reading, db).detail()["recorded"] == 1
    client = mail.imap(bounce)
    try:
        client.select('"INBOX/Processed"')
        assert (
            client.copy("1:*", '"INBOX"')[0] == "OK"
        )  # back where it was: the move never happened
    finally:
        client.logout()
    [delivery_tag] = [
        a for a in api.get("/api/bounces/").json() if a["email"] == "dead-twice@dead.test"
    ]
    garbled = (
        f"To: {envelope_sender(bounce, SECRET.encode(), 1)}\r\nSubject: ?\r\n\r\n"
        "\x00 not a report at all\r\n"
    ).encode()
    mail.append(bounce, [garbled])
    again = fetch_bounces(reading, db, from_start=True)
    assert again.detail()["recorded"] == 0 and again.detail()["unrecognised"] == 1
    assert again.moved == 2 and mail.count(bounce) == 0
    kinds = sorted(b["kind"] for b in api.get("/api/bounces/").json())
    assert kinds == ["hard", "unrecognised"]  # the hard bounce once, not twice
    assert delivery_tag["kind"] == "hard"
    assert _delivery(api, uuid)["bounced"] == 1
