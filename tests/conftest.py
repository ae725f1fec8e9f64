"""Shared fixtures: a real database (SQLite, and PostgreSQL when
HERALD_TEST_DATABASE_URL is set), built by the migrations, and a real
Herald server on a free port that the tests call over HTTP.

Every test that uses `backend` runs once per database. Tables are emptied
before each test, so tests do not see each other's rows.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from sqlalchemy import text
from sqlalchemy.engine import make_url
from waldur_api_client.client import AuthenticatedClient

from herald.auth.tokens import create_token
from herald.core.config import Settings
from herald.core.db import Database
from herald.core.models import Base
from herald.directory.importer import import_document
from herald.directory.staff import ensure_staff
from herald.entry.app import create_app
from herald.migrations.runner import upgrade_to_head
from tests.smtp_sink import SmtpSink

PG_URL = os.environ.get("HERALD_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def _fresh_postgres(url: str) -> str:
    """Drop and create the test database. Unreachable server: the run fails, never skips."""
    parsed = make_url(url)
    name = parsed.database
    assert name, "HERALD_TEST_DATABASE_URL must name a database"
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'herald.db'}"
    else:
        assert PG_URL
        url = _fresh_postgres(PG_URL)
    upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture(autouse=False)
def clean(database: Database) -> Database:
    with database.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(text(f"DELETE FROM {table.name}"))
    return database


@pytest.fixture
def db(clean: Database) -> Database:
    """An empty database for this test."""
    return clean


class LiveServer:
    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = ""

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(database_url: str) -> Iterator[LiveServer]:
    server = LiveServer(Settings(database_url=database_url, time_zone="UTC"))
    server.url = server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def server_url(live_server: LiveServer) -> str:
    return live_server.url


@pytest.fixture
def staff(db: Database) -> dict[str, str]:
    """A staff user and their token, in an otherwise empty directory."""
    with db.transaction() as session:
        user = ensure_staff(session, "staff@herald.example", "Stella Staff", support=False)
        key = create_token(session, user)
        return {"uuid": user.uuid, "email": user.email, "token": key}


@pytest.fixture
def api(server_url: str, staff: dict[str, str]) -> Iterator[httpx.Client]:
    """Plain HTTP as staff."""
    with httpx.Client(
        base_url=server_url, headers={"Authorization": f"Token {staff['token']}"}, timeout=60
    ) as client:
        yield client


@pytest.fixture
def anonymous(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=60) as client:
        yield client


@pytest.fixture
def waldur(server_url: str, staff: dict[str, str]) -> AuthenticatedClient:
    """Waldur's own generated client, set up the way its documentation shows."""
    return AuthenticatedClient(base_url=server_url, token=staff["token"], prefix="Token")


def load_directory(db: Database, document: dict[str, Any]) -> None:
    with db.transaction() as session:
        import_document(session, document)


# A copy of ../shared/directory-example.json, so a clone tests the same on its own.
EXAMPLE_DIRECTORY = Path(__file__).resolve().parent / "data" / "directory-example.json"
SHARED_EXAMPLE = Path(__file__).resolve().parents[2] / "shared" / "directory-example.json"


@pytest.fixture
def example(db: Database) -> None:
    """The shared example directory (Physics Institute, Chemistry Lab, ...) in an empty database."""
    load_directory(db, json.loads(EXAMPLE_DIRECTORY.read_text()))


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on a free port, for this test."""
    server = SmtpSink().start()
    yield server
    server.stop()
