"""Service providers and organisation owners tell their own people (SPEC 9): what
they may name, what they see, and staff review before anything goes out."""

from __future__ import annotations

import datetime
import threading
from typing import Any

import httpx
from sqlalchemy import text

from herald.broadcasts.tasks import send_due_messages
from herald.directory.importer import import_document
from tests.scoped.conftest import URL, Federation, federation_directory

TODAY = datetime.date.today()


def _create(client: httpx.Client, query: dict[str, Any], **extra: Any) -> httpx.Response:
    return client.post(URL, json={"subject": "Maintenance", "body": "Down 8-12.",
                                  "query": query, **extra})  # fmt: skip


def _count(federation: Federation) -> int:
    with federation.db.transaction(write=False) as session:
        return int(session.execute(text("SELECT count(*) FROM broadcast_messages")).scalar_one())


def test_a_provider_reaches_the_people_who_use_its_offerings_as_staff_would(
    federation: Federation,
) -> None:
    ids = federation.ids
    with federation.client("pia") as pia, federation.client("staff") as staff:
        made = _create(pia, {"offerings": [ids["hpc"]]})
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["scope"] == {"type": "provider", "uuid": ids["provider"], "name": "HPC Centre"}
        assert body["review"] is None
        by_staff = _create(staff, {"offerings": [ids["hpc"]]}).json()
        assert by_staff["scope"] is None
        assert body["emails"] == by_staff["emails"]
        assert set(body["emails"]) == {"alice@example.org", "olga@example.org",
                                       "alpha-news@alpha.example"}  # fmt: skip
        preview = pia.get(f"{URL}recipients/", params={"offerings": ids["hpc"]})
        assert preview.status_code == 200
        assert [r["email"] for r in preview.json()] == [
            r["email"]
            for r in staff.get(f"{URL}recipients/", params={"offerings": ids["hpc"]}).json()
        ]


def test_naming_another_providers_offering_is_a_400_everywhere_and_writes_nothing(
    federation: Federation,
) -> None:
    ids = federation.ids
    cloud = ids["cloud"]
    expected = {"query": {"offerings": [f"Not one of your offerings: {cloud}."]}}
    with federation.client("pia") as pia:
        refused = _create(pia, {"offerings": [cloud]})
        assert (refused.status_code, refused.json()) == (400, expected)
        assert _count(federation) == 0
        mine = _create(pia, {"offerings": [ids["hpc"]]}).json()["uuid"]
        put = pia.put(f"{URL}{mine}/", json={"subject": "s", "body": "b",
                                              "query": {"offerings": [cloud]}})  # fmt: skip
        assert (put.status_code, put.json()) == (400, expected)
        patch = pia.patch(f"{URL}{mine}/", json={"query": {"offerings": [ids["hpc"], cloud]}})
        assert (patch.status_code, patch.json()) == (400, expected)
        assert pia.get(f"{URL}{mine}/").json()["query"]["offerings"][0]["uuid"] == ids["hpc"]
        preview = pia.get(f"{URL}recipients/", params={"offerings": cloud})
        assert (preview.status_code, preview.json()) == (400, expected["query"])
        assert pia.head(f"{URL}recipients/", params={"offerings": cloud}).status_code == 400
        for query, key in (({"all_users": True}, "all_users"),
                           ({"additional_recipients": ["x@y.example"]}, "additional_recipients"),
                           ({"customers": [ids["org_b"]]}, "customers")):  # fmt: skip
            answer = _create(pia, query)
            assert answer.status_code == 400 and key in answer.json()["query"], answer.text
    assert _count(federation) == 1


def test_several_scopes_need_scope_said_on_create(federation: Federation) -> None:
    """Pia owns the provider, so she holds its provider and organisation scopes."""
    ids = federation.ids
    with federation.client("pia") as pia:
        vague = _create(pia, {"send_to_me": True})
        assert vague.status_code == 400 and "scope" in vague.json(), vague.text
        said = _create(pia, {"send_to_me": True},
                       scope={"type": "organisation", "uuid": ids["provider"]})  # fmt: skip
        assert said.status_code == 201, said.text
        assert said.json()["scope"]["type"] == "organisation"
        assert said.json()["emails"] == ["pia@example.org"]
        foreign = _create(pia, {"send_to_me": True},
                          scope={"type": "organisation", "uuid": ids["org_b"]})  # fmt: skip
        assert foreign.status_code == 400 and "scope" in foreign.json()


def test_each_sees_only_the_messages_of_scopes_they_hold(federation: Federation) -> None:
    ids = federation.ids
    with federation.client("pia") as pia, federation.client("quinn") as quinn, \
            federation.client("max") as manager, federation.client("staff") as staff:  # fmt: skip
        mine = _create(pia, {"offerings": [ids["hpc"]]}).json()["uuid"]
        theirs = _create(quinn, {"offerings": [ids["cloud"]]}).json()["uuid"]
        _create(staff, {"all_users": True})
        assert [m["uuid"] for m in pia.get(URL).json()] == [mine]
        assert [m["uuid"] for m in manager.get(URL).json()] == [mine]  # same provider
        assert pia.head(URL).headers["X-Result-Count"] == "1"
        for method, path in (("GET", f"{URL}{theirs}/"), ("DELETE", f"{URL}{theirs}/"),
                             ("POST", f"{URL}{theirs}/send/"), ("PATCH", f"{URL}{theirs}/"),
                             ("GET", f"{URL}{theirs}/deliveries/")):  # fmt: skip
            answer = pia.request(method, path, json={} if method == "PATCH" else None)
            assert answer.status_code == 404, (method, path, answer.text)
        assert len(staff.get(URL).json()) == 3
        # Templates are read, not written; bounces, suppressions, audit are staff's.
        assert pia.get("/api/broadcast-message-templates/").status_code == 200
        made = pia.post("/api/broadcast-message-templates/",
                        json={"name": "t", "subject": "s", "body": "b"})  # fmt: skip
        assert made.status_code == 403
        for path in ("/api/bounces/", "/api/suppressions/", "/api/audit/"):
            assert pia.get(path).status_code == 403, path
        # The picker offers only what is theirs.
        assert [o["uuid"] for o in pia.get("/api/offerings/").json()] == sorted(
            [ids["hpc"], ids["hpc_gpu"]],
            key=lambda u: {ids["hpc"]: "HPC cluster", ids["hpc_gpu"]: "HPC GPUs"}[u],
        )
        assert [c["uuid"] for c in pia.get("/api/customers/").json()] == [ids["provider"]]


def test_without_scoped_senders_nothing_changes(federation: Federation, server_url: str) -> None:
    """The default server has HERALD_SCOPED_SENDERS unset: a provider's owner is a 403."""
    headers = {"Authorization": f"Token {federation.tokens['pia']}"}
    assert httpx.get(f"{server_url}{URL}", headers=headers).status_code == 403
    made = httpx.post(f"{server_url}{URL}", headers=headers, json={"subject": "s", "body": "b"})
    assert made.status_code == 403
    with federation.client("alice") as alice:  # no role that counts: 403 here too
        assert alice.get(URL).status_code == 403


def test_a_scoped_send_waits_for_review_and_staff_keep_the_last_word(
    federation: Federation,
) -> None:
    ids = federation.ids
    with federation.client("pia") as pia, federation.client("sue") as sue, \
            federation.client("staff") as staff:  # fmt: skip
        uuid = _create(pia, {"offerings": [ids["hpc"]]}).json()["uuid"]
        asked = pia.post(f"{URL}{uuid}/send/")
        assert asked.status_code == 202, asked.text
        message = pia.get(f"{URL}{uuid}/").json()
        assert message["state"] == "DRAFT"
        review = message["review"]
        assert (review["status"], review["action"], review["requested_by"]["full_name"]) == (
            "waiting",
            "send",
            "Pia",
        )
        assert [m["uuid"] for m in staff.get(URL, params={"review": "waiting"}).json()] == [uuid]
        # Nothing sends it meanwhile: staff's own send, the scheduler.
        assert staff.post(f"{URL}{uuid}/send/").status_code == 409
        metrics = staff.get("/metrics").text
        assert "herald_messages_waiting_for_review 1.0" in metrics
        # Support approve: it is sent as if Pia had asked now.
        approved = sue.post(f"{URL}{uuid}/approve/")
        assert approved.status_code == 200, approved.text
        sent = pia.get(f"{URL}{uuid}/").json()
        assert sent["state"] == "SENT" and sent["review"]["status"] == "approved"
        assert sent["review"]["decided_by"]["full_name"] == "Sue Support"
        assert sent["delivery"]["total"] == 3
        assert sue.post(f"{URL}{uuid}/approve/").status_code == 409  # already decided
        trail = staff.get("/api/audit/", params={"object": uuid, "o": "created"}).json()
        assert [e["action"] for e in trail] == [
            "message.create",
            "message.review-request",
            "message.approve",
        ]
        assert trail[1]["detail"]["scope"]["name"] == "HPC Centre"


def test_a_rejection_says_why_and_the_message_is_editable_again(federation: Federation) -> None:
    ids = federation.ids
    with federation.client("pia") as pia, federation.client("staff") as staff:
        uuid = _create(pia, {"offerings": [ids["hpc"]]}).json()["uuid"]
        assert pia.post(f"{URL}{uuid}/send/").status_code == 202
        assert staff.post(f"{URL}{uuid}/reject/", json={}).json() == {
            "note": ["This field is required."]
        }
        assert pia.post(f"{URL}{uuid}/reject/", json={"note": "no"}).status_code == 403
        rejected = staff.post(f"{URL}{uuid}/reject/", json={"note": "Say which day."})
        assert rejected.status_code == 200, rejected.text
        message = pia.get(f"{URL}{uuid}/").json()
        assert message["review"]["status"] == "rejected"
        assert message["review"]["note"] == "Say which day."
        assert pia.patch(f"{URL}{uuid}/", json={"subject": "Down Tuesday 8-12"}).status_code == 200
        assert staff.post(f"{URL}{uuid}/approve/").status_code == 409


def test_an_edit_withdraws_the_request(federation: Federation) -> None:
    ids = federation.ids
    with federation.client("pia") as pia, federation.client("staff") as staff:
        uuid = _create(pia, {"offerings": [ids["hpc"]]}).json()["uuid"]
        assert pia.post(f"{URL}{uuid}/send/").status_code == 202
        assert pia.patch(f"{URL}{uuid}/", json={"body": "Down 9-12."}).status_code == 200
        assert pia.get(f"{URL}{uuid}/").json()["review"]["status"] == "withdrawn"
        assert staff.post(f"{URL}{uuid}/approve/").status_code == 409
        assert pia.get(f"{URL}{uuid}/").json()["state"] == "DRAFT"


def _race(federation: Federation, uuid: str) -> dict[str, int]:
    """Two approvals and an edit of one waiting message, at the same moment."""
    answers: dict[str, int] = {}
    barrier = threading.Barrier(3)

    def act(name: str, who: str, method: str, body: Any) -> None:
        path = f"{URL}{uuid}/" if method == "PATCH" else f"{URL}{uuid}/approve/"
        with federation.client(who) as client:
            barrier.wait()
            answers[name] = client.request(method, path, json=body).status_code

    threads = [threading.Thread(target=act, args=args) for args in (
        ("approve-1", "staff", "POST", None), ("approve-2", "sue", "POST", None),
        ("edit", "pia", "PATCH", {"subject": "Changed"}))]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_approve_racing_an_edit_and_two_approvals_have_one_outcome(
    federation: Federation,
) -> None:
    ids = federation.ids
    for _ in range(3):
        with federation.client("pia") as pia:
            uuid = _create(pia, {"offerings": [ids["hpc"]]}).json()["uuid"]
            assert pia.post(f"{URL}{uuid}/send/").status_code == 202
        answers = _race(federation, uuid)
        approvals = sorted(answers[k] for k in ("approve-1", "approve-2"))
        with federation.client("staff") as staff:
            message = staff.get(f"{URL}{uuid}/").json()
        if message["state"] == "SENT":
            assert approvals == [200, 409] and answers["edit"] == 409
            assert message["review"]["status"] == "approved"
            assert message["delivery"]["total"] == 3  # queued once
        else:
            assert approvals == [409, 409] and answers["edit"] == 200
            assert message["review"]["status"] == "withdrawn"


def test_the_scheduler_never_sends_a_waiting_schedule(federation: Federation) -> None:
    ids = federation.ids
    with federation.client("pia") as pia, federation.client("staff") as staff:
        uuid = _create(pia, {"offerings": [ids["hpc"]]}, send_at=TODAY.isoformat()).json()["uuid"]
        assert pia.post(f"{URL}{uuid}/schedule/").status_code == 202
        assert pia.get(f"{URL}{uuid}/").json()["state"] == "DRAFT"
        assert send_due_messages(federation.db, TODAY) == []
        assert staff.post(f"{URL}{uuid}/approve/").status_code == 200
        assert pia.get(f"{URL}{uuid}/").json()["state"] == "SCHEDULED"
        assert send_due_messages(federation.db, TODAY) == [uuid]


def test_a_sender_who_loses_the_role_loses_access_and_staff_still_decide(
    federation: Federation,
) -> None:
    ids = federation.ids
    with federation.client("pia") as pia, federation.client("staff") as staff:
        uuid = _create(pia, {"offerings": [ids["hpc"]]}).json()["uuid"]
        assert pia.post(f"{URL}{uuid}/send/").status_code == 202
        # The directory drops Pia's role (an import --replace, as a sync applies it):
        # her next request is a 403.
        document, _ = federation_directory()
        roles = [g for g in document["customer_roles"] if g["user"] != ids["pia"]]
        with federation.db.transaction() as session:
            import_document(session, {"customer_roles": roles}, replace=True)
        assert pia.get(f"{URL}{uuid}/").status_code == 403
        assert staff.get(f"{URL}{uuid}/").json()["review"]["status"] == "waiting"
        assert staff.post(f"{URL}{uuid}/approve/").status_code == 200
        assert staff.get(f"{URL}{uuid}/").json()["state"] == "SENT"


def test_without_review_a_scoped_sender_sends_like_staff(
    federation: Federation, database_url: str
) -> None:
    from herald.core.config import Settings
    from tests.conftest import LiveServer

    server = LiveServer(
        Settings(database_url=database_url, scoped_senders="providers", scoped_review=False)
    )
    server.url = server.start()
    try:
        headers = {"Authorization": f"Token {federation.tokens['max']}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as manager:
            uuid = _create(manager, {"offerings": [federation.ids["hpc"]]}).json()["uuid"]
            assert manager.post(f"{URL}{uuid}/send/").status_code == 200
            sent = manager.get(f"{URL}{uuid}/").json()
            assert sent["state"] == "SENT" and sent["review"] is None
            # A test goes to their own address only.
            other = manager.post(f"{URL}{uuid}/test-send/", json={"emails": ["x@y.example"]})
            assert other.status_code == 400 and "your own address" in other.text
    finally:
        server.stop()
