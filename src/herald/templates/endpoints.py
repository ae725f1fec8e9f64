"""/api/broadcast-message-templates/: Waldur's templates resource, thin endpoints."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema
from starlette.responses import Response

from herald.api.fields import Fields, select, wanted_fields
from herald.api.openapi import TAG_NAMES, TRANSLATIONS_DOC, VariantIn, VariantOut, json_request_body
from herald.api.pagination import PageRequest, list_response, paginate
from herald.api.params import path_uuid
from herald.api.responses import JSONResponse
from herald.audit.service import actor_of, record
from herald.auth.dependencies import ApiKey, AuthenticatedBody, sender_session, staff_session
from herald.core.errors import Invalid
from herald.core.text import MAX_TRANSLATIONS, NAME_MAX, SUBJECT_RULE, text_problem
from herald.idempotency.http import Idempotency
from herald.templates import repository, service

router = APIRouter(prefix="/api/broadcast-message-templates", tags=["broadcast-message-templates"])
TEMPLATE_FIELDS = ("url", "uuid", "name", "subject", "body", "translations")
ORDERINGS = ("name", "-name")


class MessageTemplateOut(BaseModel):
    url: str = Field(description="absolute URL of the template")
    uuid: str
    name: str
    subject: str
    body: str
    translations: dict[str, VariantOut] = Field(description=TRANSLATIONS_DOC + " {} for none.")


NAME_RULE = f"1 to {NAME_MAX} characters once white space is trimmed from both ends"


class MessageTemplateRequest(BaseModel):
    name: str = Field(min_length=1, description=NAME_RULE)
    subject: str = Field(min_length=1, description=SUBJECT_RULE)
    body: str = Field(min_length=1, description="may use placeholders")
    translations: dict[str, VariantIn] | None = Field(
        None,
        description=TRANSLATIONS_DOC + " Left out: none on create, unchanged on update.",
        max_length=MAX_TRANSLATIONS,
        json_schema_extra={"propertyNames": TAG_NAMES},
    )


class PatchedMessageTemplateRequest(BaseModel):
    """Every key optional; none may be null."""

    name: SkipJsonSchema[None] | str = Field(None, min_length=1, description=NAME_RULE)
    subject: SkipJsonSchema[None] | str = Field(None, min_length=1, description=SUBJECT_RULE)
    body: SkipJsonSchema[None] | str = Field(None, min_length=1)
    translations: dict[str, VariantIn] | None = Field(
        None,
        description=TRANSLATIONS_DOC + " Left out: unchanged; given: replaces them all.",
        max_length=MAX_TRANSLATIONS,
        json_schema_extra={"propertyNames": TAG_NAMES},
    )


def _json(request: Request, row: Any) -> dict[str, Any]:
    url = str(request.url_for("retrieve_template", uuid=row.uuid))
    return {
        "url": url,
        "uuid": row.uuid,
        "name": row.name,
        "subject": row.subject,
        "body": row.body,
        "translations": orjson.Fragment(row.translations or "{}"),
    }


@router.head("/", operation_id="broadcast_message_templates_count")
@router.get(
    "/",
    operation_id="broadcast_message_templates_list",
    responses={200: {"model": list[MessageTemplateOut]}},
)
def list_templates(
    request: Request,
    key: ApiKey,
    name: Annotated[str | None, Query(description="case-insensitive substring")] = None,
    o: Annotated[
        str | None,
        # Documented as a choice, checked below for Waldur's own message.
        Query(description="name or -name", json_schema_extra={"enum": list(ORDERINGS)}),
    ] = None,
    page: str | None = None,
    page_size: str | None = None,
    field: Fields = None,
) -> Response:
    if o is not None and o not in ORDERINGS:
        raise Invalid.field("o", f"Select a valid choice. {o} is not one of the available choices.")
    if name is not None and (problem := text_problem(name)):
        raise Invalid.field("name", problem)
    pages = PageRequest.from_params(page, page_size)
    # Scoped senders read templates (SPEC 9); writing one is staff's.
    with sender_session(request, key) as (session, _caller):
        total = repository.count_templates(session, name)
        if (answer := paginate(request, pages, total)) is not None:
            return answer
        rows = repository.list_templates(session, name, o == "-name", pages.offset, pages.page_size)
    chosen = wanted_fields(field, TEMPLATE_FIELDS)
    return list_response(request, [select(_json(request, r), chosen) for r in rows], total, pages)


@router.post(
    "/",
    status_code=201,
    operation_id="broadcast_message_templates_create",
    responses={201: {"model": MessageTemplateOut}},
    openapi_extra=json_request_body(MessageTemplateRequest),
)
def create_template(request: Request, key: ApiKey, body: AuthenticatedBody) -> Response:
    once = Idempotency.of(request, body.raw)
    with staff_session(request, key) as (session, user):
        if replayed := once.replay(session, user.uuid):
            return replayed
        values = service.parse_template_input(body.json_object(), partial=False)
        row = service.create_template(session, values)
        record(session, actor_of(request, user), "template.create", "template", row.uuid)
        response = JSONResponse(_json(request, row), status_code=201)
        return once.remember(session, user.uuid, response)


@router.get(
    "/{uuid}/",
    name="retrieve_template",
    operation_id="broadcast_message_templates_retrieve",
    responses={200: {"model": MessageTemplateOut}},
)
def retrieve_template(
    uuid: str, request: Request, key: ApiKey, field: Fields = None
) -> JSONResponse:
    with sender_session(request, key) as (session, _caller):
        row = service.get_template(session, path_uuid(uuid))
    return JSONResponse(select(_json(request, row), wanted_fields(field, TEMPLATE_FIELDS)))


@router.put(
    "/{uuid}/",
    operation_id="broadcast_message_templates_update",
    responses={200: {"model": MessageTemplateOut}},
    openapi_extra=json_request_body(MessageTemplateRequest),
)
def update_template(
    uuid: str, request: Request, key: ApiKey, body: AuthenticatedBody
) -> JSONResponse:
    with staff_session(request, key) as (session, user):
        template_uuid = path_uuid(uuid)
        values = service.parse_template_input(body.json_object(), partial=False)
        row = service.update_template(session, template_uuid, values)
        record(session, actor_of(request, user), "template.update", "template", template_uuid)
    return JSONResponse(_json(request, row))


@router.patch(
    "/{uuid}/",
    operation_id="broadcast_message_templates_partial_update",
    responses={200: {"model": MessageTemplateOut}},
    openapi_extra=json_request_body(PatchedMessageTemplateRequest, required=False),
)
def partial_update_template(
    uuid: str, request: Request, key: ApiKey, body: AuthenticatedBody
) -> JSONResponse:
    with staff_session(request, key) as (session, user):
        template_uuid = path_uuid(uuid)
        values = service.parse_template_input(body.json_object(), partial=True)
        row = service.update_template(session, template_uuid, values)
        record(session, actor_of(request, user), "template.update", "template", template_uuid)
    return JSONResponse(_json(request, row))


@router.delete("/{uuid}/", status_code=204, operation_id="broadcast_message_templates_destroy")
def delete_template(uuid: str, request: Request, key: ApiKey) -> Response:
    with staff_session(request, key) as (session, user):
        template_uuid = path_uuid(uuid)
        service.delete_template(session, template_uuid)
        record(session, actor_of(request, user), "template.delete", "template", template_uuid)
    return Response(status_code=204)
