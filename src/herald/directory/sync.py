"""`herald directory sync`: the directory from a live Waldur (SPEC 5.1).

Waldur is read whole (its API has no "changed since" for users, customers,
projects or offerings), mapped to Herald's directory format, and applied
exactly like `directory import --replace`: checked first, one transaction,
token holders kept, a summary per section. Nothing is written until every
page has been read and checked, so a failure anywhere leaves the directory
exactly as it was.

Mapping, and what Herald does differently from Waldur:
- users from /api/users/ with their active roles from `permissions`
  (`expiration_time` becomes the grant's `expires`; roles already expired are
  left out, as Waldur leaves out revoked ones);
- customers from /api/customers/; Waldur has no notification e-mails, so a
  customer has none unless HERALD_WALDUR_CUSTOMER_EMAILS=contact uses its
  contact `email`;
- projects from /api/projects/ (a removed project is absent there, and so is
  it here, with its grants and resources);
- offerings from /api/marketplace-provider-offerings/ (`parent_uuid` when the
  key is present; Waldur leaves it out for offerings without a parent;
  `customer_uuid`, the service provider, SPEC 9);
- resources from /api/marketplace-resources/, state as shown.
Grants and resources that point at something Waldur did not list (a removed
project, a role in an offering) are left out and counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from herald.core.clock import utc_now
from herald.core.languages import read_tag
from herald.directory.importer import ImportReport, check_document, plan_directory, write_plan
from herald.directory.repository import counts
from herald.directory.schemas import read_user_email
from herald.directory.waldur import WaldurClient

logger = logging.getLogger("herald.sync")

CUSTOMER_ROLES = {
    "CUSTOMER.OWNER": "owner",
    "CUSTOMER.MANAGER": "service_manager",
    "CUSTOMER.SUPPORT": "support",
    "CUSTOMER.READER": "reader",
    # the legacy names Waldur still shows in places
    "owner": "owner",
    "service_manager": "service_manager",
    "support": "support",
}
PROJECT_ROLES = {
    "PROJECT.ADMIN": "admin",
    "PROJECT.MANAGER": "manager",
    "PROJECT.MEMBER": "member",
    "admin": "admin",
    "manager": "manager",
    "member": "member",
}
FIELDS = {
    "users": ["uuid", "username", "email", "full_name", "is_active", "is_staff", "is_support",
              "preferred_language", "permissions"],
    "customers": ["uuid", "name", "email"],
    "projects": ["uuid", "name", "customer_uuid"],
    "offerings": ["uuid", "name", "parent_uuid", "customer_uuid"],
    "resources": ["uuid", "project_uuid", "offering_uuid", "state"],
}  # fmt: skip
ENDPOINTS = {
    "users": "users/",
    "customers": "customers/",
    "projects": "projects/",
    "offerings": "marketplace-provider-offerings/",
    "resources": "marketplace-resources/",
}
# A sync that would remove more than this share of users or customers is refused
# unless asked for: a token that suddenly sees nothing must not empty the directory.
MASS_REMOVAL = 0.5

Progress = Callable[[str, int], None]


class MassRemoval(Exception):
    """The sync would remove too much; its text says what and how to allow it."""


@dataclass
class Fetched:
    document: dict[str, list[dict[str, Any]]]
    skipped: dict[str, int] = field(default_factory=dict)  # what was left out, and why

    def count(self) -> int:
        return sum(len(rows) for rows in self.document.values())


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _expires(value: Any) -> str | None:
    moment = _moment(value)
    return moment.isoformat() + "Z" if moment else None


def _grant(
    document: dict[str, list[dict[str, Any]]],
    grants: set[tuple[str, str, str, str]],
    skip: Callable[[str], None],
    user: str,
    permission: dict[str, Any],
    now: datetime,
    known_customers: set[str],
    known_projects: set[str],
) -> None:
    """One of a user's active role assignments, as a Herald role grant (or skipped)."""
    expires = _moment(permission.get("expiration_time"))
    if expires is not None and expires <= now:
        skip("role grants that have expired")
        return
    scope, target = permission.get("scope_type"), permission.get("scope_uuid")
    role_name = permission.get("role_name") or ""
    if scope == "customer" and role_name in CUSTOMER_ROLES and target in known_customers:
        section, role, target_key = "customer_roles", CUSTOMER_ROLES[role_name], "customer"
    elif scope == "project" and role_name in PROJECT_ROLES and target in known_projects:
        section, role, target_key = "project_roles", PROJECT_ROLES[role_name], "project"
    elif scope in ("customer", "project"):
        skip(f"{scope} role grants in a scope Waldur did not list, or of another role")
        return
    else:
        skip("role grants in other scopes (offerings, calls, ...)")
        return
    key = (section, user, str(target), role)
    if key in grants:
        return
    grants.add(key)
    document[section].append(
        {"user": user, target_key: target, "role": role,
         "expires": _expires(permission.get("expiration_time"))}
    )  # fmt: skip


def fetch(
    client: WaldurClient, customer_emails: bool = False, progress: Progress | None = None
) -> Fetched:
    """Read Waldur's directory and map it to Herald's directory document."""

    def pages(section: str) -> Any:
        for page in client.pages(ENDPOINTS[section], FIELDS[section]):
            if progress:
                progress(section, len(page))
            yield page

    skipped: dict[str, int] = {}

    def skip(reason: str, count: int = 1) -> None:
        skipped[reason] = skipped.get(reason, 0) + count

    # Each page is mapped as it arrives and the raw answer dropped, so memory
    # holds Herald's rows only; sections that others refer to are read first.
    document: dict[str, list[dict[str, Any]]] = {s: [] for s in (
        "users", "customers", "projects", "offerings", "resources", "customer_roles",
        "project_roles")}  # fmt: skip
    for page in pages("customers"):
        document["customers"].extend(
            {
                "uuid": c["uuid"],
                "name": c.get("name") or c["uuid"],
                "notification_emails": [c["email"]] if customer_emails and c.get("email") else [],
            }
            for c in page
        )
    known_customers = {c["uuid"] for c in document["customers"]}
    for page in pages("offerings"):
        document["offerings"].extend(
            {"uuid": o["uuid"], "name": o.get("name") or o["uuid"], "parent": o.get("parent_uuid"),
             "customer": o.get("customer_uuid")}
            for o in page
        )  # fmt: skip
    known_offerings = {o["uuid"] for o in document["offerings"]}
    for o in document["offerings"]:
        if o["parent"] is not None and o["parent"] not in known_offerings:
            o["parent"] = None
            skip("offering parents Waldur did not list")
        if o["customer"] is not None and o["customer"] not in known_customers:
            # A provider this token cannot see: the offering is kept, without one.
            o["customer"] = None
            skip("offering providers Waldur did not list")
    for page in pages("projects"):
        for p in page:
            if p.get("customer_uuid") in known_customers:
                document["projects"].append(
                    {"uuid": p["uuid"], "name": p.get("name") or p["uuid"],
                     "customer": p["customer_uuid"]}
                )  # fmt: skip
            else:
                skip("projects of a customer Waldur did not list")
    known_projects = {p["uuid"] for p in document["projects"]}
    for page in pages("resources"):
        for r in page:
            if (
                r.get("project_uuid") in known_projects
                and r.get("offering_uuid") in known_offerings
            ):
                document["resources"].append(
                    {"uuid": r["uuid"], "project": r["project_uuid"],
                     "offering": r["offering_uuid"], "state": r["state"]}
                )  # fmt: skip
            else:
                skip("resources of a removed project or an unlisted offering")
    now = utc_now()
    grants: set[tuple[str, str, str, str]] = set()
    for page in pages("users"):
        for u in page:
            email, problem = read_user_email(u.get("email"))
            if problem is not None:
                # One user's address Herald cannot mail does not stop the sync:
                # the user is kept, without an address, and the summary says so.
                logger.warning("Waldur user %s: address refused (%s); kept without one",
                               u.get("uuid"), problem)  # fmt: skip
                skip("addresses refused (users kept without one)")
                email = ""
            language, refused = read_tag(u.get("preferred_language"))
            if refused is not None:
                # As with an address: the user is kept, read in the default language.
                logger.warning("Waldur user %s: preferred_language refused (%s); kept without one",
                               u.get("uuid"), refused)  # fmt: skip
                skip("languages refused (users kept without one)")
            document["users"].append(
                {
                    "uuid": u["uuid"],
                    "username": u.get("username") or "",
                    "email": email,
                    "full_name": (u.get("full_name") or "").strip(),
                    "is_active": bool(u.get("is_active", True)),
                    "is_staff": bool(u.get("is_staff", False)),
                    "is_support": bool(u.get("is_support", False)),
                    "preferred_language": language or "",
                }
            )
            for permission in u.get("permissions") or []:
                _grant(document, grants, skip, u["uuid"], permission, now,
                       known_customers, known_projects)  # fmt: skip
    return Fetched(document, skipped)


def _refuse_mass_removal(report: ImportReport, before: dict[str, int]) -> None:
    for section in ("users", "customers"):
        removed, had = report.removed(section), before.get(section, 0)
        if had and removed > MASS_REMOVAL * had:
            raise MassRemoval(
                f"the sync would remove {removed} of {had} {section}: refused, nothing was "
                "written. If Waldur really lost them, run `herald directory sync "
                "--allow-mass-removal`; else check HERALD_WALDUR_TOKEN (a token that sees less "
                "makes a directory look emptied)"
            )


def apply(
    session: Any, fetched: Fetched, dry_run: bool = False, allow_mass_removal: bool = False
) -> ImportReport:
    """Apply a fetched directory like `import --replace`, in the caller's transaction."""
    directory = check_document(session, fetched.document, replace=True, consume=True)
    plan, report = plan_directory(session, directory, replace=True)
    if not allow_mass_removal:
        _refuse_mass_removal(report, counts(session))
    report.dry_run = dry_run
    if not dry_run:
        write_plan(session, plan)
    return report


@dataclass
class SyncResult:
    report: ImportReport
    skipped: dict[str, int]
    seconds: float
    fetched_rows: int

    def detail(self) -> dict[str, Any]:
        return {
            "sections": {
                name: {"added": c.added, "changed": c.changed, "removed": c.removed,
                       "unchanged": c.unchanged}
                for name, c in self.report.sections.items()
            },
            "skipped": self.skipped,
            "rows": self.fetched_rows,
        }  # fmt: skip


def sync(
    database: Any,
    client: WaldurClient,
    *,
    customer_emails: bool = False,
    dry_run: bool = False,
    allow_mass_removal: bool = False,
    progress: Progress | None = None,
    on_applied: Callable[[Any, ImportReport], None] | None = None,
) -> SyncResult:
    """Read Waldur whole, then apply it in one transaction (nothing is written on failure);
    `on_applied` runs in that transaction (the audit entry of the sync)."""
    started = time.monotonic()
    fetched = fetch(client, customer_emails, progress)
    rows = fetched.count()
    with database.transaction() as session:
        report = apply(session, fetched, dry_run, allow_mass_removal)
        if on_applied is not None and not dry_run:
            on_applied(session, report)
    return SyncResult(report, fetched.skipped, time.monotonic() - started, rows)
