"""Reading bounces from a real mailbox (SPEC 4.2): `herald bounces fetch` over IMAP from
Debian's Dovecot, holding 10,000 delivery status notifications shaped exactly like
the ones Postfix sends (tests/mailservers.py runs the servers; root and `make
mailservers` needed), each naming one sent delivery by its VERP address.

    .venv/bin/python bench/bounce_bench.py sqlite 10000
    .venv/bin/python bench/bounce_bench.py postgresql 10000

Targets (issue 18): 10,000 bounces handled in under 60 s, the process under
150 MB. The floor is only reading the same messages over IMAP (imaplib, the same
chunks, no judging, no database, no moving): what any reader must pay.
"""

from __future__ import annotations

import imaplib
import os
import subprocess
import sys
import time
import uuid as uuid_module
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from tests.mailservers import NOBODY, PASSWORD, MailServers, running  # noqa: E402

from api_bench import _fresh_database  # noqa: E402
from herald.core.db import Database  # noqa: E402
from herald.core.models import (  # noqa: E402
    Bounce,
    BroadcastMessage,
    Delivery,
    MessageState,
    Suppression,
)
from herald.delivery.verp import envelope_sender  # noqa: E402
from herald.migrations.runner import upgrade_to_head  # noqa: E402

PG_URL = os.environ.get(
    "HERALD_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/herald_bench"
)
SECRET = "bench-secret-key-0123456789abcdef"

# A Postfix bounce as it arrives (the shape tests/bounces/fixtures/ and the real
# Postfix in the tests produce): report, delivery status, returned original.
REPORT = """\
Return-Path: <>
Delivered-To: {verp}
Date: {date}
From: MAILER-DAEMON@mail.relay.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {verp}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="B{n}/mail.relay.example"
Message-Id: <{n}.bounce@mail.relay.example>

This is a MIME-encapsulated message.

--B{n}/mail.relay.example
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mail.relay.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<{email}>: host mx.dead.example said: 550 5.1.1 <{email}>: Recipient address
    rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)

--B{n}/mail.relay.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.relay.example
X-Postfix-Queue-ID: Q{n}
X-Postfix-Sender: rfc822; {verp}
Arrival-Date: {date}

Final-Recipient: rfc822; {email}
Original-Recipient: rfc822;{email}
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.dead.example
Diagnostic-Code: smtp; 550 5.1.1 <{email}>: Recipient address rejected: User
    unknown in virtual mailbox table

--B{n}/mail.relay.example
Content-Description: Undelivered Message
Content-Type: message/rfc822

Return-Path: <{verp}>
From: noreply@portal.example
To: {email}
Subject: Maintenance on Saturday
Message-ID: <{delivery}.{message}@portal.example>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"

The cluster is down on Saturday from 8 to 12.

--B{n}/mail.relay.example--
"""


def _sent_deliveries(database: Database, count: int) -> tuple[str, list[tuple[int, str]]]:
    """One sent message with `count` sent deliveries; returns its uuid and (id, address)."""
    message_uuid = uuid_module.uuid4().hex
    now = datetime.now(UTC).replace(tzinfo=None)
    with database.transaction() as session:
        message_id = session.execute(
            insert(BroadcastMessage)
            .values(uuid=message_uuid, created=now, subject="s", body="b", query="{}",
                    emails="[]", author_full_name="", state=MessageState.SENT, sent=now)
            .returning(BroadcastMessage.id)
        ).scalar_one()  # fmt: skip
        rows = [
            {"message_id": message_id, "message_uuid": message_uuid,
             "email": f"dead{n}@dead.example", "status": "sent", "attempts": 1,
             "next_attempt_at": now, "sent_at": now}
            for n in range(count)
        ]  # fmt: skip
        session.execute(insert(Delivery), rows)
        found = session.execute(
            select(Delivery.id, Delivery.email).where(Delivery.message_id == message_id)
        ).all()
    return message_uuid, [(row.id, row.email) for row in found]


def _fill_mailbox(
    mail: MailServers, bounce: str, message: str, sent: list[tuple[int, str]]
) -> None:
    """Each report written into the Maildir, as Postfix's virtual(8) delivers it."""
    folder = mail.root / "mail" / bounce.partition("@")[0]
    for part in ("", "new", "cur", "tmp"):
        (folder / part).mkdir(exist_ok=True)
        os.chown(folder / part, NOBODY, NOBODY)
    date = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    for n, (delivery_id, email) in enumerate(sent):
        verp = envelope_sender(bounce, SECRET.encode(), delivery_id)
        text = REPORT.format(verp=verp, date=date, n=n, email=email, delivery=delivery_id,
                             message=message)  # fmt: skip
        path = folder / "new" / f"{int(time.time())}.B{n}.bench"
        path.write_bytes(text.replace("\n", "\r\n").encode())
        os.chown(path, NOBODY, NOBODY)


def _floor(mail: MailServers, bounce: str) -> tuple[float, int]:
    """Only reading every message over IMAP, in the chunks Herald uses."""
    started = time.perf_counter()
    client = imaplib.IMAP4("127.0.0.1", mail.imap_port, timeout=60)
    client.login(bounce.partition("@")[0], PASSWORD)
    client.select('"INBOX"', readonly=True)
    _kind, data = client.uid("SEARCH", "ALL")
    uids = data[0].split()
    size = 0
    for start in range(0, len(uids), 200):
        _kind, fetched = client.uid("FETCH", b",".join(uids[start : start + 200]), "(BODY.PEEK[])")
        size += sum(len(item[1]) for item in fetched if isinstance(item, tuple))
    client.logout()
    return time.perf_counter() - started, size


def bench(backend: str, count: int) -> None:
    url = _fresh_database(backend, PG_URL)
    upgrade_to_head(url)
    database = Database(url, statement_timeout=None)
    for mail in running():
        bounce = mail.new_mailbox()
        message, sent = _sent_deliveries(database, count)
        _fill_mailbox(mail, bounce, message, sent)
        held = mail.count(bounce)
        floor_s, size = _floor(mail, bounce)
        herald = Path(sys.executable).with_name("herald")
        env = {
            **os.environ,
            "HERALD_DATABASE_URL": url,
            "HERALD_BOUNCE_ADDRESS": bounce,
            "HERALD_SECRET_KEY": SECRET,
            "HERALD_BOUNCE_IMAP_URL": mail.imap_url(bounce),
        }
        started = time.perf_counter()
        process = subprocess.Popen([str(herald), "bounces", "fetch"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        _pid, status, usage = os.wait4(process.pid, 0)
        fetch_s = time.perf_counter() - started
        output = (process.stdout.read() if process.stdout else b"").decode()
        errors = (process.stderr.read() if process.stderr else b"").decode()
        assert status == 0, errors
        with database.transaction(write=False) as session:
            bounces = session.scalar(select(func.count()).select_from(Bounce))
            suppressed = session.scalar(select(func.count()).select_from(Suppression))
            bounced = session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.status == "bounced")
            )
        left, processed = mail.count(bounce), mail.count(bounce, "INBOX/Processed")
        rss_mb = usage.ru_maxrss / 1024
        print(f"\n== bounce mailbox, {backend}, {held:,} reports ({size / 1e6:.1f} MB) ==")
        rate = held / fetch_s
        print(f"  herald bounces fetch:   {fetch_s:7.2f} s (target < 60 s), {rate:,.0f} bounces/s,"
              f" peak RSS {rss_mb:.0f} MB (target < 150 MB)")  # fmt: skip
        share = floor_s / fetch_s
        print(f"  floor, IMAP read only:  {floor_s:7.2f} s = fetch at {share:.0%} of floor")
        print(f"  recorded {bounces:,} bounces, {bounced:,} deliveries bounced, {suppressed:,} "
              f"suppressed; {processed:,} moved to Processed, {left:,} left")  # fmt: skip
        print(f"  herald said: {output.strip()}")
    database.dispose()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for size in sys.argv[2:] or ["10000"]:
        bench(sys.argv[1], int(size))
