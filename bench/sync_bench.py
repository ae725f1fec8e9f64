"""Directory sync benchmark: `herald directory sync` from a Waldur-shaped API on this machine.

    python bench/sync_bench.py [--size 10k|100k|both] [--backend sqlite|postgresql|both]

A generated directory (10k: 10,000 users, 500 customers, 1,000 projects, 50
offerings, 2,000 resources; 100k: 100,000 users, 10,000 customers, 20,000
projects, 500 offerings, 40,000 resources; each customer an owner, each
project five members) is served by the tests' fake Waldur
(tests/waldur_replay.py: Waldur's pagination, Link headers, field selection)
in a process of its own. The real `herald directory sync` runs against it
twice: a full sync into an empty directory, then a re-sync with no change.
Printed: seconds and peak resident memory of each, against the targets
(10k < 10 s, 100k < 60 s, memory < 300 MB), and the floor: the same pages
fetched and parsed with httpx alone, no database.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api_bench import PG_DEFAULT, _fresh_database  # noqa: E402
from herald.migrations.runner import upgrade_to_head  # noqa: E402

SIZES = {  # fmt: skip
    "10k": {"users": 10_000, "customers": 500, "projects": 1_000, "offerings": 50,
            "resources": 2_000},
    "100k": {"users": 100_000, "customers": 10_000, "projects": 20_000, "offerings": 500,
             "resources": 40_000},
}  # fmt: skip
TARGET_SECONDS = {"10k": 10.0, "100k": 60.0}
STATES = ["OK", "OK", "OK", "Creating", "Updating", "Erred", "Terminated"]


def _id(kind: str, n: int) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}/{n}").hex


def generate(size: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    users = [
        {"uuid": _id("user", n), "username": f"user{n}", "email": f"user{n}@site{n % 97}.example",
         "full_name": f"User Number {n}", "is_active": n % 50 != 0, "is_staff": False,
         "is_support": False, "permissions": []}
        for n in range(size["users"])
    ]  # fmt: skip
    customers = [
        {
            "uuid": _id("customer", n),
            "name": f"Organisation {n}",
            "email": f"contact{n}@org.example",
        }
        for n in range(size["customers"])
    ]
    projects = [
        {"uuid": _id("project", n), "name": f"Project {n}",
         "customer_uuid": customers[n % len(customers)]["uuid"]}
        for n in range(size["projects"])
    ]  # fmt: skip
    offerings = []
    for n in range(size["offerings"]):
        offering = {"uuid": _id("offering", n), "name": f"Offering {n}"}
        if n % 5 == 4:
            offering["parent_uuid"] = _id("offering", n - 1)
        offerings.append(offering)
    resources = [
        {"uuid": _id("resource", n), "project_uuid": projects[n % len(projects)]["uuid"],
         "offering_uuid": offerings[n % len(offerings)]["uuid"], "state": STATES[n % len(STATES)]}
        for n in range(size["resources"])
    ]  # fmt: skip
    for n, customer in enumerate(customers):
        users[n % len(users)]["permissions"].append(
            {"role_name": "CUSTOMER.OWNER", "scope_type": "customer",
             "scope_uuid": customer["uuid"], "expiration_time": None}
        )  # fmt: skip
    for n, project in enumerate(projects):
        for k in range(5):
            users[(n * 5 + k) % len(users)]["permissions"].append(
                {"role_name": "PROJECT.MEMBER", "scope_type": "project",
                 "scope_uuid": project["uuid"], "expiration_time": None}
            )  # fmt: skip
    return {
        "/api/users/": users,
        "/api/customers/": customers,
        "/api/projects/": projects,
        "/api/marketplace-provider-offerings/": offerings,
        "/api/marketplace-resources/": resources,
    }


def _serve(size_name: str, ready: Any, address: Any, stop: Any) -> None:
    from tests.waldur_replay import FakeWaldur

    fake = FakeWaldur(generate(SIZES[size_name])).start()
    address.value = fake.url.encode()
    ready.set()
    stop.wait()
    fake.stop()


PEAK = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('PEAK_KB', [l for l in open('/proc/self/status')"
    " if l.startswith('VmHWM')][0].split()[1], file=sys.stderr))\n"
    "from herald.entry.cli import main\n"
    "sys.argv = ['herald', 'directory', 'sync', '--allow-mass-removal']\n"
    "main()\n"
)


def _sync(url: str, database_url: str) -> tuple[float, float, str]:
    env = {**os.environ, "HERALD_DATABASE_URL": database_url, "HERALD_WALDUR_URL": url,
           "HERALD_WALDUR_TOKEN": "waldur-staff-token"}  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PEAK], env=env, capture_output=True, text=True, check=False
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"sync failed: {done.stderr[-2000:]}")
    peak = next(line for line in done.stderr.splitlines() if line.startswith("PEAK_KB"))
    return took, int(peak.split()[1]) / 1024, done.stdout


def _floor(url: str) -> float:
    """Fetch and parse every page with httpx alone: the network and JSON part of a sync."""
    started = time.perf_counter()
    with httpx.Client(headers={"Authorization": "Token waldur-staff-token"}, timeout=60) as client:
        for path in ("users", "customers", "projects", "marketplace-provider-offerings",
                     "marketplace-resources"):  # fmt: skip
            next_url: str | None = f"{url}/api/{path}/?page_size=300"
            while next_url:
                response = client.get(next_url)
                response.json()
                next_url = response.links.get("next", {}).get("url")
    return time.perf_counter() - started


def bench(size_name: str, backend: str, pg_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    address = context.Array("c", 64)
    server = context.Process(target=_serve, args=(size_name, ready, address, stop))
    server.start()
    ready.wait(600)
    url = address.value.decode()
    try:
        database_url = _fresh_database(backend, pg_url)
        upgrade_to_head(database_url)
        floor = _floor(url)
        full, full_mb, summary = _sync(url, database_url)
        again, again_mb, _ = _sync(url, database_url)
        target = TARGET_SECONDS[size_name]
        print(f"\n== directory sync, {backend}, {size_name} ({SIZES[size_name]}) ==")
        print(f"  floor (fetch + parse every page):  {floor:6.1f} s")
        print(f"  full sync into an empty directory: {full:6.1f} s (target < {target:.0f} s), "
              f"peak {full_mb:.0f} MB (target < 300 MB), {full / floor:.1f}x floor")  # fmt: skip
        print(f"  re-sync with no change:            {again:6.1f} s, peak {again_mb:.0f} MB, "
              f"{again / floor:.1f}x floor")  # fmt: skip
        print("  " + summary.strip().replace("\n", "\n  "))
    finally:
        stop.set()
        server.join(30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--size", choices=["10k", "100k", "both"], default="both")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", default=os.environ.get("HERALD_BENCH_DATABASE_URL", PG_DEFAULT))
    args = parser.parse_args()
    sizes = ["10k", "100k"] if args.size == "both" else [args.size]
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for size_name in sizes:
        for backend in backends:
            bench(size_name, backend, args.pg_url)


if __name__ == "__main__":
    main()
