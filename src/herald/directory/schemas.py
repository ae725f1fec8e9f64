"""The directory file (SPEC 5): checked whole before anything is written.

Every problem is reported as `section[index].field: what is wrong`, so an
operator can find it in a file of 100,000 users.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from herald.api.params import parse_uuid
from herald.core.addresses import email_error
from herald.core.languages import read_tag

RESOURCE_STATES = ("OK", "Creating", "Updating", "Terminating", "Terminated", "Erred")
CUSTOMER_ROLES = ("owner", "support", "service_manager", "reader")
PROJECT_ROLES = ("admin", "manager", "member")
SECTIONS = (
    "users",
    "customers",
    "projects",
    "offerings",
    "resources",
    "customer_roles",
    "project_roles",
)
MAX_ERRORS = 50


class DirectoryError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# A field reader returns (value, problem); `required` fields have no default.
Reader = Callable[[Any], tuple[Any, str | None]]


def _uuid(value: Any) -> tuple[Any, str | None]:
    parsed = parse_uuid(value)
    return (parsed, None) if parsed else (None, f"{value!r} is not a valid UUID")


def _optional_uuid(value: Any) -> tuple[Any, str | None]:
    return (None, None) if value is None else _uuid(value)


def _text(limit: int) -> Reader:
    def read(value: Any) -> tuple[Any, str | None]:
        if not isinstance(value, str):
            return None, f"expected a string, got {type(value).__name__}"
        if "\x00" in value:
            return None, "contains a NUL character"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return None, "is not valid Unicode (a lone surrogate)"
        if len(value) > limit:
            return None, f"longer than {limit} characters"
        return value.strip(), None

    return read


def _name(value: Any) -> tuple[Any, str | None]:
    text, problem = _text(500)(value)
    if problem is None and not text:
        return None, "may not be blank"
    return text, problem


def _flag(value: Any) -> tuple[Any, str | None]:
    return (value, None) if isinstance(value, bool) else (None, "expected true or false")


def read_user_email(value: Any) -> tuple[Any, str | None]:
    """A user's address, as every path reads it: a file import, a sync and Waldur's
    answer to a token (`users/me`). ("", None) for none; (None, why) when refused."""
    if value == "" or value is None:
        return "", None  # a user without an address is kept, and never mailed
    if isinstance(value, str):
        value = value.strip()
    problem = email_error(value)
    return (value, None) if problem is None else (None, f"{value!r}: {problem}")


def _email_list(value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, list):
        return None, "expected a list of email addresses"
    result = []
    for index, item in enumerate(value):
        cleaned = item.strip() if isinstance(item, str) else item
        problem = email_error(cleaned)
        if problem:
            return None, f"item {index} {item!r}: {problem}"
        result.append(cleaned)
    return result, None


def _optional_datetime(value: Any) -> tuple[Any, str | None]:
    """An ISO 8601 moment (with Z or an offset; naive means UTC), stored as naive UTC."""
    if value is None:
        return None, None
    if not isinstance(value, str):
        return None, "expected an ISO 8601 date and time such as 2027-01-31T00:00:00Z, or null"
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None, f"{value!r} is not an ISO 8601 date and time such as 2027-01-31T00:00:00Z"
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment, None


def _choice(choices: tuple[str, ...]) -> Reader:
    def read(value: Any) -> tuple[Any, str | None]:
        if value in choices:
            return value, None
        return None, f"{value!r} is not one of {', '.join(choices)}"

    return read


@dataclass(frozen=True)
class Field:
    name: str
    read: Reader
    default: Any = ...  # `...`: required
    column: str | None = None  # the table column, when it differs from the name


# Each section: its fields, in file names, and the columns they fill.
SCHEMA: dict[str, tuple[Field, ...]] = {
    "users": (
        Field("uuid", _uuid),
        Field("username", _text(150), ""),
        Field("email", read_user_email, ""),
        Field("full_name", _text(300), ""),
        Field("is_active", _flag, True),
        Field("is_staff", _flag, False),
        Field("is_support", _flag, False),
        Field("preferred_language", read_tag, ""),
    ),
    "customers": (
        Field("uuid", _uuid),
        Field("name", _name),
        Field("notification_emails", _email_list, []),
    ),
    "projects": (
        Field("uuid", _uuid),
        Field("name", _name),
        Field("customer", _uuid, column="customer_uuid"),
    ),
    "offerings": (
        Field("uuid", _uuid),
        Field("name", _name),
        Field("parent", _optional_uuid, None, column="parent_uuid"),
        Field("customer", _optional_uuid, None, column="customer_uuid"),
    ),
    "resources": (
        Field("uuid", _uuid),
        Field("project", _uuid, column="project_uuid"),
        Field("offering", _uuid, column="offering_uuid"),
        Field("state", _choice(RESOURCE_STATES)),
    ),
    "customer_roles": (
        Field("user", _uuid, column="user_uuid"),
        Field("customer", _uuid, column="customer_uuid"),
        Field("role", _choice(CUSTOMER_ROLES)),
        Field("expires", _optional_datetime, None),
    ),
    "project_roles": (
        Field("user", _uuid, column="user_uuid"),
        Field("project", _uuid, column="project_uuid"),
        Field("role", _choice(PROJECT_ROLES)),
        Field("expires", _optional_datetime, None),
    ),
}

# Which fields point at which section, checked once the whole file is read.
REFERENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "projects": (("customer", "customers"),),
    "offerings": (("parent", "offerings"), ("customer", "customers")),
    "resources": (("project", "projects"), ("offering", "offerings")),
    "customer_roles": (("user", "users"), ("customer", "customers")),
    "project_roles": (("user", "users"), ("project", "projects")),
}


# What identifies a role grant: who, where and which role (not its expiry).
GRANT_KEY = {
    "customer_roles": ("user_uuid", "customer_uuid", "role"),
    "project_roles": ("user_uuid", "project_uuid", "role"),
}


@dataclass
class Directory:
    """A checked directory file: rows per section, keyed by column name."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # The sections the file names: with --replace, only these are replaced.
    present: set[str] = field(default_factory=set)

    def count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        if len(self.items) < MAX_ERRORS:
            self.items.append(f"{where}: {message}")
        elif len(self.items) == MAX_ERRORS:
            self.items.append("... more problems not shown")

    def __bool__(self) -> bool:
        return bool(self.items)


def row_key(section: str, row: dict[str, Any]) -> Any:
    """What identifies a row: its UUID, or for a role grant the whole grant."""
    if section in GRANT_KEY:
        return tuple(row[column] for column in GRANT_KEY[section])
    return row["uuid"]


def parse_directory(
    document: Any,
    known: Callable[[str, set[str]], set[str]] | None = None,
    consume: bool = False,
) -> Directory:
    """Check a whole directory document; raise DirectoryError listing every problem.

    `known(section, uuids)` tells which of the referenced UUIDs already exist
    in the database (references may point at rows imported earlier). With
    `consume`, each section of `document` is emptied once parsed (a large
    sync does not hold both forms of the directory at once).
    """
    problems = _Problems()
    if not isinstance(document, dict):
        raise DirectoryError(["the file must hold a JSON object with the directory's sections"])
    for section in document:
        if section not in SCHEMA:
            problems.add(section, f"unknown section; known sections: {', '.join(SECTIONS)}")
    directory = Directory(present={s for s in document if s in SCHEMA})
    for section in SECTIONS:
        items = document.get(section, [])
        if items is None:
            items = []
        if not isinstance(items, list):
            problems.add(section, "expected a list")
            continue
        directory.rows[section] = _parse_section(section, items, problems)
        if consume:  # the caller is done with its copy: free it section by section
            document[section] = []
    if not problems:
        _check_references(directory, problems, known)
    if not problems:
        _check_offering_cycles(directory, problems)
    if problems:
        raise DirectoryError(problems.items)
    return directory


def _parse_section(section: str, items: list[Any], problems: _Problems) -> list[dict[str, Any]]:
    fields = SCHEMA[section]
    names = {f.name for f in fields}
    rows: list[dict[str, Any]] = []
    first_at: dict[Any, int] = {}
    for index, item in enumerate(items):
        where = f"{section}[{index}]"
        if not isinstance(item, dict):
            problems.add(where, "expected an object")
            continue
        row: dict[str, Any] = {}
        ok = True
        for name in item:
            if name not in names:
                problems.add(f"{where}.{name}", "unknown field")
                ok = False
        for spec in fields:
            if spec.name not in item:
                if spec.default is ...:
                    problems.add(f"{where}.{spec.name}", "this field is required")
                    ok = False
                    continue
                value: Any = spec.default
            else:
                value, problem = spec.read(item[spec.name])
                if problem:
                    problems.add(f"{where}.{spec.name}", problem)
                    ok = False
                    continue
            row[spec.column or spec.name] = value
        if not ok:
            continue
        key = row_key(section, row)
        if key in first_at:
            label = "uuid" if not section.endswith("_roles") else "grant"
            problems.add(where, f"repeats the {label} of {section}[{first_at[key]}]")
            continue
        first_at[key] = index
        rows.append(row)
    return rows


def _check_references(
    directory: Directory,
    problems: _Problems,
    known: Callable[[str, set[str]], set[str]] | None,
) -> None:
    in_file = {s: {row["uuid"] for row in directory.rows[s]} for s in SECTIONS if "_roles" not in s}
    for section, references in REFERENCES.items():
        fields = {f.name: f.column or f.name for f in SCHEMA[section]}
        for name, target in references:
            column = fields[name]
            wanted = {row[column] for row in directory.rows[section] if row[column] is not None}
            missing = wanted - in_file[target]
            if missing and known is not None:
                missing -= known(target, missing)
            if not missing:
                continue
            for index, row in enumerate(directory.rows[section]):
                if row[column] in missing:
                    problems.add(f"{section}[{index}].{name}", f"no {target[:-1]} {row[column]}")


def _check_offering_cycles(directory: Directory, problems: _Problems) -> None:
    parents = {row["uuid"]: row["parent_uuid"] for row in directory.rows["offerings"]}
    for index, row in enumerate(directory.rows["offerings"]):
        seen = {row["uuid"]}
        parent = row["parent_uuid"]
        while parent is not None and parent in parents:
            if parent in seen:
                problems.add(f"offerings[{index}].parent", "offerings form a parent cycle")
                break
            seen.add(parent)
            parent = parents[parent]


def offerings_parents_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order offerings so that each parent in the file is written before its children."""
    by_uuid = {row["uuid"]: row for row in rows}
    ordered: list[dict[str, Any]] = []
    placed: set[str] = set()

    def place(row: dict[str, Any]) -> None:
        if row["uuid"] in placed:
            return
        parent = row["parent_uuid"]
        if parent in by_uuid:
            place(by_uuid[parent])
        placed.add(row["uuid"])
        ordered.append(row)

    for row in rows:
        place(row)
    return ordered
