"""The directory for the web console: /api/customers/ and /api/offerings/ (search), and
/api/directory/status/ (its size and its sync from Waldur)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from herald.api.fields import Fields, select, wanted_fields
from herald.api.pagination import PageRequest, list_response, paginate
from herald.auth.callers import Caller
from herald.auth.dependencies import ApiKey, sender_session, staff_session
from herald.core.errors import Invalid
from herald.core.models import ScopeType
from herald.core.text import text_problem
from herald.directory import repository
from herald.operations import jobs

router = APIRouter(prefix="/api", tags=["directory"])

Name = Annotated[str | None, Query(description="case-insensitive substring of the name")]


class CustomerOut(BaseModel):
    uuid: str
    name: str


class OfferingOut(BaseModel):
    uuid: str
    name: str
    parent_uuid: str | None


def _in_scope(caller: Caller, section: str) -> set[str] | None:
    """What a scoped sender may pick (SPEC 9): their organisations, or the offerings of
    their provider scopes; None for staff (everything)."""
    held = caller.scopes
    if held is None:
        return None
    if section == "customers":
        return {s.uuid for s in held.scopes if s.type == ScopeType.ORGANISATION}
    return {o for offerings in held.offerings.values() for o in offerings}


def _search(
    request: Request,
    key: str,
    section: str,
    name: str | None,
    page: str | None,
    page_size: str | None,
    field: list[str] | None,
) -> Response:
    if name is not None and (problem := text_problem(name)):
        raise Invalid.field("name", problem)
    pages = PageRequest.from_params(page, page_size)
    with sender_session(request, key) as (session, caller):
        only = _in_scope(caller, section)
        total = repository.count_named(session, section, name, only)
        if (answer := paginate(request, pages, total)) is not None:
            return answer
        rows = repository.search_named(session, section, name, pages.offset, pages.page_size, only)
    items: list[dict[str, Any]] = [{"uuid": row.uuid, "name": row.name} for row in rows]
    known: tuple[str, ...] = ("uuid", "name")
    if section == "offerings":
        for item, row in zip(items, rows, strict=True):
            item["parent_uuid"] = row.parent_uuid
        known = ("uuid", "name", "parent_uuid")
    chosen = wanted_fields(field, known)
    return list_response(request, [select(item, chosen) for item in items], total, pages)


@router.head("/customers/", operation_id="customers_count", include_in_schema=False)
@router.get(
    "/customers/", operation_id="customers_list", responses={200: {"model": list[CustomerOut]}}
)
def list_customers(
    request: Request,
    key: ApiKey,
    name: Name = None,
    page: str | None = None,
    page_size: str | None = None,
    field: Fields = None,
) -> Response:
    """Organisations, for picking a message's audience."""
    return _search(request, key, "customers", name, page, page_size, field)


@router.head("/offerings/", operation_id="offerings_count", include_in_schema=False)
@router.get(
    "/offerings/", operation_id="offerings_list", responses={200: {"model": list[OfferingOut]}}
)
def list_offerings(
    request: Request,
    key: ApiKey,
    name: Name = None,
    page: str | None = None,
    page_size: str | None = None,
    field: Fields = None,
) -> Response:
    """Marketplace offerings (with their parent), for picking a message's audience."""
    return _search(request, key, "offerings", name, page, page_size, field)


class SyncStatusOut(BaseModel):
    configured: bool
    waldur: str | None
    interval: float | None
    last_run: str | None
    last_success: str | None
    ok: bool | None
    duration: float | None
    detail: dict[str, Any]
    counts: dict[str, int]


@router.get(
    "/directory/status/",
    operation_id="directory_status_retrieve",
    responses={200: {"model": SyncStatusOut}},
)
def directory_status(request: Request, key: ApiKey) -> JSONResponse:
    """The directory's size and its sync from Waldur: configured, last run, last success."""
    settings = request.app.state.settings
    with staff_session(request, key) as (session, _user):
        run = jobs.runs(session).get(jobs.Job.DIRECTORY_SYNC.value)
        sizes = repository.counts(session)

    def iso(moment: Any) -> str | None:
        return moment.isoformat(timespec="seconds") + "Z" if moment else None

    return JSONResponse(
        {
            "configured": bool(settings.waldur_url),
            "waldur": urlsplit(settings.waldur_url).netloc if settings.waldur_url else None,
            "interval": settings.sync_interval,
            "last_run": iso(run.last_run) if run else None,
            "last_success": iso(run.last_success) if run else None,
            "ok": (run.last_success == run.last_run) if run else None,
            "duration": run.duration if run else None,
            "detail": run.detail if run else {},
            "counts": sizes,
        }
    )
