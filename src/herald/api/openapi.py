"""The OpenAPI document, made to say what the endpoints really do.

FastAPI writes the document from the endpoints' signatures; Herald's
endpoints read their input by hand (for Waldur's messages), so the generated
document is wrong in the same ways everywhere: a 422 nobody ever gets, query
parameters that "may be null", JSON bodies on answers that have none, and
none of the 400/401/403/404/413/415 that do happen. `finish` mends those by
rule, once, and adds what FastAPI cannot know: the hand-read request bodies
(`json_request_body`), the `Idempotency-Key` header and the links between
operations. `tests/test_openapi_contract.py` holds the result to the
behaviour with schemathesis.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from herald.core.text import BODY_MAX, MAX_TRANSLATIONS, SUBJECT_RULE

# Models of hand-read request bodies, registered by `json_request_body` and
# written into the document's components by `finish`.
_BODIES: dict[str, type] = {}

# POSTs that create or act, taking an Idempotency-Key (SPEC 1).
IDEMPOTENT = {
    "broadcast_messages_create",
    "broadcast_messages_schedule",
    "broadcast_messages_send",
    "broadcast_messages_retry_failed",
    "broadcast_messages_test_send",
    "broadcast_message_templates_create",
}

# Routes of a feature an operator may leave off: 404 while it is (the OIDC sign-in
# without HERALD_OIDC_ISSUER), though nothing is named in their path.
ABSENT_WHEN_OFF = {
    "session_oidc_start",
    "session_oidc_callback",
    "session_oidc_backchannel_logout",
}

# Where the UUID of a created object can be used next (the stateful tests follow these).
LINKS = {
    "broadcast_messages_create": [
        "broadcast_messages_retrieve", "broadcast_messages_update",
        "broadcast_messages_partial_update", "broadcast_messages_destroy",
        "broadcast_messages_schedule", "broadcast_messages_send",
        "broadcast_messages_deliveries_list", "broadcast_messages_retry_failed",
        "broadcast_messages_preview", "broadcast_messages_test_send",
    ],
    "broadcast_message_templates_create": [
        "broadcast_message_templates_retrieve", "broadcast_message_templates_update",
        "broadcast_message_templates_partial_update", "broadcast_message_templates_destroy",
    ],
}  # fmt: skip

_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
_FIELD_ERRORS = {
    "description": (
        'Invalid input: {"field": ["what is wrong"], ...}, or {"detail": "..."} '
        "for a body that is not JSON"
    ),
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FieldErrors"}}},
}
_STANDARD = {
    "401": {"description": "No token, or one that is not valid", **_ERROR},
    "403": {"description": "The token's user is not staff or support", **_ERROR},
}
_NOT_FOUND = {"description": 'No such object, or a page past the end ("Invalid page.")', **_ERROR}
_BODY_ERRORS = {
    "413": {"description": "The body is larger than HERALD_MAX_BODY_BYTES", **_ERROR},
    "415": {"description": "The body is not JSON", **_ERROR},
}
_TEXT_NOTE = "Text may not hold NUL characters or lone surrogates (400)."


def json_request_body(model: type, required: bool = True) -> dict[str, Any]:
    """`openapi_extra` for an endpoint that reads its JSON body itself: points the
    document at `model`'s schema, which `finish` adds to the components."""
    _BODIES[model.__name__] = model
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    body = {"required": required, "content": {"application/json": {"schema": ref}}}
    return {"requestBody": body}


def finish(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, model in _BODIES.items():
        definition = model.model_json_schema(  # type: ignore[attr-defined]
            ref_template="#/components/schemas/{model}"
        )
        schemas.update(definition.pop("$defs", {}))
        for field in definition.get("properties", {}).values():
            if field.get("default", ...) is None and field.get("type") not in (None, "null"):
                # "Leave it out", not "send null": null is refused for these.
                del field["default"]
        schemas[name] = definition
    schemas.pop("HTTPValidationError", None)
    schemas.pop("Invalid", None)
    schemas["FieldErrors"] = {
        "type": "object",
        "additionalProperties": True,
        "description": "Field names (or detail / non_field_errors) to what is wrong",
    }
    operations = {
        op["operationId"]: op
        for item in schema["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            _finish_operation(path, method, operation)
            _inline_body(operation, schemas)
    for source, targets in LINKS.items():
        created = operations[source]["responses"]["201"]
        created["links"] = {
            target: {"operationId": target, "parameters": {"uuid": "$response.body#/uuid"}}
            for target in targets
            if target in operations
        }
    schema["info"]["description"] += " " + _TEXT_NOTE
    return schema


def _finish_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    parameters = operation.get("parameters", [])
    if method == "head":
        # The same function answers GET and HEAD: without this the docs list every
        # list twice under one title. HEAD is the count alone.
        listed = operation.get("summary", "List").removeprefix("List ").lower()
        operation["summary"] = f"Count {listed}"
        operation["description"] = (
            "The same filters as GET; only the count, in `X-Result-Count`, and no body."
        )
    for parameter in parameters:
        # A query string cannot carry a null: "may be null" only means "may be left out".
        parameter["schema"] = _without_null(parameter["schema"])
    if operation.get("operationId") in IDEMPOTENT:
        # Said in words rather than as a header parameter: a generated client or a
        # fuzzer that fills in every parameter would repeat keys, and a repeated key
        # rightly answers with the first answer (SPEC 1), which looks like a bug.
        operation["description"] = (
            operation.get("description", "") + "\n\nAccepts an `Idempotency-Key` header "
            "(1 to 255 printable ASCII characters): a repeat with the same key by the same "
            "user within 24 hours gets the first answer again (`Idempotent-Replayed: true`) "
            "and changes nothing; the same key with another request is 409."
        ).strip()
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)  # FastAPI's own validation error: Herald never answers it
    takes_input = "requestBody" in operation or any(p["in"] != "path" for p in parameters)
    added: dict[str, dict[str, Any]] = dict(_STANDARD)
    if takes_input:
        added["400"] = _FIELD_ERRORS
    if "{" in path or any(p["name"] == "page" for p in parameters):
        added["404"] = _NOT_FOUND
    elif operation.get("operationId") in ABSENT_WHEN_OFF:
        added["404"] = {"description": "This feature is not configured", **_ERROR}
    else:
        responses.pop("404", None)  # nothing to be missing: no object in the path, no page
    if "requestBody" in operation:
        added.update(_BODY_ERRORS)
    if operation.get("operationId") in IDEMPOTENT:
        added["409"] = {"description": "The Idempotency-Key was used for another request", **_ERROR}
    for code, response in added.items():
        if code == "400" or code not in responses:
            responses[code] = copy.deepcopy(response)  # each operation its own: HEAD trims them
    for code, response in responses.items():
        content = response.get("content", {}).get("application/json")
        # HEAD never has a body; a success documented without a model has none either.
        if method == "head" or (
            code.startswith("2") and content is not None and not content.get("schema")
        ):
            response.pop("content", None)
    if method == "head":
        responses["200"]["headers"] = {
            "X-Result-Count": {"schema": {"type": "integer"}, "description": "how many in all"}
        }


def _inline_body(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Each body's schema written out in its operation rather than referenced: readers
    see it in place, and schemathesis 4.32 mixes up the negative cases of bodies
    that are references (a PATCH was held to a create's required keys)."""
    media = operation.get("requestBody", {}).get("content", {}).get("application/json")
    reference = (media or {}).get("schema", {}).get("$ref", "")
    if reference.startswith("#/components/schemas/"):
        media["schema"] = copy.deepcopy(schemas[reference.rsplit("/", 1)[1]])


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf")
    if not options:
        return schema
    kept = [option for option in options if option.get("type") != "null"]
    if len(kept) != 1:
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**kept[0], **rest}


# Patterns for the OpenAPI document, the same rules the parsers apply by hand
# (api/params.py parse_uuid, addresses.py email_error; quoted local parts,
# which Herald also accepts, are left out for brevity).
UUID_PATTERN = (
    r"^([0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12})$"
)
EMAIL_PATTERN = (
    r"^(?=[^@]{1,64}@)[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+(\.[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+)*@"
    r"(localhost|([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{1,62}[A-Za-z0-9])$"
)
Uuid = Annotated[str, Field(pattern=UUID_PATTERN, description="32 hex digits, or dashed")]
# In json_schema_extra: these models only document hand-read bodies, and
# pydantic's own regular expressions have no look-ahead.
Email = Annotated[str, Field(max_length=254, json_schema_extra={"pattern": EMAIL_PATTERN})]


# --- translations (SPEC 2.3), on messages and templates alike ----------------------


class VariantIn(BaseModel):
    """One translation: the subject and body as readers of its language get them."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, description=SUBJECT_RULE)
    body: str = Field(min_length=1, max_length=BODY_MAX)


class VariantOut(BaseModel):
    subject: str
    body: str


# What a key of `translations` may be (core/languages.py TAG, any case).
# Documented with at most three parts after the first (30 characters, within the 35 a
# tag may have): what a client may count on being taken.
TAG = "[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}"
TAG_NAMES: dict[str, Any] = {"pattern": f"^{TAG}$", "maxLength": 35}
# A query parameter naming a language: a tag, or empty for "none" / "the default".
TAG_OR_EMPTY: dict[str, Any] = {"pattern": f"^({TAG})?$"}
TRANSLATIONS_DOC = (
    "SPEC 2.3: language tag (lower-case, such as et or pt-br) -> subject and body; "
    f"at most {MAX_TRANSLATIONS}. Readers get the variant of their preferred language, "
    "else of its base language, else the default (subject and body)."
)
