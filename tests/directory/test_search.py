"""/api/customers/ and /api/offerings/: the console's type-ahead, in Waldur's list conventions."""

from __future__ import annotations

import json

import httpx

from herald.core.db import Database
from tests.conftest import EXAMPLE_DIRECTORY, load_directory


def test_customers_and_offerings_are_searchable_by_name(api: httpx.Client, db: Database) -> None:
    load_directory(db, json.loads(EXAMPLE_DIRECTORY.read_text()))
    customers = api.get("/api/customers/", params={"name": "INST"})
    assert customers.status_code == 200
    assert customers.json() == [
        {"uuid": "886363ae12b3583bb0eedede4a502b63", "name": "Physics Institute"}
    ]
    assert customers.headers["X-Result-Count"] == "1"
    offerings = api.get("/api/offerings/", params={"name": "hpc"}).json()
    assert offerings == [
        {"uuid": "8b3649ffd4fd5962b2e8216e8a027776", "name": "HPC cluster", "parent_uuid": None},
        {
            "uuid": "673b859a411c5d3a89a3f97aeeecfdd6",
            "name": "HPC cluster: GPU partition",
            "parent_uuid": "8b3649ffd4fd5962b2e8216e8a027776",
        },
    ]
    everything = api.get("/api/offerings/", params={"page_size": 2})
    assert len(everything.json()) == 2 and everything.headers["X-Result-Count"] == "3"
    assert 'rel="next"' in everything.headers["Link"]
    assert api.head("/api/customers/").headers["X-Result-Count"] == "2"
    assert api.get("/api/customers/", params={"name": "%"}).json() == []


def test_directory_search_is_staff_only(anonymous: httpx.Client, db: Database) -> None:
    assert anonymous.get("/api/customers/").status_code == 401
    assert anonymous.get("/api/offerings/").status_code == 401
