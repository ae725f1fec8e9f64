"""A message's targeting (`query`): reading it from a request and writing it back.

Written as {"customers": [uuid], "offerings": [uuid], "all_users": bool,
"additional_recipients": [email], "excluded_recipients": [email],
"send_to_me": bool}; every key optional; `null` or the string "null" for the
whole query means no targeting. Nothing is dropped silently: a wrong type,
an unknown key, a bad UUID or a bad address is an error naming the item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from herald.api.params import parse_uuid
from herald.core.addresses import email_error, email_key
from herald.core.errors import Invalid

LIST_OF_UUIDS = ("customers", "offerings")
LIST_OF_EMAILS = ("additional_recipients", "excluded_recipients")
FLAGS = ("all_users", "send_to_me")
KEYS = LIST_OF_UUIDS + ("all_users",) + LIST_OF_EMAILS + ("send_to_me",)
# Far above any real message, and below the databases' limits on bound parameters.
MAX_ITEMS = 10_000

Errors = dict[str, Any]


@dataclass(frozen=True)
class Targeting:
    customers: tuple[str, ...] = ()
    offerings: tuple[str, ...] = ()
    all_users: bool = False
    additional_recipients: tuple[str, ...] = ()
    excluded_recipients: tuple[str, ...] = ()
    send_to_me: bool = False
    # The optional keys that were written, so the stored form shows just those.
    given: frozenset[str] = field(default=frozenset())

    @property
    def is_empty(self) -> bool:
        return not (
            self.customers
            or self.offerings
            or self.all_users
            or self.additional_recipients
            or self.send_to_me
        )


def _unique(items: list[str], key: Any = None) -> tuple[str, ...]:
    seen: set[str] = set()
    result = []
    for item in items:
        marker = key(item) if key else item
        if marker not in seen:
            seen.add(marker)
            result.append(item)
    return tuple(result)


def read_uuid_list(values: Any, what: str) -> tuple[list[str], Errors | list[str] | None]:
    """UUIDs from a list of strings (or of {"uuid": ...} objects, as a message returns them)."""
    if not isinstance(values, list):
        return [], [f'Expected a list of {what} UUIDs but got "{type(values).__name__}".']
    if len(values) > MAX_ITEMS:
        return [], [f"Ensure this field has no more than {MAX_ITEMS} elements."]
    result: list[str] = []
    errors: Errors = {}
    for index, item in enumerate(values):
        raw = item.get("uuid") if isinstance(item, dict) else item
        parsed = parse_uuid(raw)
        if parsed is None:
            errors[str(index)] = [f'"{raw}" is not a valid UUID.']
        else:
            result.append(parsed)
    return result, errors or None


def read_email_list(values: Any) -> tuple[list[str], Errors | list[str] | None]:
    if not isinstance(values, list):
        return [], [f'Expected a list of email addresses but got "{type(values).__name__}".']
    if len(values) > MAX_ITEMS:
        return [], [f"Ensure this field has no more than {MAX_ITEMS} elements."]
    result: list[str] = []
    errors: Errors = {}
    for index, item in enumerate(values):
        problem = email_error(item.strip() if isinstance(item, str) else item)
        if problem:
            errors[str(index)] = [f'"{item}": {problem}']
        else:
            result.append(item.strip())
    return result, errors or None


def targeting_from_json(value: Any) -> tuple[Targeting, Errors | list[str] | None]:
    """Targeting from a message body's `query`; errors are a field map under `query`."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "null"):
        return Targeting(), None
    if not isinstance(value, dict):
        return Targeting(), [
            "Expected an object with customers, offerings, all_users, additional_recipients, "
            f'excluded_recipients and send_to_me, or null; got "{type(value).__name__}".'
        ]
    errors: Errors = {}
    parts: dict[str, Any] = {}
    for key, item in value.items():
        if key not in KEYS:
            errors[key] = [f"Unknown field. Known fields: {', '.join(KEYS)}."]
        elif item is None:
            continue
        elif key in FLAGS:
            if isinstance(item, bool):
                parts[key] = item
            else:
                errors[key] = ["Must be a valid boolean."]
        else:
            if key in LIST_OF_UUIDS:
                items, problem = read_uuid_list(item, key[:-1])
            else:
                items, problem = read_email_list(item)
            if problem:
                errors[key] = problem
            parts[key] = items
    if errors:
        return Targeting(), errors
    return make_targeting(parts), None


def make_targeting(parts: dict[str, Any]) -> Targeting:
    return Targeting(
        customers=_unique(parts.get("customers", [])),
        offerings=_unique(parts.get("offerings", [])),
        all_users=bool(parts.get("all_users", False)),
        additional_recipients=_unique(parts.get("additional_recipients", []), email_key),
        excluded_recipients=_unique(parts.get("excluded_recipients", []), email_key),
        send_to_me=bool(parts.get("send_to_me", False)),
        given=frozenset(parts),
    )


def stored_form(
    targeting: Targeting, customer_names: dict[str, str], offering_names: dict[str, str]
) -> dict[str, Any]:
    """What a message keeps and returns: names beside UUIDs, all_users always present."""
    stored: dict[str, Any] = {}
    if "customers" in targeting.given:
        stored["customers"] = [
            {"uuid": uuid, "name": customer_names.get(uuid, "")} for uuid in targeting.customers
        ]
    if "offerings" in targeting.given:
        stored["offerings"] = [
            {"uuid": uuid, "name": offering_names.get(uuid, "")} for uuid in targeting.offerings
        ]
    stored["all_users"] = targeting.all_users
    for key in LIST_OF_EMAILS:
        if key in targeting.given:
            stored[key] = list(getattr(targeting, key))
    if "send_to_me" in targeting.given:
        stored["send_to_me"] = targeting.send_to_me
    return stored


def targeting_from_stored(stored: dict[str, Any]) -> Targeting:
    """The targeting a stored message carries (its own output, so it is trusted)."""
    parts: dict[str, Any] = {}
    for key in LIST_OF_UUIDS:
        if key in stored:
            parts[key] = [item["uuid"] for item in stored[key]]
    for key in LIST_OF_EMAILS:
        if key in stored:
            parts[key] = list(stored[key])
    parts["all_users"] = bool(stored.get("all_users", False))
    if "send_to_me" in stored:
        parts["send_to_me"] = bool(stored["send_to_me"])
    return make_targeting(parts)


def targeting_from_params(
    customers: list[str],
    offerings: list[str],
    all_users: bool,
    additional_recipients: list[str],
    excluded_recipients: list[str],
    send_to_me: bool,
) -> Targeting:
    """Targeting from the recipients preview's query string (lists already split)."""
    errors: Errors = {}
    parts: dict[str, Any] = {"all_users": all_users, "send_to_me": send_to_me}
    for key, values in (("customers", customers), ("offerings", offerings)):
        items, problem = read_uuid_list(values, key[:-1])
        if problem:
            errors[key] = problem
        parts[key] = items
    for key, values in (
        ("additional_recipients", additional_recipients),
        ("excluded_recipients", excluded_recipients),
    ):
        items, problem = read_email_list(values)
        if problem:
            errors[key] = problem
        parts[key] = items
    if errors:
        raise Invalid(errors)
    return make_targeting(parts)
