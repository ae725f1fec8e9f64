"""A federation for SPEC 9: two service providers, two organisations using their
offerings, and the people who may send for each; Herald with scoped senders on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from herald.auth.tokens import create_token
from herald.core.config import Settings
from herald.core.db import Database
from herald.core.models import User
from tests.conftest import LiveServer, load_directory
from tests.factories import DirectoryBuilder

URL = "/api/broadcast-messages/"


@dataclass
class Federation:
    url: str
    db: Database
    ids: dict[str, str]
    tokens: dict[str, str]

    def client(self, who: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Token {self.tokens[who]}"}, timeout=60
        )


def federation_directory() -> tuple[dict[str, Any], dict[str, str]]:
    d = DirectoryBuilder()
    ids: dict[str, str] = {}
    ids["provider"] = d.customer("HPC Centre")
    ids["other_provider"] = d.customer("Cloud Co")
    ids["org_a"] = d.customer("Alpha Lab", ["alpha-news@alpha.example"])
    ids["org_b"] = d.customer("Beta Lab")
    ids["hpc"] = d.offering("HPC cluster")
    ids["hpc_gpu"] = d.offering("HPC GPUs", parent=ids["hpc"])  # no provider: its parent's
    ids["cloud"] = d.offering("Cloud VMs")
    for offering, provider in (("hpc", "provider"), ("cloud", "other_provider")):
        next(o for o in d.doc["offerings"] if o["uuid"] == ids[offering])["customer"] = ids[
            provider
        ]
    a_project, b_project = d.project("alpha-1", ids["org_a"]), d.project("beta-1", ids["org_b"])
    d.resource("alpha-gpu", a_project, ids["hpc_gpu"])
    d.resource("beta-vm", b_project, ids["cloud"])
    people = {
        "pia": ("owner", "provider"), "max": ("service_manager", "provider"),
        "quinn": ("owner", "other_provider"), "olga": ("owner", "org_a"),
    }  # fmt: skip
    for name, (role, customer) in people.items():
        ids[name] = d.user(name, f"{name}@example.org", full_name=name.capitalize())
        d.customer_role(ids[name], ids[customer], role)
    for name, project in (("alice", a_project), ("bob", b_project)):
        ids[name] = d.user(name, f"{name}@example.org", full_name=name.capitalize())
        d.project_role(ids[name], project, "member")
    ids["sue"] = d.user("sue", "sue@example.org", full_name="Sue Support", support=True)
    return d.doc, ids


@pytest.fixture
def federation(db: Database, database_url: str, staff: dict[str, str]) -> Iterator[Federation]:
    document, ids = federation_directory()
    load_directory(db, document)
    tokens = {"staff": staff["token"]}
    with db.transaction() as session:
        for name in ("pia", "max", "quinn", "olga", "alice", "sue"):
            user = session.get(User, ids[name])
            assert user is not None
            tokens[name] = create_token(session, user)
    server = LiveServer(Settings(database_url=database_url, scoped_senders="providers,owners"))
    server.url = server.start()
    yield Federation(server.url, db, ids, tokens)
    server.stop()
