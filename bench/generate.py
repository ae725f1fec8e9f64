"""A synthetic directory and message history of a given size, for the benchmarks.

Sizes follow the issue: "10k" is the directory Waldur's own implementation
was measured on; "100k" is ten times that, to show how Herald scales.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import insert

from herald.core.db import Database
from herald.core.models import BroadcastMessage


@dataclass(frozen=True)
class Size:
    users: int
    customers: int
    projects: int
    members_per_project: int
    offerings: int
    resources: int
    messages: int
    addresses_per_message: int


SIZES = {
    "10k": Size(10_000, 500, 1_000, 5, 50, 2_000, 2_000, 20),
    "100k": Size(100_000, 10_000, 20_000, 5, 500, 40_000, 2_000, 20),
}


def _hex(rng: random.Random) -> str:
    return uuid.UUID(int=rng.getrandbits(128), version=4).hex


def directory(size: Size, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    users = []
    for number in range(size.users):
        users.append(
            {
                "uuid": _hex(rng),
                "username": f"user{number}",
                # 1% without an address, 2% inactive: both are never mailed
                "email": "" if number % 100 == 42 else f"user{number}@site{number % 97}.example",
                "full_name": f"{rng.choice(FIRST)} {rng.choice(LAST)} {number}",
                "is_active": number % 50 != 7,
                "is_staff": False,
                "is_support": False,
            }
        )
    customers = [
        {
            "uuid": _hex(rng),
            "name": f"Organisation {number}",
            "notification_emails": [f"ops@org{number}.example"] if number % 3 == 0 else [],
        }
        for number in range(size.customers)
    ]
    projects = [
        {"uuid": _hex(rng), "name": f"Project {number}", "customer": rng.choice(customers)["uuid"]}
        for number in range(size.projects)
    ]
    offerings: list[dict[str, Any]] = []
    for number in range(size.offerings):
        # one offering in five is a child (a partition, a plan) of an earlier one
        parent = rng.choice(offerings)["uuid"] if offerings and number % 5 == 4 else None
        offerings.append({"uuid": _hex(rng), "name": f"Offering {number}", "parent": parent})
    resources = [
        {
            "uuid": _hex(rng),
            "project": rng.choice(projects)["uuid"],
            "offering": rng.choice(offerings)["uuid"],
            "state": "Terminated" if number % 10 == 0 else rng.choice(["OK", "OK", "Erred"]),
        }
        for number in range(size.resources)
    ]
    customer_roles = [
        {"user": rng.choice(users)["uuid"], "customer": customer["uuid"], "role": "owner"}
        for customer in customers
    ]
    project_roles = []
    for project in projects:
        for member in rng.sample(users, size.members_per_project):
            role = rng.choice(["admin", "manager", "member"])
            project_roles.append({"user": member["uuid"], "project": project["uuid"], "role": role})
    # role grants are unique per (user, target, role)
    project_roles = list({(r["user"], r["project"], r["role"]): r for r in project_roles}.values())
    customer_roles = list(
        {(r["user"], r["customer"], r["role"]): r for r in customer_roles}.values()
    )
    return {
        "users": users,
        "customers": customers,
        "projects": projects,
        "offerings": offerings,
        "resources": resources,
        "customer_roles": customer_roles,
        "project_roles": project_roles,
    }


def store_messages(database: Database, size: Size, author: Any, seed: int = 11) -> None:
    """A history of sent messages of `addresses_per_message` addresses each."""
    rng = random.Random(seed)
    start = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=size.messages)
    rows = []
    for number in range(size.messages):
        emails = sorted(
            f"user{rng.randrange(size.users)}@site{rng.randrange(97)}.example"
            for _ in range(size.addresses_per_message)
        )
        created = start + timedelta(days=number)
        rows.append(
            {
                "uuid": _hex(rng),
                "created": created,
                "subject": f"Maintenance window {number}",
                "body": "The service will be unavailable between 08:00 and 12:00.",
                "query": orjson.dumps(
                    {"all_users": False, "additional_recipients": emails}
                ).decode(),
                "emails": orjson.dumps(emails).decode(),
                "author_uuid": author.uuid,
                "author_full_name": author.full_name,
                "state": "SENT",
                "send_at": created.date(),
                "sent": created,
            }
        )
    with database.transaction() as session:
        session.execute(insert(BroadcastMessage), rows)


FIRST = ["Ada", "Bo", "Chen", "Dana", "Eli", "Fatima", "Goran", "Hana", "Ivo", "Jun", "Kai", "Lea"]
LAST = ["Ng", "Olsen", "Perez", "Quinn", "Rossi", "Sato", "Tanaka", "Ueda", "Vega", "Wolf", "Xu"]
