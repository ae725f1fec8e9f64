"""/health, /ready and /metrics (SPEC 7): for load balancers and Prometheus.

None needs a staff token and none shows data: /metrics may be guarded by
HERALD_METRICS_TOKEN (a Bearer token).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from herald import __version__
from herald.auth.dependencies import ApiKey, staff_session
from herald.core.config import Settings
from herald.core.db import Database
from herald.operations import jobs, metrics

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def operations_router(snapshot: Callable[[Session], metrics.Snapshot]) -> APIRouter:
    """The routes; `snapshot` reads what /metrics reports from the database."""
    router = APIRouter(include_in_schema=False)

    @router.get("/health")
    async def health() -> JSONResponse:
        """The process runs and answers (it says nothing of the database)."""
        return JSONResponse({"status": "ok"})

    @router.get("/ready")
    async def ready(request: Request) -> JSONResponse:
        """Ready when the database answers and its schema is the newest one."""
        database: Database = request.app.state.database
        try:
            problem = await run_in_threadpool(database.schema_problem)
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            problem = f"the database does not answer: {reason}"
        if problem:
            return JSONResponse(
                {"status": "unavailable", "reason": problem},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        return JSONResponse({"status": "ready"})

    @router.get("/metrics")
    async def scrape(request: Request) -> Response:
        settings: Settings = request.app.state.settings
        if settings.metrics_token and not _bearer_matches(request, settings.metrics_token):
            return JSONResponse(
                {"detail": "Authentication credentials were not provided."},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        database: Database = request.app.state.database

        def read() -> bytes:
            with database.transaction(write=False) as session:
                return metrics.render(snapshot(session))

        return Response(await run_in_threadpool(read), media_type=PROMETHEUS_TEXT)

    return router


status_router = APIRouter(prefix="/api/status", tags=["status"])


@status_router.get("/", operation_id="status_retrieve")
def server_status(request: Request, key: ApiKey) -> JSONResponse:
    """For the console: where mail goes (files or a relay) and how fresh the jobs are."""
    settings: Settings = request.app.state.settings
    destination, delivered = settings.mail_destination()
    with staff_session(request, key) as (session, user):
        runs = jobs.runs(session)
    return JSONResponse(
        {
            "version": __version__,
            "me": {"email": user.email, "full_name": user.full_name},
            "mail": {"delivered": delivered, "destination": destination},
            # What the console's date picker and scheduling text need.
            "today": settings.today().isoformat(),
            "time_zone": settings.time_zone,
            "scheduler_interval": settings.scheduler_interval,
            # Whether Herald hears of mail that bounces, and how (SPEC 4.2).
            "bounces": {
                "tagged": bool(settings.bounce_address),
                "mailbox": bool(settings.bounce_imap_url),
                "webhook": bool(settings.bounce_webhook_token),
            },
            "jobs": {
                name: {
                    "last_run": _iso(run.last_run),
                    "last_success": _iso(run.last_success),
                    "duration": run.duration,
                    "detail": run.detail,
                }
                for name, run in runs.items()
            },
        }
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") + "Z" if moment else None


def _bearer_matches(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)
