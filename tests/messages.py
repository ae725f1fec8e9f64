"""Writing and sending messages over the API, as staff would: the one helper the
test modules share (each asserts the answer, so a refused create fails where it
happened, not three calls later)."""

from __future__ import annotations

from typing import Any

import httpx

URL = "/api/broadcast-messages/"


def to(addresses: list[str]) -> dict[str, Any]:
    """A query naming these addresses only."""
    return {"additional_recipients": addresses}


def create_message(
    api: httpx.Client,
    subject: str = "Maintenance",
    body: str = "Down 8-12.",
    query: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    payload = {"subject": subject, "body": body, "query": query, **fields}
    created = api.post(URL, json=payload)
    assert created.status_code == 201, created.text
    message: dict[str, Any] = created.json()
    return message


def send_message(
    api: httpx.Client,
    subject: str = "Maintenance",
    body: str = "Down 8-12.",
    query: dict[str, Any] | None = None,
) -> str:
    """Create the message and send it now; its UUID."""
    uuid = str(create_message(api, subject, body, query)["uuid"])
    sent = api.post(f"{URL}{uuid}/send/")
    assert sent.status_code == 200, sent.text
    return uuid
