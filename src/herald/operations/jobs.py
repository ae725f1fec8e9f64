"""The last run of each periodic job (scheduler, directory sync), in the database,
so that any process can say how fresh it is: /ready, /metrics, the status API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from herald.core.db import rowcount
from herald.core.models import JobRun


class Job(StrEnum):
    SCHEDULER = "scheduler"
    DIRECTORY_SYNC = "directory_sync"
    BOUNCES = "bounces"


@dataclass(frozen=True)
class Run:
    name: str
    last_run: datetime
    last_success: datetime | None
    duration: float
    detail: dict[str, Any]


def record_run(
    session: Session,
    job: Job,
    finished: datetime,
    duration: float,
    ok: bool,
    detail: dict[str, Any] | None = None,
) -> None:
    """Note a finished run of `job` (a success or not) with what it did."""
    values: dict[str, Any] = {
        "last_run": finished,
        "duration": duration,
        "detail": orjson.dumps(detail or {}).decode(),
    }
    if ok:
        values["last_success"] = finished
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(JobRun).values(name=job.value, **values)
    session.execute(statement.on_conflict_do_update(index_elements=["name"], set_=values))


def touch(session: Session, job: Job, finished: datetime) -> None:
    """A cheap heartbeat for a job that runs often (the scheduler's tick)."""
    changed = rowcount(
        session.execute(
            update(JobRun)
            .where(JobRun.name == job.value)
            .values(last_run=finished, last_success=finished, duration=0.0)
            .execution_options(synchronize_session=False)
        )
    )
    if not changed:
        record_run(session, job, finished, 0.0, ok=True)


def try_lock(session: Session, job: Job, now: datetime, until: datetime) -> bool:
    """Take the job for this process until `until`, unless another holds it; commit
    the caller's transaction right after, so others see it."""
    touch_row = rowcount(
        session.execute(
            update(JobRun)
            .where(
                JobRun.name == job.value,
                or_(JobRun.locked_until.is_(None), JobRun.locked_until < now),
            )
            .values(locked_until=until)
            .execution_options(synchronize_session=False)
        )
    )
    if touch_row:
        return True
    if session.get(JobRun, job.value) is not None:
        return False  # held by someone else
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    created = session.execute(
        insert(JobRun)
        .values(name=job.value, last_run=now, duration=0.0, detail="{}", locked_until=until)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(JobRun.name)
    ).first()
    return created is not None


def unlock(session: Session, job: Job) -> None:
    session.execute(
        update(JobRun)
        .where(JobRun.name == job.value)
        .values(locked_until=None)
        .execution_options(synchronize_session=False)
    )


def last_detail(session: Session, job: Job) -> dict[str, Any]:
    row = session.get(JobRun, job.value)
    return orjson.loads(row.detail) if row is not None else {}


def runs(session: Session) -> dict[str, Run]:
    result = {}
    for row in session.scalars(select(JobRun)):
        result[row.name] = Run(
            row.name, row.last_run, row.last_success, row.duration, orjson.loads(row.detail)
        )
    return result
