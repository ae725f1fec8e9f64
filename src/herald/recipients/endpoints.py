"""GET/HEAD /api/broadcast-messages/recipients/: who a query reaches, without saving.

Included before the messages' router, whose `/{uuid}/` would otherwise take
`recipients` for a message UUID."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from herald.api.fields import Fields, select, wanted_fields
from herald.api.openapi import TAG_NAMES, TAG_OR_EMPTY
from herald.api.pagination import PageRequest, list_response, paginate
from herald.api.params import BOOLEAN, parse_bool, split_values
from herald.auth.dependencies import ApiKey, sender_session
from herald.core.errors import Invalid
from herald.core.languages import read_tag
from herald.core.text import MAX_TRANSLATIONS
from herald.recipients.schemas import RECIPIENT_FIELDS, RecipientOut
from herald.recipients.service import Audience, ScopeLimit, check_targeting
from herald.recipients.targeting import targeting_from_params

router = APIRouter(prefix="/api/broadcast-messages", tags=["broadcast-messages"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid input: a map of parameter names to messages"},
}


@router.head(
    "/recipients/",
    operation_id="broadcast_messages_recipients_count",
    responses={200: {"description": "The count in X-Result-Count; no body"}, **_ERRORS},
)
@router.get(
    "/recipients/",
    operation_id="broadcast_messages_recipients_retrieve",
    responses={200: {"model": list[RecipientOut]}, **_ERRORS},
)
def recipients(
    request: Request,
    key: ApiKey,
    customers: Annotated[
        list[str] | None, Query(description="UUIDs, repeated or comma-separated")
    ] = None,
    offerings: Annotated[
        list[str] | None, Query(description="UUIDs, repeated or comma-separated")
    ] = None,
    all_users: Annotated[
        str | None, Query(description="true/false/1/0", json_schema_extra=BOOLEAN)
    ] = None,
    additional_recipients: list[str] | None = Query(None),
    excluded_recipients: list[str] | None = Query(None),
    send_to_me: Annotated[
        str | None, Query(description="true/false/1/0", json_schema_extra=BOOLEAN)
    ] = None,
    language: Annotated[
        str | None,
        Query(
            description="only the readers of this language tag (SPEC 2.3); empty: "
            "those without one",
            max_length=35,
            json_schema_extra=TAG_OR_EMPTY,
        ),
    ] = None,
    variants: Annotated[
        list[str] | None,
        Query(
            description="language tags of a message's translations, repeated or "
            "comma-separated: the answer's X-Variant-Counts says how many readers get "
            "each (SPEC 2.3), as the send will queue them",
            json_schema_extra={"items": {"type": "string", **TAG_NAMES}, "maxItems": 30},
        ),
    ] = None,
    page: str | None = None,
    page_size: str | None = None,
    field: Fields = None,
) -> Response:
    """Who a query would reach, without saving anything: a page sorted by name."""
    wanted_language = None
    if language is not None:
        wanted_language, problem = read_tag(language)
        if problem is not None:
            raise Invalid.field("language", problem)
    tags = _tags(split_values(variants))
    with sender_session(request, key) as (session, caller):
        user = caller.user
        targeting = targeting_from_params(
            customers=split_values(customers),
            offerings=split_values(offerings),
            all_users=parse_bool("all_users", all_users),
            additional_recipients=split_values(additional_recipients),
            excluded_recipients=split_values(excluded_recipients),
            send_to_me=parse_bool("send_to_me", send_to_me),
        )
        pages = PageRequest.from_params(page, page_size)
        # A scoped sender previews only what they may send to (SPEC 9).
        limit = ScopeLimit(caller.scopes) if caller.scopes is not None else None
        check_targeting(session, targeting, None, limit)
        audience = Audience(session, targeting, user, wanted_language)
        per_variant = _variant_header(audience.variant_counts(tags)) if tags else None
        if request.method == "HEAD":
            # HEAD counts without reading a page (cheaper than the page's own pass).
            answer = paginate(request, pages, audience.count())
            assert answer is not None  # HEAD is always answered by paginate
        else:
            total, page_of = audience.page(pages.offset, pages.page_size)
            pages.check(total)
            chosen = wanted_fields(field, RECIPIENT_FIELDS)
            items = [select(r.as_json(), chosen) for r in page_of]
            answer = list_response(request, items, total, pages)
    if per_variant is not None:
        answer.headers["X-Variant-Counts"] = per_variant
    return answer


def _tags(values: list[str]) -> list[str]:
    tags = []
    for value in values:
        tag, problem = read_tag(value)
        if problem is not None or not tag:
            raise Invalid.field("variants", problem or "Give language tags.")
        tags.append(tag)
    distinct = sorted(set(tags))
    if len(distinct) > MAX_TRANSLATIONS:
        raise Invalid.field("variants", f"At most {MAX_TRANSLATIONS} translations.")
    return distinct


def _variant_header(counts: dict[str | None, int]) -> str:
    """`et=1204, pt=5, =8311`: each variant's readers; the empty tag is the default."""
    ordered = sorted(counts.items(), key=lambda item: (item[0] is None, item[0] or ""))
    return ", ".join(f"{tag or ''}={count}" for tag, count in ordered)
