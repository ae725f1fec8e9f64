"""Directories built for a test, in the SPEC 5 file format, imported by the real importer."""

from __future__ import annotations

import uuid
from typing import Any

_NS = uuid.UUID("0e4a7c1b-33f2-4d8e-a1b6-9c2d5e8f7a30")


def uid(kind: str, name: str) -> str:
    return uuid.uuid5(_NS, f"{kind}:{name}").hex


class DirectoryBuilder:
    def __init__(self) -> None:
        self.doc: dict[str, list[dict[str, Any]]] = {
            "users": [],
            "customers": [],
            "projects": [],
            "offerings": [],
            "resources": [],
            "customer_roles": [],
            "project_roles": [],
        }

    def user(
        self,
        name: str,
        email: str | None = None,
        *,
        active: bool = True,
        full_name: str | None = None,
        staff: bool = False,
        support: bool = False,
        language: str = "",
    ) -> str:
        key = uid("user", name)
        self.doc["users"].append(
            {
                "uuid": key,
                "username": name,
                "email": f"{name}@example.org" if email is None else email,
                "full_name": full_name or name.capitalize(),
                "is_active": active,
                "is_staff": staff,
                "is_support": support,
                "preferred_language": language,
            }
        )
        return key

    def customer(self, name: str, notification_emails: list[str] | None = None) -> str:
        key = uid("customer", name)
        self.doc["customers"].append(
            {"uuid": key, "name": name, "notification_emails": notification_emails or []}
        )
        return key

    def project(self, name: str, customer: str) -> str:
        key = uid("project", name)
        self.doc["projects"].append({"uuid": key, "name": name, "customer": customer})
        return key

    def offering(self, name: str, parent: str | None = None) -> str:
        key = uid("offering", name)
        self.doc["offerings"].append({"uuid": key, "name": name, "parent": parent})
        return key

    def resource(self, name: str, project: str, offering: str, state: str = "OK") -> str:
        key = uid("resource", name)
        self.doc["resources"].append(
            {"uuid": key, "project": project, "offering": offering, "state": state}
        )
        return key

    def customer_role(
        self, user: str, customer: str, role: str = "owner", expires: str | None = None
    ) -> None:
        self.doc["customer_roles"].append(
            {"user": user, "customer": customer, "role": role, "expires": expires}
        )

    def project_role(
        self, user: str, project: str, role: str = "member", expires: str | None = None
    ) -> None:
        self.doc["project_roles"].append(
            {"user": user, "project": project, "role": role, "expires": expires}
        )
