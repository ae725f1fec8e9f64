"""Sending at any size (SPEC 4.1): how long `POST send/` takes to answer, how long
the audience takes to be queued behind it, and how soon a pause stops the mail.

    .venv/bin/python bench/send_bench.py sqlite 100000
    .venv/bin/python bench/send_bench.py postgresql 100000 1000000
    .venv/bin/python bench/send_bench.py pause sqlite 20000
    .venv/bin/python bench/send_bench.py suppressed postgresql 100000 10000
    .venv/bin/python bench/send_bench.py variants sqlite 100000 10

A real `herald serve --no-worker` answers over HTTP (it prepares the rest in
the background after its answer, as in production). The floor is the fastest
way the database can queue that audience: one `INSERT … SELECT` of every
active user's address, no rules, no batches, no window. Targets: the answer
< 1 s at every size; the issue measured the old, all-in-the-request send at
3.0 s (100k) and 32.4 s (1M) on PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_bench import _fresh_database  # noqa: E402
from herald.auth.tokens import create_token  # noqa: E402
from herald.core.db import Database  # noqa: E402
from herald.core.models import User  # noqa: E402
from herald.directory.staff import ensure_staff  # noqa: E402
from herald.migrations.runner import upgrade_to_head  # noqa: E402
from sink import SinkProcess  # noqa: E402

PG_URL = os.environ.get(
    "HERALD_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/herald_bench"
)
URL = "/api/broadcast-messages/"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


TAGS = ["et", "fi", "sv", "nl", "de", "pt", "pt-br", "fr", "es", "it", "pl", "cs"]


def _directory(backend: str, users: int, languages: int = 0) -> tuple[str, Database, str]:
    """A fresh database with `users` active users (bulk-inserted) and a staff token;
    with `languages`, the users' preferred languages spread over that many tags and
    none (SPEC 2.3)."""
    spread = [*TAGS[:languages], ""]
    url = _fresh_database(backend, PG_URL)
    upgrade_to_head(url)
    database = Database(url, statement_timeout=None)
    chunk = 50_000
    for start in range(0, users, chunk):
        rows = [
            {
                "uuid": f"{n:032x}",
                "username": f"u{n}",
                "email": f"user{n}@site{n % 97}.example",
                "full_name": f"User {n}",
                "is_active": n % 50 != 7,
                "is_staff": False,
                "is_support": False,
                "preferred_language": spread[n % len(spread)],
            }
            for n in range(start + 1, min(users, start + chunk) + 1)
        ]
        with database.transaction() as session:
            session.execute(insert(User), rows)
    with database.transaction() as session:
        staff = ensure_staff(session, "staff@portal.example", "Staff", support=False)
        key = create_token(session, staff)
    if not database.is_sqlite:
        with database.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    return url, database, key


def _serve(url: str, port: int, **extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HERALD_DATABASE_URL": url, **extra}
    # HERALD_BENCH_HERALD: another build's `herald` (an older checkout), to compare.
    herald = Path(os.environ.get("HERALD_BENCH_HERALD") or Path(sys.executable).with_name("herald"))
    process = subprocess.Popen(
        [str(herald), "serve", "--no-worker", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("herald serve did not become ready")


def _client(port: int, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Token {key}"}, timeout=600
    )


def _floor(database: Database) -> float:
    """One INSERT … SELECT of every reachable user's address, rolled back."""
    with database.engine.connect() as connection:
        transaction = connection.begin()
        connection.execute(text("DELETE FROM deliveries"))  # the measured send's, rolled back too
        started = time.perf_counter()
        connection.execute(
            text(
                "INSERT INTO deliveries (message_id, message_uuid, email, status, attempts,"
                " next_attempt_at) SELECT :m, 'x', email, 'pending', 0, CURRENT_TIMESTAMP"
                " FROM users WHERE is_active = :yes AND email != ''"
            ),
            {"m": 1, "yes": True},
        )
        elapsed = time.perf_counter() - started
        transaction.rollback()
    return elapsed


def _suppress(database: Database, count: int, users: int) -> None:
    """Suppress `count` addresses of the audience, spread over it (SPEC 4.2)."""
    from herald.core.clock import utc_now
    from herald.core.models import Suppression

    step = max(1, users // count)
    now = utc_now()
    rows = [
        {"key": f"user{n}@site{n % 97}.example", "email": f"user{n}@site{n % 97}.example",
         "reason": "hard", "note": "", "created": now}
        for n in range(1, users + 1, step)
    ][:count]  # fmt: skip
    with database.transaction() as session:
        session.execute(insert(Suppression), rows)


def send_bench(backend: str, users: int, suppressed: int = 0) -> tuple[float, float, int]:
    url, database, key = _directory(backend, users)
    if suppressed:
        _suppress(database, suppressed, users)
    port = _free_port()
    server = _serve(url, port)
    try:
        with _client(port, key) as api:
            started = time.perf_counter()
            created = api.post(
                URL,
                json={"subject": "s", "body": "b", "query": {"all_users": True}},
                params={"field": "uuid"},
            )
            create_s = time.perf_counter() - started
            assert created.status_code == 201, created.text
            uuid = created.json()["uuid"]
            started = time.perf_counter()
            answer = api.post(f"{URL}{uuid}/send/")
            answer_s = time.perf_counter() - started
            assert answer.status_code == 200, answer.text
            while True:
                delivery = api.get(f"{URL}{uuid}/", params={"field": "delivery"}).json()["delivery"]
                if delivery["status"] != "preparing":
                    break
                time.sleep(0.1)
            prepared_s = time.perf_counter() - started
            total = delivery["total"]
            gzip = api.get(f"{URL}{uuid}/", headers={"Accept-Encoding": "gzip"})
            wire = int(gzip.headers.get("content-length", 0) or len(gzip.content))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    floor_s = _floor(database)
    database.dispose()
    print(f"\n== send, {backend}, {users:,} users, all_users ==")
    print(f"  create (emails resolved):  {create_s:8.2f} s")
    print(f"  send answer:               {answer_s:8.3f} s (target < 1 s)")
    print(f"  audience queued after:     {prepared_s:8.2f} s for {total:,} deliveries")
    ratio = floor_s / prepared_s
    encoding = gzip.headers.get("content-encoding")
    print(
        f"  floor, one INSERT…SELECT:  {floor_s:8.2f} s = preparation at {ratio:.0%} of floor speed"
    )
    print(f"  retrieve with gzip:        {wire / 1e6:8.1f} MB on the wire ({encoding})")
    if suppressed:
        print(f"  suppressed (not queued to send): {delivery['suppressed']:,}")
    return answer_s, prepared_s, total


def variants_bench(backend: str, users: int, variants: int, rounds: int = 7) -> None:
    """SPEC 2.3: preparing a message with `variants` translations against the same
    message without, side by side on one server, alternating, `rounds` each: the
    medians compared (one send answer is ~0.1 s, where a busy moment shows)."""
    url, database, key = _directory(backend, users, variants)
    translations = {t: {"subject": f"s [{t}]", "body": f"b [{t}]"} for t in TAGS[:variants]}
    port = _free_port()
    server = _serve(url, port)
    runs: dict[str, list[tuple[float, float]]] = {"none": [], "variants": []}
    try:
        with _client(port, key) as api:
            for round_number in range(rounds):
                # Alternate which goes first: the database's own after-work of a send
                # (autovacuum of 100,000 new rows) falls on both alike.
                order = ("none", "variants") if round_number % 2 == 0 else ("variants", "none")
                for kind in order:
                    body = {"subject": "s", "body": "b", "query": {"all_users": True},
                            "translations": translations if kind == "variants" else {}}  # fmt: skip
                    created = api.post(URL, json=body, params={"field": "uuid"})
                    assert created.status_code == 201, created.text
                    uuid = created.json()["uuid"]
                    started = time.perf_counter()
                    assert api.post(f"{URL}{uuid}/send/").status_code == 200
                    answer_s = time.perf_counter() - started
                    while True:
                        got = api.get(f"{URL}{uuid}/", params={"field": "delivery"}).json()
                        if got["delivery"]["status"] != "preparing":
                            break
                        time.sleep(0.05)
                    runs[kind].append((answer_s, time.perf_counter() - started))
            counts = api.head(f"{URL}{uuid}/deliveries/", params={"language": TAGS[0]}).headers[
                "X-Result-Count"
            ]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    database.dispose()
    best = {
        kind: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs))
        for kind, rs in runs.items()
    }
    print(f"\n== send with {variants} translations vs none, {backend}, {users:,} users ==")
    for index, what in ((0, "send answer, median"), (1, "queued, median")):
        none, some = best["none"][index], best["variants"][index]
        print(f"  {what:16} none {none:7.3f} s, {variants} variants {some:7.3f} s = "
              f"{some / none:.0%} (SPEC 2.3: within 110%)")  # fmt: skip
    print(f"  deliveries queued in {TAGS[0]}: {int(counts):,}")


def suppressed_bench(backend: str, users: int, suppressed: int, rounds: int = 3) -> None:
    """The send path with and without suppressions, alternately (target: within 10%)."""
    plain: list[tuple[float, float, int]] = []
    with_list: list[tuple[float, float, int]] = []
    for _ in range(rounds):
        plain.append(send_bench(backend, users))
        with_list.append(send_bench(backend, users, suppressed))

    def best(runs: list[tuple[float, float, int]], index: int) -> float:
        return min(run[index] for run in runs)

    heading = f"send with {suppressed:,} of {users:,} addresses suppressed, {backend}"
    print(f"\n== {heading}, best of {rounds} ==")
    for label, index in (("send answer", 0), ("audience queued", 1)):
        without, within = best(plain, index), best(with_list, index)
        print(f"  {label:<16} {without:8.3f} s without, {within:8.3f} s with: "
              f"{within / without:6.1%} (target <= 110%)")  # fmt: skip


def pause_bench(backend: str, users: int) -> None:
    """From the pause's answer to the last mail the relay receives."""
    url, database, key = _directory(backend, users)
    port = _free_port()
    sink = SinkProcess(_free_port()).start()
    server = _serve(
        url, port, HERALD_SMTP_URL=f"smtp://127.0.0.1:{sink.port}", HERALD_SMTP_CONCURRENCY="20"
    )
    herald = Path(sys.executable).with_name("herald")
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": url,
        "HERALD_SMTP_URL": f"smtp://127.0.0.1:{sink.port}",
        "HERALD_SMTP_CONCURRENCY": "20",
    }
    worker = subprocess.Popen(
        [str(herald), "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with _client(port, key) as api:
            uuid = api.post(URL, json={"subject": "s", "body": "b", "query": {"all_users": True}},
                            params={"field": "uuid"}).json()["uuid"]  # fmt: skip
            api.post(f"{URL}{uuid}/send/")
            while sink.received < users // 4:
                time.sleep(0.01)
            started = time.perf_counter()
            answer = api.post(f"{URL}{uuid}/pause/")
            answer_s = time.perf_counter() - started
            at_answer = sink.received
            answered = time.time()
            time.sleep(3)
            after = sink.received - at_answer
            last_after = max(0.0, sink.last.value - answered)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        sink.stop()
    print(f"\n== pause, {backend}, {users:,} recipients, 20 connections ==")
    status = answer.json()["delivery"]["status"]
    print(f"  pause answer:                   {answer_s * 1000:6.0f} ms ({status})")
    print(f"  mails received after the answer: {after:5d} (bound: 20, the mails on the wire)")
    print(f"  last mail after the answer:      {last_after * 1000:6.0f} ms")


def _children_rss(pid: int, field: str) -> float:
    """`field` (VmRSS, VmHWM) of the serving process: the child of `herald serve`."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0.0
    for child in children or [str(pid)]:
        for line in Path(f"/proc/{child}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                total += int(line.split()[1]) / 1024
    return total


def list_memory_bench(backend: str, users: int, messages: int) -> None:
    """The server's peak memory while answering one page of all-users messages, emails
    included, gzip accepted: it must not hold the whole page at once."""
    url, database, key = _directory(backend, users)
    port = _free_port()
    server = _serve(url, port)
    try:
        with _client(port, key) as api:
            for _ in range(messages):
                api.post(URL, json={"subject": "s", "body": "b", "query": {"all_users": True}},
                         params={"field": "uuid"})  # fmt: skip
            children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
            for child in children:
                Path(f"/proc/{child}/clear_refs").write_text("5")  # resets the peak (VmHWM)
            before = _children_rss(server.pid, "VmRSS")
            started = time.perf_counter()
            page = api.get(URL, params={"page_size": messages}, headers={"Accept-Encoding": "gzip"})
            took = time.perf_counter() - started
            assert page.status_code == 200 and len(page.json()) == messages
            peak = _children_rss(server.pid, "VmHWM")
            size = sum(len(m["emails"]) for m in page.json())
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    database.dispose()
    print(f"\n== a list page, {backend}, {messages} messages to {users:,} users each ==")
    print(f"  {size:,} addresses in {took:.2f} s; server memory {before:.0f} MB before, "
          f"peak {peak:.0f} MB while answering (+{peak - before:.0f} MB)")  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1] == "list-memory":
        list_memory_bench(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "suppressed":
        suppressed_bench(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "variants":
        variants_bench(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "pause":
        pause_bench(sys.argv[2], int(sys.argv[3]))
    else:
        for size in sys.argv[2:]:
            send_bench(sys.argv[1], int(size))
