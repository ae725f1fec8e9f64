"""Reading request input the way Waldur's clients send it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from herald.api.errors import APIError, PayloadTooLarge, UnsupportedMediaType
from herald.core.errors import Invalid, NotFound
from herald.core.text import BAD_UNICODE, has_lone_surrogate, printable

_UUID = re.compile(
    r"^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)

TRUE_VALUES = {"true", "1", "yes", "on"}
FALSE_VALUES = {"false", "0", "no", "off", ""}


def parse_uuid(value: object) -> str | None:
    """The 32-hex form of a UUID given dashed or not, in any case; None if it is not one."""
    if not isinstance(value, str):
        return None
    candidate = value.strip().lower()
    if not _UUID.match(candidate):
        return None
    return candidate.replace("-", "")


def path_uuid(value: str) -> str:
    """A UUID in a path that does not parse names no object: 404."""
    parsed = parse_uuid(value)
    if parsed is None:
        raise NotFound()
    return parsed


def split_values(values: list[str] | None) -> list[str]:
    """Repeated parameters, each possibly comma-separated, as one list."""
    result: list[str] = []
    for value in values or []:
        result.extend(part.strip() for part in value.split(",") if part.strip())
    return result


# What the OpenAPI document says a boolean query parameter takes: exactly what
# parse_bool accepts (it also forgives case and surrounding spaces).
# The empty value (as if left out) comes last: first, the docs' choice list opened
# on a blank entry.
BOOLEAN: dict[str, Any] = {
    "enum": sorted(TRUE_VALUES | FALSE_VALUES, key=lambda value: (value == "", value))
}


def parse_bool(name: str, value: str | None) -> bool:
    if value is None:
        return False
    lowered = value.strip().lower()
    if lowered in TRUE_VALUES:
        return True
    if lowered in FALSE_VALUES:
        return False
    raise Invalid.field(name, f'"{value}" is not a valid boolean; use true or false.')


class _RepeatedKey(Exception):
    pass


def _reject_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _RepeatedKey(key)
        result[key] = value
    return result


@dataclass(frozen=True)
class RequestBody:
    """A request's raw body, read before the endpoint runs and parsed inside it,
    after authentication (an unauthenticated caller learns nothing about its input)."""

    raw: bytes
    media_type: str

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; an empty body is an empty object."""
        if not self.raw.strip():
            return {}
        media_type = self.media_type
        if media_type and media_type != "application/json" and not media_type.endswith("+json"):
            raise UnsupportedMediaType(media_type)
        try:
            data = json.loads(self.raw, object_pairs_hook=_reject_repeated_keys)
        except _RepeatedKey as exc:
            raise APIError(
                {"detail": f'JSON parse error - key "{exc.args[0]}" is repeated.'}
            ) from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise APIError({"detail": f"JSON parse error - {exc}"}) from exc
        except RecursionError as exc:
            raise APIError({"detail": "JSON parse error - the document nests too deeply."}) from exc
        if not isinstance(data, dict):
            kind = type(data).__name__
            raise Invalid(
                {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}
            )
        if _may_hold_surrogates(self.raw):
            _reject_surrogates(data)
        return data


def _may_hold_surrogates(raw: bytes) -> bool:
    """Cheap first look: a lone surrogate gets in only as a \\uD800-\\uDFFF escape
    or as its raw UTF-8 form (json.loads lets both through)."""
    return b"\\ud" in raw or b"\\uD" in raw or b"\xed" in raw


def _reject_surrogates(data: dict[str, Any]) -> None:
    """No text anywhere in a body may hold a lone surrogate: no database stores it
    and no JSON answer can echo it back. 400 naming where it is, before any
    endpoint looks at the body."""
    problem = BAD_UNICODE.removesuffix(".")
    for key, value in data.items():
        if has_lone_surrogate(key):
            raise APIError({"detail": f"{problem} in the key {printable(key)!r}."})
        where = _surrogate_in(value, key)
        if where is not None:
            at = "" if where == key else f" at {where}"
            raise Invalid({key: [f"{problem}{at}."]})


def _surrogate_in(value: Any, path: str) -> str | None:
    """The path of the first string (or key) holding a lone surrogate, if any."""
    if isinstance(value, str):
        return path if has_lone_surrogate(value) else None
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _surrogate_in(item, f"{path}[{index}]")) is not None:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            if has_lone_surrogate(key):
                return f"{path} (a key)"
            if (found := _surrogate_in(item, f"{path}.{key}")) is not None:
                return found
    return None


async def read_body(request: Request, limit: int | None = None) -> RequestBody:
    """The body, refused with 413 as soon as it passes `limit` bytes (declared or streamed)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if limit is None:
        return RequestBody(await request.body(), media_type)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(limit)
        chunks.append(chunk)
    return RequestBody(b"".join(chunks), media_type)
