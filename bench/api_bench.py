"""API benchmark: Herald on the directory Waldur's implementation was measured on, and at 10x.

    python bench/api_bench.py [--backend sqlite|postgresql|both] [--size 10k|100k|both]
                              [--workers 2] [--seconds 10]
    python bench/api_bench.py --tokens [--backend ...] [--seconds 10]
    python bench/api_bench.py --sessions [--backend ...] [--seconds 10]
    python bench/api_bench.py --scoped [--backend ...] [--size ...] [--seconds 10]

For each database and size: generate the directory, import it with Herald's
importer, store a message history, start `herald serve --workers N` as real
server processes, and measure over HTTP on 127.0.0.1. Figures are printed
beside the issue's target, Waldur's reference figure on the same directory,
and a floor measured in the same run: the same server answering an
unauthenticated request (routing, middleware and a 401, no database work),
which is as fast as any endpoint of this server can be.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import SIZES, directory, store_messages  # noqa: E402
from herald.auth.tokens import create_token  # noqa: E402
from herald.core.db import Database  # noqa: E402
from herald.directory.importer import import_document  # noqa: E402
from herald.directory.staff import ensure_staff  # noqa: E402
from herald.migrations.runner import upgrade_to_head  # noqa: E402
from loadgen import run_load  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/herald_bench"
LIST = "/api/broadcast-messages/"
RECIPIENTS = "/api/broadcast-messages/recipients/"

# Waldur MasterMind (Django/DRF, 2 gunicorn workers, PostgreSQL) on the 10k directory.
WALDUR = {
    "list_rps": 17.0,
    "recipients_all_users_s": 3.6,
    "recipients_two_offerings_s": 0.55,
    "create_all_users_s": 3.2,
    "create_five_offerings_s": 1.6,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fresh_database(backend: str, pg_url: str) -> str:
    if backend == "sqlite":
        path = RESULTS / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(pg_url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parsed.database}"')
    return pg_url


def _timed(call: Callable[[], httpx.Response], runs: int, status: int) -> dict[str, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = call()
        times.append(time.perf_counter() - started)
        assert response.status_code == status, (response.status_code, response.text[:300])
    return {"median_s": statistics.median(times), "min_s": min(times), "runs": runs}


class Server:
    def __init__(self, database_url: str, workers: int, **env: str) -> None:
        self.port = _free_port()
        herald = Path(sys.executable).with_name("herald")
        self.process = subprocess.Popen(
            [str(herald), "serve", "--port", str(self.port), "--workers", str(workers)],
            env={**os.environ, "HERALD_DATABASE_URL": database_url, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/api/schema/").status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def bench(
    backend: str, size_name: str, workers: int, seconds: float, pg_url: str
) -> dict[str, Any]:
    size = SIZES[size_name]
    url = _fresh_database(backend, pg_url)
    upgrade_to_head(url)
    database = Database(url)
    document = directory(size)
    started = time.perf_counter()
    with database.transaction() as session:
        import_document(session, document)
    import_s = time.perf_counter() - started
    with database.transaction() as session:
        staff = ensure_staff(session, "bench@herald.example", "Bench Staff", support=False)
        token = create_token(session, staff)
    store_messages(database, size, staff)
    database.dispose()

    top_level = [o["uuid"] for o in document["offerings"] if o["parent"] is None]
    figures: dict[str, Any] = {
        "backend": backend,
        "size": size_name,
        "workers": workers,
        "import_s": import_s,
        "import_rows": sum(len(v) for v in document.values()),
    }
    server = Server(url, workers)
    base = f"http://127.0.0.1:{server.port}"
    try:
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Token {token}"}, timeout=120
        ) as client:
            floor = run_load(server.port, LIST, None, 8, seconds, expect_status=401)
            listing = run_load(server.port, f"{LIST}?page_size=50", token, 8, seconds)
            figures["floor_rps"] = floor.rate
            figures["list_rps"] = listing.rate
            figures["list_p50_ms"] = listing.p50 * 1000
            figures["list_p99_ms"] = listing.percentile(0.99) * 1000
            figures["list_errors"] = listing.errors + floor.errors
            runs = 5 if size_name == "10k" else 3
            figures["recipients_all_users"] = _timed(
                lambda: client.get(RECIPIENTS, params={"all_users": "true"}), runs, 200
            )
            figures["recipients_count_all_users"] = _timed(
                lambda: client.head(RECIPIENTS, params={"all_users": "true"}), runs, 200
            )
            figures["recipients_two_offerings"] = _timed(
                lambda: client.get(RECIPIENTS, params={"offerings": top_level[:2]}), runs, 200
            )
            figures["create_all_users"] = _timed(
                lambda: client.post(
                    LIST, json={"subject": "All", "body": "b", "query": {"all_users": True}}
                ),
                runs,
                201,
            )
            figures["create_five_offerings"] = _timed(
                lambda: client.post(
                    LIST,
                    json={"subject": "Five", "body": "b", "query": {"offerings": top_level[:5]}},
                ),
                runs,
                201,
            )
            count = client.head(RECIPIENTS, params={"all_users": "true"})
            figures["all_users_recipients"] = int(count.headers["X-Result-Count"])
    finally:
        server.stop()
    return figures


def token_bench(backend: str, workers: int, seconds: float, pg_url: str) -> None:
    """The token check (SPEC 8), side by side: the list endpoint with Herald's own
    token, Waldur tokens off (before) and on (after), and with a Waldur token
    (checked with a Waldur-shaped server's users/me, cached 60 s)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.waldur_replay import FakeWaldur

    url = _fresh_database(backend, pg_url)
    upgrade_to_head(url)
    database = Database(url)
    with database.transaction() as session:
        import_document(session, directory(SIZES["10k"]))
        staff = ensure_staff(session, "bench@herald.example", "Bench Staff", support=False)
        token = create_token(session, staff)
    database.dispose()
    waldur = FakeWaldur().start()
    peer = next(u for u in waldur.collections["/api/users/"] if u["is_staff"])
    waldur.user_tokens = {"waldur-token-0123456789": peer["uuid"]}
    path = f"{LIST}?page_size=10"
    rows = []
    try:
        for label, env, key in (
            ("Herald token, Waldur tokens off (before)", {}, token),
            ("Herald token, Waldur tokens on", {"HERALD_WALDUR_AUTH": "true"}, token),
            ("Waldur token (cached 60 s)", {"HERALD_WALDUR_AUTH": "true"},
             "waldur-token-0123456789"),
        ):  # fmt: skip
            server = Server(url, workers, HERALD_WALDUR_URL=waldur.url, **env)
            asked_before = sum(1 for p, _ in waldur.requests if p == "/api/users/me/")
            try:
                result = run_load(server.port, path, key, 8, seconds)
            finally:
                server.stop()
            asked = sum(1 for p, _ in waldur.requests if p == "/api/users/me/") - asked_before
            rows.append((label, result.rate, result.p50 * 1000, result.errors, asked))
    finally:
        waldur.stop()
    print(f"\n== token check, {backend}, 10k directory, {workers} server processes ==")
    for label, rate, p50, errors, asked in rows:
        print(f"  {label:<42} {rate:7.0f} req/s  p50 {p50:5.1f} ms  errors {errors}"
              f"  calls to Waldur {asked}")  # fmt: skip


def session_bench(backend: str, workers: int, seconds: float, pg_url: str) -> None:
    """Console sessions (SPEC 8, 8.1), side by side: the list endpoint with a Herald
    token, a session opened with that token, and a session opened through the
    OpenID provider (panva's oidc-provider, as in the tests); then the sign-in
    round trip through the provider and the share of it spent in Herald."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.oidc.browser import HttpBrowser
    from tests.oidc.provider import CLIENT_ID, CLIENT_SECRET, OidcProvider

    url = _fresh_database(backend, pg_url)
    upgrade_to_head(url)
    database = Database(url)
    with database.transaction() as session:
        import_document(session, directory(SIZES["10k"]))
        staff = ensure_staff(session, "ada@herald.example", "Ada Staff", support=False)
        staff.username = "ada"  # what the provider's preferred_username names
        token = create_token(session, staff)
    database.dispose()
    provider_port = _free_port()
    server = Server(
        url, workers, HERALD_OIDC_ISSUER=f"http://127.0.0.1:{provider_port}",
        HERALD_OIDC_CLIENT_ID=CLIENT_ID, HERALD_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        HERALD_OIDC_USER_CLAIM="preferred_username",
    )  # fmt: skip
    base = f"http://127.0.0.1:{server.port}"
    provider = OidcProvider(base, provider_port).start()
    path = f"{LIST}?page_size=10"
    try:
        with httpx.Client(base_url=base, headers={"Sec-Fetch-Site": "same-origin"}) as client:
            assert client.post("/api/session/", json={"token": token}).status_code == 204
            token_cookie = f"herald_session={client.cookies['herald_session']}"

        def sign_in() -> tuple[float, float, str]:
            """(whole round trip, the part in Herald's answers, the session cookie)."""
            browser = HttpBrowser()
            try:
                started = time.perf_counter()
                page = browser.go(f"{base}/api/session/oidc/")
                page = browser.submit(page, {"login": "ada-sub", "password": "x"})
                if 'value="consent"' in page.text:
                    page = browser.submit(page)
                took = time.perf_counter() - started
                assert page.status_code == 200 and str(page.url) == f"{base}/", page.text[:200]
                herald = sum(
                    r.elapsed.total_seconds() for r in browser.history
                    if str(r.url).startswith(base)
                )  # fmt: skip
                return took, herald, f"herald_session={browser.http.cookies['herald_session']}"
            finally:
                browser.close()

        sign_in()  # the provider's configuration and keys read once
        trips = [sign_in() for _ in range(20)]
        oidc_cookie = trips[-1][2]
        rows = []
        for label, key, cookie in (
            ("Herald token (Authorization header)", token, None),
            ("console session opened with the token", None, token_cookie),
            ("console session opened through the provider", None, oidc_cookie),
        ):
            result = run_load(server.port, path, key, 8, seconds, cookie=cookie)
            rows.append((label, result.rate, result.p50 * 1000, result.errors))
    finally:
        provider.stop()
        server.stop()
    print(f"\n== console sessions, {backend}, 10k directory, {workers} server processes ==")
    floor = rows[0][1]
    for label, rate, p50, errors in rows:
        print(f"  {label:<46} {rate:7.0f} req/s  p50 {p50:5.1f} ms  errors {errors}"
              f"  {rate / floor:5.0%} of the token's")  # fmt: skip
    whole = statistics.median(t[0] for t in trips)
    in_herald = statistics.median(t[1] for t in trips)
    print(f"  sign-in round trip through the provider (median of {len(trips)}): "
          f"{whole * 1000:.0f} ms, of which Herald's answers {in_herald * 1000:.0f} ms "
          f"({in_herald / whole:.0%}; with Herald's own calls to the provider)")  # fmt: skip


def scoped_bench(backend: str, size_name: str, workers: int, seconds: float, pg_url: str) -> None:
    """A scoped sender (SPEC 9) side by side with staff: list, retrieve, the recipients
    preview and create, on the same directory. The scope check is one more indexed
    query per request; the audience is the same resolver's."""
    url = _fresh_database(backend, pg_url)
    upgrade_to_head(url)
    database = Database(url)
    document = directory(SIZES[size_name])
    # Every tenth customer provides the offerings with its number's last digit.
    customers = [c["uuid"] for c in document["customers"]]
    for n, offering in enumerate(document["offerings"]):
        offering["customer"] = customers[(n % 10) * 10]
    provider = customers[0]
    mine = [o["uuid"] for n, o in enumerate(document["offerings"]) if n % 10 == 0][:2]
    owner = document["users"][0]["uuid"]
    document["customer_roles"].append({"user": owner, "customer": provider, "role": "owner"})
    with database.transaction() as session:
        import_document(session, document)
        staff = ensure_staff(session, "bench@herald.example", "Bench Staff", support=False)
        staff_token = create_token(session, staff)
        from herald.core.models import User

        sender = session.get(User, owner)
        assert sender is not None
        sender_token = create_token(session, sender)
    database.dispose()
    server = Server(url, workers, HERALD_SCOPED_SENDERS="providers")
    base = f"http://127.0.0.1:{server.port}"
    rows = []
    try:
        for label, token in (("staff", staff_token), ("provider (scoped)", sender_token)):
            with httpx.Client(
                base_url=base, headers={"Authorization": f"Token {token}"}, timeout=120
            ) as client:
                made = client.post(LIST, json={"subject": "Mine", "body": "b",
                                               "query": {"offerings": mine}})  # fmt: skip
                assert made.status_code == 201, made.text
                uuid = made.json()["uuid"]
                listing = run_load(server.port, f"{LIST}?page_size=10", token, 8, seconds)
                retrieve = run_load(
                    server.port, f"{LIST}{uuid}/?field=uuid&field=state", token, 8, seconds
                )
                preview = _timed(
                    lambda client=client: client.get(RECIPIENTS, params={"offerings": mine}),
                    5, 200,
                )  # fmt: skip
                create = _timed(
                    lambda client=client: client.post(
                        LIST, json={"subject": "s", "body": "b", "query": {"offerings": mine}}
                    ),
                    5, 201,
                )  # fmt: skip
                rows.append((label, listing.rate, retrieve.rate, preview["median_s"] * 1000,
                             create["median_s"] * 1000))  # fmt: skip
    finally:
        server.stop()
    print(f"\n== scoped senders, {backend}, {size_name} directory, {workers} server processes ==")
    print(f"  {'caller':<20} {'list req/s':>11} {'retrieve req/s':>15} {'preview ms':>11}"
          f" {'create ms':>10}")  # fmt: skip
    for label, list_rate, get_rate, preview_ms, create_ms in rows:
        print(f"  {label:<20} {list_rate:11.0f} {get_rate:15.0f} {preview_ms:11.1f}"
              f" {create_ms:10.1f}")  # fmt: skip
    staff_row, scoped_row = rows
    print(f"  scoped / staff: list {scoped_row[1] / staff_row[1]:.0%}, retrieve "
          f"{scoped_row[2] / staff_row[2]:.0%}, preview {scoped_row[3] / staff_row[3]:.0%} of "
          f"the time, create {scoped_row[4] / staff_row[4]:.0%} of the time")  # fmt: skip


def _row(label: str, value: str, target: str, versus: str) -> str:
    return f"  {label:<42} {value:>14}  {target:<16} {versus}"


def report(f: dict[str, Any]) -> None:
    ms = lambda key: f[key]["median_s"] * 1000  # noqa: E731
    print(f"\n== {f['backend']}, {f['size']} directory, {f['workers']} server processes ==")
    print(f"  import of {f['import_rows']:,} directory rows: {f['import_s']:.1f} s")
    print(f"  all-users audience: {f['all_users_recipients']:,} addresses")
    print(_row("measure", "Herald", "target", "vs Waldur / vs floor"))
    ten = f["size"] == "10k"
    print(
        _row(
            "floor: unauthenticated 401, 8 clients",
            f"{f['floor_rps']:.0f} req/s",
            "",
            "",
        )
    )
    print(
        _row(
            "GET list page_size=50, 8 clients",
            f"{f['list_rps']:.0f} req/s",
            ">= 500 req/s" if ten else "",
            (f"{f['list_rps'] / WALDUR['list_rps']:.0f}x Waldur; " if ten else "")
            + f"{f['list_rps'] / f['floor_rps']:.0%} of floor",
        )
    )
    print(_row("  list p50 / p99", f"{f['list_p50_ms']:.1f}/{f['list_p99_ms']:.1f} ms", "", ""))
    for key, label, target_ms, waldur_key in (
        (
            "recipients_all_users",
            "GET recipients all_users (page 1)",
            100 if ten else None,
            "recipients_all_users_s",
        ),
        (
            "recipients_count_all_users",
            "HEAD recipients all_users (count)",
            None if ten else 500,
            None,
        ),
        (
            "recipients_two_offerings",
            "GET recipients two offerings",
            50 if ten else None,
            "recipients_two_offerings_s",
        ),
        (
            "create_all_users",
            "POST create all-users message",
            150 if ten else 1500,
            "create_all_users_s",
        ),
        (
            "create_five_offerings",
            "POST create five-offering message",
            None,
            "create_five_offerings_s",
        ),
    ):
        value = ms(key)
        target = f"< {target_ms} ms" if target_ms else ""
        met = "" if not target_ms else (" MET" if value < target_ms else " MISSED")
        versus = ""
        if ten and waldur_key:
            versus = f"{WALDUR[waldur_key] * 1000 / value:.0f}x faster than Waldur"
        print(_row(label, f"{value:.1f} ms", target + met, versus))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--size", choices=["10k", "100k", "both"], default="both")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pg-url", default=os.environ.get("HERALD_BENCH_DATABASE_URL", PG_DEFAULT))
    parser.add_argument("--tokens", action="store_true", help="only the token check (SPEC 8)")
    parser.add_argument(
        "--sessions", action="store_true", help="only console sessions and OIDC sign-in (8.1)"
    )
    parser.add_argument(
        "--scoped", action="store_true", help="only scoped senders beside staff (SPEC 9)"
    )
    args = parser.parse_args()
    if args.scoped:
        for size in ["10k", "100k"] if args.size == "both" else [args.size]:
            for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
                scoped_bench(backend, size, args.workers, args.seconds, args.pg_url)
        return
    if args.sessions:
        for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
            session_bench(backend, args.workers, args.seconds, args.pg_url)
        return
    if args.tokens:
        for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
            token_bench(backend, args.workers, args.seconds, args.pg_url)
        return
    RESULTS.mkdir(exist_ok=True)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    sizes = ["10k", "100k"] if args.size == "both" else [args.size]
    all_figures = []
    for size in sizes:
        for backend in backends:
            figures = bench(backend, size, args.workers, args.seconds, args.pg_url)
            report(figures)
            all_figures.append(figures)
    out = RESULTS / f"api-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(all_figures, indent=2))
    print(f"\nfigures written to {out}")


if __name__ == "__main__":
    main()
