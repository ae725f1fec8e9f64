"""The scheduler sends only what is still scheduled and due when its turn comes
(broadcasts/transitions.py): it reads its due list first and works through it,
and staff may change a message meanwhile."""

from __future__ import annotations

import datetime
from typing import Any

import httpx
from sqlalchemy import text

from herald.broadcasts import repository
from herald.broadcasts.tasks import send_due_messages, send_if_due
from herald.core.db import Database

URL = "/api/broadcast-messages/"
PHYSICS = "886363ae12b3583bb0eedede4a502b63"
TODAY = datetime.date.today()
TOMORROW = TODAY + datetime.timedelta(days=1)


def _scheduled_today(api: httpx.Client) -> str:
    created = api.post(
        URL,
        json={
            "subject": "Maintenance",
            "body": "Down 8-12.",
            "query": {"customers": [PHYSICS]},
            "send_at": TODAY.isoformat(),
        },
    )
    assert created.status_code == 201, created.text
    uuid = str(created.json()["uuid"])
    assert api.post(f"{URL}{uuid}/schedule/").status_code == 200
    return uuid


def _deliveries(db: Database, uuid: str) -> int:
    with db.transaction(write=False) as session:
        return int(
            session.execute(
                text(
                    "SELECT count(*) FROM deliveries d JOIN broadcast_messages m "
                    "ON m.id = d.message_id WHERE m.uuid = :uuid"
                ),
                {"uuid": uuid},
            ).scalar_one()
        )


def _due_list(db: Database) -> list[str]:
    with db.transaction(write=False) as session:
        return repository.due_scheduled_messages(session, TODAY)


def _get(api: httpx.Client, uuid: str) -> dict[str, Any]:
    return dict(api.get(f"{URL}{uuid}/").json())


def test_a_message_unscheduled_after_the_due_list_was_read_is_not_sent(
    api: httpx.Client, db: Database, example: None
) -> None:
    first, second = _scheduled_today(api), _scheduled_today(api)
    due = _due_list(db)
    assert due == [first, second]
    # Staff take the second one back while the scheduler works on the first.
    assert send_if_due(db, due[0], TODAY) is True
    unscheduled = api.patch(f"{URL}{second}/", json={"send_at": None})
    assert unscheduled.status_code == 200 and unscheduled.json()["state"] == "DRAFT"
    assert send_if_due(db, due[1], TODAY) is False
    message = _get(api, second)
    assert (message["state"], message["send_at"]) == ("DRAFT", None)
    assert _deliveries(db, second) == 0
    assert _get(api, first)["state"] == "SENT" and _deliveries(db, first) == 4


def test_a_message_moved_to_a_later_day_after_the_due_list_was_read_waits_for_it(
    api: httpx.Client, db: Database, example: None
) -> None:
    uuid = _scheduled_today(api)
    due = _due_list(db)
    moved = api.patch(f"{URL}{uuid}/", json={"send_at": TOMORROW.isoformat()})
    assert moved.status_code == 200
    assert send_if_due(db, due[0], TODAY) is False
    message = _get(api, uuid)
    assert (message["state"], message["send_at"]) == ("SCHEDULED", TOMORROW.isoformat())
    assert _deliveries(db, uuid) == 0
    # Its day comes: then it goes.
    assert send_due_messages(db, TOMORROW) == [uuid]
    assert _get(api, uuid)["state"] == "SENT" and _deliveries(db, uuid) == 4


def test_the_scheduler_never_sends_a_draft_with_a_day(
    api: httpx.Client, db: Database, example: None
) -> None:
    """A draft with today's date is not scheduled: only staff's send sends it."""
    created = api.post(
        URL,
        json={"subject": "s", "body": "b", "query": {"customers": [PHYSICS]},
              "send_at": TODAY.isoformat()},
    )  # fmt: skip
    uuid = created.json()["uuid"]
    assert send_due_messages(db, TODAY) == []
    assert send_if_due(db, uuid, TODAY) is False
    assert _get(api, uuid)["state"] == "DRAFT" and _deliveries(db, uuid) == 0
