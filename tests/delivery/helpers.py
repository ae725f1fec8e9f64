"""Running the delivery worker for a test: in a thread, or as a real `herald worker` process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from herald.core.config import Settings
from herald.core.db import Database
from herald.entry.worker_process import run_delivery

FAST = {
    "retry_base": 0.1,
    "retry_max": 0.4,
    "poll_interval": 0.05,
    "scheduler_interval": 0.5,
    "smtp_concurrency": 5,
    "smtp_timeout": 5.0,
    "from_email": "herald@portal.example",
}


def settings_for(database_url: str, smtp_url: str, **overrides: Any) -> Settings:
    return Settings(database_url=database_url, smtp_url=smtp_url, **{**FAST, **overrides})


class WorkerThread:
    """The worker and scheduler on their own event loop, stopped the way SIGTERM stops them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self.error: BaseException | None = None

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        try:
            await run_delivery(self.settings, self._stop)
        except BaseException as exc:  # surfaced by stop()
            self.error = exc
            raise

    def __enter__(self) -> WorkerThread:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the worker did not stop"
        assert self.error is None, self.error


def worker_process(
    database_url: str, smtp_url: str, log: Path, **overrides: Any
) -> subprocess.Popen[bytes]:
    """A real `herald worker` process, configured through HERALD_* variables, logging to `log`."""
    herald = Path(sys.executable).with_name("herald")
    command = (
        [str(herald), "worker"]
        if herald.exists()
        else [sys.executable, "-m", "herald.entry.cli", "worker"]
    )
    env = {**os.environ, "HERALD_DATABASE_URL": database_url, "HERALD_SMTP_URL": smtp_url}
    for key, value in {**FAST, **overrides}.items():
        env[f"HERALD_{key.upper()}"] = str(value)
    with log.open("ab") as stream:
        return subprocess.Popen(command, env=env, stdout=stream, stderr=subprocess.STDOUT)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll until `condition()`; returns the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - started


def outbox_status(db: Database) -> dict[str, int]:
    with db.transaction(write=False) as session:
        rows = session.execute(text("SELECT status, count(*) FROM deliveries GROUP BY status"))
        return {status: int(count) for status, count in rows}


def pending_count(db: Database) -> int:
    return outbox_status(db).get("pending", 0)


def leased_count(db: Database) -> int:
    """Deliveries a worker holds right now: the most a crash at this moment can repeat."""
    with db.transaction(write=False) as session:
        return int(
            session.execute(
                text(
                    "SELECT count(*) FROM deliveries WHERE status = 'pending' "
                    "AND lease_expires_at IS NOT NULL"
                )
            ).scalar_one()
        )
