"""GET /api/audit/ (SPEC 8): the trail, for staff, paginated like every list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from herald.api.pagination import PageRequest, list_response, paginate
from herald.audit import repository
from herald.audit.service import entry_json, filters_from
from herald.auth.dependencies import ApiKey, staff_only_session
from herald.core.errors import Invalid

router = APIRouter(prefix="/api/audit", tags=["audit"])
# Documented as checked by hand (a day that does not parse is a 400 naming it).
DAY = {"format": "date"}
ORDERINGS = ("created", "-created")


@router.head("/", operation_id="audit_count")
@router.get("/", operation_id="audit_list")
def list_entries(
    request: Request,
    key: ApiKey,
    object: Annotated[str | None, Query(description="the changed object's uuid")] = None,  # noqa: A002
    user: Annotated[str | None, Query(description="who made the change (uuid)")] = None,
    action: Annotated[str | None, Query(description="such as message.send")] = None,
    created_from: Annotated[
        str | None, Query(description="YYYY-MM-DD, UTC", json_schema_extra=DAY)
    ] = None,
    created_to: Annotated[
        str | None, Query(description="YYYY-MM-DD, UTC, included", json_schema_extra=DAY)
    ] = None,
    o: Annotated[
        str | None,
        Query(
            description="oldest or newest first",
            json_schema_extra={"enum": list(ORDERINGS)},
        ),
    ] = None,
    page: str | None = None,
    page_size: str | None = None,
) -> Response:
    """Newest first; `?object=` gives one object's history (oldest first with `o=created`)."""
    if o is not None and o not in ORDERINGS:
        raise Invalid.field(
            "o",
            f"Select a valid choice. {o} is not one of the available choices: created, -created.",
        )
    filters = filters_from(object, user, action, created_from, created_to)
    pages = PageRequest.from_params(page, page_size)
    with staff_only_session(request, key) as (session, _staff):
        total = repository.count(session, filters)
        if (answer := paginate(request, pages, total)) is not None:
            return answer
        rows = repository.page(
            session, filters, pages.offset, pages.page_size, oldest_first=o == "created"
        )
    return list_response(request, [entry_json(r) for r in rows], total, pages)
