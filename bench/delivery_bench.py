"""Delivery benchmark: one message to 20,000 recipients through SMTP, against a floor.

    python bench/delivery_bench.py [--backend sqlite|postgresql|both] [--recipients 20000]
                                   [--concurrency 20] [--skip-lateness] [--messages 1000]
                                   [--kills 10]

The sink is aiosmtpd in a process of its own. The floor pushes the same
number of mails (Herald's own rendering of the same message) through
aiosmtplib directly, over the same number of connections: what the SMTP
path alone costs. Herald is a real `herald worker` process draining the
outbox that `send` filled; its throughput counts from the first mail at the
sink to the moment the last `sent` row is committed, so recording the
outcomes is included. Also measured: end-to-end time from the `send`
commit to the last `sent` row, the worker's peak resident memory, and the
scheduler's lateness (a message due now, to its first mail) at the default
30 s interval and at 1 s.

Also: the worker's resident memory after it has sent `--messages` distinct
messages (each a 100 kB HTML body to two recipients; target < 100 MB), and
what a kill repeats: `--kills` times a worker is killed with SIGKILL in the
middle of a 5,000-recipient send at 20 connections, a second worker drains
the rest, and the mails the sink got beyond one per recipient are counted,
beside the bound (the deliveries the dead worker held at the kill).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiosmtplib
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_bench import PG_DEFAULT, RESULTS, _fresh_database  # noqa: E402
from herald.auth.callers import Caller  # noqa: E402
from herald.broadcasts import sending, service  # noqa: E402
from herald.broadcasts.schemas import parse_message_input  # noqa: E402
from herald.core.db import Database  # noqa: E402
from herald.delivery.mail import render_message  # noqa: E402
from herald.directory.importer import import_document  # noqa: E402
from herald.directory.staff import ensure_staff  # noqa: E402
from herald.migrations.runner import upgrade_to_head  # noqa: E402
from sink import SinkProcess  # noqa: E402

SUBJECT = "Scheduled maintenance of the HPC cluster"
BODY = "Dear user,\n\nThe cluster will be unavailable on Monday from 08:00 to 12:00.\n" * 3
FROM = "noreply@portal.example"
PERSONAL_SUBJECT = "Scheduled maintenance for {{ recipient.full_name }}"
PERSONAL_BODY = "Dear {{ recipient.full_name | default('user', true) }},\n\n" + BODY


# Translations' languages for --variants (SPEC 2.3).
TAGS = ["et", "fi", "sv", "nl", "de", "pt", "pt-br", "fr", "es", "it", "pl", "cs"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _floor(port: int, recipients: list[str], concurrency: int) -> float:
    rendered = render_message(SUBJECT, BODY, FROM)
    chunks = [recipients[n::concurrency] for n in range(concurrency)]

    async def push(addresses: list[str]) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        for number, address in enumerate(addresses):
            await client.sendmail(
                FROM, [address], rendered.for_recipient(address, number, "f" * 32)
            )
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(push(chunk) for chunk in chunks))
    return time.perf_counter() - started


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _worker(url: str, smtp_port: int, concurrency: int, **extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": url,
        "HERALD_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "HERALD_FROM_EMAIL": FROM,
        "HERALD_SMTP_CONCURRENCY": str(concurrency),
        **extra,
    }
    herald = Path(sys.executable).with_name("herald")
    return subprocess.Popen(
        [str(herald), "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(60)


def _pending(database: Database) -> bool:
    """Whether any delivery is still pending: an index probe, so that watching the
    outbox costs the database (which shares the cores) next to nothing."""
    with database.transaction(write=False) as session:
        probe = text("SELECT 1 FROM deliveries WHERE status = 'pending' LIMIT 1")
        return session.execute(probe).first() is not None


def _all_queued(database: Database) -> bool:
    with database.transaction(write=False) as session:
        probe = text("SELECT 1 FROM broadcast_messages WHERE prepared = false LIMIT 1")
        return session.execute(probe).first() is None


def _create(database: Database, author: object, query: dict[str, object], **extra: object) -> str:
    today = datetime.date.today()
    fields = {"subject": SUBJECT, "body": BODY, "query": query, **extra}
    data = parse_message_input(fields, partial=False, today=today)
    with database.transaction() as session:
        return str(service.create_message(session, Caller(author), data).uuid)  # type: ignore[arg-type]


def _prepared(
    backend: str, pg_url: str, users: list[dict[str, object]]
) -> tuple[str, Database, object]:
    """A fresh, migrated database holding `users` and a staff author: (url, database, author)."""
    url = _fresh_database(backend, pg_url)
    upgrade_to_head(url)
    database = Database(url, statement_timeout=None)  # a 1M-user import takes minutes
    with database.transaction() as session:
        if users:
            import_document(session, {"users": users})
        author = ensure_staff(session, "staff@portal.example", "Staff", support=False)
    return url, database, author


def bench(
    backend: str,
    total: int,
    concurrency: int,
    lateness: bool,
    pg_url: str,
    plain_only: bool = False,
    variants: int = 0,
) -> None:
    sink = SinkProcess(_free_port()).start()
    try:
        users: list[dict[str, object]] = [
            {
                "uuid": f"{n:032x}",
                "username": f"u{n}",
                "email": f"user{n}@site{n % 89}.example",
                "full_name": f"User Number {n}",
                # With --variants: readers spread over the translations' languages and none.
                "preferred_language": (TAGS[:variants] + [""])[n % (variants + 1)]
                if variants
                else "",
            }
            for n in range(1, total)
        ]
        url, database, author = _prepared(backend, pg_url, users)
        addresses = [str(u["email"]) for u in users] + ["staff@portal.example"]

        floor_s = asyncio.run(_floor(sink.port, addresses, concurrency))
        assert sink.received == total, sink.received
        floor_rate = total / floor_s
        sink.reset()

        runs = {}
        kinds = [("plain", SUBJECT, BODY), ("personalised", PERSONAL_SUBJECT, PERSONAL_BODY)]
        kinds = kinds[:1] if plain_only else kinds
        if variants:
            # One language, then the variants, then one language again: the database
            # grows with each run, so the variants are held to the mean of the runs on
            # either side of them rather than to the first.
            kinds += [(f"{variants} variants", SUBJECT, BODY), ("plain again", SUBJECT, BODY)]
        for kind, subject, body in kinds:
            sink.reset()
            worker = _worker(url, sink.port, concurrency)
            time.sleep(2.0)  # started and idle
            translations = (
                {tag: {"subject": f"{SUBJECT} [{tag}]", "body": f"{BODY} [{tag}]"}
                 for tag in TAGS[:variants]}
                if kind.endswith("variants") else {}
            )  # fmt: skip
            uuid = _create(
                database, author, {"all_users": True}, subject=subject, body=body,
                translations=translations,
            )  # fmt: skip
            sent_at = time.time()
            with database.transaction() as session:
                sending.send_message(session, uuid, datetime.date.today())
            send_commit_s = time.time() - sent_at
            # The worker process queues the rest of the audience (SPEC 4.1).
            while _pending(database) or not _all_queued(database):
                time.sleep(0.05)
            done = time.time()
            peak_mb = _peak_rss_mb(worker.pid)
            _stop(worker)
            assert sink.received >= total, sink.received
            runs[kind] = {
                "rate": total / (done - sink.first.value),
                "send_ms": send_commit_s * 1000,
                "end_to_end_s": done - sent_at,
                "peak_mb": peak_mb,
                "repeats": sink.received - total,
            }
        plain = runs["plain"]
        print(f"\n== delivery, {backend}, {total:,} recipients, {concurrency} connections ==")
        print(f"  floor (aiosmtplib direct):       {floor_rate:8.0f} mails/s ({floor_s:.1f} s)")
        print(
            f"  Herald worker:                   {plain['rate']:8.0f} mails/s "
            f"= {plain['rate'] / floor_rate:.0%} of floor (target >= 75%)"
        )
        if variants:
            with_variants = runs[f"{variants} variants"]
            around = [plain, runs["plain again"]]
            rate = statistics.mean(r["rate"] for r in around)
            took = statistics.mean(r["end_to_end_s"] for r in around)
            print(
                f"  Herald, {variants} variants:          {with_variants['rate']:8.0f} mails/s "
                f"= {with_variants['rate'] / rate:.0%} of one language (before and after); "
                f"end to end {with_variants['end_to_end_s'] / took:.0%} of its time "
                "(SPEC 2.3: within 110%)"
            )
        if "personalised" in runs:
            personal = runs["personalised"]
            print(
                f"  Herald, personalised:            {personal['rate']:8.0f} mails/s "
                f"= {personal['rate'] / plain['rate']:.0%} of unpersonalised (target >= 80%)"
            )
        for kind, run in runs.items():
            print(
                f"  {kind:>12}: send {run['send_ms']:.0f} ms, "
                f"end to end {run['end_to_end_s']:.1f} s,"
                f" worker peak {run['peak_mb']:.0f} MB (target < 100), repeats {run['repeats']}"
            )

        if lateness:
            for interval, samples in (("30", 3), ("1", 5)):
                worker = _worker(url, sink.port, concurrency, HERALD_SCHEDULER_INTERVAL=interval)
                time.sleep(2.0)
                lags = []
                for _ in range(samples):
                    # due at a random moment of the scheduler's cycle
                    time.sleep(random.uniform(0, float(interval)))
                    sink.reset()
                    today = datetime.date.today().isoformat()
                    uuid = _create(
                        database,
                        author,
                        {"additional_recipients": ["late@site.example"]},
                        send_at=today,
                    )
                    with database.transaction() as session:
                        service.schedule_message(
                            session,
                            Caller(author),
                            uuid,
                            datetime.date.today(),  # type: ignore[arg-type]
                        )
                    due = time.time()
                    while not sink.received:
                        time.sleep(0.01)
                    lags.append(sink.first.value - due)
                _stop(worker)
                print(
                    f"  scheduler lateness at {interval:>2} s interval: "
                    "median "
                    f"{statistics.median(lags):.2f} s, max {max(lags):.2f} s "
                    f"over {samples} messages"
                )
        database.dispose()
    finally:
        sink.stop()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _held(database: Database) -> int:
    with database.transaction(write=False) as session:
        probe = text(
            "SELECT count(*) FROM deliveries WHERE status = 'pending'"
            " AND lease_expires_at IS NOT NULL"
        )
        return int(session.execute(probe).scalar_one())


def memory_bench(backend: str, messages: int, pg_url: str) -> None:
    """Worker memory after many distinct messages: it must not grow with their number."""
    sink = SinkProcess(_free_port()).start()
    try:
        url, database, author = _prepared(backend, pg_url, [])
        worker = _worker(url, sink.port, 20)
        time.sleep(2.0)
        idle_mb = _rss_mb(worker.pid)
        big = "<p>" + "Maintenance notes, line after line. " * 2800 + "</p>"  # about 100 kB
        today = datetime.date.today()
        for number in range(messages):
            query = {"additional_recipients": [f"a{number}@m.example", f"b{number}@m.example"]}
            uuid = _create(database, author, query, body=f"<h1>Notice {number}</h1>{big}")
            with database.transaction() as session:
                sending.send_message(session, uuid, today)
        while _pending(database) or not _all_queued(database):
            time.sleep(0.1)
        after_mb, peak_mb = _rss_mb(worker.pid), _peak_rss_mb(worker.pid)
        _stop(worker)
        assert sink.received >= 2 * messages, sink.received
        print(f"\n== worker memory, {backend}, {messages:,} messages of 100 kB HTML ==")
        print(
            f"  idle {idle_mb:.0f} MB, after {after_mb:.0f} MB, peak {peak_mb:.0f} MB "
            "(target < 100 MB)"
        )
        database.dispose()
    finally:
        sink.stop()


def kill_bench(backend: str, kills: int, pg_url: str, recipients: int = 5000) -> None:
    """How many mails a SIGKILL repeats, at 20 connections, against the bound."""
    sink = SinkProcess(_free_port()).start()
    try:
        users: list[dict[str, object]] = [
            {"uuid": f"{n:032x}", "username": f"u{n}", "email": f"user{n}@k.example"}
            for n in range(1, recipients)
        ]
        url, database, author = _prepared(backend, pg_url, users)
        repeats, bounds = [], []
        fast = {"HERALD_LEASE_SECONDS": "2", "HERALD_POLL_INTERVAL": "0.1"}
        for _ in range(kills):
            sink.reset()
            uuid = _create(database, author, {"all_users": True})
            with database.transaction() as session:
                sending.send_message(session, uuid, datetime.date.today())
            worker = _worker(url, sink.port, 20, **fast)
            target = random.randint(recipients // 5, recipients // 2)
            while sink.received < target:
                time.sleep(0.002)
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            bounds.append(_held(database))
            second = _worker(url, sink.port, 20, **fast)
            while _pending(database) or not _all_queued(database):
                time.sleep(0.05)
            _stop(second)
            repeats.append(sink.received - recipients)
        print(f"\n== kill -9 mid-send, {backend}, {kills} kills at 20 connections ==")
        print(
            f"  repeats per kill: mean {statistics.mean(repeats):.1f}, max {max(repeats)}"
            f" (each: {repeats}); bound (deliveries held at the kill): mean"
            f" {statistics.mean(bounds):.1f}, max {max(bounds)}"
        )
        assert all(r <= b for r, b in zip(repeats, bounds, strict=True)), (repeats, bounds)
        database.dispose()
    finally:
        sink.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--skip-lateness", action="store_true")
    parser.add_argument("--plain-only", action="store_true", help="skip the personalised run")
    parser.add_argument(
        "--variants", type=int, default=0, help="also a message with N translations (SPEC 2.3)"
    )
    parser.add_argument("--messages", type=int, default=1000, help="0 skips the memory run")
    parser.add_argument("--kills", type=int, default=10, help="0 skips the kill run")
    parser.add_argument("--pg-url", default=os.environ.get("HERALD_BENCH_DATABASE_URL", PG_DEFAULT))
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        if args.recipients:
            bench(
                backend,
                args.recipients,
                args.concurrency,
                not args.skip_lateness,
                args.pg_url,
                args.plain_only,
                args.variants,
            )
        if args.messages:
            memory_bench(backend, args.messages, args.pg_url)
        if args.kills:
            kill_bench(backend, args.kills, args.pg_url)


if __name__ == "__main__":
    main()
