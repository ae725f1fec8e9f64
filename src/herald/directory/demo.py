"""`herald demo`: a small, realistic directory to try Herald with.

UUIDs are derived from names, so loading the demo twice changes nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

_NAMESPACE = uuid.UUID("5b1f6c2e-8a4d-4f7b-9c3e-2d6a0e1f4b7c")


def _id(kind: str, name: str) -> str:
    return uuid.uuid5(_NAMESPACE, f"{kind}:{name}").hex


def demo_directory() -> dict[str, Any]:
    people = [
        # username, full name, organisation domain, active
        ("olga", "Olga Owner", "physics.example", True),
        ("pavel", "Pavel Petrov", "physics.example", True),
        ("mia", "Mia Müller", "physics.example", True),
        ("ivan", "Ivan Inactive", "physics.example", False),
        ("carl", "Carl Chen", "chem.example", True),
        ("dina", "Dina Dias", "chem.example", True),
        ("eva", "Eva Eriksson", "bio.example", True),
        ("femi", "Femi Adeyemi", "bio.example", True),
        ("gita", "Gita Rao", "astro.example", True),
        ("hugo", "Hugo Laurent", "astro.example", True),
        ("nora", "Nora Noemail", "", True),
    ]
    users = [
        {
            "uuid": _id("user", username),
            "username": username,
            "email": f"{username}@{domain}" if domain else "",
            "full_name": full_name,
            "is_active": active,
            "is_staff": False,
            "is_support": False,
        }
        for username, full_name, domain, active in people
    ]
    customers = [
        ("Physics Institute", ["it@physics.example"]),
        ("Chemistry Lab", []),
        ("Biology Centre", ["helpdesk@bio.example"]),
        ("Astronomy Group", []),
    ]
    projects = [
        ("Lattice QCD", "Physics Institute"),
        ("Optics", "Physics Institute"),
        ("Catalysis", "Chemistry Lab"),
        ("Genomics", "Biology Centre"),
        ("Sky Survey", "Astronomy Group"),
    ]
    offerings = [
        ("HPC cluster", None),
        ("HPC cluster: GPU partition", "HPC cluster"),
        ("Object storage", None),
        ("Cloud VMs", None),
    ]
    resources = [
        ("qcd-gpu", "Lattice QCD", "HPC cluster: GPU partition", "OK"),
        ("optics-archive", "Optics", "Object storage", "Terminated"),
        ("catalysis-store", "Catalysis", "Object storage", "OK"),
        ("genomics-hpc", "Genomics", "HPC cluster", "OK"),
        ("sky-vms", "Sky Survey", "Cloud VMs", "Creating"),
    ]
    customer_roles = [
        ("olga", "Physics Institute", "owner"),
        ("carl", "Chemistry Lab", "owner"),
        ("eva", "Biology Centre", "owner"),
        ("gita", "Astronomy Group", "owner"),
    ]
    project_roles = [
        ("pavel", "Lattice QCD", "admin"),
        ("ivan", "Lattice QCD", "member"),
        ("mia", "Optics", "member"),
        ("nora", "Optics", "member"),
        ("dina", "Catalysis", "member"),
        ("femi", "Genomics", "manager"),
        ("hugo", "Sky Survey", "member"),
    ]
    return {
        "users": users,
        "customers": [
            {"uuid": _id("customer", name), "name": name, "notification_emails": emails}
            for name, emails in customers
        ],
        "projects": [
            {"uuid": _id("project", name), "name": name, "customer": _id("customer", customer)}
            for name, customer in projects
        ],
        "offerings": [
            {
                "uuid": _id("offering", name),
                "name": name,
                "parent": _id("offering", parent) if parent else None,
            }
            for name, parent in offerings
        ],
        "resources": [
            {
                "uuid": _id("resource", name),
                "project": _id("project", project),
                "offering": _id("offering", offering),
                "state": state,
            }
            for name, project, offering, state in resources
        ],
        "customer_roles": [
            {"user": _id("user", user), "customer": _id("customer", customer), "role": role}
            for user, customer, role in customer_roles
        ],
        "project_roles": [
            {"user": _id("user", user), "project": _id("project", project), "role": role}
            for user, project, role in project_roles
        ],
    }
